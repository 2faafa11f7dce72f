"""`rnnkit translate` on tiny files: the run directory's values, predict from a file and stdin, bad input."""

from __future__ import annotations

import io
import json

from rnnkit.cli import main
from rnnkit.metrics.translation import translation_scores
from rnnkit.tasks.translate.config import TranslateAppConfig
from rnnkit.tasks.translate.data import user_pairs
from tests.tasks.translate.conftest import toy_pairs

FAST = ["--max-steps", "8", "--vocab-size", "100", "--embed-size", "16", "--hidden-size", "16", "--batch-size", "16",
        "--max-len", "12", "--beam", "2", "--heatmap-sentences", "1", "--quiet"]


def test_train_on_a_tsv_then_predict(tmp_path, capsys, monkeypatch):
    pairs = toy_pairs(120)
    tsv = tmp_path / "pairs.tsv"
    tsv.write_text("".join(f"{s}\t{t}\n" for s, t in pairs))
    out = tmp_path / "run"
    assert main(["translate", "--data", str(tsv), "--output-dir", str(out), *FAST]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    methods = metrics["methods"] if "methods" in metrics else metrics["metrics"]
    assert set(methods) == {"rnnkit lstm + general attention, beam 2", "rnnkit lstm + general attention, greedy",
                            "rnnkit lstm, no attention, beam 2", "copy the source"}
    test = user_pairs(TranslateAppConfig(data=str(tsv))).test
    copy = translation_scores([s for s, _ in test], [t for _, t in test])
    assert methods["copy the source"]["BLEU"] == copy.bleu and methods["copy the source"]["chrF"] == copy.chrf
    assert (out / "attention_0.png").is_file() and (out / "model" / "tokenizer_src.json").is_file()

    lines = tmp_path / "in.txt"
    lines.write_text("the red house\na dog\n")
    assert main(["translate", "predict", "--model", str(out / "model"), "--input", str(lines),
                 "--output", str(tmp_path / "out.txt"), "--beam", "2"]) == 0
    from rnnkit import load

    expected = load(out / "model").translate(["the red house", "a dog"], beam=2)
    assert (tmp_path / "out.txt").read_text().splitlines() == expected
    capsys.readouterr()
    monkeypatch.setattr("sys.stdin", io.StringIO("the red house\n"))
    assert main(["translate", "predict", "--model", str(out / "model"), "--beam", "2"]) == 0
    assert capsys.readouterr().out.splitlines() == expected[:1]


def test_bad_inputs_are_clear_errors(tmp_path, capsys):
    (tmp_path / "a.en").write_text("one\ntwo\nthree\n")
    (tmp_path / "a.es").write_text("uno\ndos\n")
    assert main(["translate", "--src", str(tmp_path / "a.en"), "--tgt", str(tmp_path / "a.es"), *FAST]) == 2
    assert "got 3 in" in capsys.readouterr().err
    assert main(["translate", "--src", str(tmp_path / "a.en"), *FAST]) == 2
    assert "give both files or neither" in capsys.readouterr().err
    assert main(["translate", "--data", str(tmp_path / "missing.tsv"), *FAST]) == 2
    assert "no such file" in capsys.readouterr().err
    assert main(["translate", "--attention", "bilinear"]) == 2
    assert "expected one of" in capsys.readouterr().err


def test_help_needs_no_extras(capsys):
    import subprocess
    import sys

    code = ("import sys; sys.modules['tokenizers'] = None; sys.modules['sacrebleu'] = None; "
            "sys.modules['pysword'] = None; from rnnkit.cli import main; sys.exit(main(['translate', '--help']))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "--beam" in result.stdout and "--src" in result.stdout
