"""Audio in, features out: reading WAV/FLAC/raw PCM, resampling to 16 kHz, log-mel features,
normalisation and SpecAugment.

Reading goes through ``soundfile`` (libsndfile; the ``speech`` extra). Every reader returns a
float32 mono waveform at :data:`SAMPLE_RATE` (16 kHz):

- several channels are averaged (mono downmix);
- another sample rate is converted with a polyphase filter (``scipy.signal.resample_poly``: the
  rate ratio reduced to ``up / down``, a Kaiser-windowed FIR low-pass with beta 5.0 at the lower
  Nyquist frequency), so 8 kHz, 22.05 kHz (espeak-ng) and 44.1 kHz audio all arrive at 16 kHz;
- a clip with more than 1 % of its samples at full scale gets a :class:`ClippedAudioWarning` (it
  is transcribed anyway);
- a file that libsndfile cannot read, audio shorter than one analysis window (25 ms) and audio
  longer than ``max_seconds`` are errors (:class:`AudioError`) naming the file and the limit.

Features are log-mel filterbanks computed with ``torch.stft`` (Hann window of 25 ms, hop 10 ms,
no centre padding, so a stream of samples yields exactly the frames of the whole file) and a
triangular mel filterbank on the HTK mel scale ``mel(f) = 2595 log10(1 + f / 700)``.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from rnnkit.optional import require

#: The sample rate every reader returns and every feature assumes.
SAMPLE_RATE = 16_000
#: Analysis window and hop of the features, in samples at 16 kHz (25 ms and 10 ms).
WIN_LENGTH = 400
HOP_LENGTH = 160
N_FFT = 400


class AudioError(ValueError):
    """An audio file or array that cannot be used: unreadable, empty, too short or too long."""


class ClippedAudioWarning(UserWarning):
    """More than 1 % of the samples sit at full scale: the recording was clipped."""


def _soundfile():
    return require("soundfile", "speech")


def to_mono_16k(samples: np.ndarray, sample_rate: int, *, what: str = "audio",
                max_seconds: float | None = None) -> np.ndarray:
    """A float32 mono waveform at 16 kHz from any array and rate (see the module docstring).

    Args:
        samples: ``(N,)`` or ``(N, channels)`` samples, float in [-1, 1] or integer PCM.
        sample_rate: their rate in Hz.
        what: the name used in error messages (a path, ``"audio[2]"``).
        max_seconds: refuse longer audio (``None``: no limit).

    Returns:
        ``(M,)`` float32 samples at 16 kHz.

    Example:
        >>> to_mono_16k(np.zeros((44100, 2)), 44100).shape
        (16000,)
    """
    samples = np.asarray(samples)
    if not isinstance(sample_rate, (int, np.integer)) or sample_rate <= 0:
        raise AudioError(f"{what}: sample_rate must be a positive integer, got {sample_rate!r}")
    if samples.ndim not in (1, 2) or samples.size == 0:
        raise AudioError(f"{what}: expected (samples,) or (samples, channels) audio, got shape {samples.shape}"
                         + (" (empty audio)" if samples.size == 0 else ""))
    if np.issubdtype(samples.dtype, np.integer):
        scale = float(np.iinfo(samples.dtype).max) + 1.0
        samples = samples.astype(np.float64) / scale
    samples = samples.astype(np.float64)
    if not np.isfinite(samples).all():
        raise AudioError(f"{what}: the samples contain NaN or infinity")
    if samples.ndim == 2:
        samples = samples.mean(axis=1)  # mono downmix: the average of the channels
    seconds = len(samples) / sample_rate
    if max_seconds is not None and seconds > max_seconds:
        raise AudioError(f"{what}: {seconds:.1f} s of audio is longer than the limit of {max_seconds:g} s "
                         "(max_seconds); cut it into shorter pieces or raise the limit")
    if seconds < WIN_LENGTH / SAMPLE_RATE:
        raise AudioError(f"{what}: {1000 * seconds:.0f} ms of audio is shorter than one 25 ms analysis window")
    if np.mean(np.abs(samples) >= 0.999) > 0.01:
        warnings.warn(f"{what}: more than 1% of the samples are at full scale (clipped audio); "
                      "transcribing it anyway", ClippedAudioWarning, stacklevel=2)
    if sample_rate != SAMPLE_RATE:
        samples = resample(samples, sample_rate, SAMPLE_RATE)
    return samples.astype(np.float32)


def resample(samples: np.ndarray, source_rate: int, target_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Polyphase resampling (``scipy.signal.resample_poly`` with a Kaiser window, beta 5.0).

    Args:
        samples: ``(N,)`` samples.
        source_rate, target_rate: rates in Hz.

    Returns:
        ``(ceil(N * target_rate / source_rate),)`` samples.
    """
    signal = require("scipy.signal", "speech", package="scipy")
    ratio = Fraction(target_rate, source_rate)
    return signal.resample_poly(samples, ratio.numerator, ratio.denominator, window=("kaiser", 5.0))


