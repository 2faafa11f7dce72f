"""End to end: `rnnkit classify` on a tiny CSV, `predict` with the saved model, and bad files."""

from __future__ import annotations

import csv
import json

import pytest

pytest.importorskip("tokenizers")
pytest.importorskip("sklearn")

from rnnkit.cli import main

from .helpers import sentences

FAST = ["--hidden-size", "8", "--embedding-dim", "8", "--batch-size", "8", "--max-epochs", "12", "--lr", "0.02",
        "--dropout", "0", "--embedding-dropout", "0", "--min-frequency", "1", "--quiet"]


def _csv(path, n=80, *, text="review", label="sentiment", seed=0):
    texts, labels = sentences(n, seed=seed)
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["id", text, label])
        writer.writerows([i, t, lab] for i, (t, lab) in enumerate(zip(texts, labels, strict=True)))


def test_train_on_csv_then_predict_texts_and_a_file(tmp_path, capsys):
    _csv(tmp_path / "reviews.csv")
    out = tmp_path / "run"
    assert main(["classify", "--data", str(tmp_path / "reviews.csv"), "--text-col", "review", "--label-col",
                 "sentiment", "--pooling", "attention", "--output-dir", str(out), *FAST]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    rows = metrics["methods"]
    model = next(iter(rows))
    assert model.startswith("rnnkit lstm")
    assert rows[model]["accuracy %"] >= 90.0
    assert rows["majority class"]["accuracy %"] == pytest.approx(50.0)
    assert "TF-IDF 1-2-grams + LR" in rows
    for name in ("confusion.png", "training_curves.png", "metrics.md", "model/tokenizer.json"):
        assert (out / name).is_file(), name
    # evaluate: the saved model on the same held-out split scores what the training run reported
    again = tmp_path / "again"
    assert main(["classify", "evaluate", "--model", str(out / "model"), "--data", str(tmp_path / "reviews.csv"),
                 "--output-dir", str(again), "--baselines", "majority", "--quiet"]) == 0
    scored = json.loads((again / "metrics.json").read_text())["methods"]
    assert scored[model]["accuracy %"] == pytest.approx(rows[model]["accuracy %"])
    capsys.readouterr()

    assert main(["classify", "predict", "--model", str(out / "model"), "--text", "a great film",
                 "--text", "an awful plot"]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert [line.split("\t")[0] for line in printed] == ["pos", "neg"]

    (tmp_path / "new.jsonl").write_text('{"text": "lovely story"}\n{"text": "boring"}\n{"text": ""}\n')
    assert main(["classify", "predict", "--model", str(out / "model"), "--data", str(tmp_path / "new.jsonl"),
                 "--out", str(tmp_path / "pred.csv")]) == 0
    with open(tmp_path / "pred.csv", encoding="utf-8") as f:
        predicted = list(csv.DictReader(f))
    assert [p["label"] for p in predicted[:2]] == ["pos", "neg"] and len(predicted) == 3

    capsys.readouterr()
    assert main(["classify", "predict", "--model", str(out / "model"), "--text", "the plot was great", "--explain",
                 "--out", str(tmp_path / "x.csv")]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("pos (") and "great[" in printed
    assert (tmp_path / "explain.png").is_file()


def test_bad_files_are_clear_errors(tmp_path, capsys):
    _csv(tmp_path / "reviews.csv", 20)
    assert main(["classify", "--data", str(tmp_path / "reviews.csv"), *FAST]) == 2
    err = capsys.readouterr().err
    assert "no column 'text', 'label'; the columns are 'id', 'review', 'sentiment'" in err
    (tmp_path / "one.csv").write_text("text,label\ngood film,pos\nfine film,pos\ngreat,pos\n")
    assert main(["classify", "--data", str(tmp_path / "one.csv"), *FAST]) == 2
    assert "expected at least two classes to tell apart, got 1: ['pos']" in capsys.readouterr().err
    (tmp_path / "latin1.csv").write_bytes(b"text,label\ngood,pos\nbad,neg\nna\xefve,pos\n")
    assert main(["classify", "--data", str(tmp_path / "latin1.csv"), *FAST]) == 2
    assert "line 4, column 3: byte 0xef is not valid UTF-8" in capsys.readouterr().err
    assert main(["classify", "predict", "--model", str(tmp_path), "--text", "x"]) == 2
    assert "rnnkit classify: error" in capsys.readouterr().err


def test_help_lists_the_settings(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["classify", "--help"])
    assert exit_info.value.code == 0
    printed = capsys.readouterr().out
    assert "--text-col" in printed and "--pooling" in printed and "--folds" in printed


def test_predict_numeric_sequences_from_jsonl(tmp_path, capsys):
    import numpy as np

    from rnnkit.tasks.classify.estimator import SequenceClassifier

    from .helpers import TINY

    rng = np.random.default_rng(0)
    x = [rng.normal(size=(int(rng.integers(3, 9)), 2)) + (1.5 if i % 2 else -1.5) for i in range(60)]
    y = ["up" if i % 2 else "down" for i in range(60)]
    SequenceClassifier(**TINY).fit(x, y).save(tmp_path / "model")
    lines = [json.dumps({"id": "a", "sequence": [[3.0, 2.5], [2.0, 3.5], [2.5, 2.5]]}), "",
             json.dumps({"id": "b", "sequence": [[-3.0, -2.0]]})]
    (tmp_path / "new.jsonl").write_text("\n".join(lines) + "\n")
    capsys.readouterr()
    assert main(["classify", "predict", "--model", str(tmp_path / "model"), "--data", str(tmp_path / "new.jsonl"),
                 "--out", str(tmp_path / "pred.csv")]) == 0
    with open(tmp_path / "pred.csv", encoding="utf-8") as f:
        predicted = list(csv.DictReader(f))
    assert [(p["line"], p["label"]) for p in predicted] == [("1", "up"), ("3", "down")]
    assert all(0.5 < float(p["probability"]) <= 1.0 for p in predicted)
    capsys.readouterr()
    assert main(["classify", "predict", "--model", str(tmp_path / "model"), "--data", str(tmp_path / "new.jsonl")]) == 0
    assert capsys.readouterr().out.splitlines()[0].startswith("up\t")

    (tmp_path / "three.jsonl").write_text('{"sequence": [[1, 2, 3]]}\n')
    assert main(["classify", "predict", "--model", str(tmp_path / "model"), "--data",
                 str(tmp_path / "three.jsonl")]) == 2
    assert "the model expects 2 channel(s) per step" in capsys.readouterr().err
    (tmp_path / "nan.jsonl").write_text('{"sequence": [[1, 2]]}\n{"sequence": [[1, NaN]]}\n')
    assert main(["classify", "predict", "--model", str(tmp_path / "model"), "--data", str(tmp_path / "nan.jsonl")]) == 2
    assert "line 2, column 'sequence': step 0, channel 1 is nan" in capsys.readouterr().err
    assert main(["classify", "predict", "--model", str(tmp_path / "model"), "--text", "hello"]) == 2
    assert "this model classifies numeric sequences; give --data FILE.jsonl" in capsys.readouterr().err


def test_regularisation_and_ensemble_flags_reach_the_estimator():
    from types import SimpleNamespace

    from rnnkit.tasks.classify.app import APP
    from rnnkit.tasks.classify.config import ClassifyAppConfig

    config = ClassifyAppConfig(data="reviews.csv", ensemble=3, word_dropout=0.15, pooling="max_mean")
    model = APP.build(config, SimpleNamespace(kind="text"))
    assert (model.ensemble, model.word_dropout, model.pooling) == (3, 0.15, "max_mean")
    assert type(model).from_config(model.get_config()).ensemble == 3  # the next folds are built from the config
