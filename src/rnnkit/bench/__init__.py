"""Benchmarks behind ``rnnkit bench NAME`` (layer 7 of docs/design.md): scripts that print ratios, not timed tests.

* :mod:`rnnkit.bench.speed`: ``rnnkit bench speed``, every cell on every backend against
  ``torch.nn`` and the loop, plus peak memory.
* :mod:`rnnkit.bench.longrange` (with :mod:`rnnkit.bench.longrange_report`): ``rnnkit bench
  longrange``, which cell learns which long-range task and in how many steps.
* :mod:`rnnkit.bench.common`: the machine description every table is printed with.

``import rnnkit.bench`` loads only :mod:`~rnnkit.bench.common` (``cpu_name``, ``machine_description``).
"""

from rnnkit.bench.common import cpu_name, machine_description

__all__ = ["cpu_name", "machine_description"]
