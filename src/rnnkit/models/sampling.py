"""Choosing the next token from a language model's logits: temperature, top-k and top-p (nucleus).

The order is the usual one (Holtzman et al. 2020; Hugging Face ``generate``): the logits are
divided by the temperature, then top-k keeps the ``k`` most probable tokens, then top-p keeps the
smallest set of the most probable tokens whose probability adds up to at least ``p`` (the token
that crosses ``p`` is kept), and the kept probabilities are renormalised. Temperature 0 means
greedy decoding: always the most probable token (the first one on ties).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor


def check_sampling(temperature: float, top_k: int | None, top_p: float | None) -> None:
    """Raise ``ValueError`` naming the bad argument (negative temperature, top-k < 1, top-p outside (0, 1])."""
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or not math.isfinite(temperature) \
            or temperature < 0:
        raise ValueError(f"temperature: expected a finite number >= 0 (0 = greedy), got {temperature!r}")
    if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1):
        raise ValueError(f"top_k: expected a positive integer or None, got {top_k!r}")
    if top_p is not None and (isinstance(top_p, bool) or not isinstance(top_p, (int, float)) or not 0 < top_p <= 1):
        raise ValueError(f"top_p: expected a number in (0, 1] or None, got {top_p!r}")


def filter_logits(logits: Tensor, *, top_k: int | None = None, top_p: float | None = None) -> Tensor:
    """``logits`` with every token outside the top-k / top-p set at ``-inf``.

    Args:
        logits: ``(..., V)`` unnormalised log-probabilities (already divided by the temperature).
        top_k: keep the ``k`` largest (``None``: all; ``k >= V``: all).
        top_p: keep the smallest prefix of the tokens sorted by probability whose total reaches
            ``top_p`` (``None`` or 1: all).

    Returns:
        The filtered logits, same shape.

    Example:
        >>> filter_logits(torch.log(torch.tensor([0.5, 0.3, 0.2])), top_p=0.6).exp()
        tensor([0.5000, 0.3000, 0.0000])
    """
    check_sampling(1.0, top_k, top_p)
    out = logits
    if top_k is not None and top_k < logits.shape[-1]:
        kth = torch.topk(out, top_k, dim=-1).values[..., -1:]
        out = out.masked_fill(out < kth, -math.inf)
    if top_p is not None and top_p < 1:
        order = torch.sort(out, dim=-1, descending=True, stable=True)
        probs = torch.softmax(order.values, dim=-1)
        before = probs.cumsum(-1) - probs  # probability of the tokens ranked above each one
        drop_sorted = before >= top_p       # already reached p without this token
        drop = torch.zeros_like(drop_sorted).scatter(-1, order.indices, drop_sorted)
        out = out.masked_fill(drop, -math.inf)
    return out


def next_token_probabilities(logits: Tensor, *, temperature: float = 1.0, top_k: int | None = None,
                             top_p: float | None = None) -> Tensor:
    """The distribution the next token is drawn from, ``(..., V)``; one-hot at the argmax for
    temperature 0."""
    check_sampling(temperature, top_k, top_p)
    if temperature == 0:
        return torch.nn.functional.one_hot(logits.argmax(-1), logits.shape[-1]).to(logits.dtype)
    return torch.softmax(filter_logits(logits / temperature, top_k=top_k, top_p=top_p), dim=-1)


def sample_next(logits: Tensor, *, temperature: float = 1.0, top_k: int | None = None, top_p: float | None = None,
                generator: torch.Generator | None = None) -> Tensor:
    """Draw one token per row of ``logits`` ``(B, V)``; returns ``(B,)`` ids.

    Greedy (no random draw) for temperature 0; otherwise one ``torch.multinomial`` draw from
    :func:`next_token_probabilities` with ``generator``, so a seeded generator reproduces a sample.
    """
    if logits.dim() != 2:
        raise ValueError(f"logits: expected (batch, vocab), got shape {tuple(logits.shape)}")
    if temperature == 0:
        check_sampling(temperature, top_k, top_p)
        return logits.argmax(-1)
    probs = next_token_probabilities(logits.double(), temperature=temperature, top_k=top_k, top_p=top_p)
    return torch.multinomial(probs, 1, generator=generator).squeeze(1)


__all__ = ["check_sampling", "filter_logits", "next_token_probabilities", "sample_next"]
