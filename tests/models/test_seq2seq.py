"""Seq2Seq: attention masking by source length, padding invariance, tied embeddings, the loss."""

from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F

from rnnkit.models.attention import Attention
from rnnkit.models.seq2seq import Seq2Seq


def _model(**options):
    torch.manual_seed(0)
    return Seq2Seq(12, 11, embed_size=6, hidden_size=8, **options).eval()


@pytest.mark.parametrize("kind", ["additive", "general", "dot"])
def test_padded_source_positions_get_zero_weight(kind):
    torch.manual_seed(1)
    att = Attention(kind, 4, 4)
    memory = torch.randn(3, 6, 4)
    mask = torch.arange(6).unsqueeze(0) < torch.tensor([[6], [2], [4]])
    _context, weights = att(torch.randn(3, 4), att.prepare(memory), memory, mask)
    assert torch.equal(weights[~mask], torch.zeros(int((~mask).sum())))
    torch.testing.assert_close(weights.sum(-1), torch.ones(3))
    # Changing what sits in the padded positions changes nothing.
    noisy = memory.clone()
    noisy[~mask] = 100.0
    context2, weights2 = att(torch.randn(3, 4) * 0 + _context.new_tensor(0), att.prepare(noisy), noisy, mask)
    context1, weights1 = att(torch.zeros(3, 4), att.prepare(memory), memory, mask)
    torch.testing.assert_close(weights1, weights2)
    torch.testing.assert_close(context1, context2)


@pytest.mark.parametrize("attention", ["general", "dot", "additive", "none"])
@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_padding_does_not_change_a_sentence(attention, cell):
    model = _model(attention=attention, cell=cell, decoder_layers=2)
    short = torch.tensor([[4, 5, 6]])
    padded = torch.tensor([[4, 5, 6, 0, 0], [7, 8, 9, 10, 3]])
    tgt = torch.tensor([[1, 5, 7, 3], [1, 4, 4, 4]])
    alone, attn_alone = model(short, torch.tensor([3]), tgt[:1])
    batch, attn = model(padded, torch.tensor([3, 5]), tgt)
    torch.testing.assert_close(batch[0], alone[0], rtol=1e-5, atol=1e-6)
    if attention != "none":
        assert torch.equal(attn[0, :, 3:], torch.zeros(4, 2))
        torch.testing.assert_close(attn[0, :, :3], attn_alone[0])


def test_step_by_step_equals_teacher_forcing():
    model = _model()
    src, lengths, tgt = torch.tensor([[4, 5, 6], [7, 8, 0]]), torch.tensor([3, 2]), torch.tensor([[1, 5, 7], [1, 4, 9]])
    logits, _ = model(src, lengths, tgt)
    memory = model.encode(src, lengths)
    state = model.start(memory)
    for t in range(3):
        log_probs, state, _ = model.step(tgt[:, t], state, memory)
        torch.testing.assert_close(log_probs, torch.log_softmax(logits[:, t], -1), rtol=1e-5, atol=1e-6)


def test_tied_and_shared_embeddings():
    tied = _model(tie_embeddings=True)
    assert tied.output.weight is tied.tgt_embed.weight and tied.pre_output is not None
    shared = Seq2Seq(10, 10, embed_size=8, hidden_size=8, share_embeddings=True)
    assert shared.src_embed is shared.tgt_embed and shared.pre_output is None
    with pytest.raises(ValueError, match="share_embeddings"):
        Seq2Seq(10, 11, share_embeddings=True)
    with pytest.raises(ValueError, match="hidden_size"):
        Seq2Seq(10, 11, hidden_size=7)
    with pytest.raises(ValueError, match="attention"):
        Seq2Seq(10, 11, attention="bilinear")


def test_loss_is_label_smoothed_cross_entropy_over_real_tokens():
    model = _model(label_smoothing=0.2)
    batch = {"src": torch.tensor([[4, 5, 6], [7, 8, 0]]), "src_lengths": torch.tensor([3, 2]),
             "tgt_in": torch.tensor([[1, 5, 7], [1, 4, 0]]), "tgt_out": torch.tensor([[5, 7, 2], [4, 2, 0]])}
    logits, _ = model(batch["src"], batch["src_lengths"], batch["tgt_in"])
    real = batch["tgt_out"] != 0
    log_probs = torch.log_softmax(logits[real], -1)
    gold = batch["tgt_out"][real]
    expected = (0.8 * -log_probs.gather(1, gold[:, None]).squeeze(1) - 0.2 * log_probs.mean(-1)).mean()
    out = model.validation_step(batch)
    torch.testing.assert_close(out["loss"], expected, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(out["xent"], F.nll_loss(log_probs, gold))


def test_learns_to_copy_a_short_sequence():
    torch.manual_seed(0)
    model = Seq2Seq(8, 8, embed_size=16, hidden_size=32, label_smoothing=0.0, dropout=0.0)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.02)
    for _ in range(150):
        src = torch.randint(3, 8, (32, 4))
        batch = {"src": src, "src_lengths": torch.full((32,), 4),
                 "tgt_in": torch.cat([torch.ones(32, 1).long(), src], 1),
                 "tgt_out": torch.cat([src, torch.full((32, 1), 2)], 1)}
        optimizer.zero_grad()
        model.training_step(batch)["loss"].backward()
        optimizer.step()
    model.eval()
    assert model.validation_step(batch)["accuracy"] > 0.95
