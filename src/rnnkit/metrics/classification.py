"""Classification scores from scikit-learn: accuracy, macro-F1, per-class precision/recall/F1.

One function, :func:`classification_scores`, for every classifier of rnnkit (the recurrent model
and the baselines alike), so the numbers in one table are computed the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from rnnkit.optional import require


def classification_scores(
    targets: np.ndarray, probabilities: np.ndarray, classes: Sequence[Any], *, multi_label: bool = False,
    threshold: float = 0.5,
) -> dict[str, float]:
    """Scores of predicted probabilities against the true classes.

    Args:
        targets: ``(n,)`` class indices, or ``(n, C)`` 0/1 indicators for multi-label.
        probabilities: ``(n, C)`` predicted probabilities (multi-class rows sum to 1).
        classes: the ``C`` class labels, for the per-class entries' names.
        multi_label: score indicator matrices (accuracy is the exact-match ratio).
        threshold: multi-label decision threshold.

    Returns:
        ``{"accuracy", "macro_f1", "precision/<label>", "recall/<label>", "f1/<label>"}`` (fractions in [0, 1]).

    Example:
        >>> classification_scores(np.array([0, 1, 1]), np.array([[.9, .1], [.2, .8], [.6, .4]]), ["neg", "pos"])
        ... # doctest: +ELLIPSIS
        {'accuracy': 0.666..., 'macro_f1': 0.666..., ...}
    """
    metrics = require("sklearn.metrics", "text", package="scikit-learn")
    probabilities = np.asarray(probabilities)
    targets = np.asarray(targets)
    if probabilities.ndim != 2 or probabilities.shape[1] != len(classes):
        raise ValueError(f"probabilities: expected shape (n, {len(classes)}), got {probabilities.shape}")
    if len(targets) != len(probabilities):
        raise ValueError(f"targets: expected {len(probabilities)} (one per prediction), got {len(targets)}")
    if multi_label:
        predicted = (probabilities > threshold).astype(int)
        labels = None
    else:
        predicted = probabilities.argmax(1)
        labels = list(range(len(classes)))
    scores = {
        "accuracy": float(metrics.accuracy_score(targets, predicted)),
        "macro_f1": float(metrics.f1_score(targets, predicted, average="macro", labels=labels, zero_division=0)),
    }
    precision, recall, f1, _ = metrics.precision_recall_fscore_support(targets, predicted, labels=labels,
                                                                       zero_division=0)
    for name, p, r, f in zip(classes, precision, recall, f1, strict=True):
        scores[f"precision/{name}"] = float(p)
        scores[f"recall/{name}"] = float(r)
        scores[f"f1/{name}"] = float(f)
    return scores


def confusion(targets: np.ndarray, predicted: np.ndarray, num_classes: int) -> np.ndarray:
    """The ``(C, C)`` confusion matrix (rows: true class, columns: predicted), from scikit-learn."""
    metrics = require("sklearn.metrics", "text", package="scikit-learn")
    return metrics.confusion_matrix(targets, predicted, labels=list(range(num_classes)))


__all__ = ["classification_scores", "confusion"]