def read_audio(source: str | Path | bytes, *, max_seconds: float | None = 600.0) -> np.ndarray:
    """Read a WAV/FLAC/OGG file (or its bytes) as float32 mono 16 kHz samples.

    Args:
        source: a path, or the file's bytes.
        max_seconds: refuse longer audio (default 10 minutes; ``None``: no limit).

    Returns:
        ``(N,)`` float32 samples at 16 kHz.

    Raises:
        AudioError: the file is missing, not audio libsndfile reads, empty, shorter than 25 ms or
            longer than ``max_seconds``.

    Example:
        >>> read_audio("/usr/share/pocketsphinx/test/data/cards/001.wav").shape  # doctest: +SKIP
        (17520,)
    """
    sf = _soundfile()
    what = "audio bytes" if isinstance(source, bytes) else str(source)
    if not isinstance(source, bytes) and not Path(source).is_file():
        raise AudioError(f"{what}: no such file")
    try:
        with sf.SoundFile(io.BytesIO(source) if isinstance(source, bytes) else str(source)) as handle:
            rate = handle.samplerate
            if max_seconds is not None and handle.frames > max_seconds * rate:
                raise AudioError(f"{what}: {handle.frames / rate:.1f} s of audio is longer than the limit of "
                                 f"{max_seconds:g} s (max_seconds); cut it into shorter pieces or raise the limit")
            samples = handle.read(dtype="float32", always_2d=True)
    except AudioError:
        raise
    except Exception as error:  # libsndfile's message says what it found ("Format not recognised")
        raise AudioError(f"{what}: not an audio file soundfile can read (WAV, FLAC, OGG): {error}") from None
    return to_mono_16k(samples, rate, what=what, max_seconds=max_seconds)


def read_raw_pcm(source: str | Path | bytes, *, sample_rate: int = SAMPLE_RATE,
                 max_seconds: float | None = 600.0) -> np.ndarray:
    """Headerless little-endian 16-bit mono PCM (pocketsphinx's ``.raw`` clips, ``arecord -t raw``).

    Args:
        source: a path or the bytes.
        sample_rate: the rate the samples were recorded at.
        max_seconds: refuse longer audio.

    Returns:
        ``(N,)`` float32 samples at 16 kHz.
    """
    what = "raw PCM bytes" if isinstance(source, bytes) else str(source)
    data = source if isinstance(source, bytes) else Path(source).read_bytes()
    if len(data) % 2:
        data = data[:-1]
    return to_mono_16k(np.frombuffer(data, dtype="<i2"), sample_rate, what=what, max_seconds=max_seconds)


# ------------------------------------------------------------------------------------- features
def hz_to_mel(frequency: np.ndarray | float) -> np.ndarray:
    """HTK mel scale: ``2595 * log10(1 + f / 700)``."""
    return 2595.0 * np.log10(1.0 + np.asarray(frequency, dtype=np.float64) / 700.0)


def mel_to_hz(mel: np.ndarray | float) -> np.ndarray:
    """Inverse of :func:`hz_to_mel`: ``700 * (10 ** (m / 2595) - 1)``."""
    return 700.0 * (10.0 ** (np.asarray(mel, dtype=np.float64) / 2595.0) - 1.0)


