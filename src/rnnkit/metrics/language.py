"""Language-model scores from summed log-likelihoods: perplexity, bits per token, bits per character.

Every model of ``rnnkit lm`` (the recurrent network and the n-gram baseline) is scored by the same
functions: it reports the summed negative log-likelihood in nats of the same target tokens, and
:func:`language_scores` turns that into the figures papers quote. Perplexity is
``exp(NLL / tokens)`` (Zaremba et al. 2014, Merity et al. 2018 report it per word on PTB); bits per
character is ``NLL / (characters * ln 2)``, which for a character-level model is the same as bits
per token.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor


def language_scores(nll: float, tokens: int, characters: int | None = None) -> dict[str, float]:
    """Scores from a summed negative log-likelihood.

    Args:
        nll: summed negative log-likelihood of the targets, in nats.
        tokens: number of targets.
        characters: characters those targets spell (for bits per character; ``None``: left out).

    Returns:
        ``{"nll": nats per token, "perplexity", "bits_per_token"}`` plus ``"bpc"`` with ``characters``.

    Example:
        >>> language_scores(4 * math.log(2), 4, characters=8)
        {'nll': 0.6931471805599453, 'perplexity': 2.0, 'bits_per_token': 1.0, 'bpc': 0.5}
    """
    if isinstance(tokens, bool) or not isinstance(tokens, int) or tokens < 1:
        raise ValueError(f"tokens: expected a positive number of scored tokens, got {tokens!r}")
    if not math.isfinite(nll) or nll < 0:
        raise ValueError(f"nll: expected a finite non-negative sum of negative log-likelihoods, got {nll!r}")
    mean = nll / tokens
    scores = {"nll": mean, "perplexity": math.exp(mean) if mean < 700 else math.inf,
              "bits_per_token": mean / math.log(2)}
    if characters is not None:
        if characters < 1:
            raise ValueError(f"characters: expected a positive number, got {characters!r}")
        scores["bpc"] = nll / (characters * math.log(2))
    return scores


@torch.no_grad()
def stream_nll(model: Any, ids: Tensor, *, batch_size: int = 1, bptt: int = 100) -> tuple[float, int]:
    """Summed NLL (nats) of a recurrent language model over a whole held-out stream.

    The stream is laid out as ``batch_size`` contiguous rows (:func:`rnnkit.data.streams.batchify`)
    and read window by window with the state carried, in evaluation mode. With ``batch_size=1``
    every token but the first is scored with all the text before it.

    Args:
        model: a :class:`rnnkit.models.language_model.RecurrentLanguageModel` (anything with
            ``stream_nll(batch)``).
        ids: 1-D token ids.
        batch_size: parallel rows.
        bptt: window length (only memory and speed depend on it).

    Returns:
        ``(nll, targets)``.
    """
    from rnnkit.data.streams import evaluation_batch

    was_training = model.training
    model.eval()
    try:
        batch = evaluation_batch(ids, batch_size, bptt)
        device = next(model.parameters()).device
        batch = {**batch, "inputs": batch["inputs"].to(device), "targets": batch["targets"].to(device)}
        return model.stream_nll(batch)
    finally:
        model.train(was_training)


def scored_positions(length: int, batch_size: int) -> Tensor:
    """Stream positions whose tokens :func:`stream_nll` scores for a stream of ``length`` tokens
    laid out in ``batch_size`` rows (every row but its first token; the tail that fills no row is
    dropped), so a baseline can score exactly the same targets."""
    row = length // batch_size
    if row < 2:
        raise ValueError(f"length: {length} tokens make rows of {row} for batch_size={batch_size}; need at least 2")
    return (torch.arange(batch_size).unsqueeze(1) * row + torch.arange(1, row).unsqueeze(0)).flatten()


__all__ = ["language_scores", "scored_positions", "stream_nll"]
