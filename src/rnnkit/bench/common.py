"""What every benchmark prints beside its numbers: the machine (CPU model or GPU), threads, torch, date."""

from __future__ import annotations

import contextlib
import datetime
import platform
from collections.abc import Iterator
from pathlib import Path

import torch


def cpu_name() -> str:
    """The CPU's model name (from /proc/cpuinfo where there is one, else what platform knows).

    Example:
        >>> isinstance(cpu_name(), str)
        True
    """
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_description(device: str) -> str:
    """CPU model (or GPU name), threads, torch version and date, for table headers.

    Args:
        device: ``"cpu"`` or ``"cuda"``.

    Returns:
        One line such as ``"AMD EPYC 7763, 1 thread(s), torch 2.13.0, 2026-12-01"``.
    """
    name = torch.cuda.get_device_name() if device == "cuda" else cpu_name()
    threads = f", {torch.get_num_threads()} thread(s)" if device == "cpu" else ""
    return f"{name}{threads}, torch {torch.__version__}, {datetime.date.today().isoformat()}"


def flush_denormal_is_on() -> bool:
    """Whether the CPU flushes subnormal floats to zero now (torch has a setter but no getter)."""
    return bool((torch.tensor([1e-40], dtype=torch.float32) * 1.0 == 0).item())


@contextlib.contextmanager
def flushing_denormals() -> Iterator[None]:
    """Flush subnormal floats to zero inside the block, as the Trainer does (saturated gates produce
    them, and they cost every variant ~10x on a CPU), and restore the previous mode after, so a
    benchmark run inside another program (a test suite) leaves the process as it found it."""
    before = flush_denormal_is_on()
    torch.set_flush_denormal(True)
    try:
        yield
    finally:
        torch.set_flush_denormal(before)


__all__ = ["cpu_name", "flush_denormal_is_on", "flushing_denormals", "machine_description"]
