"""Property-based fuzzing of rnnkit's public entry points with random bad values (issue 17).

Each test feeds hypothesis-generated values to a constructor, ``fit``, ``predict``, ``load`` or a
CLI command and asserts that it either works (with finite results) or raises one of rnnkit's
documented errors (``check_error``): never a bare KeyError/IndexError/AttributeError, never an
exception from inside a dependency (except the drop-ins' constructors, whose errors are torch's
by design), never SystemExit from a library call. A default run is bounded for CI; ``-m slow``
runs the same properties with many more cases.
"""

from __future__ import annotations

import json
import math
import shutil

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch.utils.data import TensorDataset

import rnnkit
from rnnkit.cli import main
from rnnkit.serialization import SerializationError
from rnnkit.tasks.forecast.estimator import Forecaster
from rnnkit.training import EarlyStopping, KeepBest, Trainer, TrainerConfig
from tests.fuzz.helpers import CASES, all_finite, check_error
from tests.training_helpers import LinearModel, linear_data  # noqa: F401

QUICK = {
    "max_examples": 40,
    "deadline": None,
    "derandomize": True,
    "database": None,
    "suppress_health_check": [HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
}
LONG = {**QUICK, "max_examples": 400, "derandomize": False}

WEIRD = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**9), 10**9),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, -1, 1, 2, 0.5, 1e308, -0.0, "", "0", "lstm", "nan", "1e3", "auto", "cpu", "tpu"]),
    st.text(max_size=6),
    st.lists(st.integers(-3, 3), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)
SMALL_INT = st.integers(1, 5)


def options(names: list[str], values=WEIRD):
    return st.dictionaries(st.sampled_from(names), values, max_size=4)


def both(test, *, known: str = "", **strategies):
    """The property with a CI-sized budget, and again with a long one under ``-m slow``.

    ``known``: bugs the long run found in code another change owns; the long run is then an
    expected failure (not strict) until they are fixed.
    """
    quick = settings(**QUICK)(given(**strategies)(test))
    long = pytest.mark.slow(settings(**LONG)(given(**strategies)(test)))
    if known:
        long = pytest.mark.xfail(reason=known, strict=False)(long)
    return quick, long




# ---------------------------------------------------------------------------------- constructors
RECURRENT_OPTIONS = [
    "num_layers",
    "bidirectional",
    "dropout",
    "residual",
    "batch_first",
    "backend",
    "proj_size",
    "nonlinearity",
    "forget_bias",
    "regularizers",
]


def _recurrent(cell, input_size, hidden_size, opts):
    CASES["Recurrent(...) and forward"] += 1
    try:
        layer = rnnkit.Recurrent(cell, input_size, hidden_size, **opts)
        out, _ = layer(torch.randn(2, 3, input_size))
    except Exception as error:
        check_error("Recurrent", error)
        return
    assert all_finite(out)


test_recurrent_constructor_and_forward, test_recurrent_constructor_and_forward_long = both(
    _recurrent,
    cell=st.one_of(st.sampled_from(["lstm", "gru", "elman", "indrnn", "lru", "minGRU", "lsmt"]), WEIRD),
    input_size=st.one_of(SMALL_INT, WEIRD),
    hidden_size=st.one_of(SMALL_INT, WEIRD),
    opts=options(RECURRENT_OPTIONS, st.one_of(WEIRD, SMALL_INT, st.sampled_from(["loop", "native", "scan"]))),
)


def _dropin(kind, input_size, hidden_size, opts):
    CASES["drop-in RNN/LSTM/GRU(...) and forward"] += 1
    if kind is not rnnkit.LSTM:
        opts.pop("proj_size", None)
    try:
        layer = kind(input_size, hidden_size, **opts)
    except Exception as error:
        # The drop-ins are torch's classes: their constructor errors are torch's by design.
        if isinstance(error, (ValueError, TypeError, RuntimeError, OverflowError)) and str(error):
            CASES["drop-in: torch's own constructor error"] += 0
            return
        check_error("drop-in", error)
        return
    try:
        out, _ = layer(torch.randn(3, 2, input_size))
    except Exception as error:
        check_error("drop-in forward", error, allow=(RuntimeError,))
        return
    assert all_finite(out)


