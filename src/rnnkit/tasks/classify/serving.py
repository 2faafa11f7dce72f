"""The ``POST /v1/classify`` request body and its answer (see :mod:`rnnkit.tasks.framework.serve`)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

#: Longest text (characters) a request may carry.
MAX_TEXT_CHARS = 20_000


class ClassifyRequest(BaseModel):
    """Texts to classify with a saved :class:`~rnnkit.TextClassifier`.

    Attributes:
        texts: one to 10,000 texts of at most 20,000 characters each (an empty text is read as
            one unknown token).
    """

    model_config = ConfigDict(extra="forbid")

    texts: list[Annotated[str, Field(max_length=MAX_TEXT_CHARS)]] = Field(..., min_length=1, max_length=10_000)


def answer(classifier: Any, request: ClassifyRequest) -> dict:
    """``{"labels": [...], "probabilities": [{class: p, ...}, ...]}``, one entry per text."""
    if getattr(classifier, "kind", "") != "text":
        raise ValueError("texts: this model classifies numeric sequences, not texts")
    probs = classifier.predict_proba(request.texts)
    labels = classifier.predict(request.texts)
    names = [str(c) for c in classifier.classes_]
    return {"labels": labels, "probabilities": [dict(zip(names, map(float, row), strict=True)) for row in probs]}
