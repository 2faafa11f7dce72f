"""Fast start: ``import rnnkit`` pulls in no optional dependency; cached kernels load without ninja."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from rnnkit.backends.fused import build
from rnnkit.backends.fused.build import build_name, cached_library, kernels_unavailable

SRC = str(Path(build.__file__).parents[3])
OPTIONAL = ("pandas", "matplotlib", "triton", "scipy", "statsmodels", "tensorboard", "yaml", "safetensors",
            "mlxtend", "pmdarima", "tabulate", "torch.utils.cpp_extension")


def _python(code: str, **env: str) -> str:
    environment = {**os.environ, "PYTHONPATH": SRC, **env}
    return subprocess.run([sys.executable, "-c", code], env=environment, capture_output=True, text=True,
                          check=True, timeout=120).stdout


def test_import_rnnkit_imports_no_optional_dependency():
    out = _python(f"import sys, rnnkit; print([m for m in {OPTIONAL!r} if m in sys.modules])")
    assert out.strip() == "[]"


def _publish_copy(cache: Path, library: Path) -> Path:
    """Lay out ``cache`` as a build would have: the hash-named copy and its ``.ready`` record."""
    name = build_name()
    directory = cache / "kernels" / name
    directory.mkdir(parents=True)
    copy = directory / f"{name}.so"
    shutil.copyfile(library, copy)
    build._publish(directory, name)
    return directory


@pytest.mark.skipif(kernels_unavailable() is not None or cached_library() is None,
                    reason="needs the CPU kernels built and published in the user cache")
def test_a_published_library_is_found_only_while_its_hash_matches(tmp_path, monkeypatch):
    library = cached_library()
    monkeypatch.setenv("RNNKIT_CACHE_DIR", str(tmp_path))
    assert cached_library() is None  # empty cache
    directory = _publish_copy(tmp_path, library)
    found = cached_library()
    record = json.loads((directory / f"{build_name()}.ready").read_text())
    assert found is not None and found.name == record["library"] and found.read_bytes() == library.read_bytes()
    data = bytearray(found.read_bytes())
    data[len(data) // 2] ^= 0xFF  # a half-written or altered copy is never loaded
    found.write_bytes(bytes(data))
    assert cached_library() is None


@pytest.mark.skipif(kernels_unavailable() is not None or cached_library() is None or build.compiler() is None,
                    reason="needs the CPU kernels built and published in the user cache")
def test_a_new_process_loads_the_cached_kernels_without_ninja(tmp_path):
    _publish_copy(tmp_path, cached_library())
    # No ninja on the path (only the compiler): the old route (cpp_extension.load) could not run at all.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "c++").symlink_to(build.compiler())
    code = (
        "import sys, torch, rnnkit\n"
        "layer = rnnkit.Recurrent('layernorm_gru', 2, 3, backend='fused')\n"
        "out, _ = layer(torch.ones(1, 4, 2))\n"
        "reference = rnnkit.Recurrent('layernorm_gru', 2, 3, backend='loop')\n"
        "reference.load_state_dict(layer.state_dict())\n"
        "close = torch.allclose(out, reference(torch.ones(1, 4, 2))[0], atol=1e-6)\n"
        "print(close, 'torch.utils.cpp_extension' in sys.modules)\n"
    )
    out = _python(code, RNNKIT_CACHE_DIR=str(tmp_path), PATH=str(bin_dir))
    assert out.split() == ["True", "False"]


def test_a_build_killed_half_way_does_not_make_the_next_build_wait_forever(tmp_path, monkeypatch):
    # A killed ``cpp_extension`` build leaves its baton file ``lock`` in the build directory, and the
    # next ``load`` of that directory waits for it to disappear, forever. rnnkit's own flock proves
    # no other rnnkit build is running, so the baton is removed before ``load`` is called.
    import torch.utils.cpp_extension as cpp_extension

    monkeypatch.setenv("RNNKIT_CACHE_DIR", str(tmp_path))
    monkeypatch.setitem(build._state, "loaded", False)
    monkeypatch.setitem(build._state, "failure", None)
    monkeypatch.setattr(build, "kernels_unavailable", lambda: None)
    directory = tmp_path / "kernels" / build_name()
    directory.mkdir(parents=True)
    (directory / "lock").write_text("")  # what the killed build left behind
    batons_seen = []

    def fake_load(name, sources, **options):
        batons_seen.append((Path(options["build_directory"]) / "lock").exists())

    monkeypatch.setattr(cpp_extension, "load", fake_load)
    build.load_kernels()
    assert batons_seen == [False]
    assert build._state["loaded"]
