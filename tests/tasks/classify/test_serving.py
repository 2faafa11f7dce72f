"""POST /v1/classify: real HTTP requests to a tiny trained classifier, saved and served on 127.0.0.1."""

from __future__ import annotations

import json
import threading

import numpy as np
import pytest

from rnnkit.tasks.classify import TextClassifier
from tests.serving_helpers import call, running_server

from .helpers import TINY, sentences

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")


@pytest.fixture(scope="module")
def model_and_url(tmp_path_factory):

    from rnnkit.tasks.framework.serve import load_models

    model = TextClassifier(**{**TINY, "max_epochs": 4}).fit(*sentences(60))
    path = tmp_path_factory.mktemp("classify") / "model"
    model.save(path)
    models = load_models([f"reviews={path}"])
    with running_server(models, max_body_bytes=100_000) as base:
        yield model, f"{base}/v1/classify"


def test_labels_and_probabilities_match_the_saved_model(model_and_url):
    model, url = model_and_url
    texts = ["a lovely film", "the plot was dull", ""]
    status, body, _ = call(url, {"texts": texts})
    assert status == 200 and body["labels"] == model.predict(texts)
    expected = model.predict_proba(texts)
    names = [str(c) for c in model.classes_]
    np.testing.assert_allclose([[row[n] for n in names] for row in body["probabilities"]], expected, rtol=1e-6)
    assert call(url.replace("/classify", "/classify/reviews"), {"texts": texts})[1] == body


def test_concurrent_requests_are_answered_in_turn_with_the_same_numbers(model_and_url):
    model, url = model_and_url
    texts, _ = sentences(8, seed=5)
    expected = model.predict(texts)
    results = []

    def client(i):
        results.append(call(url, {"texts": texts[i:] + texts[:i]})[:2])

    threads = [threading.Thread(target=client, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(status for status, _ in results) == [200] * 8
    assert sorted(tuple(body["labels"]) for _, body in results) == sorted(
        tuple(expected[i:] + expected[:i]) for i in range(8))


@pytest.mark.parametrize("body, field", [
    ({}, "texts"),
    ({"texts": []}, "texts"),
    ({"texts": "a lovely film"}, "texts"),
    ({"texts": [3]}, "texts"),
    ({"texts": ["x" * 20_001]}, "texts"),  # a text over the size limit
    ({"text": ["a lovely film"]}, "text"),
])
def test_malformed_requests_get_422_naming_the_field(model_and_url, body, field):
    status, answer, _ = call(model_and_url[1], body)
    assert status == 422 and field in json.dumps(answer["detail"])


def test_a_json_body_of_the_wrong_type_and_a_body_over_the_limit(model_and_url):
    url = model_and_url[1]
    for raw in (b'"a lovely film"', b"[1, 2]", b"42", b"null"):
        status, answer, _ = call(url, raw=raw)
        assert status == 422 and answer["detail"][0]["loc"] == ["body"], raw
    status, answer, _ = call(url, {"texts": ["a lovely film " * 100] * 100})
    assert status == 413 and "100000 bytes" in answer["detail"]
