"""The ``POST /v1/tag`` request body and its answer (see :mod:`rnnkit.tasks.framework.serve`)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

#: Longest raw text and most tokens per sentence a request may carry.
MAX_TEXT_CHARS = 20_000
MAX_TOKENS = 2_000

Text = Annotated[str, Field(max_length=MAX_TEXT_CHARS)]
Token = Annotated[str, Field(min_length=1, max_length=200)]


class TagRequest(BaseModel):
    """Sentences to tag with a saved :class:`~rnnkit.Tagger`: raw texts or token lists (one of them).

    Attributes:
        texts: raw sentences, split by the model's tokenizer (words and punctuation, or characters).
        tokens: sentences already split into tokens.
    """

    model_config = ConfigDict(extra="forbid")

    texts: list[Text] | None = Field(None, min_length=1, max_length=1_000)
    tokens: list[Annotated[list[Token], Field(max_length=MAX_TOKENS)]] | None = Field(None, min_length=1,
                                                                                       max_length=1_000)

    @model_validator(mode="after")
    def _one_input(self) -> TagRequest:
        if (self.texts is None) == (self.tokens is None):
            raise ValueError("texts or tokens: give exactly one of them (raw sentences or token lists)")
        return self


def answer(tagger: Any, request: TagRequest) -> dict:
    """``{"scheme", "sentences": [{"tokens", "tags", "spans": [{"type", "start", "end", "text"}]}]}``.

    Spans are token offsets (``end`` exclusive); a part-of-speech model (scheme ``none``) has none.
    """
    from rnnkit.data.conll import tags_to_spans
    from rnnkit.tasks.tag.estimator import tokenize

    characters = tagger.settings["tokenizer"] == "characters"
    if request.texts is not None:
        sentences = [tokenize(text, characters=characters) for text in request.texts]
        for i, tokens in enumerate(sentences):
            if len(tokens) > MAX_TOKENS:
                raise ValueError(f"texts[{i}]: {len(tokens)} tokens, over the limit of {MAX_TOKENS}")
    else:
        sentences = [list(s) for s in request.tokens]
    tags = tagger.predict_tokens(sentences)
    joiner = "" if characters else " "
    out = []
    for tokens, row in zip(sentences, tags, strict=True):
        spans = [] if tagger.scheme_ == "none" else tags_to_spans(row, tagger.scheme_)[0]
        out.append({"tokens": tokens, "tags": row, "spans": [
            {"type": kind, "start": a, "end": b, "text": joiner.join(tokens[a:b])} for kind, a, b in spans]})
    return {"scheme": tagger.scheme_, "sentences": out}
