"""The run directory every application writes (see :mod:`rnnkit.tasks.framework.app`)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from rnnkit.dirlock import LOCK_FILE, DirectoryLock
from rnnkit.serialization import SerializationError, write_json


def _json_safe(value: Any) -> Any:
    """NaN and infinities become None (JSON has no such numbers); tuples become lists."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


class RunDirectory:
    """One run's output folder: ``config.json``, ``metrics.json``, ``metrics.md``, plots, ``model/``.

    Used as a context manager around a run: entering takes the directory's lock
    (:class:`rnnkit.dirlock.DirectoryLock`, the holder's pid and host in ``.rnnkit.lock``), so a
    second process writing the same run directory fails at once; leaving releases it.

    Args:
        path: the folder; created if missing. An existing file there is an error.

    Raises:
        rnnkit.dirlock.DirectoryLocked: on entry, when another live process is writing the folder.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if self.path.exists() and not self.path.is_dir():
            raise SerializationError(f"output_dir: {self.path} exists and is a file, not a directory")
        self._lock = DirectoryLock(self.path, what="output_dir")

    def __enter__(self) -> RunDirectory:
        self.path.mkdir(parents=True, exist_ok=True)
        self._lock.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._lock.__exit__(*exc)

    def write_config(self, app: Any, config: Any) -> Path:
        """``config.json``: the app's name and every setting."""
        target = self.path / "config.json"
        write_json(target, {"app": app.name, "config": _json_safe(config.to_dict())})
        return target

    def write_report(self, report: Any) -> None:
        """``metrics.json`` and ``metrics.md``."""
        write_json(self.path / "metrics.json", _json_safe({
            "primary": report.primary, "higher_is_better": report.higher_is_better,
            "model": report.model_name, "methods": report.metrics,
            "plots": {k: Path(v).name for k, v in report.plots.items()}, "notes": report.notes,
            "extra": report.extra,
        }))
        (self.path / "metrics.md").write_text(report.markdown() + "\n", encoding="utf-8")

    def listing(self) -> list[str]:
        """The names in the folder (directories with a trailing slash)."""
        return sorted(p.name + ("/" if p.is_dir() else "") for p in self.path.iterdir() if p.name != LOCK_FILE)


def read_run_config(path: str | Path) -> dict[str, Any]:
    """The settings in a run's ``config.json`` (or a model's parent run directory)."""
    path = Path(path)
    if path.is_dir():
        path = path / "config.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise SerializationError(f"config: cannot read {path}: {error}") from None
    if not isinstance(data, dict) or "config" not in data:
        raise SerializationError(f"config: {path} is not an rnnkit run config")
    return data
