"""``rnnkit`` command line: a thin shell over :mod:`rnnkit.tasks`."""

from __future__ import annotations

import argparse
from collections.abc import Sequence


def _demo(args: argparse.Namespace) -> int:
    from rnnkit.tasks.quick_forecast import QuickForecastConfig, run_quick_forecast

    run_quick_forecast(QuickForecastConfig(epochs=args.epochs))
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    parser = argparse.ArgumentParser(prog="rnnkit", description="Recurrent neural networks on PyTorch.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = sub.add_parser("demo", help="train a small LSTM on the embedded sunspot series and compare with naive")
    demo.add_argument("--epochs", type=int, default=30, help="training epochs (default 30)")
    demo.set_defaults(run=_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``rnnkit`` command."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        parser.print_help()
        return 0
    return args.run(args)
