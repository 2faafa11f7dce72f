"""Long-range tasks: the data generators checked by hand, the models' paper inits, the solved criterion, the CLI."""

from __future__ import annotations

import csv
import math

import pytest
import torch
from torch.nn import functional as F

import rnnkit
from rnnkit.bench import longrange as bench
from rnnkit.cli import main
from rnnkit.data.longrange import (
    ADDING_BASELINE_MSE,
    COPY_BLANK,
    COPY_DELIMITER,
    OnlineBatches,
    adding_problem,
    copy_memory,
    copy_memory_baseline,
    pixel_permutation,
    sequential_mnist,
)
from rnnkit.models import ConstrainIndRNN, LongRangeModel, callbacks_for
from rnnkit.tasks import get_task
from tests.training_helpers import one_thread  # noqa: F401


@pytest.fixture(scope="module")
def mnist_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("rnnkit-cache")


# ------------------------------------------------------------------------------------------- data


def test_adding_target_is_the_sum_of_the_two_marked_values_one_in_each_half():
    x, y = adding_problem(64, 11, generator=torch.Generator().manual_seed(3))
    assert x.shape == (64, 11, 2) and y.shape == (64, 1)
    values, markers = x[..., 0], x[..., 1]
    assert 0 <= values.min() and values.max() < 1
    for b in range(64):
        marked = [t for t in range(11) if markers[b, t] == 1]
        assert set(markers[b].tolist()) <= {0.0, 1.0} and len(marked) == 2
        assert marked[0] < 11 // 2 <= marked[1]  # one in [0, 5), one in [5, 11)
        assert y[b, 0].item() == pytest.approx(values[b, marked[0]].item() + values[b, marked[1]].item(), abs=1e-6)


def test_adding_baseline_is_the_mse_of_always_answering_one():
    assert ADDING_BASELINE_MSE == pytest.approx(2 / 12)  # Var(U(0,1) + U(0,1))
    _, y = adding_problem(100_000, 4, generator=torch.Generator().manual_seed(0))
    assert F.mse_loss(torch.ones_like(y), y).item() == pytest.approx(1 / 6, abs=3e-3)


def test_copy_memory_layout_by_hand():
    x, y = copy_memory(5, 7, copy_length=3, generator=torch.Generator().manual_seed(1))
    assert x.shape == (5, 13, 10) and y.shape == (5, 13) and y.dtype == torch.long
    tokens = x.argmax(-1)
    assert torch.equal(x.sum(-1), torch.ones(5, 13))  # one-hot
    for b in range(5):
        symbols = tokens[b, :3]
        assert all(1 <= s <= 8 for s in symbols.tolist())
        # 3 symbols, 6 blanks, the delimiter at step T + 3 - 1 = 9, then 3 blanks.
        assert tokens[b, 3:9].tolist() == [COPY_BLANK] * 6 and tokens[b, 9] == COPY_DELIMITER
        assert tokens[b, 10:].tolist() == [COPY_BLANK] * 3
        assert y[b, :10].tolist() == [COPY_BLANK] * 10 and torch.equal(y[b, 10:], symbols)


def test_copy_baseline_formula_equals_the_memoryless_strategy_cross_entropy():
    blanks = 30
    assert copy_memory_baseline(blanks) == pytest.approx(10 * math.log(8) / (blanks + 20))
    _, y = copy_memory(50, blanks, generator=torch.Generator().manual_seed(0))
    # Certain of a blank for T + 10 steps, then uniform over the 8 data symbols.
    logits = torch.full((50, blanks + 20, 10), -1e9)
    logits[:, : blanks + 10, COPY_BLANK] = 0.0
    logits[:, blanks + 10 :, 1:9] = 0.0
    assert F.cross_entropy(logits.reshape(-1, 10), y.reshape(-1)).item() == pytest.approx(
        copy_memory_baseline(blanks), rel=1e-6)


