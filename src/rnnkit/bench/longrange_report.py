"""Files of ``rnnkit bench longrange``: CSV of runs and curves, Markdown tables with the papers' numbers, PNGs.

The papers' numbers (:data:`PAPER_RESULTS`) are quoted as the papers give them, with their own
training sets and budgets (60,000 MNIST digits, 10^4–10^5 steps), so they are context for ours,
not the same experiment.
"""

from __future__ import annotations

import csv
import datetime
import math
import platform
from pathlib import Path
from typing import Any

import torch

RESULTS_FILE, CURVES_FILE = "longrange.csv", "longrange_curves.csv"

#: What the papers report, per (task, model); shown beside our numbers.
PAPER_RESULTS: dict[tuple[str, str], str] = {
    ("adding", "indrnn"): "Li et al. 2018: solves T = 100, 500, 1000 and 5000",
    ("adding", "lstm"): "Li et al. 2018: no longer learns at T = 1000",
    ("smnist", "lstm"): "1.8 % error (Arjovsky et al. 2016; 60k digits)",
    ("smnist", "indrnn"): "1.0 % error (Li et al. 2018, 6 layers; 60k digits)",
    ("smnist", "irnn"): "3.0 % error (Le et al. 2015; 60k digits)",
    ("psmnist", "lstm"): "12.0 % error (Arjovsky et al. 2016; 60k digits)",
    ("psmnist", "indrnn"): "4.0 % error (Li et al. 2018, 6 layers; 60k digits)",
    ("psmnist", "irnn"): "18.0 % error (Le et al. 2015; 60k digits)",
}
TASK_TITLES = {
    "adding": "Adding problem (test MSE; solved: < 0.01; always answering 1: 0.167)",
    "copy": "Copy memory (solved: >= 99 % of the recalled symbols right; baseline CE 10 log 8 / (T + 20))",
    "smnist": "Sequential MNIST, 784 pixels one by one (best test accuracy; 4,000 train / 1,000 test real digits)",
    "psmnist": "Permuted sequential MNIST, one fixed pixel order (best test accuracy; 4,000 / 1,000 digits)",
}


LADDER_BASELINE_FRACTION = 0.9  # --ladder: "did not learn" = best test loss >= 90 % of the baseline's


