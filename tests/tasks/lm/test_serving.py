"""POST /v1/generate: tokens streamed as server-sent events from a tiny trained language model."""

from __future__ import annotations

import json
import threading

import pytest

from rnnkit.tasks.lm import LanguageModel
from tests.serving_helpers import call, running_server, served, sse_events

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

TEXT = "the cat sat on the mat.\nthe dog sat on the log.\n" * 30


@pytest.fixture(scope="module")
def model():
    return LanguageModel(embedding_size=8, hidden_size=16, num_layers=1, batch_size=4, bptt=12, max_steps=40,
                         lr=2e-2, cell_options={"backend": "native"}).fit(TEXT)


@pytest.fixture(scope="module")
def url(model):
    with running_server(served("lm", model)) as base:
        yield f"{base}/v1/generate"


def test_stream_is_server_sent_events_with_the_models_tokens(url, model):
    request = {"prompt": "the ", "max_tokens": 12, "temperature": 0.8, "top_k": 5, "seed": 3}
    status, text, headers = call(url, request)
    assert status == 200 and headers["content-type"].startswith("text/event-stream")
    events = sse_events(text)
    tokens = [data["token"] for name, data in events if name == "message" and "token" in data]
    expected = list(model.stream("the ", 12, temperature=0.8, top_k=5, seed=3))
    assert tokens == expected
    assert events[-2] == ("message", {"done": True, "text": "".join(expected), "unknown": 0})
    assert events[-1] == ("end", {"events": 13})


def test_without_stream_one_json_answer_and_the_same_seed_gives_the_same_text(url, model):
    request = {"prompt": "the dog", "max_tokens": 20, "top_p": 0.9, "seed": 7, "stream": False}
    status, body, _ = call(url, request)
    assert status == 200 and body["text"] == model.generate("the dog", 20, top_p=0.9, seed=7)
    assert call(url, request)[1] == body
    status, body, _ = call(url, {"prompt": "zzz", "max_tokens": 2, "stream": False})
    assert status == 200 and body["unknown"] == 3  # 'z' is not in the training text


def test_concurrent_streams_each_get_their_own_text(url, model):
    results = {}

    def client(seed):
        status, text, _ = call(url, {"prompt": "the", "max_tokens": 15, "seed": seed})
        results[seed] = (status, [d["token"] for n, d in sse_events(text) if "token" in d])

    threads = [threading.Thread(target=client, args=(seed,)) for seed in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for seed in range(4):
        assert results[seed] == (200, list(model.stream("the", 15, seed=seed)))


@pytest.mark.parametrize("body, field", [
    ({"max_tokens": 0}, "max_tokens"),
    ({"max_tokens": 2_001}, "max_tokens"),
    ({"temperature": -1}, "temperature"),
    ({"top_k": 0}, "top_k"),
    ({"top_p": 1.5}, "top_p"),
    ({"top_p": 0}, "top_p"),
    ({"seed": "abc"}, "seed"),
    ({"prompt": ["the"]}, "prompt"),
    ({"prompt": "x" * 20_001}, "prompt"),
    ({"max_token": 5}, "max_token"),
])
def test_malformed_requests_get_422_naming_the_field(url, body, field):
    status, answer, _ = call(url, body)
    assert status == 422 and field in json.dumps(answer["detail"])


def test_the_route_is_generate_not_lm(url):
    assert call(url.replace("/generate", "/lm"), {"prompt": "the"})[0] == 404
    assert call(f"{url}/m", {"max_tokens": 2, "stream": False})[0] == 200
