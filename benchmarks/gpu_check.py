"""Check and time rnnkit's Triton kernels on a CUDA GPU (for a session that has one).

1. Correctness: every Triton path (persistent and per-step LSTM/GRU and their layer-norm variants,
   the step loops captured in CUDA graphs, the minGRU/minLSTM scan) against a float64 reference
   (the same weights on the loop backend, on the CPU): outputs, final states and every gradient,
   with lengths and both directions, in float32 and bfloat16. Exits non-zero on a failure.
2. Timing with CUDA events after warm-up, medians, forward + backward, bfloat16, at the sizes of
   issue 6's GPU targets, each against cuDNN in the same run:
     LayerNorm-LSTM at B=64 T=512 H=512          target <= 1.5x cuDNN's plain LSTM
     persistent LSTM at B=16 T=512 H=256          target >= 2x faster than cuDNN's LSTM
     minGRU scan at B=64 T=4096 H=512             target >= 6x faster than cuDNN's GRU

Every case runs on its own: an error in one is printed in its row and the rest go on. With
``--dry-run`` the script runs on the CPU under Triton's interpreter at tiny sizes (wall-clock
times, meaningless as speed), which checks the script itself on a machine without a GPU.

Usage:  python benchmarks/gpu_check.py [--repeats 20] [--skip-timing] [--skip-check] [--out FILE.md]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import traceback

if "--dry-run" in sys.argv:
    os.environ.setdefault("TRITON_INTERPRET", "1")  # before Triton is imported

import torch

import rnnkit
from rnnkit.backends.triton import runner

CELLS = ("lstm", "layernorm_lstm", "gru", "layernorm_gru")
LINES: list[str] = []


def say(line: str) -> None:
    print(line, flush=True)
    LINES.append(line)


def _loss(out, state):
    total = (out.float() * torch.linspace(0.5, 1.5, out.numel(), device=out.device).view_as(out)).sum()
    for t in rnnkit.cells.state_tensors(state):
        total = total + (t.float() * torch.linspace(-1, 1, t.numel(), device=t.device).view_as(t)).sum()
    return total


def _with_options(options):
    """A context in which ``backend="triton"`` runs with ``options`` (mode, capture_graph)."""
    class _Options:
        def __enter__(self):
            self.original = runner.run_triton
            runner.run_triton = lambda *a, **k: self.original(*a, **{**k, **options})

        def __exit__(self, *exc):
            runner.run_triton = self.original
    return _Options()


def _run(layer, x, h0, lengths, **options):
    with _with_options(options):
        out, state = layer(x, h0, lengths)
    params = [x, *layer.parameters()]
    return out, state, torch.autograd.grad(_loss(out, state), params, allow_unused=True)


def check(cell: str, dtype: torch.dtype, hidden: int, device: str, seed: int, backend: str = "triton",
          **options) -> float:
    """Largest error relative to the float64 reference's scale, over outputs, states and gradients."""
    torch.manual_seed(seed)
    reference = rnnkit.Recurrent(cell, 16, hidden, bidirectional=True, backend="loop").double()
    ours = rnnkit.Recurrent(cell, 16, hidden, bidirectional=True, backend=backend).to(device, dtype)
    ours.load_state_dict(reference.state_dict())
    x = torch.randn(5, 33, 16, dtype=torch.float64)
    lengths = torch.tensor([33, 20, 7, 1, 30])
    h0 = rnnkit.cells.map_state(lambda t: torch.randn_like(t) * 0.5, reference.initial_state(5, dtype=torch.float64))
    expected = _run(reference, x.clone().requires_grad_(), h0, lengths)
    got = _run(ours, x.to(device, dtype).requires_grad_(), rnnkit.cells.map_state(lambda t: t.to(device, dtype), h0),
               lengths.to(device), **options)
    worst = 0.0
    pairs = [(expected[0], got[0]), *zip(rnnkit.cells.state_tensors(expected[1]), rnnkit.cells.state_tensors(got[1]),
                                         strict=True), *zip(expected[2], got[2], strict=True)]
    for a, b in pairs:
        if a is None:
            continue
        if b is None or not torch.isfinite(b).all():
            return float("inf")
        scale = a.abs().max().item() + 1e-6
        worst = max(worst, (a - b.double().cpu()).abs().max().item() / scale)
    return worst


def elapsed_ms(fn, repeats: int, device: str) -> float:
    """Median milliseconds of ``fn`` by CUDA events (wall clock on the CPU), after three warm-up calls."""
    for _ in range(3):
        fn()
    times = []
    for _ in range(repeats):
        if device == "cuda":
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            fn()
            end.record()
            torch.cuda.synchronize()
            times.append(start.elapsed_time(end))
        else:
            begin = time.perf_counter()
            fn()
            times.append((time.perf_counter() - begin) * 1e3)
    return statistics.median(times)


