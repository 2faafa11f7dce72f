"""Shared helpers for the rnnkit tests."""

from __future__ import annotations

import os

import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

# backend="auto" tunes itself by timing at first use (rnnkit.backends.autotune); the suite keeps the
# static choice so that tests stay deterministic and fast. tests/backends/test_autotune.py turns it on.
os.environ["RNNKIT_AUTOTUNE"] = "0"
# Triton reads TRITON_INTERPRET when it is first imported, and torch.compile imports it (the custom
# operator tests run before tests/backends/test_triton.py): set it here, before any test module, so
# the Triton kernels always run on the CPU interpreter whichever test imports Triton first.
os.environ.setdefault("TRITON_INTERPRET", "1")



@pytest.fixture(scope="session", autouse=True)
def one_torch_thread():
    """The whole suite runs on one torch thread: its models are tiny, and on a shared 2-core machine
    torch's default threads fought the other jobs for the cores (measured: a classify CLI test took
    197 s with the default, 1.9 s with one). One place for that policy, instead of a fixture per
    test folder. Tests that want more threads set them and restore them."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(autouse=True)
def subnormals_back_on():
    """The Trainer (flush_denormal=True) and the benchmarks flush subnormal floats to zero, and the
    mode is process-wide: switch it back off after every test, so that no test depends on which
    ran before it (hypothesis refuses to draw floats with subnormals flushed)."""
    yield
    torch.set_flush_denormal(False)


TORCH_CLASSES = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU, "elman": torch.nn.RNN}


def max_diff(a, b) -> float:
    """Largest absolute difference between two tensors or tuples of tensors."""
    if isinstance(a, torch.Tensor):
        return (a - b).abs().max().item() if a.numel() else 0.0
    return max(max_diff(x, y) for x, y in zip(a, b, strict=True))


def random_lengths(batch: int, steps: int, generator: torch.Generator) -> torch.Tensor:
    """Random lengths in [1, steps] that include 1 and steps whenever the batch allows."""
    lengths = torch.randint(1, steps + 1, (batch,), generator=generator)
    lengths[0] = steps
    if batch > 1:
        lengths[1] = 1
    return lengths


def run_torch_with_lengths(module, x, lengths, hx=None):
    """torch.nn reference for right-padded input with lengths: pack, run, unpack."""
    batch_first = module.batch_first
    total = x.shape[1 if batch_first else 0]
    packed = pack_padded_sequence(x, lengths, batch_first=batch_first, enforce_sorted=False)
    out, state = module(packed, hx)
    out, _ = pad_packed_sequence(out, batch_first=batch_first, total_length=total)
    return out, state
