"""``Forecaster``: a recurrent forecasting model in the estimator style (fit / predict / backtest /
save / load), for one series or many series trained as one global model."""

from __future__ import annotations

import time
import typing
from dataclasses import asdict, dataclass, field, fields

import numpy as np
import pandas as pd
import torch

from rnnkit.checks import check_positive_int
from rnnkit.data.timeseries import SeriesCollection, SeriesError, to_collection
from rnnkit.data.windows import WindowDataset, build_arrays, make_window, series_scales
from rnnkit.models.forecasting import AutoregressiveForecastNet, DirectForecastNet, ForecastEnsemble
from rnnkit.serialization import load_state_dict_checked
from rnnkit.tasks.forecast.config import check_freq
from rnnkit.tasks.framework.config import ConfigError, check_value
from rnnkit.tasks.framework.estimator import Estimator
from rnnkit.training import KeepBest, Trainer

DECODERS = {"direct": DirectForecastNet, "autoregressive": AutoregressiveForecastNet}
FALLBACKS = ("none", "validation")
#: The forecasts ``fallback="validation"`` chooses from.
CANDIDATES = ("network", "seasonal_naive", "ets", "network+ets")


@dataclass
class ForecasterConfig:
    """Every setting of a :class:`Forecaster` (saved with the model)."""

    horizon: int
    season_length: int | None = None
    context_length: int | None = None
    cell: str = "lstm"
    hidden_size: int = 64
    num_layers: int = 2
    dropout: float = 0.1
    decoder: str = "direct"
    likelihood: str = "gaussian"
    calendar: bool = True
    seasonal_lag: bool = True
    impute: bool = False
    batch_size: int = 64
    max_steps: int = 1500
    lr: float = 3e-3
    val_fraction: float = 0.1
    num_samples: int = 200
    ensemble: int = 1
    level: str = "mean"
    min_context_length: int | None = None
    fallback: str = "none"
    max_epochs: int | None = None
    patience: int | None = None
    seed: int = 0
    progress: bool | None = None
    trainer_options: dict = field(default_factory=dict)

    def check(self) -> None:
        """Every setting of the right type and in range (errors name the setting)."""
        if isinstance(self.ensemble, bool) or not isinstance(self.ensemble, int) or self.ensemble < 1:
            raise ConfigError(f"ensemble: expected a positive integer, got {self.ensemble!r}")
        hints = typing.get_type_hints(type(self))
        for f in fields(self):
            low, high = _BOUNDS.get(f.name, (None, None))
            value = check_value(f.name, getattr(self, f.name), hints[f.name], {"min": low, "max": high})
            setattr(self, f.name, value)
        if self.decoder not in DECODERS:
            raise ConfigError(f"decoder: expected one of {sorted(DECODERS)}, got {self.decoder!r}")
        if not self.dropout < 1:
            raise ConfigError(f"dropout: expected a number in [0, 1), got {self.dropout!r}")
        if not self.val_fraction < 1:
            raise ConfigError(f"val_fraction: expected a number in [0, 1), got {self.val_fraction!r}")

    def window(self) -> int:
        """Context length: given, or the larger of 4 horizons and 2 seasons (at least 16 steps)."""
        if self.context_length:
            return self.context_length
        return max(4 * self.horizon, 2 * (self.season_length or 0), 16)

    def lag(self) -> int | None:
        """Season length of the seasonal lag feature, or None when it is off."""
        return self.season_length if self.seasonal_lag and self.season_length and self.season_length > 1 else None

    def min_length(self) -> int:
        """Shortest series that yields one training window."""
        return self.window() + (self.lag() or 0) + self.horizon


#: Inclusive bounds of the numeric settings (``None``: unbounded on that side).
_BOUNDS = {"horizon": (1, None), "season_length": (1, None), "context_length": (1, None), "hidden_size": (1, None),
           "num_layers": (1, None), "dropout": (0, 1), "batch_size": (1, None), "max_steps": (1, None),
           "lr": (0, None), "val_fraction": (0, 1), "num_samples": (1, None), "ensemble": (1, None), "seed": (0, None),
           "min_context_length": (1, None), "max_epochs": (1, None), "patience": (0, None)}

#: At most this many held-out windows are scored per validation (evenly spaced over the held-out
#: part): a 10^6-point series holds out ~10^5 windows, which took minutes per validation.
MAX_VAL_WINDOWS = 512


