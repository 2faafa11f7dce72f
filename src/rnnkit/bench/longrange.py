"""``rnnkit bench longrange``: which cell learns which long-range task, and in how many steps.

For each task, model (:data:`rnnkit.models.longrange.RECIPES`) and length, one run of the
:class:`~rnnkit.Trainer` (Adam, gradient-norm clipping, batch 50, 128 units by default) on the
task's data, validated on a fixed test set every ``eval_every`` steps, until the task is solved,
the step budget is spent or the run's time limit is reached:

=========  ==============================================  ===============================
task       data                                            solved when (on the test set)
=========  ==============================================  ===============================
adding     fresh batches each step; 1,000 test sequences    MSE < 0.01 (always 1: 0.167)
copy       fresh batches each step; 1,000 test sequences    >= 99 % of recalled symbols right
smnist     4,000 / 1,000 real MNIST digits, 784 steps       (no threshold: test accuracy reported)
psmnist    the same in one fixed pixel order                (no threshold: test accuracy reported)
=========  ==============================================  ===============================

Steps-to-solve is the first evaluation at which the criterion held, so it is a multiple of
``eval_every``. Results go to ``longrange.csv`` (one row per run), ``longrange_curves.csv``
(test metrics at every evaluation), ``longrange.md`` (tables with the papers' numbers beside
ours) and ``longrange_<task>.png`` (test loss against steps, one line per model); see
:mod:`rnnkit.bench.longrange_report`.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import Subset

from rnnkit.bench.common import flushing_denormals
from rnnkit.data.longrange import ADDING_BASELINE_MSE, copy_memory_baseline
from rnnkit.models.longrange import RECIPES
from rnnkit.tasks import TaskSetup
from rnnkit.tasks.framework.cli import add_dataclass_flags
from rnnkit.tasks.framework.config import setting
from rnnkit.tasks.longrange import (
    AddingConfig,
    CopyConfig,
    MNISTConfig,
    build_adding,
    build_copy,
    build_psmnist,
    build_smnist,
)
from rnnkit.training import Trainer, seed_everything

TASKS = ("adding", "copy", "smnist", "psmnist")
ADDING_SOLVED_MSE = 0.01
COPY_SOLVED_ACCURACY = 0.99
MNIST_STEPS = 784

#: Step budgets of a full run when no ``--max-steps`` is given: adding by T, the others per task.
DEFAULT_STEPS = {"adding": {100: 3000, 500: 2000, 1000: 2000, 5000: 5000}, "copy": 3000, "smnist": 2000,
                 "psmnist": 2000}


@dataclass
class LongRangeBenchConfig:
    """Settings of one benchmark run (``rnnkit bench longrange --help`` lists them as flags).

    Args:
        tasks: of ``adding``, ``copy``, ``smnist``, ``psmnist``.
        models: names of :data:`RECIPES` (default: every one).
        lengths: adding-problem lengths ``T`` (default 100, 500, 1000; and 5000 on a GPU).
        copy_lengths: copy-memory delays ``T`` (blanks).
        max_steps: step budget of every run (default: :data:`DEFAULT_STEPS`).
        mnist_max_steps: step budget of the MNIST runs (default: ``max_steps``).
        max_minutes: wall-clock limit of each run, checked at each evaluation (``None``: none).
        eval_every: optimiser steps between test evaluations (MNIST: ``None`` = once per epoch).
        hidden_size, batch_size, clip_grad_norm: model and optimiser (Adam) settings.
        lr: learning rate of every model.
        chrono: chrono initialisation (``T_max = T``) for every cell that supports it.
        test_size: test sequences of the synthetic tasks.
        mnist_train_size, mnist_test_size: use a random subset of the 4,000 / 1,000 digits.
        device: ``"cpu"`` or ``"cuda"``.
        seed: seeds the weights and the data.
        out_dir: where the CSV, Markdown and PNG files go.
        resume: keep the runs already in ``out_dir/longrange.csv`` and run only the missing ones.
        ladder: adding and copy: skip a model's longer lengths once it did not learn at a shorter
            one (not solved, and its best test loss within 10 % of the memoryless baseline; the
            table says so), to spend the time where there is something to learn.
        quick: the few-minutes preset (see :func:`quick_config`).
    """

    tasks: list[str] = setting(help=f"comma-separated, of {','.join(TASKS)}", default_factory=lambda: list(TASKS))
    models: list[str] = setting(help=f"comma-separated models, of {','.join(RECIPES)}",
                                default_factory=lambda: list(RECIPES), aliases=("cells",))
    lengths: list[int] | None = setting(None, "adding-problem lengths T (default 100,500,1000; plus 5000 with "
                                        "--device cuda)")
    copy_lengths: list[int] = setting(help="copy-memory delays T", default_factory=lambda: [100])
    max_steps: int | None = setting(None, "step budget of every run (default: adding 3000/2000/2000 for "
                                    "T=100/500/1000, copy 3000, MNIST 2000)")
    mnist_max_steps: int | None = setting(None, "step budget of the MNIST runs (default: --max-steps)")
    max_minutes: float | None = setting(None, "wall-clock limit of each run (checked at each evaluation)")
    eval_every: int | None = setting(None, "steps between test evaluations (default 100; MNIST: one epoch)")
    hidden_size: int = setting(128, "units per recurrent layer")
    batch_size: int = setting(50, "sequences per optimiser step")
    lr: float = setting(1e-3, "Adam learning rate of every model")
    clip_grad_norm: float = setting(1.0, "gradient-norm clipping")
    chrono: bool = setting(False, "chrono initialisation (T_max = T) for every cell that supports it")
    test_size: int = setting(1000, "test sequences of the synthetic tasks")
    mnist_train_size: int | None = setting(None, "use a random subset of the 4,000 training digits")
    mnist_test_size: int | None = setting(None, "use a random subset of the 1,000 test digits")
    device: str = setting("cpu", "cpu or cuda")
    seed: int = setting(0, "seeds the weights and the data")
    out_dir: str = setting("runs/longrange", "output directory")
    resume: bool = setting(False, "keep the runs already in OUT_DIR/longrange.csv, run the rest")
    ladder: bool = setting(False, "adding/copy: skip a model's longer T once it did not beat the baseline (by 10 %) "
                           "at a shorter T")
    quick: bool = setting(False, "few-minute preset: adding T 20,50, copy T 10, cells elman,gru,indrnn, 1000 steps "
                          "(MNIST: 100 steps on 1000/200 digits), 64 units (other flags override it)")

    def __post_init__(self) -> None:
        for task in self.tasks:
            if task not in TASKS:
                raise ValueError(f"tasks: unknown task {task!r}; expected some of {', '.join(TASKS)}")
        for model in self.models:
            if model not in RECIPES:
                raise ValueError(f"cells: unknown model {model!r}; expected some of {', '.join(RECIPES)}")
        self.tasks, self.models = list(self.tasks), list(self.models)
        for name in ("lengths", "copy_lengths"):
            if getattr(self, name) is not None:
                setattr(self, name, list(getattr(self, name)))
            values = getattr(self, name) or []
            if any(not isinstance(v, int) or v < 2 for v in values):
                raise ValueError(f"{name}: expected integers >= 2, got {values!r}")
        if self.device not in ("cpu", "cuda") and not self.device.startswith("cuda:"):
            raise ValueError(f"device: expected 'cpu' or 'cuda', got {self.device!r}")
        if self.lengths is None:
            self.lengths = [100, 500, 1000] + ([5000] if self.device.startswith("cuda") else [])


def quick_config(**overrides: Any) -> LongRangeBenchConfig:
    """A few minutes on two CPU cores: small T, three cells, small budgets and MNIST subsets.

    Adding at T = 20 and 50 and copy at T = 10, up to 1,000 steps (evaluated every 50);
    MNIST on 1,000 training / 200 test digits for 100 steps; 64 units; elman, gru and indrnn.
    Any keyword overrides the preset.
    """
    settings: dict[str, Any] = dict(models=["elman", "gru", "indrnn"], lengths=[20, 50], copy_lengths=[10],
                                    max_steps=1000, mnist_max_steps=100, eval_every=50, test_size=500,
                                    mnist_train_size=1000, mnist_test_size=200, hidden_size=64, quick=True)
    if "max_steps" in overrides and "mnist_max_steps" not in overrides:
        settings["mnist_max_steps"] = None  # an explicit --max-steps applies to every task
    settings.update(overrides)
    return LongRangeBenchConfig(**settings)


# ------------------------------------------------------------------------------------------ one run


@dataclass
class RunSpec:
    """One cell of the table: a task, a model and a length, with its step budget."""

    task: str
    model: str
    length: int
    max_steps: int


def default_steps(task: str, length: int) -> int:
    """The step budget of :data:`DEFAULT_STEPS` (adding: the nearest listed ``T`` at or above ``length``)."""
    budget = DEFAULT_STEPS[task]
    if isinstance(budget, dict):
        listed = sorted(budget)
        return budget[next((t for t in listed if t >= length), listed[-1])]
    return budget


def plan(config: LongRangeBenchConfig) -> list[RunSpec]:
    """Every run the configuration asks for, in order (task, length, model)."""
    runs = []
    for task in config.tasks:
        lengths = {"adding": config.lengths, "copy": config.copy_lengths}.get(task, [MNIST_STEPS])
        for length in lengths:
            budget = config.max_steps or default_steps(task, length)
            if task in ("smnist", "psmnist") and config.mnist_max_steps:
                budget = config.mnist_max_steps
            runs.extend(RunSpec(task, model, length, budget) for model in config.models)
    return runs


def _subset(data: Any, size: int | None, seed: int) -> Any:
    if size is None or size >= len(data):
        return data
    order = torch.randperm(len(data), generator=torch.Generator().manual_seed(seed))[:size]
    return Subset(data, order.tolist())


def build_run(spec: RunSpec, config: LongRangeBenchConfig) -> tuple[TaskSetup, int]:
    """The task setup of one run and its evaluation interval in steps."""
    common = {"model": spec.model, "hidden_size": config.hidden_size, "chrono": config.chrono}
    eval_every = config.eval_every
    if spec.task in ("adding", "copy"):
        eval_every = eval_every or 100
        if spec.task == "adding":
            task_config: Any = AddingConfig(steps=spec.length, batches_per_epoch=eval_every,
                                            batch_size=config.batch_size, test_size=config.test_size, **common)
            return build_adding(task_config, seed=config.seed), eval_every
        task_config = CopyConfig(blanks=spec.length, batches_per_epoch=eval_every, batch_size=config.batch_size,
                                 test_size=config.test_size, **common)
        return build_copy(task_config, seed=config.seed), eval_every
    build = build_smnist if spec.task == "smnist" else build_psmnist
    setup = build(MNISTConfig(**common), seed=config.seed)
    setup.train_data = _subset(setup.train_data, config.mnist_train_size, config.seed)
    setup.val_data = _subset(setup.val_data, config.mnist_test_size, config.seed + 1)
    if eval_every is not None:  # an "epoch" of eval_every batches drawn from the training digits
        setup.train_data = _EpochOf(setup.train_data, eval_every * config.batch_size, config.seed)
    else:
        eval_every = math.ceil(len(setup.train_data) / config.batch_size)
    return setup, eval_every


class _EpochOf(torch.utils.data.Dataset):
    """``size`` examples per epoch cycling through ``data`` (so validation comes every ``size / batch`` steps)."""

    def __init__(self, data: Any, size: int, seed: int) -> None:
        self.data, self.size = data, size
        self.order = torch.randperm(len(data), generator=torch.Generator().manual_seed(seed))

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, index: int) -> Any:
        return self.data[int(self.order[index % len(self.data)])]


def solved(task: str, metrics: dict[str, float]) -> bool | None:
    """Whether the test metrics meet the task's criterion (``None``: the task has none)."""
    if task == "adding":
        return metrics["val_loss"] < ADDING_SOLVED_MSE
    if task == "copy":
        return metrics["val_recall_accuracy"] >= COPY_SOLVED_ACCURACY
    return None


