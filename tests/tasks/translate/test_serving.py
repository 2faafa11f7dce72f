"""POST /v1/translate: real HTTP requests to a tiny trained translator served on 127.0.0.1."""

from __future__ import annotations

import json

import pytest

from tests.serving_helpers import call, running_server, served
from tests.tasks.translate.conftest import fit_tiny, toy_pairs

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")


@pytest.fixture(scope="module")
def fitted():
    """A translator after 30 steps: the answers are compared with its own, not with a reference."""
    return fit_tiny(30, toy_pairs(150))


@pytest.fixture(scope="module")
def url(fitted):
    with running_server(served("translate", fitted)) as base:
        yield f"{base}/v1/translate"


def test_translations_match_the_model_with_beam_and_n_best(url, fitted):
    sentences = ["the big house", "a dog sees the cat"]
    status, body, _ = call(url, {"sentences": sentences})
    assert status == 200
    assert body["translations"] == fitted.translate(sentences)
    assert len(body["scores"]) == 2 and all(s < 0 for s in body["scores"])
    status, body, _ = call(url, {"sentences": sentences, "beam": 4, "n_best": 3})
    assert status == 200 and body["n_best"] == fitted.translate(sentences, beam=4, n_best=3)
    assert body["translations"] == [row[0] for row in body["n_best"]]
    status, greedy, _ = call(url, {"sentences": sentences, "beam": 1})
    assert status == 200 and greedy["translations"] == fitted.translate(sentences, beam=1)


def test_constraints_are_forced_into_the_translation(url, fitted):
    status, body, _ = call(url, {"sentences": ["the red dog"], "constraints": [["gato"]]})
    assert status == 200 and body["constraints_met"] == [True]
    assert "gato" in body["translations"][0]
    assert body["translations"] == fitted.translate(["the red dog"], constraints=[["gato"]])


@pytest.mark.parametrize("body, field", [
    ({}, "sentences"),
    ({"sentences": []}, "sentences"),
    ({"sentences": "the house"}, "sentences"),
    ({"sentences": ["the house"], "beam": 0}, "beam"),
    ({"sentences": ["the house"], "beam": "wide"}, "beam"),
    ({"sentences": ["the house"], "beam": 2, "n_best": 3}, "n_best"),
    ({"sentences": ["the house", "a cat"], "constraints": [["casa"]]}, "constraints"),
    ({"sentences": ["the house"], "constraints": ["casa"]}, "constraints"),
    ({"sentences": ["x" * 5_001]}, "sentences"),
])
def test_malformed_requests_get_422_naming_the_field(url, body, field):
    status, answer, _ = call(url, body)
    assert status == 422 and field in json.dumps(answer["detail"])


def test_requests_the_model_cannot_answer_get_422_with_its_message(url):
    status, answer, _ = call(url, {"sentences": ["the house"], "constraints": [["ß∂ƒ"]]})
    assert status == 422 and "constraints[0]" in answer["detail"] and "cannot be tokenised" in answer["detail"]
    status, answer, _ = call(url, {"sentences": ["the house"], "n_best": 4})  # the model's beam is 3
    assert status == 422 and "n_best" in answer["detail"]
    status, answer, _ = call(url, raw=b"[]")
    assert status == 422
