"""Waveform augmentation: each transform does what it says, measured on tones and noise."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("scipy")

from rnnkit.data.audio_augment import (
    WaveAugment,
    add_noise,
    band_limit,
    coloured_noise,
    gain_and_clip,
    hum,
    reverberate,
    room_impulse_response,
    speed_perturb,
)


def _tone(hz: float, seconds: float = 0.5) -> np.ndarray:
    return (0.5 * np.sin(2 * np.pi * hz * np.arange(int(16000 * seconds)) / 16000)).astype(np.float32)


def _peak_hz(x: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.fft.rfftfreq(len(x), 1 / 16000)[np.argmax(spectrum)])


def _power(x: np.ndarray) -> float:
    return float(np.mean(np.asarray(x, np.float64) ** 2))


@pytest.mark.parametrize("factor", [0.9, 1.1, 1.25])
def test_speed_perturbation_scales_duration_and_pitch(factor):
    out = speed_perturb(_tone(1000.0), factor)
    assert len(out) == pytest.approx(8000 / factor, abs=1)
    assert _peak_hz(out) == pytest.approx(1000.0 * factor, rel=0.01)
    assert speed_perturb(_tone(1000.0), 1.0).tolist() == _tone(1000.0).tolist()
    with pytest.raises(ValueError, match="factor: expected a speed factor in"):
        speed_perturb(_tone(1000.0), 3.0)


def test_band_limits_keep_speech_band_and_cut_the_edges():
    rng = np.random.default_rng(0)
    for _ in range(6):  # every kind passes 1 kHz, and every kind cuts 7.8 kHz (low-pass <= 7 kHz)
        state = rng.bit_generator.state
        kept = band_limit(_tone(1000.0), rng)
        rng.bit_generator.state = state
        cut = band_limit(_tone(7800.0), rng)
        assert _power(kept[2000:]) > 0.5 * _power(_tone(1000.0))
        assert _power(cut[2000:]) < 0.1 * _power(_tone(7800.0))


def test_room_response_decays_and_reverberation_keeps_length_and_peak():
    rng = np.random.default_rng(1)
    response = room_impulse_response(rng, rt60=0.4)
    assert len(response) == 6400 and response[0] == 1.0
    assert _power(response[5000:]) < 0.01 * _power(response[1:800])  # -60 dB over 0.4 s
    x = _tone(500.0)
    out = reverberate(x, rng)
    assert len(out) == len(x) and np.max(np.abs(out)) == pytest.approx(np.max(np.abs(x)), rel=1e-4)
    assert not np.allclose(out, x)
    with pytest.raises(ValueError, match="rt60"):
        room_impulse_response(rng, rt60=0.0)


@pytest.mark.parametrize("snr", [0.0, 10.0, 25.0])
def test_noise_is_added_at_the_requested_snr(snr):
    rng = np.random.default_rng(2)
    x = _tone(300.0)
    for noise in (coloured_noise(len(x), "pink", rng), hum(100, rng)):  # hum is tiled to the length
        y = add_noise(x, noise, snr)
        assert 10 * np.log10(_power(x) / _power(y - x)) == pytest.approx(snr, abs=1e-3)
    with pytest.raises(ValueError, match="colour"):
        coloured_noise(10, "purple", rng)


def test_coloured_noise_has_its_spectral_slope():
    rng = np.random.default_rng(3)
    for colour, slope in (("white", 0.0), ("pink", -1.0), ("brown", -2.0)):
        spectrum = np.abs(np.fft.rfft(coloured_noise(2 ** 16, colour, rng))) ** 2
        f = np.fft.rfftfreq(2 ** 16)
        low, high = spectrum[(f > 0.01) & (f < 0.02)].mean(), spectrum[(f > 0.2) & (f < 0.4)].mean()
        measured = np.log10(high / low) / np.log10(0.3 / 0.015)  # power ~ f ** slope
        assert measured == pytest.approx(slope, abs=0.15)


def test_hum_is_mains_frequency():
    assert _peak_hz(hum(16000, np.random.default_rng(4))) in (50.0, 60.0)


def test_gain_and_clipping():
    rng = np.random.default_rng(5)
    peaks = [np.max(np.abs(gain_and_clip(_tone(200.0), rng, clip_probability=0.0))) for _ in range(20)]
    assert 0.05 <= min(peaks) and max(peaks) <= 0.95
    clipped = gain_and_clip(_tone(200.0), rng, clip_probability=1.0)
    assert np.max(np.abs(clipped)) == 1.0 and np.mean(np.abs(clipped) == 1.0) > 0.1


def test_wave_augment_is_reproducible_and_varies_between_draws():
    x = _tone(440.0, 1.0)
    babble = [_tone(700.0, 0.3), _tone(900.0, 0.7)]
    a, b = np.random.default_rng(6), np.random.default_rng(6)
    first, again = WaveAugment(babble=babble)(x, a), WaveAugment(babble=babble)(x, b)
    assert np.array_equal(first, again)
    second = WaveAugment(babble=babble)(x, a)
    assert not (len(first) == len(second) and np.allclose(first, second))
    assert first.dtype == np.float32 and np.max(np.abs(first)) <= 1.0
    plain = WaveAugment(speed=None, band_probability=0, reverb_probability=0, noise_probability=0,
                        clip_probability=0)(x, a)
    assert np.allclose(plain / np.max(np.abs(plain)), x / np.max(np.abs(x)), atol=1e-6)  # gain only
