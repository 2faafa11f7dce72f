"""A linear-chain conditional random field: the tagger's output layer (Lafferty et al. 2001;
Lample et al. 2016, section 2.2).

For emissions :math:`P \\in \\mathbb{R}^{T \\times K}` (one score per step and tag), transitions
:math:`A \\in \\mathbb{R}^{K \\times K}` (from, to) and start/end scores :math:`s, e`, a tag sequence
:math:`y` scores

.. math::
    S(y) = s_{y_1} + \\sum_{t=1}^{T} P_{t, y_t} + \\sum_{t=2}^{T} A_{y_{t-1}, y_t} + e_{y_T},

and :math:`p(y) = \\exp S(y) / Z` with :math:`Z = \\sum_{y'} \\exp S(y')` over all :math:`K^T`
sequences. :math:`\\log Z` comes from the forward algorithm in log space (one
``(B, K, K)`` log-sum-exp per step, vectorised over the batch), the best path from Viterbi.
Forbidden transitions (``I-PER`` after ``O`` in IOB2) get a fixed penalty of ``-10,000`` added
to their score, so no decoded sequence contains one and training never spends probability on
them. Sequences are right-padded; ``lengths`` says where each ends.

Memory: autograd keeps the ``(B, K, K)`` step scores of every step, so training memory grows as
``B * T * K**2`` (measured in ``docs/apps/tag.md``).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from rnnkit.models.tag_schemes import canonical_scheme, split_tag, transition_allowed

#: Score added to forbidden transitions (finite, so log-sum-exp and its gradient stay finite).
FORBIDDEN = -10000.0


class CRF(nn.Module):
    """Linear-chain CRF over ``num_tags`` tags with optional transition constraints.

    Args:
        num_tags: K, the number of tags.
        allowed: ``(K, K)`` booleans, ``allowed[i, j]``: tag ``j`` may follow tag ``i`` (None: all).
        allowed_start: ``(K,)`` booleans: tags a sequence may start with (None: all).
        allowed_end: ``(K,)`` booleans: tags a sequence may end with (None: all).

    Shape:
        emissions ``(B, T, K)``, tags ``(B, T)`` (long), lengths ``(B,)`` with ``1 <= lengths <= T``.

    Example:
        >>> crf = CRF.for_tags(["O", "B-PER", "I-PER"], "IOB2")
        >>> emissions = torch.randn(2, 5, 3)
        >>> nll = crf(emissions, torch.zeros(2, 5, dtype=torch.long), torch.tensor([5, 3]))
        >>> paths = crf.decode(emissions, torch.tensor([5, 3]))   # lists of 5 and 3 tag ids
    """

    def __init__(self, num_tags: int, *, allowed: Tensor | None = None, allowed_start: Tensor | None = None,
                 allowed_end: Tensor | None = None) -> None:
        super().__init__()
        if not isinstance(num_tags, int) or num_tags < 1:
            raise ValueError(f"num_tags: expected a positive integer, got {num_tags!r}")
        self.num_tags = num_tags
        self.transitions = nn.Parameter(torch.empty(num_tags, num_tags).uniform_(-0.1, 0.1))
        self.start = nn.Parameter(torch.empty(num_tags).uniform_(-0.1, 0.1))
        self.end = nn.Parameter(torch.empty(num_tags).uniform_(-0.1, 0.1))
        self.register_buffer("transition_penalty", self._penalty(allowed, (num_tags, num_tags), "allowed"))
        self.register_buffer("start_penalty", self._penalty(allowed_start, (num_tags,), "allowed_start"))
        self.register_buffer("end_penalty", self._penalty(allowed_end, (num_tags,), "allowed_end"))

    @staticmethod
    def _penalty(allowed: Tensor | None, shape: tuple[int, ...], name: str) -> Tensor:
        if allowed is None:
            return torch.zeros(shape)
        allowed = torch.as_tensor(allowed, dtype=torch.bool)
        if tuple(allowed.shape) != shape:
            raise ValueError(f"{name}: expected shape {shape}, got {tuple(allowed.shape)}")
        return torch.where(allowed, 0.0, FORBIDDEN)

    @classmethod
    def for_tags(cls, tags: Sequence[str], scheme: str) -> CRF:
        """A CRF over ``tags`` that forbids the transitions ``scheme`` makes invalid (see
        :func:`allowed_transitions`)."""
        allowed, start, end = allowed_transitions(tags, scheme)
        return cls(len(tags), allowed=allowed, allowed_start=start, allowed_end=end)

    # ------------------------------------------------------------------------------ scores
    def _scores(self) -> tuple[Tensor, Tensor, Tensor]:
        return (self.transitions + self.transition_penalty, self.start + self.start_penalty,
                self.end + self.end_penalty)

    def _check(self, emissions: Tensor, lengths: Tensor, tags: Tensor | None = None) -> Tensor:
        if emissions.dim() != 3 or emissions.shape[2] != self.num_tags:
            raise ValueError(f"emissions: expected (batch, time, {self.num_tags}), got {tuple(emissions.shape)}")
        lengths = torch.as_tensor(lengths, device=emissions.device).long()
        if lengths.shape != (emissions.shape[0],):
            raise ValueError(f"lengths: expected shape ({emissions.shape[0]},), got {tuple(lengths.shape)}")
        if lengths.numel() and (int(lengths.min()) < 1 or int(lengths.max()) > emissions.shape[1]):
            raise ValueError(f"lengths: expected values in 1..{emissions.shape[1]} (an empty sequence has no "
                             f"tag path), got {lengths.tolist()}")
        if tags is not None:
            if tags.shape != emissions.shape[:2]:
                raise ValueError(f"tags: expected shape {tuple(emissions.shape[:2])}, got {tuple(tags.shape)}")
            steps = torch.arange(emissions.shape[1], device=emissions.device)
            real = tags[steps[None, :] < lengths[:, None]]
            if real.numel() and (int(real.min()) < 0 or int(real.max()) >= self.num_tags):
                raise ValueError(f"tags: expected ids in 0..{self.num_tags - 1}, "
                                 f"got {int(real.min())}..{int(real.max())}")
        return lengths

    def log_partition(self, emissions: Tensor, lengths: Tensor) -> Tensor:
        """``log Z`` per sequence by the forward algorithm in log space.

        Returns:
            ``(B,)``.
        """
        lengths = self._check(emissions, lengths)
        transitions, start, end = self._scores()
        alpha = start + emissions[:, 0]  # (B, K): log-sum of every path ending in each tag
        for t in range(1, emissions.shape[1]):
            step = torch.logsumexp(alpha.unsqueeze(2) + transitions + emissions[:, t].unsqueeze(1), dim=1)
            alpha = torch.where((t < lengths).unsqueeze(1), step, alpha)
        return torch.logsumexp(alpha + end, dim=1)

    def score(self, emissions: Tensor, tags: Tensor, lengths: Tensor) -> Tensor:
        """``S(y)`` of the given tag sequences (padded positions ignored).

        Returns:
            ``(B,)``.
        """
        lengths = self._check(emissions, lengths, tags)
        transitions, start, end = self._scores()
        steps = tags.shape[1]
        real = torch.arange(steps, device=tags.device)[None, :] < lengths[:, None]
        safe = torch.where(real, tags, 0)
        emitted = emissions.gather(2, safe.unsqueeze(2)).squeeze(2)
        total = (emitted * real).sum(1) + start[safe[:, 0]]
        if steps > 1:
            moved = transitions[safe[:, :-1], safe[:, 1:]]
            total = total + (moved * real[:, 1:]).sum(1)
        last = safe.gather(1, (lengths - 1).unsqueeze(1)).squeeze(1)
        return total + end[last]

    def forward(self, emissions: Tensor, tags: Tensor, lengths: Tensor, *, reduction: str = "mean") -> Tensor:
        """Negative log-likelihood ``log Z - S(y)``.

        Args:
            reduction: ``"none"`` (per sequence), ``"sum"``, ``"mean"`` (over sequences) or
                ``"token_mean"`` (sum divided by the number of real tokens).

        Returns:
            A scalar, or ``(B,)`` for ``"none"``.
        """
        nll = self.log_partition(emissions, lengths) - self.score(emissions, tags, lengths)
        if reduction == "none":
            return nll
        if reduction == "sum":
            return nll.sum()
        if reduction == "mean":
            return nll.mean()
        if reduction == "token_mean":
            return nll.sum() / torch.as_tensor(lengths).sum().clamp_min(1)
        raise ValueError(f"reduction: expected 'none', 'sum', 'mean' or 'token_mean', got {reduction!r}")

    @torch.no_grad()
    def decode(self, emissions: Tensor, lengths: Tensor) -> list[list[int]]:
        """The highest-scoring tag sequence of each input (Viterbi), honouring the constraints.

        Returns:
            One list of ``lengths[b]`` tag ids per sequence.
        """
        lengths = self._check(emissions, lengths)
        transitions, start, end = self._scores()
        batch, steps, k = emissions.shape
        best = start + emissions[:, 0]
        keep = torch.arange(k, device=emissions.device).expand(batch, k)
        pointers = []
        for t in range(1, steps):
            candidates, previous = (best.unsqueeze(2) + transitions).max(dim=1)  # (B, K) over the previous tag
            active = (t < lengths).unsqueeze(1)
            best = torch.where(active, candidates + emissions[:, t], best)
            pointers.append(torch.where(active, previous, keep))  # past the end: stay on the same tag
        tag = (best + end).argmax(dim=1)
        path = [tag]
        for pointer in reversed(pointers):
            tag = pointer.gather(1, tag.unsqueeze(1)).squeeze(1)
            path.append(tag)
        ids = torch.stack(path[::-1], dim=1).tolist()
        return [row[:n] for row, n in zip(ids, lengths.tolist(), strict=True)]


def allowed_transitions(tags: Sequence[str], scheme: str) -> tuple[Tensor, Tensor, Tensor]:
    """Which transitions, first tags and last tags ``scheme`` allows among ``tags``.

    IOB2: ``I-X`` only after ``B-X`` or ``I-X``, never first. IOB1: ``B-X`` only after ``B-X`` or
    ``I-X``. BIOES/BMES: ``I-X``/``M-X``/``E-X`` only after ``B-X`` or ``I-X``/``M-X``; after
    ``B-X`` and ``I-X`` only ``I-X``/``E-X``; first tags ``B``, ``S``, ``O``; last tags ``E``,
    ``S``, ``O``. ``none``: everything.

    Returns:
        ``(allowed (K, K), allowed_start (K,), allowed_end (K,))`` boolean tensors.
    """
    scheme = canonical_scheme(scheme)

    split = [split_tag(t) for t in tags]
    outside = ("O", "")
    allowed = torch.tensor([[transition_allowed(a, b, scheme) for b in split] for a in split], dtype=torch.bool)
    start = torch.tensor([transition_allowed(outside, b, scheme) for b in split], dtype=torch.bool)
    end = torch.tensor([transition_allowed(a, outside, scheme) for a in split], dtype=torch.bool)
    return allowed, start, end


__all__ = ["CRF", "FORBIDDEN", "allowed_transitions"]
