"""End to end: `rnnkit tag --train/--dev/--test` on tiny CoNLL files, then `rnnkit tag predict`."""

from __future__ import annotations

import json

import pytest

from rnnkit.cli import main
from rnnkit.data.conll import TaggedSentence, write_conll

from .helpers import toy_corpus

pytest.importorskip("seqeval")
pytest.importorskip("sklearn_crfsuite")

FAST = ["--word-dim", "16", "--char-hidden", "8", "--hidden-size", "16", "--batch-size", "8", "--lr", "0.01",
        "--max-epochs", "8", "--crf-iterations", "20", "--quiet"]


def _write(path, n, seed):
    sentences, tags = toy_corpus(n, seed)
    write_conll([TaggedSentence(s, t) for s, t in zip(sentences, tags, strict=True)], path)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tag")
    for name, n, seed in (("train", 60, 0), ("dev", 20, 1), ("test", 30, 2)):
        _write(folder / f"{name}.conll", n, seed)
    out = folder / "run"
    code = main(["tag", "--train", str(folder / "train.conll"), "--dev", str(folder / "dev.conll"),
                 "--test", str(folder / "test.conll"), "--output-dir", str(out), *FAST])
    assert code == 0
    return folder, out


def test_train_writes_scores_of_the_model_and_the_baselines(run):
    _, out = run
    metrics = json.loads((out / "metrics.json").read_text())
    methods = metrics["methods"]
    assert list(methods) == ["rnnkit BiLSTM-CRF", "most frequent tag", "feature CRF (crfsuite)"]
    assert methods["rnnkit BiLSTM-CRF"]["F1 %"] > 90
    assert methods["feature CRF (crfsuite)"]["F1 %"] > 50
    assert metrics["primary"] == "F1 %" and metrics["extra"]["scheme"] == "IOB2"
    assert set(metrics["extra"]["per_type"]["rnnkit BiLSTM-CRF"]) == {"PER", "LOC"}
    assert (out / "per_type_f1.png").stat().st_size > 10_000
    assert "seqeval strict mode, scheme IOB2" in (out / "metrics.md").read_text()


def test_predict_text_to_json_and_conll_to_conll(run, tmp_path, capsys):
    folder, out = run
    (tmp_path / "in.txt").write_text("Anna visited Paris .\nPeter Blackburn lives in New York .\n\n", encoding="utf-8")
    assert main(["tag", "predict", "--model", str(out / "model"), "--input", str(tmp_path / "in.txt"),
                 "--format", "json", "--output", str(tmp_path / "out.jsonl")]) == 0
    rows = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert rows[0]["tags"] == ["B-PER", "O", "B-LOC", "O"]
    assert {"type": "LOC", "start": 4, "end": 6, "text": "New York"} in rows[1]["spans"]
    assert rows[2] == {"tokens": [], "tags": [], "spans": []}  # an empty line: an empty sentence, no tags
    capsys.readouterr()
    assert main(["tag", "predict", "--model", str(out / "model"), "--input", str(folder / "test.conll")]) == 0
    printed = capsys.readouterr().out.strip().split("\n\n")
    assert len(printed) == 30 and all("\t" in line for line in printed[0].splitlines())


def test_bad_files_are_clear_errors(tmp_path, capsys):
    bad = tmp_path / "bad.conll"
    bad.write_text("Anna B-PER\nvisited O\nParis NNP B-LOC\n", encoding="utf-8")
    assert main(["tag", "--train", str(bad), "--output-dir", str(tmp_path / "r"), *FAST]) == 2
    assert "bad.conll:3: expected 2 columns like line 1, got 3" in capsys.readouterr().err
    assert main(["tag", "--train", str(tmp_path / "missing.conll"), *FAST]) == 2
    assert "train: " in capsys.readouterr().err
    _write(tmp_path / "ok.conll", 5, 0)
    assert main(["tag", "--train", str(tmp_path / "ok.conll"), "--scheme", "IOBX", *FAST]) == 2
    assert "scheme: expected auto or one of" in capsys.readouterr().err


def test_unseen_test_tags_and_invalid_gold_are_reported(run, tmp_path):
    folder, _ = run
    sentences, tags = toy_corpus(10, seed=7)
    # the test file: LOC renamed ORG (never seen in training), and B- written as I- (invalid IOB2 after O)
    tags = [["I-ORG" if t.endswith("LOC") else "I-" + t[2:] if t.startswith("B-") else t for t in row]
            for row in tags]
    write_conll([TaggedSentence(s, t) for s, t in zip(sentences, tags, strict=True)], tmp_path / "odd.conll")
    out = tmp_path / "run"
    assert main(["tag", "--train", str(folder / "train.conll"), "--dev", str(folder / "dev.conll"),
                 "--test", str(tmp_path / "odd.conll"), "--output-dir", str(out), "--baselines", "most_frequent",
                 *FAST]) == 0
    extra = json.loads((out / "metrics.json").read_text())["extra"]
    assert extra["unseen_tag_tokens"] == sum(t.endswith("ORG") for row in tags for t in row) > 0
    invalid = sum(t.startswith("I-") and (i == 0 or row[i - 1] == "O") for row in tags for i, t in enumerate(row))
    assert extra["invalid_gold"] == invalid > 0
    notes = (out / "metrics.md").read_text()
    assert f"{extra['unseen_tag_tokens']} gold test tokens carry tags never seen in training" in notes
    assert f"Gold test tags hold {invalid} invalid IOB2 transitions" in notes
