"""SIGTERM and SIGINT during :meth:`Trainer.fit`: finish the step, checkpoint, exit with a resume hint.

A pre-empted node, ``kill``, a batch scheduler's time limit and Ctrl-C all ask a run to stop.
While ``fit`` runs, the first SIGTERM or SIGINT only sets a flag: the Trainer finishes the
current optimizer step (at the next batch boundary, so the checkpoint resumes exactly), writes a
checkpoint when ``output_dir`` is set, prints how to resume and raises :class:`TrainingInterrupted`,
which ends the program with exit status 143 (SIGTERM) or 130 (SIGINT) when nobody catches it.
A second signal of the same kind while the first is being handled acts as it would without rnnkit.
"""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from types import FrameType
from typing import Any

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class TrainingInterrupted(SystemExit):
    """``fit`` was stopped by SIGTERM or SIGINT after finishing a step (a ``SystemExit``: uncaught,
    the program exits quietly with status ``128 + signal``, 143 or 130).

    Attributes:
        signal: the signal number.
        step: optimizer steps completed.
        checkpoint: the checkpoint written at the stop (``None`` without ``output_dir``).
    """

    def __init__(self, signum: int, step: int, checkpoint: Path | None, message: str) -> None:
        super().__init__(128 + signum)
        self.signal, self.step, self.checkpoint, self.message = signum, step, checkpoint, message

    def __str__(self) -> str:
        return self.message


class StopSignals:
    """Context manager that turns SIGTERM/SIGINT into a flag (``received``) while it is active.

    Does nothing outside the main thread (Python delivers signals there only) and leaves a signal
    alone whose handler is ``SIG_IGN`` (a process started with ``nohup`` or in the background).
    """

    def __init__(self) -> None:
        self.received: int | None = None
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():
            for signum in STOP_SIGNALS:
                current = signal.getsignal(signum)
                if current is not signal.SIG_IGN:
                    self._previous[signum] = current
                    signal.signal(signum, self._handle)
        return self

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.received is None:
            self.received = signum
            return
        # A second signal: behave as if rnnkit were not there (SIGINT -> KeyboardInterrupt, SIGTERM -> die).
        self.__exit__()
        signal.raise_signal(signum)

    def __exit__(self, *exc: object) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler if handler is not None else signal.SIG_DFL)
        self._previous.clear()


def resume_hint(signum: int, step: int, epoch: int, checkpoint: Path | None, output_dir: str | None) -> str:
    """The message printed when a signal stopped training."""
    name = signal.Signals(signum).name
    if checkpoint is None:
        return (f"rnnkit: training stopped by {name} after step {step} (epoch {epoch}); no output_dir was set, "
                "so nothing was saved to resume from.")
    return (f"rnnkit: training stopped by {name} after step {step} (epoch {epoch}); checkpoint written to "
            f"{checkpoint}. Resume exactly with Trainer(..., output_dir={output_dir!r}).fit(..., resume=True) "
            f"(CLI: the same command with --resume).")


__all__ = ["STOP_SIGNALS", "StopSignals", "TrainingInterrupted", "resume_hint"]
