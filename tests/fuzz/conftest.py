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


def _address_space_in_use() -> int | None:
    try:
        for line in open("/proc/self/status"):
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


@pytest.fixture(autouse=True)
def bounded_memory():
    """Cap this process's address space at what it uses plus 6 GiB while a fuzz test runs.

    The properties draw sizes up to 10**9. Most fail at once (torch cannot allocate the weights), but
    a hidden size near 30,000 asks for tens of GiB that the kernel grants lazily, and the weight
    initialisation then touches them: on a 24 GiB machine the out-of-memory killer ended the whole
    pytest run (exit 137). Under the cap such a size fails in the allocator like the larger ones.
    The limit is restored after each test.
    """
    try:
        import resource
    except ImportError:  # not on POSIX
        yield
        return
    used = _address_space_in_use()
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    if used is None:
        yield
        return
    limit = used + 6 * 2**30
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
