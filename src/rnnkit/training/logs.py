"""What a user sees during and after training: progress bar, CSV and TensorBoard logs, curve plots."""

from __future__ import annotations

import csv
import sys
from pathlib import Path
from typing import Any

# The one training-curve plot lives in rnnkit.plots; the Trainer imports it from here.
from rnnkit.plots import plot_training_curves  # noqa: F401


class CSVLog:
    """``metrics.csv``: one row per logged step or validation, columns added as new metrics appear.

    Rows are appended and flushed at once, so a killed run keeps everything it logged. When a
    metric first appears the file is rewritten with the wider header (rare: the first validation).
    """

    def __init__(self, path: Path, *, resume_step: int | None = None) -> None:
        self.path = path
        self.columns: list[str] = []
        self.rows: list[dict[str, Any]] = []
        if resume_step is not None and path.exists():
            # A resumed run repeats the steps after its checkpoint: drop their rows from the killed run.
            with path.open(newline="") as handle:
                reader = csv.DictReader(handle)
                self.columns = list(reader.fieldnames or [])
                self.rows = [row for row in reader if row.get("step") and int(row["step"]) <= resume_step]
            self._rewrite()
        elif path.exists():
            path.unlink()

    def log(self, row: dict[str, Any]) -> None:
        new = [key for key in row if key not in self.columns]
        self.rows.append(row)
        if new or not self.path.exists():
            self.columns += new
            self._rewrite()
            return
        with self.path.open("a", newline="") as handle:
            csv.DictWriter(handle, fieldnames=self.columns).writerow(row)

    def _rewrite(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".csv.tmp")
        with tmp.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=self.columns)
            writer.writeheader()
            writer.writerows(self.rows)
        tmp.replace(self.path)


class TensorBoardLog:
    """TensorBoard event files under ``output_dir/tensorboard`` (``pip install rnnkit[tensorboard]``)."""

    def __init__(self, directory: Path, *, purge_step: int | None = None) -> None:
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            raise ImportError(
                "tensorboard: logging to TensorBoard needs the tensorboard package; "
                "pip install 'rnnkit[tensorboard]' or set tensorboard=False"
            ) from None
        self.writer = SummaryWriter(str(directory), purge_step=purge_step)

    def log(self, row: dict[str, Any]) -> None:
        step = row["step"]
        for key, value in row.items():
            if key not in ("step", "epoch") and isinstance(value, (int, float)) and value == value:
                self.writer.add_scalar(key, value, step)

    def close(self) -> None:
        self.writer.close()


class Progress:
    """A tqdm bar with loss, monitored metric and throughput; silent unless enabled."""

    def __init__(self, enabled: bool | None, *, total: int | None, initial: int) -> None:
        if enabled is None:
            enabled = sys.stderr.isatty()
        self.bar = None
        if enabled:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, initial=initial, unit="step", dynamic_ncols=True, leave=True)

    def update(self, steps: int, **values: Any) -> None:
        if self.bar is not None:
            self.bar.update(steps)
            self.bar.set_postfix({k: _short(v) for k, v in values.items() if v is not None}, refresh=False)

    def write(self, text: str) -> None:
        if self.bar is not None:
            self.bar.write(text)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _short(value: Any) -> Any:
    return f"{value:.4g}" if isinstance(value, float) else value
