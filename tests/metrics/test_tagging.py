"""seqeval strict mode with the scheme stated equals conlleval's reading (seqeval's default mode)."""

from __future__ import annotations

import random

import pytest

from rnnkit.metrics.tagging import per_type_markdown, tagging_scores

seqeval_metrics = pytest.importorskip("seqeval.metrics")


def random_tags(rng: random.Random, n: int, prefixes: str = "BIO") -> list[str]:
    out = []
    for _ in range(n):
        p = rng.choice(prefixes)
        out.append("O" if p == "O" else f"{p}-{rng.choice(['PER', 'LOC'])}")
    return out


def test_equals_conlleval_reading_on_invalid_sequences():
    rng = random.Random(0)
    gold = [random_tags(rng, rng.randint(1, 10)) for _ in range(300)]
    pred = [random_tags(rng, len(g)) for g in gold]
    scores = tagging_scores(gold, pred, "IOB2")
    assert scores["invalid_gold"] > 50  # random tags break IOB2 often: the case seqeval#57 is about
    # seqeval's default mode is its conlleval imitation for IOB tags.
    assert scores["f1"] == pytest.approx(seqeval_metrics.f1_score(gold, pred))
    assert scores["precision"] == pytest.approx(seqeval_metrics.precision_score(gold, pred))
    assert scores["recall"] == pytest.approx(seqeval_metrics.recall_score(gold, pred))
    # ... while strict mode on the raw tags drops the invalid chunks and disagrees.
    from seqeval.scheme import IOB2

    strict_raw = seqeval_metrics.f1_score(gold, pred, mode="strict", scheme=IOB2)
    assert abs(strict_raw - scores["f1"]) > 0.01


def test_hand_computed_scores_and_bmes():
    gold = [["B-PER", "I-PER", "O", "B-LOC"], ["B-LOC", "O"]]
    pred = [["B-PER", "I-PER", "O", "O"], ["B-LOC", "B-PER"]]
    scores = tagging_scores(gold, pred, "BIO")
    # gold chunks: PER(0,2) LOC(3) LOC(0); predicted: PER(0,2) LOC(0) PER(1): 2 right of 3 and 3.
    assert scores["precision"] == pytest.approx(2 / 3) and scores["recall"] == pytest.approx(2 / 3)
    assert scores["per_type"]["LOC"]["recall"] == pytest.approx(0.5)
    assert scores["per_type"]["PER"]["precision"] == pytest.approx(0.5)
    assert scores["accuracy"] == pytest.approx(4 / 6)
    bmes_gold = [["B-ORG", "M-ORG", "E-ORG", "S-PER", "O"]]
    bmes_pred = [["B-ORG", "M-ORG", "E-ORG", "O", "O"]]
    scores = tagging_scores(bmes_gold, bmes_pred, "BMES")
    assert scores["precision"] == 1.0 and scores["recall"] == 0.5
    assert "IOBES" in scores["method"]
    assert "| ORG | 100.00 | 100.00 | 100.00 | 1 |" in per_type_markdown(scores["per_type"])


def test_pos_scores_and_mismatch():
    scores = tagging_scores([["NOUN", "VERB", "NOUN"]], [["NOUN", "NOUN", "NOUN"]], "none")
    assert scores["accuracy"] == pytest.approx(2 / 3)
    assert scores["per_type"]["NOUN"]["precision"] == pytest.approx(2 / 3)
    assert scores["per_type"]["VERB"]["recall"] == 0.0
    with pytest.raises(ValueError, match="sentence 0 has 2 tags, gold has 3"):
        tagging_scores([["A", "B", "C"]], [["A", "B"]], "none")
