"""A sequence classifier: input layer → bidirectional rnnkit stack → pooling → dropout → linear.

The network behind :class:`rnnkit.TextClassifier` and :class:`rnnkit.SequenceClassifier`:

* input: an embedding of token ids (text; optionally initialised from pretrained vectors), or a
  linear projection of numeric features (multivariate sequences);
* encoder: any rnnkit cell as a :class:`~rnnkit.Recurrent` stack, bidirectional by default, given
  the batch's ``lengths`` (nothing is packed here);
* pooling over time (:class:`SequencePooling`): ``last`` (forward direction at the last real step
  and backward direction at the first), ``mean``/``max`` over the real steps, ``max_mean`` (both,
  concatenated: twice the features), or ``attention``
  (a learnt query scores every step, softmax over the real ones; Yang et al. 2016, §2.2 without
  the hierarchy) whose weights :meth:`SequenceClassifierNet.forward` can return;
* dropout and a linear layer to one logit per class.

Loss: cross-entropy (multi-class, with optional class weights) or per-class binary cross-entropy
(multi-label, with optional positive-class weights). The model follows the Trainer protocol
(``training_step``/``validation_step`` on dicts ``{"inputs", "lengths", "targets"}``).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from rnnkit.layers import Recurrent
from rnnkit.serialization import Saveable

POOLINGS = ("last", "mean", "max", "max_mean", "attention")


class SequencePooling(nn.Module):
    r"""Pool ``(B, T, D)`` encoder outputs over the real steps of each sequence to ``(B, D)``.

    Args:
        size: the feature size ``D``.
        mode: ``"last"``, ``"mean"``, ``"max"``, ``"max_mean"`` (max and mean concatenated) or
            ``"attention"``.
        directions: 2 when the encoder is bidirectional: ``"last"`` then takes the forward half at
            step ``lengths - 1`` and the backward half at step 0 (where each has read everything).

    Shape:
        ``outputs``: ``(B, T, D)``, zero past each length; ``lengths``: ``(B,)``; returns ``(B, D)``
        (``(B, 2D)`` for ``max_mean``: max first) and, for attention, the weights ``(B, T)`` (zero
        past each length, each row summing to 1).

    Example:
        >>> pool = SequencePooling(4, "mean")
        >>> pool(torch.ones(2, 3, 4), torch.tensor([3, 1]))[0].shape
        torch.Size([2, 4])
    """

    def __init__(self, size: int, mode: str = "max", *, directions: int = 1) -> None:
        super().__init__()
        if mode not in POOLINGS:
            raise ValueError(f"pooling: expected one of {', '.join(POOLINGS)}, got {mode!r}")
        self.mode = mode
        self.directions = directions
        self.output_size = 2 * size if mode == "max_mean" else size
        if mode == "attention":
            self.project = nn.Linear(size, size)
            self.query = nn.Linear(size, 1, bias=False)

    def forward(self, outputs: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor | None]:
        steps = outputs.shape[1]
        lengths = lengths.to(outputs.device)
        mask = torch.arange(steps, device=outputs.device)[None, :] < lengths[:, None]  # (B, T)
        if self.mode == "mean":
            return outputs.sum(1) / lengths[:, None].to(outputs.dtype), None
        if self.mode == "max":
            return outputs.masked_fill(~mask[..., None], float("-inf")).amax(1), None
        if self.mode == "max_mean":
            peak = outputs.masked_fill(~mask[..., None], float("-inf")).amax(1)
            return torch.cat([peak, outputs.sum(1) / lengths[:, None].to(outputs.dtype)], dim=-1), None
        if self.mode == "last":
            rows = torch.arange(outputs.shape[0], device=outputs.device)
            last = outputs[rows, lengths - 1]
            if self.directions == 1:
                return last, None
            half = outputs.shape[-1] // 2
            return torch.cat([last[:, :half], outputs[:, 0, half:]], dim=-1), None
        scores = self.query(torch.tanh(self.project(outputs))).squeeze(-1)
        weights = torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=1)
        return torch.bmm(weights[:, None, :], outputs).squeeze(1), weights


class SequenceClassifierNet(nn.Module, Saveable):
    """Embedding (or linear input) → bidirectional rnnkit stack → pooling → dropout → linear.

    Args:
        num_classes: output classes ``C``.
        vocab_size: token-id inputs with this vocabulary (id ``padding_idx`` is padding); give
            either this or ``input_size``.
        input_size: numeric inputs with this many features per step.
        embedding_dim: the embedding (or input projection) size.
        cell: any rnnkit cell name (``"lstm"``, ``"gru"``, ``"layernorm_lstm"``, ...).
        hidden_size: state size of each direction.
        num_layers: stacked recurrent layers.
        bidirectional: read each sequence both ways.
        dropout: before the classifier and between recurrent layers.
        embedding_dropout: dropout on the embedded inputs.
        word_dropout: in training, the share of real tokens replaced by ``unk_idx`` (token inputs
            only; Iyyer et al. 2015, Dai & Le 2015: the classifier cannot lean on a few rare words).
        unk_idx: the unknown-token id ``word_dropout`` writes.
        pooling: ``"last"``, ``"mean"``, ``"max"``, ``"max_mean"`` or ``"attention"`` (see
            :class:`SequencePooling`).
        multi_label: independent sigmoid per class (binary cross-entropy) instead of softmax.
        class_weights: ``C`` loss weights (multi-class) or positive-class weights (multi-label).
        padding_idx: the padding id of token inputs.
        backend: the recurrent backend (``"auto"``: see :attr:`rnnkit.Recurrent.backend`).

    Shape:
        ``inputs``: ``(B, T)`` ids or ``(B, T, input_size)`` features, right-padded;
        ``lengths``: ``(B,)`` in ``[1, T]``; logits ``(B, C)``.

    Example:
        >>> net = SequenceClassifierNet(2, vocab_size=100, embedding_dim=8, hidden_size=8)
        >>> net(torch.randint(1, 100, (3, 5)), torch.tensor([5, 2, 1])).shape
        torch.Size([3, 2])
    """

    def __init__(
        self,
        num_classes: int,
        *,
        vocab_size: int | None = None,
        input_size: int | None = None,
        embedding_dim: int = 128,
        cell: str = "lstm",
        hidden_size: int = 128,
        num_layers: int = 1,
        bidirectional: bool = True,
        dropout: float = 0.5,
        embedding_dropout: float = 0.0,
        word_dropout: float = 0.0,
        unk_idx: int = 1,
        pooling: str = "max",
        multi_label: bool = False,
        class_weights: list[float] | None = None,
        padding_idx: int = 0,
        backend: str = "auto",
    ) -> None:
        super().__init__()
        if (vocab_size is None) == (input_size is None):
            raise ValueError(f"vocab_size and input_size: give exactly one, got {vocab_size!r} and {input_size!r}")
        if num_classes < 2 and not multi_label:
            raise ValueError(f"num_classes: expected at least 2, got {num_classes}")
        if class_weights is not None and len(class_weights) != num_classes:
            raise ValueError(f"class_weights: expected {num_classes} (one per class), got {len(class_weights)}")
        if not 0.0 <= word_dropout < 1.0:
            raise ValueError(f"word_dropout: expected a probability in [0, 1), got {word_dropout!r}")
        if word_dropout and vocab_size is None:
            raise ValueError("word_dropout: only for token inputs (vocab_size); numeric inputs have no unknown token")
        self.options = dict(
            num_classes=num_classes, vocab_size=vocab_size, input_size=input_size, embedding_dim=embedding_dim,
            cell=cell, hidden_size=hidden_size, num_layers=num_layers, bidirectional=bidirectional,
            dropout=dropout, embedding_dropout=embedding_dropout, word_dropout=word_dropout, unk_idx=unk_idx,
            pooling=pooling, multi_label=multi_label,
            class_weights=None if class_weights is None else [float(w) for w in class_weights],
            padding_idx=padding_idx, backend=backend,
        )
        self.multi_label = multi_label
        self.word_dropout = word_dropout
        self.unk_idx = unk_idx
        self.padding_idx = padding_idx
        if vocab_size is not None:
            self.input = nn.Embedding(vocab_size, embedding_dim, padding_idx=padding_idx)
        else:
            self.input = nn.Linear(input_size, embedding_dim)
        self.input_dropout = nn.Dropout(embedding_dropout)
        self.encoder = Recurrent(cell, embedding_dim, hidden_size, num_layers=num_layers,
                                 bidirectional=bidirectional, dropout=dropout if num_layers > 1 else 0.0,
                                 backend=backend)
        directions = 2 if bidirectional else 1
        self.pool = SequencePooling(self.encoder.output_size, pooling, directions=directions)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(self.pool.output_size, num_classes)
        weights = torch.ones(num_classes) if class_weights is None else torch.tensor(class_weights, dtype=torch.float)
        self.register_buffer("class_weights", weights)

    def get_config(self) -> dict:
        return dict(self.options)

    def forward(self, inputs: Tensor, lengths: Tensor, *, return_attention: bool = False):
        """Logits ``(B, C)``; with ``return_attention``, also the pooling weights ``(B, T)`` (or None)."""
        if self.training and self.word_dropout > 0:
            drop = (torch.rand(inputs.shape, device=inputs.device) < self.word_dropout) & (inputs != self.padding_idx)
            inputs = inputs.masked_fill(drop, self.unk_idx)
        x = self.input_dropout(self.input(inputs))
        outputs, _ = self.encoder(x, lengths=lengths.cpu())
        pooled, weights = self.pool(outputs, lengths)
        logits = self.head(self.dropout(pooled))
        return (logits, weights) if return_attention else logits

    def loss(self, logits: Tensor, targets: Tensor) -> Tensor:
        """Cross-entropy (class-weighted) or, multi-label, binary cross-entropy with positive weights."""
        if self.multi_label:
            return F.binary_cross_entropy_with_logits(logits, targets.float(), pos_weight=self.class_weights)
        return F.cross_entropy(logits, targets.long(), weight=self.class_weights)

    def _scores(self, batch: dict) -> dict[str, Tensor]:
        logits = self(batch["inputs"], batch["lengths"])
        targets = batch["targets"]
        if self.multi_label:
            accuracy = ((logits > 0) == targets.bool()).all(1).float().mean()  # exact match
        else:
            accuracy = (logits.argmax(1) == targets).float().mean()
        return {"loss": self.loss(logits, targets), "accuracy": accuracy}

    def training_step(self, batch: dict) -> dict[str, Tensor]:
        return self._scores(batch)

    def validation_step(self, batch: dict) -> dict[str, Tensor]:
        with torch.no_grad():
            return {k: v.detach() for k, v in self._scores(batch).items()}

    def predict_step(self, batch: dict) -> Tensor:
        return self(batch["inputs"], batch["lengths"])


class ClassifierEnsemble(nn.Module):
    """Several :class:`SequenceClassifierNet` members whose class probabilities are averaged.

    The forward pass returns logits whose softmax (multi-class) or sigmoid (multi-label) is the
    members' mean probability: ``log(mean softmax)``, or ``logit(mean sigmoid)``; attention weights
    (when the members pool by attention) are averaged too.

    Args:
        members: the trained networks, all with the same classes and input kind.

    Example:
        >>> nets = [SequenceClassifierNet(2, vocab_size=50, embedding_dim=4, hidden_size=4) for _ in range(3)]
        >>> ClassifierEnsemble(nets)(torch.randint(1, 50, (2, 5)), torch.tensor([5, 3])).shape
        torch.Size([2, 2])
    """

    def __init__(self, members: list[SequenceClassifierNet]) -> None:
        super().__init__()
        if not members:
            raise ValueError("members: expected at least one network, got none")
        self.members = nn.ModuleList(members)
        self.multi_label = members[0].multi_label
        self.pool = members[0].pool

    def get_config(self) -> dict:
        """The first member's options (all members share them) and ``members``: their number."""
        return {**self.members[0].get_config(), "members": len(self.members)}

    def forward(self, inputs: Tensor, lengths: Tensor, *, return_attention: bool = False):
        """Logits of the mean probability ``(B, C)``; with ``return_attention``, also the mean weights."""
        logits, weights = zip(*(m(inputs, lengths, return_attention=True) for m in self.members), strict=True)
        stacked = torch.stack(logits)
        if self.multi_label:
            mean = torch.sigmoid(stacked).mean(0).clamp(1e-7, 1 - 1e-7)
            out = torch.log(mean) - torch.log1p(-mean)
        else:
            out = torch.logsumexp(torch.log_softmax(stacked, -1), 0) - math.log(len(self.members))
        mean_weights = None if weights[0] is None else torch.stack(weights).mean(0)
        return (out, mean_weights) if return_attention else out


__all__ = ["POOLINGS", "ClassifierEnsemble", "SequenceClassifierNet", "SequencePooling"]
