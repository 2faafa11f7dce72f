"""rnnkit: recurrent neural networks on PyTorch.

Every cell runs through one driver (:class:`Recurrent`); :class:`RNN`, :class:`LSTM` and
:class:`GRU` are drop-in replacements for their ``torch.nn`` namesakes.
"""

from rnnkit import cells, diagnostics
from rnnkit.backends import BackendChoice
from rnnkit.cells import ElmanCell, GRUCell, LSTMCell, LSTMState, RecurrentCell
from rnnkit.layers import GRU, LSTM, RNN, Recurrent
from rnnkit.serialization import Saveable, SerializationError, load
from rnnkit.training import Trainer, TrainerConfig

__version__ = "0.1.0"


def __getattr__(name: str):
    # The forecaster pulls in pandas; import it only when asked for.
    if name == "Forecaster":
        from rnnkit.tasks.forecast import Forecaster

        return Forecaster
    raise AttributeError(f"module 'rnnkit' has no attribute {name!r}")


__all__ = [
    "GRU",
    "LSTM",
    "RNN",
    "BackendChoice",
    "ElmanCell",
    "Forecaster",
    "GRUCell",
    "LSTMCell",
    "LSTMState",
    "Recurrent",
    "RecurrentCell",
    "Saveable",
    "SerializationError",
    "Trainer",
    "TrainerConfig",
    "__version__",
    "cells",
    "diagnostics",
    "load",
]
