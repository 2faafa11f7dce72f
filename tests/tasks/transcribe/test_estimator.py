"""SpeechRecognizer: fit on a tiny set, save/load, transcribe, streaming equal to offline, bad inputs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

pytest.importorskip("soundfile")
pytest.importorskip("jiwer")

import rnnkit
from rnnkit.data.audio import AudioError
from rnnkit.data.characters import TranscriptError
from rnnkit.tasks.transcribe.estimator import SpeechRecognizer

TINY = {"channels": (4, 4), "hidden_size": 16, "num_layers": 1, "n_mels": 16, "batch_size": 4, "max_steps": 4,
        "lexicon": True, "language_model": True, "beam_width": 4}


def _clips(n: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    t = np.arange(16000) / 16000
    return [(0.3 * np.sin(2 * np.pi * (200 + 150 * i) * t) + 0.01 * rng.standard_normal(len(t))).astype(np.float32)
            for i in range(n)]


@pytest.fixture(scope="module")
def fitted() -> SpeechRecognizer:
    texts = ["one two", "three", "four of clubs", "ace", "seven", "two of hearts"]
    return SpeechRecognizer(**TINY).fit(_clips(6), texts, val_audio=_clips(2, 1), val_transcripts=["one", "ace"])


def test_fit_learns_the_lexicon_and_normalisation_statistics(fitted):
    assert fitted.words_ == ["ace", "clubs", "four", "hearts", "of", "one", "seven", "three", "two"]
    assert fitted.mean_.shape == (16,) and torch.isfinite(fitted.mean_).all() and (fitted.var_ > 0).all()
    assert fitted.training_log_ and fitted.training_log_[-1]["step"] == 4
    assert fitted.config.norm_mode() == "running"


def test_save_load_gives_the_same_transcripts_and_log_probs(fitted, tmp_path):
    fitted.save(tmp_path / "model")
    loaded = rnnkit.load(tmp_path / "model")
    assert isinstance(loaded, SpeechRecognizer) and rnnkit.SpeechRecognizer is SpeechRecognizer
    clips = _clips(3, 5)
    for a, b in zip(fitted.log_probs(clips), loaded.log_probs(clips), strict=True):
        assert torch.equal(a, b)
    assert loaded.transcribe(clips, decoder="greedy") == fitted.transcribe(clips, decoder="greedy")
    assert loaded.transcribe(clips, decoder="beam") == fitted.transcribe(clips, decoder="beam")
    assert loaded.lm_.log_prob("of", ["four"]) == pytest.approx(fitted.lm_.log_prob("of", ["four"]))


def test_beam_with_lexicon_only_outputs_training_words(fitted):
    for text in fitted.transcribe(_clips(4, 9), decoder="beam"):
        assert set(text.split()) <= set(fitted.words_)


def test_stream_final_transcript_equals_offline_greedy(fitted):
    torch.manual_seed(3)
    with torch.no_grad():  # make the random network emit labels, so equality says something
        fitted.network.head.bias.copy_(torch.randn_like(fitted.network.head.bias) * 0.5)
        fitted.network.head.bias[0] = -1.0
    clips = _clips(3, 7)
    offline = fitted.transcribe(clips, decoder="greedy")
    assert any(offline)
    for clip, expected in zip(clips, offline, strict=True):
        updates = list(fitted.stream(np.array_split(clip, 9)))
        assert updates[-1].final and updates[-1].text == expected
        assert all(not u.final for u in updates[:-1]) and len(updates) == 10
        partials = [u.text for u in updates]
        assert all(expected.startswith(p) or p.startswith(expected[: len(p) - 1]) for p in partials)


def test_bidirectional_model_uses_utterance_normalisation_and_refuses_to_stream():
    model = SpeechRecognizer(**{**TINY, "bidirectional": True, "max_steps": 1}).fit(_clips(2), ["one", "two"])
    assert model.config.norm_mode() == "utterance"
    with pytest.raises(ValueError, match="streaming needs 'running'"):
        next(model.stream([_clips(1)[0]]))


def test_bad_inputs_are_named(fitted, tmp_path):
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"\x00\x01 definitely not RIFF")
    with pytest.raises(AudioError, match=r"junk\.wav: not an audio file"):
        fitted.transcribe([junk])
    with pytest.raises(AudioError, match="shorter than one 25 ms"):
        fitted.transcribe([np.zeros(160, np.float32)])
    with pytest.raises(AudioError, match="longer than the limit of 60 s"):
        fitted.transcribe([np.zeros(16000 * 61, np.float32)])
    with pytest.raises(AudioError, match="expected a path"):
        fitted.transcribe([[0.0] * 1000])
    stereo_44k = np.stack([_clips(1)[0]] * 2, 1).repeat(3, axis=0)[: 44100]  # any rate: (array, rate) pairs
    assert isinstance(fitted.transcribe([(stereo_44k, 44100)])[0], str)
    with pytest.raises(TranscriptError, match="'9'"):
        SpeechRecognizer(**TINY).fit(_clips(2), ["one", "9 lives"])
    with pytest.raises(ValueError, match="transcripts: expected one per recording"):
        SpeechRecognizer(**TINY).fit(_clips(2), ["one"])
    with pytest.raises(TypeError, match="unknown option"):
        SpeechRecognizer(hiden_size=3)
    with pytest.raises(RuntimeError, match="call fit"):
        SpeechRecognizer().transcribe([_clips(1)[0]])


def test_transcripts_too_long_for_their_audio_are_left_out():
    model = SpeechRecognizer(**{**TINY, "max_steps": 1})
    short = np.zeros(1600, np.float32) + 0.01  # 0.1 s: 9 frames -> 3 output frames
    model.fit([short, _clips(1)[0]], ["a very long transcript for a tenth of a second", "one"])
    assert model.skipped_ == 1


def test_time_budget_ends_training_inside_the_first_epoch():
    model = SpeechRecognizer(**{**TINY, "batch_size": 1, "max_steps": 1000, "max_seconds": 0.0})
    model.fit(_clips(6), ["one", "two", "three", "four", "five", "six"])
    assert model.training_log_[-1]["step"] <= 1  # an epoch has 6 batches; the budget stops it at once


def test_augmented_training_draws_a_new_version_of_each_utterance():
    model = SpeechRecognizer(**{**TINY, "augment": True, "max_steps": 2})
    model.fit(_clips(4), ["one", "two", "three", "four"])
    assert model.training_log_[-1]["step"] == 2
    from rnnkit.tasks.transcribe.estimator import _AugmentedUtterances

    data = _AugmentedUtterances(_clips(3), [[1], [2], [3]], lambda wave: model.features(wave), seed=0)
    first, second = data[0][0], data[0][0]
    assert not (first.shape == second.shape and torch.allclose(first, second))  # a new draw each time
    assert data[1][1] == [2]


def test_time_budget_decays_the_learning_rate_along_a_cosine():
    from rnnkit.tasks.transcribe.estimator import _BudgetDecay
    from rnnkit.training.callbacks import TimeBudget

    budget = TimeBudget(100.0)
    decay = _BudgetDecay(budget, lr=1e-2, floor=0.05)
    assert decay.factor() == pytest.approx(1.0, abs=1e-3)
    budget.start -= 50.0  # half the budget spent
    assert decay.factor() == pytest.approx(0.05 + 0.95 * 0.5, abs=1e-3)
    budget.start -= 100.0  # past the end: the floor
    assert decay.factor() == pytest.approx(0.05)

    class _Trainer:
        optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)

    decay.on_step_end(_Trainer, 1, {})
    assert _Trainer.optimizer.param_groups[0]["lr"] == pytest.approx(5e-4)
    for lr_decay in (True, False):  # in a fit under a budget: below the peak after the first steps, or constant
        model = SpeechRecognizer(**{**TINY, "batch_size": 1, "max_steps": 6, "max_seconds": 600.0,
                                    "lr_decay": lr_decay})
        model.fit(_clips(3), ["one", "two", "three"])
        lrs = [row["lr"] for row in model.training_log_]
        assert (lrs[-1] < lrs[0] < 3e-3) if lr_decay else lrs == [3e-3] * len(lrs)