def test_pixel_permutation_is_a_fixed_bijection():
    torch.manual_seed(123)
    first = pixel_permutation(0)
    torch.manual_seed(456)  # the global RNG does not matter
    assert torch.equal(first, pixel_permutation(0))
    assert torch.equal(first.sort().values, torch.arange(784))
    assert not torch.equal(first, torch.arange(784)) and not torch.equal(first, pixel_permutation(1))


def test_sequential_mnist_uses_4000_real_digits_to_train_and_1000_to_test(mnist_cache):
    train, test = sequential_mnist(cache_dir=mnist_cache)
    permuted_train, _ = sequential_mnist(permute=True, cache_dir=mnist_cache)
    assert len(train) == 4000 and len(test) == 1000
    x, label = train[0]
    assert x.shape == (784, 1) and 0 <= x.min() and x.max() == 1.0 and label.dtype == torch.long
    assert torch.bincount(test.tensors[1]).tolist() == [100] * 10
    order = pixel_permutation(0)
    assert torch.equal(permuted_train.tensors[0][:, :, 0], train.tensors[0][:, order, 0])
    assert torch.equal(permuted_train.tensors[1], train.tensors[1])


def test_online_batches_are_fresh_every_epoch_and_reproducible():
    def make(batch, generator):
        return adding_problem(batch, 6, generator=generator)

    stream = OnlineBatches(make, 4, 3, seed=7)
    first, second = list(stream), list(stream)
    assert len(stream) == 3 and len(first) == 3
    assert not torch.equal(first[0][0], second[0][0])
    assert torch.equal(first[0][0], next(iter(OnlineBatches(make, 4, 3, seed=7)))[0])


# ----------------------------------------------------------------------------------------- models


def test_indrnn_recipe_bounds_and_inits_the_recurrent_weights():
    model = LongRangeModel("indrnn", 2, 16, 1, steps=100)
    bound = 2 ** (1 / 100)
    first, last = model.rnn.cells["l0"], model.rnn.cells["l1"]
    assert model.rnn.num_layers == 2 and first.nonlinearity == "relu" and first.recurrent_max_abs == bound
    assert 0 <= first.weight_hh.min() and first.weight_hh.max() <= bound
    assert last.weight_hh.min() >= 1 / bound and last.weight_hh.max() <= bound
    with torch.no_grad():
        last.weight_hh.fill_(3.0)  # what a large update could do
    callback = ConstrainIndRNN()
    callback.on_step_end(type("T", (), {"model": model})(), 1, {})
    assert torch.allclose(last.weight_hh, torch.full((16,), bound))
    assert [type(c) for c in callbacks_for(model)] == [ConstrainIndRNN]
    assert callbacks_for(LongRangeModel("lstm", 2, 4, 1)) == []


def test_irnn_and_chrono_recipes():
    irnn = LongRangeModel("irnn", 2, 8, 1).rnn.cells["l0"]
    assert irnn.nonlinearity == "relu" and torch.equal(irnn.weight_hh, torch.eye(8))
    assert irnn.weight_ih.abs().max() < 0.01 and irnn.bias_ih.abs().max() == 0
    lstm = LongRangeModel("lstm", 2, 8, 1, steps=500, chrono=True).rnn.cells["l0"]
    forget = lstm.bias_ih[8:16] + lstm.bias_hh[8:16]
    assert 0 <= forget.min() and forget.max() <= math.log(499)  # log U(1, T - 1)
    assert torch.allclose(lstm.bias_ih[:8], -lstm.bias_ih[8:16])


def test_model_save_load_round_trip(tmp_path):
    model = LongRangeModel("lru", 10, 8, 10, steps=30, objective="classification", readout="every",
                           accuracy_steps=10)
    x, y = copy_memory(3, 10)
    model.save(tmp_path / "m")
    loaded = rnnkit.load(tmp_path / "m")
    assert torch.equal(loaded(x), model(x)) and loaded(x).shape == (3, 30, 10)
    metrics = loaded.validation_step((x, y))
    assert set(metrics) == {"loss", "accuracy", "recall_accuracy"}
    with pytest.raises(ValueError, match="model: unknown model 'lsmt'"):
        LongRangeModel("lsmt", 2, 4, 1)


