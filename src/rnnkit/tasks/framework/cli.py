"""One command-line mechanism for every application: ``rnnkit <app> [train|evaluate|predict]``.

Every flag of ``train`` and ``evaluate`` is generated from the app's config dataclass (help text
from the field's metadata); ``--config FILE`` reads the same settings from YAML, TOML or a run's
``config.json``, and flags override the file. ``predict`` takes ``--model DIR`` and the app's own
input flags.
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import json
import typing
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rnnkit.tasks.framework.config import AppConfig, ConfigError, base_type

COMMANDS = ("train", "evaluate", "predict", "generate")  # generate: another name of predict


class CLIError(Exception):
    """A user error on the command line or in a config file: printed without a traceback."""


def parse_flag_value(kind: Any, optional: bool, name: str):
    """An argparse ``type=`` for a dataclass field annotation (bool words, numbers, lists, JSON)."""

    def parse(text: str) -> Any:
        if optional and text.lower() in ("none", "null"):
            return None
        origin = typing.get_origin(kind) or kind
        try:
            if kind is bool:
                if text.lower() in ("true", "1", "yes", "on"):
                    return True
                if text.lower() in ("false", "0", "no", "off"):
                    return False
                raise ValueError(text)
            if kind is int:
                return int(text)
            if kind is float:
                return float(text)
            if origin in (tuple, list):
                inner = typing.get_args(kind)
                item = inner[0] if inner else str
                convert = {int: int, float: float}.get(item, str)
                return tuple(convert(v.strip()) for v in text.split(",") if v.strip())
            if origin is dict:
                value = json.loads(text)
                if not isinstance(value, dict):
                    raise ValueError(text)
                return value
        except ValueError:
            expected = getattr(kind, "__name__", str(kind))
            raise argparse.ArgumentTypeError(f"{name}: cannot read {text!r} as {expected}") from None
        return text

    return parse


def add_dataclass_flags(parser: argparse.ArgumentParser, cls: type, *, prefix: str = "", dest: str = "") -> list[str]:
    """Add ``--{prefix}{field}`` for every field of dataclass ``cls``; returns the option strings.

    Help comes from ``field.metadata["help"]`` (see :func:`rnnkit.tasks.framework.config.setting`),
    followed by the default. Values not given on the command line are left out of the namespace.
    """
    hints = typing.get_type_hints(cls)
    options = []
    group = parser.add_argument_group(f"{cls.__name__} settings")
    for f in dataclasses.fields(cls):
        kind, optional = base_type(hints[f.name])
        flag = f"--{prefix}{f.name.replace('_', '-')}"
        names = [flag] if "_" not in f.name else [flag, f"--{prefix}{f.name}"]
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        text = f.metadata.get("help", "")
        choices = f.metadata.get("choices")
        if choices:
            text += f" ({', '.join(map(str, choices))})"
        metavar = getattr(typing.get_origin(kind) or kind, "__name__", "VALUE").upper()
        group.add_argument(*names, dest=f"{dest}{f.name}", type=parse_flag_value(kind, optional, flag),
                           default=argparse.SUPPRESS, metavar=metavar,
                           help=f"{text} (default: {default!r})".strip().replace("%", "%%"))
        options += names
    return options


def parse_or_suggest(parser: argparse.ArgumentParser, argv: Sequence[str], valid: list[str]) -> argparse.Namespace:
    """``parse_known_args`` that turns an unknown flag into an error naming the closest valid one."""
    args, unknown = parser.parse_known_args(argv)
    for item in unknown:
        if item.startswith("-"):
            flag = item.split("=", 1)[0]
            close = difflib.get_close_matches(flag, valid, n=1)
            parser.error(f"unknown option {flag}" + (f"; did you mean {close[0]}?" if close else ""))
    if unknown:
        parser.error(f"unexpected arguments: {' '.join(unknown)}")
    return args


def read_settings_file(path: str | Path) -> dict[str, Any]:
    """Settings from YAML/TOML (a flat mapping) or a run directory's ``config.json``."""
    path = Path(path)
    if path.is_dir():
        if (path / "config.json").is_file():
            path = path / "config.json"
        else:
            raise CLIError(f"--config: {path} is a directory without a config.json; give a YAML, TOML or JSON file")
    if not path.is_file():
        raise CLIError(f"--config: {path} does not exist")
    text = path.read_text(encoding="utf-8")
    try:
        if path.suffix == ".toml":
            try:
                import tomllib
            except ModuleNotFoundError:  # Python 3.10
                import tomli as tomllib
            data = tomllib.loads(text)
        elif path.suffix == ".json":
            data = json.loads(text)
        else:
            import yaml

            data = yaml.safe_load(text) or {}
    except Exception as error:  # the parsers' own errors carry the line and column
        raise CLIError(f"--config: cannot parse {path}: {error}") from None
    if not isinstance(data, dict):
        raise CLIError(f"--config: {path} must hold a mapping of settings, got {type(data).__name__}")
    if "config" in data and isinstance(data["config"], dict) and set(data) <= {"app", "config"}:
        data = data["config"]  # a run directory's config.json
    return dict(data)


