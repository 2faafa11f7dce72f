"""Pictures of ``rnnkit tag``: per-type F1 of each method and the confusion between types."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from rnnkit.models.tag_schemes import split_tag


def tag_type(tag: str, scheme: str) -> str:
    """The type a tag stands for (``B-PER`` -> ``PER``; POS tags as they are)."""
    return tag if scheme == "none" else (split_tag(tag)[1] or "O")


def plot_per_type(per_type: dict[str, dict[str, dict[str, float]]], gold: Sequence[Sequence[str]],
                  predicted: Sequence[Sequence[str]], scheme: str, path: Path, *, title: str) -> Path:
    """Two panels: F1 per type for each method (``{method: per_type}``), and the model's row-normalised
    token-level confusion between types (gold rows, predicted columns).

    Returns:
        ``path``.
    """
    import numpy as np

    from rnnkit.plots import pyplot

    plt = pyplot()

    first = next(iter(per_type.values()))
    types = sorted(first, key=lambda t: -first[t]["support"])
    fig, (bars, grid) = plt.subplots(1, 2, figsize=(13, 5), gridspec_kw={"width_ratios": [1.3, 1]})
    width = 0.8 / len(per_type)
    for k, (method, rows) in enumerate(per_type.items()):
        values = [100 * rows.get(t, {"f1": 0.0})["f1"] for t in types]
        bars.bar(np.arange(len(types)) + k * width, values, width, label=method)
    bars.set_xticks(np.arange(len(types)) + 0.4 - width / 2, types, rotation=45, ha="right")
    bars.set_ylabel("F1 %")
    bars.set_ylim(0, 100)
    bars.legend(fontsize=8)
    bars.set_title(title)
    labels = types + (["O"] if scheme != "none" else [])
    index = {t: i for i, t in enumerate(labels)}
    counts = np.zeros((len(labels), len(labels)))
    for g_row, p_row in zip(gold, predicted, strict=True):
        for g, p in zip(g_row, p_row, strict=True):
            gi, pi = index.get(tag_type(g, scheme)), index.get(tag_type(p, scheme))
            if gi is not None and pi is not None:
                counts[gi, pi] += 1
    rates = counts / np.maximum(counts.sum(1, keepdims=True), 1)
    grid.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    grid.set_xticks(range(len(labels)), labels, rotation=90, fontsize=7)
    grid.set_yticks(range(len(labels)), labels, fontsize=7)
    grid.set_xlabel("predicted type")
    grid.set_ylabel("gold type")
    grid.set_title(f"{next(iter(per_type))}: gold -> predicted (row share)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


__all__ = ["plot_per_type", "tag_type"]
