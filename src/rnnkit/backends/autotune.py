"""Auto-tuning at first use: ``backend="auto"`` times the backends that can run a workload, once per machine.

The way cuDNN's benchmark mode and Triton's autotuner work: the first time a layer meets a
:func:`tuning_key` — device, CPU (or GPU) model, thread count, cell, dtype, grad mode, a size
bucket of batch, steps and hidden size, the stack's depth and the backends that can run it — it
runs each candidate backend on that very input a few times (:func:`measure`), keeps the fastest,
and stores the decision in a JSON file beside the kernel cache
(``<cache_dir>/autotune/decisions-<machine>.json``), shared by every process on the machine:
writes take a file lock and replace the file atomically, so concurrent processes never lose or
corrupt each other's decisions. ``layer.backend.reason`` then cites the times measured.

Times are CPU time at one intra-op thread and wall time with more (:func:`clock`). Tuning is
announced once per process on stderr and costs at most :data:`BUDGET_SECONDS` per new
bucket (long sequences are timed on their first :data:`MAX_TIMED_STEPS` steps). It is off with
``RNNKIT_AUTOTUNE=0`` and in deterministic runs (``torch.use_deterministic_algorithms``); the
measured table (:mod:`rnnkit.backends.tuning`) then decides, as it does before any input is seen.
"""

from __future__ import annotations

import datetime
import functools
import hashlib
import json
import math
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

#: Seconds of measurement per new bucket, all candidates together (``RNNKIT_AUTOTUNE_BUDGET`` overrides).
BUDGET_SECONDS = 2.0
#: Timed runs per candidate at least (after one warm-up run), while the budget lasts.
REPEATS = 3
#: Timed rounds continue until they have taken this long (small workloads: many runs, less noise) ...
MIN_SECONDS = 0.5
#: ... or this many rounds.
MAX_ROUNDS = 50
#: Runs shorter than this (seconds) are timed right after an untimed run of the same candidate, and
#: the order rotates every round: measured, a short run that follows the loop's (its many small
#: tensors) took 1.1-1.6x its time after its own, even after one untimed run, which decided small
#: buckets by their place in the round.
SHORT_RUN = 0.05
#: Sequences longer than this are timed on their first this-many steps (the backends' costs grow
#: linearly in the steps on the CPU, so the ranking holds; the budget would not) ...
MAX_TIMED_STEPS = 256
#: ... and on at most this many batch x steps (but 32 steps at least).
MAX_TIMED_ROWS = 8192


