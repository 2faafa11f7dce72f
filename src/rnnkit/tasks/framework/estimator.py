"""The base of every application's estimator (``Forecaster``, ``TextClassifier``, ``Tagger``, ...)."""

from __future__ import annotations

from typing import Any, ClassVar

from rnnkit.serialization import Saveable


class Estimator(Saveable):
    """An application's model in the scikit-learn / Darts style.

    Settings go in ``__init__`` and are kept as they were given (``get_config`` returns them);
    ``fit`` returns ``self`` and sets the fitted attributes (ending in ``_``); the app's verbs
    (``predict``, ``translate``, ``transcribe``, ``generate``, ...) use them; ``evaluate`` returns a
    ``{metric: value}`` dict; ``save(dir)`` writes a model directory that :func:`rnnkit.load` reads.

    Class attributes:
        app_name: the application the estimator belongs to (``rnnkit <app_name> predict --model``
            refuses a model directory of another app).
    """

    app_name: ClassVar[str] = ""

    def evaluate(self, *args: Any, **kwargs: Any) -> dict[str, float]:
        """Scores on held-out data: ``{metric: value}``."""
        raise NotImplementedError(f"{type(self).__name__}.evaluate")


__all__ = ["Estimator"]
