"""Dropout over whole sequences and whole words, as the AWD-LSTM uses them (Merity et al. 2018).

* :class:`LockedDropout` — one mask per sequence on a layer's *activations*, the same at every
  time step ("variational" or "locked" dropout on the inputs, between layers and on the outputs;
  Gal & Ghahramani 2016, Merity et al. 2018 Sec. 4.2). Unlike
  :class:`rnnkit.VariationalDropout`, which masks the recurrent state inside the step, it acts
  outside the recurrence, so every backend (PyTorch's fused kernels included) still runs.
* :class:`EmbeddingDropout` — drops whole rows of an embedding matrix: a dropped word is zero
  wherever it occurs in the batch (Merity et al. 2018, Sec. 4.3).

Both are the identity in evaluation mode and scale kept values by ``1 / (1 - p)`` in training.
"""

from __future__ import annotations

from torch import Tensor, nn
from torch.nn import functional as F


def _check_p(p: float) -> float:
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 <= p < 1.0:
        raise ValueError(f"p: expected a probability in [0, 1), got {p!r}")
    return float(p)


class LockedDropout(nn.Module):
    r"""Dropout with one mask per sequence shared by all time steps.

    ``y[b, t, f] = x[b, t, f] \cdot m[b, f] / (1 - p)`` with ``m ~ Bernoulli(1 - p)``.

    Args:
        p: drop probability.

    Shape:
        ``x``: ``(B, T, F)`` batch-first; the output has the same shape.

    Example:
        >>> drop = LockedDropout(0.5).train()
        >>> y = drop(torch.ones(2, 4, 3))
        >>> bool((y == y[:, :1]).all())  # the same mask at every step
        True
    """

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = _check_p(p)

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.p == 0:
            return x
        if x.dim() != 3:
            raise ValueError(f"x: expected (batch, time, features), got shape {tuple(x.shape)}")
        mask = x.new_empty(x.shape[0], 1, x.shape[2]).bernoulli_(1 - self.p) / (1 - self.p)
        return x * mask

    def extra_repr(self) -> str:
        return f"p={self.p}"


class EmbeddingDropout(nn.Embedding):
    r"""An ``nn.Embedding`` that drops whole rows (words) of its matrix in training.

    ``E' = diag(m) E / (1 - p)``, ``m ~ Bernoulli(1 - p)`` per vocabulary entry, sampled once per
    forward; then ``E'[tokens]``. In evaluation mode, ``E[tokens]``. Its ``weight`` can be tied to
    a decoder like any embedding's.

    Args:
        num_embeddings, embedding_dim, **options: as ``nn.Embedding``.
        p: drop probability of each word.

    Example:
        >>> drop = EmbeddingDropout(10, 4, p=0.5).train()
        >>> out = drop(torch.tensor([[3, 3, 3]]))
        >>> bool((out[0, 0] == out[0, 1]).all())  # a word is dropped everywhere or nowhere
        True
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, *, p: float = 0.0, **options: object) -> None:
        super().__init__(num_embeddings, embedding_dim, **options)
        self.p = _check_p(p)

    def forward(self, tokens: Tensor) -> Tensor:
        weight = self.weight
        if self.training and self.p > 0:
            keep = weight.new_empty(weight.shape[0], 1).bernoulli_(1 - self.p) / (1 - self.p)
            weight = weight * keep
        return F.embedding(tokens, weight, self.padding_idx, self.max_norm, self.norm_type,
                           self.scale_grad_by_freq, self.sparse)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, p={self.p}"


__all__ = ["EmbeddingDropout", "LockedDropout"]
