"""save/load: every model round-trips through JSON + safetensors; bad files give clear errors, never pickle."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

import rnnkit
from rnnkit.models import LongRangeModel, NextFramePredictor, RecurrentRegressor
from rnnkit.serialization import Saveable, SerializationError

MODELS = {
    "recurrent": lambda: rnnkit.Recurrent("gru", 3, 5, num_layers=2, bidirectional=True, dropout=0.1, residual=True),
    "recurrent-lstm-proj": lambda: rnnkit.Recurrent("lstm", 3, 6, proj_size=4, forget_bias=2.0, backend="loop"),
    "elman-relu": lambda: rnnkit.Recurrent("elman", 3, 5, nonlinearity="relu", batch_first=False),
    "dropin-lstm": lambda: rnnkit.LSTM(3, 6, 2, proj_size=2, batch_first=True),
    "dropin-gru": lambda: rnnkit.GRU(3, 5, bidirectional=True, backend="loop"),
    "dropin-rnn": lambda: rnnkit.RNN(3, 5, nonlinearity="relu"),
    "regressor": lambda: RecurrentRegressor("gru", 3, 7, 2, num_layers=2, per_step=True),
    "longrange-lru": lambda: LongRangeModel("lru", 3, 6, 4, steps=20, objective="classification", readout="every"),
    "next-frame": lambda: NextFramePredictor("convgru", 3, 2, 3),
}


def _input(model):
    if isinstance(model, NextFramePredictor):
        return (torch.rand(2, 3, 1, 6, 6),)
    return (torch.randn(2, 4, 3),)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_round_trip_gives_the_same_function(tmp_path, name):
    torch.manual_seed(0)
    model = MODELS[name]().eval()
    model.save(tmp_path / name)
    loaded = rnnkit.load(tmp_path / name)
    assert type(loaded) is type(model) and not loaded.training
    assert loaded.get_config() == model.get_config()
    x = _input(model)
    with torch.no_grad():
        a, b = model(*x), loaded(*x)
    a, b = (a[0], b[0]) if isinstance(a, tuple) else (a, b)
    assert torch.equal(a, b)
    assert type(model).load(tmp_path / name).get_config() == model.get_config()


class Estimator(Saveable):
    """Like the forecasting application's: not an nn.Module; holds a network plus scaler statistics."""

    def __init__(self, hidden_size: int = 4) -> None:
        self.hidden_size = hidden_size
        self.network: nn.Module | None = None
        self.columns: list[str] = []
        self.mean = torch.zeros(0)

    def fit(self, columns: list[str]) -> Estimator:
        self.columns = columns
        self.mean = torch.arange(len(columns), dtype=torch.float64)
        self.network = rnnkit.Recurrent("lstm", len(columns), self.hidden_size)
        return self

    def get_config(self):
        return {"hidden_size": self.hidden_size}

    def json_state(self):
        return {"columns": self.columns}

    def load_json_state(self, state):
        self.fit(state["columns"])  # builds the network from the data description

    def tensor_state(self):
        return {"mean": self.mean, **{f"network.{k}": v for k, v in self.network.state_dict().items()}}

    def load_tensor_state(self, tensors):
        self.mean = tensors.pop("mean")
        self.network.load_state_dict({k.removeprefix("network."): v for k, v in tensors.items()})


def test_an_estimator_saves_json_state_and_extra_tensors(tmp_path):
    estimator = Estimator(6).fit(["load", "temperature"])
    estimator.save(tmp_path / "est")
    meta = json.loads((tmp_path / "est" / "config.json").read_text())
    assert meta["config"] == {"hidden_size": 6} and meta["state"] == {"columns": ["load", "temperature"]}
    assert meta["class"] == "tests.test_serialization.Estimator" and "rnnkit_version" in meta
    loaded = rnnkit.load(tmp_path / "est")
    assert loaded.columns == ["load", "temperature"] and loaded.mean.dtype == torch.float64
    assert torch.equal(loaded.mean, estimator.mean)
    x = torch.randn(1, 3, 2)
    assert torch.equal(loaded.network(x)[0], estimator.network(x)[0])


