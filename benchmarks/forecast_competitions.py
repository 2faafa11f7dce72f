"""M3 and Tourism: rnnkit's global forecaster, statsforecast's models and their combination on the
official splits, every frequency, in one run (sMAPE as M3 defines it, MASE, MAPE; CPU seconds).

    python benchmarks/forecast_competitions.py --preset reduced     # 60 series per subset, minutes
    python benchmarks/forecast_competitions.py --preset full        # all 3,003 + 1,311 series

Writes ``competitions.md`` and ``competitions.csv`` to --out.
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

import pandas as pd
import torch

from rnnkit.data.competitions import SUBSETS, load_competition
from rnnkit.tasks.forecast.competitions import run_competition

PRESETS = {"reduced": {"series": 60, "max_steps": 300}, "full": {"series": None, "max_steps": 800}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", choices=sorted(PRESETS), default="reduced")
    parser.add_argument("--subsets", default=",".join(SUBSETS), help="comma-separated, e.g. m3-yearly,m3-monthly")
    parser.add_argument("--seeds", type=int, default=1, help="rnnkit networks averaged per subset")
    parser.add_argument("--max-steps", type=int, help="override the preset's training steps (LSTM)")
    parser.add_argument("--models", default="lstm,es-rnn", help="rnnkit models: lstm, es-rnn (comma-separated)")
    parser.add_argument("--statistical", default="AutoETS,AutoTheta,AutoARIMA,SeasonalNaive,Naive2",
                        help="statistical models run beside rnnkit (comma-separated)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", default="runs/bench-competitions")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    preset = PRESETS[args.preset]
    cpu = platform.processor() or platform.machine()
    print(f"machine: {cpu}, {torch.get_num_threads()} torch thread(s), torch {torch.__version__}; preset {args.preset}")
    rows = []
    for name in args.subsets.split(","):
        subset = load_competition(name)
        if preset["series"]:
            subset = subset.head(preset["series"], seed=0)
        start = time.perf_counter()
        result = run_competition(subset, seeds=args.seeds, models=tuple(args.models.split(",")),
                                 statistical=tuple(args.statistical.split(",")),
                                 rnn_options={"max_steps": args.max_steps or preset["max_steps"]})
        print(f"\n## {name}: {len(subset)} series, horizon {subset.horizon}, period {subset.season_length} "
              f"({time.perf_counter() - start:.0f} s wall)\n")
        table = pd.DataFrame(result.scores).T
        print(table.to_markdown(floatfmt=".3f"), flush=True)
        for method, scores in result.scores.items():
            rows.append({"subset": name, "series": len(subset), "method": method, **scores})
        # Written after every subset, so a run stopped part-way keeps what it finished.
        frame = pd.DataFrame(rows)
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        frame.to_csv(out / "competitions.csv", index=False)
    overall = []
    for competition in sorted({s.split("-")[0] for s in frame["subset"]}):
        part = frame[frame["subset"].str.startswith(competition)]
        # Averages over all series of the competition (each subset weighted by its series count).
        for method, group in part.groupby("method", sort=False):
            weights = group["series"]
            overall.append({"competition": competition, "method": method,
                            **{k: float((group[k] * weights).sum() / weights.sum()) for k in ("sMAPE", "MASE", "MAPE")},
                            "CPU s": float(group["CPU s"].sum())})
    summary = pd.DataFrame(overall)
    text = "\n\n".join(f"### {c} (all subsets run, series-weighted)\n\n" + summary[summary.competition == c]
                       .drop(columns="competition").set_index("method").to_markdown(floatfmt=".3f")
                       for c in summary["competition"].unique())
    (out / "competitions.md").write_text(f"machine: {cpu}; preset {args.preset}\n\n{text}\n")
    print("\n" + text)


if __name__ == "__main__":
    main()
