"""``SpeechRecognizer``: a CRNN + CTC speech recogniser in the estimator style (fit / transcribe /
stream / evaluate / save / load)."""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from rnnkit.data.audio import (
    SAMPLE_RATE,
    AudioError,
    LogMel,
    StreamingLogMel,
    normalize_running,
    normalize_utterance,
    read_audio,
    spec_augment,
    to_mono_16k,
)
from rnnkit.data.audio_augment import WaveAugment
from rnnkit.data.characters import CharacterAlphabet, normalize_transcript
from rnnkit.models.ctc import CTCRecognizerNet, ctc_frames_needed
from rnnkit.models.ctc_decoding import WordNgramLM, collapse, greedy_decode, prefix_beam_search
from rnnkit.serialization import load_state_dict_checked
from rnnkit.tasks.framework.estimator import Estimator
from rnnkit.training.callbacks import KeepBest, TimeBudget

AudioInput = str | Path | np.ndarray | tuple[np.ndarray, int]


@dataclass
class SpeechRecognizerConfig:
    """Every setting of a :class:`SpeechRecognizer` (saved with the model)."""

    n_mels: int = 40
    channels: tuple[int, ...] = (16, 32)
    cell: str = "gru"
    hidden_size: int = 96
    num_layers: int = 2
    bidirectional: bool = False
    dropout: float = 0.1
    normalization: str = "auto"
    spec_augment: bool = True
    augment: bool = False
    batch_size: int = 8
    max_steps: int = 6000
    max_seconds: float | None = None
    lr: float = 3e-3
    lr_decay: bool = True
    decoder: str = "greedy"
    beam_width: int = 16
    lexicon: bool = True
    language_model: bool = True
    lm_weight: float = 0.8
    word_bonus: float = 1.0
    max_audio_seconds: float = 60.0
    seed: int = 0
    progress: bool = False
    trainer_options: dict = field(default_factory=dict)

    def norm_mode(self) -> str:
        """``"utterance"`` for bidirectional models, ``"running"`` (causal, streamable) otherwise, unless set."""
        if self.normalization != "auto":
            return self.normalization
        return "utterance" if self.bidirectional else "running"


@dataclass
class StreamUpdate:
    """One step of :meth:`SpeechRecognizer.stream`: the transcript so far and the chunk's cost."""

    text: str
    final: bool
    chunk_seconds: float  # audio in the chunk
    compute_seconds: float  # time spent on it


class _Utterances(torch.utils.data.Dataset):
    def __init__(self, features: list[Tensor], labels: list[list[int]]) -> None:
        self.features, self.labels = features, labels

    def __len__(self) -> int:
        return len(self.features)

    def __getitem__(self, i: int) -> tuple[Tensor, list[int]]:
        return self.features[i], self.labels[i]


class _AugmentedUtterances(torch.utils.data.Dataset):
    """Training utterances as waveforms: each draw is a new :class:`WaveAugment` version of one,
    turned into normalised features."""

    def __init__(self, waves: list[np.ndarray], labels: list[list[int]], featurize, seed: int) -> None:
        rng = np.random.default_rng(seed)
        babble = [waves[int(i)] for i in rng.choice(len(waves), size=min(50, len(waves)), replace=False)]
        self.waves, self.labels, self.featurize = waves, labels, featurize
        self.augment, self.rng = WaveAugment(babble=babble), rng

    def __len__(self) -> int:
        return len(self.waves)

    def __getitem__(self, i: int) -> tuple[Tensor, list[int]]:
        wave = self.augment(self.waves[i], self.rng)
        if len(wave) < 400:  # sped up below one analysis window: keep the original
            wave = self.waves[i]
        return self.featurize(wave), self.labels[i]


class _BudgetDecay:
    """Trainer callback: cosine decay of the learning rate over a time budget, from ``lr`` to
    ``lr * floor`` (a time budget leaves the step count unknown, so a step schedule cannot be used)."""

    def __init__(self, budget: TimeBudget, lr: float, floor: float = 0.05) -> None:
        self.budget, self.lr, self.floor = budget, lr, floor

    def factor(self) -> float:
        """The learning-rate multiplier for the share of the budget spent so far."""
        spent = min(1.0, (time.perf_counter() - self.budget.start) / max(self.budget.seconds or 1.0, 1e-9))
        return self.floor + (1.0 - self.floor) * 0.5 * (1.0 + math.cos(math.pi * spent))

    def on_step_end(self, trainer, step: int, row: dict) -> None:
        for group in trainer.optimizer.param_groups:
            group["lr"] = self.lr * self.factor()