def mel_filterbank(n_mels: int, *, n_fft: int = N_FFT, sample_rate: int = SAMPLE_RATE,
                   f_min: float = 20.0, f_max: float | None = None) -> Tensor:
    """Triangular filters equally spaced on the HTK mel scale.

    Filter ``m`` rises linearly from 0 at centre ``m - 1`` to 1 at centre ``m`` and falls to 0 at
    centre ``m + 1``; the ``n_mels + 2`` centres are equally spaced in mel from ``f_min`` to
    ``f_max`` (default: half the sample rate). Weights are evaluated at the FFT bin frequencies.

    Args:
        n_mels: filters.
        n_fft: FFT size (``n_fft // 2 + 1`` bins).
        sample_rate: in Hz.
        f_min, f_max: the band in Hz.

    Returns:
        ``(n_fft // 2 + 1, n_mels)`` float32 weights.
    """
    if n_mels < 1:
        raise ValueError(f"n_mels: expected a positive integer, got {n_mels!r}")
    f_max = sample_rate / 2 if f_max is None else f_max
    bins = np.linspace(0.0, sample_rate / 2, n_fft // 2 + 1)
    centres = mel_to_hz(np.linspace(hz_to_mel(f_min), hz_to_mel(f_max), n_mels + 2))
    lower, centre, upper = centres[:-2, None], centres[1:-1, None], centres[2:, None]
    rising = (bins[None] - lower) / (centre - lower)
    falling = (upper - bins[None]) / (upper - centre)
    weights = np.clip(np.minimum(rising, falling), 0.0, None)
    return torch.from_numpy(weights.T.astype(np.float32))


def num_frames(num_samples: int) -> int:
    """Feature frames of ``num_samples`` samples: ``1 + (N - 400) // 160`` (0 when shorter)."""
    return 0 if num_samples < WIN_LENGTH else 1 + (num_samples - WIN_LENGTH) // HOP_LENGTH


@dataclass(frozen=True)
class LogMel:
    """Log-mel filterbank features of 16 kHz audio: ``(N,) samples -> (T, n_mels)``.

    ``log(max(mel_energy, 1e-6))`` of the power spectrum of Hann-windowed 25 ms frames every 10 ms
    (``n_fft = 400``, 201 bins), without centre padding, so frame ``t`` reads samples ``[160 t, 160 t + 400)``.

    Args:
        n_mels: mel bands.

    Example:
        >>> LogMel(40)(np.zeros(16000, dtype=np.float32)).shape
        torch.Size([98, 40])
    """

    n_mels: int = 40

    def __call__(self, samples: np.ndarray | Tensor) -> Tensor:
        x = torch.as_tensor(np.asarray(samples, dtype=np.float32)) if not isinstance(samples, Tensor) else samples
        if x.dim() != 1:
            raise ValueError(f"samples: expected a 1-D waveform, got shape {tuple(x.shape)}")
        if x.numel() < WIN_LENGTH:
            raise AudioError(f"samples: {x.numel()} samples is shorter than one {WIN_LENGTH}-sample window")
        spectrum = torch.stft(x.float(), N_FFT, hop_length=HOP_LENGTH, win_length=WIN_LENGTH,
                              window=_hann(), center=False, return_complex=True)  # (bins, T)
        power = spectrum.real.square() + spectrum.imag.square()
        return torch.log(torch.clamp(power.T @ _filterbank(self.n_mels), min=1e-6))


_CACHE: dict[object, Tensor] = {}


def _hann() -> Tensor:
    if "hann" not in _CACHE:
        _CACHE["hann"] = torch.hann_window(WIN_LENGTH, periodic=True)
    return _CACHE["hann"]


def _filterbank(n_mels: int) -> Tensor:
    if n_mels not in _CACHE:
        _CACHE[n_mels] = mel_filterbank(n_mels)
    return _CACHE[n_mels]


# -------------------------------------------------------------------------------- normalisation
def normalize_utterance(features: Tensor) -> Tensor:
    """Per-utterance mean and variance normalisation of ``(T, F)`` features (each band to mean 0, std 1)."""
    mean = features.mean(dim=0, keepdim=True)
    std = features.std(dim=0, unbiased=False, keepdim=True)
    return (features - mean) / (std + 1e-5)


def normalize_running(features: Tensor, prior_mean: Tensor, prior_var: Tensor, *, prior_frames: float = 100.0,
                      start: tuple[Tensor, Tensor, float] | None = None) -> tuple[Tensor, tuple[Tensor, Tensor, float]]:
    """Causal mean and variance normalisation: frame ``t`` uses the statistics of frames ``0..t``.

    The running mean is ``(prior_frames * prior_mean + sum_{s<=t} x_s) / (prior_frames + t + 1)``
    (likewise the second moment), so it starts at the prior (the training set's statistics) and
    moves to the speaker's as the utterance goes on. Streaming and offline give the same numbers:
    pass the returned ``state`` as ``start`` of the next chunk.

    Args:
        features: ``(T, F)``.
        prior_mean, prior_var: ``(F,)`` statistics of the training features.
        prior_frames: the prior's weight in frames.
        start: ``(sum, sum of squares, count)`` carried from earlier chunks.

    Returns:
        ``(normalised (T, F), state)``.
    """
    x = features.double()
    total, squares, count = start if start is not None else (
        torch.zeros(x.shape[1], dtype=torch.float64), torch.zeros(x.shape[1], dtype=torch.float64), 0.0)
    sums = total + torch.cumsum(x, dim=0)
    sq = squares + torch.cumsum(x * x, dim=0)
    n = count + torch.arange(1, x.shape[0] + 1, dtype=torch.float64).unsqueeze(1)
    mean0, var0 = prior_mean.double(), prior_var.double()
    mean = (prior_frames * mean0 + sums) / (prior_frames + n)
    second = (prior_frames * (var0 + mean0 * mean0) + sq) / (prior_frames + n)
    std = torch.sqrt(torch.clamp(second - mean * mean, min=1e-8))
    out = ((x - mean) / (std + 1e-5)).to(features.dtype)
    if x.shape[0] == 0:
        return out, (total, squares, count)
    return out, (sums[-1], sq[-1], count + x.shape[0])


# -------------------------------------------------------------------------------- SpecAugment
def spec_augment(features: Tensor, lengths: Tensor, *, freq_masks: int = 2, freq_width: int = 6,
                 time_masks: int = 2, time_width: int = 12, generator: torch.Generator | None = None) -> Tensor:
    """SpecAugment's masking (Park et al. 2019, section 2): zero random bands and time spans.

    Each utterance gets ``freq_masks`` bands of ``[0, freq_width]`` mel bins and ``time_masks``
    spans of ``[0, min(time_width, length // 5)]`` frames, set to 0 (the mean of normalised
    features). Time warping is left out (the paper found it the least useful).

    Args:
        features: ``(B, T, F)`` normalised features.
        lengths: ``(B,)`` valid frames.
        freq_masks, freq_width, time_masks, time_width: the masks.
        generator: random source (default: the global one).

    Returns:
        A masked copy.
    """
    out = features.clone()
    batch, _, bands = out.shape
    for b in range(batch):
        length = int(lengths[b])
        for _ in range(freq_masks):
            width = int(torch.randint(0, freq_width + 1, (1,), generator=generator))
            start = int(torch.randint(0, max(1, bands - width + 1), (1,), generator=generator))
            out[b, :, start:start + width] = 0.0
        limit = min(time_width, length // 5)
        for _ in range(time_masks):
            width = int(torch.randint(0, limit + 1, (1,), generator=generator))
            start = int(torch.randint(0, max(1, length - width + 1), (1,), generator=generator))
            out[b, start:start + width] = 0.0
    return out


# ------------------------------------------------------------------------------------ streaming
class StreamingLogMel:
    """Log-mel frames from audio arriving in chunks: the same frames :class:`LogMel` gives the whole.

    Example:
        >>> stream = StreamingLogMel(LogMel(40))
        >>> frames = [stream.push(chunk) for chunk in np.split(np.zeros(16000, np.float32), 4)]
        >>> sum(f.shape[0] for f in frames)
        98
    """

    def __init__(self, features: LogMel) -> None:
        self.features = features
        self.buffer = np.zeros(0, dtype=np.float32)

    def push(self, samples: np.ndarray) -> Tensor:
        """The new complete frames after appending ``samples`` (16 kHz float32)."""
        self.buffer = np.concatenate([self.buffer, np.asarray(samples, dtype=np.float32)])
        count = num_frames(len(self.buffer))
        if count == 0:
            return torch.zeros(0, self.features.n_mels)
        used = (count - 1) * HOP_LENGTH + WIN_LENGTH
        frames = self.features(self.buffer[:used])
        self.buffer = self.buffer[count * HOP_LENGTH:]
        return frames


def seconds(samples: np.ndarray) -> float:
    """Duration of 16 kHz samples in seconds."""
    return len(samples) / SAMPLE_RATE


__all__ = ["HOP_LENGTH", "SAMPLE_RATE", "WIN_LENGTH", "AudioError", "ClippedAudioWarning", "LogMel",
           "StreamingLogMel", "hz_to_mel", "mel_filterbank", "mel_to_hz", "normalize_running",
           "normalize_utterance", "num_frames", "read_audio", "read_raw_pcm", "resample", "seconds",
           "spec_augment", "to_mono_16k"]
