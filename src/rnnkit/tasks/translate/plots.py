"""The translation app's picture: attention weights of one sentence as a heatmap."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np


def attention_heatmap(weights: np.ndarray, src_tokens: Sequence[str], tgt_tokens: Sequence[str],
                      path: str | Path) -> str:
    """Write a heatmap of ``weights`` (``(target tokens, source tokens)``) to ``path`` (PNG).

    Args:
        weights: attention of each produced target token over the source tokens (rows sum to 1).
        src_tokens: the source subwords (columns); extra padded columns are cut off.
        tgt_tokens: the produced subwords (rows).
        path: where the PNG goes.

    Returns:
        The path written, as a string.
    """
    from rnnkit.plots import pyplot

    plt = pyplot()

    weights = np.asarray(weights)[: len(tgt_tokens), : len(src_tokens)]
    fig, ax = plt.subplots(figsize=(max(4.0, 0.35 * len(src_tokens) + 1.5), max(3.0, 0.3 * len(tgt_tokens) + 1.2)))
    image = ax.imshow(weights, cmap="viridis", vmin=0.0, vmax=1.0, aspect="auto")
    ax.set_xticks(range(len(src_tokens)), list(src_tokens), rotation=90, fontsize=8)
    ax.set_yticks(range(len(tgt_tokens)), list(tgt_tokens), fontsize=8)
    ax.set_xlabel("source subwords")
    ax.set_ylabel("output subwords")
    fig.colorbar(image, ax=ax, fraction=0.04)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return str(path)


__all__ = ["attention_heatmap"]