def collate(items: Sequence[tuple[Tensor, list[int]]], *, augment: bool = False) -> dict[str, Tensor]:
    """Pad features ``(B, T, F)`` and targets ``(B, S)`` (label 0 past each end), with their lengths."""
    lengths = torch.tensor([f.shape[0] for f, _ in items])
    features = torch.zeros(len(items), int(lengths.max()), items[0][0].shape[1])
    for i, (f, _) in enumerate(items):
        features[i, : f.shape[0]] = f
    if augment:
        features = spec_augment(features, lengths)
    target_lengths = torch.tensor([len(labels) for _, labels in items])
    targets = torch.zeros(len(items), max(int(target_lengths.max()), 1), dtype=torch.long)
    for i, (_, labels) in enumerate(items):
        targets[i, : len(labels)] = torch.tensor(labels, dtype=torch.long)
    return {"features": features, "lengths": lengths, "targets": targets, "target_lengths": target_lengths}


class _Budgeted:
    """The training batches, ending the epoch early once the time budget is spent (the Trainer
    stops at an epoch's end, and one epoch can take many minutes on a loaded CPU)."""

    def __init__(self, loader: torch.utils.data.DataLoader, budget: TimeBudget) -> None:
        self.loader, self.budget = loader, budget

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self) -> Iterator[dict[str, Tensor]]:
        for batch in self.loader:
            if self.budget.expired():
                return
            yield batch


