"""Padding, length buckets and loaders: a padded batch through the driver equals each sequence alone."""

from __future__ import annotations

import pytest
import torch

import rnnkit
from rnnkit.data.collate import BucketBatchSampler, pad_sequences, sequence_loader


def test_pad_sequences_values_and_lengths():
    x, n = pad_sequences([[5, 6, 7], [8]], pad_value=-1)
    assert x.tolist() == [[5, 6, 7], [8, -1, -1]] and n.tolist() == [3, 1]
    feats = [torch.arange(6.0).reshape(3, 2), torch.ones(1, 2)]
    x, n = pad_sequences(feats)
    assert x[0].tolist() == feats[0].tolist() and x[1].tolist() == [[1, 1], [0, 0], [0, 0]]
    with pytest.raises(ValueError, match="item 1 is empty"):
        pad_sequences([[1], []])
    with pytest.raises(ValueError, match="item 1 has trailing shape"):
        pad_sequences([torch.ones(2, 3), torch.ones(2, 4)])


def test_padded_batch_equals_each_sequence_alone():
    torch.manual_seed(0)
    # native: PyTorch's kernel (auto may pick the compiled kernels, whose first use builds them)
    layer = rnnkit.Recurrent("lstm", 3, 5, num_layers=2, bidirectional=True, backend="native")
    sequences = [torch.randn(t, 3) for t in (7, 1, 4, 6)]
    x, lengths = pad_sequences(sequences)
    out, (h, _) = layer(x, lengths=lengths)
    for i, s in enumerate(sequences):
        alone, (h_alone, _) = layer(s[None])
        torch.testing.assert_close(out[i, : len(s)], alone[0], rtol=1e-5, atol=1e-6)
        assert out[i, len(s):].abs().max().item() == 0 if len(s) < x.shape[1] else True
        torch.testing.assert_close(h[:, i], h_alone[:, 0], rtol=1e-5, atol=1e-6)


def test_bucket_sampler_groups_lengths_covers_everything_and_is_seeded():
    lengths = [int(v) for v in torch.randint(1, 100, (200,), generator=torch.Generator().manual_seed(1))]
    sampler = BucketBatchSampler(lengths, 10, seed=3, pool_batches=20)
    epoch1, epoch2 = list(sampler), list(sampler)
    assert sorted(i for b in epoch1 for i in b) == list(range(200)) and len(sampler) == 20
    assert epoch1 != epoch2  # a new order each epoch
    assert list(BucketBatchSampler(lengths, 10, seed=3, pool_batches=20)) == epoch1  # same seed, same order
    spread = sum(max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in epoch1) / len(epoch1)
    unsorted = BucketBatchSampler(lengths, 10, seed=3, pool_batches=1)
    spread_random = sum(max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in unsorted) / 20
    assert spread < spread_random / 3
    assert [len(b) for b in BucketBatchSampler(list(range(25)), 10, drop_last=True)] == [10, 10]


def test_loader_batches_are_dicts_and_keep_order_when_asked():
    loader = sequence_loader([[3, 4], [5], [6, 7, 8]], [0, 1, 0], batch_size=2, shuffle=False, pool_batches=1)
    batches = list(loader)
    assert batches[0]["inputs"].tolist() == [[3, 4], [5, 0]]
    assert batches[0]["lengths"].tolist() == [2, 1] and batches[0]["targets"].tolist() == [0, 1]
    assert batches[1]["inputs"].tolist() == [[6, 7, 8]]
    assert "targets" not in next(iter(sequence_loader([[1]], batch_size=1)))
