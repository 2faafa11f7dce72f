"""Translation benchmark: rnnkit's attentional encoder-decoder against the same network without
attention, greedy against beam search, and copying the source, on the Bible (English->Spanish),
trained on the training books and scored on the held-out books (Ruth, Ecclesiastes, Jonah, Acts).

Each system is one process (``--system attention`` or ``--system none``) that writes a JSON file,
so the two networks can train side by side; ``--report`` merges the files into the Markdown table
of docs/apps/translate.md, with the machine named. Scores: sacrebleu BLEU and chrF on detokenised
text (signatures printed); speed: test sentences per second, greedy and beam 5, batch 32.

Targets (issue 13): attention >= no attention + 5 BLEU; beam 5 >= greedy + 1 BLEU; constrained
decoding places 100 % of its terms (one reference word per sentence). JoeyNMT is not run by this
script (see the docs page).

Usage:
  python benchmarks/translate.py --system general --steps 1200 --out runs/bench-translate
  python benchmarks/translate.py --system none --steps 1200 --out runs/bench-translate
  python benchmarks/translate.py --report --out runs/bench-translate
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from rnnkit.bench import machine_description


def run_system(args: argparse.Namespace) -> None:
    from rnnkit.metrics.translation import translation_scores
    from rnnkit.tasks.translate.app import score_constraints
    from rnnkit.tasks.translate.data import bible_pairs
    from rnnkit.tasks.translate.estimator import Translator

    torch.set_num_threads(args.threads)
    data = bible_pairs("en-es")
    train = data.train if args.train_pairs is None else data.train[: args.train_pairs]
    test = data.test if args.test_pairs is None else data.test[: args.test_pairs]
    translator = Translator(
        vocab_size=args.vocab_size, embed_size=args.size, hidden_size=args.size, attention=args.system,
        batch_size=args.batch_size, max_steps=args.steps, lr=args.lr, max_src_len=args.max_len,
        max_tgt_len=args.max_len, dropout=0.2, seed=args.seed,
    )
    translator.fit(train, data.dev)
    result = {"system": args.system, "steps": args.steps, "train_pairs": len(train), "test_pairs": len(test),
              "train_seconds": translator.fit_seconds_, "parameters": translator.num_parameters,
              "settings": translator.get_config(), "machine": machine_description("cpu"),
              "threads": args.threads, "log": translator.training_log_[-3:]}
    sources, references = [s for s, _ in test], [t for _, t in test]
    for name, beam in (("greedy", 1), ("beam5", 5)):
        start = time.perf_counter()
        outputs = translator.translate(sources, beam=beam)
        seconds = time.perf_counter() - start
        scores = translation_scores(outputs, references)
        result[name] = {"BLEU": scores.bleu, "chrF": scores.chrf, "sentences_per_second": len(test) / seconds,
                        "examples": outputs[:5]}
        result["signatures"] = {"BLEU": scores.bleu_signature, "chrF": scores.chrf_signature}
        print(f"{args.system} {name}: BLEU {scores.bleu:.2f} chrF {scores.chrf:.2f} "
              f"({len(test) / seconds:.1f} sentences/s)", flush=True)
    if args.system != "none":
        result["constrained"] = score_constraints(translator, test[: args.constrained_pairs], 5)
        print(f"constrained: {result['constrained']}", flush=True)
    copy = translation_scores(sources, references)
    result["copy"] = {"BLEU": copy.bleu, "chrF": copy.chrf}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{args.system}.json").write_text(json.dumps(result, indent=1, ensure_ascii=False))
    translator.save(out / f"model-{args.system}")


def report(args: argparse.Namespace) -> None:
    out = Path(args.out)
    runs = {p.stem: json.loads(p.read_text()) for p in sorted(out.glob("*.json"))}
    if not runs:
        raise SystemExit(f"--report: no result files in {out}")
    first = next(iter(runs.values()))
    lines = [f"Machine: {first['machine']}, torch.set_num_threads({first['threads']}); each system trained "
             f"{first['steps']} steps on {first['train_pairs']} pairs, scored on {first['test_pairs']} test pairs.",
             "", "| system | decoding | BLEU | chrF | sentences/s | train s | parameters |",
             "|---|---|---:|---:|---:|---:|---:|"]
    names = {"general": "rnnkit LSTM + general attention", "additive": "rnnkit LSTM + additive attention",
             "dot": "rnnkit LSTM + dot attention", "none": "rnnkit LSTM, no attention"}
    for system, run in runs.items():
        for decoding in ("beam5", "greedy"):
            row = run[decoding]
            lines.append(f"| {names.get(system, system)} | {'beam 5' if decoding == 'beam5' else 'greedy'} | "
                         f"{row['BLEU']:.2f} | {row['chrF']:.2f} | {row['sentences_per_second']:.1f} | "
                         f"{run['train_seconds']:.0f} | {run['parameters']:,} |")
    lines.append(f"| copy the source | — | {first['copy']['BLEU']:.2f} | {first['copy']['chrF']:.2f} | — | — | — |")
    for system, run in runs.items():
        if "constrained" in run:
            c = run["constrained"]
            lines.append(f"\nConstrained beam 5 ({names.get(system, system)}), one reference word per sentence on "
                         f"{args.constrained_pairs} test sentences: {c['constraints_placed_%']:.1f} % of "
                         f"{int(c['constraints'])} terms placed, BLEU {c['BLEU']:.2f}, chrF {c['chrF']:.2f}.")
    lines.append(f"\nsacrebleu: BLEU {first['signatures']['BLEU']}; chrF {first['signatures']['chrF']}")
    text = "\n".join(lines)
    print(text)
    (out / "table.md").write_text(text + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--system", default="general", choices=("general", "additive", "dot", "none"),
                        help="attention of the network to train (none: the no-attention baseline)")
    parser.add_argument("--report", action="store_true", help="merge the JSON files in --out into a table")
    parser.add_argument("--steps", type=int, default=1200)
    parser.add_argument("--size", type=int, default=192, help="embedding and hidden size")
    parser.add_argument("--vocab-size", type=int, default=6000)
    parser.add_argument("--batch-size", type=int, default=48)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--max-len", type=int, default=60)
    parser.add_argument("--train-pairs", type=int, default=None)
    parser.add_argument("--test-pairs", type=int, default=None)
    parser.add_argument("--constrained-pairs", type=int, default=200)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="runs/bench-translate")
    args = parser.parse_args()
    report(args) if args.report else run_system(args)


if __name__ == "__main__":
    main()
