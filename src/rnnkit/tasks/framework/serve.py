"""``rnnkit serve``: saved models of any application behind a JSON HTTP API (FastAPI + uvicorn).

Each application declares its request body (``Application.serve_request_model()``, a pydantic
model) and answers it (``Application.serve(estimator, request) -> dict``). The server adds, for
every app alike: ``POST /v1/<app>`` (the first model of that app) and ``POST /v1/<app>/<name>``,
``GET /healthz`` (the process answers), ``GET /readyz`` (models loaded), OpenAPI docs at
``/docs``, a request-size limit (413), an ``x-request-id`` header and one log line per request
with its timing. Validation errors are 422 responses that name the field; errors that the model
raises on a well-formed request (a horizon it was not trained for, say) are 422 with the message;
nothing answers with a traceback. Models run one request at a time (a lock), so a single worker
never races on a model's state.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rnnkit.optional import require

log = logging.getLogger("rnnkit.serve")

#: Errors a model raises on a well-formed request that is still wrong for it: answered as 422.
_REQUEST_ERRORS: tuple[type[BaseException], ...] = (ValueError, KeyError, TypeError)


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


def build_server(models: Mapping[str, tuple[Any, Any]], *, max_body_bytes: int = 1_000_000) -> Any:
    """The FastAPI application serving ``models`` (``{name: (application, estimator)}``).

    Args:
        models: from :func:`load_models`.
        max_body_bytes: larger request bodies get 413.

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

    @api.middleware("http")
    async def limits_and_logging(request, call_next):
        request_id = request.headers.get("x-request-id") or uuid.uuid4().hex[:16]
        start = time.perf_counter()
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > max_body_bytes):
            response = JSONResponse({"detail": f"request body over the limit of {max_body_bytes} bytes"},
                                    status_code=413)
        else:
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

    seen_apps: set[str] = set()
    for name, (app, estimator) in models.items():
        endpoint = _endpoint(app, estimator, lock, JSONResponse)
        api.post(f"/v1/{app.name}/{name}", name=f"{app.name}:{name}", summary=f"rnnkit {app.name}: model {name}")(
            endpoint)
        if app.name not in seen_apps:
            seen_apps.add(app.name)
            api.post(f"/v1/{app.name}", name=f"{app.name}", summary=f"rnnkit {app.name} (model {name})")(endpoint)
    return api


def _endpoint(app: Any, estimator: Any, lock: threading.Lock, json_response: Any):
    request_model = app.serve_request_model()

    def endpoint(body: Any) -> Any:
        with lock:
            try:
                return app.serve(estimator, body)
            except _REQUEST_ERRORS as error:
                return json_response({"detail": str(error)}, status_code=422)

    endpoint.__annotations__ = {"body": request_model, "return": Any}
    return endpoint


def serve(models: Mapping[str, tuple[Any, Any]], *, host: str = "127.0.0.1", port: int = 8000,
          max_body_bytes: int = 1_000_000) -> None:
    """Run the server in this process until it is stopped (Ctrl-C or SIGTERM)."""
    uvicorn = require("uvicorn", "serve")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    uvicorn.run(build_server(models, max_body_bytes=max_body_bytes), host=host, port=port, log_level="info")


__all__ = ["build_server", "load_models", "serve"]
