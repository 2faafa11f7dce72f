"""``rnnkit export``: the applications' saved models in onnxruntime, against the estimators themselves."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

import rnnkit
from rnnkit.cli import main
from rnnkit.export import ExportError, run_session
from rnnkit.export.apps import export_saved_model

pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

TOLERANCE = 1e-5


def seasonal_frame(n: int = 80) -> pd.DataFrame:
    t = np.arange(n)
    rows = []
    for k, name in enumerate(("a", "b")):
        y = 10 + 3 * np.sin(2 * np.pi * t / 12 + k) + 0.3 * np.random.default_rng(k).normal(size=n)
        rows.append(pd.DataFrame({"id": name, "t": pd.date_range("2000-01", periods=n, freq="MS"), "y": y}))
    return pd.concat(rows, ignore_index=True)


def test_forecaster_exports_and_onnxruntime_gives_its_forecasts(tmp_path, capsys):
    from rnnkit.tasks.forecast import Forecaster

    model = Forecaster(4, season_length=12, hidden_size=8, num_layers=1, max_steps=3, batch_size=16,
                       context_length=24).fit(seasonal_frame(), id_col="id", time_col="t", value_col="y")
    model.save(tmp_path / "model")
    assert main(["export", "--model", str(tmp_path / "model"), "--out", str(tmp_path / "fc.onnx")]) == 0
    assert "max |diff|" in capsys.readouterr().out
    manifest = json.loads((tmp_path / "fc.json").read_text())
    graph = manifest["graphs"][0]
    assert graph["outputs"] == ["mean", "q0.1", "q0.5", "q0.9"]
    assert graph["checked_shapes"]["past_target"][0] == 4  # more windows than the 2 exported
    assert max(graph["max_abs_diff"].values()) < TOLERANCE
    # End to end: the estimator's scaled windows in, level + scale * output = its own forecasts.
    batch = model.network_inputs(model.history_, 4)
    names = ["past_target", "past_observed", "past_features", "future_features"]
    mean, q10, _, q90 = run_session(tmp_path / "fc.onnx", {n: batch[n].float() for n in names})
    level, scale = batch["level"].numpy()[:, None], batch["scale"].numpy()[:, None]
    expected = model.forecast_arrays(model.history_, 4, (0.1, 0.9), network_only=True)
    np.testing.assert_allclose(level + scale * mean, expected["mean"], atol=1e-4, rtol=1e-5)
    np.testing.assert_allclose(level + scale * q90, expected["q0.9"], atol=1e-4, rtol=1e-5)
    assert (q90 > q10).all()


def test_classifier_exports_and_onnxruntime_gives_its_probabilities(tmp_path):
    pytest.importorskip("tokenizers")
    from rnnkit.tasks.classify.estimator import TextClassifier

    texts = ["a good film", "the plot was awful", "quite lovely and fine", "dull", "very boring story plot"] * 3
    labels = ["pos", "neg", "pos", "neg", "neg"] * 3
    model = TextClassifier(hidden_size=8, embedding_dim=8, batch_size=8, max_epochs=1, patience=None,
                           val_fraction=0.0).fit(texts, labels)
    model.save(tmp_path / "model")
    manifest = export_saved_model(tmp_path / "model")
    assert (tmp_path / "model.onnx").is_file() and manifest["classes"] == ["neg", "pos"]
    assert max(manifest["graphs"][0]["max_abs_diff"].values()) < TOLERANCE
    # The tokenizer outside the graph: ids padded with the pad id, lengths of each text.
    new = ["good story", "awful awful plot was dull and boring", "fine"]
    ids = model._truncate(model._encode(new, fitting=False), fitting=False)
    lengths = torch.tensor([len(s) for s in ids])
    padded = torch.nn.utils.rnn.pad_sequence(ids, batch_first=True, padding_value=model.tokenizer_.pad_id)
    (logits,) = run_session(tmp_path / "model.onnx", {"inputs": padded, "lengths": lengths})
    np.testing.assert_allclose(torch.softmax(torch.as_tensor(logits), 1).numpy(), model.predict_proba(new),
                               atol=1e-5)


def test_export_of_what_is_not_an_application_model_is_a_clear_error(tmp_path, capsys):
    assert main(["export", "--model", str(tmp_path)]) == 2
    assert "is not an rnnkit model directory (no config.json inside)" in capsys.readouterr().err
    rnnkit.Recurrent("gru", 3, 4).save(tmp_path / "layer")
    with pytest.raises(ExportError, match="holds a Recurrent, not an application's model"):
        export_saved_model(tmp_path / "layer")
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "config.json").write_text("{not json")
    with pytest.raises(ExportError, match="is not a loadable rnnkit model"):
        export_saved_model(tmp_path / "broken")


def test_language_model_step_exports_with_state_in_and_out(tmp_path):
    pytest.importorskip("tokenizers")
    from rnnkit.tasks.lm import LanguageModel

    text = "the cat sat on the mat.\nthe dog sat on the log.\n" * 10
    model = LanguageModel(embedding_size=8, hidden_size=8, num_layers=2, batch_size=4, bptt=8, max_steps=2,
                          max_epochs=1).fit(text)
    model.save(tmp_path / "model")
    manifest = export_saved_model(tmp_path / "model")
    graph = manifest["graphs"][0]
    assert graph["inputs"] == ["token", "state_0_h", "state_0_c", "state_1_h", "state_1_c"]
    assert max(graph["max_abs_diff"].values()) < TOLERANCE
    # A prompt and a continuation fed step by step over onnxruntime, the state passed on: the network's steps.
    ids = torch.as_tensor(model.tokenizer_.encode("the cat")).tolist()
    network = model.network
    state = [torch.zeros(1, 1, s.shape[-1]) for layer in network.layers for s in layer.initial_state(1)]
    torch_state = None
    for token in ids + [0] * 5:
        logits, *state = run_session(tmp_path / "model.onnx", {
            name: value for name, value in zip(graph["inputs"], [torch.tensor([token]), *state], strict=True)})
        with torch.no_grad():
            want, torch_state = network.step(torch.tensor([token]), torch_state)
        assert (torch.as_tensor(logits) - want).abs().max().item() < TOLERANCE
        state = [torch.as_tensor(s) for s in state]


def test_tagger_emissions_export_and_viterbi_outside_gives_its_tags(tmp_path):
    from rnnkit.tasks.tag import Tagger

    sentences = [["Ada", "lives", "in", "Paris"], ["Bob", "went", "to", "New", "York", "today"], ["Paris"]] * 4
    tags = [["B-PER", "O", "O", "B-LOC"], ["B-PER", "O", "O", "B-LOC", "I-LOC", "O"], ["B-LOC"]] * 4
    model = Tagger(scheme="IOB2", word_dim=8, char_dim=4, char_hidden=4, hidden_size=8, batch_size=4,
                   max_epochs=1).fit(sentences, tags)
    model.save(tmp_path / "model")
    manifest = export_saved_model(tmp_path / "model")
    assert manifest["graphs"][0]["inputs"] == ["words", "lengths", "chars", "char_lengths"]
    assert max(manifest["graphs"][0]["max_abs_diff"].values()) < TOLERANCE
    from rnnkit.data.tag_batches import encode_batch

    new = [["Ada", "went", "to", "York"], ["Zed"]]
    batch = encode_batch(new, model.words_, model.chars_, lowercase=model.settings["lowercase"])
    (emissions,) = run_session(tmp_path / "model.onnx", {k: batch[k] for k in manifest["graphs"][0]["inputs"]})
    crf = model.network.crf
    assert torch.allclose(crf._scores()[0], torch.tensor(manifest["crf"]["transitions"]))
    decoded = crf.decode(torch.as_tensor(emissions), batch["lengths"])
    assert [[model.tags_.items[k] for k in row] for row in decoded] == model.predict(new)


def test_speech_recognizer_exports_offline_and_streams_over_onnxruntime(tmp_path):
    pytest.importorskip("soundfile")
    from rnnkit.export.speech import OnnxCTCStreamer
    from rnnkit.tasks.transcribe.estimator import SpeechRecognizer

    t = np.arange(8000) / 16000
    clips = [(0.3 * np.sin(2 * np.pi * (200 + 150 * i) * t)).astype(np.float32) for i in range(2)]
    model = SpeechRecognizer(channels=(4,), hidden_size=8, num_layers=1, n_mels=16, batch_size=2, max_steps=1,
                             lexicon=False, language_model=False).fit(clips, ["one", "two"])
    model.save(tmp_path / "model")
    manifest = export_saved_model(tmp_path / "model", tmp_path / "speech.onnx")
    assert [Path(g["path"]).name for g in manifest["graphs"]] == ["speech.onnx", "speech.stream.onnx"]
    assert all(max(g["max_abs_diff"].values()) < TOLERANCE for g in manifest["graphs"])
    # Streaming over onnxruntime, in chunks, equals the offline PyTorch pass.
    features = torch.randn(1, 37, 16)
    with torch.no_grad():
        offline, _ = model.network(features)
    stream = OnnxCTCStreamer(model.network, tmp_path / "speech.stream.onnx")
    parts = [stream.push(features[0, i:i + 8]) for i in range(0, 37, 8)] + [stream.finish()]
    assert (torch.cat(parts) - offline[0]).abs().max().item() < TOLERANCE


def test_translator_exports_encoder_and_decoder_step_and_beam_search_runs_over_onnxruntime(tmp_path):
    pytest.importorskip("sacrebleu")
    from rnnkit.data.parallel import pad_sequences
    from rnnkit.export.translation import OnnxTranslator
    from rnnkit.models import decoding

    words = {"the": "el", "house": "casa", "dog": "perro", "big": "grande", "red": "rojo", "cat": "gato"}
    pairs = [(" ".join(k for k in list(words)[i:i + 3]), " ".join(words[k] for k in list(words)[i:i + 3]))
             for i in range(4)] * 4
    model = rnnkit.Translator(vocab_size=60, embed_size=8, hidden_size=8, batch_size=8, max_steps=2, dropout=0.0,
                              max_src_len=8, max_tgt_len=8).fit(pairs)
    model.save(tmp_path / "model")
    manifest = export_saved_model(tmp_path / "model", tmp_path / "mt.onnx")
    assert [Path(g["path"]).name for g in manifest["graphs"]] == ["mt.encoder.onnx", "mt.decoder.onnx"]
    assert all(max(g["max_abs_diff"].values()) < TOLERANCE for g in manifest["graphs"])
    onnx_model = OnnxTranslator(tmp_path / "mt.encoder.onnx", tmp_path / "mt.decoder.onnx", manifest)
    src, lengths = pad_sequences(model._encode_sources(["the big dog", "red cat house the"]), model.network.pad_id)
    options = {"beam_size": 3, "max_len_a": 1.0, "max_len_b": 3}
    got = decoding.beam_search(onnx_model, src, lengths, **options)
    with torch.no_grad():
        want = decoding.beam_search(model.network.eval(), src, lengths, **options)
    assert [[h.tokens for h in row] for row in got] == [[h.tokens for h in row] for row in want]
    assert abs(got[0][0].score - want[0][0].score) < 1e-4
