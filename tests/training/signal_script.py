"""A small training run for the signal tests: `python signal_script.py OUT [--resume] [--no-output] [--wait-at N]`.

Prints `step N` after every optimizer step (so the test knows when to send its signal) and
slows each step a little, so that the signal arrives mid-run. :func:`train` is the same run in
the calling process (the uninterrupted reference).
"""

from __future__ import annotations

import argparse
import time

import torch

from rnnkit import Trainer
from rnnkit.models import RecurrentRegressor
from rnnkit.tasks.synthetic import make_recall_data


class Announce:
    """Prints each step; at ``wait_at`` it waits (up to 60 s) until the test's signal has arrived, so the
    signal lands mid-run however late a loaded machine lets the test read the line."""

    def __init__(self, wait_at: int | None = None) -> None:
        self.wait_at = wait_at

    def on_step_end(self, trainer, step, row):
        print(f"step {step}", flush=True)
        time.sleep(0.01)
        if step == self.wait_at:
            deadline = time.monotonic() + 60
            while trainer._signals.received is None and time.monotonic() < deadline:
                time.sleep(0.01)


def train(out: str | None, *, resume: bool = False, announce: bool = True,
          wait_at: int | None = None) -> dict[str, torch.Tensor]:
    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = RecurrentRegressor("lstm", 1, 8, 1, num_layers=2, dropout=0.3)
    train_data, val = make_recall_data(64, 6, seed=0), make_recall_data(16, 6, seed=1)
    trainer = Trainer(
        max_epochs=3, batch_size=8, lr=1e-2, optimizer="adamw", scheduler="cosine", seed=7, deterministic=True,
        output_dir=out, keep_last_checkpoints=1, progress_bar=False, plot=False,
        callbacks=[Announce(wait_at)] if announce else [],
    )
    trainer.fit(model, train_data, val, resume=resume)
    return model.state_dict()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--no-output", action="store_true")
    parser.add_argument("--wait-at", type=int, help="at this step, wait for the test's signal")
    args = parser.parse_args()
    weights = train(None if args.no_output else args.out, resume=args.resume, wait_at=args.wait_at)
    torch.save(dict(weights), f"{args.out}.weights.pt")
    print("done", flush=True)
