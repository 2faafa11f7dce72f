"""Check and time rnnkit's Triton kernels on a CUDA GPU (for a session that has one).

1. Correctness: every Triton path (persistent and per-step LSTM/GRU and their layer-norm variants,
   the step loop captured in a CUDA graph, the minGRU/minLSTM scan) against a float64 reference
   (the same weights on the loop backend, on the CPU): outputs, final states and every gradient,
   with lengths and both directions, in float32 and bfloat16. Exits non-zero on a failure.
2. Timing with CUDA events after warm-up, medians, forward + backward, bfloat16, at the sizes of
   issue 6's GPU targets, each against cuDNN in the same run:
     LayerNorm-LSTM at B=64 T=512 H=512          target <= 1.5x cuDNN's plain LSTM
     persistent LSTM at B=16 T=512 H=256          target >= 2x faster than cuDNN's LSTM
     minGRU scan at B=64 T=4096 H=512             target >= 6x faster than cuDNN's GRU

Usage:  python benchmarks/gpu_check.py [--repeats 20] [--skip-timing] [--skip-check]
Nothing here was run by the session that wrote it (no GPU was available); its numbers are not in
the README until someone runs it.
"""

from __future__ import annotations

import argparse
import statistics
import sys

import torch

import rnnkit
from rnnkit.backends.triton import runner

CELLS = ("lstm", "layernorm_lstm", "gru", "layernorm_gru")


def _loss(out, state):
    total = (out.float() * torch.linspace(0.5, 1.5, out.numel(), device=out.device).view_as(out)).sum()
    for t in rnnkit.cells.state_tensors(state):
        total = total + (t.float() * torch.linspace(-1, 1, t.numel(), device=t.device).view_as(t)).sum()
    return total


def _run(layer, x, h0, lengths, **options):
    original = runner.run_triton
    runner.run_triton = lambda *a, **k: original(*a, **{**k, **options})
    try:
        out, state = layer(x, h0, lengths)
    finally:
        runner.run_triton = original
    params = [x, *layer.parameters()]
    return out, state, torch.autograd.grad(_loss(out, state), params, allow_unused=True)


def check(cell: str, dtype: torch.dtype, hidden: int, **options) -> float:
    """Largest error relative to the float64 reference's scale, over outputs, states and gradients."""
    torch.manual_seed(0)
    reference = rnnkit.Recurrent(cell, 16, hidden, bidirectional=True, backend="loop").double()
    ours = rnnkit.Recurrent(cell, 16, hidden, bidirectional=True, backend="triton").cuda().to(dtype)
    ours.load_state_dict(reference.state_dict())
    x = torch.randn(5, 33, 16, dtype=torch.float64)
    lengths = torch.tensor([33, 20, 7, 1, 30])
    h0 = reference.initial_state(5, dtype=torch.float64)
    expected = _run(reference, x.clone().requires_grad_(), h0, lengths)
    got = _run(ours, x.to("cuda", dtype).requires_grad_(), rnnkit.cells.map_state(lambda t: t.to("cuda", dtype), h0),
               lengths.cuda(), **options)
    worst = 0.0
    pairs = [(expected[0], got[0]), *zip(rnnkit.cells.state_tensors(expected[1]), rnnkit.cells.state_tensors(got[1]),
                                         strict=True), *zip(expected[2], got[2], strict=True)]
    for a, b in pairs:
        if a is None:
            continue
        scale = a.abs().max().item() + 1e-6
        worst = max(worst, (a - b.double().cpu()).abs().max().item() / scale)
    return worst


def time_cuda(fn, repeats: int) -> float:
    """Median milliseconds of ``fn`` (forward + backward) by CUDA events, after three warm-up calls."""
    for _ in range(3):
        fn()
    times = []
    for _ in range(repeats):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        torch.cuda.synchronize()
        times.append(start.elapsed_time(end))
    return statistics.median(times)


def train_pass(module, x, **options):
    def run():
        original = runner.run_triton
        runner.run_triton = lambda *a, **k: original(*a, **{**k, **options})
        try:
            out, _ = module(x)
        finally:
            runner.run_triton = original
        out.float().sum().backward()
    return run


