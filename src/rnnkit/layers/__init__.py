"""User-facing recurrent modules (DESIGN.md layer 3)."""

from rnnkit.layers.dropins import GRU, LSTM, RNN
from rnnkit.layers.recurrent import Recurrent, StepRecord, recording_steps

__all__ = ["GRU", "LSTM", "RNN", "Recurrent", "StepRecord", "recording_steps"]
