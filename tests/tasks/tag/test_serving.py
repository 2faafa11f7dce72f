"""POST /v1/tag: real HTTP requests to a tiny trained tagger served on 127.0.0.1."""

from __future__ import annotations

import json

import pytest

from rnnkit.data.conll import tags_to_spans
from rnnkit.tasks.tag import Tagger
from tests.serving_helpers import call, running_server, served

from .helpers import TINY, toy_corpus

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")
pytest.importorskip("seqeval")


@pytest.fixture(scope="module")
def tagger():

    train, tags = toy_corpus(40, seed=0)
    return Tagger(scheme="IOB2", **{**TINY, "max_epochs": 4}).fit(train, tags)


@pytest.fixture(scope="module")
def url(tagger):
    with running_server(served("tag", tagger), max_body_bytes=50_000) as base:
        yield f"{base}/v1/tag"


def test_tags_and_spans_of_raw_text_and_tokens_match_the_model(url, tagger):
    status, body, headers = call(url, {"texts": ["Anna visited Paris .", "In Berlin , John met Li Wei ."]})
    assert status == 200 and headers["x-request-id"] and body["scheme"] == "IOB2"
    first = body["sentences"][0]
    assert first["tokens"] == ["Anna", "visited", "Paris", "."]
    assert first["tags"] == tagger.predict("Anna visited Paris .")
    spans, _ = tags_to_spans(first["tags"], "IOB2")
    assert [(s["type"], s["start"], s["end"]) for s in first["spans"]] == spans
    assert [s["text"] for s in first["spans"]] == [" ".join(first["tokens"][a:b]) for _, a, b in spans]
    second = body["sentences"][1]
    assert second["tags"] == tagger.predict(["In", "Berlin", ",", "John", "met", "Li", "Wei", "."])
    status, by_tokens, _ = call(url, {"tokens": [second["tokens"]]})
    assert status == 200 and by_tokens["sentences"][0] == second


@pytest.mark.parametrize("body, field", [
    ({}, "texts or tokens"),
    ({"texts": ["a"], "tokens": [["a"]]}, "texts or tokens"),
    ({"texts": "Anna visited Paris"}, "texts"),
    ({"tokens": ["Anna", "visited"]}, "tokens"),
    ({"tokens": [["Anna", ""]]}, "tokens"),
    ({"texts": ["x" * 20_001]}, "texts"),
    ({"txt": ["Anna"]}, "txt"),
])
def test_malformed_requests_get_422_naming_the_field(url, body, field):
    status, answer, _ = call(url, body)
    assert status == 422 and field in json.dumps(answer["detail"])


def test_wrong_body_type_and_size_limit(url):
    status, answer, _ = call(url, raw=b'["Anna visited Paris"]')
    assert status == 422 and "body" in json.dumps(answer["detail"])
    status, answer, _ = call(url, raw=b"{not json")
    assert status == 422 and "json" in json.dumps(answer["detail"]).lower()
    status, answer, _ = call(url, {"texts": ["Anna visited Paris ."] * 3000})
    assert status == 413 and "50000 bytes" in answer["detail"]
