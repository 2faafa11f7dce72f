"""``rnnkit`` command line: a thin shell over :mod:`rnnkit.tasks`."""

from __future__ import annotations

import argparse
from collections.abc import Sequence


def _demo(args: argparse.Namespace) -> int:
    from rnnkit.tasks.quick_forecast import QuickForecastConfig, run_quick_forecast

    run_quick_forecast(QuickForecastConfig(epochs=args.epochs))
    return 0


def _moving_digits(args: argparse.Namespace) -> int:
    from rnnkit.tasks.moving_digits import MovingDigitsConfig, run_moving_digits

    options = {name: value for name, value in vars(args).items() if name in MovingDigitsConfig.__dataclass_fields__}
    run_moving_digits(MovingDigitsConfig(**{k: v for k, v in options.items() if v is not None}))
    return 0


def _add_moving_digits(sub: argparse._SubParsersAction) -> None:
    from rnnkit.tasks.moving_digits import MovingDigitsConfig

    defaults = MovingDigitsConfig()
    parser = sub.add_parser(
        "moving-digits",
        help="ConvLSTM next-frame prediction of real MNIST digits bouncing in a canvas; writes a PNG and metrics",
    )
    for name, kind, text in [
        ("cell", str, "spatial cell: convlstm or convgru"),
        ("hidden_size", int, "state channels per layer"),
        ("num_layers", int, "stacked layers"),
        ("kernel_size", int, "odd convolution kernel"),
        ("canvas", int, "canvas side in pixels"),
        ("scale", int, "shrink the 28x28 digits by this factor"),
        ("frames", int, "frames per sequence"),
        ("context", int, "frames given before the closed-loop rollout"),
        ("train_sequences", int, "training sequences"),
        ("test_sequences", int, "test sequences (from held-out digits)"),
        ("steps", int, "optimiser steps"),
        ("batch_size", int, "sequences per step"),
        ("lr", float, "Adam learning rate"),
        ("seed", int, "random seed"),
        ("out_dir", str, "where to write moving_digits.png and metrics.json"),
        ("cache_dir", str, "cache of the decoded MNIST digits"),
    ]:
        flag = "--" + name.replace("_", "-")
        help_text = f"{text} (default {getattr(defaults, name)})"
        parser.add_argument(flag, dest=name, type=kind, default=None, help=help_text)
    parser.set_defaults(run=_moving_digits)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    parser = argparse.ArgumentParser(prog="rnnkit", description="Recurrent neural networks on PyTorch.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = sub.add_parser("demo", help="train a small LSTM on the embedded sunspot series and compare with naive")
    demo.add_argument("--epochs", type=int, default=30, help="training epochs (default 30)")
    demo.set_defaults(run=_demo)
    _add_moving_digits(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``rnnkit`` command."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        parser.print_help()
        return 0
    return args.run(args)
