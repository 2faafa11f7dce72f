"""The one matplotlib helper behind every picture rnnkit writes (PNG files, no display needed).

:func:`pyplot` sets matplotlib up once (the ``Agg`` backend; a missing matplotlib is a
:class:`~rnnkit.optional.MissingDependency` naming ``pip install 'rnnkit[plots]'``),
:func:`save_figure` lays a figure out, writes it and closes it, and :func:`plot_training_curves`
is the one training-curve plot (the Trainer's ``training_curves.png`` and the forecaster's
``training_curve.png``). The pictures themselves are drawn next to what they show: forecasts in
:mod:`rnnkit.tasks.forecast.plots`, gradient flow in :mod:`rnnkit.training.diagnostics`, the
benchmarks in :mod:`rnnkit.bench`, moving digits in :mod:`rnnkit.tasks.moving_digits.plots`.

Like :mod:`rnnkit.serialization` and :mod:`rnnkit.optional`, a foundation module: it imports
nothing of rnnkit but :mod:`rnnkit.optional`, so every layer (the Trainer included) may use it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rnnkit.optional import require


def pyplot() -> Any:
    """``matplotlib.pyplot`` on the non-interactive ``Agg`` backend.

    Returns:
        The ``matplotlib.pyplot`` module.

    Raises:
        MissingDependency: matplotlib is not installed (the message names ``rnnkit[plots]``).

    Example:
        >>> plt = pyplot()
        >>> figure, axis = plt.subplots()
        >>> save_figure(figure, "/tmp/empty.png").name
        'empty.png'
    """
    matplotlib = require("matplotlib", "plots")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(figure: Any, path: str | Path, *, dpi: int = 110, tight: bool = True) -> Path:
    """Lay out (``tight_layout``), write and close ``figure``; the folder is created if missing.

    Args:
        figure: a matplotlib ``Figure``.
        path: the PNG to write.
        dpi: resolution.
        tight: call ``figure.tight_layout()`` first.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.
    """
    plt = pyplot()
    path = Path(path)
    if tight:
        figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=dpi)
    plt.close(figure)
    return path


def _series(rows: Sequence[dict[str, Any]], key: str) -> tuple[list[float], list[float]]:
    """(steps, values) of the rows that hold a finite ``key``."""
    pairs = [(float(r["step"]), float(r[key])) for r in rows if r.get(key) not in (None, "")]
    pairs = [(s, v) for s, v in pairs if math.isfinite(v)]
    return [p[0] for p in pairs], [p[1] for p in pairs]


def plot_training_curves(
    rows: Sequence[dict[str, Any]],
    path: str | Path,
    *,
    title: str | None = None,
    val_keys: Sequence[str] | None = None,
    gradient_norm: bool = True,
    loss_label: str | None = None,
    dpi: int = 100,
) -> Path | None:
    """Training loss per step with the validation metrics, and (optionally) the gradient norm.

    Args:
        rows: training-log rows with ``step`` and any of ``train_loss``, ``val_*``, ``grad_norm``
            (the Trainer's ``metrics.csv`` rows, or ``Forecaster.training_log_``).
        path: the PNG to write.
        title: title of the loss panel (default ``"loss and validation metrics"``).
        val_keys: the validation columns to draw (default: every ``val_*`` column).
        gradient_norm: add a second panel with the gradient 2-norm before clipping.
        loss_label: y-axis label of the loss panel (e.g. ``"loss (scaled units)"``).
        dpi: resolution.

    Returns:
        The path, or ``None`` when the rows hold nothing to plot.

    Raises:
        MissingDependency: matplotlib is not installed.

    Example:
        >>> rows = [{"step": 1, "train_loss": 1.0}, {"step": 2, "train_loss": 0.5, "val_loss": 0.6}]
        >>> plot_training_curves(rows, "/tmp/curves.png").name
        'curves.png'
    """
    plt = pyplot()
    if val_keys is None:
        val_keys = sorted({k for r in rows for k in r if k.startswith("val_")})
    steps, loss = _series(rows, "train_loss")
    if not steps and not val_keys:
        return None
    figure, axes = plt.subplots(1, 2, figsize=(11, 4)) if gradient_norm else plt.subplots(figsize=(7, 4))
    loss_axis = axes[0] if gradient_norm else axes
    if steps:
        loss_axis.plot(steps, loss, label="train loss", alpha=0.8, marker="." if len(steps) < 50 else None)
    for key in val_keys:
        xs, ys = _series(rows, key)
        loss_axis.plot(xs, ys, marker="o", label=key)
    loss_axis.set_xlabel("optimizer step")
    if loss_label:
        loss_axis.set_ylabel(loss_label)
    loss_axis.set_title(title or "loss and validation metrics")
    if loss and min(loss) > 0:
        loss_axis.set_yscale("log")
    loss_axis.legend()
    if gradient_norm:
        xs, norms = _series(rows, "grad_norm")
        axes[1].plot(xs, norms, color="tab:red", marker="." if len(xs) < 50 else None)
        axes[1].set_xlabel("optimizer step")
        axes[1].set_title("gradient 2-norm (before clipping)")
        if norms and min(norms) > 0:
            axes[1].set_yscale("log")
    return save_figure(figure, path, dpi=dpi)


__all__ = ["plot_training_curves", "pyplot", "save_figure"]
