"""Benchmark of ``rnnkit transcribe``: rnnkit's CRNN-CTC (streaming and bidirectional) beside PocketSphinx.

On one synthesised corpus (espeak-ng, held-out voices for the test set) and the real
pocketsphinx-testdata clips, in one run per model (run the models in parallel processes and merge
their JSON with ``--table``)::

    python benchmarks/transcribe.py --models streaming --minutes 20 --json stream.json
    python benchmarks/transcribe.py --models bidirectional --minutes 20 --json bi.json
    python benchmarks/transcribe.py --models pocketsphinx --json peer.json
    python benchmarks/transcribe.py --table stream.json bi.json peer.json

Each model row: CER/WER on the held-out voices (all texts, and digit strings alone), WER on the
real card, digit and LibriVox clips, training seconds and steps, and for the streaming model the
real-time factor and latency per 160 ms chunk on one thread. PocketSphinx runs with its defaults
(general English LM) and with a card/digit grammar; on the synthetic test set only its first
``--peer-test`` utterances are decoded (it is slow here).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch


def corpus(args: argparse.Namespace):
    from rnnkit.tasks.transcribe import data

    folder = data.synthesise_corpus(args.train, args.val, args.test, seed=args.seed, progress=print)
    utterances = data.read_corpus(folder)
    split = {s: [u for u in utterances if u.split == s] for s in ("train", "val", "test")}
    if args.extra_voices:  # train and validate on more voices; the same held-out test set
        extra = data.read_corpus(data.synthesise_corpus(args.train, args.val, args.test, seed=args.seed,
                                                        progress=print, extra_voices=True))
        split["train"], split["val"] = ([u for u in extra if u.split == s] for s in ("train", "val"))
    return split["train"], split["val"], split["test"], data.load_real_clips()


def score_model(model, test, real) -> dict[str, dict[str, float]]:
    """``{decoder: row}`` for greedy and beam decoding: CER/WER on the held-out voices and WER on the
    real clips (also used by ``transcribe_rescore.py`` for saved models)."""
    from rnnkit.tasks.transcribe.scoring import score_real_clips, score_test_set

    rows = {}
    for decoder in ("greedy", "beam"):
        row, _ = score_test_set(model, test, decoder)
        row.update(score_real_clips(model.transcribe([u.samples for u in real], decoder=decoder), real)[0])
        rows[decoder] = row
    return rows


def run_model(kind: str, args: argparse.Namespace, train, val, test, real) -> dict:
    from rnnkit.tasks.transcribe.estimator import SpeechRecognizer
    from rnnkit.tasks.transcribe.scoring import streaming_speed

    model = SpeechRecognizer(bidirectional=kind == "bidirectional", hidden_size=args.hidden_size,
                             channels=tuple(args.channels), batch_size=args.batch_size, lr=args.lr,
                             max_steps=args.max_steps, max_seconds=60 * args.minutes if args.minutes else None,
                             augment=args.augment, lr_decay=args.lr_decay, normalization=args.normalization,
                             seed=args.seed)
    tag = f"rnnkit {kind}" + (f" [{args.tag}]" if args.tag else "")
    model.fit([u.samples for u in train], [u.text for u in train], val_audio=[u.samples for u in val],
              val_transcripts=[u.text for u in val])
    if args.save:
        model.save(Path(args.save) / kind)
    rows = {}
    for decoder, row in score_model(model, test, real).items():
        row["train seconds"] = model.fit_seconds_
        row["train steps"] = model.training_log_[-1]["step"] if model.training_log_ else 0
        row["train CPU seconds"] = model.fit_cpu_seconds_
        rows[f"{tag} ({decoder})"] = row
    if kind == "streaming" and model.config.norm_mode() == "running":
        torch.set_num_threads(1)
        rows[f"{tag} (greedy)"].update(streaming_speed(model, test[: args.speed_utterances]))
    hyps = model.transcribe([u.samples for u in real], decoder="beam")
    return {"rows": rows, "real": {f"{tag}:{u.id}": [u.text, h] for u, h in zip(real, hyps, strict=True)}}


def run_peer(args: argparse.Namespace, test, real) -> dict:
    from rnnkit.tasks.transcribe.peer import PocketSphinx, task_grammar
    from rnnkit.tasks.transcribe.scoring import score_real_clips, score_test_set

    class _Adapter:  # score_test_set calls .transcribe(audio, decoder=...)
        def __init__(self, peer):
            self.peer = peer

        def transcribe(self, audio, decoder=None):
            return self.peer.transcribe(audio)

    rows, sample = {}, test[: args.peer_test]
    default = PocketSphinx()
    start = time.perf_counter()
    row, _ = score_test_set(_Adapter(default), sample)
    seconds = time.perf_counter() - start
    row["RTF (offline)"] = seconds / sum(len(u.samples) / 16000 for u in sample)
    row.update(score_real_clips(default.transcribe([u.samples for u in real]), real)[0])
    rows[f"pocketsphinx default LM (synthetic: first {len(sample)})"] = row
    grammar = PocketSphinx(task_grammar())
    small = [u for u in sample if u.meta.get("kind") in ("digits", "cards")]
    row, _ = score_test_set(_Adapter(grammar), small)
    clips = [u for u in real if u.split in ("cards", "digits")]
    row.update(score_real_clips(grammar.transcribe([u.samples for u in clips]), clips)[0])
    rows[f"pocketsphinx card/digit grammar (synthetic: {len(small)} digit/card utts)"] = row
    return {"rows": rows}


def table(paths: list[str]) -> str:
    from rnnkit.bench import cpu_name
    from rnnkit.tasks.framework.app import format_metrics_markdown

    rows, meta = {}, []
    for path in paths:
        result = json.loads(Path(path).read_text())
        rows.update(result["rows"])
        meta.append(result.get("machine", ""))
    return f"Machine: {meta[0] or cpu_name()}\n\n" + format_metrics_markdown(rows)


def _bool(text: str) -> bool:
    if text.lower() not in ("true", "false", "1", "0", "yes", "no"):
        raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")
    return text.lower() in ("true", "1", "yes")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="streaming,bidirectional,pocketsphinx")
    parser.add_argument("--minutes", type=float, default=10.0,
                        help="training budget per model (0: none, train --max-steps steps)")
    parser.add_argument("--max-steps", type=int, default=100_000)
    parser.add_argument("--train", type=int, default=1500)
    parser.add_argument("--val", type=int, default=150)
    parser.add_argument("--test", type=int, default=300)
    parser.add_argument("--hidden-size", type=int, default=96)
    parser.add_argument("--channels", type=lambda s: [int(c) for c in s.split(",")], default=[16, 32])
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--augment", type=_bool, default=True, help="waveform augmentation in training")
    parser.add_argument("--lr-decay", type=_bool, default=True,
                        help="learning-rate schedule (cosine over a time budget, one-cycle over --max-steps)")
    parser.add_argument("--normalization", default="auto", choices=("auto", "utterance", "running"))
    parser.add_argument("--extra-voices", type=_bool, default=False,
                        help="train on espeak-ng's named voice variants too (the test voices stay the same)")
    parser.add_argument("--tag", default="", help="name of this recipe in the row labels")
    parser.add_argument("--threads", type=int, default=1, help="torch threads for training")
    parser.add_argument("--speed-utterances", type=int, default=30)
    parser.add_argument("--peer-test", type=int, default=60)
    parser.add_argument("--save", help="save the trained models under this folder")
    parser.add_argument("--json", help="write the rows to this JSON file")
    parser.add_argument("--table", nargs="+", help="print the merged table of these JSON files and stop")
    args = parser.parse_args()
    if args.table:
        print(table(args.table))
        return
    from rnnkit.bench import cpu_name

    torch.set_num_threads(args.threads)
    machine = (f"{cpu_name()}, {torch.get_num_threads()} torch thread(s), torch {torch.__version__}, "
               f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print(machine)
    train, val, test, real = corpus(args)
    result: dict = {"machine": machine, "rows": {}, "real": {}}
    for kind in args.models.split(","):
        part = run_peer(args, test, real) if kind == "pocketsphinx" else run_model(kind, args, train, val, test, real)
        result["rows"].update(part["rows"])
        result["real"].update(part.get("real", {}))
        print(json.dumps(part["rows"], indent=1), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1))
    print(table([args.json]) if args.json else result["rows"])


if __name__ == "__main__":
    main()
