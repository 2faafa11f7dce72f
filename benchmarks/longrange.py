"""Long-range dependency benchmark: adding, copy memory, sequential and permuted MNIST for every cell.

The same as ``rnnkit bench longrange``; run ``python benchmarks/longrange.py --help`` for the flags,
``--quick`` for the few-minute preset. Set ``OMP_NUM_THREADS=1`` on a shared machine.
"""

from __future__ import annotations

import sys

from rnnkit.bench.longrange import main

if __name__ == "__main__":
    sys.exit(main())
