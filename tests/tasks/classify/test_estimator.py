"""TextClassifier / SequenceClassifier: learning, save/load/predict, and each bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch

pytest.importorskip("tokenizers")
pytest.importorskip("sklearn")

import rnnkit
from rnnkit.tasks.classify.estimator import SequenceClassifier, TextClassifier

from .helpers import TINY, sentences


@pytest.fixture(scope="module")
def fitted():
    texts, labels = sentences(80)
    return TextClassifier(**TINY).fit(texts, labels)


def test_text_classifier_learns_and_round_trips_through_save_load(fitted, tmp_path):
    texts, labels = sentences(40, seed=1)
    scores = fitted.evaluate(texts, labels)
    assert scores["accuracy"] >= 0.95, scores
    assert set(scores) >= {"macro_f1", "precision/pos", "recall/neg", "f1/pos"}
    assert fitted.predict(["a great film", "an awful film"]) == ["pos", "neg"]
    fitted.save(tmp_path / "m")
    assert (tmp_path / "m" / "tokenizer.json").is_file()
    again = rnnkit.load(tmp_path / "m")
    assert isinstance(again, rnnkit.TextClassifier)
    np.testing.assert_allclose(again.predict_proba(texts), fitted.predict_proba(texts), rtol=1e-6, atol=1e-7)
    assert again.classes_ == ["neg", "pos"]


def test_bad_inputs_get_clear_errors_or_documented_behaviour(fitted):
    texts, labels = sentences(20)
    with pytest.raises(ValueError, match=r"y: expected at least two classes to tell apart, got 1: \['pos'\]"):
        TextClassifier(**TINY).fit(texts, ["pos"] * 20)
    with pytest.raises(ValueError, match=r"label\(s\) \['meh'\] were never seen in training"):
        fitted.evaluate(texts[:2], ["pos", "meh"])
    with pytest.raises(ValueError, match=r"1 empty text\(s\) in the training data \(first at index 3\)"):
        TextClassifier(**TINY).fit([*texts[:3], "  ", *texts[4:]], labels)
    with pytest.raises(ValueError, match="X and y: expected the same length"):
        TextClassifier(**TINY).fit(texts, labels[:-1])
    with pytest.raises(TypeError, match="X: expected texts"):
        fitted.predict([float("nan")])
    # an empty text at predict time is one [UNK] token: an answer, the same as for an unknown word
    np.testing.assert_allclose(fitted.predict_proba([""]), fitted.predict_proba(["zzzz"]), rtol=1e-6)
    limit = fitted.max_length_
    long_text = " ".join(["great"] + ["film"] * (3 * limit))
    with pytest.warns(UserWarning, match=f"longer than max_length={limit} steps"):
        cut = fitted.predict_proba([long_text])
    with pytest.warns(UserWarning):
        np.testing.assert_allclose(cut, fitted.predict_proba([" ".join(long_text.split()[:limit + 5])]), rtol=1e-6)


def test_attention_explain_gives_weights_per_token():
    texts, labels = sentences(80)
    model = TextClassifier(pooling="attention", **TINY).fit(texts, labels)
    tokens, weights, label, p = model.explain("The film was GREAT")
    assert tokens == ["The", "film", "was", "GREAT"]
    assert abs(sum(weights) - 1) < 1e-5 and label == "pos" and 0.5 < p <= 1
    assert int(np.argmax(weights)) == 3  # the deciding word carries the most weight
    with pytest.raises(ValueError, match="explain: needs a model trained with pooling='attention'"):
        TextClassifier(**{**TINY, "max_epochs": 1}).fit(texts, labels).explain("fine")


def test_class_weights_and_multi_label():
    texts, labels = sentences(40)
    skewed = labels[:30] + ["pos"] * 10
    model = TextClassifier(class_weights="balanced", **{**TINY, "max_epochs": 1}).fit(texts, skewed)
    # scikit-learn's "balanced": n / (classes * count), on the training data (15 neg, 25 pos)
    assert model.network_.class_weights.tolist() == pytest.approx([40 / (2 * 15), 40 / (2 * 25)])
    multi = [("pos|film" if "film" in t.split() else "pos") if lab == "pos" else
             ("neg|film" if "film" in t.split() else "neg") for t, lab in zip(texts, labels, strict=True)]
    model = TextClassifier(multi_label=True, **{**TINY, "max_epochs": 25}).fit(texts, multi)
    assert model.classes_ == ["film", "neg", "pos"]
    assert sorted(model.predict(["the film was great"])[0]) == ["film", "pos"]
    assert model.predict(["it was awful"])[0] == ["neg"]


def test_sequence_classifier_on_numbers_and_nan():
    rng = np.random.default_rng(0)
    x = [rng.normal(size=(int(rng.integers(3, 9)), 2)) + (1.5 if i % 2 else -1.5) for i in range(60)]
    y = ["up" if i % 2 else "down" for i in range(60)]
    model = SequenceClassifier(**TINY).fit(x, y)
    assert model.evaluate(x[:20], y[:20])["accuracy"] == 1.0
    assert model.predict([np.full((4, 2), 3.0), np.full((2, 2), -3.0)]) == ["up", "down"]
    bad = [a.copy() for a in x[:3]]
    bad[2][1, 1] = np.nan
    with pytest.raises(ValueError, match=r"X: sequence 2 has NaN or infinite values \(first at step 1, feature 1\)"):
        model.predict(bad)
    with pytest.raises(ValueError, match=r"X: sequence 2 has NaN or infinite values \(first at step 1, feature 1\)"):
        SequenceClassifier(**TINY).fit(bad, y[:3])
    with pytest.raises(ValueError, match="X: expected 2 features"):
        model.predict([np.ones((3, 5))])
    torch.testing.assert_close(torch.tensor(model.mean_), torch.tensor(np.concatenate(x).mean(0)), rtol=0.2, atol=0.2)


def test_serving_answer_gives_labels_and_probabilities(fitted):
    pytest.importorskip("pydantic")
    from rnnkit.tasks.classify.app import APP

    request = APP.serve_request_model()(texts=["a lovely film", "dull"])
    out = APP.serve(fitted, request)
    assert out["labels"] == ["pos", "neg"]
    assert set(out["probabilities"][0]) == {"neg", "pos"}
    assert out["probabilities"][0]["pos"] == pytest.approx(float(fitted.predict_proba(["a lovely film"])[0, 1]))


def test_ensemble_averages_seeded_members_and_round_trips(tmp_path):
    texts, labels = sentences(60)
    model = TextClassifier(**{**TINY, "max_epochs": 4}, ensemble=2, word_dropout=0.1).fit(texts, labels)
    members = model.network_.members
    assert len(members) == 2 and len(model.member_histories_) == 2
    assert not torch.equal(members[0].head.weight, members[1].head.weight)  # seeds 0 and 1
    single = TextClassifier(**{**TINY, "max_epochs": 4}, word_dropout=0.1).fit(texts, labels)
    torch.testing.assert_close(members[0].head.weight, single.network_.head.weight)  # member 0 = the seed-0 model
    test = sentences(10, seed=2)[0]
    probs = []
    for member in members:
        model_single = TextClassifier(**TINY)
        model_single.__dict__.update({k: v for k, v in single.__dict__.items() if k != "network_"},
                                     network_=member)
        probs.append(model_single.predict_proba(test))
    np.testing.assert_allclose(model.predict_proba(test), np.mean(probs, 0), rtol=1e-5, atol=1e-6)
    model.save(tmp_path / "ens")
    again = rnnkit.load(tmp_path / "ens")
    np.testing.assert_allclose(again.predict_proba(test), model.predict_proba(test), rtol=1e-6, atol=1e-7)
    with pytest.raises(ValueError, match="ensemble: expected a number of networks >= 1, got 0"):
        TextClassifier(ensemble=0)
    with pytest.raises(ValueError, match=r"word_dropout: expected a probability in \[0, 1\), got -0.1"):
        TextClassifier(word_dropout=-0.1)
