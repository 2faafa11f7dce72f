"""Audio reading, resampling, log-mel features against a reference computation, normalisation,
SpecAugment and streaming features."""

from __future__ import annotations

import numpy as np
import pytest
import torch

sf = pytest.importorskip("soundfile")

from rnnkit.data.audio import (  # noqa: E402
    AudioError,
    ClippedAudioWarning,
    LogMel,
    StreamingLogMel,
    hz_to_mel,
    mel_filterbank,
    mel_to_hz,
    normalize_running,
    normalize_utterance,
    num_frames,
    read_audio,
    read_raw_pcm,
    spec_augment,
    to_mono_16k,
)


def _tone(freq: float, seconds: float, rate: int) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def _peak_hz(samples: np.ndarray, rate: int = 16000) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return float(np.fft.rfftfreq(len(samples), 1 / rate)[spectrum.argmax()])


def test_mel_scale_is_the_htk_formula():
    assert hz_to_mel(700.0) == pytest.approx(2595 * np.log10(2))
    assert hz_to_mel(1000.0) == pytest.approx(999.985, abs=1e-3)  # 1000 Hz is ~1000 mel by design
    f = np.array([20.0, 440.0, 3999.0])
    assert np.allclose(mel_to_hz(hz_to_mel(f)), f)


def test_filterbank_is_triangles_between_mel_spaced_centres():
    n_mels, n_fft, rate = 10, 400, 16000
    bank = mel_filterbank(n_mels, n_fft=n_fft, sample_rate=rate, f_min=0.0).numpy()  # (201, 10)
    centres = mel_to_hz(np.linspace(0, hz_to_mel(8000), n_mels + 2))
    bins = np.linspace(0, 8000, n_fft // 2 + 1)
    for m in range(n_mels):
        lo, mid, hi = centres[m], centres[m + 1], centres[m + 2]
        for k in (3, 50, 120, 200):
            f = bins[k]
            expected = (f - lo) / (mid - lo) if lo <= f <= mid else (hi - f) / (hi - mid) if mid < f <= hi else 0.0
            assert bank[k, m] == pytest.approx(max(expected, 0.0), abs=1e-6)
    assert bank.max() <= 1.0 and bank.min() == 0.0


def test_log_mel_equals_a_numpy_reference():
    rng = np.random.default_rng(0)
    x = rng.standard_normal(16000).astype(np.float32) * 0.1
    features = LogMel(24)(x).numpy()
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(400) / 400)  # periodic Hann
    frames = np.stack([x[160 * t:160 * t + 400] * window for t in range(num_frames(len(x)))])
    power = np.abs(np.fft.rfft(frames, n=400)) ** 2
    reference = np.log(np.maximum(power @ mel_filterbank(24).numpy().astype(np.float64), 1e-6))
    assert features.shape == (98, 24)
    assert np.allclose(features, reference, atol=2e-4)


def test_streaming_features_equal_the_whole_file():
    x = np.random.default_rng(1).standard_normal(12345).astype(np.float32)
    stream = StreamingLogMel(LogMel(16))
    parts = [stream.push(c) for c in np.array_split(x, 17)]
    assert torch.allclose(torch.cat(parts), LogMel(16)(x), atol=1e-5)


@pytest.mark.parametrize("rate", [8000, 22050, 44100])
def test_other_rates_are_resampled_to_16k_keeping_pitch_and_duration(tmp_path, rate):
    path = tmp_path / f"tone{rate}.wav"
    sf.write(path, _tone(1000.0, 0.5, rate), rate)
    samples = read_audio(path)
    assert len(samples) == pytest.approx(8000, abs=1)
    assert _peak_hz(samples) == pytest.approx(1000.0, abs=4.0)


def test_stereo_is_averaged_to_mono(tmp_path):
    left, right = _tone(440, 0.2, 16000), _tone(880, 0.2, 16000)
    sf.write(tmp_path / "stereo.flac", np.stack([left, right], 1), 16000)
    samples = read_audio(tmp_path / "stereo.flac")
    assert np.allclose(samples, (left + right) / 2, atol=1e-4)  # 16-bit FLAC rounding


