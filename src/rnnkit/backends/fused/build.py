"""Building and loading rnnkit's CPU kernels (one C++ library, compiled on first use, cached).

The kernels (``csrc/``) are compiled once per machine with ``torch.utils.cpp_extension.load`` into
a user cache directory (``$RNNKIT_CACHE_DIR``, else ``$XDG_CACHE_HOME/rnnkit``, else
``~/.cache/rnnkit``), under a name hashed from the sources, the flags, the torch and Python
versions and the CPU's instruction set (the build uses ``-march=native``), so a change of any of
them builds anew and a cached build is never loaded where it does not belong. The build is
announced on stderr ("building rnnkit CPU kernels, once, ...") with its duration; it is never
silent. Once built, the library is published under a name carrying its SHA-256
(:func:`cached_library`), and later processes load it with ``torch.ops.load_library`` directly,
without ninja or ``cpp_extension`` (milliseconds instead of 0.2-17 s). Where no C++ compiler (or
no ``ninja``) is found, or ``RNNKIT_NO_KERNELS=1`` is set, or
the build failed, :func:`kernels_unavailable` says why, and ``backend="auto"`` runs the reference
loop with that reason in ``layer.backend.reason``.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch

SOURCE_DIR = Path(__file__).parent / "csrc"
SOURCES = ("common.h", "lstm.h", "gru.h", "simple.h", "scan.h", "linear.h", "kernels.cpp")
CFLAGS = ("-O3", "-march=native", "-fopenmp-simd", "-fno-math-errno", "-fno-trapping-math")
#: Seconds the build took on the development machine (2 shared cores), for the announcement.
TYPICAL_BUILD_SECONDS = 20

_state: dict[str, object] = {"loaded": False, "failure": None}


def cache_dir() -> Path:
    """Where built kernels are kept: ``$RNNKIT_CACHE_DIR``, ``$XDG_CACHE_HOME/rnnkit`` or ``~/.cache/rnnkit``."""
    if os.environ.get("RNNKIT_CACHE_DIR"):
        return Path(os.environ["RNNKIT_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "rnnkit"


def _cpu_signature() -> str:
    try:  # the instruction-set flags decide what -march=native emits
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("flags", "Features")):
                return line
    except OSError:
        pass
    return platform.processor() or platform.machine()


def build_name() -> str:
    """The library's name: ``rnnkit_cpu_<hash of sources, flags, versions and CPU>``."""
    digest = hashlib.sha256()
    for name in SOURCES:
        digest.update((SOURCE_DIR / name).read_bytes())
    digest.update(" ".join(CFLAGS).encode())
    digest.update(f"{torch.__version__} {sys.version_info[:2]} {_cpu_signature()}".encode())
    return f"rnnkit_cpu_{digest.hexdigest()[:16]}"


def _library_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def cached_library() -> Path | None:
    """The built library of this exact build (:func:`build_name`), if one is cached and intact.

    A build publishes a copy of its library under a name that carries the copy's SHA-256 and a
    ``<build name>.ready`` file naming it; ninja never writes to that copy, so another process
    rebuilding (a checkout elsewhere, a changed flag) cannot leave it half-written. Returns the
    copy only when its bytes still hash to the recorded digest.
    """
    name = build_name()
    ready = cache_dir() / "kernels" / name / f"{name}.ready"
    try:
        record = json.loads(ready.read_text())
        library = ready.parent / record["library"]
        if _library_digest(library) == record["sha256"]:
            return library
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return None


def _publish(directory: Path, name: str) -> None:
    """Copy the freshly built library to an immutable, hash-named file and record it in ``<name>.ready``."""
    built = directory / f"{name}.so"
    if not built.exists():
        return
    try:
        data = built.read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        library = directory / f"{name}-{digest[:16]}.so"
        if not library.exists() or _library_digest(library) != digest:
            _atomic_write(library, data)
        _atomic_write(directory / f"{name}.ready", json.dumps({"library": library.name, "sha256": digest}).encode())
    except OSError:  # a read-only cache: the next process builds through ninja again, no harm
        pass


def _atomic_write(path: Path, data: bytes) -> None:
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
        os.chmod(temporary, 0o755)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def compiler() -> str | None:
    """The C++ compiler ``torch.utils.cpp_extension`` would use, if one is installed."""
    wanted = os.environ.get("CXX")
    if wanted:
        return shutil.which(wanted)
    return shutil.which("c++") or shutil.which("g++") or shutil.which("clang++")


