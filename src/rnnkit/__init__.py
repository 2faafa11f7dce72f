"""rnnkit: recurrent neural networks on PyTorch.

Every cell runs through one driver (:class:`Recurrent`); :class:`RNN`, :class:`LSTM` and
:class:`GRU` are drop-in replacements for their ``torch.nn`` namesakes.
"""

from rnnkit import cells, diagnostics, init
from rnnkit.backends import BackendChoice
from rnnkit.cells import (
    ConvGRUCell,
    ConvLSTMCell,
    ElmanCell,
    GRUCell,
    IndRNNCell,
    LayerNormGRUCell,
    LayerNormLSTMCell,
    LinearRecurrentCell,
    LRUCell,
    LSTMCell,
    LSTMState,
    MinGRUCell,
    MinLSTMCell,
    RecurrentCell,
    SLSTMCell,
)
from rnnkit.layers import (
    CRNN,
    GRU,
    LSTM,
    RNN,
    Conv1dFrontEnd,
    Conv2dFrontEnd,
    DropConnect,
    Recurrent,
    VariationalDropout,
    Zoneout,
)
from rnnkit.serialization import Saveable, SerializationError, load
from rnnkit.training import Trainer, TrainerConfig

__version__ = "0.1.0"


def __getattr__(name: str):
    # The forecaster pulls in pandas; import it only when asked for.
    if name == "Forecaster":
        from rnnkit.tasks.forecast import Forecaster

        return Forecaster
    if name in ("TextClassifier", "SequenceClassifier"):
        from rnnkit.tasks.classify import estimator

        return getattr(estimator, name)
    if name == "LanguageModel":
        from rnnkit.tasks.lm import LanguageModel

        return LanguageModel
    if name == "Translator":
        from rnnkit.tasks.translate.estimator import Translator

        return Translator
    if name == "Tagger":
        from rnnkit.tasks.tag import Tagger

        return Tagger
    if name == "SpeechRecognizer":
        from rnnkit.tasks.transcribe.estimator import SpeechRecognizer

        return SpeechRecognizer
    raise AttributeError(f"module 'rnnkit' has no attribute {name!r}")


__all__ = [
    "CRNN",
    "GRU",
    "LSTM",
    "RNN",
    "BackendChoice",
    "Conv1dFrontEnd",
    "Conv2dFrontEnd",
    "ConvGRUCell",
    "ConvLSTMCell",
    "DropConnect",
    "ElmanCell",
    "Forecaster",
    "GRUCell",
    "IndRNNCell",
    "LRUCell",
    "LSTMCell",
    "LSTMState",
    "LanguageModel",
    "LayerNormGRUCell",
    "LayerNormLSTMCell",
    "LinearRecurrentCell",
    "MinGRUCell",
    "MinLSTMCell",
    "Recurrent",
    "RecurrentCell",
    "SLSTMCell",
    "Saveable",
    "SequenceClassifier",
    "SerializationError",
    "SpeechRecognizer",
    "Tagger",
    "TextClassifier",
    "Trainer",
    "TrainerConfig",
    "Translator",
    "VariationalDropout",
    "Zoneout",
    "__version__",
    "cells",
    "diagnostics",
    "init",
    "load",
]
