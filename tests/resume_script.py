"""A small training run for the exact-resume test: `python resume_script.py OUT [--kill-at STEP] [--resume]`.

With --kill-at the process SIGKILLs itself right after that optimizer step (mid-epoch, after
some checkpoints and before others), as an out-of-memory killer or a pre-empted node would.
"""

import argparse
import os
import signal

import torch

from rnnkit import Trainer
from rnnkit.models import RecurrentRegressor
from rnnkit.tasks.synthetic import make_recall_data

parser = argparse.ArgumentParser()
parser.add_argument("out")
parser.add_argument("--kill-at", type=int)
parser.add_argument("--resume", action="store_true")
parser.add_argument("--loader", action="store_true", help="give a ready DataLoader instead of a Dataset")
args = parser.parse_args()
torch.set_num_threads(1)


class KillAt:
    def on_step_end(self, trainer, step, row):
        if step == args.kill_at:
            os.kill(os.getpid(), signal.SIGKILL)


torch.manual_seed(0)
model = RecurrentRegressor("lstm", 1, 8, 1, num_layers=2, dropout=0.3)  # dropout: the RNG must be restored too
train, val = make_recall_data(64, 6, seed=0), make_recall_data(16, 6, seed=1)
if args.loader:
    train = torch.utils.data.DataLoader(train, batch_size=8, shuffle=True)
trainer = Trainer(
    max_epochs=3, batch_size=8, lr=1e-2, optimizer="adamw", weight_decay=0.01, scheduler="cosine", seed=7,
    deterministic=True, output_dir=args.out, checkpoint_every_n_steps=3, keep_last_checkpoints=2, log_every_n_steps=2,
    progress_bar=False, plot=False, callbacks=[KillAt()] if args.kill_at else [],
)
trainer.fit(model, train, val, resume=args.resume)
