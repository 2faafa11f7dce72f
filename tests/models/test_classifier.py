"""SequenceClassifierNet and SequencePooling: pooled values by hand, padding invariance, losses."""

from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F

from rnnkit.data.collate import pad_sequences
from rnnkit.models.classifier import ClassifierEnsemble, SequenceClassifierNet, SequencePooling


def test_pooling_values_by_hand():
    outputs = torch.tensor([[[1.0, 10.0], [3.0, -2.0], [5.0, 4.0]],
                            [[2.0, 7.0], [0.0, 0.0], [0.0, 0.0]]])  # second sequence has length 1
    lengths = torch.tensor([3, 1])
    assert SequencePooling(2, "mean")(outputs, lengths)[0].tolist() == [[3.0, 4.0], [2.0, 7.0]]
    assert SequencePooling(2, "max")(outputs, lengths)[0].tolist() == [[5.0, 10.0], [2.0, 7.0]]
    assert SequencePooling(2, "last")(outputs, lengths)[0].tolist() == [[5.0, 4.0], [2.0, 7.0]]
    # bidirectional: forward half at the last real step, backward half at step 0
    assert SequencePooling(2, "last", directions=2)(outputs, lengths)[0].tolist() == [[5.0, 10.0], [2.0, 7.0]]
    pooled, weights = SequencePooling(2, "attention")(outputs, lengths)
    assert weights[1].tolist() == [1.0, 0.0, 0.0]
    torch.testing.assert_close(weights.sum(1), torch.ones(2))
    torch.testing.assert_close(pooled, torch.einsum("bt,btd->bd", weights, outputs))
    assert SequencePooling(2, "max_mean")(outputs, lengths)[0].tolist() == [[5.0, 10.0, 3.0, 4.0],
                                                                            [2.0, 7.0, 2.0, 7.0]]
    assert SequencePooling(2, "max_mean").output_size == 4
    with pytest.raises(ValueError, match="pooling: expected one of last, mean, max, max_mean, attention, got 'sum'"):
        SequencePooling(2, "sum")


@pytest.mark.parametrize("pooling", ["last", "mean", "max", "max_mean", "attention"])
def test_padded_batch_gives_each_sequence_its_own_logits(pooling):
    torch.manual_seed(0)
    net = SequenceClassifierNet(3, vocab_size=20, embedding_dim=6, hidden_size=5, pooling=pooling).eval()
    sequences = [torch.randint(1, 20, (n,)) for n in (6, 1, 3)]
    x, lengths = pad_sequences(sequences)
    batch = net(x, lengths)
    for i, s in enumerate(sequences):
        torch.testing.assert_close(batch[i], net(s[None], torch.tensor([len(s)]))[0], rtol=1e-5, atol=1e-6)


def test_numeric_input_and_losses_with_class_weights():
    torch.manual_seed(0)
    net = SequenceClassifierNet(3, input_size=4, embedding_dim=6, hidden_size=5, class_weights=[1.0, 2.0, 0.5])
    x, lengths = torch.randn(5, 7, 4), torch.tensor([7, 3, 1, 5, 2])
    targets = torch.tensor([0, 1, 2, 1, 0])
    logits = net.eval()(x, lengths)
    expected = F.cross_entropy(logits, targets, weight=torch.tensor([1.0, 2.0, 0.5]))
    torch.testing.assert_close(net.loss(logits, targets), expected)
    scores = net.validation_step({"inputs": x, "lengths": lengths, "targets": targets})
    assert scores["accuracy"].item() == (logits.argmax(1) == targets).float().mean().item()
    multi = SequenceClassifierNet(3, input_size=4, embedding_dim=6, hidden_size=5, multi_label=True,
                                  class_weights=[1.0, 3.0, 1.0]).eval()
    hot = torch.tensor([[1.0, 0, 1], [0, 1, 0], [0, 0, 0], [1, 1, 1], [0, 1, 1]])
    logits = multi(x, lengths)
    torch.testing.assert_close(multi.loss(logits, hot), F.binary_cross_entropy_with_logits(
        logits, hot, pos_weight=torch.tensor([1.0, 3.0, 1.0])))
    with pytest.raises(ValueError, match="vocab_size and input_size: give exactly one"):
        SequenceClassifierNet(2, vocab_size=5, input_size=3)
    with pytest.raises(ValueError, match="class_weights: expected 2"):
        SequenceClassifierNet(2, vocab_size=5, class_weights=[1.0])


def test_word_dropout_writes_unk_over_real_tokens_in_training_only():
    torch.manual_seed(0)
    net = SequenceClassifierNet(2, vocab_size=30, embedding_dim=6, hidden_size=5, dropout=0.0, word_dropout=0.5,
                                unk_idx=1, padding_idx=0)
    x = torch.tensor([[5, 6, 7, 8, 9, 10], [11, 12, 13, 0, 0, 0]])
    lengths = torch.tensor([6, 3])
    torch.manual_seed(3)
    trained = net.train()(x, lengths)
    torch.manual_seed(3)
    drop = (torch.rand(x.shape) < 0.5) & (x != 0)
    assert 0 < int(drop.sum()) < 9  # some tokens but not all are replaced with this seed
    expected = net.eval()(x.masked_fill(drop, 1), lengths)
    torch.testing.assert_close(trained, expected)
    assert not torch.allclose(net.eval()(x, lengths), expected)  # evaluation reads the real tokens
    with pytest.raises(ValueError, match="word_dropout: only for token inputs"):
        SequenceClassifierNet(2, input_size=3, word_dropout=0.1)
    with pytest.raises(ValueError, match=r"word_dropout: expected a probability in \[0, 1\), got 1.0"):
        SequenceClassifierNet(2, vocab_size=30, word_dropout=1.0)


@pytest.mark.parametrize("multi_label", [False, True])
def test_ensemble_probability_is_the_members_mean(multi_label):
    torch.manual_seed(0)
    members = [SequenceClassifierNet(3, vocab_size=20, embedding_dim=4, hidden_size=4, multi_label=multi_label,
                                     pooling="attention").eval() for _ in range(3)]
    x, lengths = torch.randint(1, 20, (4, 5)), torch.tensor([5, 4, 2, 1])
    link = torch.sigmoid if multi_label else (lambda t: torch.softmax(t, -1))
    expected = torch.stack([link(m(x, lengths)) for m in members]).mean(0)
    ensemble = ClassifierEnsemble(members)
    logits, weights = ensemble(x, lengths, return_attention=True)
    torch.testing.assert_close(link(logits), expected, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(weights, torch.stack([m(x, lengths, return_attention=True)[1] for m in members]).mean(0))
    assert ensemble.get_config() == {**members[0].get_config(), "members": 3}
    with pytest.raises(ValueError, match="members: expected at least one network"):
        ClassifierEnsemble([])
