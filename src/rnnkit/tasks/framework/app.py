"""The application contract: data -> model -> training -> evaluation -> report -> predict.

Every application (``rnnkit.tasks.<app>.app``) defines one :class:`Application` subclass and an
instance named ``APP``. :func:`run_pipeline` runs it the same way for the CLI
(``rnnkit <app> train``), the estimators, ``rnnkit tune`` and ``rnnkit export``, and writes the same
run directory for every app::

    runs/<app>/<name>/
      config.json      the app's settings (reloadable: rnnkit <app> train --config config.json)
      metrics.json     {"primary": ..., "methods": {method: {metric: value}}, ...}
      metrics.md       the model and the baselines of the same run, side by side
      *.png            the app's plots
      model/           the estimator: rnnkit.load(DIR / "model") and rnnkit <app> predict --model read it
"""

from __future__ import annotations

import argparse
import importlib
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from rnnkit.tasks.framework.config import AppConfig


@dataclass
class Report:
    """What an evaluation produced.

    Attributes:
        metrics: ``{method: {metric: value}}``; the first method is rnnkit's model, the rest are
            the baselines (and peers) run on the same data and splits.
        primary: the metric the tuner optimises and the summary line quotes (a key of each row).
        higher_is_better: the primary metric's direction.
        plots: ``{name: path}`` of the pictures written.
        sections: extra Markdown blocks for ``metrics.md`` (``{title: markdown}``).
        notes: sentences printed under the table (what the numbers mean, what was left out).
        extra: any other JSON-able results saved in ``metrics.json``.
    """

    metrics: dict[str, dict[str, float]]
    primary: str
    higher_is_better: bool = True
    plots: dict[str, Path] = field(default_factory=dict)
    sections: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def model_name(self) -> str:
        """The first method: rnnkit's model."""
        return next(iter(self.metrics))

    @property
    def score(self) -> float:
        """The model's primary metric."""
        return float(self.metrics[self.model_name][self.primary])

    def markdown(self) -> str:
        """The metrics table (methods as rows) and the extra sections, as Markdown."""
        return format_metrics_markdown(self.metrics) + "".join(
            f"\n\n### {title}\n\n{text.strip()}" for title, text in self.sections.items()
        ) + "".join(f"\n\n{note}" for note in self.notes)


def format_number(value: Any) -> str:
    """A table cell: 4 significant digits for floats, as-is otherwise."""
    if isinstance(value, float):
        if math.isnan(value):
            return "—"
        return f"{value:.4g}" if abs(value) < 1e5 else f"{value:.3e}"
    return str(value)


def format_metrics_markdown(metrics: dict[str, dict[str, Any]]) -> str:
    """``{method: {metric: value}}`` as a Markdown table, one row per method."""
    columns: list[str] = []
    for row in metrics.values():
        columns += [c for c in row if c not in columns]
    lines = ["| method | " + " | ".join(columns) + " |", "|---|" + "---:|" * len(columns)]
    for method, row in metrics.items():
        lines.append(f"| {method} | " + " | ".join(format_number(row.get(c, float("nan"))) for c in columns) + " |")
    return "\n".join(lines)


@dataclass
class RunContext:
    """What the pipeline hands to an application's stages.

    Attributes:
        output_dir: the run directory (plots go here), or None when nothing is written.
        callbacks: extra Trainer callbacks (the tuner's pruning callback, for example) that the
            app must pass to every Trainer it builds.
        verbose: print progress and tables.
    """

    output_dir: Path | None
    callbacks: list[Any] = field(default_factory=list)
    verbose: bool = True

    def path(self, name: str) -> Path | None:
        """A file in the run directory (None when nothing is written)."""
        return None if self.output_dir is None else self.output_dir / name


