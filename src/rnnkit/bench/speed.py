"""``rnnkit bench speed``: every cell on every backend that runs it, against ``torch.nn`` and the loop.

For each size and cell, the variants are the cell on each backend that accepts it (forced:
``native``, ``scan``, ``fused``, ``triton`` on CUDA, ``loop``) plus the nearest ``torch.nn``
module (oneDNN/ATen on CPU, cuDNN on CUDA): ``torch.nn.LSTM`` for the LSTM-like cells,
``torch.nn.GRU`` for the GRU-like and the linear cells (minGRU, minLSTM, LRU: the comparison the
papers make), ``torch.nn.RNN`` for Elman and IndRNN. All variants of one size and cell are timed
round-robin in the same process (one repetition of each in turn, so machine noise hits all alike);
the table gives medians and their ratios to ``torch.nn`` and to the same cell on the loop backend,
for training (forward + backward) and inference (forward under ``no_grad``), and the peak memory
of one training pass (CUDA: ``max_memory_allocated``; CPU: the rise of the process's peak
resident memory, Linux only). ``auto`` marks what ``backend="auto"`` picks for that size.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from rnnkit.backends import BACKENDS, Workload
from rnnkit.bench.common import flushing_denormals, machine_description
from rnnkit.layers import Recurrent, Zoneout
from rnnkit.tasks.framework.config import setting

#: cell name -> (the torch.nn reference, Recurrent options); "+zoneout" rows use Zoneout((0.05, 0.5)).
CELLS: dict[str, tuple[str, dict]] = {
    "lstm": ("lstm", {}),
    "gru": ("gru", {}),
    "elman": ("rnn_tanh", {}),
    "layernorm_lstm": ("lstm", {}),
    "layernorm_gru": ("gru", {}),
    "indrnn": ("rnn_relu", {}),
    "lstm+zoneout": ("lstm", {"regularizers": "zoneout"}),
    "gru+zoneout": ("gru", {"regularizers": "zoneout"}),
    "mingru": ("gru", {}),
    "minlstm": ("gru", {}),
    "lru": ("gru", {}),
    "slstm": ("lstm", {}),
}
LINEAR_CELLS = ("mingru", "minlstm", "lru")


@dataclass(frozen=True)
class Size:
    """One benchmark size: batch, time steps, input and hidden features, and which cells run at it."""

    batch: int
    steps: int
    input_size: int
    hidden_size: int
    cells: tuple[str, ...] | None = None  # None: every cell

    def label(self) -> str:
        return f"B={self.batch} T={self.steps} I={self.input_size} H={self.hidden_size}"


SIZES = (
    Size(32, 256, 64, 256),
    Size(8, 1024, 32, 128),
    Size(8, 4096, 64, 128, cells=LINEAR_CELLS),
)
QUICK_SIZES = (Size(4, 16, 8, 16, cells=("lstm", "layernorm_lstm", "gru+zoneout", "mingru")),)


@dataclass
class Row:
    """Medians of one variant at one size (seconds), its peak memory (bytes or None) and whether auto picks it."""

    size: Size
    cell: str
    variant: str  # "torch.nn" or a backend name
    train: float
    infer: float
    peak: int | None
    auto: bool = False
    ratios: dict[str, float] = field(default_factory=dict)


def _torch_module(kind: str, size: Size) -> nn.Module:
    if kind == "lstm":
        return nn.LSTM(size.input_size, size.hidden_size, batch_first=True)
    if kind == "gru":
        return nn.GRU(size.input_size, size.hidden_size, batch_first=True)
    return nn.RNN(size.input_size, size.hidden_size, batch_first=True, nonlinearity=kind.removeprefix("rnn_"))


def _layer(cell: str, size: Size, backend: str) -> Recurrent:
    name = cell.split("+")[0]
    regularizers = [Zoneout((0.05, 0.5) if name == "lstm" else 0.1)] if cell.endswith("+zoneout") else []
    return Recurrent(name, size.input_size, size.hidden_size, backend=backend, regularizers=regularizers)


def _backends_for(cell: str, size: Size, device: str) -> list[str]:
    names = []
    for backend in BACKENDS:
        if backend == "auto":
            continue
        try:
            _layer(cell, size, backend)
        except ValueError:  # this backend cannot run this cell (the reason is in the error)
            continue
        names.append(backend)
    if device == "cuda":
        names = [b for b in names if b != "fused"]
    else:  # the Triton kernels run on the CPU only under the interpreter: a correctness tool, not a speed one
        names = [b for b in names if b != "triton"]
    return names


def _release_freed_memory() -> None:
    """Hand freed heap memory and rnnkit's kernel buffers back to the OS, so resident memory is live memory."""
    from rnnkit.backends.fused import release_workspace

    release_workspace()
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


