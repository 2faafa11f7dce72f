"""Every setting of ``rnnkit forecast`` (flags, config files and the tuner's search space)."""

from __future__ import annotations

from dataclasses import dataclass

from rnnkit.tasks.framework.config import AppConfig, ConfigError, setting

#: The embedded-sunspots demo's settings where the user gave none (measured in the README).
DEMO_DEFAULTS = {"context_length": 144, "hidden_size": 48, "max_steps": 800}


def check_freq(freq: str | None) -> None:
    """A pandas frequency string (``D``, ``W-SAT``, ``MS``, ``30min``), or ``None``."""
    if freq is None:
        return
    import pandas as pd

    try:
        pd.tseries.frequencies.to_offset(freq)
    except (ValueError, TypeError):
        raise ConfigError(f"freq: {freq!r} is not a pandas frequency (e.g. D, W-SAT, MS, 30min, h)") from None


@dataclass
class ForecastAppConfig(AppConfig):
    """Settings of ``rnnkit forecast``: data, model, backtest and output."""

    dataset: str | None = setting(None, "a built-in dataset (default: sunspots): sunspots, taylor, co2, ...; or a "
                                        "competition subset: m3-yearly, m3-quarterly, m3-monthly, m3-other, "
                                        "tourism-yearly, tourism-quarterly, tourism-monthly")
    series: int | None = setting(None, "competition subsets: use this many series drawn with the seed (default all)",
                                 min=1)
    time_col: str | None = setting(None, "time column of --data (default: its first column)")
    value_col: str | None = setting(None, "value column of --data (default: the only other column)")
    id_col: str | None = setting(None, "series id column, for many series in long layout")
    covariate_cols: tuple[str, ...] = setting((), "comma-separated known covariate columns (long layout)")
    freq: str | None = setting(None, "pandas frequency, if it cannot be inferred (e.g. MS, 30min, W-SAT)")
    horizon: int | None = setting(None, "steps to forecast (default: the dataset's, else 12)", min=1)
    season_length: int | None = setting(None, "seasonal period in steps (default: the dataset's)", min=1)
    context_length: int | None = setting(None, "steps the network reads before each forecast", min=1,
                                         search={"choices": [24, 48, 96, 144]})
    cell: str = setting("lstm", "recurrent cell: lstm, gru, elman, layernorm_lstm, ...",
                        search={"choices": ["lstm", "gru", "layernorm_lstm"]})
    decoder: str = setting("direct", "direct (all steps at once) or autoregressive (DeepAR-style)",
                           choices=("direct", "autoregressive"))
    likelihood: str = setting("gaussian", "output distribution", choices=("gaussian", "student_t", "quantile"))
    hidden_size: int | None = setting(None, "state size (default 64; 48 for the demo)", min=1,
                                      search={"low": 16, "high": 128, "log": True})
    num_layers: int = setting(2, "stacked recurrent layers", min=1, search={"low": 1, "high": 3})
    dropout: float = setting(0.1, "dropout between layers", min=0.0, max=0.95, search={"low": 0.0, "high": 0.5})
    lr: float = setting(3e-3, "Adam learning rate", min=0.0, search={"low": 3e-4, "high": 1e-2, "log": True})
    max_steps: int | None = setting(None, "training steps (default 1500; 800 for the demo)", min=1)
    fallback: str = setting("none", "validation: use seasonal naive, ETS or their mix with the network when the "
                                    "network alone loses on each series' last horizon (explain() says which)",
                            choices=("none", "validation"))
    ensemble: int = setting(1, "networks from different initial weights whose forecasts are averaged", min=1)
    origins: int = setting(5, "rolling backtest origins", min=1)
    stride: int | None = setting(None, "steps between origins (default: the horizon)", min=1)
    baselines: tuple[str, ...] = setting(("naive", "seasonal_naive", "ets"),
                                         "comma-separated from naive, seasonal_naive, ets, arima")
    quantiles: tuple[float, ...] = setting((0.1, 0.5, 0.9), "forecast quantiles, each in (0, 1), e.g. 0.05,0.5,0.95")

    def validate(self) -> None:
        from rnnkit.cells import CELLS
        from rnnkit.data.competitions import SUBSETS
        from rnnkit.data.datasets import DATASETS
        from rnnkit.tasks.forecast.baselines import BASELINES

        if self.cell.lower() not in CELLS:
            raise ConfigError(f"cell: unknown name {self.cell!r}; expected one of {sorted(CELLS)}")
        if self.data and self.dataset:
            raise ConfigError("data and dataset: give one of them")
        if self.dataset is not None and self.dataset not in DATASETS and self.dataset not in SUBSETS:
            raise ConfigError(f"dataset: expected one of {sorted(DATASETS) + sorted(SUBSETS)}, got {self.dataset!r}")
        check_freq(self.freq)
        for q in self.quantiles:
            if not 0.0 < q < 1.0:
                raise ConfigError(f"quantiles: each must lie strictly between 0 and 1, got {q!r}")
        for name in self.baselines:
            if name not in BASELINES:
                raise ConfigError(f"baselines: expected names from {sorted(BASELINES)}, got {name!r}")
