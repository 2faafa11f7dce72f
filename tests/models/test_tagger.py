"""SequenceTagger: the bigram embeddings feed the tag scores; word dropout only in training."""

from __future__ import annotations

import pytest
import torch

from rnnkit.models.tagger import PAD, UNKNOWN, SequenceTagger


def _batch(bigrams: bool = True) -> dict[str, torch.Tensor]:
    batch = {"words": torch.tensor([[2, 3, 4], [5, 6, 0]]), "lengths": torch.tensor([3, 2]),
             "tags": torch.tensor([[0, 1, 2], [2, 0, 0]])}
    if bigrams:
        batch["bigrams"] = torch.tensor([[2, 3, 7], [4, 1, 0]])
    return batch


def test_bigram_embeddings_change_the_scores_and_get_gradients_only_where_used():
    torch.manual_seed(0)
    net = SequenceTagger(10, 0, 3, word_dim=4, hidden_size=5, num_bigrams=9, bigram_dim=3, dropout=0.0,
                         word_dropout=0.0)
    assert net.rnn.input_size == 4 + 3
    batch = _batch()
    net.loss(batch).backward()
    used = {2, 3, 7, 4, 1}
    rows = net.bigrams.weight.grad.abs().sum(dim=1)
    assert all(rows[i] > 0 for i in used)
    assert all(rows[i] == 0 for i in set(range(9)) - used)  # padding (0) and unseen rows stay untouched
    other = dict(batch, bigrams=torch.tensor([[5, 3, 7], [4, 1, 0]]))  # first sentence's first bigram changed
    with torch.no_grad():
        a, b = net.emissions(batch), net.emissions(other)
    assert not torch.allclose(a[0], b[0]) and torch.equal(a[1], b[1])


def test_a_bigram_tagger_needs_bigrams_in_the_batch():
    net = SequenceTagger(10, 0, 3, word_dim=4, hidden_size=5, num_bigrams=9)
    with pytest.raises(KeyError, match="needs 'bigrams'"):
        net.emissions(_batch(bigrams=False))
    plain = SequenceTagger(10, 0, 3, word_dim=4, hidden_size=5)
    assert plain.bigrams is None and plain.rnn.input_size == 4


def test_word_dropout_replaces_real_ids_by_unknown_in_training_only():
    net = SequenceTagger(10, 0, 3, word_dim=4, hidden_size=5, word_dropout=0.5)
    ids = torch.tensor([[2, 3, 4, 5] * 50, [6] * 100 + [PAD] * 100])
    torch.manual_seed(0)
    dropped = net._drop_ids(ids)
    changed = dropped != ids
    assert torch.all(dropped[changed] == UNKNOWN) and not changed[1, 100:].any()  # padding never dropped
    assert 0.4 < changed[:, :100].float().mean() < 0.6
    net.eval()
    assert torch.equal(net._drop_ids(ids), ids)
