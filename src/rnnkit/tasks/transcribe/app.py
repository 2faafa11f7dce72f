"""``rnnkit transcribe``: speech recognition (CRNN + CTC) on the shared app contract.

Train = synthesise the built-in corpus with espeak-ng (cached) or read the user's
``path<TAB>transcript`` list, fit a :class:`SpeechRecognizer`; evaluate = CER/WER on the held-out
voices, then the real pocketsphinx-testdata recordings beside PocketSphinx; predict = transcribe
files, or stream one (``--stream FILE`` or ``--stream -`` for raw 16 kHz 16-bit PCM on stdin).
"""

from __future__ import annotations

import argparse
import random
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from rnnkit.tasks.framework.app import Application, Report, RunContext
from rnnkit.tasks.transcribe.config import TranscribeAppConfig


@dataclass
class TranscribeData:
    """The splits (lists of :class:`~rnnkit.tasks.transcribe.data.Utterance`) and what they are."""

    train: list
    val: list
    test: list
    real: list = field(default_factory=list)
    name: str = "synthetic"
    notes: list[str] = field(default_factory=list)


class TranscribeApp(Application):
    """Speech recognition trained on synthesised voices, checked on held-out voices and real speech."""

    name = "transcribe"
    serving = "rnnkit.tasks.transcribe.serving:TranscribeRequest"
    summary = "Speech recognition (CRNN + CTC, streaming) trained on espeak-ng speech, checked on real recordings."
    config_class = TranscribeAppConfig
    extra = "speech"

    def run_name(self, config: TranscribeAppConfig) -> str:
        return super().run_name(config) if config.data else "synthetic"

    def load_data(self, config: TranscribeAppConfig) -> TranscribeData:
        from rnnkit.tasks.transcribe import data as speech_data

        if config.data:
            items = speech_data.read_transcript_list(config.data)
            random.Random(config.seed).shuffle(items)
            n_test = max(1, len(items) // 10)
            n_val = len(items) // 10
            test, val, train = items[:n_test], items[n_test:n_test + n_val], items[n_test + n_val:]
            if not train:
                raise ValueError(f"--data: {config.data} has {len(items)} recordings; at least 2 are needed "
                                 "(one to train on, one to test)")
            for u, split in ((u, s) for s, part in (("train", train), ("val", val), ("test", test)) for u in part):
                u.split = split
            return TranscribeData(train, val, test, name=self.run_name(config),
                                  notes=[f"{config.data}: a seeded random split, 80/10/10 % (train/val/test)."])
        folder = speech_data.synthesise_corpus(config.train_utterances, config.val_utterances, config.test_utterances,
                                               seed=config.seed, progress=print if config.progress else None)
        utterances = speech_data.read_corpus(folder)
        by_split = {s: [u for u in utterances if u.split == s] for s in ("train", "val", "test")}
        notes = [f"Synthesised with espeak-ng ({len(utterances)} utterances, cached in {folder}); the test voices "
                 f"(variants {', '.join(speech_data.HELD_OUT_VARIANTS)} and accent {speech_data.HELD_OUT_ACCENT}) "
                 "never occur in training."]
        real = []
        if config.real_clips:
            try:
                real = speech_data.load_real_clips()
            except FileNotFoundError as error:
                notes.append(f"Real recordings skipped: {error}")
        if real:
            notes.append("Real recordings (pocketsphinx-testdata: 5 card-game clips, 1 digit clip, 5 LibriVox "
                         "sentences, ~45 s in all) are a real-world check, not a benchmark.")
        return TranscribeData(by_split["train"], by_split["val"], by_split["test"], real, notes=notes)

    def build(self, config: TranscribeAppConfig, data: TranscribeData) -> Any:
        from rnnkit.tasks.transcribe.estimator import SpeechRecognizer

        return SpeechRecognizer(
            n_mels=config.n_mels, channels=tuple(config.channels), cell=config.cell, hidden_size=config.hidden_size,
            num_layers=config.num_layers, bidirectional=config.bidirectional, dropout=config.dropout,
            spec_augment=config.spec_augment, augment=config.augment, lr_decay=config.lr_decay,
            batch_size=config.batch_size, max_steps=config.max_steps,
            max_seconds=None if config.max_minutes is None else 60.0 * config.max_minutes,
            lr=config.lr, decoder=config.decoder,
            beam_width=config.beam_width, lm_weight=config.lm_weight, word_bonus=config.word_bonus,
            seed=config.seed, progress=config.progress,
        )

    def fit(self, estimator: Any, data: TranscribeData, config: TranscribeAppConfig, context: RunContext) -> None:
        estimator.extra_callbacks = list(context.callbacks)
        estimator.fit([u.samples for u in data.train], [u.text for u in data.train],
                      val_audio=[u.samples for u in data.val], val_transcripts=[u.text for u in data.val])

    def evaluate(self, estimator: Any, data: TranscribeData, config: TranscribeAppConfig,
                 context: RunContext) -> Report:
        from rnnkit.tasks.transcribe.scoring import score_real_clips, score_test_set, streaming_speed

        decoders = ["greedy"] if config.decoder == "greedy" else ["beam", "greedy"]
        metrics: dict[str, dict[str, float]] = {}
        transcripts: dict[str, list[str]] = {}
        kind = "bidirectional" if config.bidirectional else "streaming"
        for decoder in decoders:
            label = f"rnnkit CRNN-CTC {kind} ({'beam + words + bigram' if decoder == 'beam' else 'greedy'})"
            row, _ = score_test_set(estimator, data.test, decoder)
            if data.real:
                real_row, real_hyps = score_real_clips(estimator.transcribe([u.samples for u in data.real],
                                                                            decoder=decoder), data.real)
                row.update(real_row)
                transcripts[label] = real_hyps
            metrics[label] = row
        first = next(iter(metrics))
        metrics[first]["train seconds"] = estimator.fit_seconds_
        metrics[first]["train CPU seconds"] = estimator.fit_cpu_seconds_
        if not config.bidirectional:
            metrics[first].update(streaming_speed(estimator, data.test[:20]))
        notes = list(data.notes)
        if data.real and config.peer:
            try:
                from rnnkit.tasks.transcribe.peer import PocketSphinx, task_grammar

                default = PocketSphinx().transcribe([u.samples for u in data.real])
                metrics["pocketsphinx (default English LM)"], transcripts["pocketsphinx"] = score_real_clips(
                    default, data.real)
                small = [u for u in data.real if u.split in ("cards", "digits")]
                grammar = PocketSphinx(task_grammar()).transcribe([u.samples for u in small])
                metrics["pocketsphinx (card/digit grammar)"] = score_real_clips(grammar, small)[0]
            except ImportError as error:
                notes.append(f"PocketSphinx not run: {error}")
        notes.append("CER/WER in % (jiwer, corpus level). 'held-out' = synthetic test set, voices never seen in "
                     "training; 'real' = pocketsphinx-testdata recordings. RTF = compute time / audio time when "
                     "streaming 160 ms chunks.")
        sections = {}
        if data.real:
            rows = ["| clip | reference | " + " | ".join(transcripts) + " |", "|---|---|" + "---|" * len(transcripts)]
            for i, u in enumerate(data.real):
                rows.append(f"| {u.id[-12:]} | {u.text} | " + " | ".join(h[i] for h in transcripts.values()) + " |")
            sections["real recordings"] = "\n".join(rows)
        return Report(metrics, primary="held-out CER %", higher_is_better=False, sections=sections, notes=notes,
                      extra={"skipped_training_utterances": estimator.skipped_})


    def add_predict_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("audio", nargs="*", help="WAV/FLAC files to transcribe")
        parser.add_argument("--stream", metavar="FILE", help="stream one file (or - : raw 16 kHz 16-bit mono PCM on "
                                                             "stdin) in chunks, printing partial transcripts")
        parser.add_argument("--chunk-ms", type=int, default=160, help="chunk length when streaming (default 160)")
        parser.add_argument("--decoder", choices=("greedy", "beam"), help="override the model's decoder")

    def predict(self, estimator: Any, args: argparse.Namespace) -> int:
        from rnnkit.data.audio import AudioError

        if args.stream:
            if estimator.config.bidirectional or estimator.config.norm_mode() != "running":
                from rnnkit.tasks.framework.cli import CLIError

                raise CLIError(f"--stream: {args.model} holds a bidirectional (or per-utterance normalised) model, "
                               "which needs the whole utterance; train with --bidirectional false to stream")
            if args.chunk_ms < 10:
                raise AudioError(f"--chunk-ms: expected at least 10 ms, got {args.chunk_ms}")
            last = None
            for update in estimator.stream(_chunks(args.stream, args.chunk_ms)):
                if update.final:
                    print(update.text)
                elif update.text != last:
                    print(f"... {update.text}", file=sys.stderr)
                last = update.text
            return 0
        if not args.audio:
            raise AudioError("rnnkit transcribe predict: give audio files (or --stream FILE)")
        for path, text in zip(args.audio, estimator.transcribe(list(args.audio), decoder=args.decoder), strict=True):
            print(f"{path}\t{text}")
        return 0


def _chunks(source: str, chunk_ms: int) -> Iterator[Any]:
    """16 kHz float32 chunks of a file, or of raw 16-bit PCM read from stdin (``-``)."""
    import numpy as np

    from rnnkit.data.audio import SAMPLE_RATE, read_audio

    size = SAMPLE_RATE * chunk_ms // 1000
    if source == "-":
        while True:
            data = sys.stdin.buffer.read(2 * size)
            if not data:
                return
            yield np.frombuffer(data[: len(data) // 2 * 2], dtype="<i2").astype(np.float32) / 32768.0
    samples = read_audio(source)
    for start in range(0, len(samples), size):
        yield samples[start:start + size]


APP = TranscribeApp()