def kernels_unavailable() -> str | None:
    """Why the CPU kernels cannot run here (``None``: they can; built or buildable). Cheap: never builds."""
    if os.environ.get("RNNKIT_NO_KERNELS", "") not in ("", "0"):
        return "the CPU kernels are disabled by RNNKIT_NO_KERNELS"
    if _state["failure"] is not None:
        return str(_state["failure"])
    if _state["loaded"]:
        return None
    if sys.platform not in ("linux", "darwin"):
        return f"the CPU kernels are built only on Linux and macOS, not {sys.platform}"
    if compiler() is None:
        return "no C++ compiler found to build the CPU kernels (install g++ or set CXX)"
    if cached_library() is not None:  # built before: loaded without ninja
        return None
    from torch.utils.cpp_extension import is_ninja_available

    if not is_ninja_available():
        return "ninja is not installed; torch.utils.cpp_extension needs it to build the CPU kernels (pip install ninja)"
    return None


def load_kernels():
    """The kernels' op namespace ``torch.ops.rnnkit_cpu``, built first if needed (announced on stderr).

    Raises:
        RuntimeError: with :func:`kernels_unavailable`'s reason when they cannot be built or loaded.
    """
    if _state["loaded"]:
        return torch.ops.rnnkit_cpu
    why = kernels_unavailable()
    if why is not None:
        raise RuntimeError(why)
    library = cached_library()
    if library is not None:  # built before: load it directly, without ninja or cpp_extension
        try:
            torch.ops.load_library(str(library))
            _state["loaded"] = True
            return torch.ops.rnnkit_cpu
        except (OSError, RuntimeError):  # e.g. a library from an incompatible build: build through ninja
            pass
    from torch.utils.cpp_extension import load

    name = build_name()
    directory = cache_dir() / "kernels" / name
    built = any(directory.glob(f"{name}*.so"))
    if not built:
        print(f"rnnkit: building rnnkit CPU kernels, once, ~{TYPICAL_BUILD_SECONDS} s (cached in {directory})",
              file=sys.stderr, flush=True)
    start = time.perf_counter()
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with _build_lock(directory):
            load(name, [str(SOURCE_DIR / "kernels.cpp")], extra_cflags=list(CFLAGS),
                 extra_include_paths=[str(SOURCE_DIR)], build_directory=str(directory),
                 is_python_module=False, verbose=False)
    except Exception as error:  # a compiler error, a missing header: keep the reason, run the loop instead
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        _state["failure"] = f"the CPU kernels failed to build ({first}); see the compiler output above"
        print(f"rnnkit: {_state['failure']}", file=sys.stderr, flush=True)
        raise RuntimeError(_state["failure"]) from error
    _publish(directory, name)
    if not built:
        print(f"rnnkit: built the CPU kernels in {time.perf_counter() - start:.0f} s", file=sys.stderr, flush=True)
    _state["loaded"] = True
    return torch.ops.rnnkit_cpu


#: The lock file ``torch.utils.cpp_extension`` creates in the build directory while it builds and
#: deletes afterwards; a build killed half-way leaves it behind, and every later build then waits
#: for it forever.
BATON_FILE = "lock"


@contextmanager
def _build_lock(directory: Path) -> Iterator[None]:
    """Hold an ``flock`` on ``<directory>/build.flock`` while building, and clear a stale baton.

    rnnkit's builds of one directory are serialised by this lock, which the kernel releases when
    its holder dies (even by ``kill -9``); so while it is held, a ``cpp_extension`` baton file in the
    directory can only be left over from a killed build, and is removed instead of waited on.
    """
    from rnnkit.dirlock import fcntl, waiting_lock

    with waiting_lock(directory / "build.flock"):  # waits for another process's build to finish
        baton = directory / BATON_FILE
        if fcntl is not None and baton.exists():  # (without flock, cpp_extension's own baton is all there is)
            print(f"rnnkit: removing {baton}, left by a kernel build that was killed", file=sys.stderr, flush=True)
            baton.unlink(missing_ok=True)
        yield


def kernels_ready() -> bool:
    """Whether the kernels are loaded or can be built now (building them on first use); a failed
    build is reported on stderr and remembered by :func:`kernels_unavailable`."""
    try:
        load_kernels()
    except RuntimeError:
        return False
    return True


def release_workspace() -> int:
    """Free the buffers the kernels keep for reuse (at most 1 GiB); returns the bytes freed (0 if never loaded).

    The kernels keep large freed buffers (saved activations, per-step gradients) to reuse them in the
    next call: a fresh one costs a page fault per page, which measured as much as the arithmetic.
    """
    return int(torch.ops.rnnkit_cpu.release_workspace()) if _state["loaded"] else 0