def timing(repeats: int) -> None:
    bf16 = torch.bfloat16
    print("\n| target | variant | ms | ratio | target |\n|---|---|---|---|---|")

    def row(target, name, ms, base, goal):
        print(f"| {target} | {name} | {ms:.2f} | {ms / base:.2f} | {goal} |", flush=True)

    # LayerNorm-LSTM vs cuDNN's plain LSTM, B=64 T=512 H=512.
    x = torch.randn(64, 512, 512, device="cuda", dtype=bf16, requires_grad=True)
    cudnn = torch.nn.LSTM(512, 512, batch_first=True).cuda().to(bf16)
    base = time_cuda(train_pass(cudnn, x), repeats)
    row("LN-LSTM B=64 T=512 H=512", "cuDNN LSTM", base, base, "")
    ln = rnnkit.Recurrent("layernorm_lstm", 512, 512, backend="triton").cuda().to(bf16)
    graphed = {"mode": "steps", "capture_graph": True}
    for name, options in [("steps", {"mode": "steps"}), ("steps + CUDA graph", graphed)]:
        row("LN-LSTM B=64 T=512 H=512", f"Triton {name}", time_cuda(train_pass(ln, x, **options), repeats), base,
            "<= 1.5")
    loop = rnnkit.Recurrent("layernorm_lstm", 512, 512, backend="loop").cuda().to(bf16)
    row("LN-LSTM B=64 T=512 H=512", "loop", time_cuda(train_pass(loop, x), max(3, repeats // 4)), base, "")

    # Persistent LSTM vs cuDNN, B=16 T=512; H=256 (the target) exceeds the persistent kernel's limit.
    for hidden in (256, 128):
        x = torch.randn(16, 512, hidden, device="cuda", dtype=bf16, requires_grad=True)
        cudnn = torch.nn.LSTM(hidden, hidden, batch_first=True).cuda().to(bf16)
        base = time_cuda(train_pass(cudnn, x), repeats)
        label = f"LSTM B=16 T=512 H={hidden}"
        row(label, "cuDNN LSTM", base, base, "")
        layer = rnnkit.Recurrent("lstm", hidden, hidden, backend="triton").cuda().to(bf16)
        modes = [("steps + CUDA graph", {"mode": "steps", "capture_graph": True})]
        if hidden <= runner.persistent.MAX_HIDDEN:
            modes.insert(0, ("persistent", {"mode": "persistent"}))
        else:
            print(f"| {label} | persistent | n/a | | H > MAX_HIDDEN={runner.persistent.MAX_HIDDEN} |")
        for name, options in modes:
            row(label, f"Triton {name}", time_cuda(train_pass(layer, x, **options), repeats), base, "<= 0.5")

    # minGRU scan vs cuDNN GRU, B=64 T=4096 H=512.
    x = torch.randn(64, 4096, 512, device="cuda", dtype=bf16, requires_grad=True)
    cudnn = torch.nn.GRU(512, 512, batch_first=True).cuda().to(bf16)
    base = time_cuda(train_pass(cudnn, x), max(3, repeats // 2))
    row("minGRU B=64 T=4096 H=512", "cuDNN GRU", base, base, "")
    for backend in ("triton", "scan"):
        layer = rnnkit.Recurrent("mingru", 512, 512, backend=backend).cuda().to(bf16)
        row("minGRU B=64 T=4096 H=512", f"{backend} scan", time_cuda(train_pass(layer, x), repeats), base,
            "<= 0.167" if backend == "triton" else "")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--skip-check", action="store_true")
    parser.add_argument("--skip-timing", action="store_true")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print("gpu_check: no CUDA device", file=sys.stderr)
        return 2
    print(f"{torch.cuda.get_device_name()}, torch {torch.__version__}")
    failures = 0
    if not args.skip_check:
        print("| cell | dtype | path | max error / scale |\n|---|---|---|---|")
        tolerances = {torch.float32: 1e-3, torch.bfloat16: 5e-2}
        cases = [(c, {"mode": "persistent"}, 32) for c in CELLS] + [(c, {"mode": "steps"}, 160) for c in CELLS]
        cases += [(c, {"mode": "steps", "capture_graph": True}, 40) for c in CELLS]
        cases += [("mingru", {}, 64), ("minlstm", {}, 64)]
        for dtype, tolerance in tolerances.items():
            for cell, options, hidden in cases:
                error = check(cell, dtype, hidden, **options)
                ok = error <= tolerance
                failures += not ok
                path = ", ".join(f"{k}={v}" for k, v in options.items()) or "scan"
                print(f"| {cell} H={hidden} | {dtype} | {path} | {error:.2e} {'ok' if ok else 'FAIL'} |", flush=True)
    if not args.skip_timing:
        timing(args.repeats)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
