"""Start ``rnnkit serve``'s app on 127.0.0.1 in a thread and call it with real HTTP requests."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running_server(models: dict[str, tuple[Any, Any]], **limits: int) -> Iterator[str]:
    """Yield the base URL of a uvicorn server for ``models`` (``{name: (app, estimator)}``); stop it after."""
    import uvicorn

    from rnnkit.tasks.framework.serve import build_server

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(build_server(models, **limits), host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 20
    while not server.started and time.time() < deadline:
        time.sleep(0.05)
    assert server.started, "server did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def served(app_name: str, estimator: Any, name: str = "m") -> dict[str, tuple[Any, Any]]:
    from rnnkit.tasks import get_app

    return {name: (get_app(app_name), estimator)}


def call(url: str, body: Any = None, *, raw: bytes | None = None, content_type: str = "application/json",
         headers: dict | None = None) -> tuple[int, Any, Any]:
    """POST ``body`` as JSON (or ``raw`` bytes), GET without either; returns (status, parsed JSON or text, headers)."""
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    request = urllib.request.Request(url, data=data, headers={"content-type": content_type, **(headers or {})},
                                     method="POST" if data is not None else "GET")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            status, text, answer_headers = response.status, response.read().decode(), response.headers
    except urllib.error.HTTPError as error:
        status, text, answer_headers = error.code, error.read().decode(), error.headers
    try:
        return status, json.loads(text), answer_headers
    except json.JSONDecodeError:
        return status, text, answer_headers


def multipart(fields: dict[str, str], files: dict[str, tuple[str, bytes]]) -> tuple[bytes, str]:
    """A ``multipart/form-data`` body and its content type (the standard library has no encoder)."""
    boundary = "rnnkit-test-boundary-7d3f"
    parts = []
    for key, value in fields.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n{value}\r\n'.encode())
    for key, (filename, data) in files.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"; filename="{filename}"\r\n'
                     f"Content-Type: application/octet-stream\r\n\r\n".encode() + data + b"\r\n")
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def sse_events(text: str) -> list[tuple[str, Any]]:
    """``[(event name, parsed data)]`` of a ``text/event-stream`` body (name ``message`` when unnamed)."""
    events = []
    for block in text.strip().split("\n\n"):
        name, data = "message", []
        for line in block.splitlines():
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].strip())
        events.append((name, json.loads("\n".join(data))))
    return events
