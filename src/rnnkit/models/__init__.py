"""Reusable networks composed from :mod:`rnnkit.layers` (layer 4 of docs/design.md).

Every application builds its network from here; nothing under :mod:`rnnkit.tasks` defines an
``nn.Module``. Each follows the :class:`~rnnkit.training.TrainableModel` protocol
(``training_step`` / ``validation_step``), so :class:`rnnkit.Trainer` trains it.

* :class:`RecurrentRegressor`: a stack and a linear head (the synthetic ``recall`` task).
* :class:`LongRangeModel` and :data:`RECIPES`: one recipe per cell for the long-range tasks.
* :class:`NextFramePredictor`: ConvLSTM/ConvGRU next-frame prediction (moving digits).
* :class:`DirectForecastNet`, :class:`AutoregressiveForecastNet`, :class:`ForecastEnsemble` and the
  likelihoods of :mod:`rnnkit.models.likelihoods`: the forecasting networks.
"""

from rnnkit.models.forecasting import AutoregressiveForecastNet, DirectForecastNet, ForecastEnsemble
from rnnkit.models.likelihoods import GaussianLikelihood, QuantileLikelihood, StudentTLikelihood, make_likelihood
from rnnkit.models.longrange import RECIPES, ConstrainIndRNN, LongRangeModel, Recipe, callbacks_for, get_recipe
from rnnkit.models.next_frame import NextFramePredictor
from rnnkit.models.regressor import RecurrentRegressor

__all__ = [
    "RECIPES",
    "AutoregressiveForecastNet",
    "ConstrainIndRNN",
    "DirectForecastNet",
    "ForecastEnsemble",
    "GaussianLikelihood",
    "LongRangeModel",
    "NextFramePredictor",
    "QuantileLikelihood",
    "Recipe",
    "RecurrentRegressor",
    "StudentTLikelihood",
    "callbacks_for",
    "get_recipe",
    "make_likelihood",
]