def baseline_loss(task: str, length: int) -> float:
    """The memoryless baseline's test loss: 1/6 (adding), 10 log 8 / (T + 20) (copy), log 10 (MNIST)."""
    if task == "adding":
        return ADDING_BASELINE_MSE
    if task == "copy":
        return copy_memory_baseline(length)
    return math.log(10)


class _Monitor:
    """Trainer callback: records the test curve, stops when solved or out of time."""

    def __init__(self, task: str, max_seconds: float | None) -> None:
        self.task, self.max_seconds = task, max_seconds
        self.start = time.perf_counter()
        self.curve: list[dict[str, float]] = []
        self.solved_at: int | None = None
        self.out_of_time = False

    def on_epoch_end(self, trainer: Any, epoch: int, record: dict[str, Any]) -> None:
        if "val_loss" not in record:
            return
        seconds = time.perf_counter() - self.start
        self.curve.append({"step": record["step"], "seconds": seconds,
                           **{k[4:]: float(v) for k, v in record.items() if k.startswith("val_")}})
        if self.solved_at is None and solved(self.task, record):
            self.solved_at = record["step"]
            trainer.should_stop = True
        elif self.max_seconds is not None and seconds > self.max_seconds:
            self.out_of_time = True
            trainer.should_stop = True


def run_one(spec: RunSpec, config: LongRangeBenchConfig) -> tuple[dict[str, Any], list[dict[str, float]]]:
    """Train one model on one task and length; returns its result row and test curve."""
    seed_everything(config.seed)
    setup, eval_every = build_run(spec, config)
    monitor = _Monitor(spec.task, None if config.max_minutes is None else 60 * config.max_minutes)
    lr = config.lr
    trainer = Trainer(max_epochs=None, max_steps=spec.max_steps, batch_size=config.batch_size, optimizer="adam",
                      lr=lr, clip_grad_norm=config.clip_grad_norm, device=config.device, seed=config.seed,
                      progress_bar=False, plot=False, callbacks=[*setup.callbacks, monitor])
    start = time.perf_counter()
    result = trainer.fit(setup.model, setup.train_data, setup.val_data)
    seconds = time.perf_counter() - start
    curve = monitor.curve
    losses = [p["loss"] for p in curve if math.isfinite(p["loss"])]
    accuracy_key = {"copy": "recall_accuracy", "smnist": "accuracy", "psmnist": "accuracy"}.get(spec.task)
    accuracies = [p[accuracy_key] for p in curve] if accuracy_key else []
    has_criterion = spec.task in ("adding", "copy")
    row = {
        "task": spec.task, "model": spec.model, "T": spec.length,
        "description": RECIPES[spec.model].description,
        "layers": setup.model.rnn.num_layers, "hidden": config.hidden_size,
        "parameters": sum(p.numel() for p in setup.model.parameters()),
        "lr": lr, "budget_steps": spec.max_steps, "time_limit_min": config.max_minutes or "",
        "steps": result.steps, "eval_every": eval_every,
        "solved": ("yes" if monitor.solved_at is not None else "no") if has_criterion else "",
        "steps_to_solve": monitor.solved_at if monitor.solved_at is not None else "",
        "best_loss": min(losses) if losses else math.nan,
        "final_loss": curve[-1]["loss"] if curve else math.nan,
        "baseline_loss": baseline_loss(spec.task, spec.length),
        "best_accuracy": max(accuracies) if accuracies else "",
        "final_accuracy": accuracies[-1] if accuracies else "",
        "stop": "solved" if monitor.solved_at is not None else ("time limit" if monitor.out_of_time else "budget"),
        "nonfinite_steps": result.nonfinite_steps,
        "seconds": round(seconds, 1), "ms_per_step": round(1000 * seconds / max(result.steps, 1), 1),
        "device": config.device, "threads": torch.get_num_threads(),
    }
    return row, curve


