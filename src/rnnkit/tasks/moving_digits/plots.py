"""The moving-digits picture, drawn through :mod:`rnnkit.plots`: true frames, one-step predictions, rollout."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from torch import Tensor

from rnnkit.plots import pyplot, save_figure


def plot_predictions(estimator: Any, test: Tensor, context: int, path: str | Path, examples: int = 3) -> Path:
    """PNG: for each example, rows of true frames, one-step predictions and the closed-loop rollout.

    Args:
        estimator: a fitted :class:`~rnnkit.tasks.moving_digits.FramePredictor`.
        test: sequences ``(S, T, 1, H, W)``; the first ``examples`` are drawn.
        context: frames given before the rollout.
        path: the PNG to write.
        examples: sequences to draw.

    Returns:
        ``path``.
    """
    plt = pyplot()
    batch = test[:examples]
    one_step = estimator.predict(batch[:, :-1])
    rolled = estimator.rollout(batch[:, :context], batch.shape[1] - context)
    frames = batch.shape[1]
    rows = [("true", lambda e, t: batch[e, t]), ("one-step", lambda e, t: one_step[e, t - 1] if t > 0 else None)]
    rows.append(("rollout", lambda e, t: rolled[e, t - context] if t >= context else batch[e, t]))
    fig, axes = plt.subplots(len(rows) * len(batch), frames, figsize=(frames * 0.9, len(rows) * len(batch) * 0.95),
                             squeeze=False)
    for e in range(len(batch)):
        for r, (label, get) in enumerate(rows):
            row = e * len(rows) + r
            for t in range(frames):
                ax = axes[row, t]
                image = get(e, t)
                ax.imshow(np.zeros((1, 1)) if image is None else image[0].numpy(), cmap="gray", vmin=0, vmax=1)
                ax.set_xticks([])
                ax.set_yticks([])
                if label == "rollout" and t < context:
                    ax.set_xlabel("given", fontsize=6)  # context frames, not predictions
                if row == 0:
                    ax.set_title(f"t={t + 1}", fontsize=7)
            axes[row, 0].set_ylabel(label, fontsize=7)
    fig.suptitle(
        f"Moving digits: true frames, one-step predictions, rollout after {context} given frames", fontsize=8
    )
    return save_figure(fig, path)


__all__ = ["plot_predictions"]
