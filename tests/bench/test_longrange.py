"""rnnkit bench longrange: the solved criterion, the ladder, the report tables and plots, the CLI."""

from __future__ import annotations

import csv

import pytest

import rnnkit
from rnnkit.bench import longrange as bench
from rnnkit.cli import main


@pytest.fixture(scope="module")
def mnist_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("rnnkit-cache")


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
