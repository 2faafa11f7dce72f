"""Moving digits: next-frame prediction with a ConvLSTM (``rnnkit moving-digits``).

The app's parts: :mod:`~rnnkit.tasks.moving_digits.config` (settings),
:mod:`~rnnkit.tasks.moving_digits.data` (built-in sequences of real MNIST digits, or the user's
``.npy`` frames), :mod:`~rnnkit.tasks.moving_digits.estimator` (:class:`FramePredictor`, trained by
:class:`rnnkit.Trainer`), :mod:`~rnnkit.tasks.moving_digits.app` (``APP``) and the picture in
:mod:`~rnnkit.tasks.moving_digits.plots`. The network is :class:`rnnkit.models.NextFramePredictor`.
"""

from rnnkit.tasks.moving_digits.config import MovingDigitsConfig
from rnnkit.tasks.moving_digits.estimator import FramePredictor

__all__ = ["FramePredictor", "MovingDigitsConfig"]