# ------------------------------------------------------------------------------------------ the run


def run_longrange_bench(config: LongRangeBenchConfig, *, log: Any = print) -> list[dict[str, Any]]:
    """Run every planned run, writing the CSV after each; then the Markdown tables and PNGs.

    Returns:
        The result rows (also in ``out_dir/longrange.csv``).
    """
    from rnnkit.bench import longrange_report as report

    out = Path(config.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rows, curves = (report.read_results(out) if config.resume else ([], []))
    done = {(r["task"], r["model"], int(r["T"])) for r in rows}
    start = time.perf_counter()
    with flushing_denormals():  # subnormal floats from saturated gates cost ~10x on CPU; restored after
        for spec in plan(config):
            if (spec.task, spec.model, spec.length) in done:
                continue
            not_learnt = report.not_learnt_lengths(rows, spec.task, spec.model, spec.length)
            if config.ladder and not_learnt:
                log(f"{spec.task:8s} T={spec.length!s:5s} {spec.model:15s} skipped: no better than the baseline at "
                    f"T = {min(not_learnt)}")
                continue
            row, curve = run_one(spec, config)
            rows.append(row)
            curves += [{"task": spec.task, "model": spec.model, "T": spec.length, **point} for point in curve]
            report.write_results(out, rows, curves)
            log(report.describe_row(row))
    total = time.perf_counter() - start
    markdown = report.markdown_tables(rows, config=config, seconds=total)
    (out / "longrange.md").write_text(markdown)
    log("\n" + markdown)
    for png in report.plot_curves(rows, curves, out):
        log(f"wrote {png}")
    log(f"wrote {out / 'longrange.csv'}, {out / 'longrange_curves.csv'}, {out / 'longrange.md'}")
    return rows


# -------------------------------------------------------------------------------------- command line


def build_parser(prog: str = "rnnkit bench longrange") -> argparse.ArgumentParser:
    """The command line of the benchmark (shared by the CLI and ``benchmarks/longrange.py``): one flag per
    field of :class:`LongRangeBenchConfig` (``--cells`` for ``models``), help from its metadata."""
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0], allow_abbrev=False)
    add_dataclass_flags(parser, LongRangeBenchConfig)
    return parser


def config_from_args(args: argparse.Namespace) -> LongRangeBenchConfig:
    """The configuration the parsed flags describe (``--quick`` first, then every given flag)."""
    names = {f.name for f in dataclasses.fields(LongRangeBenchConfig)}
    given = {k: v for k, v in vars(args).items() if k in names and k != "quick"}
    return quick_config(**given) if getattr(args, "quick", False) else LongRangeBenchConfig(**given)


def main(argv: Sequence[str] | None = None) -> int:
    """``rnnkit bench longrange [flags]``."""
    args = build_parser().parse_args(argv)
    try:
        config = config_from_args(args)
    except ValueError as error:
        raise SystemExit(f"rnnkit bench longrange: error: {error}") from None
    run_longrange_bench(config)
    return 0


__all__ = ["DEFAULT_STEPS", "TASKS", "LongRangeBenchConfig", "RunSpec", "build_parser", "config_from_args", "main",
           "plan", "quick_config", "run_longrange_bench", "run_one", "solved"]
