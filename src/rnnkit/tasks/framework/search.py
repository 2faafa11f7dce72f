"""Hyperparameter search for any application: ``rnnkit tune <app>`` with Optuna.

The search space is declared where the settings are: ``setting(..., search={"low", "high", "log"})``
or ``search={"choices": [...]}`` in the app's config dataclass. Each trial runs the app's one
pipeline (:func:`~rnnkit.tasks.framework.app.run_pipeline`) without writing a run directory;
the Trainer's validation loss is reported to Optuna after every epoch so the median pruner can
stop poor trials early. With ``--storage sqlite:///study.db`` a stopped search continues where it
was when the same command runs again. The best settings are written as a YAML file that
``rnnkit <app> train --config`` accepts, with the optimisation history and parameter importances
as PNGs.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

from rnnkit.optional import require
from rnnkit.tasks.framework.app import Application, run_pipeline
from rnnkit.tasks.framework.config import AppConfig, ConfigError, search_space


class SearchError(ValueError):
    """The app has no search space, or the study's storage cannot be opened."""


class PruningCallback:
    """Trainer callback: report the validation metric to an Optuna trial after each epoch and stop
    the trial when the pruner says so.

    Args:
        trial: the ``optuna.Trial``.
        metric: the validation metric in the Trainer's epoch record (default ``val_loss``; lower
            is better).
    """

    def __init__(self, trial: Any, metric: str = "val_loss") -> None:
        self.trial, self.metric, self.reports = trial, metric, 0

    def on_epoch_end(self, trainer: Any, epoch: int, record: dict) -> None:
        value = record.get(self.metric)
        if value is None or not math.isfinite(float(value)):
            return
        # One trial may train several networks (an ensemble, a fold each): steps keep increasing.
        self.trial.report(float(value), self.reports)
        self.reports += 1
        if self.trial.should_prune():
            optuna = require("optuna", "tune")
            raise optuna.TrialPruned(f"pruned after {self.reports} epochs ({self.metric} {value:.4g})")


def suggest(trial: Any, space: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """One set of settings from ``space`` (see :func:`~rnnkit.tasks.framework.config.search_space`)."""
    values = {}
    for name, spec in space.items():
        if "choices" in spec:
            values[name] = trial.suggest_categorical(name, list(spec["choices"]))
        elif isinstance(spec["low"], int) and isinstance(spec["high"], int) and not spec.get("float"):
            values[name] = trial.suggest_int(name, spec["low"], spec["high"], log=bool(spec.get("log")))
        else:
            values[name] = trial.suggest_float(name, float(spec["low"]), float(spec["high"]),
                                               log=bool(spec.get("log")))
    return values


def tune(
    app: Application,
    base: AppConfig,
    *,
    trials: int = 10,
    storage: str | None = None,
    study_name: str | None = None,
    timeout: float | None = None,
    output_dir: str | Path | None = None,
    seed: int = 0,
) -> Any:
    """Search the app's settings with TPE and median pruning; returns the Optuna study.

    Args:
        app: the application.
        base: the settings that are not searched (and the defaults of those that are).
        trials: trials to run in this call (a resumed study adds this many more).
        storage: an Optuna storage URL (``sqlite:///study.db``) to resume from and save to;
            ``None`` keeps the study in memory.
        study_name: the study's name in the storage (default ``rnnkit-<app>``).
        timeout: stop starting trials after this many seconds.
        output_dir: where to write ``best.yaml``, ``trials.csv``, ``history.png`` and
            ``importances.png`` (default ``runs/tune/<app>``).
        seed: the sampler's seed (a resumed study's sampler gets ``seed`` + the trials it has).

    Returns:
        The ``optuna.Study``.

    Example:
        >>> from rnnkit.tasks import get_app
        >>> app = get_app("forecast")
        >>> study = tune(app, app.config_class(max_steps=100), trials=5)  # doctest: +SKIP
        >>> study.best_params  # doctest: +SKIP
    """
    optuna = require("optuna", "tune")
    space = search_space(type(base))
    if not space:
        raise SearchError(f"rnnkit tune {app.name}: the app declares no search space (no setting has search=...)")
    direction = None
    name = study_name or f"rnnkit-{app.name}"
    try:
        study = optuna.create_study(
            study_name=name, storage=storage, load_if_exists=True,
            sampler=optuna.samplers.TPESampler(seed=seed),
            pruner=optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=1),
            direction="minimize",
        )
    except Exception as error:  # optuna raises several storage errors (sqlalchemy, value, ...)
        raise SearchError(f"--storage: cannot open {storage!r}: {error}") from None
    # A resumed study gets a sampler seeded past the trials it has: with the same seed, a new process
    # would draw the same start-up points again and repeat the first trials of the study.
    study.sampler = optuna.samplers.TPESampler(seed=seed + len(study.trials))

    def objective(trial: Any) -> float:
        nonlocal direction
        try:
            config = dataclasses.replace(base, **suggest(trial, space), progress=False)
        except ConfigError as error:
            raise optuna.TrialPruned(f"invalid settings: {error}") from None
        result = run_pipeline(app, config, write=False, callbacks=[PruningCallback(trial)], verbose=False)
        report = result.report
        direction = "higher" if report.higher_is_better else "lower"
        trial.set_user_attr("metric", report.primary)
        trial.set_user_attr("score", report.score)
        for method, row in list(report.metrics.items())[1:]:
            if report.primary in row:
                trial.set_user_attr(f"baseline {method}", float(row[report.primary]))
        # Optuna minimises: a higher-is-better metric is negated.
        return -report.score if report.higher_is_better else report.score

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study.optimize(objective, n_trials=trials, timeout=timeout, show_progress_bar=base.progress)
    write_study(app, base, study, Path(output_dir) if output_dir else Path("runs") / "tune" / app.name)
    return study


