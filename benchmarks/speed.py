"""Forward+backward speed of rnnkit's LSTM/GRU against torch.nn, measured side by side.

For each size, every variant runs the same input, and the variants are timed round-robin (one
repetition of each in turn) so that machine noise hits all of them alike; the table reports each
variant's median time as a ratio to torch.nn's median from the same run.

Variants:
  torch.nn            torch.nn.LSTM / GRU (the baseline, oneDNN/ATen on CPU, cuDNN on CUDA)
  rnnkit drop-in      rnnkit.LSTM / GRU, backend auto (native)
  Recurrent native    rnnkit.Recurrent("lstm"/"gru"), backend auto (native)
  Recurrent loop      rnnkit.Recurrent(..., backend="loop"): the reference loop

Usage:
  python benchmarks/speed.py [--quick] [--device cpu|cuda] [--repeats N] [--markdown]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import torch

import rnnkit

SIZES = [  # (batch, time, input, hidden)
    (32, 100, 64, 128),
    (32, 256, 64, 256),
    (8, 1024, 32, 128),
]
QUICK_SIZES = [(4, 20, 8, 16)]


def _variants(kind: str, input_size: int, hidden: int, device: str) -> dict[str, torch.nn.Module]:
    torch_cls = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[kind]
    dropin_cls = {"lstm": rnnkit.LSTM, "gru": rnnkit.GRU}[kind]
    base = torch_cls(input_size, hidden, batch_first=True)
    variants = {
        "torch.nn": base,
        "rnnkit drop-in": dropin_cls(input_size, hidden, batch_first=True),
        "Recurrent native": rnnkit.Recurrent.from_torch(base),
        "Recurrent loop": rnnkit.Recurrent.from_torch(base, backend="loop"),
    }
    variants["rnnkit drop-in"].load_state_dict(base.state_dict())
    return {name: module.to(device) for name, module in variants.items()}


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def _once(module: torch.nn.Module, x: torch.Tensor, device: str) -> float:
    _sync(device)
    start = time.perf_counter()
    out, _ = module(x)
    out.sum().backward()
    _sync(device)
    return time.perf_counter() - start


def measure(kind: str, size: tuple[int, int, int, int], device: str, repeats: int) -> dict[str, float]:
    """Median forward+backward seconds of each variant, timed round-robin."""
    batch, steps, input_size, hidden = size
    torch.manual_seed(0)
    variants = _variants(kind, input_size, hidden, device)
    x = torch.randn(batch, steps, input_size, device=device, requires_grad=True)
    times: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(2):  # warm-up
        for module in variants.values():
            _once(module, x, device)
    for _ in range(repeats):
        for name, module in variants.items():
            module.zero_grad(set_to_none=True)
            times[name].append(_once(module, x, device))
    return {name: statistics.median(values) for name, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="one tiny size, few repeats (smoke test)")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--repeats", type=int, default=None, help="timed repetitions per variant (default 15)")
    args = parser.parse_args()
    sizes = QUICK_SIZES if args.quick else SIZES
    repeats = args.repeats or (3 if args.quick else 15)
    machine = torch.cuda.get_device_name() if args.device == "cuda" else f"{platform.processor() or platform.machine()}"
    print(f"device: {args.device} ({machine}), torch {torch.__version__}, threads {torch.get_num_threads()}, "
          f"float32, forward+backward, median of {repeats}")
    header = "| cell | B | T | I | H | torch.nn ms | drop-in / torch | Recurrent native / torch | loop / torch |"
    print(header)
    print("|---|---|---|---|---|---|---|---|---|")
    for kind in ("lstm", "gru"):
        for size in sizes:
            medians = measure(kind, size, args.device, repeats)
            base = medians["torch.nn"]
            ratios = [medians[name] / base for name in ("rnnkit drop-in", "Recurrent native", "Recurrent loop")]
            print(f"| {kind.upper()} | {' | '.join(map(str, size))} | {base * 1e3:.1f} | "
                  + " | ".join(f"{r:.2f}" for r in ratios) + " |", flush=True)


if __name__ == "__main__":
    main()