def timed_steps(batch: int, steps: int) -> int:
    """How many of a workload's first steps tuning times (see :data:`MAX_TIMED_STEPS`)."""
    return min(steps, MAX_TIMED_STEPS, max(32, MAX_TIMED_ROWS // max(batch, 1)))

_memory: dict[str, dict] = {}
_announced = {"done": False}


@dataclass(frozen=True)
class Decision:
    """A tuned choice: the fastest backend and the times it was chosen on.

    Attributes:
        backend: the fastest backend.
        seconds: the best time of each candidate (seconds per run, on :func:`clock`).
        shape: the input it was measured on, e.g. ``"B=8 T=256 H=128 (timed on 256 steps)"``.
        date: when, ISO format.
    """

    backend: str
    seconds: dict[str, float]
    shape: str
    date: str

    @property
    def evidence(self) -> str:
        """The sentence for ``layer.backend.reason``."""
        others = ", ".join(f"{name} {1e3 * t:.3g} ms" for name, t in sorted(self.seconds.items(), key=lambda i: i[1]))
        return (f"auto-tuned on this machine: fastest of {others} at {self.shape}, {torch.get_num_threads()} "
                f"thread(s), measured {self.date} (RNNKIT_AUTOTUNE=0 uses the static table)")


def enabled() -> bool:
    """Whether auto-tuning is on: not switched off by ``RNNKIT_AUTOTUNE=0``, not a deterministic run."""
    if os.environ.get("RNNKIT_AUTOTUNE", "1").strip().lower() in ("0", "false", "no", "off"):
        return False
    return not torch.are_deterministic_algorithms_enabled()


def budget() -> float:
    """Seconds of measurement per new bucket (:data:`BUDGET_SECONDS`, or ``$RNNKIT_AUTOTUNE_BUDGET``)."""
    try:
        return float(os.environ.get("RNNKIT_AUTOTUNE_BUDGET", BUDGET_SECONDS))
    except ValueError:
        return BUDGET_SECONDS


@functools.cache
def processor() -> str:
    """The CPU's model name (``/proc/cpuinfo``), else the platform's processor string."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("model name", "Model", "Hardware")):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def bucket(n: int) -> int:
    """The size bucket of ``n``: the nearest power of 4 (1, 4, 16, 64, 256, 1024, 4096, ...)."""
    return 4 ** round(math.log(max(n, 1), 4))


def tuning_key(
    *, device: torch.device, cell: str, dtype: torch.dtype, grad: bool, batch: int, steps: int, hidden: int,
    cells: int, candidates: Sequence[str],
) -> str:
    """The key a decision is stored under (see the module docstring for what it holds).

    Example:
        >>> tuning_key(device=torch.device("cpu"), cell="GRUCell", dtype=torch.float32, grad=True, batch=8,
        ...            steps=300, hidden=128, cells=1, candidates=("fused", "native", "loop"))  # doctest: +ELLIPSIS
        'cpu|...|threads=...|GRUCell|float32|train|B16 T256 H128|cells=1|fused,loop,native'
    """
    if device.type == "cuda":
        where = f"cuda|{torch.cuda.get_device_name(device)}"
    else:
        where = f"{device.type}|{processor()}|threads={torch.get_num_threads()}"
    sizes = f"B{bucket(batch)} T{bucket(steps)} H{bucket(hidden)}"
    mode = "train" if grad else "infer"
    kind = str(dtype).removeprefix("torch.")
    return f"{where}|{cell}|{kind}|{mode}|{sizes}|cells={cells}|{','.join(sorted(candidates))}"


def decisions_file() -> Path:
    """This machine's decisions, beside the kernel cache: ``<cache_dir>/autotune/decisions-<machine>.json``
    (``$RNNKIT_AUTOTUNE_FILE`` names another file, e.g. a benchmark's fresh one)."""
    if os.environ.get("RNNKIT_AUTOTUNE_FILE"):
        return Path(os.environ["RNNKIT_AUTOTUNE_FILE"])
    from rnnkit.backends.fused.build import cache_dir

    machine = hashlib.sha256(f"{platform.node()} {processor()} {torch.__version__}".encode()).hexdigest()[:12]
    return cache_dir() / "autotune" / f"decisions-{machine}.json"


def _read(path: Path) -> dict[str, dict]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def lookup(key: str) -> Decision | None:
    """The stored decision for ``key``, if any (memory first, then this machine's file)."""
    record = _memory.get(key)
    if record is None:
        record = _read(decisions_file()).get(key)
        if record is None:
            return None
        _memory[key] = record
    try:
        return Decision(record["backend"], dict(record["seconds"]), record["shape"], record["date"])
    except (KeyError, TypeError):
        return None


def store(key: str, decision: Decision) -> None:
    """Record ``decision`` in memory and in this machine's file: under a file lock, merged with what
    other processes wrote meanwhile, written to a temporary file and renamed over the old one."""
    record = {"backend": decision.backend, "seconds": decision.seconds, "shape": decision.shape, "date": decision.date}
    _memory[key] = record
    path = decisions_file()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with _locked(path.with_suffix(".lock")):
            merged = _read(path)
            merged[key] = record
            handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
            try:
                with os.fdopen(handle, "w") as file:
                    json.dump(merged, file, indent=1, sort_keys=True)
                os.replace(temporary, path)
            except BaseException:
                Path(temporary).unlink(missing_ok=True)
                raise
    except OSError as error:  # a read-only cache: the decision still holds for this process
        print(f"rnnkit: could not save the auto-tuning decision in {path} ({error})", file=sys.stderr, flush=True)


class _locked:
    """An exclusive ``flock`` on ``path`` for the ``with`` block (POSIX; elsewhere no lock)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __enter__(self) -> None:
        self.file = open(self.path, "a+")  # closed in __exit__
        try:
            import fcntl

            fcntl.flock(self.file.fileno(), fcntl.LOCK_EX)
        except ImportError:
            pass

    def __exit__(self, *exc: object) -> None:
        self.file.close()  # closing releases the lock


def announce() -> None:
    """Say once per process that tuning runs, where it is kept and how to turn it off."""
    if not _announced["done"]:
        _announced["done"] = True
        print(f"rnnkit: backend='auto' times the backends once per new shape bucket (at most {budget():.0f} s "
              f"each; decisions cached in {decisions_file()}; RNNKIT_AUTOTUNE=0 turns this off)",
              file=sys.stderr, flush=True)


def clock() -> Callable[[], float]:
    """The clock tuning reads: CPU time of this process at one intra-op thread (the work is all in
    this thread, and other processes' load does not inflate it), wall time with more threads (CPU
    time would add the threads up, and count their spin-waits)."""
    return time.process_time if torch.get_num_threads() == 1 else time.perf_counter


def measure(candidates: Sequence[str], run: Callable[[str], None], *, shape: str) -> Decision:
    """Time ``run(backend)`` for each candidate and keep the fastest.

    Each candidate runs once untimed (a first call may load kernels, build oneDNN primitives or
    fault in fresh workspace pages), then once timed (all within twice :func:`budget`); those
    within their share of the budget are timed further, round-robin, at least :data:`REPEATS`
    rounds and until the rounds took :data:`MIN_SECONDS` (at most :data:`MAX_ROUNDS`, never past
    the budget). Each keeps its best timed run (the least disturbed by other processes). A
    candidate that raises is dropped.

    Args:
        candidates: backends that can run the workload.
        run: runs the workload once on the named backend (forward, and backward when training).
        shape: what was run, for the record.

    Returns:
        The :class:`Decision`. Raises ``RuntimeError`` if every candidate failed.
    """
    total = budget()
    share = total / max(len(candidates), 1)
    now = clock()  # the budget is counted on the same clock as the runs: CPU time at one thread
    begin = now()
    seconds: dict[str, float] = {}
    rounds: list[str] = []  # candidates that ran
    with torch.random.fork_rng(devices=[]):  # dropout masks drawn here leave the caller's stream alone
        for name in candidates:  # warm-up: loads kernels, builds oneDNN primitives, allocates workspaces
            try:
                start = now()
                run(name)
                seconds[name] = now() - start
                rounds.append(name)
            except Exception:  # a backend that cannot run this input is no candidate
                continue
        timed = dict.fromkeys(rounds, 0)
        # Round-robin, rotated (the machine's noise hits all alike; see SHORT_RUN). The first round
        # times every candidate warm (a first run pays one-time costs, e.g. fresh workspace pages),
        # within twice the budget; later rounds stay within the budget and skip candidates slower
        # than their share, until each has REPEATS runs and the rounds took MIN_SECONDS.
        turn = 0
        while rounds:
            elapsed = now() - begin
            if elapsed >= 2 * total or (turn > 0 and elapsed >= total):
                break
            turn += 1
            active = [n for n in rounds if not (timed[n] and seconds[n] > share)]
            if not active:
                break
            for name in active[turn % len(active):] + active[:turn % len(active)]:
                if seconds[name] < SHORT_RUN:  # re-warm after the previous candidate (see SHORT_RUN)
                    run(name)
                start = now()
                run(name)
                elapsed = now() - start
                seconds[name] = elapsed if timed[name] == 0 else min(seconds[name], elapsed)
                timed[name] += 1
            done = min(timed[n] for n in active)
            if done >= MAX_ROUNDS or (done >= REPEATS and now() - begin >= MIN_SECONDS):
                break
    if not seconds:
        raise RuntimeError(f"auto-tuning: none of {list(candidates)} could run {shape}")
    best = min(seconds, key=seconds.__getitem__)
    return Decision(best, seconds, shape, datetime.date.today().isoformat())
