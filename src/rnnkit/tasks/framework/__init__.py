"""The shape every application shares: settings, the pipeline, the run directory, the CLI."""

from rnnkit.tasks.framework.app import Application, Report, RunContext, RunResult, run_pipeline
from rnnkit.tasks.framework.config import AppConfig, ConfigError, search_space, setting
from rnnkit.tasks.framework.estimator import Estimator

__all__ = ["AppConfig", "Application", "ConfigError", "Estimator", "Report", "RunContext", "RunResult",
           "run_pipeline", "search_space", "setting"]
