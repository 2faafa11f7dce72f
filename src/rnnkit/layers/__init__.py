"""User-facing recurrent modules (layer 3 of docs/design.md)."""

from rnnkit.layers.dropins import GRU, LSTM, RNN
from rnnkit.layers.frontend import CRNN, Conv1dFrontEnd, Conv2dFrontEnd
from rnnkit.layers.recurrent import Recurrent, StepRecord, recording_steps
from rnnkit.layers.regularizers import DropConnect, Regularizer, StepHook, VariationalDropout, Zoneout

__all__ = [
    "CRNN",
    "GRU",
    "LSTM",
    "RNN",
    "Conv1dFrontEnd",
    "Conv2dFrontEnd",
    "DropConnect",
    "Recurrent",
    "Regularizer",
    "StepHook",
    "StepRecord",
    "VariationalDropout",
    "Zoneout",
    "recording_steps",
]
