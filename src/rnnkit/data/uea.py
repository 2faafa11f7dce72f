"""The UEA/UCR ``.ts`` time-series classification format (sktime's ``load_from_tsfile`` format).

A header of ``@key value`` lines (``@dimensions 12``, ``@classLabel true 1 2 3``) and, after
``@data``, one series per line: the channels separated by ``:``, each channel's values by ``,``,
and the class label as the last ``:`` field. Channels of one series have the same length; series
may differ in length (``@equalLength false``). ``?`` marks a missing value (read as NaN).

This small reader exists so the UEA files that ship inside the ``sktime`` wheel can be read without
installing sktime (whose pins would change this environment's pandas); it follows sktime's
``load_from_tsfile`` for the subset of the format without timestamps.
"""

from __future__ import annotations

import numpy as np


class TsFormatError(ValueError):
    """A ``.ts`` file that does not follow the format, with the line named."""


def read_ts(text: str, *, where: str = "ts") -> tuple[list[np.ndarray], list[str], dict[str, str]]:
    """Series, labels and header of a ``.ts`` file's text.

    Args:
        text: the file's contents.
        where: the file's name, for error messages.

    Returns:
        ``(series, labels, header)``: float64 arrays of shape ``(T_i, channels)``, one class label
        string per series, and the ``@`` header as ``{key: value}`` (keys lower-cased).

    Raises:
        TsFormatError: timestamps (not supported), no ``@data``, channels of different lengths
            within a series, a channel count that differs from ``@dimensions``, a value that is not
            a number, or a label not in ``@classLabel``.

    Example:
        >>> series, labels, _ = read_ts("@dimensions 2\\n@classLabel true a b\\n@data\\n1,2:3,4:a\\n")
        >>> series[0].tolist(), labels
        ([[1.0, 3.0], [2.0, 4.0]], ['a'])
    """
    header: dict[str, str] = {}
    series: list[np.ndarray] = []
    labels: list[str] = []
    in_data = False
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if not in_data:
            if line.lower() == "@data":
                in_data = True
                continue
            if line.startswith("@"):
                key, _, value = line[1:].partition(" ")
                header[key.lower()] = value.strip()
                continue
            raise TsFormatError(f"{where}: line {number}: expected an @header line or @data, got {line[:40]!r}")
        if header.get("timestamps", "false").lower() == "true":
            raise TsFormatError(f"{where}: series with timestamps are not supported")
        *channels, label = line.split(":")
        if not channels:
            raise TsFormatError(f"{where}: line {number}: expected channels and a label separated by ':'")
        try:
            values = [[np.nan if v.strip() == "?" else float(v) for v in c.split(",")] for c in channels]
        except ValueError:
            raise TsFormatError(f"{where}: line {number}: a value is not a number") from None
        lengths = {len(c) for c in values}
        if len(lengths) != 1:
            raise TsFormatError(f"{where}: line {number}: channels have different lengths {sorted(lengths)}")
        if "dimensions" in header and len(values) != int(header["dimensions"]):
            raise TsFormatError(
                f"{where}: line {number}: {len(values)} channels, @dimensions says {header['dimensions']}"
            )
        allowed = header.get("classlabel", "").split()
        if allowed and allowed[0].lower() == "true" and label.strip() not in allowed[1:]:
            raise TsFormatError(f"{where}: line {number}: label {label.strip()!r} is not in @classLabel {allowed[1:]}")
        series.append(np.asarray(values, dtype=np.float64).T.copy())
        labels.append(label.strip())
    if not in_data:
        raise TsFormatError(f"{where}: no @data line")
    return series, labels, header


__all__ = ["TsFormatError", "read_ts"]