class SpeechRecognizer(Estimator):
    """Character-level speech recognition: log-mel -> ``Conv2dFrontEnd`` -> recurrent stack -> CTC.

    Args:
        n_mels: log-mel bands.
        channels: convolution blocks of the front end (each halves time and frequency).
        cell, hidden_size, num_layers, dropout: the recurrent stack (any rnnkit cell).
        bidirectional: read both directions (offline only) or forward only (streams, see :meth:`stream`).
        normalization: ``"utterance"`` (mean/variance of the whole utterance), ``"running"`` (causal,
            from the training set's statistics towards the utterance's) or ``"auto"`` (utterance for
            bidirectional models, running otherwise).
        spec_augment: mask bands and time spans of training batches.
        augment: a new random waveform version of each training utterance at every draw (speed,
            band limits, reverberation, noise/hum/babble, gain and clipping:
            :class:`rnnkit.data.audio_augment.WaveAugment`).
        lr_decay: under a time budget (``max_seconds``), decay the learning rate along a cosine
            over the budget to 5 %; without one, training uses a one-cycle schedule over ``max_steps``.
        batch_size, max_steps, lr: training; ``max_seconds`` ends training at the first epoch
            boundary after that many seconds.
        decoder: ``"greedy"`` or ``"beam"`` (prefix beam search with ``beam_width``, and when
            ``lexicon`` / ``language_model``, the training transcripts' words and a word bigram
            model weighted by ``lm_weight`` with ``word_bonus`` per word).
        max_audio_seconds: refuse longer inputs.
        seed, progress: random seed; progress bar.

    Example:
        >>> model = SpeechRecognizer(hidden_size=64, max_steps=300)  # doctest: +SKIP
        >>> model.fit(["one.wav", "two.wav"], ["one", "two"]).transcribe(["three.wav"])  # doctest: +SKIP
        ['three']
    """

    app_name = "transcribe"

    def __init__(self, **options) -> None:
        unknown = set(options) - set(SpeechRecognizerConfig.__dataclass_fields__)
        if unknown:
            raise TypeError(f"SpeechRecognizer: unknown option(s) {sorted(unknown)}")
        if "channels" in options:
            options["channels"] = tuple(options["channels"])
        self.config = SpeechRecognizerConfig(**options)
        cfg = self.config
        if cfg.decoder not in ("greedy", "beam"):
            raise ValueError(f"decoder: expected 'greedy' or 'beam', got {cfg.decoder!r}")
        if cfg.normalization not in ("auto", "utterance", "running"):
            raise ValueError(f"normalization: expected 'auto', 'utterance' or 'running', got {cfg.normalization!r}")
        self.alphabet = CharacterAlphabet()
        self.features = LogMel(cfg.n_mels)
        self.network: CTCRecognizerNet | None = None
        self.mean_: Tensor = torch.zeros(cfg.n_mels)
        self.var_: Tensor = torch.ones(cfg.n_mels)
        self.words_: list[str] = []
        self.lm_: WordNgramLM | None = None
        self.training_log_: list[dict] = []
        self.fit_seconds_ = 0.0
        self.fit_cpu_seconds_ = 0.0
        self.skipped_: int = 0
        #: Trainer callbacks added to every fit (the tuner's pruning callback, for example).
        self.extra_callbacks: list = []

    # ---------------------------------------------------------------- audio -> features
    def _samples(self, audio: AudioInput, what: str) -> np.ndarray:
        limit = self.config.max_audio_seconds
        if isinstance(audio, (str, Path)):
            return read_audio(audio, max_seconds=limit)
        if isinstance(audio, tuple):
            samples, rate = audio
            return to_mono_16k(samples, rate, what=what, max_seconds=limit)
        if isinstance(audio, np.ndarray):
            return to_mono_16k(audio, SAMPLE_RATE, what=what, max_seconds=limit)
        raise AudioError(f"{what}: expected a path, a 16 kHz array or (array, sample_rate), got {type(audio).__name__}")

    def _raw_features(self, audio: AudioInput, what: str) -> Tensor:
        return self.features(self._samples(audio, what))

    def _normalize(self, raw: Tensor) -> Tensor:
        if self.config.norm_mode() == "utterance":
            return normalize_utterance(raw)
        return normalize_running(raw, self.mean_, self.var_)[0]

    # ------------------------------------------------------------------------------ fit
    def fit(self, audio: Sequence[AudioInput], transcripts: Sequence[str], *,
            val_audio: Sequence[AudioInput] | None = None, val_transcripts: Sequence[str] | None = None
            ) -> SpeechRecognizer:
        """Train on recordings and their transcripts.

        Args:
            audio: paths (WAV/FLAC/...), 16 kHz float arrays, or ``(array, sample_rate)`` pairs.
            transcripts: one per recording, normalised as :mod:`rnnkit.data.characters` documents.
            val_audio, val_transcripts: held-out data for choosing the best epoch (default: none).

        Returns:
            ``self``, fitted.
        """
        cfg = self.config
        if len(audio) != len(transcripts) or not len(audio):
            raise ValueError(f"transcripts: expected one per recording ({len(audio)}), got {len(transcripts)}")
        torch.manual_seed(cfg.seed)
        raw = [self._raw_features(a, f"audio[{i}]") for i, a in enumerate(audio)]
        labels = [self.alphabet.encode(t, what=f"transcripts[{i}]") for i, t in enumerate(transcripts)]
        stacked = torch.cat(raw)
        self.mean_, self.var_ = stacked.mean(0), stacked.var(0, unbiased=False)
        self.network = CTCRecognizerNet(cfg.n_mels, len(self.alphabet), channels=cfg.channels, cell=cfg.cell,
                                        hidden_size=cfg.hidden_size, num_layers=cfg.num_layers,
                                        bidirectional=cfg.bidirectional, dropout=cfg.dropout)
        train = self._dataset(raw, labels)
        self.skipped_ = len(raw) - len(train)
        if cfg.augment:
            kept = [i for i, (f, y) in enumerate(zip(raw, labels, strict=True)) if self._feasible(f, y)]
            train = _AugmentedUtterances([self._samples(audio[i], f"audio[{i}]") for i in kept],
                                         [labels[i] for i in kept],
                                         lambda wave: self._normalize(self.features(wave)), cfg.seed)
        if len(train) == 0:
            raise ValueError("transcripts: every transcript is longer than its audio allows (CTC needs at least one "
                             "output frame per character, a frame per 40 ms with two front-end blocks)")
        val = None
        if val_audio is not None and len(val_audio):
            val_raw = [self._raw_features(a, f"val_audio[{i}]") for i, a in enumerate(val_audio)]
            val_labels = [self.alphabet.encode(t, what=f"val_transcripts[{i}]") for i, t in
                          enumerate(val_transcripts or [])]
            val = self._dataset(val_raw, val_labels)
        words = sorted({w for t in transcripts for w in normalize_transcript(t).split()})
        self.words_ = words
        self.lm_ = WordNgramLM([normalize_transcript(t) for t in transcripts], order=2)
        start, cpu = time.perf_counter(), time.process_time()
        self._train(train, val)
        self.fit_seconds_, self.fit_cpu_seconds_ = time.perf_counter() - start, time.process_time() - cpu
        return self

    def _feasible(self, raw: Tensor, labels: list[int]) -> bool:
        return bool(labels) and ctc_frames_needed(labels) <= int(
            self.network.output_lengths(torch.tensor([raw.shape[0]]))[0])

    def _dataset(self, raw: list[Tensor], labels: list[list[int]]) -> _Utterances:
        keep = [i for i, (f, y) in enumerate(zip(raw, labels, strict=True)) if self._feasible(f, y)]
        return _Utterances([self._normalize(raw[i]) for i in keep], [labels[i] for i in keep])

    def _train(self, train: torch.utils.data.Dataset, val: _Utterances | None) -> None:
        from rnnkit.training import Trainer

        cfg = self.config
        loader = torch.utils.data.DataLoader(train, batch_size=cfg.batch_size, shuffle=True,
                                             collate_fn=lambda items: collate(items, augment=cfg.spec_augment))
        val_loader = None if val is None else torch.utils.data.DataLoader(val, batch_size=32, collate_fn=collate)
        options = {"max_epochs": None, "max_steps": cfg.max_steps, "lr": cfg.lr, "optimizer": "adam",
                   # a time budget leaves the step count unknown, so no schedule that needs it
                   "scheduler": None if cfg.max_seconds else "one-cycle", "clip_grad_norm": 5.0,
                   "seed": cfg.seed, "device": "cpu", "progress_bar": cfg.progress, "plot": False,
                   **cfg.trainer_options}
        keeper = KeepBest("val_label_error_rate", module=self.network)
        budget = TimeBudget(cfg.max_seconds, within_epoch=True)
        batches = _Budgeted(loader, budget) if cfg.max_seconds is not None else loader
        callbacks = [keeper, budget, *self.extra_callbacks]
        if cfg.max_seconds and cfg.lr_decay:
            callbacks.append(_BudgetDecay(budget, cfg.lr))
        elif not cfg.lr_decay:
            options["scheduler"] = cfg.trainer_options.get("scheduler")
        result = Trainer(callbacks=callbacks, **options).fit(self.network, batches, val_loader)
        keeper.restore(self.network)
        self.network.eval()
        self.training_log_ = [{k: v for k, v in row.items() if isinstance(v, (int, float))} for row in result.history]

    # ------------------------------------------------------------------------ transcribe
    def _check_fitted(self) -> CTCRecognizerNet:
        if self.network is None:
            raise RuntimeError("SpeechRecognizer: call fit() (or rnnkit.load) before transcribing")
        return self.network

    @torch.no_grad()
    def log_probs(self, audio: Sequence[AudioInput], *, batch_size: int = 16) -> list[Tensor]:
        """Per-frame label log-probabilities ``(T', V)`` of each recording."""
        net = self._check_fitted().eval()
        feats = [self._normalize(self._raw_features(a, f"audio[{i}]")) for i, a in enumerate(audio)]
        order = sorted(range(len(feats)), key=lambda i: feats[i].shape[0])
        out: list[Tensor | None] = [None] * len(feats)
        for start in range(0, len(order), batch_size):
            chunk = order[start:start + batch_size]
            batch = collate([(feats[i], []) for i in chunk])
            log_probs, lengths = net(batch["features"], batch["lengths"])
            for row, i in enumerate(chunk):
                out[i] = log_probs[row, : lengths[row]]
        return out  # type: ignore[return-value]

    def decode(self, log_probs: Tensor, decoder: str | None = None) -> str:
        """The transcript of one utterance's log-probabilities (``decoder`` overrides the model's)."""
        cfg = self.config
        decoder = decoder or cfg.decoder
        if decoder == "greedy":
            return self.alphabet.decode(greedy_decode(log_probs)[0])
        if decoder != "beam":
            raise ValueError(f"decoder: expected 'greedy' or 'beam', got {decoder!r}")
        found = prefix_beam_search(log_probs, beam_width=cfg.beam_width, characters=self.alphabet.characters,
                                   lexicon=self.words_ if cfg.lexicon and self.words_ else None,
                                   lm=self.lm_ if cfg.language_model else None, alpha=cfg.lm_weight,
                                   beta=cfg.word_bonus)
        return self.alphabet.decode(found[0][0]) if found else ""

    def transcribe(self, audio: AudioInput | Sequence[AudioInput], *, decoder: str | None = None) -> list[str]:
        """Transcripts of recordings (paths, 16 kHz arrays or ``(array, rate)`` pairs).

        Returns:
            One string per recording (a single input gives a one-element list).
        """
        items = [audio] if isinstance(audio, (str, Path, np.ndarray, tuple)) else list(audio)
        return [self.decode(lp, decoder) for lp in self.log_probs(items)]

    def stream(self, chunks: Iterable[np.ndarray]) -> Iterator[StreamUpdate]:
        """Transcribe 16 kHz audio arriving in chunks; yields the greedy transcript after each chunk.

        The recurrent state, the feature frames and the running normalisation carry across chunks,
        so the final transcript equals ``transcribe(..., decoder="greedy")`` of the whole audio.
        Needs a unidirectional model with ``"running"`` normalisation.
        """
        net = self._check_fitted().eval()
        if self.config.norm_mode() != "running":
            raise ValueError("normalization: streaming needs 'running' normalisation (per-utterance statistics "
                             "need the whole utterance); this model uses 'utterance'")
        features, streamer = StreamingLogMel(self.features), net.streamer()
        norm_state, best, received = None, [], 0

        def step(log_probs: Tensor) -> None:
            best.extend(log_probs.argmax(-1).tolist())

        for chunk in chunks:
            tick = time.perf_counter()
            chunk = np.asarray(chunk, dtype=np.float32)
            received += len(chunk)
            if received > self.config.max_audio_seconds * SAMPLE_RATE:
                raise AudioError(f"stream: more than max_audio_seconds={self.config.max_audio_seconds:g} s of audio")
            frames = features.push(chunk)
            if frames.shape[0]:
                frames, norm_state = normalize_running(frames, self.mean_, self.var_, start=norm_state)
                step(streamer.push(frames))
            yield StreamUpdate(self.alphabet.decode(collapse(best)), False, len(chunk) / SAMPLE_RATE,
                               time.perf_counter() - tick)
        tick = time.perf_counter()
        if received < 400:
            raise AudioError(f"stream: {1000 * received / SAMPLE_RATE:.0f} ms of audio is shorter than one 25 ms "
                             "analysis window")
        step(streamer.finish())
        yield StreamUpdate(self.alphabet.decode(collapse(best)), True, 0.0, time.perf_counter() - tick)

    def evaluate(self, audio: Sequence[AudioInput], transcripts: Sequence[str], *,
                 decoder: str | None = None) -> dict[str, float]:
        """``{"wer": %, "cer": %}`` of this model on recordings with reference transcripts (jiwer)."""
        from rnnkit.metrics.speech import error_rates

        return error_rates(list(transcripts), self.transcribe(list(audio), decoder=decoder))

    # ----------------------------------------------------------------------- save / load
    def get_config(self) -> dict:
        config = asdict(self.config)
        config["channels"] = list(config["channels"])
        return config

    def json_state(self) -> dict:
        self._check_fitted()
        return {"alphabet": self.alphabet.to_json(), "mean": self.mean_.tolist(), "var": self.var_.tolist(),
                "words": self.words_, "lm": self.lm_.to_json() if self.lm_ is not None else None,
                "training_log": self.training_log_, "fit_seconds": self.fit_seconds_, "skipped": self.skipped_}

    def load_json_state(self, state: dict) -> None:
        cfg = self.config
        self.alphabet = CharacterAlphabet.from_json(state["alphabet"])
        self.mean_ = torch.tensor(state["mean"], dtype=torch.float32)
        self.var_ = torch.tensor(state["var"], dtype=torch.float32)
        self.words_ = list(state["words"])
        self.lm_ = WordNgramLM.from_json(state["lm"]) if state.get("lm") else None
        self.training_log_ = state.get("training_log", [])
        self.fit_seconds_ = state.get("fit_seconds", 0.0)
        self.skipped_ = state.get("skipped", 0)
        self.network = CTCRecognizerNet(cfg.n_mels, len(self.alphabet), channels=cfg.channels, cell=cfg.cell,
                                        hidden_size=cfg.hidden_size, num_layers=cfg.num_layers,
                                        bidirectional=cfg.bidirectional, dropout=cfg.dropout)

    def tensor_state(self) -> dict[str, Tensor]:
        return dict(self._check_fitted().state_dict())

    def load_tensor_state(self, tensors: dict[str, Tensor]) -> None:
        load_state_dict_checked(self.network, tensors, what="SpeechRecognizer network")
        self.network.eval()


__all__ = ["SpeechRecognizer", "SpeechRecognizerConfig", "StreamUpdate", "collate"]
