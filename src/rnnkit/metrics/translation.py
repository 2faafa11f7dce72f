"""BLEU and chrF of detokenised translations, from ``sacrebleu`` (Post 2018), with their signatures.

Scores are corpus-level on plain detokenised text with sacrebleu's defaults (BLEU: ``13a``
tokenisation, exponential smoothing; chrF: character 6-grams, beta 2). sacrebleu's test-set
downloads are never used: the references are given.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rnnkit.optional import require


@dataclass(frozen=True)
class TranslationScores:
    """Corpus BLEU and chrF (0-100) and sacrebleu's signature strings that say how they were computed."""

    bleu: float
    chrf: float
    bleu_signature: str
    chrf_signature: str

    def as_dict(self) -> dict[str, float]:
        """``{"BLEU": ..., "chrF": ...}``."""
        return {"BLEU": self.bleu, "chrF": self.chrf}


def translation_scores(hypotheses: Sequence[str], references: Sequence[str]) -> TranslationScores:
    """Corpus BLEU and chrF of ``hypotheses`` against one reference each.

    Args:
        hypotheses: system outputs, detokenised, one per segment.
        references: the reference translations, aligned with ``hypotheses``.

    Returns:
        :class:`TranslationScores`.

    Raises:
        ValueError: different numbers of hypotheses and references, or none.

    Example:
        >>> s = translation_scores(["el gato se sentó"], ["el gato se sentó"])
        >>> round(s.bleu), round(s.chrf)
        (100, 100)
    """
    if len(hypotheses) != len(references):
        raise ValueError(f"hypotheses and references: expected the same number, got {len(hypotheses)} and "
                         f"{len(references)}")
    if not hypotheses:
        raise ValueError("hypotheses: expected at least one segment, got none")
    metrics = require("sacrebleu.metrics", "translate", package="sacrebleu")
    bleu, chrf = metrics.BLEU(), metrics.CHRF()
    refs = [list(references)]
    bleu_score = bleu.corpus_score(list(hypotheses), refs)
    chrf_score = chrf.corpus_score(list(hypotheses), refs)
    return TranslationScores(float(bleu_score.score), float(chrf_score.score), str(bleu.get_signature()),
                             str(chrf.get_signature()))


__all__ = ["TranslationScores", "translation_scores"]
