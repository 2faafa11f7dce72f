"""Pictures of ``rnnkit classify``: confusion matrix, training curves, per-token attention (PNG, no display)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np


def _pyplot():
    from rnnkit.plots import pyplot

    return pyplot()


def plot_confusion(matrix: np.ndarray, classes: Sequence, path: Path, *, title: str) -> Path:
    """The confusion matrix (rows: true class, columns: predicted), counts and row shares."""
    plt = _pyplot()
    size = max(4.0, 0.6 * len(classes) + 2)
    fig, ax = plt.subplots(figsize=(size, size))
    shares = matrix / np.maximum(matrix.sum(1, keepdims=True), 1)
    ax.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    for i in range(matrix.shape[0]):
        for j in range(matrix.shape[1]):
            ax.text(j, i, f"{matrix[i, j]}\n{shares[i, j]:.0%}", ha="center", va="center", fontsize=8,
                    color="white" if shares[i, j] > 0.5 else "black")
    ax.set_xticks(range(len(classes)), [str(c) for c in classes], rotation=45, ha="right")
    ax.set_yticks(range(len(classes)), [str(c) for c in classes])
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_training(history: list[dict], path: Path, *, title: str) -> Path | None:
    """Training loss and validation loss/accuracy per epoch (None when there is no history)."""
    if not history:
        return None
    plt = _pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
    epochs = [row["epoch"] + 1 for row in history]
    left.plot(epochs, [row.get("train_loss", np.nan) for row in history], marker="o", label="train loss")
    if any("val_loss" in row for row in history):
        left.plot(epochs, [row.get("val_loss", np.nan) for row in history], marker="o", label="validation loss")
    left.set_xlabel("epoch")
    left.legend()
    if any("val_accuracy" in row for row in history):
        right.plot(epochs, [row.get("val_accuracy", np.nan) for row in history], marker="o", color="tab:green")
        right.set_ylabel("validation accuracy")
    right.set_xlabel("epoch")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_attention(tokens: Sequence[str], weights: Sequence[float], path: Path, *, title: str) -> Path:
    """Each token shaded by its attention weight, in reading order, wrapped over lines."""
    plt = _pyplot()
    per_line = 12
    lines = max(1, -(-len(tokens) // per_line))
    fig, ax = plt.subplots(figsize=(12, 0.6 * lines + 1.0))
    top = max(max(weights), 1e-9)
    for k, (token, weight) in enumerate(zip(tokens, weights, strict=True)):
        row, col = divmod(k, per_line)
        ax.text(col + 0.5, lines - row - 0.5, token, ha="center", va="center", fontsize=10,
                bbox={"facecolor": plt.cm.Reds(0.85 * weight / top), "edgecolor": "none", "pad": 3})
    ax.set_xlim(0, per_line)
    ax.set_ylim(0, lines)
    ax.axis("off")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


__all__ = ["plot_attention", "plot_confusion", "plot_training"]
