"""Peak memory of truncated BPTT as the sequence grows: it must stay flat.

Trains an LSTM (B=4, H=32) with the Trainer on ONE sequence per length — 10^4, 10^5 and 10^6
steps by default — with ``tbptt_steps=100``, and, for contrast, full BPTT on the shorter lengths.
Each run happens in a fresh process and reports that process's peak resident set size (``VmHWM``
in ``/proc/self/status``, which counts everything torch allocates on the CPU; tracemalloc would
miss torch's C++ allocations). Not ``getrusage().ru_maxrss``: Linux carries the parent's peak into
it across fork and exec, so a child of a large process would report its parent's peak.

The sequence is generated chunk by chunk (the model's ``time_slice`` synthesises steps
``[start, stop)`` of a noisy sine), so the input itself takes no memory that grows with length:
what is measured is the training, not the data.

    python benchmarks/tbptt_memory.py                        # 1e4, 1e5, 1e6 steps
    python benchmarks/tbptt_memory.py --lengths 1000 5000    # quick
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import torch
from torch.nn import functional as F

from rnnkit import Trainer
from rnnkit.models import RecurrentRegressor

BATCH, HIDDEN = 4, 32


class StreamingSine(RecurrentRegressor):
    """Predicts the next value of a noisy sine whose steps are generated per chunk, never stored whole.

    A batch is ``{"phase": (B,), "length": (B,)}``; ``time_slice`` makes steps ``[start, stop)``.
    """

    def sequence_length(self, batch: dict) -> int:
        return int(batch["length"][0])

    def time_slice(self, batch: dict, start: int, stop: int) -> tuple[torch.Tensor, torch.Tensor]:
        t = torch.arange(start, stop + 1, dtype=torch.float32)
        generator = torch.Generator().manual_seed(start)
        wave = torch.sin(0.05 * t + batch["phase"].unsqueeze(1)) + 0.1 * torch.randn(
            len(batch["phase"]), len(t), generator=generator)
        return wave[:, :-1].unsqueeze(-1), wave[:, 1:].unsqueeze(-1)

    def training_step(self, batch, state=None):
        if isinstance(batch, dict):  # full BPTT: the whole sequence as one chunk
            batch = self.time_slice(batch, 0, self.sequence_length(batch))
        x, y = batch
        prediction, state = self(x, state)
        return F.mse_loss(prediction, y), state


def peak_rss_mib() -> float:
    """This process's peak resident set size in MiB (``VmHWM``; ``ru_maxrss`` where there is no /proc)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def run_one(length: int, tbptt: int | None) -> dict:
    torch.manual_seed(0)
    torch.set_num_threads(1)
    model = StreamingSine("lstm", 1, HIDDEN, 1, per_step=True)
    batch = {"phase": torch.linspace(0, 3, BATCH), "length": torch.full((BATCH,), length)}
    trainer = Trainer(max_epochs=1, tbptt_steps=tbptt, lr=1e-3, progress_bar=False, plot=False)
    start = time.perf_counter()
    result = trainer.fit(model, [batch])
    return {
        "length": length,
        "mode": f"TBPTT k={tbptt}" if tbptt else "full BPTT",
        "peak_rss_mib": peak_rss_mib(),
        "steps": result.steps,
        "seconds": time.perf_counter() - start,
    }


#: A process that only imports torch and rnnkit, printing its peak resident memory (VmHWM, kB; Linux).
IMPORT_PROBE = ("import rnnkit, torch; print(next(line.split()[1] for line in open('/proc/self/status') "
                "if line.startswith('VmHWM:')))")


def import_baseline_mib(env: dict[str, str] | None = None) -> float:
    """Peak resident memory (MiB) of a fresh process that only imports torch and rnnkit."""
    done = subprocess.run([sys.executable, "-c", IMPORT_PROBE], capture_output=True, text=True, check=True, env=env)
    return float(done.stdout) / 1024


def child_run(length: int, tbptt: int | None, env: dict[str, str] | None = None) -> dict:
    """:func:`run_one` in a fresh process, as the table measures it (its peak is that run's alone)."""
    done = subprocess.run([sys.executable, __file__, "--child", str(length), str(tbptt or 0)], capture_output=True,
                          text=True, check=True, env=env)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lengths", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--tbptt", type=int, default=100, help="k (default 100)")
    parser.add_argument("--full-up-to", type=int, default=100_000, help="also run full BPTT up to this length")
    parser.add_argument("--child", nargs=2, type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        length, k = args.child
        print(json.dumps(run_one(length, k or None)))
        return

    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    runs = [(n, args.tbptt) for n in args.lengths] + [(n, 0) for n in args.lengths if n <= args.full_up_to]
    baseline = import_baseline_mib(env)
    print(f"LSTM B={BATCH} H={HIDDEN}, one sequence per run, fresh process each; peak RSS (VmHWM).")
    print(f"A process that only imports torch and rnnkit peaks at {baseline:.0f} MiB.\n")
    print(f"| {'mode':<14} | {'steps T':>9} | {'optimizer steps':>15} | {'peak RSS MiB':>12} "
          f"| {'above import':>12} | {'s':>6} |")
    print(f"|{'-' * 16}|{'-' * 11}|{'-' * 17}|{'-' * 14}|{'-' * 14}|{'-' * 8}|")
    for length, k in runs:
        done = subprocess.run([sys.executable, __file__, "--child", str(length), str(k)],
                              capture_output=True, text=True, env=env)
        if done.returncode != 0:
            print(f"| {'TBPTT' if k else 'full BPTT':<14} | {length:>9} | failed: {done.stderr.strip()[-80:]}")
            continue
        row = json.loads(done.stdout.strip().splitlines()[-1])
        print(f"| {row['mode']:<14} | {length:>9} | {row['steps']:>15} | {row['peak_rss_mib']:>12.0f} | "
              f"{row['peak_rss_mib'] - baseline:>12.0f} | {row['seconds']:>6.1f} |")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
