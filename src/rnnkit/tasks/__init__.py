"""Applications: data + model + training + metrics wired together (layer 7 of docs/design.md).

A task is registered under a name with a config dataclass and a builder; ``rnnkit train``
builds the task named in its config file's ``task`` section and trains it with the ``trainer``
section. An application adds itself with :func:`register_task`::

    @dataclass
    class MyConfig:
        hidden_size: int = 32

    @register_task("my-task", MyConfig, "one line for `rnnkit train --help`")
    def build_my_task(config: MyConfig, *, seed: int) -> TaskSetup:
        return TaskSetup(model=..., train_data=..., val_data=...)
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from torch import nn


@dataclass
class TaskSetup:
    """What a task builder returns: a trainable model, its data (see :class:`rnnkit.Trainer`) and
    the Trainer callbacks the model needs (IndRNN's weight projection, for example)."""

    model: nn.Module
    train_data: Any
    val_data: Any = None
    callbacks: list[Any] = field(default_factory=list)


@dataclass
class Task:
    """A registered task: its name, config dataclass, builder and one-line description."""

    name: str
    config_class: type
    build: Callable[..., TaskSetup]
    description: str


TASKS: dict[str, Task] = {}

# Tasks shipped with rnnkit, imported on first lookup (so `import rnnkit.tasks` stays light).
_BUILTIN_MODULES = ("rnnkit.tasks.synthetic", "rnnkit.tasks.longrange")


def register_task(name: str, config_class: type, description: str) -> Callable[[Callable[..., TaskSetup]], Callable]:
    """Decorator registering ``builder(config, *, seed) -> TaskSetup`` under ``name``."""

    def decorate(builder: Callable[..., TaskSetup]) -> Callable[..., TaskSetup]:
        TASKS[name] = Task(name, config_class, builder, description)
        return builder

    return decorate


def available_tasks() -> dict[str, Task]:
    """Every registered task, built-ins included."""
    for module in _BUILTIN_MODULES:
        importlib.import_module(module)
    return dict(sorted(TASKS.items()))


def get_task(name: str) -> Task:
    """The task registered as ``name``; an unknown name suggests the closest one."""
    tasks = available_tasks()
    if name not in tasks:
        close = difflib.get_close_matches(name, list(tasks), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"task: unknown task {name!r}{hint} (available: {', '.join(tasks)})")
    return tasks[name]


# ------------------------------------------------------------------------------------- applications

#: ``rnnkit <name>``: every application, as the module that defines its ``APP`` (imported on demand,
#: so ``rnnkit --help`` and ``import rnnkit`` import no application).
APPS: dict[str, str] = {
    "forecast": "rnnkit.tasks.forecast.app",
    "moving-digits": "rnnkit.tasks.moving_digits.app",
    "classify": "rnnkit.tasks.classify.app",
    "lm": "rnnkit.tasks.lm.app",
    "translate": "rnnkit.tasks.translate.app",
    "tag": "rnnkit.tasks.tag.app",
    "transcribe": "rnnkit.tasks.transcribe.app",
}


def available_apps() -> list[str]:
    """The names of every application (``rnnkit <name>``)."""
    return sorted(APPS)


def get_app(name: str):
    """The :class:`~rnnkit.tasks.framework.Application` registered as ``name``.

    Raises:
        ValueError: an unknown name (the message suggests the closest one).
    """
    if name not in APPS:
        close = difflib.get_close_matches(name, list(APPS), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"app: unknown application {name!r}{hint} (available: {', '.join(sorted(APPS))})")
    return importlib.import_module(APPS[name]).APP


__all__ = ["APPS", "TASKS", "Task", "TaskSetup", "available_apps", "available_tasks", "get_app", "get_task",
           "register_task"]