test_dropin_constructor_and_forward, test_dropin_constructor_and_forward_long = both(
    _dropin,
    kind=st.sampled_from([rnnkit.RNN, rnnkit.LSTM, rnnkit.GRU]),
    input_size=st.one_of(SMALL_INT, WEIRD),
    hidden_size=st.one_of(SMALL_INT, WEIRD),
    opts=options(
        ["num_layers", "bias", "batch_first", "dropout", "bidirectional", "backend", "proj_size"],
        st.one_of(WEIRD, SMALL_INT, st.sampled_from(["loop", "native", "fused"])),
    ),
)


TRAINER_FIELDS = [f for f in TrainerConfig.__dataclass_fields__ if f not in ("output_dir", "tensorboard")]


def _trainer_config(opts):
    CASES["TrainerConfig(...)"] += 1
    try:
        TrainerConfig(**opts)
    except Exception as error:
        check_error("TrainerConfig", error)


test_trainer_config, test_trainer_config_long = both(_trainer_config, opts=options(TRAINER_FIELDS))


def _callbacks(monitor, patience, mode, delta):
    CASES["EarlyStopping/KeepBest(...)"] += 1
    for build in (
        lambda: EarlyStopping(monitor, patience, mode=mode, min_delta=delta),
        lambda: KeepBest(monitor, mode=mode),
    ):
        try:
            build()
        except Exception as error:
            check_error("callback", error)


test_callbacks, test_callbacks_long = both(_callbacks, monitor=WEIRD, patience=WEIRD, mode=WEIRD, delta=WEIRD)


FORECASTER_FIELDS = [
    "season_length",
    "context_length",
    "cell",
    "hidden_size",
    "num_layers",
    "dropout",
    "decoder",
    "likelihood",
    "calendar",
    "seasonal_lag",
    "impute",
    "batch_size",
    "max_steps",
    "lr",
    "val_fraction",
    "num_samples",
    "ensemble",
    "seed",
    "progress",
]


def _forecaster(horizon, opts):
    CASES["Forecaster(...)"] += 1
    try:
        Forecaster(horizon, **opts)
    except Exception as error:
        check_error("Forecaster", error)


test_forecaster_constructor, test_forecaster_constructor_long = both(
    _forecaster, horizon=st.one_of(SMALL_INT, WEIRD), opts=options(FORECASTER_FIELDS)
)


# ---------------------------------------------------------------------------------------- fit
def _fit(n, features, poison, opts):
    CASES["Trainer.fit(...)"] += 1
    generator = torch.Generator().manual_seed(n)
    x, y = torch.randn(n, features, generator=generator), torch.randn(n, generator=generator)
    if poison is not None and n:
        x[0, 0] = poison
    model = LinearModel(3)
    try:
        Trainer(max_steps=3, progress_bar=False, plot=False, **opts).fit(model, TensorDataset(x, y))
    except Exception as error:
        check_error("Trainer.fit", error)
        return
    assert all(all_finite(p) for p in model.parameters())


test_fit, test_fit_long = both(
    _fit,
    n=st.integers(0, 12),
    features=st.integers(1, 4),
    poison=st.sampled_from([None, math.nan, math.inf, 1e30]),
    opts=options(
        [
            "batch_size",
            "lr",
            "optimizer",
            "clip_grad_norm",
            "accumulate_grad_batches",
            "scheduler",
            "max_nonfinite_steps",
            "shuffle",
            "drop_last",
        ],
        st.one_of(WEIRD, SMALL_INT, st.sampled_from(["sgd", "adam", "cosine", "one-cycle"])),
    ),
)


# ------------------------------------------------------------------------------------ predict
@pytest.fixture(scope="module")
def fitted():
    index = pd.date_range("2020-01-01", periods=60, freq="D")
    y = pd.Series(np.sin(np.arange(60) / 3.0), index=index)
    return Forecaster(3, hidden_size=4, num_layers=1, max_steps=2, batch_size=8, context_length=12).fit(y)


def _predict(fitted, horizon, quantiles):
    CASES["Forecaster.predict(...)"] += 1
    try:
        frame = fitted.predict(horizon, quantiles)
    except Exception as error:
        check_error("Forecaster.predict", error)
        return
    assert all_finite(frame.to_numpy())


test_predict, test_predict_long = both(
    _predict,
    horizon=st.one_of(SMALL_INT, WEIRD),
    quantiles=st.one_of(st.lists(st.one_of(st.floats(allow_nan=True, allow_infinity=True), WEIRD), max_size=3), WEIRD),
)


# --------------------------------------------------------------------------------------- load
@pytest.fixture(scope="module")
def saved_models(tmp_path_factory):
    root = tmp_path_factory.mktemp("saved")
    rnnkit.Recurrent("gru", 2, 3).save(root / "recurrent")
    rnnkit.LSTM(2, 3, proj_size=2).save(root / "dropin")
    return root


