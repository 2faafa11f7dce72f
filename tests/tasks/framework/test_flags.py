"""Flags generated from a settings dataclass: bare booleans, aliases, lists and the help text."""

from __future__ import annotations

import argparse
from dataclasses import dataclass

import pytest

from rnnkit.tasks.framework.cli import add_dataclass_flags
from rnnkit.tasks.framework.config import setting


@dataclass
class Settings:
    quick: bool = setting(False, "a small preset")
    models: list[str] = setting(help="comma-separated models", default_factory=lambda: ["lstm"], aliases=("cells",))
    lengths: list[int] | None = setting(None, "lengths T")
    hidden_size: int = setting(8, "units")


def _parse(argv):
    parser = argparse.ArgumentParser(exit_on_error=False)
    options = add_dataclass_flags(parser, Settings)
    return vars(parser.parse_args(argv)), options, parser


def test_a_boolean_flag_alone_means_true_and_takes_a_value():
    assert _parse(["--quick"])[0] == {"quick": True}
    assert _parse(["--quick", "false"])[0] == {"quick": False}
    assert _parse(["--quick", "yes", "--hidden-size", "3"])[0] == {"quick": True, "hidden_size": 3}
    assert _parse([])[0] == {}  # nothing given: nothing in the namespace, the dataclass keeps its defaults


def test_aliases_lists_and_help():
    values, options, parser = _parse(["--cells", "gru,indrnn", "--lengths", "10,20"])
    assert values == {"models": ("gru", "indrnn"), "lengths": (10, 20)}
    assert {"--models", "--cells", "--hidden-size", "--hidden_size"} <= set(options)
    text = parser.format_help()
    assert "--models LIST, --cells LIST" in text and "comma-separated models (default: ['lstm'])" in text
    with pytest.raises(argparse.ArgumentError, match="--lengths: cannot read 'ten' as list"):
        parser.parse_args(["--lengths", "ten"])