# ---------------------------------------------------------------------------------- the benchmark


def test_a_gru_solves_the_adding_problem_at_small_t_and_the_run_stops_there():
    config = bench.LongRangeBenchConfig(models=["gru"], tasks=["adding"], lengths=[8], hidden_size=16,
                                        eval_every=50, lr=1e-2, test_size=256, out_dir="unused")
    row, curve = bench.run_one(bench.RunSpec("adding", "gru", 8, 1500), config)
    assert row["solved"] == "yes" and row["stop"] == "solved"
    assert row["steps"] == row["steps_to_solve"] < 1500 and row["steps"] % 50 == 0
    assert curve[-1]["loss"] < 0.01 <= min(p["loss"] for p in curve[:-1])  # stopped at the first success
    assert curve[0]["loss"] > 0.01 and row["baseline_loss"] == pytest.approx(1 / 6)


def test_solved_criteria():
    assert bench.solved("adding", {"val_loss": 0.0099}) and not bench.solved("adding", {"val_loss": 0.0101})
    assert bench.solved("copy", {"val_recall_accuracy": 0.99}) and not bench.solved(
        "copy", {"val_recall_accuracy": 0.98})
    assert bench.solved("smnist", {"val_loss": 0.0}) is None


def test_ladder_skips_longer_lengths_of_a_model_that_did_not_beat_the_baseline(tmp_path, monkeypatch):
    ran = []

    def fake_run(spec, config):
        ran.append((spec.model, spec.length))
        ok = spec.model == "indrnn"
        row = {"task": spec.task, "model": spec.model, "T": spec.length, "description": "", "layers": 1,
               "hidden": 4, "budget_steps": spec.max_steps, "steps": 100 if ok else spec.max_steps,
               "eval_every": 100, "solved": "yes" if ok else "no", "steps_to_solve": 100 if ok else "",
               "best_loss": 0.005 if ok else (0.02 if spec.model == "gru" else 0.16), "baseline_loss": 1 / 6,
               "best_accuracy": "",
               "seconds": 1.0, "threads": 1}
        return row, [{"step": 100, "seconds": 1.0, "loss": row["best_loss"]}]

    monkeypatch.setattr(bench, "run_one", fake_run)
    config = bench.LongRangeBenchConfig(tasks=["adding"], models=["lstm", "gru", "indrnn"], lengths=[10, 20],
                                        max_steps=300, ladder=True, out_dir=str(tmp_path))
    bench.run_longrange_bench(config, log=lambda *a: None)
    # lstm stayed at the baseline (0.16 of 0.167): skipped at T = 20; gru came close (0.02): runs on.
    assert ran == [("lstm", 10), ("gru", 10), ("indrnn", 10), ("gru", 20), ("indrnn", 20)]
    table = (tmp_path / "longrange.md").read_text()
    assert ("| lstm (1x4) | not solved in 300 steps; best MSE 0.16 (1 s) | not run (no better than the baseline at "
            "T = 10) |") in table
    # --resume keeps finished runs: nothing runs again.
    ran.clear()
    bench.run_longrange_bench(bench.LongRangeBenchConfig(**{**config.__dict__, "resume": True}), log=lambda *a: None)
    assert ran == []


def _fake_row(task, model, length, **fields):
    row = {"task": task, "model": model, "T": length, "description": "", "layers": 1, "hidden": 8, "lr": 0.001,
           "budget_steps": 500, "time_limit_min": "", "steps": 500, "eval_every": 100, "solved": "no",
           "steps_to_solve": "", "best_loss": 0.1, "final_loss": 0.1,
           "baseline_loss": bench.baseline_loss(task, length),
           "best_accuracy": "", "final_accuracy": "", "stop": "budget", "seconds": 30.0, "threads": 1}
    return {**row, **fields}


