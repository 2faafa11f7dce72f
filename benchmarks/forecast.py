"""Forecast accuracy benchmark: rnnkit's recurrent forecaster against naive, seasonal naive, ETS and
ARIMA on three real series, each backtested at the same rolling origins near the series' end.

Datasets (last part held out, --origins origins one horizon apart, no forecast sees data past its origin):
  sunspots  monthly, horizon 24, season 132 (the ~11-year solar cycle)
  taylor    half-hourly electricity demand, horizon 48 (one day), season 336 (one week)
  co2       weekly Mauna Loa CO2 with missing weeks, horizon 52, season 52

Targets (issue 4): the RNN's MASE beats seasonal naive on all three and matches or beats ETS on at
least two. The script prints the table and says which targets hold in this run.

Usage: python benchmarks/forecast.py [--datasets sunspots,taylor,co2] [--seeds 1] [--out runs/bench-forecast]
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

import pandas as pd
import torch

from rnnkit.data.datasets import load_dataset
from rnnkit.data.timeseries import to_collection
from rnnkit.tasks.forecast import Forecaster
from rnnkit.tasks.forecast.pipeline import format_table, run_pipeline

SETUPS = {
    "sunspots": {"context_length": 144, "hidden_size": 48, "max_steps": 800},
    "taylor": {"context_length": 336, "hidden_size": 64, "max_steps": 1000},
    "co2": {"context_length": 208, "hidden_size": 64, "max_steps": 1000},
}
BASELINES = ("naive", "seasonal_naive", "ets", "arima")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", default=",".join(SETUPS))
    parser.add_argument("--seeds", type=int, default=1, help="train the RNN with this many seeds (mean reported)")
    parser.add_argument("--max-steps", type=int, help="override the training steps of every setup")
    parser.add_argument("--origins", type=int, default=5, help="rolling origins, one horizon apart (default 5)")
    parser.add_argument("--ensemble", type=int, default=1, help="networks averaged per forecaster (default 1)")
    parser.add_argument("--no-baselines", action="store_true", help="only the RNN (the baselines do not change)")
    parser.add_argument("--out", default="runs/bench-forecast")
    args = parser.parse_args()
    print(f"machine: {platform.machine()}, {torch.get_num_threads()} threads, torch {torch.__version__}")
    summary = []
    for name in args.datasets.split(","):
        y, info = load_dataset(name)
        collection = to_collection(y)
        tables = []
        for seed in range(args.seeds):
            options = {**SETUPS[name], "seed": seed, "ensemble": args.ensemble}
            if args.max_steps:
                options["max_steps"] = args.max_steps
            forecaster = Forecaster(info.horizon, season_length=info.season_length, **options)
            start = time.perf_counter()
            report = run_pipeline(collection, forecaster, name=name, origins=args.origins,
                                  baseline_names=BASELINES if seed == 0 and not args.no_baselines else (),
                                  verbose=False,
                                  out_dir=Path(args.out) / name if seed == 0 else None)
            print(f"{name} seed {seed}: {time.perf_counter() - start:.0f} s")
            tables.append(report.table)
        rnn = pd.concat([t.iloc[:1] for t in tables])
        table = pd.concat([rnn.mean().to_frame(rnn.index[0]).T, tables[0].iloc[1:]])
        if args.seeds > 1:
            table.loc[rnn.index[0], "mase_sd"] = rnn["mase"].std()
        print(f"\n## {name} (horizon {info.horizon}, season {info.season_length}, {args.origins} origins, "
              f"{args.seeds} seed(s))\n")
        print(format_table(table))
        mase = table["mase"]
        if args.no_baselines:
            summary.append({"dataset": name, "rnn_mase": mase.iloc[0]})
            continue
        summary.append({"dataset": name, "rnn_mase": mase.iloc[0], "seasonal_naive_mase": mase["seasonal_naive"],
                        "ets_mase": mase["ets"], "beats_seasonal_naive": mase.iloc[0] < mase["seasonal_naive"],
                        "matches_or_beats_ets": mase.iloc[0] <= mase["ets"]})
    summary = pd.DataFrame(summary).set_index("dataset")
    print("\n## targets\n")
    print(summary.to_markdown(floatfmt=".3f"))
    if args.no_baselines:
        return
    print(f"\nRNN beats seasonal naive on all: {bool(summary['beats_seasonal_naive'].all())}; "
          f"matches or beats ETS on {int(summary['matches_or_beats_ets'].sum())} of {len(summary)}")


if __name__ == "__main__":
    main()
