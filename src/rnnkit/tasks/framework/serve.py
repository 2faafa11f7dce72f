"""``rnnkit serve``: saved models of any application behind a JSON HTTP API (FastAPI + uvicorn).

Each application declares its request body (``Application.serve_request_model()``, a pydantic
model) and answers it (``Application.serve(estimator, request)``). The server adds, for every app
alike: ``POST /v1/<route>`` (the first model of that app) and ``POST /v1/<route>/<name>`` (the route
is the app's name unless its request model sets ``route``, as ``generate`` does for ``lm``),
``GET /healthz`` (the process answers), ``GET /readyz`` (models loaded), OpenAPI docs at ``/docs``,
request-size limits (413), an ``x-request-id`` header and one log line per request with its timing.

Three kinds of endpoint, chosen by the request model and the answer:

- JSON: the body is the request model; ``serve`` returns a JSON-able ``dict``.
- Upload: a request model with a ``bytes`` field (``audio``) takes ``multipart/form-data`` with
  that file, or the raw file as the body (``content-type: audio/wav``, other fields as query
  parameters). Uploads have their own, larger size limit.
- Stream: ``serve`` returns an iterator of dicts; each is sent as a server-sent event
  (``data: {...}``), then ``event: end``.

Validation errors are 422 responses that name the field; errors that the model raises on a
well-formed request (a horizon it was not trained for, say) are 422 with the message (or the
error's ``status_code``, as 415 for a non-WAV upload); nothing answers with a traceback. Models run
one call at a time behind one lock (a stream takes it for each event), so the single worker never
runs two requests on a model at once; requests wait their turn in the server's thread pool.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from rnnkit.optional import require

log = logging.getLogger("rnnkit.serve")

#: Errors a model raises on a well-formed request that is still wrong for it: answered as 422
#: (or the error's ``status_code`` attribute).
_REQUEST_ERRORS: tuple[type[BaseException], ...] = (ValueError, KeyError, TypeError)
#: Content types read as a raw uploaded file by an upload endpoint.
_RAW_UPLOAD_TYPES = ("audio/", "application/octet-stream")


class RequestError(ValueError):
    """A well-formed request the model cannot answer; ``status_code`` is the HTTP status (4xx).

    Example:
        >>> raise RequestError("audio: not a WAV file", status_code=415)  # doctest: +SKIP
    """

    def __init__(self, message: str, *, status_code: int = 422) -> None:
        super().__init__(message)
        self.status_code = status_code


def load_models(specs: list[str]) -> dict[str, tuple[Any, Any]]:
    """``["DIR", "NAME=DIR", ...]`` -> ``{name: (application, estimator)}`` (name: the folder's parent).

    Raises:
        SerializationError: a directory that is not an rnnkit model, or a model of no served app.
    """
    from rnnkit.serialization import SerializationError, load
    from rnnkit.tasks import APPS, get_app

    models: dict[str, tuple[Any, Any]] = {}
    for spec in specs:
        name, _, path = spec.rpartition("=")
        path_obj = Path(path)
        name = name or (path_obj.parent.name if path_obj.name == "model" else path_obj.name)
        estimator = load(path_obj)
        app_name = getattr(estimator, "app_name", "")
        if app_name not in APPS:
            raise SerializationError(f"--model: {path} holds a {type(estimator).__name__}, which no rnnkit "
                                     f"application serves (apps: {', '.join(sorted(APPS))})")
        app = get_app(app_name)
        if not hasattr(app, "serve_request_model") or app.serve_request_model() is None:
            raise SerializationError(f"--model: rnnkit {app_name} has no HTTP endpoint yet")
        if name in models:
            raise SerializationError(f"--model: two models are named {name!r}; use NAME=DIR")
        models[name] = (app, estimator)
    return models


def route_of(app: Any) -> str:
    """The path segment of an app's endpoint: ``/v1/<route>`` (``generate`` for ``lm``)."""
    return getattr(app.serve_request_model(), "route", None) or app.name


def upload_fields(request_model: Any) -> list[str]:
    """The ``bytes`` fields of a request model: the files an upload endpoint receives."""
    return [name for name, info in request_model.model_fields.items() if info.annotation is bytes]


def build_server(models: Mapping[str, tuple[Any, Any]], *, max_body_bytes: int = 1_000_000,
                 max_upload_bytes: int = 20_000_000) -> Any:
    """The FastAPI application serving ``models`` (``{name: (application, estimator)}``).

    Args:
        models: from :func:`load_models`.
        max_body_bytes: larger JSON request bodies get 413.
        max_upload_bytes: the limit for upload endpoints (``/v1/transcribe``).

    Returns:
        A ``fastapi.FastAPI``; run it with uvicorn (:func:`serve`) or FastAPI's test client.

    Example:
        >>> api = build_server(load_models(["runs/forecast/sunspots/model"]))  # doctest: +SKIP
    """
    fastapi = require("fastapi", "serve")
    from fastapi.responses import JSONResponse

    from rnnkit import __version__

    api = fastapi.FastAPI(title="rnnkit", version=__version__,
                          description="Saved rnnkit models behind a JSON API: " + ", ".join(
                              f"{name} (rnnkit {app.name})" for name, (app, _) in models.items()))
    lock = threading.Lock()
    upload_routes = tuple(f"/v1/{route_of(app)}" for app, _ in models.values()
                          if upload_fields(app.serve_request_model()))
    if upload_routes:
        # Starlette parses multipart forms with python-multipart; without it every upload would be a 500
        # at request time, so say so now, at start-up.
        require("python_multipart", "serve", package="python-multipart")

    def limit_of(path: str) -> int:
        return max_upload_bytes if path.startswith(upload_routes) else max_body_bytes

    api.add_middleware(BodyLimit, limit_of=limit_of)

    @api.middleware("http")
    async def request_id_and_timing(request, call_next):
        request_id = request.headers.get("x-request-id") or uuid.uuid4().hex[:16]
        request.state.request_id = request_id
        start = time.perf_counter()
        try:
            response = await call_next(request)
        except Exception:  # logged with its traceback here; the client gets no traceback
            log.exception("request %s failed", request_id)
            response = JSONResponse({"detail": "internal error", "request_id": request_id}, status_code=500)
        response.headers["x-request-id"] = request_id
        log.info("%s %s %s %d %.1f ms", request_id, request.method, request.url.path, response.status_code,
                 1000 * (time.perf_counter() - start))
        return response

    @api.get("/healthz")
    def healthz() -> dict:
        return {"status": "ok"}

    @api.get("/readyz")
    def readyz() -> dict:
        return {"ready": bool(models), "models": {name: app.name for name, (app, _) in models.items()}}

    seen: set[str] = set()
    for name, (app, estimator) in models.items():
        route = route_of(app)
        request_model = app.serve_request_model()
        if upload_fields(request_model):
            endpoint, extra = _upload_endpoint(app, estimator, lock), {"openapi_extra": _upload_openapi(request_model)}
        else:
            endpoint, extra = _json_endpoint(app, estimator, lock), {}
        doc = (request_model.__doc__ or "").strip()
        paths = [(f"/v1/{route}/{name}", f"{route}:{name}")] + ([] if route in seen else [(f"/v1/{route}", route)])
        seen.add(route)
        for path, title in paths:
            api.post(path, name=title, summary=f"rnnkit {app.name}: model {name}", description=doc, **extra)(endpoint)
    return api


# ------------------------------------------------------------------------------- endpoints
def _error_response(error: BaseException) -> Any:
    from fastapi.responses import JSONResponse

    detail = error.args[0] if isinstance(error, KeyError) and error.args else str(error)
    return JSONResponse({"detail": detail}, status_code=getattr(error, "status_code", 422))


def _answer(app: Any, estimator: Any, body: Any, lock: threading.Lock, request_id: str) -> Any:
    """Run ``app.serve`` under the lock; a dict is returned as JSON, an iterator as a stream."""
    import torch

    with lock, torch.no_grad():
        try:
            result = app.serve(estimator, body)
            if not isinstance(result, Iterator):
                return result
            first = next(result, None)  # errors raised before the first event are still a 4xx
        except _REQUEST_ERRORS as error:
            return _error_response(error)
    return _event_stream(result, first, lock, request_id)


def _event_stream(events: Iterator[dict], first: dict | None, lock: threading.Lock, request_id: str) -> Any:
    """Server-sent events: ``data: {...}`` per item, then ``event: end`` (or ``event: error``)."""
    import torch
    from fastapi.responses import StreamingResponse

    def body() -> Iterator[str]:
        start, count, item = time.perf_counter(), 0, first
        try:
            while item is not None:
                yield f"data: {json.dumps(item)}\n\n"
                count += 1
                with lock, torch.no_grad():  # the model is shared: one step at a time, across streams too
                    item = next(events, None)
            yield f"event: end\ndata: {json.dumps({'events': count})}\n\n"
        except _REQUEST_ERRORS as error:
            yield f"event: error\ndata: {json.dumps({'detail': str(error)})}\n\n"
        except Exception:  # the status line is sent already: say so in the stream, the traceback in the log
            log.exception("request %s failed in its stream", request_id)
            yield f"event: error\ndata: {json.dumps({'detail': 'internal error', 'request_id': request_id})}\n\n"
        finally:
            log.info("%s stream of %d events, %.1f ms", request_id, count, 1000 * (time.perf_counter() - start))

    return StreamingResponse(body(), media_type="text/event-stream",
                             headers={"cache-control": "no-cache", "x-accel-buffering": "no"})


def _json_endpoint(app: Any, estimator: Any, lock: threading.Lock):
    from fastapi import Request

    def endpoint(body: Any, request: Request) -> Any:
        return _answer(app, estimator, body, lock, getattr(request.state, "request_id", "-"))

    endpoint.__annotations__ = {"body": app.serve_request_model(), "request": Request, "return": Any}
    return endpoint


def _upload_endpoint(app: Any, estimator: Any, lock: threading.Lock):
    """A multipart (or raw-body) upload: the file into the request model's ``bytes`` field."""
    from fastapi import Request
    from fastapi.concurrency import run_in_threadpool
    from fastapi.exceptions import RequestValidationError
    from pydantic import ValidationError

    request_model = app.serve_request_model()
    (file_field,) = upload_fields(request_model)

    async def endpoint(request: Request) -> Any:
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        fields: dict[str, Any] = dict(request.query_params)
        if content_type == "multipart/form-data":
            form = await request.form()
            for key, value in form.multi_items():
                if key == file_field:
                    if isinstance(value, str):
                        return _error_response(RequestError(f"{file_field}: expected an uploaded file, got a "
                                                            "text form field"))
                    fields[key] = await value.read()
                    fields.setdefault("filename", value.filename)
                else:
                    fields[key] = value
            if file_field not in fields:
                return _error_response(RequestError(f"{file_field}: the form has no file named {file_field!r} "
                                                    f"(send it as -F {file_field}=@recording.wav)"))
        elif content_type.startswith(_RAW_UPLOAD_TYPES):
            fields[file_field] = await request.body()
        else:
            return _error_response(RequestError(
                f"{file_field}: expected multipart/form-data with a file named {file_field!r}, or the raw file "
                f"with content-type audio/wav; got content-type {content_type or 'none'!r}", status_code=415))
        try:
            body = request_model.model_validate(fields)
        except ValidationError as error:
            raise RequestValidationError(
                [{**e, "loc": ("body", *e["loc"])} for e in error.errors(include_url=False, include_input=False)]
            ) from None
        request_id = getattr(request.state, "request_id", "-")
        return await run_in_threadpool(_answer, app, estimator, body, lock, request_id)

    endpoint.__annotations__ = {"request": Request, "return": Any}  # resolved here, not from the module's globals
    return endpoint


def _upload_openapi(request_model: Any) -> dict:
    """The OpenAPI request body of an upload endpoint (FastAPI cannot infer it from a raw Request)."""
    schema = request_model.model_json_schema()
    (file_field,) = upload_fields(request_model)
    schema["properties"][file_field] = {"type": "string", "format": "binary"}
    return {"requestBody": {"required": True, "content": {
        "multipart/form-data": {"schema": schema},
        "audio/wav": {"schema": {"type": "string", "format": "binary"}},
    }}}


# ------------------------------------------------------------------------------- size limit
class BodyLimit:
    """ASGI middleware: a request body over ``limit_of(path)`` bytes gets 413, with or without a
    ``content-length`` header (a chunked body is read up to the limit, then replayed)."""

    def __init__(self, app: Any, limit_of: Any) -> None:
        self.app, self.limit_of = app, limit_of

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_of(scope["path"])
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        if length is not None:
            if not length.isdigit() or int(length) > limit:
                await self._refuse(send, limit)
                return
            await self.app(scope, receive, send)
            return
        messages, size = [], 0
        while True:  # no content-length: read the body here (at most the limit) before the app sees it
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            size += len(message.get("body", b""))
            if size > limit:
                await self._refuse(send, limit)
                return
            if not message.get("more_body", False):
                break

        async def replay() -> dict:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)

    @staticmethod
    async def _refuse(send: Any, limit: int) -> None:
        body = json.dumps({"detail": f"request body over the limit of {limit} bytes"}).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


def serve(models: Mapping[str, tuple[Any, Any]], *, host: str = "127.0.0.1", port: int = 8000,
          max_body_bytes: int = 1_000_000, max_upload_bytes: int = 20_000_000) -> None:
    """Run the server in this process until it is stopped (Ctrl-C or SIGTERM)."""
    uvicorn = require("uvicorn", "serve")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    uvicorn.run(build_server(models, max_body_bytes=max_body_bytes, max_upload_bytes=max_upload_bytes),
                host=host, port=port, log_level="info")


__all__ = ["BodyLimit", "RequestError", "build_server", "load_models", "route_of", "serve", "upload_fields"]
