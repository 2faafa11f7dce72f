"""Waveform augmentation for training speech recognisers: a new random version of every training
utterance each time it is drawn, so a model trained on clean synthetic voices meets something
closer to real microphones and rooms.

Each transform takes and returns float32 16 kHz samples and draws from a ``numpy`` generator:

- :func:`speed_perturb`: resample by a factor (0.9-1.1), changing tempo and pitch together, as
  Kaldi's speed perturbation does (Ko et al. 2015, "Audio augmentation for speech recognition");
- :func:`band_limit`: a telephone band (300-3400 Hz), a random low-pass (2.5-7 kHz) or a random
  band-pass, as Butterworth filters (``scipy.signal``);
- :func:`reverberate`: convolution with a synthetic room impulse response (a direct path plus
  exponentially decaying noise with a random RT60, 0.1-0.7 s);
- :func:`add_noise`: white, pink or brown noise, mains hum (50/60 Hz and harmonics) or babble
  (other utterances, mixed quietly), at a random SNR;
- :func:`gain_and_clip`: a random gain and, sometimes, overdriving into hard clipping.

:class:`WaveAugment` chains them with a probability each.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from rnnkit.data.audio import SAMPLE_RATE
from rnnkit.optional import require


def _signal():
    return require("scipy.signal", "speech", package="scipy")


def speed_perturb(samples: np.ndarray, factor: float) -> np.ndarray:
    """Play ``samples`` ``factor`` times faster (``factor > 1`` shortens them and raises the pitch).

    Implemented as linear interpolation at the new sample times (cheap enough to run on every
    training draw; a polyphase filter with an arbitrary ratio costs ~50x more, and the aliasing
    of interpolation above ~7 kHz is immaterial for augmentation).

    Args:
        samples: ``(N,)`` float samples at 16 kHz.
        factor: speed factor, in ``[0.5, 2]``.

    Returns:
        About ``N / factor`` float32 samples.

    Example:
        >>> len(speed_perturb(np.zeros(16000, np.float32), 1.25))
        12800
    """
    if not 0.5 <= factor <= 2.0:
        raise ValueError(f"factor: expected a speed factor in [0.5, 2], got {factor!r}")
    x = np.asarray(samples, dtype=np.float32)
    if factor == 1.0:
        return x
    times = np.arange(0.0, len(x) - 1, factor)
    return np.interp(times, np.arange(len(x)), x).astype(np.float32)


def band_limit(samples: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A telephone band (300-3400 Hz), a low-pass at 2.5-7 kHz or a band-pass, chosen at random."""
    signal = _signal()
    kind = rng.integers(3)
    if kind == 0:
        sos = signal.butter(4, [300.0, 3400.0], btype="bandpass", fs=SAMPLE_RATE, output="sos")
    elif kind == 1:
        sos = signal.butter(4, float(rng.uniform(2500, 7000)), btype="lowpass", fs=SAMPLE_RATE, output="sos")
    else:
        band = [float(rng.uniform(50, 400)), float(rng.uniform(3000, 7500))]
        sos = signal.butter(2, band, btype="bandpass", fs=SAMPLE_RATE, output="sos")
    return signal.sosfilt(sos, samples).astype(np.float32)


def room_impulse_response(rng: np.random.Generator, *, rt60: float | None = None) -> np.ndarray:
    """A synthetic room impulse response: a direct path, then noise decaying by 60 dB over ``rt60`` s.

    Args:
        rng: random source.
        rt60: reverberation time in seconds (default: uniform in 0.1-0.7).

    Returns:
        ``(round(rt60 * 16000),)`` float32 samples, peak (the direct path) 1.
    """
    rt60 = float(rng.uniform(0.1, 0.7)) if rt60 is None else rt60
    if rt60 <= 0:
        raise ValueError(f"rt60: expected a positive reverberation time in seconds, got {rt60!r}")
    t = np.arange(max(2, int(rt60 * SAMPLE_RATE))) / SAMPLE_RATE
    response = rng.standard_normal(len(t)) * np.exp(-6.9 * t / rt60) * float(rng.uniform(0.05, 0.4))
    response[0] = 1.0
    return (response / np.max(np.abs(response))).astype(np.float32)


