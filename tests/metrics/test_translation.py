"""Translation metrics: sacrebleu's corpus BLEU and chrF on detokenised text, with signatures."""

from __future__ import annotations

import pytest

from rnnkit.metrics.translation import translation_scores

sacrebleu = pytest.importorskip("sacrebleu")


def test_scores_are_sacrebleus_corpus_scores():
    hyps = ["el gato se sentó en la alfombra", "la casa es grande", "un perro"]
    refs = ["el gato se sentó sobre la alfombra", "la casa es muy grande", "un perro rojo"]
    scores = translation_scores(hyps, refs)
    assert scores.bleu == pytest.approx(sacrebleu.corpus_bleu(hyps, [refs]).score)
    assert scores.chrf == pytest.approx(sacrebleu.corpus_chrf(hyps, [refs]).score)
    assert 0 < scores.bleu < 100 and 0 < scores.chrf < 100
    assert scores.bleu_signature.startswith("nrefs:1|case:mixed|eff:no|tok:13a")
    assert scores.chrf_signature.startswith("nrefs:1|case:mixed|eff:yes|nc:6")
    assert scores.as_dict() == {"BLEU": scores.bleu, "chrF": scores.chrf}
    perfect = translation_scores(refs, refs)
    assert perfect.bleu == pytest.approx(100.0) and perfect.chrf == pytest.approx(100.0)


def test_mismatched_or_empty_inputs_are_errors():
    with pytest.raises(ValueError, match="expected the same number, got 2 and 1"):
        translation_scores(["a", "b"], ["a"])
    with pytest.raises(ValueError, match="at least one segment"):
        translation_scores([], [])