def write_study(app: Application, base: AppConfig, study: Any, out: Path) -> dict[str, Path]:
    """``best.yaml`` (the base settings with the best trial's values), ``trials.csv`` and the PNGs."""
    import yaml

    out.mkdir(parents=True, exist_ok=True)
    files = {"trials": out / "trials.csv"}
    study.trials_dataframe().to_csv(files["trials"], index=False)
    complete = [t for t in study.trials if t.state.name == "COMPLETE"]
    if not complete:
        return files
    best = dataclasses.replace(base, **study.best_params)
    settings = {k: v for k, v in best.to_dict().items() if k not in ("output_dir",)}
    files["best"] = out / "best.yaml"
    files["best"].write_text(
        f"# rnnkit tune {app.name}: best of {len(complete)} complete trials "
        f"({study.best_trial.user_attrs.get('metric')} {study.best_trial.user_attrs.get('score')})\n"
        + yaml.safe_dump(settings, sort_keys=False), encoding="utf-8")
    files.update(_plots(study, out))
    return files


def _plots(study: Any, out: Path) -> dict[str, Path]:
    """Optimisation history and parameter importances (when matplotlib is installed)."""
    from rnnkit.optional import MissingDependency
    from rnnkit.plots import pyplot, save_figure

    try:
        plt = pyplot()
    except MissingDependency:
        return {}
    import optuna

    files = {}
    complete = [t for t in study.trials if t.state.name == "COMPLETE"]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    values = [t.value for t in complete]
    ax.plot(range(len(values)), values, "o", label="trial")
    ax.plot(range(len(values)), [min(values[: i + 1]) for i in range(len(values))], "-", label="best so far")
    ax.set_xlabel("complete trial")
    ax.xaxis.get_major_locator().set_params(integer=True)  # trials are whole numbers
    ax.set_ylabel("objective (minimised)")
    ax.legend()
    ax.set_title("optimisation history")
    files["history"] = save_figure(fig, out / "history.png")
    if len(complete) >= 2 and len(study.best_params) >= 1:
        try:
            # Optuna >= 4.3 defaults to PED-ANOVA; name the evaluator used on the plot.
            kind = getattr(optuna.importance, "PedAnovaImportanceEvaluator", None)
            evaluator = kind() if kind is not None else optuna.importance.FanovaImportanceEvaluator()
            importances = optuna.importance.get_param_importances(study, evaluator=evaluator)
        except (RuntimeError, ValueError):  # too few distinct trials for the evaluator
            importances = {}
        if importances:
            fig, ax = plt.subplots(figsize=(6, 1.6 + 0.4 * len(importances)))  # room for title and axis
            names = list(importances)[::-1]
            ax.barh(names, [importances[n] for n in names])
            ax.set_xlabel(f"importance ({'PED-ANOVA' if kind is not None else 'fANOVA'})")
            ax.set_title("parameter importances")
            files["importances"] = save_figure(fig, out / "importances.png")
    return files


__all__ = ["PruningCallback", "SearchError", "suggest", "tune", "write_study"]
