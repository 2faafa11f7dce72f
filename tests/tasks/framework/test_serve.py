"""rnnkit serve: real HTTP requests to a server started on 127.0.0.1 in the test."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("fastapi")
uvicorn = pytest.importorskip("uvicorn")


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):

    import rnnkit

    tmp = tmp_path_factory.mktemp("serve")
    t = np.arange(96)
    y = pd.Series(10 + 3 * np.sin(2 * np.pi * t / 12), index=pd.date_range("2000-01-01", periods=96, freq="MS"))
    model = rnnkit.Forecaster(6, season_length=12, context_length=24, hidden_size=8, num_layers=1, max_steps=10)
    model.fit(y)
    model.save(tmp / "model")
    return tmp / "model", model, y


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(model_dir):
    from rnnkit.tasks.framework.serve import build_server, load_models

    port = _free_port()
    config = uvicorn.Config(build_server(load_models([f"sales={model_dir[0]}"]), max_body_bytes=20_000),
                            host="127.0.0.1", port=port, log_level="warning")
    running = uvicorn.Server(config)
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    deadline = time.time() + 20
    while not running.started and time.time() < deadline:
        time.sleep(0.05)
    assert running.started, "server did not start"
    yield f"http://127.0.0.1:{port}"
    running.should_exit = True
    thread.join(timeout=10)


def _call(url, body=None, *, raw=None):
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    request = urllib.request.Request(url, data=data, headers={"content-type": "application/json"},
                                     method="POST" if data is not None else "GET")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read()), response.headers
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read()), error.headers


def test_forecast_endpoint_matches_the_model(server, model_dir):
    _, model, y = model_dir
    status, body, headers = _call(f"{server}/v1/forecast", {"horizon": 4, "quantiles": [0.5]})
    assert status == 200 and headers["x-request-id"]
    expected = model.predict(4, (0.5,))
    np.testing.assert_allclose(body["mean"], expected["mean"].to_numpy(), rtol=1e-6)
    assert len(body["times"]) == 4 and body["times"][0].startswith("2008-01-01")
    status, named, _ = _call(f"{server}/v1/forecast/sales", {"horizon": 4, "quantiles": [0.5]})
    assert status == 200 and named["mean"] == body["mean"]
    newer = y.iloc[:60]
    status, body, _ = _call(f"{server}/v1/forecast", {"times": [str(t) for t in newer.index],
                                                      "values": newer.tolist(), "horizon": 3})
    assert status == 200
    np.testing.assert_allclose(body["mean"], model.predict(3, y=newer)["mean"].to_numpy(), rtol=1e-6)


def test_health_and_ready(server):
    assert _call(f"{server}/healthz")[:2] == (200, {"status": "ok"})
    status, body, _ = _call(f"{server}/readyz")
    assert status == 200 and body == {"ready": True, "models": {"sales": "forecast"}}


@pytest.mark.parametrize("body, field", [
    ({"horizon": "soon"}, "horizon"),
    ({"quantiles": [0.5, 1.5]}, "quantiles"),
    ({"times": ["2001-01-01"]}, "times"),
    ({"values": [1.0], "times": ["2001-01-01", "2001-02-01"]}, "values"),
])
def test_malformed_requests_get_422_naming_the_field(server, body, field):
    status, answer, _ = _call(f"{server}/v1/forecast", body)
    assert status == 422 and field in json.dumps(answer["detail"])


def test_wrong_requests_for_the_model_and_limits(server):
    status, answer, _ = _call(f"{server}/v1/forecast", {"horizon": 50})
    assert status == 422 and "at most 6 steps" in answer["detail"]
    status, answer, _ = _call(f"{server}/v1/forecast", raw=b"[1, 2, 3]")
    assert status == 422
    status, answer, _ = _call(f"{server}/v1/forecast", raw=b"{" + b" " * 30_000 + b"}")
    assert status == 413 and "limit" in answer["detail"]
    assert _call(f"{server}/v1/classify", {"text": "x"})[0] == 404


def test_concurrent_requests_all_succeed(server):
    results = []

    def client():
        for _ in range(5):
            results.append(_call(f"{server}/v1/forecast", {"horizon": 2})[0])

    threads = [threading.Thread(target=client) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [200] * 20


def test_serve_refuses_a_directory_that_is_not_a_model(tmp_path, capsys):
    from rnnkit.cli import main

    assert main(["serve", "--model", str(tmp_path)]) == 2
    assert "config.json does not exist" in capsys.readouterr().err


def test_cli_serve_starts_and_answers(model_dir):
    port = _free_port()
    process = subprocess.Popen([sys.executable, "-m", "rnnkit", "serve", "--model", str(model_dir[0]), "--port",
                                str(port)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                if _call(f"http://127.0.0.1:{port}/healthz")[0] == 200:
                    break
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.3)
        assert _call(f"http://127.0.0.1:{port}/v1/forecast", {"horizon": 2})[0] == 200
    finally:
        process.terminate()
        process.wait(timeout=20)
