"""The server's shared machinery with stand-in apps: one model call at a time, event streams,
size limits without content-length, request ids and timing in the log, /docs, no tracebacks."""

from __future__ import annotations

import http.client
import json
import logging
import threading
import time
from collections.abc import Iterator
from typing import Any, ClassVar

import pytest

from tests.serving_helpers import call, running_server, sse_events

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")
from pydantic import BaseModel, Field


class EchoRequest(BaseModel):
    """Echo a number after a short pause."""

    x: int = Field(..., ge=0)
    steps: int = Field(0, ge=0, le=50)


class CountRequest(BaseModel):
    route: ClassVar[str] = "count"
    n: int = Field(3, ge=0, le=50)


class Model:
    """Records how many calls are inside it at once (more than one would be a race)."""

    def __init__(self) -> None:
        self.inside, self.most_inside, self.calls = 0, 0, 0

    def enter(self) -> None:
        self.inside += 1
        self.calls += 1
        self.most_inside = max(self.most_inside, self.inside)
        time.sleep(0.01)

    def leave(self) -> None:
        self.inside -= 1


class EchoApp:
    name = "echo"

    def serve_request_model(self) -> Any:
        return EchoRequest

    def serve(self, model: Model, request: EchoRequest) -> dict:
        if request.x == 13:
            raise ValueError("x: 13 is not served")
        if request.x == 99:
            raise RuntimeError("a bug inside the model")
        model.enter()
        try:
            return {"x": request.x}
        finally:
            model.leave()


class CountApp:
    name = "counter"

    def serve_request_model(self) -> Any:
        return CountRequest

    def serve(self, model: Model, request: CountRequest) -> Iterator[dict]:
        if request.n == 7:
            raise ValueError("n: 7 is refused before the first event")

        def events() -> Iterator[dict]:
            for i in range(request.n):
                model.enter()  # computing event i (between events the stream holds nothing)
                model.leave()
                yield {"i": i}
                if request.n == 5 and i == 2:
                    raise ValueError("n: failed after three events")
                if request.n == 9 and i == 1:
                    raise RuntimeError("a bug in the middle of a stream")
        return events()


@pytest.fixture(scope="module")
def shared():
    return Model()


@pytest.fixture(scope="module")
def base(shared):
    models = {"one": (EchoApp(), shared), "two": (EchoApp(), shared), "c": (CountApp(), shared)}
    with running_server(models, max_body_bytes=2_000) as url:
        yield url


def test_concurrent_requests_and_streams_never_run_on_the_models_at_once(base, shared):
    statuses = []

    def echo(i):
        statuses.append(call(f"{base}/v1/echo/{'one' if i % 2 else 'two'}", {"x": i})[:2])

    def count():
        status, text, _ = call(f"{base}/v1/count", {"n": 6})
        statuses.append((status, [d for name, d in sse_events(text)]))

    threads = [threading.Thread(target=echo, args=(i,)) for i in range(12)]
    threads += [threading.Thread(target=count) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(s for s, _ in statuses) == [200] * 15
    assert sorted(b["x"] for _, b in statuses if isinstance(b, dict)) == list(range(12))
    assert [b for _, b in statuses if isinstance(b, list)] == [[{"i": i} for i in range(6)] + [{"events": 6}]] * 3
    assert shared.calls == 12 + 18 and shared.most_inside == 1


def test_stream_errors_before_and_after_the_first_event(base):
    status, answer, _ = call(f"{base}/v1/count", {"n": 7})
    assert status == 422 and answer == {"detail": "n: 7 is refused before the first event"}
    status, text, _ = call(f"{base}/v1/count", {"n": 5})
    assert status == 200
    assert sse_events(text)[-1] == ("error", {"detail": "n: failed after three events"})
    status, text, headers = call(f"{base}/v1/count", {"n": 9})
    assert status == 200 and sse_events(text)[-1] == ("error", {"detail": "internal error",
                                                                "request_id": headers["x-request-id"]})
    status, text, _ = call(f"{base}/v1/count", {"n": 0})
    assert status == 200 and sse_events(text) == [("end", {"events": 0})]


def test_model_errors_are_4xx_and_bugs_are_500_without_a_traceback(base):
    assert call(f"{base}/v1/echo", {"x": 13})[:2] == (422, {"detail": "x: 13 is not served"})
    status, answer, headers = call(f"{base}/v1/echo", {"x": 99})
    assert status == 500 and answer == {"detail": "internal error", "request_id": headers["x-request-id"]}
    assert "Traceback" not in json.dumps(answer)


def test_a_chunked_body_over_the_limit_is_413(base):
    host, port = base.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)

    def chunks():
        for _ in range(10):
            yield b'{"x": 1' + b" " * 400
        yield b"}"

    connection.request("POST", "/v1/echo", body=chunks(), headers={"content-type": "application/json"},
                       encode_chunked=True)
    response = connection.getresponse()
    assert response.status == 413 and "2000 bytes" in json.loads(response.read())["detail"]
    connection.close()
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    connection.request("POST", "/v1/echo", body=iter([b'{"x": ', b"4}"]), headers={"content-type": "application/json"},
                       encode_chunked=True)
    response = connection.getresponse()
    assert response.status == 200 and json.loads(response.read()) == {"x": 4}
    connection.close()
    assert call(f"{base}/v1/echo", raw=b"{}", headers={"content-length": "abc"})[0] in (400, 413)


def test_request_id_and_timing_are_logged(base, caplog):
    with caplog.at_level(logging.INFO, logger="rnnkit.serve"):
        status, _, headers = call(f"{base}/v1/echo/one", {"x": 2}, headers={"x-request-id": "req-42"})
        call(f"{base}/v1/count", {"n": 2}, headers={"x-request-id": "req-43"})
        time.sleep(0.2)
    assert status == 200 and headers["x-request-id"] == "req-42"
    lines = [r.getMessage() for r in caplog.records if r.name == "rnnkit.serve"]
    assert any(line.startswith("req-42 POST /v1/echo/one 200 ") and line.endswith(" ms") for line in lines), lines
    assert any(line.startswith("req-43 stream of 2 events, ") for line in lines), lines


def test_health_ready_docs_and_openapi(base):
    assert call(f"{base}/healthz")[:2] == (200, {"status": "ok"})
    assert call(f"{base}/readyz")[:2] == (200, {"ready": True, "models": {"one": "echo", "two": "echo",
                                                                          "c": "counter"}})
    status, page, _ = call(f"{base}/docs")
    assert status == 200 and "swagger" in page.lower()
    status, schema, _ = call(f"{base}/openapi.json")
    assert status == 200
    assert {"/v1/echo", "/v1/echo/one", "/v1/echo/two", "/v1/count", "/v1/count/c"} <= set(schema["paths"])
    assert "Echo a number" in schema["paths"]["/v1/echo"]["post"]["description"]


class UploadRequest(BaseModel):
    audio: bytes


class UploadApp:
    name = "upload"

    def serve_request_model(self) -> Any:
        return UploadRequest


def test_an_upload_endpoint_without_python_multipart_fails_at_start_up_naming_it(monkeypatch):
    # Starlette needs python-multipart to read a form; without it every upload was a 500 at request time
    # (what a clean install without the package did in CI).
    from rnnkit.optional import MissingDependency
    from rnnkit.tasks.framework.serve import build_server

    for name in ("python_multipart", "multipart"):
        monkeypatch.setitem(__import__("sys").modules, name, None)
    with pytest.raises(MissingDependency, match="python-multipart"):
        build_server({"up": (UploadApp(), Model())})
    build_server({"one": (EchoApp(), Model())})  # JSON-only servers do not need it
