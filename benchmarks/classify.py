"""Classification benchmark: rnnkit's bidirectional recurrent classifier against baselines on real data.

MR (Pang & Lee 2005 sentence polarity, 10,605 sentences, from the vaderSentiment 3.3.2 sdist):
10-fold stratified cross-validation fixed by --seed (the papers' protocol), no pretrained vectors.
For each fold, in turn: majority class, TF-IDF word 1-2-grams + logistic regression, and rnnkit
with each of --cells (a fresh word tokenizer trained on the fold's training part, 10 % of which picks
the best epoch). Methods are interleaved fold by fold, so a run stopped early (--max-minutes) has
every method on the same folds. JapaneseVowels (UEA, from the sktime 1.2.0 wheel): the official
270/370 split, rnnkit's SequenceClassifier against majority and summary statistics + LR.

Targets (issue 11): MR accuracy >= 80.0 % without pretrained vectors and above TF-IDF + LR in the same
run; JapaneseVowels test accuracy >= 98 %. The script prints the table and says which hold.

Usage: python benchmarks/classify.py [--folds 10] [--cells lstm gru "gru ensemble=3"] [--max-minutes 60]
       [--json runs/bench-classify.json]

Each --cells entry is a cell name, optionally followed by settings that replace the shared ones for
that row only (``key=value``, values read as JSON where they parse: ``"lstm pooling=max_mean
word_dropout=0.1 ensemble=3"``). Seconds are reported per fold as wall-clock and CPU (user + sys of
this process).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from rnnkit.bench import machine_description
from rnnkit.metrics.classification import classification_scores
from rnnkit.tasks.classify.baselines import NAMES, fit_predict_proba
from rnnkit.tasks.classify.config import VOWELS_DEFAULTS
from rnnkit.tasks.classify.data import load_japanese_vowels, load_mr, stratified_folds
from rnnkit.tasks.classify.estimator import SequenceClassifier, TextClassifier

TEXT_SETTINGS = {"hidden_size": 128, "embedding_dim": 128, "pooling": "max", "dropout": 0.5, "embedding_dropout": 0.25,
                 "min_frequency": 2, "lr": 3e-3, "batch_size": 50, "max_epochs": 8, "patience": 3}


def mean_std(values: list[float]) -> str:
    a = np.asarray(values) * 100
    return f"{a.mean():.2f} ± {a.std(ddof=1):.2f}" if len(a) > 1 else f"{a.mean():.2f}"


def parse_cell(spec: str) -> tuple[str, dict]:
    """``"gru ensemble=3 pooling=max_mean"`` -> ``("gru", {"ensemble": 3, "pooling": "max_mean"})``."""
    cell, *pairs = spec.split()
    extra = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep:
            raise SystemExit(f"--cells: expected key=value after the cell name, got {pair!r} in {spec!r}")
        try:
            extra[key] = json.loads(raw)
        except json.JSONDecodeError:
            extra[key] = raw
    return cell, extra


def run_mr(args, results: dict, deadline: float) -> None:
    texts, labels = load_mr()
    folds = stratified_folds(labels, 10, seed=args.seed)[: args.folds]
    settings = {**TEXT_SETTINGS, "max_epochs": args.max_epochs, "hidden_size": args.hidden_size,
                "embedding_dim": args.embedding_dim, "time_budget": args.fold_budget, "seed": args.seed}
    results["mr_settings"] = settings
    specs = {f"rnnkit {c}": parse_cell(c) for c in args.cells}
    results["mr_cells"] = {name: {"cell": cell, **extra} for name, (cell, extra) in specs.items()}
    methods = ["majority", "tfidf_lr", *specs]
    rows = results.setdefault("mr", {m: {"accuracy": [], "macro_f1": [], "seconds": [], "cpu_seconds": [],
                                         "epochs": []} for m in methods})
    classes = sorted(set(labels))
    for k, (train, test) in enumerate(folds):
        if time.perf_counter() > deadline:
            print(f"stopping before fold {k + 1}: --max-minutes reached", flush=True)
            break
        train_x, train_y = [texts[i] for i in train], [labels[i] for i in train]
        test_x, test_y = [texts[i] for i in test], [labels[i] for i in test]
        targets = np.array([classes.index(v) for v in test_y])
        for method in methods:
            start, cpu_start = time.perf_counter(), time.process_time()
            if method in specs:
                cell, extra = specs[method]
                model = TextClassifier(cell=cell, **{**settings, **extra}).fit(train_x, train_y)
                scores = model.evaluate(test_x, test_y)
                epochs = len(model.history_)
            else:
                probs = fit_predict_proba(method, train_x, train_y, test_x, classes, seed=args.seed)
                scores = classification_scores(targets, probs, classes)
                epochs = 0
            seconds, cpu = time.perf_counter() - start, time.process_time() - cpu_start
            for key, value in (("accuracy", scores["accuracy"]), ("macro_f1", scores["macro_f1"]),
                               ("seconds", seconds), ("cpu_seconds", cpu), ("epochs", epochs)):
                rows[method][key].append(value)
            print(f"fold {k + 1}: {method:<14} accuracy {scores['accuracy']:.2%}  {seconds:6.0f} s wall  "
                  f"{cpu:6.0f} s CPU  {epochs} epochs", flush=True)
        results["mr_folds_done"] = k + 1
        if args.json:
            Path(args.json).write_text(json.dumps(results, indent=1))


def run_vowels(args, results: dict) -> None:
    train_x, train_y = load_japanese_vowels("train")
    test_x, test_y = load_japanese_vowels("test")
    classes = sorted(set(train_y))
    targets = np.array([classes.index(v) for v in test_y])
    out = {}
    for name in ("majority", "stats_lr"):
        start = time.perf_counter()
        probs = fit_predict_proba(name, train_x, train_y, test_x, classes, seed=args.seed)
        out[NAMES[name]] = {"accuracy": classification_scores(targets, probs, classes)["accuracy"],
                            "seconds": time.perf_counter() - start}
    for seed in range(args.vowel_seeds):
        start, cpu_start = time.perf_counter(), time.process_time()
        model = SequenceClassifier(cell="lstm", seed=seed, **VOWELS_DEFAULTS).fit(train_x, train_y)
        accuracy = model.evaluate(test_x, test_y)["accuracy"]
        out.setdefault("rnnkit lstm", {"accuracy": [], "seconds": [], "cpu_seconds": []})
        out["rnnkit lstm"]["accuracy"].append(accuracy)
        out["rnnkit lstm"]["seconds"].append(time.perf_counter() - start)
        out["rnnkit lstm"]["cpu_seconds"].append(time.process_time() - cpu_start)
        print(f"JapaneseVowels seed {seed}: rnnkit lstm test accuracy {accuracy:.2%}", flush=True)
    results["japanese_vowels"] = out
    results["vowels_settings"] = VOWELS_DEFAULTS


def report(results: dict) -> str:
    lines = [f"machine: {results['machine']}", ""]
    if "mr" in results:
        done = results.get("mr_folds_done", 0)
        lines += [f"MR, {done} of 10 folds (seed {results['seed']}), accuracy and macro-F1 in % "
                  "(mean ± std over folds)",
                  "", "| method | accuracy % | macro-F1 % | s/fold wall | s/fold CPU | epochs |",
                  "|---|---:|---:|---:|---:|---:|"]
        for method, row in results["mr"].items():
            if not row["accuracy"]:
                continue
            name = NAMES.get(method, method)
            lines.append(f"| {name} | {mean_std(row['accuracy'])} | {mean_std(row['macro_f1'])} | "
                         f"{np.mean(row['seconds']):.0f} | {np.mean(row['cpu_seconds']):.0f} | "
                         f"{np.mean(row['epochs']):.1f} |")
        best = max((m for m in results["mr"] if m.startswith("rnnkit") and results["mr"][m]["accuracy"]),
                   key=lambda m: np.mean(results["mr"][m]["accuracy"]), default=None)
        if best is not None:
            acc = np.mean(results["mr"][best]["accuracy"]) * 100
            tfidf = np.mean(results["mr"]["tfidf_lr"]["accuracy"]) * 100
            lines += ["", f"target MR >= 80.0 %: {'met' if acc >= 80 else 'NOT met'} (best: {best}, {acc:.2f} %)",
                      f"target above TF-IDF + LR ({tfidf:.2f} %): {'met' if acc > tfidf else 'NOT met'}"]
    if "japanese_vowels" in results:
        jv = results["japanese_vowels"]
        lines += ["", "JapaneseVowels, official 270/370 split, test accuracy %", "",
                  "| method | accuracy % | seconds wall | seconds CPU |", "|---|---:|---:|---:|"]
        for method, row in jv.items():
            acc = row["accuracy"]
            shown = mean_std(acc) if isinstance(acc, list) else f"{acc * 100:.2f}"
            cpu = f"{np.mean(row['cpu_seconds']):.1f}" if "cpu_seconds" in row else "—"
            lines.append(f"| {method} | {shown} | {np.mean(row['seconds']):.1f} | {cpu} |")
        best = np.mean(jv["rnnkit lstm"]["accuracy"]) * 100
        lines += ["", f"target JapaneseVowels >= 98 %: {'met' if best >= 98 else 'NOT met'} ({best:.2f} %, mean of "
                  f"{len(jv['rnnkit lstm']['accuracy'])} seed(s))"]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--folds", type=int, default=10, help="MR folds to run, of the 10")
    parser.add_argument("--cells", nargs="+", default=["lstm", "gru", "mingru"],
                        help="rnnkit rows: a cell name, optionally with key=value settings (quote each row)")
    parser.add_argument("--max-epochs", type=int, default=8)
    parser.add_argument("--hidden-size", type=int, default=128)
    parser.add_argument("--embedding-dim", type=int, default=128)
    parser.add_argument("--fold-budget", type=float, default=None, help="seconds of training per fold and cell")
    parser.add_argument("--max-minutes", type=float, default=600, help="start no MR fold after this many minutes")
    parser.add_argument("--stop-at", help="start no MR fold after this UTC clock time (HH:MM, today)")
    parser.add_argument("--vowel-seeds", type=int, default=3, help="JapaneseVowels runs (seeds 0..n-1)")
    parser.add_argument("--skip-mr", action="store_true")
    parser.add_argument("--skip-vowels", action="store_true")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", help="write the raw results here (after every fold)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    results = {"machine": machine_description("cpu"), "seed": args.seed, "threads": args.threads}
    print(results["machine"], flush=True)
    deadline = time.perf_counter() + 60 * args.max_minutes
    if args.stop_at:
        import datetime as dt

        now = dt.datetime.now(dt.timezone.utc)
        hour, minute = (int(v) for v in args.stop_at.split(":"))
        stop = now.replace(hour=hour, minute=minute, second=0, microsecond=0)
        deadline = min(deadline, time.perf_counter() + (stop - now).total_seconds())
    if not args.skip_vowels:
        run_vowels(args, results)
    if not args.skip_mr:
        run_mr(args, results, deadline)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    print()
    print(report(results))


if __name__ == "__main__":
    main()
