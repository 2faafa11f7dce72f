"""The ``POST /v1/translate`` request body and its answer (see :mod:`rnnkit.tasks.framework.serve`)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

#: Longest source sentence (characters) a request may carry; the model also truncates to max_src_len subwords.
MAX_SENTENCE_CHARS = 5_000

Sentence = Annotated[str, Field(max_length=MAX_SENTENCE_CHARS)]
Term = Annotated[str, Field(min_length=1, max_length=200)]


class TranslateRequest(BaseModel):
    """Sentences to translate with a saved :class:`~rnnkit.Translator`.

    Attributes:
        sentences: source sentences (1 to 256).
        beam: beam size (1: greedy; default: the model's).
        n_best: translations per sentence (at most the beam), best first.
        constraints: per sentence, target terms that must appear in its translation
            (constrained beam search); one list per sentence.
    """

    model_config = ConfigDict(extra="forbid")

    sentences: list[Sentence] = Field(..., min_length=1, max_length=256)
    beam: int | None = Field(None, ge=1, le=64)
    n_best: int = Field(1, ge=1, le=64)
    constraints: list[Annotated[list[Term], Field(max_length=16)]] | None = None

    @model_validator(mode="after")
    def _consistent(self) -> TranslateRequest:
        if self.constraints is not None and len(self.constraints) != len(self.sentences):
            raise ValueError(f"constraints: expected one list of terms per sentence ({len(self.sentences)}), "
                             f"got {len(self.constraints)}")
        if self.beam is not None and self.n_best > self.beam:
            raise ValueError(f"n_best: at most the beam ({self.beam}), got {self.n_best}")
        return self


def answer(translator: Any, request: TranslateRequest) -> dict:
    """``{"translations": [...], "scores": [...]}``: the best translation of each sentence and its
    length-normalised log-probability; ``"n_best"`` lists when n_best > 1, ``"constraints_met"``
    with constraints."""
    beam = request.beam if request.beam is not None else translator.beam
    if request.n_best > beam:
        raise ValueError(f"n_best: at most the beam ({beam}, the model's default), got {request.n_best}")
    hyps = translator.hypotheses(request.sentences, beam=beam, n_best=request.n_best,
                                 constraints=request.constraints)
    decode = translator.tgt_tokenizer_.decode
    out: dict[str, Any] = {
        "translations": [decode(row[0].tokens) if row else "" for row in hyps],
        "scores": [float(row[0].score) if row else None for row in hyps],
    }
    if request.constraints is not None:
        out["constraints_met"] = [bool(getattr(row[0], "constraints_met", False)) if row else False for row in hyps]
    if request.n_best > 1:
        out["n_best"] = [[decode(h.tokens) for h in row] for row in hyps]
    return out
