"""Saving and loading without pickle: a JSON config plus safetensors weights, written atomically.

Any layer of rnnkit can use this module (it imports nothing else from rnnkit). A saved model is a
directory::

    model_dir/
      config.json          {"format": "rnnkit.model", "class": ..., "config": {...}, "state": {...}, ...}
      model.safetensors    every tensor (for an nn.Module: its state_dict)

``config.json`` names the class (``module.QualName``), the constructor keyword arguments
(``get_config()``), optional extra JSON state, the rnnkit version and the SHA-256 of every file,
so a truncated or altered file is reported as such before anything is loaded.

Saving is atomic as a whole: the new directory is written beside the old one under a hidden
name and swapped in (one ``renameat2(RENAME_EXCHANGE)`` on Linux, else two renames that
:func:`load` knows how to see through), so a process killed at any instant leaves the previous
model or the new one, never a mixture; what a killed save left behind is removed by the next.

Loading never runs code from the file: JSON is parsed with :mod:`json`, tensors are read by
:func:`safetensors.torch.load_file`, and the class is looked up in a registry of
:class:`Saveable` subclasses (registered when their module is imported). The only modules
:func:`load` imports are rnnkit's own, from the fixed table :data:`RNNKIT_SAVEABLE_MODULES`; a
module named in a file is never imported, so a user's class must be imported before loading.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import json
import os
import re
import shutil
import tempfile
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import torch
from torch import Tensor, nn

FORMAT = "rnnkit.model"
FORMAT_VERSION = 1
CONFIG_FILE = "config.json"
TENSOR_FILE = "model.safetensors"

_REGISTRY: dict[str, type[Saveable]] = {}
T = TypeVar("T", bound="Saveable")

#: The rnnkit modules that define Saveable classes. :func:`load` imports one of these (and never
#: anything else) when a file names a class of it that is not registered yet. A new rnnkit
#: Saveable class must be defined in a module listed here (a test checks it); names of modules
#: that do not exist (yet, or any more) are skipped.
RNNKIT_SAVEABLE_MODULES: tuple[str, ...] = (
    "rnnkit.layers.recurrent",
    "rnnkit.layers.dropins",
    "rnnkit.models.classifier",
    "rnnkit.models.regressor",
    "rnnkit.models.longrange",
    "rnnkit.models.next_frame",
    "rnnkit.tasks.synthetic",
    "rnnkit.tasks.sunspots",
    "rnnkit.tasks.longrange",
    "rnnkit.tasks.framework.estimator",
    "rnnkit.tasks.forecast.estimator",
    "rnnkit.tasks.classify.estimator",
    "rnnkit.tasks.tag.estimator",
    "rnnkit.tasks.translate.estimator",
    "rnnkit.tasks.transcribe.estimator",
    "rnnkit.tasks.lm.estimator",
    "rnnkit.tasks.moving_digits.estimator",
)
_SHA256 = re.compile(r"[0-9a-f]{64}")


class SerializationError(ValueError):
    """A saved file is missing, corrupted, or does not match what is being loaded."""


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("rnnkit")
    except Exception:  # not installed (running from a source tree)
        return "unknown"


def class_key(cls: type) -> str:
    """The name under which a class is saved: ``module.QualName``."""
    return f"{cls.__module__}.{cls.__qualname__}"


# ---------------------------------------------------------------------------------------- atomic I/O


def atomic_write(path: str | os.PathLike, write: Callable[[str], None]) -> None:
    """Write a file through a temporary name in the same directory, then rename it into place.

    ``write(tmp_path)`` produces the content. A crash at any point leaves either the old file or
    the new one at ``path``, never a half-written one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: str | os.PathLike, data: Any) -> None:
    """Atomically write ``data`` as indented JSON."""

    def write(tmp: str) -> None:
        with open(tmp, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=2, sort_keys=False)
            handle.write("\n")

    atomic_write(path, write)


def read_json(path: str | os.PathLike, *, what: str = "file") -> Any:
    """Read JSON, turning a missing or malformed file into a :class:`SerializationError`."""
    path = Path(path)
    if not path.is_file():
        raise SerializationError(f"{what}: {path} does not exist")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise SerializationError(f"{what}: {path} is not valid JSON (corrupted or truncated?): {error}") from None


