"""End to end: `rnnkit transcribe` on a tiny synthesised set, then `rnnkit transcribe predict`."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

pytest.importorskip("soundfile")
pytest.importorskip("jiwer")

import rnnkit
from rnnkit.cli import main
from rnnkit.metrics.speech import error_rates
from rnnkit.tasks.transcribe import data

TINY = ["--train-utterances", "8", "--val-utterances", "2", "--test-utterances", "4", "--channels", "4,4",
        "--hidden-size", "16", "--num-layers", "1", "--n-mels", "16", "--max-steps", "3", "--beam-width", "4",
        "--peer", "false", "--quiet"]


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")
def test_transcribe_trains_on_synthesised_speech_then_predicts_and_streams(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("RNNKIT_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "run"
    assert main(["transcribe", *TINY, "--real-clips", "false", "--output-dir", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    rows = metrics["methods"]
    assert list(rows) == ["rnnkit CRNN-CTC streaming (beam + words + bigram)", "rnnkit CRNN-CTC streaming (greedy)"]
    model_row = rows["rnnkit CRNN-CTC streaming (greedy)"]

    # The reported CER is the CER of the saved model on the held-out test set, recomputed here.
    model = rnnkit.load(out / "model")
    folder = next((tmp_path / "cache" / "transcribe").glob("synth-*"))
    test = [u for u in data.read_corpus(folder) if u.split == "test"]
    assert len(test) == 4
    hyps = model.transcribe([u.samples for u in test], decoder="greedy")
    assert model_row["held-out CER %"] == pytest.approx(error_rates([u.text for u in test], hyps)["cer"])
    first = rows["rnnkit CRNN-CTC streaming (beam + words + bigram)"]
    assert first["stream = offline %"] == 100.0 and first["stream RTF"] > 0

    import soundfile as sf

    wav = tmp_path / "clip.wav"
    sf.write(wav, test[0].samples, 16000)
    capsys.readouterr()
    assert main(["transcribe", "predict", "--model", str(out / "model"), "--decoder", "greedy", str(wav)]) == 0
    assert capsys.readouterr().out == f"{wav}\t{hyps[0]}\n"
    assert main(["transcribe", "predict", "--model", str(out / "model"), "--stream", str(wav)]) == 0
    assert capsys.readouterr().out == f"{hyps[0]}\n"  # the streamed transcript equals the offline one


def test_transcribe_on_a_users_list_and_bad_flags(tmp_path, capsys):
    import soundfile as sf

    rng = np.random.default_rng(0)
    lines = ["path\ttranscript"]
    for i in range(6):
        sf.write(tmp_path / f"u{i}.wav", (0.1 * rng.standard_normal(16000)).astype(np.float32), 16000)
        lines.append(f"u{i}.wav\t{['yes', 'no'][i % 2]}")
    (tmp_path / "list.tsv").write_text("\n".join(lines) + "\n")
    out = tmp_path / "run"
    assert main(["transcribe", "--data", str(tmp_path / "list.tsv"), *TINY, "--output-dir", str(out)]) == 0
    rows = json.loads((out / "metrics.json").read_text())["methods"]
    assert all(0 <= row["held-out CER %"] for row in rows.values())
    capsys.readouterr()
    assert main(["transcribe", "predict", "--model", str(out / "model"), str(tmp_path / "list.tsv")]) == 2
    assert "list.tsv: not an audio file" in capsys.readouterr().err  # a user error, not a traceback
    assert main(["transcribe", "predict", "--model", str(out / "model")]) == 2
    assert "give audio files" in capsys.readouterr().err

    # --stream -: raw 16 kHz 16-bit PCM on stdin gives the offline greedy transcript of the same samples
    import io
    import sys

    samples = sf.read(tmp_path / "u0.wav", dtype="int16")[0]
    assert main(["transcribe", "predict", "--model", str(out / "model"), "--decoder", "greedy",
                 str(tmp_path / "u0.wav")]) == 0
    offline = capsys.readouterr().out.split("\t", 1)[1]
    for pcm, code in ((samples.astype("<i2").tobytes(), 0), (samples[:160].astype("<i2").tobytes(), 2)):
        stdin = sys.stdin
        sys.stdin = io.TextIOWrapper(io.BytesIO(pcm))
        try:
            assert main(["transcribe", "predict", "--model", str(out / "model"), "--stream", "-"]) == code
        finally:
            sys.stdin = stdin
        captured = capsys.readouterr()
        if code == 0:
            assert captured.out == offline
        else:  # 10 ms of audio: a named error, not a traceback
            assert "10 ms of audio is shorter than one 25 ms" in captured.err


def test_bad_settings_are_named(capsys):
    assert main(["transcribe", "--decoder", "best"]) == 2
    assert "decoder: expected one of ['greedy', 'beam']" in capsys.readouterr().err
