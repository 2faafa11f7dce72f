"""Replace a whole directory atomically: write a new one beside it, then swap it in.

Used by :func:`rnnkit.serialization.save`. Names beside ``target`` (all hidden)::

    .<name>.new-<pid>-<token>/   being written; swapped in when complete
    .<name>.old-<pid>-<token>/   the previous directory, moved aside during a two-rename swap

On Linux the swap is one ``renameat2(..., RENAME_EXCHANGE)`` system call: at every instant
``target`` is either the old directory or the new one. Where that call is missing (other
systems, some file systems) the old directory is renamed aside and the new one renamed into
place; a process killed between those two renames leaves no ``target`` but a complete
``.<name>.old-*`` beside it, which :func:`interrupted_copy` finds (:func:`rnnkit.load` reads it)
and :func:`clean_leftovers` (run by the next save) moves back or deletes.

This module imports nothing from rnnkit.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
import secrets
import shutil
from pathlib import Path

_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def _leftovers(target: Path, kind: str) -> list[tuple[Path, int]]:
    """``(path, pid)`` of the ``.<name>.<kind>-<pid>-<token>`` entries beside ``target``."""
    found = []
    for entry in target.parent.glob(f".{target.name}.{kind}-*"):
        pid = entry.name[len(f".{target.name}.{kind}-"):].partition("-")[0]
        if pid.isdigit():
            found.append((entry, int(pid)))
    return sorted(found)


def staging_dir(target: Path) -> Path:
    """A new, empty hidden directory beside ``target`` to write the replacement into."""
    target.parent.mkdir(parents=True, exist_ok=True)
    path = target.parent / f".{target.name}.new-{os.getpid()}-{secrets.token_hex(4)}"
    path.mkdir()
    return path


def interrupted_copy(target: Path, marker: str) -> Path | None:
    """When ``target`` is missing because a two-rename swap was killed halfway, the previous
    directory (the ``.old-*`` holding ``marker``), else ``None``."""
    if target.exists():
        return None
    for entry, _ in reversed(_leftovers(target, "old")):
        if (entry / marker).is_file():
            return entry
    return None


def clean_leftovers(target: Path, marker: str) -> list[Path]:
    """Undo what a killed save left beside ``target`` (only entries of processes no longer alive).

    A previous directory moved aside with no ``target`` in its place is moved back first; then
    every dead process's ``.new-*`` and ``.old-*`` entry is deleted.

    Returns:
        The entries removed.
    """
    orphan = interrupted_copy(target, marker)
    if orphan is not None:
        os.rename(orphan, target)
    removed = []
    for kind in ("new", "old"):
        for entry, pid in _leftovers(target, kind):
            if not _pid_alive(pid):
                shutil.rmtree(entry, ignore_errors=True)
                removed.append(entry)
    return removed


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two paths with ``renameat2(RENAME_EXCHANGE)``; ``False`` where unsupported."""
    name = ctypes.util.find_library("c")
    if name is None or not hasattr(os, "fork"):
        return False
    try:
        libc = ctypes.CDLL(name, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV):
        return False
    raise OSError(code, f"renameat2({a}, {b}): {os.strerror(code)}")


def replace_directory(staging: Path, target: Path) -> None:
    """Put the complete directory ``staging`` at ``target``, replacing what was there.

    The previous directory is deleted once the new one is in place.
    """
    _fsync_dir(staging)
    if not target.exists():
        os.rename(staging, target)
    elif _exchange(staging, target):
        shutil.rmtree(staging, ignore_errors=True)  # staging now holds the previous directory
    else:
        aside = target.parent / f".{target.name}.old-{os.getpid()}-{secrets.token_hex(4)}"
        os.rename(target, aside)
        os.rename(staging, target)
        shutil.rmtree(aside, ignore_errors=True)
    _fsync_dir(target.parent)


__all__ = ["clean_leftovers", "interrupted_copy", "replace_directory", "staging_dir"]
