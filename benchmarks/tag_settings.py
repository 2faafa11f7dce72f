"""MSRA settings sweep for the tagger: bigram embeddings, batch size, learning rate, hidden size.

Trains each setting on the same first N MSRA training sentences for the same number of epochs,
scores entity F1 (seqeval strict, IOBES) on the first M dev sentences, and reports the training
speed in tokens per wall second and per CPU second (training tokens x epochs / fit seconds, the
per-epoch dev check included; on a shared machine the CPU figure is the one to compare). One torch
thread. The dev sentences are the app's held-out 2,000 (never the test file).

Usage: python benchmarks/tag_settings.py [--train 8000] [--dev 1000] [--epochs 2]
       [--only NAME,...] [--out runs/bench-tag-settings]
"""

from __future__ import annotations

import argparse
import json
import resource
from pathlib import Path

import torch

from rnnkit.bench import machine_description
from rnnkit.metrics.tagging import tagging_scores
from rnnkit.tasks.tag.data import load_msra
from rnnkit.tasks.tag.estimator import Tagger

#: name -> Tagger settings (on top of the app's MSRA defaults: no character encoder, word_dim 64).
SETTINGS = {
    "chars, batch 32, lr 3e-3, hidden 100": dict(bigram_dim=0, batch_size=32, lr=3e-3, hidden_size=100),
    "chars+bigrams, batch 32, lr 3e-3, hidden 100": dict(bigram_dim=50, batch_size=32, lr=3e-3, hidden_size=100),
    "chars+bigrams, batch 64, lr 3e-3, hidden 100": dict(bigram_dim=50, batch_size=64, lr=3e-3, hidden_size=100),
    "chars+bigrams, batch 64, lr 6e-3, hidden 100": dict(bigram_dim=50, batch_size=64, lr=6e-3, hidden_size=100),
    "chars+bigrams, batch 128, lr 6e-3, hidden 100": dict(bigram_dim=50, batch_size=128, lr=6e-3, hidden_size=100),
    "chars+bigrams, batch 64, lr 3e-3, hidden 200": dict(bigram_dim=50, batch_size=64, lr=3e-3, hidden_size=200),
}


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train", type=int, default=8000)
    parser.add_argument("--dev", type=int, default=1000)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--only", default="", help="comma-separated indices into SETTINGS (0-based)")
    parser.add_argument("--out", default="runs/bench-tag-settings")
    args = parser.parse_args()
    torch.set_num_threads(1)
    data = load_msra(train_sentences=args.train)
    dev = data.dev[: args.dev]
    tokens = sum(len(s.tokens) for s in data.train)
    names = list(SETTINGS)
    if args.only:
        names = [names[int(i)] for i in args.only.split(",")]
    print(f"Machine: {machine_description('cpu')}; {len(data.train)} training sentences ({tokens:,} tokens), "
          f"{len(dev)} dev sentences, {args.epochs} epochs", flush=True)
    rows = {}
    for name in names:
        cpu = cpu_seconds()
        tagger = Tagger(scheme="BMES", char_encoder="none", tokenizer="characters", max_epochs=args.epochs,
                        seed=0, **SETTINGS[name])
        tagger.fit(data.train, dev=dev)
        scores = tagging_scores([s.tags for s in dev], tagger.predict_tokens([s.tokens for s in dev]), "BMES")
        rows[name] = {"dev_f1": scores["f1"], "dev_accuracy": scores["accuracy"], "fit_s": tagger.fit_seconds_,
                      "cpu_s": cpu_seconds() - cpu, "tokens_per_s": tokens * args.epochs / tagger.fit_seconds_,
                      "tokens_per_cpu_s": tokens * args.epochs / (cpu_seconds() - cpu),
                      "parameters": sum(p.numel() for p in tagger.network.parameters())}
        print(f"| {name} | {100 * scores['f1']:.2f} | {rows[name]['tokens_per_s']:.0f} | "
              f"{rows[name]['tokens_per_cpu_s']:.0f} | {tagger.fit_seconds_:.0f} | "
              f"{rows[name]['cpu_s']:.0f} | {rows[name]['parameters']:,} |", flush=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"settings-{args.only or 'all'}.json").write_text(json.dumps(rows, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
