"""The long-range benchmark's networks: one recipe per cell, a ``Recurrent`` stack and a linear head.

Every cell of the library is run the same way — a ``Recurrent`` stack and a linear head
(:class:`LongRangeModel`) — with the initialisation its paper uses where that matters
(:data:`RECIPES`):

* ``elman``: tanh Elman RNN, torch's default init (the vanishing-gradient baseline).
* ``irnn``: ReLU Elman RNN with identity recurrent weights, small input weights and zero biases
  (Le et al. 2015, IRNN).
* ``lstm``: forget-gate bias 1 (Jozefowicz et al. 2015); ``lstm_chrono``: the chrono
  initialisation with ``T_max = T`` instead (Tallec & Ollivier 2018; ``chrono=True`` applies it to
  any model whose cell supports it).
* ``indrnn``: two ReLU layers, ``|u| <= 2^(1/T)`` (Li et al. 2018, Sec. 3.1) applied in every step
  and projected after every optimiser step (:class:`ConstrainIndRNN`); recurrent weights
  ``U(0, 2^(1/T))``, the last layer's ``U(2^(-1/T), 2^(1/T))`` (memories that start near 1) and
  input weights ``U(-0.001, 0.001)``, as in the authors' reference code. (The paper trains with
  learning rate 2e-4 over tens of thousands of steps; the benchmark's budgets are far smaller, so
  it uses one rate, 1e-3, for every model.)
* ``lru``: ring initialisation ``|lambda|`` in ``[0.9, 0.999]`` and phases in ``[0, pi/10]`` (Orvieto et
  al. 2023, their long-range setting). The LRU is linear in its input, so a linear head alone
  could not form the products the tasks need; as the paper's blocks put a non-linearity between
  recurrences, a position-wise ``Linear + GELU`` precedes it here.
* ``gru``, ``layernorm_lstm``, ``layernorm_gru``, ``mingru``, ``minlstm``, ``slstm``: their defaults.

The tasks that train them are :mod:`rnnkit.tasks.longrange` (``rnnkit train --task adding``) and
the benchmark :mod:`rnnkit.bench.longrange` (``rnnkit bench longrange``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from rnnkit import init as rnn_init
from rnnkit.cells import IndRNNCell
from rnnkit.layers import Recurrent
from rnnkit.serialization import Saveable

# ------------------------------------------------------------------------------------------ recipes


@dataclass(frozen=True)
class Recipe:
    """How one model of the benchmark is built: its cell, options, layers and initialisation.

    ``options(T)`` and ``initialise(recurrent, T)`` receive the sequence length ``T`` because the
    papers' initialisations depend on it (IndRNN's bound, chrono's ``T_max``).
    """

    cell: str
    description: str
    num_layers: int = 1
    options: Callable[[int], dict[str, Any]] = lambda steps: {}
    initialise: Callable[[Recurrent, int], None] = lambda recurrent, steps: None
    input_encoder: bool = False


def _init_irnn(recurrent: Recurrent, steps: int) -> None:
    # Le et al. 2015, Sec. 3: identity recurrent matrix, zero biases, input weights N(0, 0.001).
    rnn_init.identity_recurrent_(recurrent)
    with torch.no_grad():
        for cell in recurrent.cells.values():
            nn.init.normal_(cell.weight_ih, std=1e-3)
            for name in ("bias_ih", "bias_hh"):
                if getattr(cell, name, None) is not None:
                    getattr(cell, name).zero_()


def _init_indrnn(recurrent: Recurrent, steps: int) -> None:
    # Recurrent weights near 1 keep memories over T steps, so each unit sums its inputs over the
    # whole sequence: small input weights (U(-0.001, 0.001), as the authors' reference code) keep
    # those sums, and the first predictions, small at large T.
    bound = IndRNNCell.recurrent_bound(steps)
    with torch.no_grad():
        for layer in range(recurrent.num_layers):
            cell = recurrent.cells[f"l{layer}"]
            low = 1.0 / bound if layer == recurrent.num_layers - 1 else 0.0
            cell.weight_hh.uniform_(low, bound)
            cell.weight_ih.uniform_(-1e-3, 1e-3)


def _indrnn_options(steps: int) -> dict[str, Any]:
    return {"nonlinearity": "relu", "recurrent_max_abs": IndRNNCell.recurrent_bound(steps)}


RECIPES: dict[str, Recipe] = {
    "elman": Recipe("elman", "Elman RNN, tanh, torch's default init"),
    "irnn": Recipe("elman", "Elman RNN, ReLU, identity recurrent init (Le et al. 2015)",
                   options=lambda steps: {"nonlinearity": "relu"}, initialise=_init_irnn),
    "lstm": Recipe("lstm", "LSTM, forget-gate bias 1"),
    "lstm_chrono": Recipe("lstm", "LSTM, chrono init with T_max = T (Tallec & Ollivier 2018)",
                          initialise=lambda recurrent, steps: rnn_init.chrono_(recurrent, max_timescale=max(steps, 3))),
    "gru": Recipe("gru", "GRU (cuDNN variant)"),
    "indrnn": Recipe("indrnn", "IndRNN, 2 ReLU layers, |u| <= 2^(1/T) (Li et al. 2018)", num_layers=2,
                     options=_indrnn_options, initialise=_init_indrnn),
    "layernorm_lstm": Recipe("layernorm_lstm", "layer-norm LSTM (Ba et al. 2016)"),
    "layernorm_gru": Recipe("layernorm_gru", "layer-norm GRU (Ba et al. 2016)"),
    "mingru": Recipe("mingru", "minGRU (Feng et al. 2024)"),
    "minlstm": Recipe("minlstm", "minLSTM (Feng et al. 2024)"),
    "lru": Recipe("lru", "LRU, |lambda| in [0.9, 0.999], Linear+GELU before it (Orvieto et al. 2023)",
                  options=lambda steps: {"r_min": 0.9, "r_max": 0.999, "max_phase": math.pi / 10},
                  input_encoder=True),
    "slstm": Recipe("slstm", "sLSTM, 1 head (Beck et al. 2024)"),
}


def get_recipe(model: str) -> Recipe:
    """The recipe named ``model``; an unknown name lists the known ones."""
    if model not in RECIPES:
        raise ValueError(f"model: unknown model {model!r}; expected one of {sorted(RECIPES)}")
    return RECIPES[model]


# -------------------------------------------------------------------------------------------- model


class LongRangeModel(nn.Module, Saveable):
    """A recipe's ``Recurrent`` stack and a linear head, for regression or classification.

    Args:
        model: a name of :data:`RECIPES` (``"lstm"``, ``"indrnn"``, ``"irnn"``...).
        input_size, hidden_size, output_size: feature sizes (``output_size`` = classes for
            classification).
        steps: the task's sequence length ``T``, for the initialisations that depend on it.
        objective: ``"regression"`` (MSE) or ``"classification"`` (cross-entropy).
        readout: ``"last"`` (one prediction per sequence, from the last step) or ``"every"`` (one per step).
        num_layers: recurrent layers (``None``: the recipe's).
        chrono: chrono initialisation with ``T_max = steps`` (cells :func:`rnnkit.init.chrono_` supports).
        accuracy_steps: classification per step: also report the accuracy of the last
            ``accuracy_steps`` steps only (copy memory: the recalled symbols).

    Batches are ``(x, y)``: ``x`` ``(B, T, input_size)``; ``y`` ``(B, output_size)`` for regression
    (or ``(B, T, output_size)`` per step), class indices ``(B,)`` or ``(B, T)`` for classification.

    Example:
        >>> from rnnkit.data.longrange import adding_problem
        >>> model = LongRangeModel("indrnn", 2, 32, 1, steps=100)
        >>> loss = model.training_step(adding_problem(8, 100))
    """

    def __init__(self, model: str = "lstm", input_size: int = 2, hidden_size: int = 128, output_size: int = 1, *,
                 steps: int = 100, objective: str = "regression", readout: str = "last",
                 num_layers: int | None = None, chrono: bool = False, accuracy_steps: int | None = None) -> None:
        super().__init__()
        recipe = get_recipe(model)
        if objective not in ("regression", "classification"):
            raise ValueError(f"objective: expected 'regression' or 'classification', got {objective!r}")
        if readout not in ("last", "every"):
            raise ValueError(f"readout: expected 'last' or 'every', got {readout!r}")
        num_layers = recipe.num_layers if num_layers is None else num_layers
        self._config = {"model": model, "input_size": input_size, "hidden_size": hidden_size,
                        "output_size": output_size, "steps": steps, "objective": objective, "readout": readout,
                        "num_layers": num_layers, "chrono": chrono, "accuracy_steps": accuracy_steps}
        self.objective, self.readout, self.accuracy_steps = objective, readout, accuracy_steps
        options = recipe.options(steps)
        recurrent_input = input_size
        self.encoder: nn.Module = nn.Identity()
        if recipe.input_encoder:
            self.encoder = nn.Sequential(nn.Linear(input_size, hidden_size), nn.GELU())
            recurrent_input = hidden_size
        if recipe.cell == "lru":
            options = {**options, "output_size": hidden_size}
        self.rnn = Recurrent(recipe.cell, recurrent_input, hidden_size, num_layers=num_layers, **options)
        recipe.initialise(self.rnn, steps)
        if chrono:
            rnn_init.chrono_(self.rnn, max_timescale=max(steps, 3))
        self.head = nn.Linear(self.rnn.output_size, output_size)

    def get_config(self) -> dict[str, Any]:
        return dict(self._config)

    def forward(self, x: Tensor) -> Tensor:
        """Predictions ``(B, O)`` (readout ``"last"``) or ``(B, T, O)`` (``"every"``)."""
        out, _ = self.rnn(self.encoder(x))
        return self.head(out[:, -1] if self.readout == "last" else out)

    def _loss(self, prediction: Tensor, y: Tensor) -> Tensor:
        if self.objective == "regression":
            return F.mse_loss(prediction, y)
        return F.cross_entropy(prediction.reshape(-1, prediction.shape[-1]), y.reshape(-1))

    def training_step(self, batch: tuple[Tensor, Tensor]) -> Tensor:
        x, y = batch
        return self._loss(self(x), y)

    def validation_step(self, batch: tuple[Tensor, Tensor]) -> dict[str, Tensor]:
        x, y = batch
        prediction = self(x)
        metrics = {"loss": self._loss(prediction, y)}
        if self.objective == "classification":
            correct = prediction.argmax(-1) == y
            metrics["accuracy"] = correct.float().mean()
            if self.accuracy_steps and correct.dim() == 2:
                metrics["recall_accuracy"] = correct[:, -self.accuracy_steps:].float().mean()
        return metrics

    def predict_step(self, batch: Any) -> Tensor:
        x = batch[0] if isinstance(batch, (tuple, list)) else batch
        return self(x)


class ConstrainIndRNN:
    """Trainer callback: after every optimiser step, project each IndRNN cell's ``u`` onto its bound.

    The cell applies the bound in every step anyway; projecting the stored weight, as Li et al.
    (2018) clip it, keeps weights pushed past the bound on it, where gradients still reach them.
    """

    def on_step_end(self, trainer: Any, step: int, row: dict[str, Any]) -> None:
        for module in trainer.model.modules():
            if isinstance(module, IndRNNCell):
                module.constrain_()


def callbacks_for(model: nn.Module) -> list[Any]:
    """The callbacks a model's cells need during training (IndRNN: :class:`ConstrainIndRNN`)."""
    return [ConstrainIndRNN()] if any(isinstance(m, IndRNNCell) for m in model.modules()) else []


__all__ = ["RECIPES", "ConstrainIndRNN", "LongRangeModel", "Recipe", "callbacks_for", "get_recipe"]
