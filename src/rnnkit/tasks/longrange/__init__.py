"""The long-range dependency tasks (``adding``, ``copy``, ``smnist``, ``psmnist``) for ``rnnkit train``.

The tasks are ``TaskSetup`` builders (:mod:`rnnkit.tasks.longrange.tasks`); their network and the
per-cell recipes live in :mod:`rnnkit.models.longrange` (re-exported here for the examples that
import them from this package); the benchmark that runs them all is :mod:`rnnkit.bench.longrange`.
"""

from rnnkit.models.longrange import RECIPES, ConstrainIndRNN, LongRangeModel, Recipe, callbacks_for, get_recipe
from rnnkit.tasks.longrange.tasks import (
    AddingConfig,
    CopyConfig,
    MNISTConfig,
    build_adding,
    build_copy,
    build_psmnist,
    build_smnist,
)

__all__ = ["RECIPES", "AddingConfig", "ConstrainIndRNN", "CopyConfig", "LongRangeModel", "MNISTConfig", "Recipe",
           "build_adding", "build_copy", "build_psmnist", "build_smnist", "callbacks_for", "get_recipe"]
