"""The ``POST /v1/generate`` request body and its answer, streamed as server-sent events (see
:mod:`rnnkit.tasks.framework.serve`)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

#: Longest prompt (characters) and most tokens per request.
MAX_PROMPT_CHARS = 20_000
MAX_TOKENS = 2_000


class GenerateRequest(BaseModel):
    """Continue a prompt with a saved :class:`~rnnkit.LanguageModel`.

    With ``stream`` (the default) the answer is ``text/event-stream``: one event
    ``data: {"token": "..."}`` per sampled token, then ``data: {"done": true, "text": ...}`` and
    ``event: end``; without, one JSON object ``{"text": ...}``. The same seed gives the same text.

    Attributes:
        prompt: text to prime the state with (empty: start after a line break).
        max_tokens: tokens to sample (1 to 2,000).
        temperature: divides the logits; 0 is greedy decoding.
        top_k: sample among the k most probable tokens only.
        top_p: nucleus sampling: the smallest set of tokens whose probability reaches p.
        seed: seed of the sampler (default: the model's).
        stream: send tokens as server-sent events as they are produced.
    """

    model_config = ConfigDict(extra="forbid")
    route: ClassVar[str] = "generate"

    prompt: str = Field("", max_length=MAX_PROMPT_CHARS)
    max_tokens: int = Field(100, ge=1, le=MAX_TOKENS)
    temperature: float = Field(1.0, ge=0.0, le=100.0, allow_inf_nan=False)
    top_k: int | None = Field(None, ge=1)
    top_p: float | None = Field(None, gt=0.0, le=1.0)
    seed: int | None = Field(None, ge=0, le=2**63 - 1)
    stream: bool = True


def answer(model: Any, request: GenerateRequest) -> dict | Iterator[dict]:
    """``{"text", "unknown"}``, or with ``stream`` an iterator of ``{"token"}`` events and a last
    ``{"done": true, "text", "unknown"}`` (``unknown``: prompt tokens read as ``<unk>``)."""
    import warnings

    def events() -> Iterator[dict]:
        pieces = []
        with warnings.catch_warnings():  # unknown prompt tokens are counted in the answer instead
            warnings.simplefilter("ignore")
            tokens = model.stream(request.prompt, request.max_tokens, temperature=request.temperature,
                                  top_k=request.top_k, top_p=request.top_p, seed=request.seed)
            first = next(tokens, None)
        unknown = int(getattr(model, "last_unknown_", 0))
        if first is not None:
            pieces.append(first)
            yield {"token": first}
        for piece in tokens:
            pieces.append(piece)
            yield {"token": piece}
        yield {"done": True, "text": "".join(pieces), "unknown": unknown}

    if request.stream:
        return events()
    *_, last = events()
    return {"text": last["text"], "unknown": last["unknown"]}
