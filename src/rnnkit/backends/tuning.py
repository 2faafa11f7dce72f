"""What ``backend="auto"`` learnt from measurement: where a backend beats the default order's pick.

:data:`AUTO_ORDER <rnnkit.backends.AUTO_ORDER>` ranks backends by what they can run (PyTorch's
kernel, then the scan, then rnnkit's compiled kernels, then the loop). Measurement
(``rnnkit bench speed``, tables in the docs) shows cases where that rank is wrong for a device,
cell and size. Each such case is a row of the data table ``preferences.json`` beside this module
(read at first use), with the machine and date it was measured on; a row's conditions are data
(thread count, grad mode, a bound on batch x hidden, parameter dtypes), never code. Its evidence
is appended to ``layer.backend.reason``. Nothing in the table is guessed: each row cites the
measurement behind it.

Where auto-tuning is on (:mod:`rnnkit.backends.autotune`), a measurement on this machine comes
first; this table is the fallback and the default where tuning is off.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path

#: The data table of measured preferences (JSON, shipped with the package).
TABLE = Path(__file__).with_name("preferences.json")


@dataclass(frozen=True)
class Workload:
    """What a layer is about to run, as far as it is known (``None``: unknown).

    Attributes:
        device: device type of the parameters, ``"cpu"`` or ``"cuda"``.
        batch: sequences in the batch.
        steps: time steps.
        grad: whether gradients will be taken (training) or not (inference).
    """

    device: str = "cpu"
    batch: int | None = None
    steps: int | None = None
    grad: bool | None = None


@dataclass(frozen=True)
class Preference:
    """Prefer ``backend`` for exact instances of ``cell`` on ``device`` where the row's conditions hold.

    Attributes:
        device: device type this was measured on.
        cell: the cell class's name (exact class: a subclass may change the step).
        backend: the backend to prefer (still subject to its own conditions, e.g. kernels built).
        evidence: the sentence appended to the reason: what was measured, how, where.
        threads: the intra-op thread count it was measured at (``None``: any). With other counts,
            oneDNN and the GEMMs split each step differently, so it applies only where measured.
        grad: ``True`` training only, ``False`` inference only, ``None`` both.
        max_batch_x_hidden: applies only while ``batch * hidden_size`` is at most this (``None``: any size).
        dtypes: parameter dtypes it was checked in (``()``: any).
        machine: the machine it was measured on.
        date: the day it was measured.
    """

    device: str
    cell: str
    backend: str
    evidence: str
    threads: int | None = None
    grad: bool | None = None
    max_batch_x_hidden: int | None = None
    dtypes: tuple[str, ...] = ()
    machine: str = ""
    date: str = ""

    def matches(self, cell: object, workload: Workload) -> bool:
        """Whether this preference is about ``cell``'s exact class on ``workload``'s device and applies.

        Unknown workload fields (``None``) never match a condition on them.
        """
        if type(cell).__name__ != self.cell or workload.device != self.device:
            return False
        if self.threads is not None:
            import torch

            if torch.get_num_threads() != self.threads:
                return False
        if self.grad is not None and workload.grad is not self.grad:
            return False
        if self.max_batch_x_hidden is not None and (
            workload.batch is None or workload.batch * cell.hidden_size > self.max_batch_x_hidden  # type: ignore[attr-defined]
        ):
            return False
        if self.dtypes:
            parameter = next(cell.parameters(), None)  # type: ignore[attr-defined]
            if parameter is None or str(parameter.dtype).removeprefix("torch.") not in self.dtypes:
                return False
        return True


def read_preferences(path: Path = TABLE) -> tuple[Preference, ...]:
    """Read a table of measured preferences (the format of ``preferences.json``).

    Args:
        path: the JSON file: ``{"sources": {id: {"machine", "date", "how"}}, "preferences": [row, ...]}``,
            each row with ``device``, ``cell``, ``backend``, ``evidence``, ``source`` and optional conditions.

    Returns:
        The rows in file order, each row's evidence followed by its source's ``how``.

    Example:
        >>> read_preferences()[0].cell
        'GRUCell'
    """
    table = json.loads(Path(path).read_text())
    sources = table["sources"]
    rows = []
    for row in table["preferences"]:
        source = sources[row["source"]]
        rows.append(Preference(
            device=row["device"], cell=row["cell"], backend=row["backend"],
            evidence=f"{row['evidence']}, {source['how']}", threads=row.get("threads"), grad=row.get("grad"),
            max_batch_x_hidden=row.get("max_batch_x_hidden"), dtypes=tuple(row.get("dtypes", ())),
            machine=source["machine"], date=source["date"],
        ))
    return tuple(rows)


@functools.cache
def measured_preferences() -> tuple[Preference, ...]:
    """The shipped table :data:`TABLE`, read once at first use."""
    return read_preferences()


def __getattr__(name: str):
    if name == "PREFERENCES":  # the table, read on first access
        return measured_preferences()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
