"""Attention over an encoder's outputs: additive (Bahdanau) and general / dot (Luong), masked by length.

Scores between a decoder query :math:`q` (``(N, Q)``) and the encoder outputs :math:`m_s`
(``(N, S, M)``):

* ``"dot"`` (Luong et al. 2015, §3.1): :math:`q^\\top m_s` (needs ``Q == M``);
* ``"general"`` (Luong et al. 2015, §3.1): :math:`q^\\top W_a m_s`;
* ``"additive"`` (Bahdanau et al. 2015, §A.1.2; Luong's "concat"): :math:`v^\\top \\tanh(W q + U m_s)`.

The weights are a softmax over the real source positions only: padded positions (``s >=
lengths[n]``) get exactly zero weight. The parts that depend only on the memory (:math:`W_a m_s`,
:math:`U m_s`) are computed once per sentence by :meth:`Attention.prepare`, not at every step.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

ATTENTION_KINDS = ("additive", "general", "dot")


class Attention(nn.Module):
    """Global attention of one kind (see the module docstring).

    Args:
        kind: ``"additive"``, ``"general"`` or ``"dot"``.
        query_size: the decoder output size ``Q``.
        memory_size: the encoder output size ``M``.
        attention_size: the hidden size of the additive score (default ``Q``).

    Shape:
        query ``(N, Q)``, prepared keys ``(N, S, K)``, memory ``(N, S, M)``, mask ``(N, S)`` bool ->
        context ``(N, M)``, weights ``(N, S)``.

    Example:
        >>> att = Attention("general", 8, 8)
        >>> memory = torch.randn(2, 5, 8)
        >>> mask = torch.tensor([[True] * 5, [True] * 3 + [False] * 2])
        >>> context, weights = att(torch.randn(2, 8), att.prepare(memory), memory, mask)
        >>> weights[1, 3:].abs().sum().item()
        0.0
    """

    def __init__(self, kind: str, query_size: int, memory_size: int, *, attention_size: int | None = None) -> None:
        super().__init__()
        if kind not in ATTENTION_KINDS:
            raise ValueError(f"attention: expected one of {list(ATTENTION_KINDS)}, got {kind!r}")
        if kind == "dot" and query_size != memory_size:
            raise ValueError(f"attention='dot': the decoder size ({query_size}) must equal the encoder output size "
                             f"({memory_size}); use 'general' to learn a projection")
        self.kind = kind
        if kind == "general":
            self.memory_proj = nn.Linear(memory_size, query_size, bias=False)
        elif kind == "additive":
            size = attention_size or query_size
            self.memory_proj = nn.Linear(memory_size, size, bias=True)
            self.query_proj = nn.Linear(query_size, size, bias=False)
            self.v = nn.Linear(size, 1, bias=False)

    def prepare(self, memory: Tensor) -> Tensor:
        """The memory-only part of the score, once per sentence: ``(N, S, K)``."""
        return memory if self.kind == "dot" else self.memory_proj(memory)

    def scores(self, query: Tensor, keys: Tensor) -> Tensor:
        """Unnormalised scores ``(N, S)``."""
        if self.kind == "additive":
            return self.v(torch.tanh(keys + self.query_proj(query).unsqueeze(1))).squeeze(-1)
        return torch.bmm(keys, query.unsqueeze(-1)).squeeze(-1)

    def forward(self, query: Tensor, keys: Tensor, memory: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        """Context vector and attention weights; padded positions get weight 0."""
        scores = self.scores(query, keys).masked_fill(~mask, float("-inf"))
        weights = torch.softmax(scores, dim=-1)
        return torch.bmm(weights.unsqueeze(1), memory).squeeze(1), weights


__all__ = ["ATTENTION_KINDS", "Attention"]