def test_bad_files_are_errors_that_name_them(tmp_path):
    text = tmp_path / "notes.wav"
    text.write_text("not audio at all")
    with pytest.raises(AudioError, match=r"notes\.wav: not an audio file"):
        read_audio(text)
    with pytest.raises(AudioError, match="no such file"):
        read_audio(tmp_path / "missing.wav")
    sf.write(tmp_path / "empty.wav", np.zeros(0, np.float32), 16000)
    with pytest.raises(AudioError, match="empty"):
        read_audio(tmp_path / "empty.wav")
    sf.write(tmp_path / "short.wav", np.zeros(160, np.float32), 16000)  # 10 ms
    with pytest.raises(AudioError, match="10 ms of audio is shorter than one 25 ms"):
        read_audio(tmp_path / "short.wav")
    sf.write(tmp_path / "long.wav", np.zeros(16000 * 3, np.float32), 16000)
    with pytest.raises(AudioError, match=r"3\.0 s of audio is longer than the limit of 2 s"):
        read_audio(tmp_path / "long.wav", max_seconds=2)


def test_clipped_audio_warns_and_is_still_read():
    x = np.clip(_tone(300, 0.5, 16000) * 4, -1, 1)
    with pytest.warns(ClippedAudioWarning, match="clipped"):
        out = to_mono_16k(x, 16000)
    assert np.array_equal(out, x)


def test_raw_pcm_and_integer_samples_are_scaled():
    pcm = (np.array([0, 16384, -8192, 32767] + [0] * 796, dtype="<i2")).tobytes()
    samples = read_raw_pcm(pcm)
    assert samples[:4].tolist() == pytest.approx([0.0, 0.5, -0.25, 32767 / 32768])
    with pytest.raises(AudioError, match="NaN"):
        to_mono_16k(np.full(800, np.nan), 16000)


def test_utterance_normalisation_gives_zero_mean_unit_variance():
    x = torch.randn(200, 8) * 3 + 5
    y = normalize_utterance(x)
    assert torch.allclose(y.mean(0), torch.zeros(8), atol=1e-5)
    assert torch.allclose(y.std(0, unbiased=False), torch.ones(8), atol=1e-3)


def test_running_normalisation_is_causal_and_chunkable():
    torch.manual_seed(0)
    x = torch.randn(50, 4) * 2 + 1
    mean0, var0 = torch.zeros(4), torch.ones(4)
    whole, _ = normalize_running(x, mean0, var0, prior_frames=10)
    # frame 0: mean = (10 * 0 + x0) / 11, second moment = (10 * 1 + x0^2) / 11
    m = x[0] / 11
    s = torch.sqrt((10 + x[0] ** 2) / 11 - m ** 2)
    assert torch.allclose(whole[0], (x[0] - m) / (s + 1e-5), atol=1e-5)
    state, parts = None, []
    for chunk in x.split(7):
        out, state = normalize_running(chunk, mean0, var0, prior_frames=10, start=state)
        parts.append(out)
    assert torch.allclose(torch.cat(parts), whole, atol=1e-6)
    changed = x.clone()
    changed[30:] += 100  # later frames never change earlier outputs
    assert torch.allclose(normalize_running(changed, mean0, var0, prior_frames=10)[0][:30], whole[:30])


def test_spec_augment_masks_bands_and_spans_within_each_length():
    features = torch.ones(3, 100, 40)
    lengths = torch.tensor([100, 60, 30])
    out = spec_augment(features, lengths, freq_masks=1, freq_width=5, time_masks=1, time_width=10,
                       generator=torch.Generator().manual_seed(0))
    assert torch.equal(features, torch.ones(3, 100, 40))  # a copy
    for b in range(3):
        zero_bands = (out[b].sum(0) == 0).sum().item()
        zero_frames = (out[b].sum(1) == 0).nonzero().flatten()
        assert zero_bands <= 5 and len(zero_frames) <= min(10, lengths[b].item() // 5)
        if len(zero_frames):
            assert zero_frames.max() < lengths[b]
    assert (out == 0).any()