def check_finite(collection: SeriesCollection, what: str = "y") -> None:
    """Missing values (NaN) are allowed; infinities are an error naming the series and time."""
    for name, times, values in zip(collection.ids, collection.times, collection.values, strict=True):
        bad = np.isinf(values)
        if bad.any():
            first = int(np.argmax(bad))
            raise SeriesError(f"{what}: series {name!r} has an infinite value at {times[first]} (and "
                              f"{int(bad.sum()) - 1} more); use NaN (an empty cell) for a missing value")


def _spread(ends: range, most: int) -> range | list[int]:
    """At most ``most`` of ``ends``, evenly spaced and including the first and the last."""
    if len(ends) <= most:
        return ends
    return [ends[int(i)] for i in np.linspace(0, len(ends) - 1, most).round()]


class Forecaster(Estimator):
    """Probabilistic multi-step forecasts from a recurrent network.

    Args:
        horizon: steps to forecast.
        season_length: period of the seasonality in steps (e.g. 12 for monthly data); sets the
            default context and the seasonal naive scale of MASE.
        context_length: steps the network reads before each forecast (default: see
            :meth:`ForecasterConfig.window`).
        cell: any rnnkit cell name (``"lstm"``, ``"gru"``, ``"elman"``, ...).
        hidden_size, num_layers, dropout: of the recurrent encoder.
        decoder: ``"direct"`` (one head emits all steps) or ``"autoregressive"`` (DeepAR-style sampling).
        likelihood: ``"gaussian"``, ``"student_t"`` or ``"quantile"`` (pinball loss; direct decoder only).
        calendar: add calendar features derived from the time index (known in the future).
        seasonal_lag: with ``season_length``, feed the value one season back (for future steps,
            the seasonal naive forecast) as a known feature.
        impute: interpolate missing context values (otherwise they are zero with an observed flag;
            either way missing targets are left out of the loss).
        batch_size, max_steps, lr: training.
        val_fraction: share of each series' end held out to monitor training (0 to train on all).
        num_samples: sample paths per forecast for the autoregressive decoder.
        ensemble: train this many networks from different initial weights and average their
            forecasts (means and quantiles); costs that many times the training time.
        level: what each window is centred on: ``"mean"`` of its observed context or its
            ``"last"`` observed value (better for trending series, e.g. yearly data).
        min_context_length: let training windows start once this many steps are observed, with
            the rest of the context padded (default: only full contexts); more windows from short
            series.
        max_epochs: train for this many passes over the windows instead of ``max_steps`` steps (a
            budget relative to the data).
        patience: stop when the validation loss has not improved for this many epochs (the
            weights of the best epoch are kept either way).
        fallback: ``"validation"``: after training, forecast the last ``horizon`` steps of each
            series from the data before them with the network, seasonal naive, ETS and the mean of
            the network and ETS, and forecast with whichever had the lowest scaled error there
            (``explain()`` says which and why); ``"none"``: always the network.
        seed: random seed of initialisation, batching and sampling.
        progress: show a progress bar (and a line per epoch, at most one per 5 s) while training;
            ``None`` (default): only when running interactively (stderr is a terminal).

    Example:
        >>> from rnnkit.data import load_sunspots
        >>> months, values = load_sunspots()
        >>> y = pd.Series(values, index=pd.PeriodIndex(months, freq="M").to_timestamp())
        >>> model = Forecaster(24, season_length=132, max_steps=200).fit(y)  # doctest: +SKIP
        >>> model.predict().columns.tolist()  # doctest: +SKIP
        ['mean', 'q0.1', 'q0.5', 'q0.9']
    """

    app_name = "forecast"

    def __init__(self, horizon: int, **options) -> None:
        check_positive_int("horizon", horizon)
        unknown = set(options) - set(ForecasterConfig.__dataclass_fields__)
        if unknown:
            raise TypeError(f"Forecaster: unknown option(s) {sorted(unknown)}")
        self.config = ForecasterConfig(horizon=horizon, **options)
        self.config.check()
        if self.config.fallback not in FALLBACKS:
            raise ValueError(f"fallback: expected one of {FALLBACKS}, got {self.config.fallback!r}")
        if self.config.level not in ("mean", "last"):
            raise ValueError(f"level: expected 'mean' or 'last', got {self.config.level!r}")
        if self.config.min_context_length is not None and (
                not isinstance(self.config.min_context_length, int) or self.config.min_context_length < 1):
            raise ValueError(f"min_context_length: expected a positive integer, got {self.config.min_context_length!r}")
        self.network: torch.nn.Module | None = None
        self.history_: SeriesCollection | None = None
        self.scales_: dict[str, float] = {}
        self.training_log_: list[dict] = []
        self.fit_seconds_: float = 0.0
        self._layout: dict = {}
        self.short_series_: list = []
        #: What ``fallback="validation"`` chose: {"choice", "errors", "reason"}.
        self.selection_: dict = {"choice": "network", "errors": {}, "reason": "fallback='none': the network"}
        #: Trainer callbacks added to every fit (the tuner's pruning callback, for example).
        self.extra_callbacks: list = []

    # ------------------------------------------------------------------ fit
    def fit(
        self,
        y: pd.Series | pd.DataFrame,
        covariates: pd.DataFrame | None = None,
        *,
        id_col: str | None = None,
        time_col: str | None = None,
        value_col: str | None = None,
        covariate_cols: list[str] | None = None,
        freq: str | None = None,
    ) -> Forecaster:
        """Train on ``y`` (see :func:`rnnkit.data.timeseries.to_collection` for the layouts).

        Returns:
            ``self``, fitted.
        """
        check_freq(freq)
        self._layout = {"id_col": id_col, "time_col": time_col, "value_col": value_col,
                        "covariate_cols": covariate_cols, "freq": freq}
        collection = to_collection(y, covariates=covariates, **self._layout)
        return self._fit_collection(collection)

    def _fit_collection(self, collection: SeriesCollection) -> Forecaster:
        cfg = self.config
        check_finite(collection)
        context, horizon, lag = cfg.window(), cfg.horizon, cfg.lag() or 0
        short = []
        for name, values in zip(collection.ids, collection.values, strict=True):
            if not np.isfinite(values).any():
                raise SeriesError(f"series {name!r} has no observed value")
            if len(values) <= horizon:
                short.append(name)
        if len(short) == len(collection):
            raise SeriesError(
                f"y: every series has at most horizon = {horizon} points, so none gives a training window "
                f"(the shortest has {min(len(v) for v in collection.values)})")
        # Series of at most `horizon` points give no training window; they are still forecast (from
        # a context padded with missing values), and the count is kept for the report.
        self.short_series_ = short
        torch.manual_seed(cfg.seed)
        scales = series_scales(collection)
        self.scales_ = dict(zip(collection.ids, scales.tolist(), strict=True))
        arrays = build_arrays(collection, use_calendar=cfg.calendar)
        train_ends, val_ends = [], []
        full = context + lag
        # Windows may start before a full context (padded) from min_context_length on: more windows
        # from short series, as the competitions' global models need.
        first = min(full, cfg.min_context_length + lag) if cfg.min_context_length else full
        for values in collection.values:
            n = len(values)
            held_out = round(cfg.val_fraction * n)
            held_out = max(held_out, horizon) if held_out else 0
            if held_out and n - held_out - horizon >= first:
                train_ends.append(range(first, n - held_out - horizon + 1))
                val_ends.append(_spread(range(n - held_out, n - horizon + 1), MAX_VAL_WINDOWS))
            elif n - horizon >= first:
                train_ends.append(range(first, n - horizon + 1))
                val_ends.append(range(0))
            elif held_out and n - held_out - horizon >= 1:
                # Shorter than one full window: padded contexts; the last horizon validates.
                train_ends.append(range(n - held_out - horizon, n - held_out - horizon + 1))
                val_ends.append(range(n - horizon, n - horizon + 1))
            else:
                train_ends.append(range(max(n - horizon, 1), n - horizon + 1))
                val_ends.append(range(0))
        make = lambda ends: WindowDataset(  # noqa: E731
            arrays, scales, context=context, horizon=horizon, ends=ends, impute=cfg.impute, season_length=cfg.lag(),
            level=cfg.level,
        )
        train, val = make(train_ends), make(val_ends)
        if len(train) == 0:
            raise SeriesError("y: no training window has an observed target; the series is all missing values")
        self.network = self._build_network(arrays[0].features.shape[1] + (1 if lag else 0))
        start = time.perf_counter()
        self.training_log_ = self._train(self.network, train, val if len(val) else None)
        self.fit_seconds_ = time.perf_counter() - start
        self.history_ = collection
        self.selection_ = (self._select(collection) if cfg.fallback == "validation" else
                           {"choice": "network", "errors": {}, "reason": "fallback='none': the network"})
        return self

    def _build_network(self, num_features: int) -> torch.nn.Module:
        cfg = self.config
        options = {}
        if cfg.decoder == "direct" and cfg.lag():
            options["baseline_feature"] = 0  # make_window puts the seasonal naive forecast first
        def member() -> torch.nn.Module:
            return DECODERS[cfg.decoder](
                horizon=cfg.horizon, num_features=num_features, cell=cfg.cell, hidden_size=cfg.hidden_size,
                num_layers=cfg.num_layers, dropout=cfg.dropout, likelihood=cfg.likelihood, **options,
            )

        return member() if cfg.ensemble == 1 else ForecastEnsemble([member() for _ in range(cfg.ensemble)])

    def _train(self, network: torch.nn.Module, train: WindowDataset, val: WindowDataset | None) -> list[dict]:
        cfg = self.config
        options = {
            "max_epochs": cfg.max_epochs, "max_steps": cfg.max_steps if cfg.max_epochs is None else None,
            "early_stopping_patience": cfg.patience if val is not None else None,
            "batch_size": cfg.batch_size, "lr": cfg.lr,
            "optimizer": "adam", "scheduler": "one-cycle", "clip_grad_norm": 1.0, "seed": cfg.seed,
            "progress_bar": cfg.progress, "plot": False, **cfg.trainer_options,
        }
        # With held-out windows, the weights of the best validation epoch are kept (in memory).
        callbacks = [KeepBest("val_loss")] if val is not None else []
        result = Trainer(callbacks=[*callbacks, *self.extra_callbacks], **options).fit(network, train, val)
        return [{k: v for k, v in row.items() if isinstance(v, (int, float))} for row in result.history]

    # -------------------------------------------------------------- predict
    def _check_fitted(self) -> None:
        if self.network is None or self.history_ is None:
            raise RuntimeError("Forecaster: call fit() (or rnnkit.load) before predict()")

    def predict(
        self,
        horizon: int | None = None,
        quantiles: tuple[float, ...] = (0.1, 0.5, 0.9),
        *,
        y: pd.Series | pd.DataFrame | None = None,
        covariates: pd.DataFrame | None = None,
    ) -> pd.DataFrame:
        """Forecast the ``horizon`` steps after the end of the history.

        Args:
            horizon: steps (default: the model's; the direct decoder cannot exceed it).
            quantiles: levels in (0, 1) to report as columns ``q<level>``.
            y: new history to forecast from (same layout as in ``fit``), e.g. to continue a saved
                model on data that arrived after training; default: the data given to ``fit``.
            covariates: user covariates for the future steps (when the model was fitted with some).

        Returns:
            DataFrame indexed by the future timestamps (by ``(id, time)`` for several series) with
            a ``mean`` column and one column per quantile.
        """
        self._check_fitted()
        cfg = self.config
        horizon = cfg.horizon if horizon is None else horizon
        if isinstance(horizon, bool) or not isinstance(horizon, (int, np.integer)) or horizon < 1:
            raise ConfigError(f"horizon: expected a positive integer, got {horizon!r}")
        horizon = int(horizon)
        if isinstance(quantiles, (str, bytes)) or not isinstance(quantiles, (tuple, list, np.ndarray)):
            raise ConfigError(f"quantiles: expected a sequence of levels in (0, 1), got {quantiles!r}")
        for q in quantiles:
            if isinstance(q, bool) or not isinstance(q, (int, float)) or not 0 < q < 1:
                raise ConfigError(f"quantiles: every level must lie in (0, 1), got {q!r}")
        if cfg.decoder == "direct" and horizon > cfg.horizon:
            raise ConfigError(f"horizon: the direct decoder forecasts at most {cfg.horizon} steps, got {horizon}")
        history = self.history_ if y is None else to_collection(y, **self._layout)
        check_finite(history)
        future_covs = self._future_covariates(history, covariates, self._feature_steps(horizon))
        return self.predict_collection(history, horizon, tuple(quantiles), future_covs)

    def predict_collection(
        self,
        history: SeriesCollection,
        horizon: int,
        quantiles: tuple[float, ...] = (0.1, 0.5, 0.9),
        future_covariates: list[np.ndarray] | None = None,
    ) -> pd.DataFrame:
        """:meth:`predict` from an already checked :class:`SeriesCollection`."""
        columns = self.forecast_arrays(history, horizon, quantiles, future_covariates)
        frames = []
        for i, name in enumerate(history.ids):
            index = history.future_index(i, horizon)
            frame = pd.DataFrame({c: v[i] for c, v in columns.items()}, index=index)
            if len(history) > 1:
                frame.index = pd.MultiIndex.from_arrays([[name] * horizon, index], names=["id", index.name or "time"])
            frames.append(frame)
        return pd.concat(frames) if len(frames) > 1 else frames[0]

    def _feature_steps(self, horizon: int) -> int:
        # The direct head reads features of its whole trained horizon, even for shorter forecasts.
        return horizon if self.config.decoder == "autoregressive" else self.config.horizon

    def forecast_arrays(
        self,
        history: SeriesCollection,
        horizon: int,
        quantiles: tuple[float, ...],
        future_covariates: list[np.ndarray] | None = None,
        *,
        network_only: bool = False,
    ) -> dict[str, np.ndarray]:
        """Forecasts from the end of each series of ``history``, in the data's units
        (``network_only``: the network's, whatever ``fallback`` chose).

        Returns:
            ``{"mean": (N, horizon), "q0.1": (N, horizon), ...}`` for the ``N`` series.
        """
        cfg = self.config
        batch = self.network_inputs(history, horizon, future_covariates)
        self.network.eval()
        torch.manual_seed(cfg.seed)
        result = self.network.forecast(batch, quantiles, num_samples=cfg.num_samples)
        level, scale = batch["level"].unsqueeze(1), batch["scale"].unsqueeze(1)

        def unscale(z: torch.Tensor) -> np.ndarray:
            return (level + scale * z.double()).numpy()[:, :horizon]

        columns = {"mean": unscale(result["mean"])}
        columns.update({f"q{q:g}": unscale(result["quantiles"][q]) for q in quantiles})
        return columns if network_only else self._apply_selection(history, columns, horizon, quantiles)

    def network_inputs(
        self, history: SeriesCollection, horizon: int, future_covariates: list[np.ndarray] | None = None
    ) -> dict[str, torch.Tensor]:
        """The network's scaled input windows at the end of each series of ``history`` (what
        :meth:`forecast_arrays` feeds it, and an exported network takes): ``past_target``,
        ``past_observed``, ``past_features``, ``future_features``, with each series' ``level`` and
        ``scale`` (forecast in the data's units = ``level + scale * network output``)."""
        self._check_fitted()
        cfg = self.config
        steps = self._feature_steps(horizon)
        arrays = build_arrays(history, use_calendar=cfg.calendar, future_covariates=future_covariates, horizon=steps)
        context = cfg.window()
        fallback = series_scales(history)
        windows = []
        for i, (name, values) in enumerate(zip(history.ids, history.values, strict=True)):
            if not np.isfinite(values).any():
                raise SeriesError(f"series {name!r} has no observed value to forecast from")
            # A history shorter than the context is padded with missing values (see make_window).
            scale = self.scales_.get(name, float(fallback[i]))
            windows.append(make_window(arrays[i], len(values), context=context, horizon=steps, scale=scale,
                                       impute=cfg.impute, season_length=cfg.lag(), level=cfg.level))
        return {k: torch.stack([w[k] for w in windows]) for k in windows[0]}

    def _select(self, collection: SeriesCollection) -> dict:
        """Choose among :data:`CANDIDATES` by their error on each series' last ``horizon`` steps."""
        from rnnkit.tasks.forecast.backtest import cut

        horizon = self.config.horizon
        usable = [i for i, v in enumerate(collection.values) if len(v) > horizon]
        ends = [len(v) - horizon if i in usable else len(v) for i, v in enumerate(collection.values)]
        history = cut(collection, ends)
        if collection.covariate_names:
            return {"choice": "network", "errors": {}, "reason": "covariates: the statistical forecasts cannot use "
                                                                 "them, so the network is used"}
        network = self.forecast_arrays(history, horizon, (), network_only=True)["mean"]
        errors = dict.fromkeys(CANDIDATES, 0.0)
        for i in usable:
            actual = collection.values[i][-horizon:]
            observed = np.isfinite(actual)
            statistical = self._statistical(history.values[i], horizon, (), ets=True)
            forecasts = {"network": network[i], "seasonal_naive": statistical["seasonal_naive"][0],
                         "ets": statistical["ets"][0], "network+ets": (network[i] + statistical["ets"][0]) / 2}
            scale = self.scales_.get(collection.ids[i], 1.0) or 1.0
            for name, forecast in forecasts.items():
                errors[name] += float(np.mean(np.abs(actual[observed] - forecast[observed]))) / scale
        errors = {k: v / max(len(usable), 1) for k, v in errors.items()}
        choice = min(errors, key=errors.get)
        ranked = ", ".join(f"{k} {v:.4g}" for k, v in sorted(errors.items(), key=lambda kv: kv[1]))
        reason = (f"on the last {horizon} steps of {len(usable)} series (scaled MAE: {ranked}) {choice} was best"
                  + ("" if choice == "network" else "; the network alone did not beat it there"))
        return {"choice": choice, "errors": errors, "reason": reason}

    def _statistical(self, values: np.ndarray, horizon: int, quantiles: tuple[float, ...], *, ets: bool) -> dict:
        from rnnkit.tasks.forecast import baselines

        season = self.config.season_length
        out = {"seasonal_naive": baselines.seasonal_naive(values, horizon, quantiles, season_length=season)}
        if ets:
            out["ets"] = baselines.ets(values, horizon, quantiles or (0.5,), season_length=season)
        return out

    def explain(self) -> str:
        """Which forecast the model gives and why (see ``fallback``)."""
        self._check_fitted()
        return f"{self.selection_['choice']}: {self.selection_['reason']}"

    def _apply_selection(self, history: SeriesCollection, columns: dict, horizon: int, quantiles) -> dict:
        choice = self.selection_.get("choice", "network")
        if choice == "network":
            return columns
        out = {k: v.copy() for k, v in columns.items()}
        for i, values in enumerate(history.values):
            statistical = self._statistical(values, horizon, tuple(quantiles), ets=choice != "seasonal_naive")
            if choice == "seasonal_naive":
                mean = statistical["seasonal_naive"][0]
                shift = mean - columns["mean"][i]  # the network's spread around the chosen mean
                out["mean"][i] = mean
                for q in quantiles:
                    out[f"q{q:g}"][i] = columns[f"q{q:g}"][i] + shift
                continue
            ets_mean, ets_quantiles = statistical["ets"]
            weight = 1.0 if choice == "ets" else 0.5
            out["mean"][i] = weight * ets_mean + (1 - weight) * columns["mean"][i]
            for q in quantiles:
                out[f"q{q:g}"][i] = weight * ets_quantiles[q] + (1 - weight) * columns[f"q{q:g}"][i]
        return out

    def _future_covariates(self, history: SeriesCollection, covariates, steps: int) -> list[np.ndarray] | None:
        if not history.covariate_names:
            return None
        if covariates is None:
            raise ConfigError(f"covariates: the model was fitted with covariates {history.covariate_names}; "
                             f"give their values for the next {steps} steps")
        future = []
        for i, name in enumerate(history.ids):
            index = history.future_index(i, steps)
            frame = covariates
            if self._layout.get("id_col"):
                id_col, time_col = self._layout["id_col"], self._layout["time_col"]
                frame = covariates[covariates[id_col].astype(str) == name].set_index(time_col)
            frame = frame.set_axis(pd.Index(pd.to_datetime(frame.index)) if history.freq else frame.index)
            missing = ~index.isin(frame.index)
            if missing.any():
                raise SeriesError(f"covariates: no row for future time {index[np.argmax(missing)]} of series {name!r}")
            future.append(frame.loc[index, history.covariate_names].to_numpy(dtype=float))
        return future

    # ------------------------------------------------------------- backtest
    def backtest(
        self,
        y: pd.Series | pd.DataFrame,
        *,
        origins: int = 5,
        stride: int | None = None,
        quantiles: tuple[float, ...] = (0.1, 0.5, 0.9),
        refit: bool = True,
        covariates: pd.DataFrame | None = None,
        **layout,
    ) -> tuple[pd.DataFrame, dict[str, float]]:
        """Rolling-origin evaluation on ``y``.

        The model is fitted on each series up to its first origin (with ``refit``; otherwise the
        fitted model is used as it is), then forecasts ``horizon`` steps from every origin, each
        reading only the data before it. Origins are ``stride`` steps apart (default: the horizon),
        the last one ending with the series.

        Args:
            y: the series, in any layout :meth:`fit` accepts (``layout`` as in :meth:`fit`).
            origins, stride: the rolling origins.
            quantiles: levels to forecast.
            refit: fit on the data before the first origin first.
            covariates: known covariates over the whole of ``y`` (and no further).

        Returns:
            ``(forecasts, scores)``: one row per series, origin and step (``id``, ``origin``,
            ``step``, ``time``, ``actual``, ``mean``, ``q…``), and MAE, RMSE, sMAPE, MASE, scaled
            pinball loss and 80 % coverage over all of them.

        Example:
            >>> forecasts, scores = Forecaster(24, season_length=132).backtest(y, origins=5)  # doctest: +SKIP
            >>> scores["mase"]  # doctest: +SKIP
        """
        from rnnkit.tasks.forecast.backtest import backtest_forecaster, score

        if refit:
            self._layout = {key: layout.get(key) for key in ("id_col", "time_col", "value_col", "covariate_cols",
                                                               "freq")}
        elif self.network is None:
            raise RuntimeError("Forecaster: backtest(refit=False) needs a fitted model")
        collection = to_collection(y, covariates=covariates, **layout)
        frame, _ = backtest_forecaster(self, collection, origins=origins, stride=stride, quantiles=quantiles,
                                       refit=refit)
        return frame, asdict(score(frame, collection, season_length=self.config.season_length))

    def evaluate(self, y: pd.Series | pd.DataFrame, *, origins: int = 5, **options) -> dict[str, float]:
        """Scores of this fitted model at rolling origins on ``y`` (no refit); see :meth:`backtest`.

        Returns:
            ``{"mae", "rmse", "smape", "mase", "pinball", "coverage80"}``.
        """
        return self.backtest(y, origins=origins, refit=False, **options)[1]

    # ----------------------------------------------------------- save / load
    # ``save(dir)`` / ``rnnkit.load(dir)`` come from Saveable: the settings, scales and recent
    # history go to config.json, the network weights to model.safetensors; nothing is pickled.

    def get_config(self) -> dict:
        return asdict(self.config)

    def json_state(self) -> dict:
        self._check_fitted()
        keep = self.config.window() + (self.config.lag() or 0)
        history = self.history_
        covariates = history.covariates or [np.zeros((len(v), 0)) for v in history.values]
        return {
            "scales": self.scales_,
            "layout": self._layout,
            "freq": history.freq.freqstr if history.freq is not None else None,
            "covariate_names": history.covariate_names,
            "num_features": self.network.num_features,
            "history": [
                {
                    "id": name,
                    "times": [str(t) for t in times[-keep:]],
                    "values": [float(v) if np.isfinite(v) else None for v in values[-keep:]],
                    "covariates": covs[-keep:].tolist(),
                }
                for name, times, values, covs in zip(history.ids, history.times, history.values, covariates,
                                                     strict=True)
            ],
            "training_log": self.training_log_,
            "fit_seconds": self.fit_seconds_,
            "selection": self.selection_,
            "short_series": self.short_series_,
        }

    def load_json_state(self, state: dict) -> None:
        freq = pd.tseries.frequencies.to_offset(state["freq"]) if state["freq"] else None

        def index(times: list[str]) -> pd.Index:
            return pd.DatetimeIndex(pd.to_datetime(times), freq=freq) if freq else pd.Index([int(t) for t in times])

        series = state["history"]
        self.history_ = SeriesCollection(
            [s["id"] for s in series],
            [index(s["times"]) for s in series],
            [np.array([np.nan if v is None else v for v in s["values"]], dtype=float) for s in series],
            [np.array(s["covariates"], dtype=float).reshape(len(s["values"]), -1) for s in series],
            list(state["covariate_names"]),
            freq,
        )
        self.scales_ = {k: float(v) for k, v in state["scales"].items()}
        self._layout = state["layout"]
        self.training_log_ = state.get("training_log", [])
        self.fit_seconds_ = state.get("fit_seconds", 0.0)
        self.selection_ = state.get("selection", {"choice": "network", "errors": {}, "reason": "saved before fallback"})
        self.short_series_ = state.get("short_series", [])
        self.network = self._build_network(state["num_features"])

    def tensor_state(self) -> dict[str, torch.Tensor]:
        self._check_fitted()
        return dict(self.network.state_dict())

    def load_tensor_state(self, tensors: dict[str, torch.Tensor]) -> None:
        load_state_dict_checked(self.network, tensors, what="Forecaster network")
        self.network.eval()
