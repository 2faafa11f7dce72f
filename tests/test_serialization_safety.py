"""rnnkit.load never runs code named by a file, requires checksums, stays inside the model directory,
and turns a crafted config.json into SerializationError (issue 17.1)."""

from __future__ import annotations

import importlib
import json
import pkgutil
import sys

import numpy as np
import pandas as pd
import pytest

import rnnkit
from rnnkit import serialization
from rnnkit.serialization import SerializationError
from rnnkit.tasks.synthetic import RecurrentRegressor


def saved(tmp_path, name="m"):
    RecurrentRegressor("lstm", 1, 4, 1).save(tmp_path / name)
    return tmp_path / name


def edit(path, change):
    meta = json.loads((path / "config.json").read_text())
    change(meta)
    (path / "config.json").write_text(json.dumps(meta))


def test_a_class_in_rnnkit_main_is_not_imported(tmp_path):
    path = saved(tmp_path)
    edit(path, lambda m: m.update({"class": "rnnkit.__main__.X"}))
    sys.modules.pop("rnnkit.__main__", None)
    with pytest.raises(SerializationError, match="never imports a module"):
        rnnkit.load(path)  # before the fix: the CLI ran with the host's argv, then SystemExit
    assert "rnnkit.__main__" not in sys.modules


@pytest.mark.parametrize("key", [None, 3, ["rnnkit.layers.recurrent.Recurrent"], "rnnkit.layers.recurrent"])
def test_a_class_name_of_the_wrong_type_or_a_module_is_refused(tmp_path, key):
    path = saved(tmp_path)
    edit(path, lambda m: m.update({"class": key}))
    with pytest.raises(SerializationError, match="class"):
        rnnkit.load(path)


def test_the_checksum_is_required(tmp_path):
    path = saved(tmp_path)
    edit(path, lambda m: m["tensors"].pop("sha256"))
    with pytest.raises(SerializationError, match="without its checksums is refused"):
        rnnkit.load(path)
    edit(path, lambda m: m["tensors"].update({"sha256": "abc"}))
    with pytest.raises(SerializationError, match="SHA-256"):
        rnnkit.load(path)


def test_the_weights_path_stays_inside_the_model_directory(tmp_path):
    other = saved(tmp_path, "other")
    path = saved(tmp_path)
    digest = json.loads((other / "config.json").read_text())["tensors"]["sha256"]
    for name in (str(other / "model.safetensors"), "../other/model.safetensors", ".hidden"):
        edit(path, lambda m, name=name: m["tensors"].update({"file": name, "sha256": digest}))
        with pytest.raises(SerializationError, match="plain file name inside the model directory"):
            rnnkit.load(path)


@pytest.mark.parametrize("version", ["1", True, [1], None, 1.0, 0])
def test_a_wrong_format_version_is_a_serialization_error(tmp_path, version):
    path = saved(tmp_path)
    edit(path, lambda m: m.update({"format_version": version}))
    with pytest.raises(SerializationError, match="format_version"):
        rnnkit.load(path)


@pytest.mark.parametrize("change", [
    lambda m: m.update({"config": [1, 2]}),
    lambda m: m.update({"state": "x"}),
    lambda m: m.update({"files": ["a"]}),
    lambda m: m["config"].update({"hidden_size": "four"}),
    lambda m: m["config"].update({"cell": 7}),
    lambda m: m["config"].update({"surprise": 1}),
])
def test_a_crafted_config_is_a_serialization_error(tmp_path, change):
    path = saved(tmp_path)
    edit(path, change)
    with pytest.raises(SerializationError):
        rnnkit.load(path)


@pytest.fixture(scope="module")
def forecaster_dir(tmp_path_factory):
    from rnnkit.tasks.forecast.estimator import Forecaster

    index = pd.date_range("2020-01-01", periods=80, freq="D")
    y = pd.Series(np.sin(np.arange(80) / 4.0), index=index)
    path = tmp_path_factory.mktemp("forecaster") / "model"
    Forecaster(4, hidden_size=4, num_layers=1, max_steps=2, batch_size=8).fit(y).save(path)
    return path


@pytest.mark.parametrize("change", [
    lambda s: s.pop("history"),
    lambda s: s.update({"history": 5}),
    lambda s: s.update({"scales": [1.0]}),
    lambda s: s.update({"freq": "not-a-frequency"}),
    lambda s: s.update({"num_features": "x"}),
    lambda s: s["history"][0].update({"values": "abc"}),
])
def test_a_crafted_estimator_state_is_a_serialization_error(forecaster_dir, tmp_path, change):
    import shutil

    path = tmp_path / "model"
    shutil.copytree(forecaster_dir, path)
    rnnkit.load(path)  # the untouched copy loads
    edit(path, lambda m: change(m["state"]))
    with pytest.raises(SerializationError):
        rnnkit.load(path)


def test_loading_a_file_says_it_is_a_file(tmp_path):
    path = saved(tmp_path)
    with pytest.raises(SerializationError, match=r"is a file; rnnkit\.load expects a saved model directory"):
        rnnkit.load(path / "model.safetensors")


def test_every_rnnkit_saveable_class_is_in_the_fixed_module_table():
    for info in pkgutil.walk_packages(rnnkit.__path__, "rnnkit."):
        if info.name.endswith("__main__"):
            continue
        try:
            importlib.import_module(info.name)
        except ImportError:  # an optional dependency (triton, ...) that this machine lacks
            continue
    own = {key for key in serialization._REGISTRY if key.startswith("rnnkit.")}
    assert own, "no rnnkit Saveable class was registered"
    outside = sorted(k for k in own if not any(k.startswith(m + ".") for m in serialization.RNNKIT_SAVEABLE_MODULES))
    assert not outside, f"add their modules to RNNKIT_SAVEABLE_MODULES: {outside}"


def test_a_table_module_that_does_not_exist_is_refused_cleanly(tmp_path):
    path = saved(tmp_path)
    edit(path, lambda m: m.update({"class": "rnnkit.tasks.classify.estimator.Nope"}))
    with pytest.raises(SerializationError, match="not a known Saveable class"):
        rnnkit.load(path)


@pytest.mark.parametrize("key, value", [("bidirectional", None), ("num_layers", 1.5), ("batch_first", 0)])
def test_a_drop_in_config_of_the_wrong_type_is_refused_at_load(tmp_path, key, value):
    rnnkit.LSTM(2, 3).save(tmp_path / "m")  # found by the fuzz suite: bidirectional=None loaded, then failed in torch
    edit(tmp_path / "m", lambda m: m["config"].update({key: value}))
    with pytest.raises(SerializationError, match=key):
        rnnkit.load(tmp_path / "m")