def _num(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    columns: list[str] = []
    for row in rows:
        columns += [k for k in row if k not in columns]
    tmp = path.with_suffix(".csv.tmp")
    with tmp.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    tmp.replace(path)  # a reader never sees half a file


def write_results(out: Path, rows: list[dict[str, Any]], curves: list[dict[str, Any]]) -> None:
    """Write ``longrange.csv`` (one row per run) and ``longrange_curves.csv`` (one row per evaluation)."""
    _write_csv(out / RESULTS_FILE, rows)
    if curves:
        _write_csv(out / CURVES_FILE, curves)


def read_results(out: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Rows and curves of an earlier (possibly interrupted) run in ``out``; empty lists if none."""
    def read(name: str) -> list[dict[str, Any]]:
        path = out / name
        if not path.is_file():
            return []
        with path.open(newline="") as handle:
            return list(csv.DictReader(handle))

    rows = read(RESULTS_FILE)
    done = {(r["task"], r["model"], r["T"]) for r in rows}
    curves = [c for c in read(CURVES_FILE) if (c["task"], c["model"], c["T"]) in done]
    return rows, curves


def _steps(value: Any) -> str:
    return f"{int(_num(value)):,}"


def _duration(seconds: Any) -> str:
    seconds = _num(seconds)
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def cell_text(row: dict[str, Any]) -> str:
    """One table cell: the outcome of a run in a few words."""
    task, time_used = row["task"], _duration(row["seconds"])
    if row.get("stop") == "time limit":  # so a short run is not read as the whole step budget
        time_used += ", time limit"
    if task == "adding":
        if row["solved"] == "yes":
            return f"**solved** at {_steps(row['steps_to_solve'])} steps ({time_used})"
        return f"not solved in {_steps(row['steps'])} steps; best MSE {_num(row['best_loss']):.3g} ({time_used})"
    if task == "copy":
        recall = 100 * _num(row["best_accuracy"])
        if row["solved"] == "yes":
            return f"**solved** at {_steps(row['steps_to_solve'])} steps ({time_used})"
        return (f"not solved in {_steps(row['steps'])} steps; best CE {_num(row['best_loss']):.3g}, "
                f"recall {recall:.0f} % ({time_used})")
    accuracy = 100 * _num(row["best_accuracy"])
    return f"{accuracy:.1f} % accuracy ({100 - accuracy:.1f} % error) after {_steps(row['steps'])} steps ({time_used})"


def by_length(rows: list[dict[str, Any]], length: int) -> dict[str, Any]:
    """The first row of ``rows`` with ``T == length``."""
    return next(r for r in rows if int(_num(r["T"])) == length)


def did_not_learn(row: dict[str, Any]) -> bool:
    """A run that was not solved and whose best test loss stayed within 10 % of the baseline's."""
    return row["solved"] == "no" and _num(row["best_loss"]) >= LADDER_BASELINE_FRACTION * _num(row["baseline_loss"])


def not_learnt_lengths(rows: list[dict[str, Any]], task: str, model: str, length: int) -> list[int]:
    """The lengths shorter than ``length`` at which ``model`` did not learn ``task`` (sorted)."""
    return sorted(int(_num(r["T"])) for r in rows if r["task"] == task and r["model"] == model
                  and did_not_learn(r) and int(_num(r["T"])) < length)


def skipped_text(rows: list[dict[str, Any]], model: str, length: int) -> str:
    """The table cell of a run that was not made (``--ladder`` skips it when a shorter T was not learnt)."""
    failed = not_learnt_lengths(rows, rows[0]["task"], model, length) if rows else []
    return f"not run (no better than the baseline at T = {failed[0]})" if failed else "—"


def describe_row(row: dict[str, Any]) -> str:
    """A one-line progress report of a finished run."""
    return f"{row['task']:8s} T={row['T']!s:5s} {row['model']:15s} {cell_text(row).replace('**', '')}"


def _environment() -> str:
    from rnnkit.bench.common import cpu_name

    return f"{cpu_name()}, torch {torch.__version__}, Python {platform.python_version()}"


def markdown_tables(rows: list[dict[str, Any]], *, config: Any, seconds: float) -> str:
    """The Markdown report: one table per task (models x lengths), the papers' numbers in the last column."""
    first = rows[0] if rows else {}
    lines = [
        f"Long-range benchmark, {datetime.date.today().isoformat()}: device {config.device}, "
        f"{first.get('threads', torch.get_num_threads())} thread(s), {_environment()}.",
        f"Adam, lr {_lrs(rows)}, gradient norm clipped to {config.clip_grad_norm}, batch {config.batch_size}, "
        f"{config.hidden_size} units per layer, seed {config.seed}"
        + (", chrono init" if config.chrono else "") + (" (--quick preset)" if config.quick else "") + ".",
        f"Wall time of this invocation: {_duration(seconds)}"
        f" (sum over all runs in the table: {_duration(sum(_num(r['seconds']) for r in rows))}).",
        "",
    ]
    for task in ("adding", "copy", "smnist", "psmnist"):
        task_rows = [r for r in rows if r["task"] == task]
        if not task_rows:
            continue
        lengths = sorted({int(_num(r["T"])) for r in task_rows})
        models = list(dict.fromkeys(r["model"] for r in task_rows))
        by_key = {(r["model"], int(_num(r["T"]))): r for r in task_rows}
        lines += [f"**{TASK_TITLES[task]}**", ""]
        if task == "copy":
            columns = [f"T = {t} (baseline CE {_num(by_length(task_rows, t)['baseline_loss']):.3f})" for t in lengths]
        elif task == "adding":
            columns = [f"T = {t}" for t in lengths]
        else:
            columns = ["ours: best test accuracy (5k-digit subset)"]
        header = ["model (layers x units)", *columns, "papers"]
        lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        for model in models:
            some = next(r for r in task_rows if r["model"] == model)
            cells = [f"{model} ({some['layers']}x{some['hidden']})"]
            cells += [cell_text(by_key[(model, t)]) if (model, t) in by_key else skipped_text(task_rows, model, t)
                      for t in lengths]
            cells.append(PAPER_RESULTS.get((task, model), ""))
            lines.append("| " + " | ".join(cells) + " |")
        lines += ["", _budget_note(task_rows), ""]
    return "\n".join(lines)


def _lrs(rows: list[dict[str, Any]]) -> str:
    by_lr: dict[float, list[str]] = {}
    for row in rows:
        models = by_lr.setdefault(_num(row.get("lr")), [])
        if row["model"] not in models:
            models.append(row["model"])
    if len(by_lr) == 1:
        return f"{next(iter(by_lr)):g}"
    return "; ".join(f"{lr:g} ({', '.join(models)})" for lr, models in sorted(by_lr.items()))


def _budget_note(rows: list[dict[str, Any]]) -> str:
    """Step budgets and time limits of a task's runs, per length, and the evaluation interval."""
    parts = []
    for length in sorted({int(_num(r["T"])) for r in rows}):
        here = [r for r in rows if int(_num(r["T"])) == length]
        steps = sorted({int(_num(r["budget_steps"])) for r in here})
        limits = sorted({_num(r.get("time_limit_min")) for r in here} - {math.nan})
        limits = [m for m in limits if math.isfinite(m)]
        text = f"T = {length}: at most {', '.join(f'{s:,}' for s in steps)} steps"
        parts.append(text + (f" and {', '.join(f'{m:g}' for m in limits)} min per run" if limits else ""))
    every = sorted({int(_num(r["eval_every"])) for r in rows})
    return ("Budgets: " + "; ".join(parts) + f". Test set evaluated every {', '.join(map(str, every))} steps "
            "(steps-to-solve is a multiple of it).")


def plot_curves(rows: list[dict[str, Any]], curves: list[dict[str, Any]], out: Path) -> list[Path]:
    """``longrange_<task>.png``: test loss against steps, one line per model, one panel per length."""
    from rnnkit.optional import MissingDependency
    from rnnkit.plots import pyplot, save_figure

    try:
        plt = pyplot()
    except MissingDependency:
        return []  # plots are optional (pip install 'rnnkit[plots]'); the CSV and Markdown are written
    written = []
    palette = plt.get_cmap("tab20").colors
    for task in dict.fromkeys(r["task"] for r in rows):
        lengths = sorted({int(_num(r["T"])) for r in rows if r["task"] == task})
        models = list(dict.fromkeys(r["model"] for r in rows if r["task"] == task))
        figure, axes = plt.subplots(1, len(lengths), figsize=(5.5 * len(lengths), 4), squeeze=False)
        for axis, length in zip(axes[0], lengths, strict=True):
            for index, model in enumerate(models):
                points = [c for c in curves if c["task"] == task and c["model"] == model
                          and int(_num(c["T"])) == length]
                if points:  # one colour per model in every panel (a panel may lack some models)
                    axis.plot([_num(p["step"]) for p in points], [_num(p["loss"]) for p in points],
                              marker="." if len(points) < 40 else None, label=model,
                              color=palette[index % len(palette)])
            baseline = next(_num(r["baseline_loss"]) for r in rows if r["task"] == task and
                            int(_num(r["T"])) == length)
            axis.axhline(baseline, color="gray", linestyle="--", linewidth=1, label="memoryless baseline")
            if task == "adding":
                axis.axhline(0.01, color="gray", linestyle=":", linewidth=1, label="solved (0.01)")
            axis.set_yscale("log")
            axis.set_xlabel("optimizer step")
            axis.set_ylabel("test loss" + (" (MSE)" if task == "adding" else " (cross-entropy)"))
            axis.set_title(f"{task}, T = {length}")
            axis.grid(alpha=0.3)
            axis.legend(fontsize=7, loc="best")  # each panel lists the models it shows
        written.append(save_figure(figure, out / f"longrange_{task}.png"))
    return written


__all__ = ["PAPER_RESULTS", "cell_text", "describe_row", "markdown_tables", "plot_curves", "read_results",
           "write_results"]
