"""The long-range dependency tasks (``adding``, ``copy``, ``smnist``, ``psmnist``) for ``rnnkit train``.

The tasks are ``TaskSetup`` builders (:mod:`rnnkit.tasks.longrange.tasks`); their network and the
per-cell recipes live in :mod:`rnnkit.models.longrange` (``LongRangeModel``, ``RECIPES``); the
benchmark that runs them all is :mod:`rnnkit.bench.longrange`.
"""

from rnnkit.tasks.longrange.tasks import (
    AddingConfig,
    CopyConfig,
    MNISTConfig,
    build_adding,
    build_copy,
    build_psmnist,
    build_smnist,
)

__all__ = ["AddingConfig", "CopyConfig", "MNISTConfig", "build_adding", "build_copy", "build_psmnist",
           "build_smnist"]
