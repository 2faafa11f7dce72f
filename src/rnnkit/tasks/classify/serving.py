"""The ``POST /v1/classify`` request body and its answer (see :mod:`rnnkit.tasks.framework.serve`)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class ClassifyRequest(BaseModel):
    """Texts to classify with a saved :class:`~rnnkit.TextClassifier`.

    Attributes:
        texts: one to 10,000 texts (an empty text is read as one unknown token).
    """

    texts: list[str] = Field(..., min_length=1, max_length=10_000)


def answer(classifier: Any, request: ClassifyRequest) -> dict:
    """``{"labels": [...], "probabilities": [{class: p, ...}, ...]}``, one entry per text."""
    if getattr(classifier, "kind", "") != "text":
        raise ValueError("texts: this model classifies numeric sequences, not texts")
    probs = classifier.predict_proba(request.texts)
    labels = classifier.predict(request.texts)
    names = [str(c) for c in classifier.classes_]
    return {"labels": labels, "probabilities": [dict(zip(names, map(float, row), strict=True)) for row in probs]}
