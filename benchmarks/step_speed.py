"""Streaming cost: one step at batch 1 of ``Recurrent.step`` and of a length-1 forward, against ``torch.nn``'s cells.

Run: ``python benchmarks/step_speed.py [--hidden 256] [--repeats 2000]``. Prints microseconds of CPU
time per step (median of rounds, one intra-op thread) and the ratio to ``torch.nn.LSTMCell`` /
``GRUCell`` holding the same weights, called the way a user streams with them; for cells torch has
no counterpart of, the ratio to the bare cell's own ``project_input`` + ``step``.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch

import rnnkit


def per_call(fn: Callable, *args: object, repeats: int, rounds: int = 5) -> float:
    """Median over ``rounds`` of the CPU seconds per call of ``fn(*args)`` (``repeats`` calls a round)."""
    for _ in range(min(repeats, 200)):
        fn(*args)
    times = []
    for _ in range(rounds):
        start = time.process_time()
        for _ in range(repeats):
            fn(*args)
        times.append((time.process_time() - start) / repeats)
    return statistics.median(times)


def _cell_step(cell: rnnkit.RecurrentCell, x: torch.Tensor, state: object) -> object:
    return cell.step(cell.project_input(x), state)


def _report(rows: list, what: str, seconds: float, base: float) -> None:
    rows.append((what, seconds * 1e6, seconds / base))
    print(f"{what:40s} {seconds * 1e6:8.1f} us  {seconds / base:5.2f}x", flush=True)


def main(argv: list[str] | None = None) -> list[tuple[str, float, float]]:
    """Measure and print; returns ``(what, microseconds, ratio to the baseline)`` rows."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=2000)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    hidden, n, rows = args.hidden, args.repeats, []
    pairs = (("lstm", torch.nn.LSTMCell, rnnkit.LSTM), ("gru", torch.nn.GRUCell, rnnkit.GRU))
    with torch.no_grad():
        for name, torch_cell, dropin in pairs:
            reference = torch_cell(hidden, hidden)
            layer = rnnkit.Recurrent(name, hidden, hidden)
            module = dropin(hidden, hidden, batch_first=True)
            x = torch.randn(1, hidden)
            state = layer.initial_state(1)
            torch_state = (state[0][0], state[1][0]) if name == "lstm" else state[0]
            hx = state if name == "gru" else tuple(state)
            base = per_call(reference, x, torch_state, repeats=n)
            _report(rows, f"torch.nn.{torch_cell.__name__}", base, base)
            _report(rows, f"Recurrent('{name}').step", per_call(layer.step, x, state, repeats=n), base)
            _report(rows, f"Recurrent('{name}') length-1 forward", per_call(layer, x.unsqueeze(1), state, repeats=n),
                    base)
            _report(rows, f"rnnkit.{dropin.__name__} length-1", per_call(module, x.unsqueeze(1), hx, repeats=n), base)
        # Cells without a torch.nn counterpart: the layer's step over the bare cell's own step.
        for name in ("layernorm_lstm", "layernorm_gru", "indrnn"):
            layer = rnnkit.Recurrent(name, hidden, hidden)
            cell, x = layer.first_cell, torch.randn(1, hidden)
            state = layer.initial_state(1)
            cell_state = state[0] if isinstance(state, torch.Tensor) else type(state)(*(t[0] for t in state))
            base = per_call(_cell_step, cell, x, cell_state, repeats=n)
            _report(rows, f"{type(cell).__name__} project_input + step", base, base)
            _report(rows, f"Recurrent('{name}').step", per_call(layer.step, x, state, repeats=n), base)
    return rows


if __name__ == "__main__":
    main()
