"""minGRU on the parallel scan against stepping it, and against torch.nn.GRU, on long sequences.

Variants, timed round-robin in one run (forward + backward unless --forward-only):
  torch.nn.GRU        PyTorch's fused GRU kernel (a different, heavier cell: the reference point
                      users know, not the same function)
  minGRU scan         rnnkit.Recurrent("mingru"), backend auto -> scan
  minGRU loop         rnnkit.Recurrent("mingru", backend="loop"): the same weights stepped one by one
  minGRU log-scan     the paper's Heinsen log-space scan (rnnkit.backends.scan.log_space_scan) on
                      the same coefficients, for comparison of the two parallel algorithms

Each variant's median is printed with its ratio to torch.nn.GRU's median from the same run.

Usage:
  python benchmarks/scan_speed.py [--steps 4096] [--batch 8] [--input 64] [--hidden 128] [--repeats 7]
                                  [--threads N] [--forward-only]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import torch

import rnnkit
from rnnkit.backends.scan import log_space_scan


def _log_scan_forward(layer: rnnkit.Recurrent, x: torch.Tensor) -> torch.Tensor:
    cell = layer.first_cell
    projected = cell.project_input(x.transpose(0, 1))
    log_a, log_b = cell.coefficients(projected)
    return log_space_scan(log_a, log_b, torch.zeros_like(log_a[0]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=4096)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--input", type=int, default=64)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--forward-only", action="store_true", help="time inference (no_grad) instead")
    parser.add_argument(
        "--threads", type=int, default=None,
        help="torch threads for every variant (1 avoids OpenMP stalls when other jobs share the cores)",
    )
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    scan = rnnkit.Recurrent("mingru", args.input, args.hidden)
    loop = rnnkit.Recurrent("mingru", args.input, args.hidden, backend="loop")
    loop.load_state_dict(scan.state_dict())
    gru = torch.nn.GRU(args.input, args.hidden, batch_first=True)
    x = torch.randn(args.batch, args.steps, args.input, requires_grad=not args.forward_only)
    variants = {
        "torch.nn.GRU": lambda: gru(x)[0],
        "minGRU scan": lambda: scan(x)[0],
        "minGRU loop": lambda: loop(x)[0],
        "minGRU log-scan": lambda: _log_scan_forward(scan, x),
    }
    assert scan.backend == "scan"
    diff = (scan(x)[0] - loop(x)[0]).abs().max().item()

    def once(fn) -> float:
        start = time.perf_counter()
        if args.forward_only:
            with torch.no_grad():
                fn()
        else:
            fn().sum().backward()
        return time.perf_counter() - start

    times: dict[str, list[float]] = {name: [] for name in variants}
    for fn in variants.values():  # warm-up
        once(fn)
    for _ in range(args.repeats):
        for name, fn in variants.items():
            times[name].append(once(fn))
    medians = {name: statistics.median(values) for name, values in times.items()}
    mode = "forward" if args.forward_only else "forward+backward"
    print(f"CPU {platform.processor() or platform.machine()}, torch {torch.__version__}, threads "
          f"{torch.get_num_threads()}, float32, {mode}, B={args.batch} T={args.steps} I={args.input} "
          f"H={args.hidden}, median of {args.repeats}; max |scan - loop| = {diff:.1e}")
    print("| variant | ms | / torch.nn.GRU |")
    print("|---|---|---|")
    for name, value in medians.items():
        print(f"| {name} | {value * 1e3:.1f} | {value / medians['torch.nn.GRU']:.2f} |")


if __name__ == "__main__":
    main()
