"""``rnnkit lm`` on a tiny text file: train + baselines + sample, generate, bad inputs."""

from __future__ import annotations

import json

import pytest

import rnnkit
from rnnkit.cli import main

TEXT = "".join(f"line {i % 7} of the little corpus, said {'abc'[i % 3]}.\n" for i in range(120))
TINY = ["--embedding-size", "8", "--hidden-size", "16", "--num-layers", "1", "--batch-size", "4", "--bptt", "16",
        "--max-steps", "25", "--backend", "native", "--quiet"]


@pytest.fixture(scope="module")
def run(tmp_path_factory):

    root = tmp_path_factory.mktemp("lm")
    corpus = root / "corpus.txt"
    corpus.write_text(TEXT, encoding="utf-8")
    out = root / "run"
    assert main(["lm", "--data", str(corpus), *TINY, "--output-dir", str(out), "--sample-tokens", "40",
                 "--ngram-order", "4"]) == 0
    return out


def test_train_writes_the_model_beside_the_baselines(run):
    metrics = json.loads((run / "metrics.json").read_text())
    methods = metrics["methods"]
    assert list(methods) == ["rnnkit 1x16 lstm", "Kneser-Ney 4-gram", "uniform"]
    assert metrics["primary"] == "test bpc" and metrics["higher_is_better"] is False
    kn, uniform = methods["Kneser-Ney 4-gram"], methods["uniform"]
    assert kn["test bpc"] < 0.5 * uniform["test bpc"]  # the corpus is very repetitive
    vocab = metrics["extra"]["vocab_size"]
    assert uniform["test perplexity"] == pytest.approx(vocab)
    for row in methods.values():  # char level: bits per token are bits per character
        assert row["test bpc"] == pytest.approx(row["test bits/token"], rel=1e-6)
    assert len(metrics["extra"]["sample"]) == 40
    config = json.loads((run / "config.json").read_text())
    assert config["app"] == "lm" and config["config"]["max_steps"] == 25


def test_generate_streams_the_same_text_as_the_estimator(run, capsys):
    capsys.readouterr()
    assert main(["lm", "generate", "--model", str(run / "model"), "--prompt", "line ", "--max-tokens", "30",
                 "--seed", "4", "--top-k", "5"]) == 0
    printed = capsys.readouterr().out
    expected = rnnkit.load(run / "model").generate("line ", 30, temperature=0.8, top_k=5, seed=4)
    assert printed == "line " + expected + "\n"
    assert main(["lm", "predict", "--model", str(run / "model"), "--prompt", "line ", "--max-tokens", "30",
                 "--seed", "4", "--top-k", "5"]) == 0
    assert capsys.readouterr().out == printed


def test_generate_notes_unknown_prompt_characters(run, capsys):
    assert main(["lm", "generate", "--model", str(run / "model"), "--prompt", "line ZQ", "--max-tokens", "3"]) == 0
    assert "2 token(s) are not in the model's vocabulary and were read as <unk>" in capsys.readouterr().err


@pytest.mark.parametrize("flags, message", [
    (["--temperature", "-1"], "--temperature: expected a finite number >= 0"),
    (["--top-p", "0"], "--top-p: expected a number in (0, 1]"),
    (["--top-p", "1.5"], "--top-p: expected a number in (0, 1]"),
])
def test_generate_rejects_bad_sampling_settings(run, capsys, flags, message):
    assert main(["lm", "generate", "--model", str(run / "model"), *flags]) == 2
    assert message in capsys.readouterr().err


def test_a_model_of_another_kind_is_refused(tmp_path, capsys):
    rnnkit.Recurrent("gru", 2, 3).save(tmp_path / "other")
    assert main(["lm", "generate", "--model", str(tmp_path / "other")]) == 2
    assert "holds a Recurrent, not a model of rnnkit lm" in capsys.readouterr().err


def test_bad_corpora_are_user_errors(tmp_path, capsys):
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n", encoding="utf-8")
    assert main(["lm", "--data", str(empty), *TINY, "--output-dir", str(tmp_path / "a")]) == 2
    assert "is empty" in capsys.readouterr().err
    short = tmp_path / "short.txt"
    short.write_text("a few words\n" * 20, encoding="utf-8")
    assert main(["lm", "--data", str(short), *TINY, "--bptt", "100", "--output-dir", str(tmp_path / "b")]) == 2
    assert "shorter than one BPTT window" in capsys.readouterr().err
    assert main(["lm", "--data", str(short), "--top-p", "0", "--output-dir", str(tmp_path / "c")]) == 2
    assert "top_p" in capsys.readouterr().err


def test_bpe_level_runs_end_to_end(tmp_path):
    pytest.importorskip("tokenizers")
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(TEXT, encoding="utf-8")
    out = tmp_path / "bpe"
    assert main(["lm", "--data", str(corpus), *TINY, "--level", "bpe", "--bpe-vocab-size", "60",
                 "--output-dir", str(out), "--sample-tokens", "5"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    methods = metrics["methods"]
    assert metrics["primary"] == "test perplexity"
    # bits per character are below bits per token: a subword spells more than one character.
    row = methods["rnnkit 1x16 lstm"]
    assert row["test bpc"] < row["test bits/token"]
    loaded = rnnkit.load(out / "model")
    assert loaded.tokenizer_.decode(loaded.tokenizer_.encode("line 3 of the\n")) == "line 3 of the\n"


def test_evaluate_scores_a_saved_model_again(run, tmp_path):
    out = tmp_path / "again"
    assert main(["lm", "evaluate", "--model", str(run / "model"), "--data", str(run.parent / "corpus.txt"),
                 "--output-dir", str(out)]) == 0
    first = json.loads((run / "metrics.json").read_text())["methods"]
    again = json.loads((out / "metrics.json").read_text())["methods"]
    for method in ("rnnkit 1x16 lstm", "Kneser-Ney 4-gram"):
        assert again[method]["test bpc"] == pytest.approx(first[method]["test bpc"], rel=1e-9)


def test_learning_rate_decay_flags_reach_the_training(tmp_path):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(TEXT, encoding="utf-8")
    flags = [f for f in TINY if f not in ("--max-steps", "25")]
    out = tmp_path / "run"
    assert main(["lm", "--data", str(corpus), *flags, "--max-epochs", "2", "--lr", "0.01", "--lr-decay", "0.5",
                 "--lr-decay-after", "1", "--sample-tokens", "0", "--ngram-order", "2", "--output-dir", str(out)]) == 0
    log = rnnkit.load(out / "model").training_log_
    assert [row["lr"] for row in log] == pytest.approx([0.01, 0.005])


@pytest.mark.parametrize("flags, message", [
    (["--lr-decay", "0.5"], "lr_decay: give --lr-decay-after N and/or --lr-decay-on-plateau"),
    (["--lr-decay", "0"], "lr_decay: expected a factor in (0, 1]"),
    (["--max-minutes", "0"], "max_minutes: expected a positive number"),
])
def test_bad_schedule_flags_are_user_errors(tmp_path, capsys, flags, message):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(TEXT, encoding="utf-8")
    assert main(["lm", "--data", str(corpus), *TINY, *flags, "--output-dir", str(tmp_path / "a")]) == 2
    assert message in capsys.readouterr().err