def test_report_tables_from_a_small_csv(tmp_path):
    from rnnkit.bench import longrange_report as report

    rows = [
        _fake_row("adding", "lstm", 100, solved="yes", steps=1700, steps_to_solve=1700, best_loss=0.009,
                  stop="solved", seconds=66.7),
        _fake_row("adding", "indrnn", 100, layers=2, best_loss=0.0111, steps=3000, budget_steps=3000, seconds=70.2),
        _fake_row("adding", "indrnn", 500, layers=2, best_loss=0.16, steps=900, budget_steps=2000,
                  time_limit_min=3.5, stop="time limit", seconds=210.0),
        _fake_row("copy", "gru", 100, best_loss=0.05, best_accuracy=0.4, steps=800, time_limit_min=2,
                  stop="time limit", seconds=125.0),
        _fake_row("smnist", "lstm", 784, best_loss=0.5, best_accuracy=0.875, steps=1200, eval_every=80,
                  time_limit_min=6, stop="time limit", seconds=365.0),
    ]
    report.write_results(tmp_path, rows, [{"task": "adding", "model": "lstm", "T": 100, "step": 100, "loss": 0.1}])
    read, curves = report.read_results(tmp_path)
    assert len(read) == 5 and read[1]["best_loss"] == "0.0111" and len(curves) == 1
    config = bench.LongRangeBenchConfig(out_dir=str(tmp_path))
    table = report.markdown_tables(read, config=config, seconds=600).splitlines()
    assert table[2] == "Wall time of this invocation: 10.0 min (sum over all runs in the table: 13.9 min)."
    assert "| model (layers x units) | T = 100 | T = 500 | papers |" in table
    assert ("| lstm (1x8) | **solved** at 1,700 steps (67 s) | — | Li et al. 2018: no longer learns at T = 1000 |"
            in table)
    assert ("| indrnn (2x8) | not solved in 3,000 steps; best MSE 0.0111 (70 s) | not solved in 900 steps; "
            "best MSE 0.16 (3.5 min, time limit) | Li et al. 2018: solves T = 100, 500, 1000 and 5000 |") in table
    assert ("Budgets: T = 100: at most 500, 3,000 steps; T = 500: at most 2,000 steps and 3.5 min per run. "
            "Test set evaluated every 100 steps (steps-to-solve is a multiple of it).") in table
    assert ("| gru (1x8) | not solved in 800 steps; best CE 0.05, recall 40 % (2.1 min, time limit) |  |"
            in table)
    assert ("| lstm (1x8) | 87.5 % accuracy (12.5 % error) after 1,200 steps (6.1 min, time limit) | "
            "1.8 % error (Arjovsky et al. 2016; 60k digits) |") in table


def test_config_errors_and_defaults():
    with pytest.raises(ValueError, match="cells: unknown model 'lsmt'"):
        bench.LongRangeBenchConfig(models=["lsmt"])
    with pytest.raises(ValueError, match="tasks: unknown task 'adding2'"):
        bench.LongRangeBenchConfig(tasks=["adding2"])
    assert bench.LongRangeBenchConfig().lengths == [100, 500, 1000]
    assert bench.LongRangeBenchConfig(device="cuda").lengths == [100, 500, 1000, 5000]
    assert bench.default_steps("adding", 1000) == 2000 and bench.default_steps("copy", 100) == 3000


def test_cli_bench_longrange_quick_smoke(tmp_path, mnist_cache, monkeypatch, capsys):
    monkeypatch.setenv("RNNKIT_CACHE", str(mnist_cache))
    out = tmp_path / "out"
    code = main(["bench", "longrange", "--quick", "--tasks", "adding,copy,psmnist", "--cells", "indrnn,lstm",
                 "--lengths", "6", "--copy-lengths", "4", "--max-steps", "4", "--eval-every", "2",
                 "--mnist-train-size", "8", "--mnist-test-size", "4", "--hidden-size", "4", "--batch-size", "4",
                 "--test-size", "8", "--out-dir", str(out)])
    assert code == 0
    with (out / "longrange.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["task"], r["model"], r["T"]) for r in rows] == [
        ("adding", "indrnn", "6"), ("adding", "lstm", "6"), ("copy", "indrnn", "4"), ("copy", "lstm", "4"),
        ("psmnist", "indrnn", "784"), ("psmnist", "lstm", "784")]
    assert all(r["steps"] == "4" for r in rows if r["solved"] != "yes")
    with (out / "longrange_curves.csv").open() as handle:
        assert len(list(csv.DictReader(handle))) >= 6 * 1
    table = (out / "longrange.md").read_text()
    assert "12.0 % error (Arjovsky et al. 2016; 60k digits)" in table and "| T = 4 (baseline CE 0.866) |" in table
    for task in ("adding", "copy", "psmnist"):
        assert (out / f"longrange_{task}.png").read_bytes()[:4] == b"\x89PNG"
    assert "wrote" in capsys.readouterr().out


