"""Training: one ``Trainer`` for every rnnkit model (layer 5 of docs/design.md).

BPTT and truncated BPTT, clipping, mixed precision, checkpoints with exact resume, logs and
plots, gradient-flow diagnostics, multi-process data parallel, and callbacks (early stopping,
keep-the-best-weights, epoch-wise learning-rate decay).
"""

from rnnkit.training.callbacks import EarlyStopping, KeepBest
from rnnkit.training.checkpoint import CheckpointError, load_checkpoint_weights
from rnnkit.training.config import TrainerConfig
from rnnkit.training.data import ResumableSampler
from rnnkit.training.evaluation import BatchError
from rnnkit.training.lr_decay import LearningRateDecay
from rnnkit.training.protocol import TrainableModel
from rnnkit.training.signals import TrainingInterrupted
from rnnkit.training.state import FitResult, TrainingDiverged, seed_everything
from rnnkit.training.trainer import Trainer

__all__ = [
    "BatchError",
    "CheckpointError",
    "EarlyStopping",
    "FitResult",
    "KeepBest",
    "LearningRateDecay",
    "ResumableSampler",
    "TrainableModel",
    "Trainer",
    "TrainerConfig",
    "TrainingDiverged",
    "TrainingInterrupted",
    "load_checkpoint_weights",
    "seed_everything",
]
