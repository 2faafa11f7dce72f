"""What ``backend="auto"`` learnt from measurement: where a backend beats the default order's pick.

:data:`AUTO_ORDER <rnnkit.backends.AUTO_ORDER>` ranks backends by what they can run (PyTorch's
kernel, then the scan, then rnnkit's compiled kernels, then the loop). Measurement
(``rnnkit bench speed``, tables in the README) shows cases where that rank is wrong for a device,
cell and size; each is a :class:`Preference` here, consulted first, and its evidence is appended
to ``layer.backend.reason``. Nothing here is guessed: each entry cites the measurement behind it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


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
    """Prefer ``backend`` for exact instances of ``cell`` on ``device`` when ``when(workload)`` holds.

    Attributes:
        device: device type this was measured on.
        cell: the cell class's name (exact class: a subclass may change the step).
        backend: the backend to prefer (still subject to its own conditions, e.g. kernels built).
        when: condition on the :class:`Workload`; unknown fields must be handled (``None``).
        evidence: the sentence appended to the reason: what was measured, how, where.
    """

    device: str
    cell: str
    backend: str
    when: Callable[[Workload], bool]
    evidence: str

    def matches(self, cell: object, workload: Workload) -> bool:
        """Whether this preference is about ``cell``'s exact class on ``workload``'s device and applies."""
        return type(cell).__name__ == self.cell and workload.device == self.device and self.when(workload)


#: Measured preferences, consulted in order by ``choose_backend``.
PREFERENCES: tuple[Preference, ...] = ()