class Application:
    """One application: subclass, set the class attributes and implement the stages.

    Class attributes:
        name: the CLI word (``rnnkit <name>``) and the run directory's parent.
        summary: one line for ``rnnkit --help``.
        config_class: the app's :class:`AppConfig` subclass.
        extra: the ``pip install 'rnnkit[extra]'`` that the app's optional dependencies come from.
        serving: ``"module:RequestModel"`` of the app's HTTP endpoint (``rnnkit serve``): the
            pydantic body and the module's ``answer(estimator, request)``; ``None``: not served.

    The stages, in the order :func:`run_pipeline` calls them:
        ``load_data(config)`` -> data (the app's own object, usually with train/val/test splits);
        ``build(config, data)`` -> an unfitted estimator;
        ``fit(estimator, data, config, context)`` -> trains it;
        ``evaluate(estimator, data, config, context)`` -> :class:`Report` with the baselines;
        ``predict(estimator, args)`` -> the CLI's ``predict`` command (prints or writes files).
    """

    name: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    config_class: ClassVar[type[AppConfig]] = AppConfig
    extra: ClassVar[str | None] = None
    serving: ClassVar[str | None] = None

    def run_name(self, config: AppConfig) -> str:
        """The run directory's name: the data file's stem, else the built-in dataset's name."""
        if config.data:
            return Path(config.data).stem
        return str(getattr(config, "dataset", None) or "default")

    def default_output_dir(self, config: AppConfig) -> Path:
        """``runs/<app>/<run name>`` unless ``config.output_dir`` is set."""
        return Path(config.output_dir) if config.output_dir else Path("runs") / self.name / self.run_name(config)

    def load_data(self, config: AppConfig) -> Any:
        """Read the user's data (``config.data``) or the built-in data."""
        raise NotImplementedError

    def build(self, config: AppConfig, data: Any) -> Any:
        """An unfitted estimator configured from ``config`` (and sized from ``data``)."""
        raise NotImplementedError

    def fit(self, estimator: Any, data: Any, config: AppConfig, context: RunContext) -> None:
        """Train ``estimator`` on ``data``'s training split (validation for early stopping)."""
        raise NotImplementedError

    def evaluate(self, estimator: Any, data: Any, config: AppConfig, context: RunContext) -> Report:
        """Score the fitted estimator and the baselines on the same held-out data; draw the plots."""
        raise NotImplementedError

    def add_predict_arguments(self, parser: argparse.ArgumentParser) -> None:
        """Flags of ``rnnkit <app> predict`` besides ``--model`` (e.g. ``--text``, ``--data``)."""

    def predict(self, estimator: Any, args: argparse.Namespace) -> int:
        """``rnnkit <app> predict``: run the saved model on the inputs named in ``args``."""
        raise NotImplementedError(f"rnnkit {self.name} predict is not available")

    def serve_request_model(self) -> Any:
        """The pydantic model of a ``POST /v1/<app>`` body for ``rnnkit serve`` (None: not served):
        the class :attr:`serving` names, imported only now (pydantic is an optional dependency)."""
        if self.serving is None:
            return None
        module, _, name = self.serving.partition(":")
        return getattr(importlib.import_module(module), name)

    def serve(self, estimator: Any, request: Any) -> Any:
        """Answer one validated request of :meth:`serve_request_model`: JSON-able output, or an
        iterator of events for a streamed answer; the ``answer(estimator, request)`` of
        :attr:`serving`'s module."""
        if self.serving is None:
            raise NotImplementedError(f"rnnkit {self.name} has no HTTP endpoint")
        return importlib.import_module(self.serving.partition(":")[0]).answer(estimator, request)

    def load_estimator(self, path: str | Path) -> Any:
        """Load a saved model directory and check it belongs to this app."""
        from rnnkit.serialization import SerializationError, load

        estimator = load(path)
        owner = getattr(estimator, "app_name", None)
        if owner != self.name:
            raise SerializationError(f"--model: {path} holds a {type(estimator).__name__}"
                                     f"{f' (rnnkit {owner})' if owner else ''}, not a model of rnnkit {self.name}")
        return estimator


@dataclass
class RunResult:
    """What :func:`run_pipeline` returns: the run directory, the report and the fitted estimator."""

    output_dir: Path | None
    report: Report
    estimator: Any
    config: AppConfig


def run_pipeline(
    app: Application,
    config: AppConfig,
    *,
    write: bool = True,
    callbacks: Sequence[Any] = (),
    verbose: bool = True,
    on_data: Callable[[Any], None] | None = None,
) -> RunResult:
    """Run one application end to end and write its run directory.

    Args:
        app: the application (``rnnkit.tasks.get_app(name)``).
        config: its settings.
        write: write the run directory (``False`` for the tuner's trials, which only need the score).
        callbacks: extra Trainer callbacks passed to the app's training.
        verbose: print progress and the metrics table.
        on_data: called with the loaded data (tests and the tuner use it to inspect splits).

    Returns:
        A :class:`RunResult`.

    Example:
        >>> from rnnkit.tasks import get_app
        >>> app = get_app("forecast")
        >>> result = run_pipeline(app, app.config_class(max_steps=50), write=False)
        >>> result.report.metrics  # doctest: +SKIP
    """
    from rnnkit.tasks.framework.rundir import RunDirectory

    run_dir = RunDirectory(app.default_output_dir(config)) if write else None
    with run_dir if run_dir is not None else _nothing():
        if run_dir is not None:
            run_dir.write_config(app, config)
        context = RunContext(run_dir.path if run_dir else None, list(callbacks), verbose)
        data = app.load_data(config)
        if on_data is not None:
            on_data(data)
        estimator = app.build(config, data)
        app.fit(estimator, data, config, context)
        report = app.evaluate(estimator, data, config, context)
        if run_dir is not None:
            run_dir.write_report(report)
            estimator.save(run_dir.path / "model")
        if verbose:
            print(f"\nrnnkit {app.name}: {app.run_name(config)}")
            print(report.markdown())
            if run_dir is not None:
                print(f"\nwritten to {run_dir.path}: {', '.join(run_dir.listing())}")
    return RunResult(run_dir.path if run_dir else None, report, estimator, config)


class _nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


__all__ = ["Application", "Report", "RunContext", "RunResult", "format_metrics_markdown", "run_pipeline"]
