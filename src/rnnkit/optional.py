"""Optional dependencies: import them on first use, with an error that names the extra to install.

Like :mod:`rnnkit.serialization`, a foundation module that every layer may use (it imports nothing
of rnnkit).
"""

from __future__ import annotations

import importlib
from types import ModuleType


class MissingDependency(ImportError):
    """An optional dependency is not installed; the message names the ``pip install`` that adds it."""


def require(module: str, extra: str, *, package: str | None = None) -> ModuleType:
    """Import ``module`` or raise :class:`MissingDependency` naming ``rnnkit[extra]``.

    Args:
        module: the import name (``"tokenizers"``, ``"sacrebleu"``).
        extra: rnnkit's extra that installs it (``"text"``).
        package: the PyPI name when it differs from the import name.

    Returns:
        The imported module.

    Example:
        >>> sacrebleu = require("sacrebleu", "translate")  # doctest: +SKIP
    """
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as error:
        if error.name is None or error.name.split(".")[0] != module.split(".")[0]:
            raise  # the module exists but something it imports is missing: a real bug, not disguised
        raise MissingDependency(
            f"{package or module} is not installed; it comes with rnnkit's '{extra}' extra: "
            f"pip install 'rnnkit[{extra}]' (or pip install {package or module})"
        ) from None


__all__ = ["MissingDependency", "require"]
