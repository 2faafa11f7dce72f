"""``rnnkit bench auto``: is ``backend="auto"`` as fast as the fastest backend, at every point of a grid?

For each point (cell, thread count, training or inference, batch ``B``, steps ``T``, hidden ``H``)
every backend that can run the cell is forced in turn (``Recurrent(..., backend=name)``, the same
weights), and ``backend="auto"`` runs beside them; auto first tunes itself on that input (its
measurement at first use, :mod:`rnnkit.backends.autotune`, timed separately as the tuning cost).
Then all variants are timed round-robin in the same process (one run of each in turn, so the
machine's noise hits all alike; the first round is a warm-up; the order rotates every round and a
run under 50 ms is timed right after an untimed run of the same variant, since a run that follows
the loop's measured 1.1-1.6x slower), and each keeps its best run. The
point's ratio is auto's time over the fastest forced backend's: 1.00 means auto chose the fastest
and costs nothing on top; above, it chose worse or its bookkeeping costs. Training is forward +
``autograd.grad`` of the sum; inference is forward under ``no_grad``. Times are the tuner's clock:
CPU time at one thread (robust to other processes' load), wall time at more.

Decisions go to a fresh file unless ``--keep-decisions`` (so each run tunes anew), so this
measures tuning on this machine as a new user meets it.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import math
import os
import platform
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from rnnkit.backends import autotune, candidate_backends

#: The grid of the issue, cut to fit a shared 2-core machine (see :func:`default_grid`).
CELLS = ("lstm", "gru", "layernorm_lstm", "mingru")
#: A point keeps adding timed rounds (up to 4x ``repeats``) while it has run for less than this.
POINT_SECONDS = 1.0


@dataclass(frozen=True)
class Point:
    """One measured point: the forced backends' best times, auto's pick and time, and the tuning cost."""

    cell: str
    threads: int
    mode: str
    batch: int
    steps: int
    hidden: int
    seconds: dict[str, float]
    auto_backend: str
    auto_seconds: float
    tuning_seconds: float

    @property
    def fastest(self) -> str:
        """The fastest forced backend."""
        return min(self.seconds, key=self.seconds.__getitem__)

    @property
    def ratio(self) -> float:
        """auto's time over the fastest forced backend's."""
        return self.auto_seconds / self.seconds[self.fastest]


def default_grid(quick: bool = False) -> list[tuple[int, int, int]]:
    """``(B, T, H)`` points: B in {1, 8, 64} x T in {16, 256} x H in {64, 256}, plus B=8 T=1024 H=64.

    The issue's grid (T up to 4096, H up to 512) does not fit a shared 2-core machine within a
    session: the reference loop alone trains B=64 T=4096 H=512 in minutes. ``quick``: four small points.
    """
    if quick:
        return [(1, 16, 64), (8, 16, 64), (8, 256, 64), (1, 256, 256)]
    points = [(b, t, h) for b in (1, 8, 64) for t in (16, 256) for h in (64, 256)]
    return [*points, (8, 1024, 64)]


def _runner(layer: torch.nn.Module, x: torch.Tensor, train: bool) -> Callable[[], None]:
    params = [p for p in layer.parameters() if p.requires_grad]

    def run() -> None:
        if train:
            out, _ = layer(x)
            torch.autograd.grad(out.sum(), params)
        else:
            with torch.no_grad():
                layer(x)

    return run


def _time(run: Callable[[], None]) -> float:
    now = autotune.clock()  # CPU time at one thread, wall time with more: the tuner's clock
    start = now()
    run()
    return now() - start


def measure_point(
    cell: str, threads: int, train: bool, batch: int, steps: int, hidden: int, *, repeats: int = 3,
    layers: dict | None = None,
) -> Point:
    """Measure one point (see the module docstring).

    Args:
        cell: a registered cell name.
        threads: torch's intra-op threads for this point.
        train: training (forward + backward) or inference.
        batch: ``B``.
        steps: ``T``.
        hidden: ``H`` (also the input size).
        repeats: timed rounds after the warm-up round.
        layers: a cache of built layers by ``(cell, hidden)``, reused across points.

    Returns:
        The :class:`Point`.
    """
    from rnnkit.layers import Recurrent  # the benchmark drives the user-facing layer

    torch.set_num_threads(threads)
    layers = {} if layers is None else layers
    if (cell, hidden) not in layers:
        torch.manual_seed(0)
        auto = Recurrent(cell, hidden, hidden)
        forced = {}
        for name in candidate_backends(list(auto.cells.values()), device="cpu"):
            forced[name] = Recurrent(cell, hidden, hidden, backend=name)
            forced[name].load_state_dict(auto.state_dict())
        layers[(cell, hidden)] = (auto, forced)
    auto, forced = layers[(cell, hidden)]
    x = torch.randn(batch, steps, hidden)
    tuning = _time(_runner(auto, x, train))  # first use: tunes this bucket (once), then runs
    variants = {**{name: _runner(layer, x, train) for name, layer in forced.items()}, "auto": _runner(auto, x, train)}
    best = dict.fromkeys(variants, math.inf)
    start, round_ = time.perf_counter(), 0
    # At least `repeats` timed rounds; more (up to 4x) while the point has used under POINT_SECONDS.
    while round_ <= repeats or (round_ <= 4 * repeats and time.perf_counter() - start < POINT_SECONDS):
        names = list(variants)
        for name in names[round_ % len(names):] + names[:round_ % len(names)]:  # rotated (autotune.SHORT_RUN)
            run = variants[name]
            if best[name] < autotune.SHORT_RUN:  # as the tuner does: re-warm after another variant
                run()
            elapsed = _time(run)
            if round_ > 0:
                best[name] = min(best[name], elapsed)
        round_ += 1
    auto_seconds = best.pop("auto")
    return Point(cell, threads, "train" if train else "infer", batch, steps, hidden, best, str(auto.backend),
                 auto_seconds, tuning)


def run_grid(
    *, cells: Sequence[str] = CELLS, threads: Sequence[int] = (1, 2), modes: Sequence[str] = ("train", "infer"),
    grid: Sequence[tuple[int, int, int]] | None = None, repeats: int = 3, log: Callable[[str], None] = print,
) -> list[Point]:
    """Measure every point of the grid; each point is logged as it finishes."""
    points, layers = [], {}
    before = torch.get_num_threads()
    try:
        for n in threads:
            for cell in cells:
                for mode in modes:
                    for batch, steps, hidden in grid or default_grid():
                        point = measure_point(cell, n, mode == "train", batch, steps, hidden, repeats=repeats,
                                              layers=layers)
                        points.append(point)
                        log(f"{cell:15s} threads={n} {mode:5s} B={batch:<3d} T={steps:<5d} H={hidden:<4d} "
                            f"fastest {point.fastest:6s} {1e3 * point.seconds[point.fastest]:9.2f} ms  "
                            f"auto {point.auto_backend:6s} {point.ratio:5.2f}x  (tuning {point.tuning_seconds:.2f} s)")
    finally:
        torch.set_num_threads(before)
    return points


def geometric_mean(values: Sequence[float]) -> float:
    """The geometric mean (``exp`` of the mean ``log``)."""
    return math.exp(sum(math.log(v) for v in values) / len(values))


def summary(points: Sequence[Point]) -> list[str]:
    """Lines: worst point, geometric mean and points over 1.05x, overall and per thread count."""
    lines = []
    groups = {"all points": list(points)}
    for n in sorted({p.threads for p in points}):
        groups[f"{n} thread(s)"] = [p for p in points if p.threads == n]
    for label, group in groups.items():
        worst = max(group, key=lambda p: p.ratio)
        over = sum(p.ratio > 1.05 for p in group)
        wrong = sum(p.auto_backend != p.fastest for p in group)
        lines.append(
            f"- {label}: worst {worst.ratio:.2f}x ({worst.cell}, {worst.mode}, B={worst.batch} T={worst.steps} "
            f"H={worst.hidden}, {worst.threads} thread(s)), "
            f"geometric mean {geometric_mean([p.ratio for p in group]):.3f}x, "
            f"{over} of {len(group)} points over 1.05x; auto's pick was not the fastest forced backend at {wrong}"
        )
    tuning = [p.tuning_seconds for p in points]
    lines.append(f"- first call of a new bucket (tuning + one run): at most {max(tuning):.2f} s, "
                 f"median {sorted(tuning)[len(tuning) // 2]:.2f} s")
    return lines


def machine() -> str:
    """This machine, as the table names it."""
    name = autotune.processor()
    return f"{name}, {os.cpu_count()} logical cores, Linux {platform.release()}, torch {torch.__version__}"


def markdown(points: Sequence[Point], *, note: str = "") -> str:
    """The Markdown report: summary, then one row per point."""
    head = [
        "# `rnnkit bench auto`: auto's time over the fastest backend",
        "",
        f"Machine: {machine()}; {datetime.date.today().isoformat()}. CPU time at 1 thread, wall time at 2; "
        "best of the timed rounds (round-robin, after a warm-up round). " + note,
        "",
        *summary(points),
        "",
        "| cell | threads | mode | B | T | H | fastest forced | its time (ms) | auto's pick | auto / fastest |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    rows = [
        f"| {p.cell} | {p.threads} | {p.mode} | {p.batch} | {p.steps} | {p.hidden} | {p.fastest} | "
        f"{1e3 * p.seconds[p.fastest]:.2f} | {p.auto_backend} | {p.ratio:.2f}x |"
        for p in points
    ]
    return "\n".join(head + rows) + "\n"


def plot(points: Sequence[Point], path: Path) -> Path:
    """A PNG of every point's ratio, sorted, one series per thread count, with the 1.05x target."""

    from rnnkit.plots import pyplot

    plt = pyplot()

    fig, ax = plt.subplots(figsize=(8, 4))
    for n in sorted({p.threads for p in points}):
        ratios = sorted(p.ratio for p in points if p.threads == n)
        ax.plot(range(len(ratios)), ratios, marker=".", linestyle="none", label=f"{n} thread(s)")
    ax.axhline(1.05, color="red", linewidth=1, label="target 1.05x")
    ax.axhline(1.0, color="gray", linewidth=0.5)
    ax.set_xlabel("grid points, sorted by ratio")
    ax.set_yscale("log")  # two-sided noise and far outliers alike
    ax.set_ylabel("auto / fastest forced backend (log scale)")
    ax.set_title(f"rnnkit bench auto ({autotune.processor()})", fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def main(argv: Sequence[str] | None = None) -> int:
    """``rnnkit bench auto [--quick] [--threads 1,2] [--cells ...] [--repeats 3] [--output-dir DIR]``."""
    parser = argparse.ArgumentParser(prog="rnnkit bench auto", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="four small points: a smoke test")
    parser.add_argument("--threads", default="1,2", help="comma-separated thread counts (default 1,2)")
    parser.add_argument("--cells", default=",".join(CELLS), help=f"comma-separated cells (default {','.join(CELLS)})")
    parser.add_argument("--modes", default="train,infer", help="train, infer or both (default)")
    parser.add_argument("--repeats", type=int, default=3, help="timed rounds after the warm-up (default 3)")
    parser.add_argument("--keep-decisions", action="store_true",
                        help="use this machine's stored tuning decisions instead of tuning anew in a fresh file")
    parser.add_argument("--output-dir", default="bench_auto", help="where to write auto.md, auto.json and auto.png")
    parser.add_argument("--from-json", help="comma-separated auto.json files of earlier runs: write their union, "
                                            "measuring nothing (e.g. a 1-thread and a 2-thread run)")
    args = parser.parse_args(argv)
    out = Path(args.output_dir)
    if args.from_json:
        points = [Point(**row) for name in args.from_json.split(",") for row in json.loads(Path(name).read_text())]
        return _write(points, out)
    threads = [int(n) for n in args.threads.split(",") if n]
    if any(n < 1 for n in threads):
        raise ValueError(f"--threads: expected positive integers, got {args.threads!r}")
    cells, modes = [c for c in args.cells.split(",") if c], [m for m in args.modes.split(",") if m]
    if not set(modes) <= {"train", "infer"}:
        raise ValueError(f"--modes: expected train and/or infer, got {args.modes!r}")
    os.environ["RNNKIT_AUTOTUNE"] = "1"
    with tempfile.TemporaryDirectory() as fresh:
        if not args.keep_decisions:
            os.environ["RNNKIT_AUTOTUNE_FILE"] = str(Path(fresh) / "decisions.json")
        points = run_grid(cells=cells, threads=threads, modes=modes, grid=default_grid(args.quick),
                          repeats=args.repeats)
    return _write(points, out)


def _write(points: Sequence[Point], out: Path) -> int:
    out.mkdir(parents=True, exist_ok=True)
    (out / "auto.json").write_text(json.dumps([dataclasses.asdict(p) for p in points], indent=1))
    (out / "auto.md").write_text(markdown(points))
    print("\n".join(summary(points)))
    try:
        plot(points, out / "auto.png")
    except ImportError as error:
        print(f"auto.png not written: {error}")
    print(f"wrote {out / 'auto.md'}")
    return 0
