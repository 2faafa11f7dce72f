"""Next-frame prediction of moving MNIST digits with a ConvLSTM (or ConvGRU) stack.

Data: sequences of real MNIST digits bouncing in a canvas (:func:`rnnkit.data.moving_digits`),
training sequences built from 4,000 of the 5,000 digits and test sequences from the other 1,000
(every fifth digit, 100 per class), so the test digits were never seen in training.

Model: ``Recurrent(cell, 1, hidden, num_layers, kernel_size)`` over the frames with its spatial
state, then a 1x1 convolution to one logit per pixel; trained with per-pixel binary cross-entropy
to predict frame ``t + 1`` from frames ``1..t`` (teacher forcing).

Reported on the test sequences, beside two baselines computed on the same frames: the per-pixel
MSE of the one-step predictions (baseline: copy the last frame; and a blank frame), and of a
closed-loop rollout that sees ``context`` frames and then feeds its own predictions back through
``Recurrent.step`` (baselines: keep showing the last context frame; a blank frame). A PNG puts true, one-step and
rolled-out frames side by side. The training loop is deliberately minimal (Adam, clipping); the
project's ``Trainer`` will replace it.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn import functional as F

from rnnkit.data import load_mnist_digits, moving_digits
from rnnkit.models.next_frame import NextFramePredictor


@dataclass
class MovingDigitsConfig:
    """Settings of the moving-digits run (defaults: about ten minutes on one CPU core)."""

    cell: str = "convlstm"
    hidden_size: int = 16
    num_layers: int = 2
    kernel_size: int = 3
    canvas: int = 32
    scale: int = 2
    frames: int = 10
    digits_per_sequence: int = 2
    context: int = 5
    train_sequences: int = 3000
    test_sequences: int = 200
    steps: int = 800
    batch_size: int = 16
    lr: float = 2e-3
    seed: int = 0
    out_dir: str = "runs/moving_digits"
    cache_dir: str | None = None


def make_datasets(config: MovingDigitsConfig) -> tuple[np.ndarray, np.ndarray]:
    """Training and test sequences ``(S, T, 1, canvas, canvas)`` from disjoint sets of real digits."""
    images, _ = load_mnist_digits(cache_dir=config.cache_dir)
    test_digits = np.arange(len(images)) % 5 == 0  # labels are grouped by class: 100 of each
    options = dict(
        frames=config.frames, canvas=config.canvas, digits_per_sequence=config.digits_per_sequence, scale=config.scale
    )
    train = moving_digits(images[~test_digits], sequences=config.train_sequences, seed=config.seed, **options)
    test = moving_digits(images[test_digits], sequences=config.test_sequences, seed=config.seed + 1, **options)
    return train, test


def evaluate(model: NextFramePredictor, test: Tensor, context: int) -> dict[str, float]:
    """Per-pixel MSE (and BCE) of one-step and rolled-out predictions, with baselines on the same frames."""
    model.eval()
    with torch.no_grad():
        logits, _ = model(test[:, :-1])
        target = test[:, 1:]
        one_step = torch.sigmoid(logits)
        rolled = model.rollout(test[:, :context], test.shape[1] - context)
    future = test[:, context:]
    last_context = test[:, context - 1 : context].expand_as(future)
    return {
        "one_step_bce": F.binary_cross_entropy_with_logits(logits, target).item(),
        "one_step_mse": F.mse_loss(one_step, target).item(),
        "copy_last_frame_mse": F.mse_loss(test[:, :-1], target).item(),
        "blank_frame_mse": target.pow(2).mean().item(),
        "rollout_mse": F.mse_loss(rolled, future).item(),
        "rollout_copy_last_context_frame_mse": F.mse_loss(last_context, future).item(),
        "rollout_blank_frame_mse": future.pow(2).mean().item(),
    }


def save_figure(model: NextFramePredictor, test: Tensor, context: int, path: Path, examples: int = 3) -> Path:
    """PNG: for each example, rows of true frames, one-step predictions and the closed-loop rollout."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as error:  # an optional dependency
        raise ModuleNotFoundError("save_figure: needs matplotlib; pip install 'rnnkit[plots]'") from error
    model.eval()
    batch = test[:examples]
    with torch.no_grad():
        one_step = torch.sigmoid(model(batch[:, :-1])[0])
        rolled = model.rollout(batch[:, :context], batch.shape[1] - context)
    frames = batch.shape[1]
    rows = [("true", lambda e, t: batch[e, t]), ("one-step", lambda e, t: one_step[e, t - 1] if t > 0 else None)]
    rows.append(("rollout", lambda e, t: rolled[e, t - context] if t >= context else batch[e, t]))
    fig, axes = plt.subplots(len(rows) * len(batch), frames, figsize=(frames * 0.9, len(rows) * len(batch) * 0.95))
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
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def run_moving_digits(config: MovingDigitsConfig, *, log=print) -> dict[str, float]:
    """Train, evaluate and plot; writes ``moving_digits.png`` and ``metrics.json`` to ``config.out_dir``."""
    torch.manual_seed(config.seed)
    start = time.perf_counter()
    train, test = (torch.from_numpy(a) for a in make_datasets(config))
    model = NextFramePredictor(config.cell, config.hidden_size, config.num_layers, config.kernel_size)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    generator = torch.Generator().manual_seed(config.seed)
    log(
        f"moving digits: {len(train)} training / {len(test)} test sequences of {config.frames} frames "
        f"{config.canvas}x{config.canvas}; {config.cell} {config.num_layers}x{config.hidden_size}, "
        f"backend {model.recurrent.backend} ({model.recurrent.backend.reason})"
    )
    recent: list[float] = []
    for step in range(1, config.steps + 1):
        model.train()
        batch = train[torch.randint(len(train), (config.batch_size,), generator=generator)]
        logits, _ = model(batch[:, :-1])
        loss = F.binary_cross_entropy_with_logits(logits, batch[:, 1:])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        recent.append(loss.item())
        if step % max(1, config.steps // 10) == 0 or step == config.steps:
            log(f"step {step:5d}  train BCE {np.mean(recent):.4f}  ({time.perf_counter() - start:.0f} s)")
            recent = []
    metrics = evaluate(model, test, config.context)
    metrics["train_seconds"] = time.perf_counter() - start
    out_dir = Path(config.out_dir)
    figure = save_figure(model, test, config.context, out_dir / "moving_digits.png")
    (out_dir / "metrics.json").write_text(json.dumps({"config": asdict(config), "metrics": metrics}, indent=2))
    log(
        f"test one-step MSE {metrics['one_step_mse']:.4f} (copy last frame {metrics['copy_last_frame_mse']:.4f}, "
        f"blank {metrics['blank_frame_mse']:.4f}); rollout MSE {metrics['rollout_mse']:.4f} "
        f"(copy last context frame {metrics['rollout_copy_last_context_frame_mse']:.4f}, "
        f"blank {metrics['rollout_blank_frame_mse']:.4f}); figure {figure}"
    )
    return metrics
