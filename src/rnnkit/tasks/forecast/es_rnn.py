"""Fit and forecast the hybrid ES-RNN model (:class:`rnnkit.models.es_rnn.ESRNN`) on a collection
of series: per-series smoothing coefficients learned jointly with one global recurrent network.

The competitions' global model option ``model="es-rnn"`` (see
:mod:`rnnkit.tasks.forecast.competitions`) runs this. Training goes through :class:`rnnkit.Trainer`
(Adam, gradient clipping); the last ``horizon`` steps of every series long enough are held out,
the weights (network and coefficients) of the epoch with the lowest validation loss are kept, and
training stops after ``patience`` epochs without improvement.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from rnnkit.checks import check_positive_int
from rnnkit.models.es_rnn import ESRNN
from rnnkit.training import KeepBest, Trainer


@dataclass
class ESRNNConfig:
    """Settings of :class:`ESRNNForecaster` (see :class:`~rnnkit.models.es_rnn.ESRNN` for the model's)."""

    horizon: int
    season_length: int = 1
    context_length: int = 12
    cell: str = "lstm"
    hidden_size: int = 64
    num_layers: int = 2
    dropout: float = 0.0
    tau: float = 0.5
    windows_per_series: int = 16
    batch_size: int = 16
    lr: float = 3e-3
    coefficient_lr: float = 3e-2
    max_epochs: int = 40
    patience: int | None = 6
    seed: int = 0
    progress: bool | None = False
    verbose: bool = False


def positive_shift(history: np.ndarray) -> float:
    """What to add to ``history`` to make it positive: 0 for a positive series, else enough to lift
    its minimum to a tenth of its mean absolute value (at least 1e-3)."""
    low = float(np.min(history))
    if low > 0:
        return 0.0
    return -low + max(0.1 * float(np.mean(np.abs(history))), 1e-3)


def first_season(history: np.ndarray, season_length: int) -> np.ndarray:
    """Starting seasonal factors: the mean ratio of each season position to its season's mean over
    the first (up to three) whole seasons; ones when there is no whole season."""
    m = season_length
    seasons = min(len(history) // m, 3)
    if m == 1 or seasons == 0:
        return np.ones(m)
    block = history[: seasons * m].reshape(seasons, m)
    return (block / block.mean(1, keepdims=True)).mean(0)


class _SeriesData(torch.utils.data.Dataset):
    """One item per series: index, values right-padded with the last value, length, train end."""

    def __init__(self, values: np.ndarray, lengths: np.ndarray, train_ends: np.ndarray) -> None:
        self.values = torch.as_tensor(values, dtype=torch.float32)
        self.lengths = torch.as_tensor(lengths)
        self.train_ends = torch.as_tensor(train_ends)

    def __len__(self) -> int:
        return len(self.values)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {"index": torch.tensor(i), "values": self.values[i], "length": self.lengths[i],
                "train_end": self.train_ends[i]}


class _EpochLog:
    """One printed line per epoch (``verbose``)."""

    def on_epoch_end(self, trainer, epoch: int, record: dict) -> None:
        print(f"es-rnn epoch {epoch}: train {record.get('train_loss', float('nan')):.4f}, "
              f"val {record.get('val_loss', float('nan')):.4f} ({record.get('seconds', 0):.1f} s)", flush=True)


class ESRNNForecaster:
    """ES-RNN across many series: ``fit(histories)``, then ``predict()`` from their ends.

    Args:
        horizon: steps to forecast.
        **options: :class:`ESRNNConfig` fields.

    Attributes (after ``fit``):
        network: the fitted :class:`~rnnkit.models.es_rnn.ESRNN`.
        training_log_: one record per epoch (``train_loss``, ``val_loss``, ...).
        fit_seconds_: wall seconds of training.

    Example:
        >>> t = np.arange(60)
        >>> histories = [10 + np.sin(2 * np.pi * t / 4) + 0.1 * k for k in range(8)]
        >>> model = ESRNNForecaster(4, season_length=4, context_length=8, max_epochs=5).fit(histories)
        >>> len(model.predict()), model.predict()[0].shape
        (8, (4,))
    """

    def __init__(self, horizon: int, **options) -> None:
        check_positive_int("horizon", horizon)
        unknown = set(options) - set(ESRNNConfig.__dataclass_fields__)
        if unknown:
            raise TypeError(f"ESRNNForecaster: unknown option(s) {sorted(unknown)}")
        self.config = ESRNNConfig(horizon=horizon, **options)
        self.network: ESRNN | None = None
        self.training_log_: list[dict] = []
        self.fit_seconds_ = 0.0

    def _arrays(self, histories: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        for i, h in enumerate(histories):
            h = np.asarray(h, float)
            if h.ndim != 1 or len(h) == 0 or not np.all(np.isfinite(h)):
                raise ValueError(f"histories: series {i} must be a non-empty 1-D array of finite values")
        self.shifts_ = np.array([positive_shift(np.asarray(h, float)) for h in histories])
        lengths = np.array([len(h) for h in histories])
        values = np.empty((len(histories), lengths.max()))
        for i, h in enumerate(histories):
            values[i, : len(h)] = np.asarray(h, float) + self.shifts_[i]
            values[i, len(h):] = values[i, len(h) - 1]
        return values, lengths, histories

    def fit(self, histories: Sequence[np.ndarray]) -> ESRNNForecaster:
        """Train on ``histories`` (1-D arrays of different lengths, no missing values).

        Returns:
            ``self``, fitted.
        """
        cfg = self.config
        torch.manual_seed(cfg.seed)
        values, lengths, _ = self._arrays(histories)
        self.network = ESRNN(len(lengths), horizon=cfg.horizon, context_length=cfg.context_length,
                             season_length=cfg.season_length, cell=cfg.cell, hidden_size=cfg.hidden_size,
                             num_layers=cfg.num_layers, dropout=cfg.dropout, tau=cfg.tau,
                             windows_per_series=cfg.windows_per_series)
        self.network.initialise_seasons(torch.arange(len(lengths)), torch.as_tensor(
            np.stack([first_season(v[:n], cfg.season_length) for v, n in zip(values, lengths, strict=True)]),
            dtype=torch.float32))
        # Hold out each series' last horizon where enough remains before it to train on.
        room = lengths - cfg.horizon >= cfg.horizon + self.network.min_context
        train_ends = np.where(room, lengths - cfg.horizon, lengths)
        self._values, self._lengths = values, lengths
        train = _SeriesData(values, lengths, train_ends)
        val = _SeriesData(values, lengths, train_ends) if room.any() else None
        keeper = KeepBest("val_loss")
        callbacks = ([keeper] if val is not None else []) + ([_EpochLog()] if cfg.verbose else [])
        start = time.perf_counter()
        result = Trainer(
            callbacks=callbacks, max_epochs=cfg.max_epochs, batch_size=cfg.batch_size, lr=cfg.lr,
            optimizer=self._optimizer, clip_grad_norm=1.0, seed=cfg.seed, device="cpu", plot=False,
            progress_bar=cfg.progress, early_stopping_patience=cfg.patience if val is not None else None,
        ).fit(self.network, train, val)
        self.fit_seconds_ = time.perf_counter() - start
        self.training_log_ = [{k: v for k, v in row.items() if isinstance(v, (int, float))} for row in result.history]
        self.best_epoch_ = keeper.best_epoch
        return self

    def _optimizer(self, parameters, *, lr: float, weight_decay: float = 0.0, **options) -> torch.optim.Optimizer:
        """Adam with the per-series coefficients at ``coefficient_lr`` and the network at ``lr``."""
        net = self.network
        per_series = [net.level_logit, net.season_logit, net.log_first_season]
        ids = {id(p) for p in per_series}
        shared = [p for p in parameters if id(p) not in ids]
        return torch.optim.Adam([{"params": shared, "lr": lr},
                                 {"params": per_series, "lr": self.config.coefficient_lr}],
                                lr=lr, weight_decay=weight_decay, **options)

    def predict(self, histories: Sequence[np.ndarray] | None = None) -> list[np.ndarray]:
        """Forecast ``horizon`` steps from the end of each fitted series (or of ``histories``: the
        same series, in the same order, with newer data).

        Returns:
            One array of ``horizon`` values per series.
        """
        if self.network is None:
            raise RuntimeError("ESRNNForecaster: call fit() before predict()")
        if histories is None:
            values, lengths = self._values, self._lengths
        else:
            if len(histories) != self.network.num_series:
                raise ValueError(f"histories: expected the {self.network.num_series} fitted series, got "
                                 f"{len(histories)}")
            values, lengths, _ = self._arrays(histories)
        self.network.eval()
        out = []
        for start in range(0, len(lengths), 512):
            index = torch.arange(start, min(start + 512, len(lengths)))
            batch = {"index": index, "values": torch.as_tensor(values[index.numpy()], dtype=torch.float32),
                     "length": torch.as_tensor(lengths[index.numpy()])}
            out.append(self.network.forecast(batch).double().numpy())
        forecasts = np.concatenate(out) - self.shifts_[:, None]
        return [row for row in forecasts]

    def coefficients(self) -> dict[str, np.ndarray]:
        """The fitted per-series ``alpha`` and ``gamma`` (in (0, 1)) and first-season factors."""
        if self.network is None:
            raise RuntimeError("ESRNNForecaster: call fit() first")
        with torch.no_grad():
            alpha, gamma, season = self.network.coefficients(torch.arange(self.network.num_series))
        return {"alpha": alpha.numpy(), "gamma": gamma.numpy(), "first_season": season.numpy()}


__all__ = ["ESRNNConfig", "ESRNNForecaster", "first_season", "positive_shift"]
