"""A CTC speech recogniser: convolutional front end -> recurrent stack -> linear -> CTC over characters.

``CTCRecognizerNet`` is the network of :class:`rnnkit.SpeechRecognizer` (Graves et al. 2006,
"Connectionist Temporal Classification"; the CRNN layout of Amodei et al. 2016, "Deep Speech 2",
section 3). The loss is ``torch.nn.functional.ctc_loss`` with ``zero_infinity=True``: an utterance
whose transcript cannot be aligned to its output frames (more labels, counting the blanks that
repeated characters need, than frames) gives a zero loss instead of an infinite one that would
poison the batch (pytorch#14401); such utterances are counted in the ``infeasible`` metric, and
the data side refuses them before training (:func:`ctc_frames_needed`).

A unidirectional network streams: :meth:`CTCRecognizerNet.streamer` returns a
:class:`CTCStreamer` that takes feature frames in chunks, runs the front end only where its whole
receptive field has arrived and carries the recurrent state across chunks, so the streamed
log-probabilities equal those of one offline forward pass.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnkit.layers import CRNN, Conv2dFrontEnd, Recurrent


def ctc_frames_needed(labels: Sequence[int]) -> int:
    """Fewest output frames CTC needs for ``labels``: one per label plus a blank between repeats.

    Example:
        >>> ctc_frames_needed([5, 5, 3])  # "ee" needs a blank between the two e's
        4
    """
    return len(labels) + sum(1 for a, b in itertools.pairwise(labels) if a == b)


class CTCRecognizerNet(nn.Module):
    """Log-mel frames ``(B, T, n_mels)`` -> per-frame label log-probabilities ``(B, T', V)``.

    Args:
        n_mels: feature bands per frame.
        vocab_size: labels including the blank (label 0).
        channels: output channels of the front end's convolution blocks (each pools time and
            frequency by ``pool``, so time shrinks by ``pool ** len(channels)``).
        cell: any rnnkit cell name (``"gru"``, ``"lstm"``, ``"layernorm_lstm"``, ...).
        hidden_size, num_layers, dropout: the recurrent stack.
        bidirectional: both directions (offline only) or forward only (streams).
        pool: time (and frequency) pooling per block.

    Example:
        >>> net = CTCRecognizerNet(40, 29, channels=(8, 8), hidden_size=16)
        >>> log_probs, lengths = net(torch.randn(2, 100, 40), torch.tensor([100, 61]))
        >>> log_probs.shape, lengths.tolist()
        (torch.Size([2, 25, 29]), [25, 16])
    """

    def __init__(self, n_mels: int, vocab_size: int, *, channels: Sequence[int] = (32, 32), cell: str = "gru",
                 hidden_size: int = 128, num_layers: int = 2, bidirectional: bool = False, dropout: float = 0.1,
                 pool: int = 2) -> None:
        super().__init__()
        if vocab_size < 2:
            raise ValueError(f"vocab_size: expected at least 2 (the blank and one label), got {vocab_size}")
        front = Conv2dFrontEnd(n_mels, tuple(channels), pool=(pool, pool))
        recurrent = Recurrent(cell, front.output_size, hidden_size, num_layers=num_layers,
                              bidirectional=bidirectional, dropout=dropout if num_layers > 1 else 0.0)
        self.crnn = CRNN(front, recurrent)
        self.head = nn.Linear(hidden_size * (2 if bidirectional else 1), vocab_size)
        self.n_mels, self.vocab_size, self.bidirectional = n_mels, vocab_size, bidirectional

    def output_lengths(self, lengths: Tensor | list[int]) -> Tensor:
        """Output frames for input frame counts (the front end's pooling: ``ceil(L / pool)`` per block)."""
        return self.crnn.output_lengths(lengths)

    def forward(self, features: Tensor, lengths: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """``(log_probs (B, T', V), output lengths (B,))``; frames past an utterance's end are padding."""
        if lengths is None:
            lengths = torch.full((features.shape[0],), features.shape[1], dtype=torch.long)
        out, _ = self.crnn(features, lengths=lengths)
        return F.log_softmax(self.head(out), dim=-1), self.output_lengths(lengths).to(out.device)

    def ctc_loss(self, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        """CTC loss of a batch (``features``, ``lengths``, ``targets`` ``(B, S)`` padded, ``target_lengths``).

        Returns:
            ``{"loss": mean over utterances of the loss divided by its target length,
            "infeasible": share of utterances too long for their frames}``.
        """
        log_probs, out_lengths = self(batch["features"], batch["lengths"])
        target_lengths = batch["target_lengths"]
        loss = F.ctc_loss(log_probs.transpose(0, 1), batch["targets"], out_lengths, target_lengths,
                          blank=0, reduction="mean", zero_infinity=True)
        infeasible = (target_lengths > out_lengths.to(target_lengths.device)).float().mean()
        return {"loss": loss, "infeasible": infeasible}

    def training_step(self, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        """The Trainer's training step: the CTC loss (see :meth:`ctc_loss`)."""
        return self.ctc_loss(batch)

    def validation_step(self, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        """The Trainer's validation step: CTC loss and the greedy decoding's label error rate."""
        from rnnkit.models.ctc_decoding import edit_distance, greedy_decode

        metrics = self.ctc_loss(batch)
        log_probs, out_lengths = self(batch["features"], batch["lengths"])
        hypotheses = greedy_decode(log_probs, out_lengths)
        errors, total = 0, 0
        for hyp, ref, n in zip(hypotheses, batch["targets"], batch["target_lengths"].tolist(), strict=True):
            errors += edit_distance(hyp, ref[:n].tolist())
            total += max(n, 1)
        metrics["label_error_rate"] = torch.tensor(errors / total)
        return metrics

    def streamer(self) -> CTCStreamer:
        """A :class:`CTCStreamer` over this (unidirectional) network."""
        return CTCStreamer(self)


def _receptive_field(front: Conv2dFrontEnd) -> tuple[int, int, int]:
    """``(P, left, right)``: output frame ``j`` reads input frames ``[P j - left, P j + right]``."""
    low, high = 0, 0
    for block in reversed(list(front.convs)):
        radius = block[0].kernel_size[0] // 2
        pool = front.time_pool
        low, high = pool * low - radius, pool * high + pool - 1 + radius
    return front.time_pool ** len(front.convs), -low, high


class CTCStreamer:
    """Chunked inference of a unidirectional :class:`CTCRecognizerNet`, equal to the offline pass.

    The front end's output frame ``j`` depends on input frames ``[P j - left, P j + right]``
    (``P`` the total time pooling). :meth:`push` keeps the input frames still needed, emits every
    output frame whose receptive field has fully arrived (recomputing the front end over that
    window, whose start is a multiple of ``P`` so the pooling groups line up) and runs the
    recurrent stack on them from the carried state; :meth:`finish` emits the rest, treating the
    end of the stream as the end of the utterance (zero padding, as offline).

    Example:
        >>> net = CTCRecognizerNet(40, 29, channels=(8,), hidden_size=16).eval()
        >>> stream, x = net.streamer(), torch.randn(1, 50, 40)
        >>> parts = [stream.push(x[0, i:i + 16]) for i in range(0, 50, 16)] + [stream.finish()]
        >>> torch.allclose(torch.cat(parts), net(x)[0][0], atol=1e-5)
        True
    """

    def __init__(self, net: CTCRecognizerNet) -> None:
        if net.bidirectional:
            raise ValueError("net: a bidirectional recogniser reads the whole utterance and cannot stream; "
                             "train with bidirectional=False for streaming")
        self.net = net
        self.pool, self.left, self.right = _receptive_field(net.crnn.front_end)
        self.buffer = torch.zeros(0, net.n_mels)
        self.buffer_start = 0  # input frame index of buffer[0], a multiple of pool
        self.received = 0
        self.emitted = 0
        self.state = None

    @torch.no_grad()
    def push(self, frames: Tensor) -> Tensor:
        """Log-probabilities ``(new output frames, V)`` after appending ``frames`` ``(n, n_mels)``."""
        if frames.dim() != 2 or frames.shape[1] != self.net.n_mels:
            raise ValueError(f"frames: expected (frames, n_mels={self.net.n_mels}), got {tuple(frames.shape)}")
        self.buffer = torch.cat([self.buffer, frames.to(self.buffer.dtype)])
        self.received += frames.shape[0]
        last = (self.received - 1 - self.right) // self.pool  # the last output frame fully covered
        return self._emit(last)

    @torch.no_grad()
    def finish(self) -> Tensor:
        """The remaining output frames, the stream's end taken as the utterance's end."""
        if self.received == 0:
            return torch.zeros(0, self.net.vocab_size)
        last = int(self.net.output_lengths(torch.tensor([self.received]))[0]) - 1
        return self._emit(last)

    def _emit(self, last: int) -> Tensor:
        if last < self.emitted:
            return torch.zeros(0, self.net.vocab_size)
        window = self.buffer.unsqueeze(0)
        features, _ = self.net.crnn.front_end(window, torch.tensor([window.shape[1]]))
        offset = self.buffer_start // self.pool
        chunk = features[:, self.emitted - offset:last + 1 - offset]
        log_probs = self.recurrent_step(chunk)
        self.emitted = last + 1
        start = max(0, self.pool * self.emitted - self.left) // self.pool * self.pool
        self.buffer = self.buffer[start - self.buffer_start:]
        self.buffer_start = start
        return log_probs

    def recurrent_step(self, chunk: Tensor) -> Tensor:
        """The recurrent stack and head over front-end frames ``(1, n, F)`` from the carried state:
        log-probabilities ``(n, V)``. (An exported stream step replaces this: ``rnnkit.export.speech``.)"""
        out, self.state = self.net.crnn.recurrent(chunk, self.state)
        return F.log_softmax(self.net.head(out[0]), dim=-1)


__all__ = ["CTCRecognizerNet", "CTCStreamer", "ctc_frames_needed"]