class _PeakMemory:
    """Peak memory of one call: CUDA's allocator peak, or on Linux the rise of the peak resident set."""

    def __init__(self, device: str) -> None:
        self.device = device

    @staticmethod
    def _status(key: str) -> int | None:
        try:
            for line in Path("/proc/self/status").read_text().splitlines():
                if line.startswith(key):
                    return int(line.split()[1]) * 1024
        except OSError:
            return None
        return None

    def measure(self, fn: Callable[[], None]) -> int | None:
        if self.device == "cuda":
            torch.cuda.synchronize()
            base = torch.cuda.memory_allocated()
            torch.cuda.reset_peak_memory_stats()
            fn()
            torch.cuda.synchronize()
            return torch.cuda.max_memory_allocated() - base
        _release_freed_memory()
        try:  # "5" resets VmHWM to the current resident size (Linux >= 4.0)
            Path("/proc/self/clear_refs").write_text("5")
        except OSError:
            return None
        base = self._status("VmRSS:")
        fn()
        peak = self._status("VmHWM:")
        return None if base is None or peak is None else max(peak - base, 0)


def _timer(device: str) -> Callable[[Callable[[], None]], float]:
    if device == "cuda":
        def timed(fn: Callable[[], None]) -> float:
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            fn()
            end.record()
            torch.cuda.synchronize()
            return start.elapsed_time(end) / 1e3
        return timed

    # Single-threaded, the process's CPU time is what the work costs: other jobs sharing the cores
    # delay it (wall time) without adding to it. With more threads, wall time (spinning threads would
    # add CPU time that is not work).
    clock = time.process_time if torch.get_num_threads() == 1 else time.perf_counter

    def timed_cpu(fn: Callable[[], None]) -> float:
        start = clock()
        fn()
        return clock() - start

    return timed_cpu


def measure_cell(cell: str, size: Size, *, device: str = "cpu", repeats: int = 5, warmup: int = 1) -> list[Row]:
    """Time every variant of ``cell`` at ``size`` round-robin; returns one :class:`Row` per variant."""
    torch.manual_seed(0)
    reference_kind = CELLS[cell][0]
    variants: dict[str, nn.Module] = {"torch.nn": _torch_module(reference_kind, size)}
    for backend in _backends_for(cell, size, device):
        variants[backend] = _layer(cell, size, backend)
    for module in variants.values():
        module.to(device).train()
    auto_layer = _layer(cell, size, "auto").to(device)
    x = torch.randn(size.batch, size.steps, size.input_size, device=device, requires_grad=True)

    def train_pass(module: nn.Module) -> Callable[[], None]:
        def run() -> None:
            out, _ = module(x)
            out.sum().backward()
        return run

    def infer_pass(module: nn.Module) -> Callable[[], None]:
        def run() -> None:
            with torch.no_grad():
                module(x)
        return run

    timed = _timer(device)
    train: dict[str, list[float]] = {name: [] for name in variants}
    infer: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(warmup):
        for module in variants.values():
            train_pass(module)()
            infer_pass(module)()
    for _ in range(repeats):
        for name, module in variants.items():
            module.zero_grad(set_to_none=True)
            train[name].append(timed(train_pass(module)))
            infer[name].append(timed(infer_pass(module)))
    memory = _PeakMemory(device)
    # What backend="auto" runs for a training pass at this size (measured preferences included).
    auto_choice = str(auto_layer.train().backend_for(Workload(device, size.batch, size.steps, grad=True)))
    rows = []
    for name, module in variants.items():
        module.zero_grad(set_to_none=True)
        peak = memory.measure(train_pass(module))
        rows.append(Row(size, cell, name, statistics.median(train[name]), statistics.median(infer[name]), peak,
                        auto=name == auto_choice))
    base = next(r for r in rows if r.variant == "torch.nn")
    loop = next((r for r in rows if r.variant == "loop"), None)
    for row in rows:
        row.ratios = {"train/torch": row.train / base.train, "infer/torch": row.infer / base.infer}
        if loop is not None:
            row.ratios |= {"train/loop": row.train / loop.train, "infer/loop": row.infer / loop.infer}
    return rows