def _paths(meta, prefix=()):
    yield prefix
    if isinstance(meta, dict):
        for key, value in meta.items():
            yield from _paths(value, (*prefix, key))


def _load(saved_models, tmp_path_factory, which, data, value, delete):
    CASES["rnnkit.load(crafted config.json)"] += 1
    path = tmp_path_factory.mktemp("crafted") / "m"
    shutil.copytree(saved_models / which, path)
    meta = json.loads((path / "config.json").read_text())
    where = data.draw(st.sampled_from([p for p in _paths(meta) if p]))
    parent = meta
    for key in where[:-1]:
        parent = parent[key]
    if delete:
        del parent[where[-1]]
    else:
        parent[where[-1]] = value
    (path / "config.json").write_text(json.dumps(meta))
    try:
        layer = rnnkit.load(path)
    except SerializationError as error:
        check_error("rnnkit.load", error)
        return
    except Exception as error:
        raise AssertionError(f"rnnkit.load: {type(error).__name__} instead of SerializationError: {error}") from error
    with torch.no_grad():
        out = layer(torch.randn(2, 3, layer.input_size))[0]
    assert all_finite(out)


test_load, test_load_long = both(
    _load, which=st.sampled_from(["recurrent", "dropin"]), data=st.data(), value=WEIRD, delete=st.booleans()
)


# ---------------------------------------------------------------------------------------- CLI
TRAIN_FLAGS = [
    "--lr",
    "--batch-size",
    "--max-steps",
    "--optimizer",
    "--shuffle",
    "--device",
    "--seed",
    "--clip-grad-norm",
    "--task.steps",
    "--task.hidden-size",
    "--task.cell",
    "--scheduler",
]
TEXT = st.one_of(
    st.sampled_from(["0", "-1", "inf", "nan", "1e400", "true", "no", "", "3", "lstm", "tpu", "0.5", "-0", "1,2"]),
    st.text(st.characters(blacklist_categories=("Cs",)), max_size=5),
)


def _cli_train(tmp_path_factory, capsys, flags):
    CASES["rnnkit train (flags)"] += 1
    out = tmp_path_factory.mktemp("cli")
    argv = [
        "train",
        "--task",
        "recall",
        "--task.train-size",
        "8",
        "--task.val-size",
        "8",
        "--max-steps",
        "1",
        "--plot",
        "false",
        "--quiet",
        "--output-dir",
        str(out),
    ]
    for flag, text in flags:
        argv += [flag, text]
    try:
        code = main(argv)
    except SystemExit as stop:  # argparse's own usage error, exit status 2
        assert stop.code == 2, f"SystemExit({stop.code})"
        code = 2
    err = capsys.readouterr().err
    assert code in (0, 1, 2) and "Traceback" not in err


test_cli_train, test_cli_train_long = both(
    _cli_train, flags=st.lists(st.tuples(st.sampled_from(TRAIN_FLAGS), TEXT), max_size=3)
)


FORECAST_FLAGS = [
    "--horizon",
    "--season-length",
    "--context-length",
    "--quantiles",
    "--freq",
    "--time-col",
    "--value-col",
    "--dropout",
    "--lr",
    "--origins",
    "--stride",
    "--cell",
    "--baselines",
]


@given(flags=st.lists(st.tuples(st.sampled_from(FORECAST_FLAGS), TEXT), min_size=1, max_size=2))
@settings(
    max_examples=12,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_cli_forecast(tmp_path_factory, capsys, flags):
    CASES["rnnkit forecast train (flags)"] += 1
    root = tmp_path_factory.mktemp("forecast")
    index = pd.date_range("2020-01-01", periods=70, freq="D")
    pd.DataFrame({"date": index, "value": np.sin(np.arange(70) / 3.0)}).to_csv(root / "d.csv", index=False)
    argv = [
        "forecast",
        "train",
        "--data",
        str(root / "d.csv"),
        "--max-steps",
        "1",
        "--hidden-size",
        "4",
        "--num-layers",
        "1",
        "--origins",
        "1",
        "--baselines",
        "naive",
        "--output-dir",
        str(root / "run"),
    ]
    for flag, text in flags:
        argv += [flag, text]
    try:
        code = main(argv)
    except SystemExit as stop:
        assert stop.code == 2, f"SystemExit({stop.code})"
        code = 2
    err = capsys.readouterr().err
    assert code in (0, 1, 2) and "Traceback" not in err