def train_pass(module, x, **options):
    def run():
        with _with_options(options):
            out, _ = module(x)
        out.float().sum().backward()
    return run


class Timing:
    """Rows of the timing table; each variant timed on its own, failures printed in place."""

    def __init__(self, repeats: int, device: str, dtype: torch.dtype, deadline: float) -> None:
        self.repeats, self.device, self.dtype, self.deadline = repeats, device, dtype, deadline
        self.base = float("nan")

    def input(self, batch: int, steps: int, features: int) -> torch.Tensor:
        return torch.randn(batch, steps, features, device=self.device, dtype=self.dtype, requires_grad=True)

    def row(self, target: str, name: str, make, goal: str = "", *, baseline: bool = False, repeats=None) -> None:
        if time.monotonic() > self.deadline:
            say(f"| {target} | {name} | skipped (time budget) | | {goal} |")
            return
        try:
            module, x, options = make()
            ms = elapsed_ms(train_pass(module, x, **options), repeats or self.repeats, self.device)
        except Exception as error:  # report and go on: one broken variant must not hide the others
            say(f"| {target} | {name} | ERROR {type(error).__name__}: {str(error).splitlines()[0][:120]} | | {goal} |")
            traceback.print_exc()
            return
        finally:
            if self.device == "cuda":
                torch.cuda.empty_cache()
        if baseline:
            self.base = ms
        say(f"| {target} | {name} | {ms:.2f} | {ms / self.base:.2f} | {goal} |")


