"""Tagger: fit / predict / evaluate / save / load on a tiny corpus, and the documented bad inputs."""

from __future__ import annotations

import pytest

import rnnkit
from rnnkit.data.conll import tags_to_spans
from rnnkit.tasks.tag import Tagger

from .helpers import TINY, toy_corpus

pytest.importorskip("seqeval")


@pytest.fixture(scope="module")
def fitted():
    train, train_tags = toy_corpus(60, seed=0)
    dev, dev_tags = toy_corpus(20, seed=1)
    return Tagger(scheme="IOB2", **TINY).fit(train, train_tags, dev=dev, dev_tags=dev_tags)


def test_learns_the_toy_corpus_and_never_predicts_invalid_tags(fitted):
    test, test_tags = toy_corpus(30, seed=2)
    scores = fitted.evaluate(test, test_tags)
    assert scores["f1"] > 0.9 and scores["accuracy"] > 0.95
    assert scores["invalid_predicted"] == 0 and scores["invalid_gold"] == 0
    assert set(scores["per_type"]) == {"PER", "LOC"}
    assert fitted.predict(["Maria", "Lopez", "visited", "Berlin", "."]) == ["B-PER", "I-PER", "O", "B-LOC", "O"]


def test_raw_text_spans_and_empty_sentences(fitted):
    assert fitted.predict("Anna visited Paris.") == ["B-PER", "O", "B-LOC", "O"]
    spans = fitted.predict_spans("Peter Blackburn lives in New York.")
    assert {"type": "PER", "start": 0, "end": 2, "text": "Peter Blackburn"} in spans
    assert {"type": "LOC", "start": 4, "end": 6, "text": "New York"} in spans
    assert fitted.predict("") == []
    assert fitted.predict([["Anna"], [], ["Paris", "."]])[1] == []


def test_save_and_load_round_trip(fitted, tmp_path):
    fitted.save(tmp_path / "model")
    loaded = rnnkit.load(tmp_path / "model")
    assert isinstance(loaded, Tagger) and loaded.scheme_ == "IOB2"
    test, _ = toy_corpus(10, seed=3)
    assert loaded.predict(test) == fitted.predict(test)
    assert loaded.get_config() == fitted.get_config()


def test_long_sentence_of_2000_tokens(fitted):
    words = (["Anna", "visited", "Paris", "."] * 500)
    tags = fitted.predict(words)
    assert len(tags) == 2000
    assert tags_to_spans(tags, "IOB2")[1] == 0


def test_tags_unseen_in_training_are_counted(fitted):
    test, test_tags = toy_corpus(5, seed=4)
    test_tags = [["B-ORG" if t == "B-LOC" else "I-ORG" if t == "I-LOC" else t for t in row] for row in test_tags]
    scores = fitted.evaluate(test, test_tags)
    unseen = sum(t.endswith("ORG") for row in test_tags for t in row)
    assert scores["unseen_tag_tokens"] == unseen > 0
    assert scores["per_type"]["ORG"]["recall"] == 0.0


def test_invalid_gold_is_counted_and_scored_as_conlleval(fitted):
    test, test_tags = toy_corpus(10, seed=5)
    broken = [["I-" + t[2:] if t.startswith("B-") else t for t in row] for row in test_tags]  # IOB1-like gold
    a, b = fitted.evaluate(test, test_tags), fitted.evaluate(test, broken)
    assert b["invalid_gold"] > 0 and a["invalid_gold"] == 0
    assert b["f1"] == pytest.approx(a["f1"])  # conlleval reads I- after O as a chunk start: the same chunks


def test_bad_inputs():
    train, tags = toy_corpus(4, seed=0)
    with pytest.raises(ValueError, match="scheme: expected one of"):
        Tagger(scheme="BILOUX")
    with pytest.raises(ValueError, match="sentence 1 is empty"):
        Tagger(**TINY).fit([train[0], [], train[1]], [tags[0], [], tags[1]])
    with pytest.raises(ValueError, match="sentence 0 has 4 tokens but 2 tags"):
        Tagger(**TINY).fit([["a", "b", "c", "d"]], [["O", "O"]])
    with pytest.raises(RuntimeError, match="call fit"):
        Tagger().predict("text")
    with pytest.raises(ValueError, match="head: expected one of"):
        Tagger(head="mlp")


def test_softmax_head_and_cnn_characters():
    train, tags = toy_corpus(60, seed=0)
    tagger = Tagger(scheme="IOB2", head="softmax", char_encoder="cnn", **TINY).fit(train, tags)
    test, test_tags = toy_corpus(20, seed=6)
    assert tagger.evaluate(test, test_tags)["accuracy"] > 0.9
    assert tagger.network.crf is None


def test_bigram_embeddings_fit_save_and_load(tmp_path):
    train, tags = toy_corpus(60, seed=0)
    tagger = Tagger(scheme="IOB2", bigram_dim=6, bigram_min_count=2, **TINY).fit(train, tags)
    assert "Peter Blackburn" in tagger.bigrams_.index and "Paris </s>" not in tagger.bigrams_.index  # never last
    assert tagger.network.bigrams.num_embeddings == len(tagger.bigrams_)
    test, test_tags = toy_corpus(20, seed=6)
    assert tagger.evaluate(test, test_tags)["f1"] > 0.9
    tagger.save(tmp_path / "model")
    loaded = rnnkit.load(tmp_path / "model")
    assert loaded.bigrams_.items == tagger.bigrams_.items and loaded.predict(test) == tagger.predict(test)


def test_bad_bigram_and_word_dropout_settings():
    with pytest.raises(ValueError, match="bigram_dim: expected an integer >= 0, got -1"):
        Tagger(bigram_dim=-1)
    with pytest.raises(ValueError, match="bigram_min_count: expected an integer >= 1, got 0"):
        Tagger(bigram_min_count=0)
    with pytest.raises(ValueError, match=r"word_dropout: expected a probability in \[0, 1\), got 1.0"):
        Tagger(word_dropout=1.0)


def test_patience_stops_when_dev_accuracy_stops_improving():
    train, tags = toy_corpus(16, seed=0)
    dev, dev_tags = toy_corpus(8, seed=1)
    frozen = dict(TINY, lr=0.0, max_epochs=4)  # the weights never change: dev accuracy is the same every epoch
    stopped = Tagger(scheme="IOB2", patience=1, **frozen).fit(train, tags, dev=dev, dev_tags=dev_tags)
    assert len(stopped.training_log_) == 2  # the first epoch sets the best, the second does not improve on it
    assert len(Tagger(scheme="IOB2", **frozen).fit(train, tags, dev=dev, dev_tags=dev_tags).training_log_) == 4
    with pytest.raises(ValueError, match="patience: expected None or an integer >= 0, got -1"):
        Tagger(patience=-1)