def timing_description(device: str) -> str:
    """How times were taken (see :func:`_timer`)."""
    if device == "cuda":
        return "CUDA events"
    if torch.get_num_threads() == 1:
        return "CPU time of the single-threaded process (time.process_time: other jobs on the cores do not inflate it)"
    return "wall time"


def markdown(rows: Sequence[Row], *, device: str, note: str = "") -> str:
    """The results as Markdown tables, one per size."""
    lines = [f"Device: {machine_description(device)}. float32; medians of {timing_description(device)}; "
             "ratios < 1 are faster than the reference; peak: the rise of peak memory during one training pass."]
    if note:
        lines.append(note)
    for size in dict.fromkeys(r.size for r in rows):
        lines += ["", f"**{size.label()}**", "",
                  "| cell | variant | train ms | / torch.nn | / loop | infer ms | / torch.nn | / loop | peak MiB |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for row in (r for r in rows if r.size == size):
            name = f"**{row.variant}** (auto)" if row.auto else row.variant
            ref = CELLS[row.cell][0].replace("rnn_", "rnn ").upper() if row.variant == "torch.nn" else ""
            label = f"torch.nn.{ref}" if ref else name
            peak = f"{row.peak / 2**20:.1f}" if row.peak is not None else "n/a"
            ratio = row.ratios

            def cell_ratio(key: str, r: dict = ratio) -> str:
                return f"{r[key]:.2f}" if key in r else "-"

            lines.append(
                f"| {row.cell} | {label} | {row.train * 1e3:.1f} | {cell_ratio('train/torch')} | "
                f"{cell_ratio('train/loop')} | {row.infer * 1e3:.1f} | {cell_ratio('infer/torch')} | "
                f"{cell_ratio('infer/loop')} | {peak} |"
            )
    return "\n".join(lines) + "\n"


def plot(rows: Sequence[Row], path: str | Path, *, device: str) -> Path:
    """Training time relative to ``torch.nn`` per cell and backend (log scale), one panel per size."""
    from rnnkit.plots import pyplot, save_figure

    plt = pyplot()
    sizes = list(dict.fromkeys(r.size for r in rows))
    backends = [b for b in (*BACKENDS, "triton") if any(r.variant == b for r in rows)]
    fig, axes = plt.subplots(len(sizes), 1, figsize=(11, 3.2 * len(sizes)), squeeze=False)
    for ax, size in zip(axes[:, 0], sizes, strict=True):
        cells = list(dict.fromkeys(r.cell for r in rows if r.size == size))
        width = 0.8 / max(len(backends), 1)
        for k, backend in enumerate(backends):
            values = [next((r.ratios["train/torch"] for r in rows if r.size == size and r.cell == c
                            and r.variant == backend), float("nan")) for c in cells]
            ax.bar([i + (k - (len(backends) - 1) / 2) * width for i in range(len(cells))], values, width,
                   label=backend)
        ax.axhline(1.0, color="black", linewidth=0.8)
        ax.set_yscale("log")
        ax.set_xticks(range(len(cells)), cells, rotation=20, fontsize=8)
        ax.set_ylabel("train time / torch.nn")
        ax.set_title(size.label(), fontsize=9)
        ax.legend(fontsize=7, ncol=len(backends))
    fig.suptitle(f"rnnkit bench speed ({device}): {machine_description(device)}", fontsize=9)
    return save_figure(fig, path)


def run_speed_benchmark(
    *,
    device: str = "cpu",
    quick: bool = False,
    cells: Sequence[str] | None = None,
    repeats: int | None = None,
    output_dir: str | Path = "bench_speed",
    note: str = "",
    log: Callable[[str], None] = print,
) -> list[Row]:
    """Measure, write ``speed.md`` and ``speed.png`` into ``output_dir``, and return the rows."""
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("device: 'cuda' requested but torch.cuda.is_available() is False")
    unknown = [c for c in cells or () if c not in CELLS]
    if unknown:
        raise ValueError(f"cells: unknown {unknown}; expected names from {sorted(CELLS)}")
    sizes = QUICK_SIZES if quick else SIZES
    repeats = repeats or (2 if quick else 5)
    rows: list[Row] = []
    for size in sizes:
        for cell in CELLS:
            if (size.cells is not None and cell not in size.cells) or (cells and cell not in cells):
                continue
            started = time.perf_counter()
            new = measure_cell(cell, size, device=device, repeats=repeats, warmup=1 if quick else 2)
            rows += new
            summary = ", ".join(f"{r.variant} {r.ratios['train/torch']:.2f}" for r in new)
            log(f"{size.label()} {cell}: train / torch.nn: {summary} ({time.perf_counter() - started:.0f} s)")
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    threads = os.environ.get("OMP_NUM_THREADS")
    note = note or (f"OMP_NUM_THREADS={threads}." if threads else "")
    (output_dir / "speed.md").write_text(markdown(rows, device=device, note=note))
    try:
        plot(rows, output_dir / "speed.png", device=device)
    except ImportError:
        log("speed.png not written: matplotlib is missing (pip install 'rnnkit[plots]')")
    log(f"wrote {output_dir / 'speed.md'} and {output_dir / 'speed.png'}")
    return rows


# -------------------------------------------------------------------------------------- command line


@dataclass
class SpeedBenchConfig:
    """Settings of ``rnnkit bench speed`` (its flags are generated from these fields)."""

    device: str = setting("cpu", "where to time", choices=("cpu", "cuda"))
    quick: bool = setting(False, "one tiny size and four cells: a smoke test")
    cells: list[str] | None = setting(None, "comma-separated cells to run (default: all), e.g. layernorm_lstm,mingru")
    repeats: int | None = setting(None, "timed repetitions per variant (default 5; quick 2)")
    threads: int | None = setting(None, "torch threads (1 avoids OpenMP stalls when other jobs share the cores)")
    output_dir: str = setting("bench_speed", "where to write speed.md and speed.png")
    note: str = setting("", "a sentence printed under the table header (e.g. machine load)")


def main(argv: Sequence[str] | None = None) -> int:
    """``rnnkit bench speed [flags]``: measure, write ``speed.md`` and ``speed.png``, print the table.

    Raises:
        CLIError: a setting is invalid (an unknown cell, CUDA asked for but missing).
    """
    import argparse

    from rnnkit.tasks.framework.cli import CLIError, add_dataclass_flags

    parser = argparse.ArgumentParser(
        prog="rnnkit bench speed", allow_abbrev=False,
        description="speed: every cell on every backend that runs it, as ratios against torch.nn and the loop "
                    "measured in the same run, plus peak memory; writes speed.md and speed.png",
    )
    add_dataclass_flags(parser, SpeedBenchConfig)
    config = SpeedBenchConfig(**vars(parser.parse_args(argv)))
    if config.device not in ("cpu", "cuda"):
        raise CLIError(f"--device: expected cpu or cuda, got {config.device!r}")
    if config.threads:
        torch.set_num_threads(config.threads)
    try:
        with flushing_denormals():
            run_speed_benchmark(device=config.device, quick=config.quick, cells=config.cells,
                                repeats=config.repeats, output_dir=config.output_dir, note=config.note)
    except ValueError as error:
        raise CLIError(str(error)) from None
    print(Path(config.output_dir, "speed.md").read_text())
    return 0