def timing(repeats: int, device: str, dry: bool, deadline: float) -> None:
    dtype = torch.float32 if dry else torch.bfloat16
    shrink = (lambda n: max(4, n // 32)) if dry else (lambda n: n)
    t = Timing(repeats, device, dtype, deadline)
    say(f"\n| target | variant | ms (median, fwd+bwd, {dtype}) | ratio to the row's baseline | target ratio |")
    say("|---|---|---|---|---|")
    graphed = {"mode": "steps", "capture_graph": True}

    def layer(cell, size, backend, **options):
        return lambda: (rnnkit.Recurrent(cell, size, size, backend=backend).to(device, dtype), x, options)

    def torch_layer(kind, size):
        module = getattr(torch.nn, kind)(size, size, batch_first=True).to(device, dtype)
        return lambda: (module, x, {})

    # LayerNorm-LSTM vs cuDNN's plain LSTM, B=64 T=512 H=512.
    hidden = shrink(512)
    x = t.input(shrink(64), shrink(512), hidden)
    label = "LN-LSTM B=64 T=512 H=512"
    t.row(label, "cuDNN LSTM (torch.nn)", torch_layer("LSTM", hidden), baseline=True)
    t.row(label, "Triton steps", layer("layernorm_lstm", hidden, "triton", mode="steps"), "<= 1.5")
    t.row(label, "Triton steps + CUDA graphs", layer("layernorm_lstm", hidden, "triton", **graphed), "<= 1.5")
    t.row(label, "loop (autograd, PyTorch ops)", layer("layernorm_lstm", hidden, "loop"), "",
          repeats=max(3, repeats // 4))
    t.row(label, "cuDNN LSTM again (noise)", torch_layer("LSTM", hidden))

    # Persistent LSTM vs cuDNN, B=16 T=512; H=256 (the target) exceeds the persistent kernel's limit.
    for size in (256, 128):
        hidden = shrink(size)
        x = t.input(shrink(16), shrink(512), hidden)
        label = f"LSTM B=16 T=512 H={size}"
        t.row(label, "cuDNN LSTM (torch.nn)", torch_layer("LSTM", hidden), baseline=True)
        if runner.persistent.fits(size):
            t.row(label, "Triton persistent", layer("lstm", hidden, "triton", mode="persistent"), "<= 0.5")
        else:
            say(f"| {label} | Triton persistent | n/a: weights do not fit on chip | | <= 0.5 |")
        t.row(label, "Triton steps + CUDA graphs", layer("lstm", hidden, "triton", **graphed), "<= 0.5")
        if runner.persistent.fits(size, layer_norm=True):
            t.row(label, "Triton persistent, LN-LSTM", layer("layernorm_lstm", hidden, "triton", mode="persistent"))
        t.row(label, "cuDNN LSTM again (noise)", torch_layer("LSTM", hidden))

    # minGRU scan vs cuDNN GRU, B=64 T=4096 H=512.
    hidden = shrink(512)
    x = t.input(shrink(64), shrink(4096), hidden)
    label = "minGRU B=64 T=4096 H=512"
    t.row(label, "cuDNN GRU (torch.nn)", torch_layer("GRU", hidden), baseline=True, repeats=max(3, repeats // 2))
    t.row(label, "Triton scan", layer("mingru", hidden, "triton"), "<= 0.167")
    t.row(label, "scan backend (PyTorch ops)", layer("mingru", hidden, "scan"), "")
    t.row(label, "Triton scan, minLSTM", layer("minlstm", hidden, "triton"), "")
    t.row(label, "cuDNN GRU again (noise)", torch_layer("GRU", hidden), repeats=max(3, repeats // 2))


def probe_persistent(device: str) -> None:
    """Which persistent kernels compile and run (shared memory), against what ``persistent.fits`` predicts."""
    say("\n| cell | dtype | H | persistent fwd+bwd | fits() says |\n|---|---|---|---|---|")
    for dtype in (torch.float32, torch.bfloat16):
        for cell in CELLS:
            for hidden in (64, 128):
                layer = rnnkit.Recurrent(cell, 8, hidden, backend="triton").to(device, dtype)
                spec = rnnkit.cells.kernel.declared_kernel(layer.first_cell)
                predicted = runner.persistent.fits(
                    hidden, gates=4 if spec.family == "lstm" else 3, element_size=dtype.itemsize,
                    layer_norm=spec.norm_hh is not None or spec.norm_cell is not None)
                x = torch.randn(16, 9, 8, device=device, dtype=dtype, requires_grad=True)
                try:
                    train_pass(layer, x, mode="persistent")()
                    result = "runs"
                except Exception as error:
                    result = f"{type(error).__name__}: {str(error).splitlines()[0][:60]}"
                say(f"| {cell} | {dtype} | {hidden} | {result} | {predicted} |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--skip-check", action="store_true")
    parser.add_argument("--skip-timing", action="store_true")
    parser.add_argument("--dry-run", action="store_true", help="CPU, Triton interpreter, tiny sizes")
    parser.add_argument("--budget-s", type=float, default=300.0, help="skip timing rows started after this")
    parser.add_argument("--probe-persistent", action="store_true", help="which persistent sizes fit on chip")
    parser.add_argument("--out", default=None, help="also write the tables to this Markdown file")
    args = parser.parse_args()
    began = time.monotonic()
    device = "cpu" if args.dry_run else "cuda"
    if device == "cuda" and not torch.cuda.is_available():
        print("gpu_check: no CUDA device", file=sys.stderr)
        return 2
    import triton

    name = torch.cuda.get_device_name() if device == "cuda" else "CPU (Triton interpreter, dry run)"
    say(f"{name}, torch {torch.__version__}, triton {triton.__version__}")
    failures = 0
    if not args.skip_check:
        # bfloat16 has ~3 significant digits: a path passes if its error is within 5e-2 of the
        # reference's scale or within twice that of the same cell run by the loop backend (PyTorch
        # ops) in bfloat16 on the same device, whichever is larger.
        say("| cell | dtype | path | max error / scale | loop backend, same dtype | verdict |")
        say("|---|---|---|---|---|---|")
        tolerances = {torch.float32: 1e-3, torch.bfloat16: 5e-2}
        cases = [(c, {"mode": "persistent"}, 32) for c in CELLS] + [(c, {"mode": "steps"}, 160) for c in CELLS]
        if device == "cuda":
            cases += [(c, {"mode": "steps", "capture_graph": True}, 40) for c in CELLS]
        cases += [("mingru", {}, 64), ("minlstm", {}, 64)]
        floors: dict[tuple, float] = {}
        for seed, (dtype, tolerance) in enumerate(tolerances.items()):
            for cell, options, hidden in cases:
                path = ", ".join(f"{k}={v}" for k, v in options.items()) or "scan"
                if args.dry_run and dtype == torch.bfloat16 and options.get("mode") == "persistent":
                    continue  # the interpreter's bfloat16 tl.dot is wrong (numpy has no bfloat16)
                floor = ""
                try:
                    error = check(cell, dtype, hidden, device, seed, **options)
                    allowed = tolerance
                    if dtype == torch.bfloat16:
                        key = (cell, hidden)
                        if key not in floors:
                            floors[key] = check(cell, dtype, hidden, device, seed, backend="loop")
                        allowed = max(tolerance, 2 * floors[key])
                        floor = f"{floors[key]:.2e}"
                    verdict = "ok" if error <= allowed else "FAIL"
                    shown = f"{error:.2e}"
                except Exception as exc:
                    verdict, shown = "ERROR", f"{type(exc).__name__}: {str(exc).splitlines()[0][:120]}"
                    traceback.print_exc()
                failures += verdict != "ok"
                say(f"| {cell} H={hidden} | {dtype} | {path} | {shown} | {floor} | {verdict} |")
        say(f"checks: {failures} failed, {time.monotonic() - began:.0f} s so far")
    if args.probe_persistent:
        probe_persistent(device)
    if not args.skip_timing:
        timing(args.repeats, device, args.dry_run, began + args.budget_s)
    say(f"total {time.monotonic() - began:.0f} s")
    if args.out:
        with open(args.out, "w") as handle:
            handle.write("\n".join(LINES) + "\n")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
