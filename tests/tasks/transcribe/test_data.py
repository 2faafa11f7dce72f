"""The synthesised corpus (held-out voices, texts, cache checksum), the real clips and the user's lists."""

from __future__ import annotations

import json
import random
import shutil

import numpy as np
import pytest

pytest.importorskip("soundfile")

from rnnkit.data.audio import AudioError
from rnnkit.data.characters import CharacterAlphabet, TranscriptError
from rnnkit.tasks.transcribe import data

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")


def test_test_voices_never_occur_in_training_and_validation():
    plan = data.plan_corpus(300, 30, 60, seed=0, kinds={"digits": 1, "cards": 1, "sentence": 1})
    train_voices = {p["voice"] for p in plan if p["split"] != "test"}
    test_voices = {p["voice"] for p in plan if p["split"] == "test"}
    assert test_voices and not train_voices & test_voices
    for voice in test_voices:
        accent, variant = voice.split("+")
        assert variant in data.HELD_OUT_VARIANTS or accent == data.HELD_OUT_ACCENT
    assert {p["kind"] for p in plan} == {"digits", "cards", "sentence"}
    assert data.plan_corpus(300, 30, 60, seed=0, kinds={"digits": 1, "cards": 1, "sentence": 1}) == plan


def test_generated_texts_use_the_vocabulary_and_the_alphabet():
    rng, words, alphabet = random.Random(1), set(data.vocabulary()), CharacterAlphabet()
    for kind in ("digits", "cards", "sentence"):
        for _ in range(200):
            text = data.generate_text(rng, kind)
            assert set(text.split()) <= words
            alphabet.encode(text)
    with pytest.raises(ValueError, match="kind"):
        data.generate_text(rng, "poems")


def test_missing_espeak_names_the_install_command(monkeypatch):
    monkeypatch.setattr(data.shutil, "which", lambda name: None)
    with pytest.raises(data.SynthesisError, match="sudo apt-get install espeak-ng"):
        data.synthesise_corpus(2, 0, 1)


def test_missing_pocketsphinx_testdata_names_the_install_command(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"apt-get install .*pocketsphinx-testdata"):
        data.load_real_clips(tmp_path / "nowhere")


def test_degradation_adds_noise_at_the_drawn_snr():
    clean = (0.5 * np.sin(np.arange(16000) / 5)).astype(np.float32)
    for seed in range(5):
        out, meta = data.degrade(clean, np.random.default_rng(seed))
        assert out.dtype == np.float32 and np.abs(out).max() <= 1.0 and len(out) > len(clean)
        if "snr" in meta:
            assert 5 <= meta["snr"] <= 35


@needs_espeak
def test_corpus_is_cached_with_a_checked_manifest(tmp_path):
    folder = data.synthesise_corpus(3, 1, 2, seed=4, root=tmp_path)
    corpus = data.read_corpus(folder)
    assert [u.split for u in corpus] == ["train"] * 3 + ["val", "test", "test"]
    assert all(u.samples.dtype == np.float32 and 0.2 < len(u.samples) / 16000 < 15 for u in corpus)
    assert data.synthesise_corpus(3, 1, 2, seed=4, root=tmp_path) == folder  # found in the cache
    manifest = folder / "manifest.jsonl"
    rows = [json.loads(line) for line in manifest.read_text().splitlines()]
    rows[0]["text"] = "tampered"
    manifest.write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in rows))
    with pytest.raises(AudioError, match="checksum mismatch"):
        data.read_corpus(folder)


@needs_espeak
def test_two_first_uses_at_once_synthesise_the_corpus_once(tmp_path, monkeypatch):
    # Two benchmark arms started together on a cold cache wrote the same files under each other and
    # one then failed reading "test-00172.flac: missing or changed since synthesis".
    import threading
    import time

    calls = []
    original = data._synthesise_one

    def slow(item, folder):
        calls.append(item)
        time.sleep(0.05)
        return original(item, folder)

    monkeypatch.setattr(data, "_synthesise_one", slow)
    folders = []
    threads = [threading.Thread(target=lambda: folders.append(data.synthesise_corpus(3, 1, 2, seed=5, root=tmp_path,
                                                                                      workers=1)))
               for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(folders) == 2 and folders[0] == folders[1]
    assert len(calls) == 6  # once, not twice
    assert len(data.read_corpus(folders[0])) == 6


@needs_espeak
def test_speak_returns_16k_audio_of_plausible_length():
    short, long = data.speak("one", voice="en-us+m1"), data.speak("one two three four five", voice="en-us+m1")
    assert 0.2 < len(short) / 16000 < 1.5 and len(long) > 2 * len(short)


@pytest.mark.skipif(not data.POCKETSPHINX_DATA.is_dir(), reason="pocketsphinx-testdata is not installed")
def test_real_clips_have_their_transcripts():
    clips = data.load_real_clips()
    assert [c.split for c in clips].count("cards") == 5 and [c.split for c in clips].count("librivox") == 5
    assert clips[0].text == "ten of clubs" and abs(len(clips[0].samples) / 16000 - 1.095) < 0.01
    assert clips[5].text == "two nine three four zero" and len(clips[5].samples) == 38400


def test_user_lists_are_read_and_checked(tmp_path):
    import soundfile as sf

    sf.write(tmp_path / "a.wav", np.zeros(8000, np.float32) + 0.01, 16000)
    (tmp_path / "list.tsv").write_text("path\ttranscript\na.wav\tHello there\n")
    [utterance] = data.read_transcript_list(tmp_path / "list.tsv")
    assert utterance.text == "Hello there" and len(utterance.samples) == 8000
    (tmp_path / "bad.tsv").write_text("path\ttranscript\na.wav\tcost: 5$\n")
    with pytest.raises(TranscriptError, match=r"line 2: .*'\$', '5'"):
        data.read_transcript_list(tmp_path / "bad.tsv")
    (tmp_path / "cols.tsv").write_text("file\twords\na.wav\thi\n")
    with pytest.raises(AudioError, match="needs a header with 'path' and 'transcript'"):
        data.read_transcript_list(tmp_path / "cols.tsv")


def test_extra_voices_join_training_only_and_keep_the_held_out_rule():
    kinds = {"digits": 1, "cards": 1, "sentence": 1}
    plan = data.plan_corpus(400, 40, 60, seed=0, kinds=kinds, extra_voices=True)
    train_variants = {p["voice"].split("+")[1] for p in plan if p["split"] != "test"}
    test_voices = {p["voice"] for p in plan if p["split"] == "test"}
    assert train_variants & set(data.EXTRA_VARIANTS)  # the named variants are trained on
    base_test = {p["voice"] for p in data.plan_corpus(400, 40, 60, seed=0, kinds=kinds) if p["split"] == "test"}
    assert all(v.split("+")[1] not in data.EXTRA_VARIANTS for v in test_voices)
    assert test_voices <= {f"{a}+{v}" for a in data.ACCENTS for v in data.VARIANTS if data.voice_split(a, v) == "test"}
    assert base_test  # the held-out voices of both plans come from the same set
    assert not {p["voice"] for p in plan if p["split"] != "test"} & test_voices
