"""One writer per output directory: a lock file holding the writer's pid and host.

``RunDirectory`` (every ``rnnkit <app> train``) and :meth:`rnnkit.Trainer.fit` with an
``output_dir`` take the lock ``<dir>/.rnnkit.lock`` for as long as they write, so a second
process aimed at the same directory fails at once with :class:`DirectoryLocked` instead of
mixing its rows and weights with the first one's.

Where ``fcntl`` exists (Linux, macOS) the lock is an ``flock`` on that file: the kernel releases
it when the holder exits, even by ``kill -9``, and the next writer takes the stale file over with
a warning naming the dead holder. Elsewhere the file is created exclusively and a holder whose
pid no longer runs on this host is taken over the same way. Taking the same directory again in
the same process (a Trainer inside an app's run directory) is allowed and counted.

This module imports nothing from rnnkit.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]

LOCK_FILE = ".rnnkit.lock"
_HELD: dict[str, list[Any]] = {}  # resolved directory -> [open file descriptor or None, count]


class DirectoryLocked(RuntimeError):
    """Another process is writing the same output directory."""


def _describe(holder: dict[str, Any]) -> str:
    started = holder.get("started")
    since = time.strftime(" since %Y-%m-%d %H:%M:%S", time.localtime(started)) if isinstance(started, float) else ""
    command = " ".join(str(a) for a in holder.get("argv", []))
    return f"process {holder.get('pid', '?')} on host {holder.get('host', '?')}{since}" + (
        f" ({command})" if command else "")


def _read(fd: int) -> dict[str, Any]:
    os.lseek(fd, 0, os.SEEK_SET)
    raw = b""
    while chunk := os.read(fd, 65536):
        raw += chunk
    try:
        holder = json.loads(raw.decode("utf-8")) if raw.strip() else {}
    except (UnicodeDecodeError, ValueError):
        holder = {}
    return holder if isinstance(holder, dict) else {}


def _pid_alive(pid: Any) -> bool:
    if not isinstance(pid, int):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class DirectoryLock:
    """Context manager holding ``<directory>/.rnnkit.lock``.

    Args:
        directory: the output directory (created if missing).
        what: the setting's name, for messages (``"output_dir"``).

    Raises:
        DirectoryLocked: on entry, when another live process holds the directory.

    Example:
        >>> with DirectoryLock("runs/a"):
        ...     ...  # write files in runs/a; another process entering it now gets DirectoryLocked
    """

    def __init__(self, directory: str | os.PathLike, *, what: str = "output_dir") -> None:
        self.directory = Path(directory)
        self.what = what
        self._key = ""

    @property
    def path(self) -> Path:
        return self.directory / LOCK_FILE

    def __enter__(self) -> DirectoryLock:
        self.directory.mkdir(parents=True, exist_ok=True)
        self._key = str(self.directory.resolve())
        if self._key in _HELD:  # this process holds it already
            _HELD[self._key][1] += 1
            return self
        fd = self._acquire_flock() if fcntl is not None else self._acquire_exclusive()
        _HELD[self._key] = [fd, 1]
        return self

    def __exit__(self, *exc: object) -> None:
        entry = _HELD.get(self._key)
        if entry is None:
            return
        entry[1] -= 1
        if entry[1] > 0:
            return
        del _HELD[self._key]
        fd = entry[0]
        try:
            self.path.unlink(missing_ok=True)  # unlink before unlocking, so no one locks a dead inode
        except OSError:
            pass
        if fd is not None:
            os.close(fd)

    # -------------------------------------------------------------------------------- flock
    def _acquire_flock(self) -> int:
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _read(fd)
                os.close(fd)
                raise self._locked(holder) from None
            try:  # the holder may have removed the file between our open and our lock: start again
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if not same:
                os.close(fd)
                continue
            self._take_over(fd)
            return fd

    # ------------------------------------------------------------------- exclusive create
    def _acquire_exclusive(self) -> None:
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                fd = os.open(self.path, os.O_RDONLY)
                holder = _read(fd)
                os.close(fd)
                if holder.get("host") == socket.gethostname() and not _pid_alive(holder.get("pid")):
                    self._warn_stale(holder)
                    self.path.unlink(missing_ok=True)
                    continue
                raise self._locked(holder) from None
            self._write(fd)
            os.close(fd)
            return None
        raise DirectoryLocked(f"{self.what}: could not take the lock {self.path}; another process keeps taking it")

    # ---------------------------------------------------------------------------- shared
    def _take_over(self, fd: int) -> None:
        holder = _read(fd)
        if holder and holder.get("pid") != os.getpid():
            self._warn_stale(holder)
        self._write(fd)

    def _write(self, fd: int) -> None:
        info = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.time(), "argv": sys.argv[:6]}
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, json.dumps(info).encode("utf-8"))
        os.fsync(fd)

    def _warn_stale(self, holder: dict[str, Any]) -> None:
        warnings.warn(f"{self.what}: {self.directory} had a stale lock from {_describe(holder)}, which is no longer "
                      "running; taking it over", stacklevel=4)

    def _locked(self, holder: dict[str, Any]) -> DirectoryLocked:
        return DirectoryLocked(
            f"{self.what}: {self.directory} is being written by {_describe(holder)}; wait for that run to finish "
            f"or choose another directory (if you are sure it is not running, delete {self.path})"
        )


@contextmanager
def waiting_lock(path: str | os.PathLike) -> Iterator[None]:
    """Hold an ``flock`` on ``path`` (created if missing), waiting for another holder to finish.

    For work several processes may start at once on first use (a kernel build, a synthesised
    corpus): the second one waits and then finds the first one's result. The kernel releases the
    lock when its holder dies, even by ``kill -9``. Without ``fcntl`` (Windows) it does nothing.

    Args:
        path: the lock file.

    Example:
        >>> with waiting_lock(cache / "corpus.flock"):  # doctest: +SKIP
        ...     build_unless_present(cache)
    """
    if fcntl is None:
        yield
        return
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


__all__ = ["LOCK_FILE", "DirectoryLock", "DirectoryLocked", "waiting_lock"]
