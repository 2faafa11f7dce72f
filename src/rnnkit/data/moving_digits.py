"""Moving digits: real MNIST digits bouncing inside a canvas (Srivastava, Mansimov & Salakhutdinov 2015).

The construction of "Moving MNIST": each sequence places a few digits at random positions, gives
each a random direction at a fixed speed, and moves them frame by frame, reflecting off the
canvas edges; overlapping digits combine by their pixel-wise maximum. The original uses 64x64
canvases, 28x28 digits and 20 frames; smaller settings (digits shrunk by an integer ``scale``)
fit a CPU.
"""

from __future__ import annotations

import numpy as np


def shrink(images: np.ndarray, scale: int) -> np.ndarray:
    """Average-pool images ``(N, H, W)`` by an integer ``scale`` (H and W divisible by it)."""
    if scale == 1:
        return images.astype(np.float32)
    n, h, w = images.shape
    if h % scale or w % scale:
        raise ValueError(f"scale: expected a divisor of the image size {h}x{w}, got {scale}")
    return images.reshape(n, h // scale, scale, w // scale, scale).astype(np.float32).mean(axis=(2, 4))


def moving_digits(
    images: np.ndarray,
    *,
    sequences: int,
    frames: int,
    canvas: int = 64,
    digits_per_sequence: int = 2,
    scale: int = 1,
    speed: float | None = None,
    seed: int = 0,
) -> np.ndarray:
    """Sequences of digits bouncing in a square canvas.

    Args:
        images: digits ``(N, 28, 28)``, values 0-255 (e.g. from :func:`rnnkit.data.load_mnist_digits`).
        sequences: number of sequences ``S``.
        frames: frames per sequence ``T``.
        canvas: side of the square canvas in pixels.
        digits_per_sequence: digits in each sequence.
        scale: shrink each digit by this integer factor first (28 -> 14 with 2).
        speed: pixels per frame (default: canvas / 16, i.e. 4 px at 64 like the original's range).
        seed: random seed of digits, positions and directions.

    Returns:
        ``float32`` array ``(S, T, 1, canvas, canvas)`` with values in ``[0, 1]``.

    Example:
        >>> digits = np.zeros((3, 28, 28), np.uint8); digits[:, 10:18, 10:18] = 255
        >>> moving_digits(digits, sequences=2, frames=5, canvas=32, scale=2).shape
        (2, 5, 1, 32, 32)
    """
    digits = shrink(np.asarray(images), scale) / 255.0
    size = digits.shape[-1]
    if size > canvas:
        raise ValueError(f"canvas: expected at least the digit size {size}, got {canvas}")
    rng = np.random.default_rng(seed)
    speed = canvas / 16 if speed is None else speed
    limit = canvas - size
    out = np.zeros((sequences, frames, 1, canvas, canvas), np.float32)
    for s in range(sequences):
        picks = rng.integers(0, len(digits), digits_per_sequence)
        position = rng.uniform(0, limit, (digits_per_sequence, 2))
        angle = rng.uniform(0, 2 * np.pi, digits_per_sequence)
        velocity = speed * np.stack([np.sin(angle), np.cos(angle)], axis=1)
        for t in range(frames):
            for d in range(digits_per_sequence):
                y, x = np.rint(position[d]).astype(int)
                patch = out[s, t, 0, y : y + size, x : x + size]
                np.maximum(patch, digits[picks[d]], out=patch)
            position += velocity
            # Reflect off the edges: the part past an edge comes back, and the direction flips.
            low, high = position < 0, position > limit
            position[low], position[high] = -position[low], 2 * limit - position[high]
            velocity[low | high] *= -1
            np.clip(position, 0, limit, out=position)  # a step longer than the free space
    return out