def sha256(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_tensors(path: str | os.PathLike, tensors: Mapping[str, Tensor]) -> str:
    """Atomically write tensors to a safetensors file; returns its SHA-256.

    Tensors are made contiguous and moved to the CPU; tensors sharing memory are cloned
    (safetensors refuses shared storage).
    """
    from safetensors.torch import save_file

    plain = {name: t.detach().to("cpu").contiguous().clone() for name, t in tensors.items()}
    atomic_write(path, lambda tmp: save_file(plain, tmp))
    return sha256(path)


def read_tensors(
    path: str | os.PathLike, *, expected_sha256: str | None = None, what: str = "tensors"
) -> dict[str, Tensor]:
    """Read a safetensors file, checking its checksum when one is given."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = Path(path)
    if not path.is_file():
        raise SerializationError(f"{what}: {path} does not exist")
    if expected_sha256 is not None and sha256(path) != expected_sha256:
        raise SerializationError(
            f"{what}: {path} does not match the checksum recorded beside it (corrupted, truncated or replaced)"
        )
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as error:
        raise SerializationError(f"{what}: {path} is not a readable safetensors file: {error}") from None


# ------------------------------------------------------------------------------------------ Saveable


class Saveable:
    """Mixin that gives a class ``save(path)`` and makes it loadable by :func:`rnnkit.load`.

    A subclass implements :meth:`get_config` (JSON-able constructor keyword arguments). An
    ``nn.Module`` saves its ``state_dict``; any other object (an estimator that holds a network,
    scaler statistics and column names) overrides :meth:`tensor_state` / :meth:`load_tensor_state`
    and, for non-tensor state, :meth:`json_state` / :meth:`load_json_state`.

    Loading runs ``obj = cls.from_config(config)``, then ``obj.load_json_state(state)``, then
    ``obj.load_tensor_state(tensors)``, so an estimator can build its network from the JSON state
    before the weights arrive.

    Example:
        >>> class Tiny(nn.Module, Saveable):
        ...     def __init__(self, width: int = 3):
        ...         super().__init__()
        ...         self.width = width
        ...         self.linear = nn.Linear(width, 1)
        ...     def get_config(self):
        ...         return {"width": self.width}
        >>> Tiny(4).save("/tmp/tiny")
        >>> rnnkit.load("/tmp/tiny").width
        4
    """

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _REGISTRY[class_key(cls)] = cls

    def get_config(self) -> dict[str, Any]:
        """Constructor keyword arguments, as JSON-able values."""
        raise NotImplementedError(f"{type(self).__name__} must implement get_config() to be saved")

    @classmethod
    def from_config(cls: type[T], config: dict[str, Any]) -> T:
        """Build an instance from :meth:`get_config`'s output (default: ``cls(**config)``)."""
        return cls(**config)

    def json_state(self) -> dict[str, Any]:
        """Extra JSON-able state saved beside the config (default: none)."""
        return {}

    def load_json_state(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`json_state` returned."""
        if state:
            raise SerializationError(f"{type(self).__name__}: unexpected JSON state keys {sorted(state)}")

    @classmethod
    def check_config_fits_tensors(cls, config: dict[str, Any], tensors: Mapping[str, Tensor]) -> None:
        """Refuse a saved config that cannot describe the saved tensors, before anything is built
        (override; raise :class:`SerializationError`). Default: no check."""

    def extra_files(self) -> dict[str, bytes]:
        """Other files to save in the directory, ``{name: content}`` (a tokenizer's ``tokenizer.json``,
        say); names are plain file names. Default: none."""
        return {}

    def load_extra_files(self, files: dict[str, bytes]) -> None:
        """Restore what :meth:`extra_files` returned (called before :meth:`load_json_state`)."""
        if files:
            raise SerializationError(f"{type(self).__name__}: unexpected files {sorted(files)}")

    def tensor_state(self) -> dict[str, Tensor]:
        """Tensors to save (default: the ``state_dict`` of an ``nn.Module``)."""
        if isinstance(self, nn.Module):
            return dict(self.state_dict())
        return {}

    def load_tensor_state(self, tensors: dict[str, Tensor]) -> None:
        """Restore what :meth:`tensor_state` returned, with an error that lists any mismatch."""
        if isinstance(self, nn.Module):
            load_state_dict_checked(self, tensors, what=type(self).__name__)
        elif tensors:
            raise SerializationError(f"{type(self).__name__}: unexpected tensors {sorted(tensors)[:5]}")

    def save(self, path: str | os.PathLike) -> Path:
        """Save to directory ``path`` (created if needed): ``config.json`` + ``model.safetensors``.

        Returns:
            The directory.
        """
        return save(self, path)

    @classmethod
    def load(cls: type[T], path: str | os.PathLike) -> T:
        """Load a saved instance of this class (or a subclass); see :func:`load`."""
        obj = load(path)
        if not isinstance(obj, cls):
            raise SerializationError(f"path: {path} holds a {type(obj).__name__}, not a {cls.__name__}")
        return obj


def check_layer_sizes(config: Any, tensors: Mapping[str, Tensor], *, layer_pattern: str) -> None:
    """For recurrent layers: ``input_size``/``hidden_size``/``proj_size`` no larger than the largest
    saved dimension and ``num_layers`` equal to the layers in the tensor names (the distinct first
    groups of ``layer_pattern``, a regular expression matched at the start of each name), so a
    crafted size of 10**9 is refused instead of allocating for hours."""
    if not isinstance(config, dict):
        return
    layers = len({m.group(1) for name in tensors if (m := re.match(layer_pattern, name))})
    largest = max((max(t.shape, default=1) for t in tensors.values()), default=0)
    for key in ("input_size", "hidden_size", "proj_size"):
        value = config.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value > max(largest, 1):
            raise SerializationError(f"config: {key}={value} is larger than any saved tensor dimension ({largest}); "
                                     "the config or the weights were altered")
    value = config.get("num_layers", 1)
    if isinstance(value, int) and not isinstance(value, bool) and value != layers:
        raise SerializationError(f"config: num_layers={value} but the saved weights hold {layers} layer(s)")


def load_state_dict_checked(module: nn.Module, tensors: Mapping[str, Tensor], *, what: str) -> None:
    """``module.load_state_dict`` with an error naming missing, unexpected and mis-shaped tensors."""
    own = module.state_dict()
    missing = sorted(set(own) - set(tensors))
    unexpected = sorted(set(tensors) - set(own))
    shapes = [
        f"{k}: expected {tuple(own[k].shape)}, got {tuple(tensors[k].shape)}"
        for k in own
        if k in tensors and own[k].shape != tensors[k].shape
    ]
    problems = []
    if missing:
        problems.append(f"missing {missing[:5]}{' ...' if len(missing) > 5 else ''}")
    if unexpected:
        problems.append(f"unexpected {unexpected[:5]}{' ...' if len(unexpected) > 5 else ''}")
    if shapes:
        problems.append("shape mismatch " + "; ".join(shapes[:5]))
    if problems:
        raise SerializationError(f"{what}: the saved weights do not fit this model: " + ", ".join(problems))
    with torch.no_grad():
        module.load_state_dict({k: v.to(own[k].dtype) for k, v in tensors.items()})


def _model_files(path: Path) -> set[str] | None:
    """The names a saved model directory may hold (``None`` when ``path`` is not one)."""
    try:
        meta = json.loads((path / CONFIG_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    files = meta.get("files") if isinstance(meta, dict) else None
    tensors = meta.get("tensors") if isinstance(meta, dict) else None
    names = {CONFIG_FILE, TENSOR_FILE}
    names |= {n for n in files if isinstance(n, str)} if isinstance(files, dict) else set()
    if isinstance(tensors, dict) and isinstance(tensors.get("file"), str):
        names.add(tensors["file"])
    return names


def _check_replaceable(path: Path) -> None:
    """Saving replaces the whole directory: refuse one that holds anything but a saved model."""
    if not path.exists():
        return
    if not path.is_dir():
        raise SerializationError(f"path: {path} exists and is not a directory")
    entries = [p.name for p in path.iterdir() if not (p.name.startswith(".") and p.name.endswith(".tmp"))]
    if not entries:
        return
    allowed = _model_files(path)
    others = sorted(set(entries) - (allowed or set()))
    if allowed is None or others:
        raise SerializationError(
            f"path: {path} already holds files that are not a saved rnnkit model ({others[:5] or entries[:5]}); "
            "saving replaces the whole directory, so give a new or empty directory (or a previous model's)"
        )


def save(obj: Saveable, path: str | os.PathLike) -> Path:
    """Save a :class:`Saveable` to directory ``path``, atomically as a whole (see the module docstring).

    Raises:
        SerializationError: ``path`` is a file, or a directory that holds anything but a saved model.
        TypeError: ``get_config()`` / ``json_state()`` return values JSON cannot hold.
    """
    from rnnkit.atomic_dir import clean_leftovers, replace_directory, staging_dir

    if not isinstance(obj, Saveable):
        raise TypeError(f"obj: expected an rnnkit.serialization.Saveable, got {type(obj).__name__}")
    path = Path(os.path.abspath(path))
    config = obj.get_config()
    state = obj.json_state()
    for name, value in (("get_config()", config), ("json_state()", state)):
        try:
            json.dumps(value)
        except (TypeError, ValueError) as error:
            raise TypeError(f"{type(obj).__name__}.{name} must return JSON-able values: {error}") from None
    extra = {}
    for name, content in obj.extra_files().items():
        if not _plain_name(name) or name in (CONFIG_FILE, TENSOR_FILE):
            raise SerializationError(f"extra_files: {name!r} must be a plain file name other than the model's own")
        extra[name] = content.encode("utf-8") if isinstance(content, str) else bytes(content)
    tensors = obj.tensor_state()
    clean_leftovers(path, CONFIG_FILE)
    _check_replaceable(path)
    staging = staging_dir(path)
    try:
        files = {}
        for name, data in extra.items():
            atomic_write(staging / name, lambda tmp, data=data: Path(tmp).write_bytes(data))
            files[name] = hashlib.sha256(data).hexdigest()
        digest = write_tensors(staging / TENSOR_FILE, tensors)
        write_json(staging / CONFIG_FILE, {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "rnnkit_version": _version(),
            "class": class_key(type(obj)),
            "config": config,
            "state": state,
            "tensors": {"file": TENSOR_FILE, "sha256": digest},
            "files": files,
        })
        replace_directory(staging, path)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return path


def _plain_name(name: Any) -> bool:
    """A file name with no directory part, not hidden, not ``..``: it stays inside the model directory."""
    return (isinstance(name, str) and bool(name) and name == Path(name).name and "/" not in name
            and "\\" not in name and not name.startswith(".") and "\x00" not in name)


def _module_exists(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:  # a parent package that does not exist
        return False


def resolve_class(key: str) -> type[Saveable]:
    """The registered Saveable class saved under ``key``.

    Nothing named in a file is ever imported: when ``key`` is not registered and its module is
    one of :data:`RNNKIT_SAVEABLE_MODULES`, that rnnkit module is imported (registering its
    classes); any other name must have been imported by the caller.

    Raises:
        SerializationError: ``key`` is not a string or not a registered class.
    """
    if not isinstance(key, str):
        raise SerializationError(f"class: expected a class name (a string), got {type(key).__name__}")
    if key not in _REGISTRY:
        module = next((m for m in RNNKIT_SAVEABLE_MODULES if key.startswith(m + ".")), None)
        if module is not None and _module_exists(module):
            importlib.import_module(module)
    if key not in _REGISTRY:
        raise SerializationError(
            f"class: {key!r} is not a known Saveable class; import the module that defines it before loading "
            "(rnnkit.load never imports a module because a file names it)"
        )
    return _REGISTRY[key]


def _check_meta(meta: Any, where: Path) -> dict[str, Any]:
    """The parts of ``config.json`` that are read, each of the right type."""
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise SerializationError(f"config: {where} is not an rnnkit model config")
    version = meta.get("format_version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise SerializationError(f"config: format_version in {where} must be a positive integer, got {version!r}")
    if version > FORMAT_VERSION:
        raise SerializationError(
            f"config: format_version {version} is newer than this rnnkit understands "
            f"({FORMAT_VERSION}); saved by rnnkit {meta.get('rnnkit_version')}"
        )
    for key, kind in (("config", dict), ("state", dict), ("tensors", dict), ("files", dict)):
        if not isinstance(meta.get(key, {}), kind):
            raise SerializationError(f"config: {key!r} in {where} must be a JSON object, got "
                                     f"{type(meta[key]).__name__}")
    tensors = meta.get("tensors", {})
    if not _plain_name(tensors.get("file", TENSOR_FILE)):
        raise SerializationError(f"config: the weights file {tensors.get('file')!r} in {where} must be a plain "
                                 "file name inside the model directory")
    for name, digest in [("weights", tensors.get("sha256")), *(meta.get("files") or {}).items()]:
        if not (isinstance(digest, str) and _SHA256.fullmatch(digest)):
            raise SerializationError(f"config: {where} has no valid SHA-256 for {name!r} (got {digest!r}); a model "
                                     "directory without its checksums is refused")
    return meta


def load(path: str | os.PathLike) -> Any:
    """Load what :func:`save` (or ``obj.save``) wrote.

    Args:
        path: the saved directory (or its ``config.json``).

    Returns:
        A new instance of the saved class, in eval mode if it is an ``nn.Module``.

    Raises:
        SerializationError: missing or corrupted files, missing checksums, an unknown class, a
            config of the wrong shape, or weights that do not fit the model the config
            describes. Nothing on disk is modified, and no module named in the file is imported.

    Example:
        >>> layer = rnnkit.Recurrent("gru", 3, 8)
        >>> layer.save("/tmp/gru")
        >>> same = rnnkit.load("/tmp/gru")
    """
    from rnnkit.atomic_dir import interrupted_copy

    path = Path(path)
    if path.name == CONFIG_FILE:
        path = path.parent
    orphan = interrupted_copy(Path(os.path.abspath(path)), CONFIG_FILE)
    if orphan is not None:
        warnings.warn(f"{path}: a save was interrupted; loading the previous model from {orphan}", stacklevel=2)
        path = orphan
    if path.is_file():
        raise SerializationError(f"path: {path} is a file; rnnkit.load expects a saved model directory "
                                 f"(the folder that holds {CONFIG_FILE})")
    if not path.is_dir():
        raise SerializationError(f"path: {path} is not a saved model directory (it does not exist)")
    meta = _check_meta(read_json(path / CONFIG_FILE, what="config"), path / CONFIG_FILE)
    cls = resolve_class(meta.get("class"))
    info = meta.get("tensors", {})
    tensors = read_tensors(path / info.get("file", TENSOR_FILE), expected_sha256=info["sha256"], what="weights")
    extra = {}
    for name, digest in (meta.get("files") or {}).items():
        if not _plain_name(name) or not (path / name).is_file():
            raise SerializationError(f"files: {name!r} named in {path / CONFIG_FILE} is missing or not a plain name")
        data = (path / name).read_bytes()
        if hashlib.sha256(data).hexdigest() != digest:
            raise SerializationError(f"files: {path / name} does not match the checksum recorded in config.json")
        extra[name] = data
    stage = "config"
    try:
        # Sizes are checked against the saved tensors before anything is built: a crafted
        # num_layers or hidden_size of 10**9 would otherwise allocate (or loop) for hours.
        cls.check_config_fits_tensors(meta.get("config", {}), tensors)
        obj = cls.from_config(meta.get("config", {}))
        stage = "files"
        obj.load_extra_files(extra)
        stage = "state"
        obj.load_json_state(meta.get("state", {}))
        stage = "weights"
        obj.load_tensor_state(tensors)
    except SerializationError:
        raise
    except (TypeError, ValueError, KeyError, IndexError, AttributeError, RuntimeError) as error:
        # A crafted or damaged config.json reaches the class's own code: say where, in our error type.
        what = {"config": "build", "files": "restore the files of", "state": "restore the saved state of",
                "weights": "load the weights into"}[stage]
        raise SerializationError(
            f"{stage}: cannot {what} {cls.__name__} from {path / CONFIG_FILE}: {type(error).__name__}: {error}"
        ) from error
    if isinstance(obj, nn.Module):
        obj.eval()
    return obj


__all__ = [
    "Saveable",
    "SerializationError",
    "atomic_write",
    "class_key",
    "load",
    "load_state_dict_checked",
    "read_json",
    "read_tensors",
    "resolve_class",
    "save",
    "write_json",
    "write_tensors",
]