def reverberate(samples: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``samples`` convolved with :func:`room_impulse_response` (same length, same peak level)."""
    out = _signal().fftconvolve(samples, room_impulse_response(rng))[: len(samples)]
    return (out * (np.max(np.abs(samples)) / (np.max(np.abs(out)) + 1e-9))).astype(np.float32)


def coloured_noise(n: int, colour: str, rng: np.random.Generator) -> np.ndarray:
    """``n`` samples of ``"white"``, ``"pink"`` (1/f power) or ``"brown"`` (1/f^2 power) noise, unit power."""
    noise = rng.standard_normal(n)
    if colour != "white":
        if colour not in ("pink", "brown"):
            raise ValueError(f"colour: expected 'white', 'pink' or 'brown', got {colour!r}")
        spectrum = np.fft.rfft(noise)
        f = np.maximum(np.fft.rfftfreq(n), 1.0 / n)
        spectrum /= np.sqrt(f) if colour == "pink" else f
        noise = np.fft.irfft(spectrum, n=n)
    return (noise / (np.sqrt(np.mean(noise ** 2)) + 1e-12)).astype(np.float32)


def hum(n: int, rng: np.random.Generator) -> np.ndarray:
    """Mains hum: 50 or 60 Hz and a few decaying harmonics, unit power."""
    base = 50.0 if rng.random() < 0.5 else 60.0
    t = np.arange(n) / SAMPLE_RATE
    out = sum(rng.uniform(0.2, 1.0) / k * np.sin(2 * np.pi * base * k * t + rng.uniform(0, 2 * np.pi))
              for k in range(1, 6))
    return (out / (np.sqrt(np.mean(out ** 2)) + 1e-12)).astype(np.float32)


def add_noise(samples: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    """``samples + noise`` with the noise scaled to ``snr_db`` dB below the signal's power.

    Args:
        samples: ``(N,)`` speech.
        noise: ``(M,)`` noise, tiled or cut to ``N``.
        snr_db: signal-to-noise ratio in dB.

    Returns:
        ``(N,)`` float32.

    Example:
        >>> x = np.ones(100, np.float32); y = add_noise(x, -np.ones(100, np.float32), 20.0)
        >>> round(float(np.mean((y - x) ** 2)), 4)
        0.01
    """
    if len(noise) == 0:
        raise ValueError("noise: expected at least one sample, got an empty array")
    noise = np.resize(np.asarray(noise, dtype=np.float64), len(samples))
    power = float(np.mean(np.asarray(samples, dtype=np.float64) ** 2)) + 1e-12
    scale = np.sqrt(power / (float(np.mean(noise ** 2)) + 1e-12) / 10 ** (snr_db / 10))
    return (samples + scale * noise).astype(np.float32)


def gain_and_clip(samples: np.ndarray, rng: np.random.Generator, *, clip_probability: float = 0.2) -> np.ndarray:
    """A random peak level (0.05-0.95); with ``clip_probability``, overdriven 1.5-4x and hard-clipped at 1."""
    peak = float(np.max(np.abs(samples))) + 1e-9
    if rng.random() < clip_probability:
        out = samples / peak * float(rng.uniform(1.5, 4.0))
    else:
        out = samples / peak * float(rng.uniform(0.05, 0.95))
    return np.clip(out, -1.0, 1.0).astype(np.float32)


@dataclass
class WaveAugment:
    """A random chain of the transforms above, one new draw per call.

    Args:
        speed: ``(low, high)`` speed factors (uniform), or ``None`` for none.
        speed_probability, band_probability, reverb_probability, noise_probability: how often
            each transform is applied.
        snr_db: ``(low, high)`` of the noise's SNR.
        clip_probability: share of utterances overdriven into clipping (by :func:`gain_and_clip`,
            always applied last).
        babble: other waveforms to mix in as babble noise (drawn among the noise kinds when given).

    Example:
        >>> augment = WaveAugment()
        >>> out = augment(np.sin(np.arange(16000) / 5).astype(np.float32), np.random.default_rng(0))
        >>> out.dtype, bool(np.abs(out).max() <= 1)
        (dtype('float32'), True)
    """

    speed: tuple[float, float] | None = (0.9, 1.1)
    speed_probability: float = 0.8
    band_probability: float = 0.5
    reverb_probability: float = 0.4
    noise_probability: float = 0.8
    snr_db: tuple[float, float] = (0.0, 30.0)
    clip_probability: float = 0.1
    babble: Sequence[np.ndarray] = ()

    def __call__(self, samples: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        x = np.asarray(samples, dtype=np.float32)
        if self.speed is not None and rng.random() < self.speed_probability:
            x = speed_perturb(x, float(rng.uniform(*self.speed)))
        if rng.random() < self.band_probability:
            x = band_limit(x, rng)
        if rng.random() < self.reverb_probability:
            x = reverberate(x, rng)
        if rng.random() < self.noise_probability:
            kinds = ["white", "pink", "brown", "hum"] + (["babble"] if len(self.babble) else [])
            kind = kinds[int(rng.integers(len(kinds)))]
            if kind == "hum":
                noise = hum(len(x), rng)
            elif kind == "babble":
                noise = sum(np.roll(np.resize(self.babble[int(rng.integers(len(self.babble)))], len(x)),
                                    int(rng.integers(len(x)))) for _ in range(3))
            else:
                noise = coloured_noise(len(x), kind, rng)
            x = add_noise(x, noise, float(rng.uniform(*self.snr_db)))
        return gain_and_clip(x, rng, clip_probability=self.clip_probability)


__all__ = ["WaveAugment", "add_noise", "band_limit", "coloured_noise", "gain_and_clip", "hum", "reverberate",
           "room_impulse_response", "speed_perturb"]
