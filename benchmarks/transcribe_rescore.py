"""Score saved speech models again (held-out voices and real clips, greedy and beam) without training.

For models saved by ``benchmarks/transcribe.py --save DIR``, after a change to decoding::

    python benchmarks/transcribe_rescore.py --json rescored.json models/streaming models/bidirectional

Use the same ``--train/--val/--test/--seed`` as the run that trained them (the corpus).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", help="saved SpeechRecognizer folders")
    parser.add_argument("--train", type=int, default=1500)
    parser.add_argument("--val", type=int, default=150)
    parser.add_argument("--test", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", help="write the rows to this JSON file")
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import rnnkit
    from transcribe import corpus, score_model

    torch.set_num_threads(1)
    _, _, test, real = corpus(argparse.Namespace(train=args.train, val=args.val, test=args.test, seed=args.seed,
                                                 extra_voices=False))
    rows = {}
    for path in args.models:
        for decoder, row in score_model(rnnkit.load(path), test, real).items():
            rows[f"{path} ({decoder})"] = row
            print(f"{path} ({decoder}): " + ", ".join(f"{k} {v:.2f}" for k, v in row.items()), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps({"rows": rows}, indent=1))


if __name__ == "__main__":
    main()
