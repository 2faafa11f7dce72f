"""``rnnkit`` command line: a thin shell over :mod:`rnnkit.tasks` and :class:`rnnkit.Trainer`.

``rnnkit train --config run.yaml`` reads a YAML or TOML file with two sections::

    task:                 # a registered task (rnnkit.tasks) and its settings
      name: recall
      steps: 50
    trainer:              # rnnkit.TrainerConfig fields
      max_epochs: 5
      lr: 0.003

Every field can be overridden by a flag: ``--max-epochs 8`` (trainer), ``--task.steps 100``
(task), ``--task recall`` (which task). Unknown keys or flags are errors naming the closest
valid one.
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rnnkit.tasks.framework.cli import CLIError, add_dataclass_flags, app_main, read_settings_file
from rnnkit.tasks.framework.cli import parse_or_suggest as _parse_or_suggest

SECTIONS = ("task", "trainer")


# ----------------------------------------------------------------------------------- config files


def read_config_file(path: str | Path) -> dict[str, Any]:
    """Read a YAML (``.yaml``/``.yml``) or TOML (``.toml``) file with ``task`` and ``trainer`` sections."""
    path = Path(path)
    if path.is_dir():
        raise CLIError(f"--config: {path} is a directory; give a YAML or TOML file")
    data = read_settings_file(path)
    for key in data:
        if key not in SECTIONS:
            close = difflib.get_close_matches(str(key), SECTIONS, n=1)
            raise CLIError(f"--config: unknown section {key!r} in {path}" + (f"; did you mean {close[0]!r}?" if close
                                                                            else f"; expected {SECTIONS}"))
    task = data.get("task", {})
    if isinstance(task, str):
        task = {"name": task}
    return {"task": dict(task or {}), "trainer": dict(data.get("trainer") or {})}


# --------------------------------------------------------------------------------------- commands


def _resolve_run(argv: Sequence[str], prog: str, *, extra: Any = None) -> tuple[argparse.Namespace, Any, Any, Any]:
    """Two-phase parse: find the config file and task, then parse every flag. Returns
    (args, task, task config, trainer config)."""
    from rnnkit.tasks import available_tasks, get_task
    from rnnkit.training import TrainerConfig
    from rnnkit.training.config import check_keys

    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--config")
    pre.add_argument("--task")
    known, _ = pre.parse_known_args(argv)
    file = read_config_file(known.config) if known.config else {"task": {}, "trainer": {}}
    task_name = known.task or file["task"].pop("name", None)
    file["task"].pop("name", None)

    tasks = available_tasks()
    parser = argparse.ArgumentParser(
        prog=prog, allow_abbrev=False, epilog="tasks: " + "; ".join(f"{n} ({t.description})" for n, t in tasks.items()),
    )
    parser.add_argument("--config", help="YAML or TOML file with 'task' and 'trainer' sections")
    parser.add_argument("--task", help=f"task name, one of: {', '.join(tasks)}")
    if extra is not None:
        extra(parser)
    valid = ["--config", "--task", "--help", *[a for action in parser._actions for a in action.option_strings]]
    valid += add_dataclass_flags(parser, TrainerConfig, prefix="", dest="trainer.")
    task = None
    if task_name is not None:
        try:
            task = get_task(task_name)
        except ValueError as error:
            raise CLIError(str(error)) from None
        valid += add_dataclass_flags(parser, task.config_class, prefix="task.", dest="task.")
    args = _parse_or_suggest(parser, argv, sorted(set(valid)))
    values = vars(args)
    task_values = {**file["task"], **{k[5:]: v for k, v in values.items() if k.startswith("task.")}}
    trainer_values = {**file["trainer"], **{k[8:]: v for k, v in values.items() if k.startswith("trainer.")}}
    try:
        trainer_config = TrainerConfig.from_dict(trainer_values)
        if task is None:
            raise CLIError("task: no task given; set task.name in the config file or pass --task NAME")
        check_keys(task_values, [f.name for f in dataclasses.fields(task.config_class)], where=f"task {task.name!r}")
        task_config = task.config_class(**task_values)
        _check_types(task_config, where="task.")
    except (TypeError, ValueError) as error:
        raise CLIError(str(error)) from None
    return args, task, task_config, trainer_config


def _check_types(config: Any, *, where: str) -> None:
    """Every field of a dataclass config has its declared type (``steps: true`` is not the integer 1)."""
    import typing

    from rnnkit.tasks.framework.config import check_value

    hints = typing.get_type_hints(type(config))
    for f in dataclasses.fields(config):
        value = check_value(f"{where}{f.name}", getattr(config, f.name), hints[f.name], f.metadata)
        object.__setattr__(config, f.name, value)


def _build(task: Any, task_config: Any, seed: int) -> Any:
    """``task.build``, with a bad setting that only the builder notices reported as a CLI error."""
    try:
        return task.build(task_config, seed=seed)
    except (ValueError, RuntimeError, IndexError) as error:  # e.g. steps=0: no first step to recall
        settings = ", ".join(f"{f.name}={getattr(task_config, f.name)!r}" for f in dataclasses.fields(task_config))
        raise CLIError(f"task {task.name!r}: cannot be built from its settings ({settings}): {error}") from None


def _train(argv: Sequence[str]) -> int:
    from rnnkit.training import Trainer, seed_everything

    def extra(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--resume", action="store_true", help="continue from output_dir's latest checkpoint")
        parser.add_argument("--quiet", action="store_true", help="no progress bar or summary")

    args, task, task_config, trainer_config = _resolve_run(argv, "rnnkit train", extra=extra)
    if args.quiet:
        trainer_config.progress_bar = False
    seed_everything(trainer_config.seed)  # the model's initial weights depend on the seed too
    setup = _build(task, task_config, trainer_config.seed)
    trainer = Trainer(trainer_config, callbacks=setup.callbacks)
    result = trainer.fit(setup.model, setup.train_data, setup.val_data, resume=args.resume)
    if not args.quiet and trainer.dist.is_main:
        last = result.history[-1] if result.history else {}
        metrics = ", ".join(f"{k} {v:.4g}" for k, v in last.items() if k.startswith(("train_", "val_")))
        print(f"{task.name}: {result.epochs} epochs, {result.steps} steps ({result.stop_reason}); "
              f"last epoch: {metrics}")
        if result.output_dir is not None:
            written = sorted(p.name + ("/" if p.is_dir() else "") for p in result.output_dir.iterdir())
            print(f"written to {result.output_dir}: {', '.join(written)}")
    return 0


def _diagnose(argv: Sequence[str]) -> int:
    import torch

    from rnnkit.diagnostics import gradient_flow, plot_gradient_flow
    from rnnkit.training import seed_everything
    from rnnkit.training.batches import to_device

    def extra(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--output", default="gradient_flow.png", help="PNG to write (default gradient_flow.png)")
        parser.add_argument("--cells", help="compare cells on the task, e.g. elman,lstm (overrides task.cell)")
        parser.add_argument("--model", help="a saved model directory to diagnose instead of a fresh one")
        parser.add_argument("--batch-size-diagnose", type=int, default=64, dest="examples",
                            help="examples in the diagnosed batch (default 64)")

    args, task, task_config, trainer_config = _resolve_run(argv, "rnnkit diagnose", extra=extra)
    cells = args.cells.split(",") if args.cells else [getattr(task_config, "cell", None)]
    flows = {}
    for cell in cells:
        if cell is not None and hasattr(task_config, "cell"):
            task_config = dataclasses.replace(task_config, cell=cell)
        seed_everything(trainer_config.seed)
        setup = _build(task, task_config, trainer_config.seed)
        model = setup.model
        if args.model:
            from rnnkit.serialization import load

            model = load(args.model)
        data = setup.val_data if setup.val_data is not None else setup.train_data
        loader = torch.utils.data.DataLoader(data, batch_size=args.examples) if isinstance(
            data, torch.utils.data.Dataset) else data
        batch = to_device(next(iter(loader)), next(model.parameters()).device)
        flows[cell or type(model).__name__] = flow = gradient_flow(model, batch)
        print(f"{cell or type(model).__name__}: loss {flow.loss:.4g}\n{flow.summary()}\n")
    plot_gradient_flow(flows, args.output, title=f"gradient flow: task {task.name}")
    print(f"wrote {args.output}")
    return 0


def _demo(argv: Sequence[str]) -> int:
    from rnnkit.tasks import get_app

    return app_main(get_app("forecast"), ["train", "--dataset", "sunspots", *argv])


def _app_command(name: str):
    def run(argv: Sequence[str]) -> int:
        from rnnkit.tasks import get_app

        return app_main(get_app(name), argv)

    return run


def _bench_speed(argv: Sequence[str]) -> int:
    from rnnkit.bench.speed import main as speed_main

    return speed_main(argv)


def _bench_longrange(argv: Sequence[str]) -> int:
    from rnnkit.bench.longrange import main as longrange_main

    return longrange_main(argv)


def _bench_auto(argv: Sequence[str]) -> int:
    from rnnkit.backends.autotune_bench import main as auto_main

    return auto_main(argv)


def _tune(argv: Sequence[str]) -> int:
    from rnnkit.tasks import APPS, get_app
    from rnnkit.tasks.framework.cli import build_config
    from rnnkit.tasks.framework.search import SearchError, tune

    if not argv or argv[0] in ("-h", "--help"):
        print("usage: rnnkit tune APP [--trials N] [--storage sqlite:///study.db] [--timeout S] [APP settings]\n\n"
              "Hyperparameter search (Optuna TPE + median pruning) over the settings the app declares with a "
              f"search range; writes best.yaml for 'rnnkit APP train --config'.\napps: {', '.join(sorted(APPS))}")
        return 0
    try:
        app = get_app(argv[0])
    except ValueError as error:
        raise CLIError(str(error)) from None
    parser = argparse.ArgumentParser(prog=f"rnnkit tune {app.name}", allow_abbrev=False,
                                     description=f"Search the settings of rnnkit {app.name}.")
    parser.add_argument("--trials", type=int, default=10, help="trials to run now (default 10)")
    parser.add_argument("--storage", help="Optuna storage URL, e.g. sqlite:///study.db (resumable)")
    parser.add_argument("--study-name", help="the study's name in the storage (default rnnkit-APP)")
    parser.add_argument("--timeout", type=float, help="stop starting trials after this many seconds")
    parser.add_argument("--tune-dir", help="where to write best.yaml, trials.csv and the PNGs "
                                           "(default runs/tune/APP)")
    parser.add_argument("--config", help="YAML/TOML with the fixed settings")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    valid = [a for action in parser._actions for a in action.option_strings]
    valid += add_dataclass_flags(parser, app.config_class)
    args = _parse_or_suggest(parser, argv[1:], sorted(set(valid)))
    if args.trials < 1:
        raise CLIError(f"--trials: expected a positive integer, got {args.trials}")
    base = build_config(app, args)
    try:
        study = tune(app, base, trials=args.trials, storage=args.storage, study_name=args.study_name,
                     timeout=args.timeout, output_dir=args.tune_dir)
    except SearchError as error:
        raise CLIError(str(error)) from None
    complete = [t for t in study.trials if t.state.name == "COMPLETE"]
    pruned = [t for t in study.trials if t.state.name == "PRUNED"]
    print(f"rnnkit tune {app.name}: {len(study.trials)} trials in the study ({len(complete)} complete, "
          f"{len(pruned)} pruned)")
    if complete:
        best = study.best_trial
        print(f"best: trial {best.number}, {best.user_attrs.get('metric')} {best.user_attrs.get('score'):.4g}, "
              f"settings {best.params}")
        out = Path(args.tune_dir) if args.tune_dir else Path("runs") / "tune" / app.name
        print(f"wrote {out / 'best.yaml'}: rnnkit {app.name} train --config {out / 'best.yaml'}")
    return 0


def _serve(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="rnnkit serve", allow_abbrev=False,
        description="Serve saved models over HTTP (FastAPI + uvicorn): POST /v1/<app>[/<name>], GET /healthz, "
                    "/readyz, OpenAPI docs at /docs.")
    parser.add_argument("--model", action="append", required=True, metavar="[NAME=]DIR",
                        help="a model directory (repeat for several models)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    parser.add_argument("--max-body-bytes", type=int, default=1_000_000, help="larger JSON requests get 413")
    parser.add_argument("--max-upload-bytes", type=int, default=20_000_000,
                        help="larger uploads (POST /v1/transcribe) get 413")
    args = parser.parse_args(argv)
    from rnnkit.tasks.framework.serve import load_models, serve

    models = load_models(args.model)
    print(f"rnnkit serve: {', '.join(f'{n} (rnnkit {a.name})' for n, (a, _) in models.items())} on "
          f"http://{args.host}:{args.port} (docs at /docs)")
    serve(models, host=args.host, port=args.port, max_body_bytes=args.max_body_bytes,
          max_upload_bytes=args.max_upload_bytes)
    return 0


def _export(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="rnnkit export", allow_abbrev=False,
        description="Export an application's saved model to ONNX (dynamic batch and length, lengths inside the "
                    "graph), checked in onnxruntime against PyTorch; writes OUT and a manifest OUT.json.")
    parser.add_argument("--model", required=True, metavar="DIR", help="the saved model (runs/<app>/<name>/model)")
    parser.add_argument("--format", default="onnx", choices=["onnx"], help="export format (default onnx)")
    parser.add_argument("--out", help="the .onnx file to write (default DIR.onnx beside DIR)")
    args = parser.parse_args(argv)
    from rnnkit.export import ExportError
    from rnnkit.export.apps import export_saved_model

    try:
        manifest = export_saved_model(args.model, args.out, format=args.format)
    except ExportError as error:
        raise CLIError(str(error)) from None
    for graph in manifest["graphs"]:
        worst = max(graph["max_abs_diff"].values(), default=float("nan"))
        print(f"wrote {graph['path']}: inputs {', '.join(graph['inputs'])}; outputs {', '.join(graph['outputs'])}; "
              f"onnxruntime vs PyTorch max |diff| {worst:.2g} at {graph['checked_shapes']}")
    return 0


#: ``rnnkit bench NAME``: each benchmark parses its own flags.
BENCHMARKS = {
    "speed": (_bench_speed, "every cell on every backend against torch.nn and the loop, plus peak memory"),
    "longrange": (_bench_longrange, "adding, copy memory and (permuted) sequential MNIST for every cell"),
    "auto": (_bench_auto, "backend='auto' (tuned at first use) against the fastest forced backend over a size grid"),
}


def _bench(argv: Sequence[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        print("usage: rnnkit bench NAME [flags]   (rnnkit bench NAME --help for its flags)\n\nbenchmarks:")
        for name, (_, text) in BENCHMARKS.items():
            print(f"  {name:12s} {text}")
        return 0
    if argv[0] not in BENCHMARKS:
        close = difflib.get_close_matches(argv[0], list(BENCHMARKS), n=1)
        raise CLIError(f"unknown benchmark {argv[0]!r}" + (f"; did you mean {close[0]!r}?" if close else "")
                       + f" (available: {', '.join(BENCHMARKS)})")
    return BENCHMARKS[argv[0]][0](argv[1:])


COMMANDS = {
    "train": (_train, "train a task: rnnkit train --config run.yaml [--max-epochs 5 --task.steps 100 ...]"),
    "diagnose": (_diagnose, "plot the gradient norm per time step and layer (vanishing gradients)"),
    "demo": (_demo, "the forecasting pipeline on the embedded sunspot series (same as rnnkit forecast)"),
    "serve": (_serve, "serve saved models over HTTP: rnnkit serve --model DIR [--model NAME=DIR] [--port 8000]"),
    "export": (_export, "export a saved model to ONNX: rnnkit export --model DIR --format onnx [--out model.onnx]"),
    "tune": (_tune, "hyperparameter search with Optuna: rnnkit tune APP --trials N [--storage sqlite:///s.db]"),
    "bench": (_bench, "benchmarks: rnnkit bench speed|longrange [--quick] (rnnkit bench --help lists them)"),
}


#: One line per application for ``rnnkit --help`` (kept here so the help imports no application).
APP_SUMMARIES = {
    "forecast": "backtest and forecast time series: rnnkit forecast [train|evaluate|predict] [--data file.csv ...]",
    "moving-digits": "ConvLSTM next-frame prediction of real MNIST digits: rnnkit moving-digits [train|evaluate|"
                     "predict]",
    "classify": "classify texts or sequences: rnnkit classify [train|evaluate|predict] [--data file.csv ...]",
    "lm": "language models and generation: rnnkit lm [train|evaluate|generate] [--data corpus.txt --level word]",
    "translate": "translate with attention and beam search: rnnkit translate [train|evaluate|predict] [--data x.tsv]",
    "tag": "part of speech / named entities, BiLSTM-CRF: rnnkit tag [train|evaluate|predict] [--train a.conll ...]",
    "transcribe": "speech recognition (CRNN + CTC, streaming): rnnkit transcribe [train|evaluate|predict]",
}


def _commands() -> dict[str, tuple[Any, str]]:
    from rnnkit.tasks import APPS

    apps = {name: (_app_command(name), APP_SUMMARIES.get(name, f"the {name} application")) for name in APPS}
    return {**apps, **COMMANDS}


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser; each command parses its own arguments."""
    parser = argparse.ArgumentParser(prog="rnnkit", description="Recurrent neural networks on PyTorch.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (_, help_text) in _commands().items():
        sub.add_parser(name, help=help_text, add_help=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``rnnkit`` command."""
    from rnnkit.data.audio import AudioError
    from rnnkit.data.bible import BibleUnavailable
    from rnnkit.data.characters import TranscriptError
    from rnnkit.data.conll import ConllFormatError
    from rnnkit.data.parallel import ParallelDataError
    from rnnkit.data.streams import CorpusError
    from rnnkit.data.timeseries import SeriesError
    from rnnkit.dirlock import DirectoryLocked
    from rnnkit.optional import MissingDependency
    from rnnkit.serialization import SerializationError
    from rnnkit.tasks.framework.config import ConfigError
    from rnnkit.training import BatchError, TrainingDiverged

    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    if not argv or argv[0] in ("-h", "--help"):
        parser.print_help()
        return 0
    commands = _commands()
    if argv[0] not in commands:
        close = difflib.get_close_matches(argv[0], list(commands), n=1)
        parser.error(f"unknown command {argv[0]!r}" + (f"; did you mean {close[0]!r}?" if close else ""))
    run, _ = commands[argv[0]]
    try:
        return run(argv[1:])
    except (CLIError, ConfigError, SerializationError, BatchError, MissingDependency, SeriesError, ParallelDataError,
            BibleUnavailable, DirectoryLocked, CorpusError, ConllFormatError,
            AudioError, TranscriptError) as error:
        print(f"rnnkit {argv[0]}: error: {error}", file=sys.stderr)
        return 2
    except TrainingDiverged as error:
        print(f"rnnkit {argv[0]}: {error}", file=sys.stderr)
        return 1
