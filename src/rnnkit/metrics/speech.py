"""Speech recognition metrics: word and character error rates through ``jiwer`` (the ``speech`` extra).

Both are corpus-level rates: the edit operations summed over all utterances divided by the
reference words (characters) summed over all utterances, as jiwer computes them for lists. Texts
are compared after :func:`rnnkit.data.characters.normalize_transcript` (lower case, punctuation
removed, spaces collapsed), so "Seven of Hearts." and "seven of hearts" match.
"""

from __future__ import annotations

from collections.abc import Sequence

from rnnkit.data.characters import normalize_transcript
from rnnkit.optional import require


def _pairs(references: Sequence[str], hypotheses: Sequence[str]) -> tuple[list[str], list[str]]:
    if isinstance(references, str) or isinstance(hypotheses, str):
        raise TypeError("references, hypotheses: expected lists of strings, got a single string")
    if len(references) != len(hypotheses):
        raise ValueError(f"hypotheses: expected {len(references)} (one per reference), got {len(hypotheses)}")
    if not references:
        raise ValueError("references: expected at least one transcript, got none")
    refs = [normalize_transcript(r) for r in references]
    if not any(refs):
        raise ValueError("references: every reference is empty; error rates are undefined")
    return refs, [normalize_transcript(h) for h in hypotheses]


def word_error_rate(references: Sequence[str], hypotheses: Sequence[str]) -> float:
    """WER: (substituted + deleted + inserted words) / reference words, over the whole list.

    Example:
        >>> word_error_rate(["four of clubs"], ["for of clubs"])  # doctest: +ELLIPSIS
        0.333...
    """
    jiwer = require("jiwer", "speech")
    refs, hyps = _pairs(references, hypotheses)
    return float(jiwer.wer(refs, hyps))


def character_error_rate(references: Sequence[str], hypotheses: Sequence[str]) -> float:
    """CER: character edits / reference characters (spaces count), over the whole list.

    Example:
        >>> character_error_rate(["four"], ["for"])
        0.25
    """
    jiwer = require("jiwer", "speech")
    refs, hyps = _pairs(references, hypotheses)
    return float(jiwer.cer(refs, hyps))


def error_rates(references: Sequence[str], hypotheses: Sequence[str]) -> dict[str, float]:
    """``{"wer": ..., "cer": ...}`` in percent."""
    return {"wer": 100 * word_error_rate(references, hypotheses), "cer": 100 * character_error_rate(references,
                                                                                                   hypotheses)}


__all__ = ["character_error_rate", "error_rates", "word_error_rate"]