def _parser(app: Any, command: str) -> tuple[argparse.ArgumentParser, list[str]]:
    descriptions = {
        "train": f"{app.summary} Trains, evaluates against the baselines and writes a run directory "
                 "(config.json, metrics.json, metrics.md, plots, model/). With no --data: the built-in data.",
        "evaluate": "Score a saved model (and the baselines) on the app's data or --data.",
        "predict": "Run a saved model on new inputs.",
    }
    parser = argparse.ArgumentParser(prog=f"rnnkit {app.name} {command}", description=descriptions[command],
                                     allow_abbrev=False)
    if command == "predict":
        parser.add_argument("--model", required=True, help="a model directory (run directory's model/)")
        app.add_predict_arguments(parser)
        return parser, [a for action in parser._actions for a in action.option_strings]
    if command == "evaluate":
        parser.add_argument("--model", required=True, help="a model directory (run directory's model/)")
    parser.add_argument("--config", help="YAML, TOML or a run's config.json with the settings; flags override it")
    parser.add_argument("--quiet", action="store_true", help="no progress bar or tables")
    valid = [a for action in parser._actions for a in action.option_strings]
    valid += add_dataclass_flags(parser, app.config_class)
    return parser, valid


def build_config(app: Any, args: argparse.Namespace, *, base: dict[str, Any] | None = None) -> AppConfig:
    """The app's config from (saved settings, a --config file, flags), later ones winning."""
    names = {f.name for f in dataclasses.fields(app.config_class)}
    values = dict(base or {})
    if getattr(args, "config", None):
        values.update(read_settings_file(args.config))
    values.update({k: v for k, v in vars(args).items() if k in names})
    if getattr(args, "quiet", False):
        values["progress"] = False
    try:
        return app.config_class.from_dict(values, where="config")
    except ConfigError as error:
        raise CLIError(str(error)) from None


def app_main(app: Any, argv: Sequence[str]) -> int:
    """``rnnkit <app> [train|evaluate|predict] [flags]``; ``train`` when no command is given."""
    from rnnkit.tasks.framework.app import run_pipeline

    argv = list(argv)
    command = argv.pop(0) if argv and argv[0] in COMMANDS else "train"
    command = "predict" if command == "generate" else command
    if argv and not argv[0].startswith("-") and command == "train":
        close = difflib.get_close_matches(argv[0], COMMANDS, n=1)
        raise CLIError(f"unknown command {argv[0]!r}" + (f"; did you mean {close[0]!r}?" if close else "")
                       + f" (rnnkit {app.name} takes {', '.join(COMMANDS)})")
    parser, valid = _parser(app, command)
    args = parse_or_suggest(parser, argv, sorted(set(valid)))
    if command == "predict":
        return app.predict(app.load_estimator(args.model), args)
    if command == "evaluate":
        from rnnkit.tasks.framework.app import RunContext

        estimator = app.load_estimator(args.model)
        saved = Path(args.model).parent / "config.json"
        base = {}
        if saved.is_file():
            from rnnkit.tasks.framework.rundir import read_run_config

            base = {k: v for k, v in read_run_config(saved)["config"].items() if k not in ("data", "output_dir")}
        config = build_config(app, args, base=base)
        out = Path(config.output_dir) if config.output_dir else None
        if out is not None:
            out.mkdir(parents=True, exist_ok=True)
        data = app.load_data(config)
        report = app.evaluate(estimator, data, config, RunContext(out, [], True))
        if out is not None:
            from rnnkit.tasks.framework.rundir import RunDirectory

            RunDirectory(out).write_report(report)
        print(report.markdown())
        return 0
    config = build_config(app, args)
    run_pipeline(app, config, verbose=True)
    return 0


__all__ = ["CLIError", "add_dataclass_flags", "app_main", "build_config", "parse_flag_value", "parse_or_suggest",
           "read_settings_file"]
