"""Vanishing gradients, measured: ‖∂L/∂h_t‖ across time for an Elman RNN and an LSTM on `recall`.

The `recall` task's answer is the first of T noise values, so the loss depends on step 0 only
through T recurrent steps. For each cell, the script measures the gradient flow on a held-out
batch at initialisation and after training with the Trainer, prints the norms at the first,
middle and last step with the first/last ratio, the validation MSE (predicting 0 scores 1/3),
and writes a PNG of all four curves.

    python benchmarks/gradient_flow.py                    # T=50, 20 epochs
    python benchmarks/gradient_flow.py --steps 100 --epochs 30 --output flow.png
"""

from __future__ import annotations

import argparse

from rnnkit import Trainer
from rnnkit.diagnostics import gradient_flow, plot_gradient_flow
from rnnkit.tasks.synthetic import RecallConfig, build_recall
from rnnkit.training import seed_everything


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=50, help="sequence length T (default 50)")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--hidden-size", type=int, default=32)
    parser.add_argument("--train-size", type=int, default=2048)
    parser.add_argument("--cells", default="elman,lstm")
    parser.add_argument("--output", default="gradient_flow.png")
    args = parser.parse_args()

    flows = {}
    rows = []
    for cell in args.cells.split(","):
        seed_everything(0)
        config = RecallConfig(cell=cell, steps=args.steps, hidden_size=args.hidden_size, train_size=args.train_size)
        setup = build_recall(config, seed=0)
        batch = tuple(setup.val_data.tensors)
        trainer = Trainer(max_epochs=args.epochs, batch_size=32, lr=3e-3, clip_grad_norm=1.0, scheduler="cosine",
                          progress_bar=False)
        for when in ("init", "trained"):
            if when == "trained":
                trainer.fit(setup.model, setup.train_data, setup.val_data)
            setup.model.eval()  # no dropout here anyway; eval keeps the measurement deterministic
            flow = gradient_flow(setup.model, batch)
            setup.model.zero_grad(set_to_none=True)
            mse = trainer.evaluate(setup.model, setup.val_data)["loss"]
            norms = flow.norms[0]
            rows.append((cell, when, mse, float(norms[0]), float(norms[len(norms) // 2]), float(norms[-1]),
                         flow.decay()[0]))
            flows[f"{cell} ({when})"] = flow

    steps = args.steps
    print(f"recall, T={steps}, H={args.hidden_size}, {args.train_size} training sequences, {args.epochs} epochs; "
          f"mean over 256 held-out sequences of ‖∂L/∂h_t‖ (float32, CPU)\n")
    print(f"| cell | when | val MSE | t=0 | t={steps // 2} | t={steps - 1} | t=0 / t={steps - 1} |")
    print("|---|---|---|---|---|---|---|")
    for cell, when, mse, first, middle, last, ratio in rows:
        print(f"| {cell} | {when} | {mse:.4f} | {first:.2e} | {middle:.2e} | {last:.2e} | {ratio:.1e} |")
    plot_gradient_flow(flows, args.output, title=f"recall, T={steps}: gradient reaching each step")
    print(f"\nwrote {args.output}")


if __name__ == "__main__":
    main()
