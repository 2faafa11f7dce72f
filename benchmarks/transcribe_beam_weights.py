"""Choose the beam search's LM weight and word bonus for saved speech models on the validation set.

The validation utterances come from the training voices; the setting with the lowest validation
CER is then scored once on the held-out-voice test set and the real clips, beside the model's own
setting. The network runs once per utterance; only the decoding is repeated::

    python benchmarks/transcribe.py --models bidirectional --minutes 0 --max-steps 6000 --save models
    python benchmarks/transcribe_beam_weights.py models/bidirectional [more model folders]

Use the same ``--train/--val/--test/--seed`` as the run that trained the models (the corpus).
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from pathlib import Path

import torch


def error_rates_of(model, log_probs: list, utterances: list, weight: float, bonus: float) -> dict[str, float]:
    """CER, digit-string CER and card-clip WER (in %) of beam search at one LM weight and word bonus."""
    from rnnkit.tasks.transcribe.scoring import error_rates

    model.config.lm_weight, model.config.word_bonus = weight, bonus
    hyps = [model.decode(lp, "beam") for lp in log_probs]
    refs = [u.text for u in utterances]

    def of(idx: list[int], kind: str) -> float:
        return error_rates([refs[i] for i in idx], [hyps[i] for i in idx])[kind] if idx else float("nan")

    return {"cer": error_rates(refs, hyps)["cer"],
            "digits": of([i for i, u in enumerate(utterances) if u.meta.get("kind") == "digits"], "cer"),
            "cards": of([i for i, u in enumerate(utterances) if u.split == "cards"], "wer")}


def report(path: str, splits: dict[str, list], weights: list[float], bonuses: list[float]) -> None:
    """Print the validation grid and the table (model's own setting, and the one chosen on validation)."""
    import rnnkit

    model = rnnkit.load(path)
    start = time.perf_counter()
    log_probs = {name: model.log_probs([u.samples for u in utts]) for name, utts in splits.items()}
    own = (model.config.lm_weight, model.config.word_bonus)
    val_cer = {}
    for weight, bonus in [*itertools.product(weights, bonuses), own]:
        if (weight, bonus) not in val_cer:
            val_cer[weight, bonus] = error_rates_of(model, log_probs["val"], splits["val"], weight, bonus)["cer"]
            print(f"{path}: validation CER {val_cer[weight, bonus]:.2f} % at lm_weight {weight}, word_bonus {bonus}",
                  flush=True)
    chosen = min(val_cer, key=val_cer.get)
    print(f"\n| {path} | lm_weight | word_bonus | validation CER % | held-out CER % | held-out digits CER % "
          "| real cards WER % |\n|---|---:|---:|---:|---:|---:|---:|")
    for label, (weight, bonus) in (("model's own", own), ("chosen on validation", chosen)):
        test = error_rates_of(model, log_probs["test"], splits["test"], weight, bonus)
        real = error_rates_of(model, log_probs["real"], splits["real"], weight, bonus)
        print(f"| {label} | {weight} | {bonus} | {val_cer[weight, bonus]:.2f} | {test['cer']:.2f} | "
              f"{test['digits']:.2f} | {real['cards']:.1f} |")
    print(f"({time.perf_counter() - start:.0f} s)\n", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", help="saved SpeechRecognizer folders")
    parser.add_argument("--lm-weights", type=_floats, default=[0.0, 0.3, 0.5, 0.8, 1.2])
    parser.add_argument("--word-bonuses", type=_floats, default=[0.0, 0.5, 1.0, 2.0])
    parser.add_argument("--train", type=int, default=1500)
    parser.add_argument("--val", type=int, default=150)
    parser.add_argument("--test", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from transcribe import corpus

    torch.set_num_threads(1)
    _, val, test, real = corpus(argparse.Namespace(train=args.train, val=args.val, test=args.test, seed=args.seed,
                                                   extra_voices=False))
    for path in args.models:
        report(path, {"val": val, "test": test, "real": real}, args.lm_weights, args.word_bonuses)


def _floats(text: str) -> list[float]:
    return [float(v) for v in text.split(",")]


if __name__ == "__main__":
    main()
