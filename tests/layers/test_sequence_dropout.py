"""Locked (variational) dropout and embedding dropout: masks in training, identity in evaluation."""

from __future__ import annotations

import pytest
import torch

from rnnkit.layers.sequence_dropout import EmbeddingDropout, LockedDropout


def test_locked_dropout_uses_one_mask_for_all_steps():
    drop = LockedDropout(0.5).train()
    torch.manual_seed(0)
    x = torch.ones(64, 9, 16)
    y = drop(x)
    assert torch.equal(y, y[:, :1].expand_as(y))  # the same at every step
    assert set(y.unique().tolist()) == {0.0, 2.0}  # dropped, or kept and scaled by 1 / (1 - p)
    assert abs(float((y == 0).double().mean()) - 0.5) < 0.05
    drop.eval()
    assert torch.equal(drop(x), x)


def test_embedding_dropout_drops_whole_words():
    torch.manual_seed(0)
    layer = EmbeddingDropout(50, 4, p=0.4).train()
    tokens = torch.arange(50).repeat(3, 1)
    out = layer(tokens)
    dropped = (out == 0).all(-1)  # (3, 50): a word is zero in every row or in none
    assert torch.equal(dropped, dropped[:1].expand_as(dropped))
    kept = ~dropped[0]
    torch.testing.assert_close(out[0, kept], layer.weight[kept] / 0.6)
    assert 5 < int(dropped[0].sum()) < 35
    layer.eval()
    torch.testing.assert_close(layer(tokens), layer.weight[tokens])


def test_bad_probabilities():
    with pytest.raises(ValueError, match=r"p: expected a probability in \[0, 1\)"):
        LockedDropout(1.0)
    with pytest.raises(ValueError, match="p: expected"):
        EmbeddingDropout(3, 2, p=-0.1)
