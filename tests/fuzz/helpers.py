"""What the fuzz suite accepts from a public entry point given bad values."""

from __future__ import annotations

import collections
import math
import re
import traceback
from pathlib import Path

import rnnkit

RNNKIT_DIR = str(Path(rnnkit.__file__).resolve().parent)

#: Generated cases per test, and what they found (printed at the end of a run with ``-s``).
CASES: collections.Counter = collections.Counter()
FOUND: collections.Counter = collections.Counter()


def raised_by_rnnkit(error: BaseException) -> bool:
    """Whether the innermost frame that raised ``error`` is rnnkit's own code (not a dependency's)."""
    frames = traceback.extract_tb(error.__traceback__)
    return bool(frames) and str(Path(frames[-1].filename).resolve()).startswith(RNNKIT_DIR)


def names_argument(error: BaseException) -> bool:
    """rnnkit's own checks start with what they are about: ``"lr: expected ..."``, ``"Trainer: ..."``
    (so Python's ``'int' object is not iterable`` raised in rnnkit code does not count as a check)."""
    return re.match(r"^[\w.\-\[\]' =]{1,60}: ", str(error)) is not None


def documented_error_types() -> tuple[type[BaseException], ...]:
    """rnnkit's own error classes (listed in docs/guarantees.md)."""
    from rnnkit.data.timeseries import SeriesError
    from rnnkit.dirlock import DirectoryLocked
    from rnnkit.optional import MissingDependency
    from rnnkit.serialization import SerializationError
    from rnnkit.tasks.framework.cli import CLIError
    from rnnkit.tasks.framework.config import ConfigError
    from rnnkit.training import BatchError, CheckpointError, TrainingDiverged

    return (SerializationError, CheckpointError, ConfigError, CLIError, BatchError, TrainingDiverged, SeriesError,
            DirectoryLocked, MissingDependency)


def check_error(name: str, error: BaseException, *, allow: tuple[type[BaseException], ...] = ()) -> None:
    """Fail unless ``error`` is one of rnnkit's error types, or a ValueError/TypeError/RuntimeError
    that rnnkit itself raised with a message naming what it is about (an argument check). Never
    KeyError/IndexError/AttributeError, never SystemExit, never an exception raised inside a dependency."""
    __tracebackhide__ = True
    if isinstance(error, documented_error_types() + allow):
        FOUND[f"{name}: {type(error).__name__}"] += 1
        return
    if type(error) in (ValueError, TypeError, RuntimeError) and raised_by_rnnkit(error) and names_argument(error):
        FOUND[f"{name}: {type(error).__name__} (rnnkit's own check)"] += 1
        return
    FOUND[f"{name}: BAD {type(error).__name__}"] += 1
    raise AssertionError(f"{name}: {type(error).__name__} escaped: {error}\n"
                         + "".join(traceback.format_exception(error))) from error


def all_finite(values) -> bool:
    import numpy as np
    import torch

    if isinstance(values, torch.Tensor):
        return bool(torch.isfinite(values).all())
    return bool(np.isfinite(np.asarray(values, dtype=float)).all()) if not isinstance(values, float) else (
        math.isfinite(values))
