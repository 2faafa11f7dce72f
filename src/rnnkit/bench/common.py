"""What every benchmark prints beside its numbers: the machine (CPU model or GPU), threads, torch, date."""

from __future__ import annotations

import datetime
import platform
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


__all__ = ["cpu_name", "machine_description"]
