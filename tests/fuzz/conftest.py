"""Print how many cases the fuzz suite generated and what they raised (run with -s to see it)."""

from __future__ import annotations

import pytest

from tests.fuzz.helpers import CASES, FOUND


@pytest.fixture(scope="session", autouse=True)
def fuzz_summary():
    yield
    if CASES:
        print(f"\nfuzz: {sum(CASES.values())} generated cases")
        for name, count in sorted(CASES.items()):
            print(f"  {name}: {count}")
        print("fuzz: outcomes")
        for name, count in sorted(FOUND.items()):
            print(f"  {name}: {count}")