def test_cli_bench_lists_benchmarks_and_rejects_unknown_ones(capsys):
    assert main(["bench", "--help"]) == 0 and "longrange" in capsys.readouterr().out
    assert main(["bench", "longrang"]) == 2
    assert "did you mean 'longrange'" in capsys.readouterr().err


def test_train_cli_runs_the_registered_adding_task_with_the_indrnn_constraint(tmp_path):
    assert {"adding", "copy", "smnist", "psmnist"} <= set(rnnkit.tasks.available_tasks())
    assert get_task("adding").config_class().model == "indrnn"
    # A huge learning rate pushes the recurrent weights far past the bound unless the task's callback
    # (passed to the Trainer by `rnnkit train`) projects them back after every step.
    code = main(["train", "--task", "adding", "--task.model", "indrnn", "--task.steps", "12", "--task.hidden-size",
                 "4", "--task.batches-per-epoch", "3", "--task.test-size", "16", "--max-epochs", "2",
                 "--batch-size", "8", "--lr", "0.5", "--plot", "false", "--quiet",
                 "--output-dir", str(tmp_path / "run")])
    assert code == 0
    with (tmp_path / "run" / "metrics.csv").open() as handle:
        logged = [r for r in csv.DictReader(handle) if r.get("val_loss")]
    assert [int(r["step"]) for r in logged] == [3, 6] and all(math.isfinite(float(r["val_loss"])) for r in logged)
    model = rnnkit.load(tmp_path / "run" / "model")
    bound = 2 ** (1 / 12)
    for cell in model.rnn.cells.values():
        assert cell.weight_hh.abs().max() <= bound + 1e-6


def test_a_callback_ends_training_after_the_epoch_with_should_stop():
    from tests.training_helpers import recall_setup

    class StopAfterSecondEpoch:
        def on_epoch_end(self, trainer, epoch, record):
            trainer.should_stop = epoch == 1

    model, train, val = recall_setup(n=32)
    result = rnnkit.Trainer(max_epochs=10, batch_size=8, callbacks=[StopAfterSecondEpoch()]).fit(model, train, val)
    assert result.stop_reason == "callback" and result.epochs == 2 and result.steps == 8


def test_curve_plots_keep_one_colour_per_model_and_a_legend_in_every_panel(tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    import matplotlib.pyplot as plt

    from rnnkit.bench import longrange_report as report

    figures = []
    monkeypatch.setattr(plt, "close", figures.append)  # keep the figures to inspect them
    rows = [_fake_row("adding", "lstm", 100), _fake_row("adding", "gru", 100), _fake_row("adding", "gru", 500)]
    curves = [{"task": "adding", "model": r["model"], "T": r["T"], "step": step, "loss": 0.1}
              for r in rows for step in (100, 200)]
    assert report.plot_curves(rows, curves, tmp_path) == [tmp_path / "longrange_adding.png"]
    first, second = figures[0].axes
    colour = {axis: {line.get_label(): line.get_color() for line in axis.get_lines()} for axis in (first, second)}
    assert colour[first]["gru"] == colour[second]["gru"] != colour[first]["lstm"]  # gru alone at T = 500
    assert [t.get_text() for t in second.get_legend().get_texts()][:1] == ["gru"] and first.get_legend() is not None
