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
import hashlib
import json
import os
import re
import time
from pathlib import Path

import torch

from rnnkit.bench import machine_description


def short_pairs(pairs: list[tuple[str, str]], max_words: int | None) -> list[tuple[str, str]]:
    """The pairs whose both sides have at most ``max_words`` whitespace words (all of them when None)."""
    if max_words is None:
        return list(pairs)
    return [(s, t) for s, t in pairs if len(s.split()) <= max_words and len(t.split()) <= max_words]


def bpe_hash(tokenizer) -> str:
    """SHA-256 of a tokenizer's JSON: two runs with the same hash used the same BPE."""
    return hashlib.sha256(tokenizer.to_json().encode()).hexdigest()


def run_system(args: argparse.Namespace) -> None:
    from rnnkit.metrics.translation import translation_scores
    from rnnkit.tasks.translate.app import score_constraints
    from rnnkit.tasks.translate.data import bible_pairs
    from rnnkit.tasks.translate.estimator import Translator

    torch.set_num_threads(args.threads)
    data = bible_pairs("en-es")
    train, dev, test = (short_pairs(p, args.max_words) for p in (data.train, data.dev, data.test))
    train = train if args.train_pairs is None else train[: args.train_pairs]
    test = test if args.test_pairs is None else test[: args.test_pairs]
    translator = Translator(
        vocab_size=args.vocab_size, embed_size=args.size, hidden_size=args.size, attention=args.system,
        batch_size=args.batch_size, max_steps=args.steps, lr=args.lr, max_src_len=args.max_len,
        max_tgt_len=args.max_len, dropout=0.2, seed=args.seed,
    )
    cpu_start = time.process_time()
    translator.fit(train, dev)
    result = {"system": args.system, "steps": args.steps, "train_pairs": len(train), "test_pairs": len(test),
              "dev_pairs": len(dev), "max_words": args.max_words, "batch_size": args.batch_size,
              "epochs": args.steps * args.batch_size / len(train),
              "train_seconds": translator.fit_seconds_, "train_cpu_seconds": time.process_time() - cpu_start,
              "parameters": translator.num_parameters, "bpe_sha256": bpe_hash(translator.src_tokenizer_),
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


# ------------------------------------------------------------------------------------ JoeyNMT peer
#: JoeyNMT's special tokens, in the order of its default ids (unk 0, pad 1, bos 2, eos 3).
JOEY_SPECIALS = ("<unk>", "<pad>", "<s>", "</s>")


def bpe_lines(tokenizer, texts: list[str], max_len: int | None) -> list[str]:
    """Each text as its BPE tokens joined by spaces (``[UNK]`` as JoeyNMT's ``<unk>``), cut to ``max_len``."""
    lines = []
    for text in texts:
        tokens = ["<unk>" if t == "[UNK]" else t for t in tokenizer.tokens(text)][:max_len] or ["<unk>"]
        lines.append(" ".join(tokens))
    return lines


def bpe_detokenise(tokenizer, line: str) -> str:
    """JoeyNMT's space-joined output tokens back to text with rnnkit's own decoder (the same call as rnnkit's)."""
    ids = [tokenizer.unk_id if (i := tokenizer.backend.token_to_id(t)) is None else i for t in line.split()]
    return tokenizer.decode(ids)


def joeynmt_config(work: Path, args: argparse.Namespace, beam: int, steps_per_epoch: int) -> dict:
    """The JoeyNMT 2.3 YAML (as a dict): its recurrent encoder-decoder sized like rnnkit's network.

    rnnkit's encoder is bidirectional with ``size/2`` per direction, the decoder ``size`` wide with
    input feeding and Luong's general (bilinear) attention, embeddings shared between the languages
    and tied with the output layer: JoeyNMT's ``luong`` attention, ``bridge`` initial state,
    ``input_feeding``, ``tied_embeddings`` and ``tied_softmax`` are the same design.
    """
    # Validate about once an epoch, as rnnkit does; JoeyNMT wants it a multiple of the logging interval.
    logging = 50 if steps_per_epoch >= 100 else 1
    validation = max(2 * logging, round(steps_per_epoch / logging) * logging)
    side = {"level": "word", "lowercase": False, "normalize": False, "voc_file": str(work / "vocab.txt"),
            "max_length": args.max_len}
    embeddings = {"embedding_dim": args.size, "scale": False}
    return {
        "name": "rnnkit-benchmark-peer",
        "joeynmt_version": "2.3.0",
        "model_dir": str(work / "model"),
        "use_cuda": False,
        "num_workers": 0,
        "random_seed": args.seed,
        "data": {"train": str(work / "train"), "dev": str(work / "dev"), "test": str(work / "test"),
                 "dataset_type": "plain", "src": {"lang": "src", **side}, "trg": {"lang": "trg", **side}},
        "testing": {"n_best": 1, "beam_size": beam, "beam_alpha": 0.6, "batch_size": 32, "batch_type": "sentence",
                    "max_output_length": int(1.5 * args.max_len + 10), "eval_metrics": ["bleu"],
                    "sacrebleu_cfg": {"tokenize": "13a"}},
        "training": {
            # JoeyNMT's RNN recipes use "plateau", which passes verbose= to ReduceLROnPlateau and so fails
            # with torch 2.13; its warm-up + inverse square root decay (its Transformer recipes') runs.
            "optimizer": "adam", "learning_rate": args.lr, "learning_rate_peak": args.lr, "learning_rate_min": 1e-4,
            "scheduling": "warmupinversesquareroot", "learning_rate_warmup": max(1, args.steps // 10),
            "label_smoothing": 0.1, "clip_grad_norm": 1.0,
            "batch_size": args.batch_size, "batch_type": "sentence", "normalization": "tokens",
            "updates": args.steps, "epochs": 10_000, "validation_freq": validation,
            "logging_freq": logging, "early_stopping_metric": "ppl", "keep_best_ckpts": 1, "shuffle": True,
            "overwrite": True, "print_valid_sents": [0], "eval_metrics": ["bleu"],
        },
        "model": {
            "initializer": "xavier_uniform", "embed_initializer": "normal", "embed_init_weight": 0.1,
            "bias_initializer": "zeros", "init_rnn_orthogonal": False, "lstm_forget_gate": 1.0,
            "tied_embeddings": True, "tied_softmax": True,
            "encoder": {"type": "recurrent", "rnn_type": "lstm", "hidden_size": args.size // 2,
                        "bidirectional": True, "num_layers": 1, "dropout": 0.2,
                        "embeddings": {**embeddings, "dropout": 0.2}},
            "decoder": {"type": "recurrent", "rnn_type": "lstm", "hidden_size": args.size, "num_layers": 1,
                        "attention": "luong", "input_feeding": True, "init_hidden": "bridge",
                        "hidden_dropout": 0.2, "dropout": 0.2, "embeddings": {**embeddings, "dropout": 0.2}},
        },
    }


def run_joeynmt(args: argparse.Namespace) -> None:
    """Train and test JoeyNMT's RNN on rnnkit's split and BPE, in its own venv (``--peer-python``)."""
    import resource
    import subprocess
    import tempfile

    from rnnkit.data.subwords import train_subword_tokenizer
    from rnnkit.metrics.translation import translation_scores
    from rnnkit.tasks.translate.data import bible_pairs

    if not args.peer_python or not Path(args.peer_python).exists():
        raise SystemExit(f"--peer-python: expected the python of a venv with joeynmt 2.3.0, got {args.peer_python!r}")
    data = bible_pairs("en-es")
    train, dev, test = (short_pairs(p, args.max_words) for p in (data.train, data.dev, data.test))
    train = train if args.train_pairs is None else train[: args.train_pairs]
    test = test if args.test_pairs is None else test[: args.test_pairs]
    # The same call and settings as Translator._tokenizers (joint vocabulary, training split only).
    tokenizer = train_subword_tokenizer([s for pair in train for s in pair], vocab_size=args.vocab_size)
    work = Path(args.peer_workdir) if args.peer_workdir else Path(tempfile.mkdtemp(prefix="rnnkit-joeynmt-"))
    work.mkdir(parents=True, exist_ok=True)
    vocab = [t for t, _ in sorted(tokenizer.backend.get_vocab().items(), key=lambda kv: kv[1])
             if t not in ("[PAD]", "[UNK]", "<s>", "</s>")]
    (work / "vocab.txt").write_text("\n".join(vocab) + "\n")
    for name, pairs in (("train", train), ("dev", dev), ("test", test)):
        (work / f"{name}.src").write_text("\n".join(bpe_lines(tokenizer, [s for s, _ in pairs], args.max_len)) + "\n")
        (work / f"{name}.trg").write_text("\n".join(bpe_lines(tokenizer, [t for _, t in pairs], args.max_len)) + "\n")
    steps_per_epoch = max(1, -(-len(train) // args.batch_size))
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "MKL_NUM_THREADS": str(args.threads)}
    env.pop("PYTHONPATH", None)  # nothing of rnnkit on JoeyNMT's path

    def joey(mode: str, beam: int, *extra: str) -> tuple[float, float, str]:
        config = work / f"config-{mode}-beam{beam}.yaml"
        # JSON is YAML: JoeyNMT's yaml.safe_load reads it (floats written as 1e-05 it would read as strings).
        config.write_text(json.dumps(joeynmt_config(work, args, beam, steps_per_epoch), indent=1))
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        done = subprocess.run([args.peer_python, "-m", "joeynmt", mode, str(config), *extra], env=env,
                              capture_output=True, text=True, check=False)
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        (work / f"{mode}-beam{beam}.log").write_text(done.stdout + done.stderr)
        if done.returncode != 0:
            raise SystemExit(f"joeynmt {mode} failed (exit {done.returncode}); its log: {work}/{mode}-beam{beam}.log\n"
                             + (done.stdout + done.stderr)[-3000:])
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        return wall, cpu, done.stdout + done.stderr

    print(f"joeynmt: {len(train)} train / {len(dev)} dev / {len(test)} test pairs, files in {work}", flush=True)
    train_wall, train_cpu, train_log = joey("train", 5, "--skip-test")
    parameters = [int(m.group(1).replace(",", "")) for m in re.finditer(r"Total params: ([\d,]+)", train_log)]
    result = {"system": "joeynmt", "steps": args.steps, "train_pairs": len(train), "test_pairs": len(test),
              "dev_pairs": len(dev), "max_words": args.max_words, "batch_size": args.batch_size,
              "epochs": args.steps * args.batch_size / len(train), "train_seconds": train_wall,
              "train_cpu_seconds": train_cpu, "parameters": parameters[0] if parameters else None,
              "bpe_sha256": bpe_hash(tokenizer), "machine": machine_description("cpu"), "threads": args.threads,
              "peer": "joeynmt " + subprocess.run([args.peer_python, "-m", "pip", "show", "joeynmt"],
                                                  capture_output=True, text=True, env=env).stdout.split()[3],
              "config": joeynmt_config(work, args, 5, steps_per_epoch), "workdir": str(work)}
    sources, references = [s for s, _ in test], [t for _, t in test]
    for name, beam in (("greedy", 1), ("beam5", 5)):
        wall, cpu, log = joey("test", beam, "--output-path", str(work / f"hyp-beam{beam}"))
        generation = re.findall(r"Generation took ([\d.]+)\[sec\]", log)
        hyps = (work / f"hyp-beam{beam}.test").read_text().splitlines()
        outputs = [bpe_detokenise(tokenizer, line) for line in hyps]
        scores = translation_scores(outputs, references)
        seconds = float(generation[-1]) if generation else wall
        result[name] = {"BLEU": scores.bleu, "chrF": scores.chrf, "sentences_per_second": len(test) / seconds,
                        "decode_seconds": seconds, "test_command_wall_seconds": wall, "test_command_cpu_seconds": cpu,
                        "examples": outputs[:5]}
        result["signatures"] = {"BLEU": scores.bleu_signature, "chrF": scores.chrf_signature}
        print(f"joeynmt {name}: BLEU {scores.bleu:.2f} chrF {scores.chrf:.2f} ({len(test) / seconds:.1f} sentences/s)",
              flush=True)
    copy = translation_scores(sources, references)
    result["copy"] = {"BLEU": copy.bleu, "chrF": copy.chrf}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "joeynmt.json").write_text(json.dumps(result, indent=1, ensure_ascii=False))


def report(args: argparse.Namespace) -> None:
    """Merge the result files in ``--out`` into the docs table (Markdown), printed and written to table.md."""
    out = Path(args.out)
    order = {"general": 0, "additive": 1, "dot": 2, "none": 3, "joeynmt": 4}
    runs = {p.stem: json.loads(p.read_text()) for p in sorted(out.glob("*.json"), key=lambda p: order.get(p.stem, 9))}
    if not runs:
        raise SystemExit(f"--report: no result files in {out}")
    first = next(iter(runs.values()))
    hashes = {run.get("bpe_sha256") for run in runs.values()}
    lines = [f"Machine: {first['machine']}, torch.set_num_threads({first['threads']}); each system trained "
             f"{first['steps']} steps of {first['batch_size']} pairs on {first['train_pairs']} pairs "
             f"({first['epochs']:.1f} epochs), validated on {first.get('dev_pairs', '?')} dev pairs, scored on "
             f"{first['test_pairs']} test pairs" + (f" (pairs of at most {first['max_words']} words a side)"
                                                   if first.get("max_words") else "") + ". "
             + ("All systems used the same BPE (one SHA-256)." if len(hashes) == 1 else
                f"**The BPE differs between runs** ({len(hashes)} hashes)."),
             "", "| system | decoding | BLEU | chrF | sentences/s | train wall s | train CPU s | parameters |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    names = {"general": "rnnkit LSTM + general attention", "additive": "rnnkit LSTM + additive attention",
             "dot": "rnnkit LSTM + dot attention", "none": "rnnkit LSTM, no attention",
             "joeynmt": "JoeyNMT 2.3 LSTM + Luong attention"}
    for system, run in runs.items():
        if run["steps"] != first["steps"] or run["train_pairs"] != first["train_pairs"] \
                or run["test_pairs"] != first["test_pairs"]:
            raise SystemExit(f"--report: {system} ran {run['steps']} steps on {run['train_pairs']} / "
                             f"{run['test_pairs']} pairs, unlike the others; give each setting its own --out")
        for decoding in ("beam5", "greedy"):
            row = run[decoding]
            cpu = run.get("train_cpu_seconds")
            parameters = f"{run['parameters']:,}" if run.get("parameters") else "?"
            lines.append(f"| {names.get(system, system)} | {'beam 5' if decoding == 'beam5' else 'greedy'} | "
                         f"{row['BLEU']:.2f} | {row['chrF']:.2f} | {row['sentences_per_second']:.1f} | "
                         f"{run['train_seconds']:.0f} | {'?' if cpu is None else f'{cpu:.0f}'} | {parameters} |")
    lines.append(f"| copy the source | — | {first['copy']['BLEU']:.2f} | {first['copy']['chrF']:.2f} | — | — | — "
                 "| — |")
    for system, run in runs.items():
        if "constrained" in run:
            c, n = run["constrained"], min(args.constrained_pairs, run["test_pairs"])
            lines.append(f"\nConstrained beam 5 ({names.get(system, system)}), one reference word per sentence on the "
                         f"first {n} test sentences: {c['constraints_placed_%']:.1f} % of "
                         f"{int(c['constraints'])} terms placed, BLEU {c['BLEU']:.2f}, chrF {c['chrF']:.2f}.")
    lines.append(f"\nsacrebleu: BLEU {first['signatures']['BLEU']}; chrF {first['signatures']['chrF']}")
    text = "\n".join(lines)
    print(text)
    (out / "table.md").write_text(text + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--system", default="general", choices=("general", "additive", "dot", "none"),
                        help="attention of the network to train (none: the no-attention baseline)")
    parser.add_argument("--peer", choices=("joeynmt",), default=None,
                        help="train and test the peer toolkit instead of an rnnkit system")
    parser.add_argument("--peer-python", default=None, help="the python of the peer's own venv")
    parser.add_argument("--peer-workdir", default=None, help="where the peer's files go (default: a temp dir)")
    parser.add_argument("--report", action="store_true", help="merge the JSON files in --out into a table")
    parser.add_argument("--steps", type=int, default=1200)
    parser.add_argument("--size", type=int, default=192, help="embedding and hidden size")
    parser.add_argument("--vocab-size", type=int, default=6000)
    parser.add_argument("--batch-size", type=int, default=48)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--max-len", type=int, default=60)
    parser.add_argument("--max-words", type=int, default=None,
                        help="keep only the pairs (train, dev and test alike) with at most this many words a side")
    parser.add_argument("--train-pairs", type=int, default=None)
    parser.add_argument("--test-pairs", type=int, default=None)
    parser.add_argument("--constrained-pairs", type=int, default=200)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="runs/bench-translate")
    args = parser.parse_args()
    if args.report:
        report(args)
    elif args.peer == "joeynmt":
        run_joeynmt(args)
    else:
        run_system(args)


if __name__ == "__main__":
    main()