def test_corrupted_or_missing_files_are_clear_errors_and_left_alone(tmp_path):
    model = RecurrentRegressor("lstm", 1, 4, 1)
    model.save(tmp_path / "m")
    weights = tmp_path / "m" / "model.safetensors"
    with pytest.raises(SerializationError, match="does not exist"):
        rnnkit.load(tmp_path / "nothing")
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0x01
    weights.write_bytes(bytes(data))
    with pytest.raises(SerializationError, match="does not match the checksum"):
        rnnkit.load(tmp_path / "m")
    assert weights.read_bytes() == bytes(data)
    weights.unlink()
    with pytest.raises(SerializationError, match=r"model\.safetensors does not exist"):
        rnnkit.load(tmp_path / "m")
    (tmp_path / "m" / "config.json").write_text('{"format": "rnnkit.mod')
    with pytest.raises(SerializationError, match="not valid JSON"):
        rnnkit.load(tmp_path / "m")


def test_a_config_that_does_not_fit_the_weights_is_named(tmp_path):
    RecurrentRegressor("lstm", 1, 4, 1).save(tmp_path / "m")
    meta = json.loads((tmp_path / "m" / "config.json").read_text())
    meta["config"]["hidden_size"] = 8
    (tmp_path / "m" / "config.json").write_text(json.dumps(meta))
    message = r"mismatch rnn\.cells\.l0\.weight_ih: expected \(32, 1\), got \(16, 1\)"
    with pytest.raises(SerializationError, match=message):
        rnnkit.load(tmp_path / "m")


def test_unknown_classes_are_not_imported(tmp_path):
    RecurrentRegressor("lstm", 1, 4, 1).save(tmp_path / "m")
    meta = json.loads((tmp_path / "m" / "config.json").read_text())
    meta["class"] = "os.system"
    (tmp_path / "m" / "config.json").write_text(json.dumps(meta))
    with pytest.raises(SerializationError, match=r"'os\.system' is not a known Saveable class"):
        rnnkit.load(tmp_path / "m")


def test_saving_again_replaces_the_files_atomically(tmp_path):
    model = RecurrentRegressor("lstm", 1, 4, 1)
    model.save(tmp_path / "m")
    with torch.no_grad():
        model.head.bias.fill_(3.0)
    model.save(tmp_path / "m")
    assert rnnkit.load(tmp_path / "m").head.bias.item() == 3.0
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == ["config.json", "model.safetensors"]


def test_regularisers_survive_save_and_load(tmp_path):
    layer = rnnkit.Recurrent(
        "lstm", 3, 4, regularizers=[rnnkit.Zoneout((0.1, 0.3)), rnnkit.VariationalDropout(0.2),
                                    rnnkit.DropConnect(0.5)],
    )
    layer.save(tmp_path / "reg")
    loaded = rnnkit.load(tmp_path / "reg")
    assert [repr(r) for r in loaded.regularizers] == [repr(r) for r in layer.regularizers]
    x = torch.randn(2, 5, 3)
    layer.eval()
    assert torch.allclose(loaded(x)[0], layer(x)[0])  # zoneout's expectation at eval needs the rates


def test_extra_files_round_trip_and_checksum(tmp_path):
    class WithVocab(Saveable):
        def __init__(self, words: str = "") -> None:
            self.words = words

        def get_config(self):
            return {}

        def extra_files(self):
            return {"vocab.txt": self.words}

        def load_extra_files(self, files):
            self.words = files["vocab.txt"].decode()

    WithVocab("a b c").save(tmp_path / "m")
    assert rnnkit.load(tmp_path / "m").words == "a b c"
    (tmp_path / "m" / "vocab.txt").write_text("a b d")
    with pytest.raises(SerializationError, match="checksum"):
        rnnkit.load(tmp_path / "m")


@pytest.mark.parametrize("kind", ["recurrent", "dropin"])
@pytest.mark.parametrize("key, value", [("num_layers", 10**9), ("hidden_size", 10**9), ("num_layers", 3)])
def test_crafted_sizes_are_refused_before_anything_is_built(tmp_path, kind, key, value):
    layer = rnnkit.Recurrent("lstm", 3, 5, num_layers=2) if kind == "recurrent" else rnnkit.LSTM(3, 5, num_layers=2)
    layer.save(tmp_path / "m")
    meta = json.loads((tmp_path / "m" / "config.json").read_text())
    meta["config"][key] = value
    (tmp_path / "m" / "config.json").write_text(json.dumps(meta))
    with pytest.raises(SerializationError, match=key):
        rnnkit.load(tmp_path / "m")
    meta["config"][key] = 2 if key == "num_layers" else 5
    (tmp_path / "m" / "config.json").write_text(json.dumps(meta))
    assert isinstance(rnnkit.load(tmp_path / "m"), type(layer))
