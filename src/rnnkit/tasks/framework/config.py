"""Application settings: one dataclass per app, every field declared with :func:`setting`.

The dataclass is the single source of an app's settings: the CLI flags (``--hidden-size``) and
their help text, config files (``rnnkit <app> train --config run.yaml``), the tuner's search space
(``rnnkit tune <app>``) and the ``config.json`` of a run all come from it. Values are validated when
the config is built, so a wrong type, a non-finite number or a value out of range is an error that
names the field, never a silent coercion.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

C = TypeVar("C", bound="AppConfig")

_MISSING = dataclasses.MISSING


class ConfigError(ValueError):
    """A setting has the wrong type, is out of range, or is not a setting of the app."""


def setting(
    default: Any = _MISSING,
    help: str = "",
    *,
    min: float | None = None,
    max: float | None = None,
    choices: Sequence[Any] | None = None,
    search: Mapping[str, Any] | None = None,
    default_factory: Any = _MISSING,
    aliases: Sequence[str] = (),
) -> Any:
    """A dataclass field with help text, validity bounds and an optional search range.

    Args:
        default: the default value (or give ``default_factory``).
        help: one line shown by ``--help`` and in the docs.
        min, max: inclusive bounds every value must respect (checked when the config is built).
        choices: the allowed values, for strings.
        search: the tuner's range: ``{"low": 1e-4, "high": 1e-2, "log": True}`` for numbers,
            ``{"choices": [...]}`` for categories. Fields without it are not tuned.
        default_factory: for mutable defaults.
        aliases: other flag names the CLI accepts for the field (``("cells",)`` adds ``--cells``).

    Returns:
        A ``dataclasses.field``.

    Example:
        >>> @dataclass
        ... class MyConfig(AppConfig):
        ...     hidden_size: int = setting(64, "state size", min=1, search={"low": 16, "high": 256, "log": True})
    """
    metadata = {"help": help, "min": min, "max": max, "choices": tuple(choices) if choices else None,
                "search": dict(search) if search else None, "aliases": tuple(aliases)}
    if default_factory is not _MISSING:
        return field(default_factory=default_factory, metadata=metadata)
    return field(default=default, metadata=metadata)


def base_type(annotation: Any) -> tuple[Any, bool]:
    """(the non-None type, whether None is allowed) of an annotation such as ``int | None``."""
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        rest = [a for a in args if a is not type(None)]
        return (rest[0] if len(rest) == 1 else Any), type(None) in args
    return annotation, False


def check_value(name: str, value: Any, annotation: Any, metadata: Mapping[str, Any]) -> Any:
    """Check one setting; returns it (ints are accepted where floats are expected, as floats)."""
    kind, optional = base_type(annotation)
    if value is None:
        if optional:
            return None
        raise ConfigError(f"{name}: expected {getattr(kind, '__name__', kind)}, got None")
    origin = typing.get_origin(kind) or kind
    if kind is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{name}: expected true or false, got {value!r} ({type(value).__name__})")
    elif kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{name}: expected an integer, got {value!r} ({type(value).__name__})")
    elif kind is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{name}: expected a number, got {value!r} ({type(value).__name__})")
        value = float(value)
        if not math.isfinite(value):
            raise ConfigError(f"{name}: expected a finite number, got {value!r}")
    elif kind is str:
        if not isinstance(value, str):
            raise ConfigError(f"{name}: expected a string, got {value!r} ({type(value).__name__})")
    elif origin in (tuple, list):
        if not isinstance(value, (tuple, list)):
            raise ConfigError(f"{name}: expected a list, got {value!r} ({type(value).__name__})")
        inner = typing.get_args(kind)
        item = inner[0] if inner else Any
        if item is not Any:
            value = tuple(check_value(f"{name}[{i}]", v, item, {}) for i, v in enumerate(value))
        value = tuple(value) if origin is tuple else list(value)
    elif origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{name}: expected a mapping, got {value!r} ({type(value).__name__})")
    low, high, choices = metadata.get("min"), metadata.get("max"), metadata.get("choices")
    numbers = value if isinstance(value, (tuple, list)) else (value,)
    for number in numbers:
        if isinstance(number, (int, float)) and not isinstance(number, bool):
            if low is not None and number < low:
                raise ConfigError(f"{name}: expected at least {low}, got {number!r}")
            if high is not None and number > high:
                raise ConfigError(f"{name}: expected at most {high}, got {number!r}")
    if choices and value not in choices:
        close = difflib.get_close_matches(str(value), [str(c) for c in choices], n=1)
        raise ConfigError(f"{name}: expected one of {list(choices)}, got {value!r}"
                          + (f"; did you mean {close[0]!r}?" if close else ""))
    return value


@dataclass
class AppConfig:
    """Settings every application has. An app's config subclasses this and adds its own fields.

    Values are checked in ``__post_init__`` (type, finiteness, bounds, choices), so a config that
    exists is valid.
    """

    data: str | None = setting(None, "your own data file (the app's standard format); default: the built-in data")
    output_dir: str | None = setting(None, "run directory to write (default: runs/<app>/<data name>)")
    seed: int = setting(0, "random seed (data splits, initial weights, sampling)", min=0)
    device: str = setting("cpu", "where to train: cpu, cuda or auto", choices=("cpu", "cuda", "auto"))
    progress: bool = setting(True, "show a progress bar and per-epoch lines")

    def __post_init__(self) -> None:
        hints = typing.get_type_hints(type(self))
        for f in dataclasses.fields(self):
            value = check_value(f.name, getattr(self, f.name), hints[f.name], f.metadata)
            object.__setattr__(self, f.name, value)
        self.validate()

    def validate(self) -> None:
        """Checks across fields (override; raise :class:`ConfigError`)."""

    @classmethod
    def from_dict(cls: type[C], values: Mapping[str, Any], *, where: str = "config") -> C:
        """Build from a mapping; an unknown key is an error naming the closest setting."""
        names = [f.name for f in dataclasses.fields(cls)]
        for key in values:
            if key not in names:
                close = difflib.get_close_matches(str(key), names, n=1)
                raise ConfigError(f"{where}: unknown setting {key!r}"
                                  + (f"; did you mean {close[0]!r}?" if close else f" (settings: {', '.join(names)})"))
        return cls(**dict(values))

    def to_dict(self) -> dict[str, Any]:
        """JSON-able values (tuples become lists)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}

    def replace(self: C, **changes: Any) -> C:
        """A copy with some settings changed (validated again)."""
        return dataclasses.replace(self, **changes)


def search_space(config_class: type[AppConfig]) -> dict[str, dict[str, Any]]:
    """The fields with a ``search`` range: ``{name: {"low", "high", "log"} or {"choices"}}``."""
    return {f.name: dict(f.metadata["search"]) for f in dataclasses.fields(config_class)
            if f.metadata.get("search")}


__all__ = ["AppConfig", "ConfigError", "base_type", "check_value", "search_space", "setting"]
