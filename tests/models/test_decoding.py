"""Decoding: beam search against exhaustive search, beam 1 == greedy, constraints, sampling, limits."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from rnnkit.models.decoding import (
    beam_search,
    constrained_beam_search,
    greedy_decode,
    length_penalty,
    max_lengths,
    sample_decode,
)
from rnnkit.models.seq2seq import Seq2Seq

EOS = 2


def _tiny(vocab=5, seed=0, **options):
    torch.manual_seed(seed)
    model = Seq2Seq(vocab, vocab, embed_size=4, hidden_size=4, dropout=0.0, **options).eval()
    with torch.no_grad():  # larger weights: peakier, more varied distributions than the default init
        for p in model.parameters():
            p.mul_(3.0)
    return model


def _sequence_log_prob(model, src, tokens, with_eos):
    """Teacher-forced log-probability of ``tokens`` (+ EOS) for one source."""
    memory = model.encode(src, torch.tensor([src.shape[1]]))
    state = model.start(memory)
    total, previous = 0.0, model.bos_id
    for token in [*tokens, EOS] if with_eos else tokens:
        log_probs, state, _ = model.step(torch.tensor([previous]), state, memory)
        total += float(log_probs[0, token].detach())
        previous = token
    return total


def _batch_log_probs(model, src, sequences, with_eos):
    """Teacher-forced log-probabilities of equally long ``sequences`` (+ EOS), in one forward pass."""
    if not sequences:
        return []
    gold = torch.tensor([[*t, EOS] if with_eos else list(t) for t in sequences]).view(len(sequences), -1)
    tgt_in = torch.cat([torch.full((len(sequences), 1), model.bos_id), gold[:, :-1]], dim=1)
    with torch.no_grad():
        logits, _ = model(src.repeat(len(sequences), 1), torch.full((len(sequences),), src.shape[1]), tgt_in)
    return torch.log_softmax(logits, -1).gather(2, gold.unsqueeze(2)).sum((1, 2)).tolist()


def _exhaustive(model, src, max_len, alpha, vocab):
    """Every output of at most ``max_len`` tokens (EOS included) and its length-normalised score."""
    outputs = []
    others = [v for v in range(vocab) if v != EOS]
    for n in range(max_len + 1):  # n tokens then EOS; or max_len tokens stopped at the limit
        for with_eos in (True, False) if n == max_len else (True,):
            if with_eos and n == max_len:
                continue
            sequences = [list(t) for t in itertools.product(others, repeat=n)]
            length = n + 1 if with_eos else n
            for lp, tokens in zip(_batch_log_probs(model, src, sequences, with_eos), sequences, strict=True):
                outputs.append((lp / length_penalty(length, alpha), tokens))
    return sorted(outputs, key=lambda o: o[0], reverse=True)


@pytest.mark.parametrize("alpha", [0.0, 0.6, 1.5])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_wide_beam_equals_exhaustive_search(alpha, seed):
    vocab, max_len = 5, 3
    model = _tiny(vocab, seed)
    src = torch.tensor([[3, 4, 1]])
    expected = _exhaustive(model, src, max_len, alpha, vocab)
    # beam 64 >= the 4 ** 3 outputs of the last step: nothing is pruned, so beam search must be exact
    nbest = beam_search(model, src, torch.tensor([3]), beam_size=64, alpha=alpha, n_best=5, max_len_a=0.0,
                        max_len_b=max_len)[0]
    assert [h.tokens for h in nbest] == [tokens for _, tokens in expected[:5]]
    for hyp, (score, _) in zip(nbest, expected[:5], strict=True):
        assert hyp.score == pytest.approx(score, abs=1e-5)


def test_narrow_beam_never_beats_exhaustive_and_scores_are_model_scores():
    model = _tiny(6, 3)
    src = torch.tensor([[3, 4, 5, 1]])
    best = _exhaustive(model, src, 3, 0.6, 6)[0][0]
    hyp = beam_search(model, src, torch.tensor([4]), beam_size=2, alpha=0.6, max_len_a=0.0, max_len_b=3)[0][0]
    assert hyp.score <= best + 1e-6
    assert hyp.log_prob == pytest.approx(_sequence_log_prob(model, src, hyp.tokens, hyp.finished), abs=1e-5)


@pytest.mark.parametrize("attention", ["general", "none"])
def test_beam_of_one_is_greedy(attention):
    model = _tiny(9, 4, attention=attention)
    torch.manual_seed(5)
    src = torch.randint(3, 9, (6, 5))
    lengths = torch.tensor([5, 4, 3, 5, 1, 2])
    greedy = greedy_decode(model, src, lengths, max_len_a=1.0, max_len_b=3)
    beam = beam_search(model, src, lengths, beam_size=1, alpha=0.6, max_len_a=1.0, max_len_b=3)
    assert [g.tokens for g in greedy] == [b[0].tokens for b in beam]
    for g, b in zip(greedy, beam, strict=True):
        assert g.log_prob == pytest.approx(b[0].log_prob, abs=1e-5)
        assert g.finished == b[0].finished


def test_batched_beam_equals_one_sentence_at_a_time():
    model = _tiny(9, 6)
    src = torch.tensor([[3, 4, 5, 6], [7, 8, 0, 0], [5, 0, 0, 0]])
    lengths = torch.tensor([4, 2, 1])
    batched = beam_search(model, src, lengths, beam_size=3, n_best=3, max_len_b=4)
    for b in range(3):
        alone = beam_search(model, src[b: b + 1, : lengths[b]], lengths[b: b + 1], beam_size=3, n_best=3,
                            max_len_b=4)[0]
        assert [h.tokens for h in alone] == [h.tokens for h in batched[b]]


def test_max_length_is_relative_to_the_source():
    assert max_lengths(torch.tensor([1, 4, 10]), 1.5, 2) == [3, 8, 17]
    model = _tiny(9, 7)
    src = torch.tensor([[3, 4, 5, 6], [7, 0, 0, 0]])
    for hyp, limit in zip(greedy_decode(model, src, torch.tensor([4, 1]), max_len_a=1.0, max_len_b=0), [4, 1],
                          strict=True):
        assert len(hyp.tokens) + hyp.finished <= limit
    with pytest.raises(ValueError, match="max_len_a"):
        max_lengths(torch.tensor([1]), -1.0, 0)


def _contains(tokens, phrase):
    return any(tokens[i: i + len(phrase)] == phrase for i in range(len(tokens) - len(phrase) + 1))


def test_constrained_search_places_every_constraint():
    model = _tiny(12, 8)
    torch.manual_seed(9)
    src = torch.randint(3, 12, (8, 5))
    lengths = torch.tensor([5, 5, 4, 3, 5, 2, 5, 4])
    constraints = [[[7]], [[9, 10]], [[4], [11, 3]], [], [[5, 5, 6]], [[8]], [[3], [4], [5]], [[10, 11]]]
    out = constrained_beam_search(model, src, lengths, constraints, beam_size=4, max_len_b=3)
    placed = total = 0
    for hyps, phrases in zip(out, constraints, strict=True):
        best = hyps[0]
        assert best.constraints_met
        for phrase in phrases:
            total += 1
            placed += _contains(best.tokens, phrase)
    assert placed == total == 10
    # Without constraints it is plain beam search.
    plain = beam_search(model, src[3:4, :3], lengths[3:4], beam_size=4, max_len_b=3)[0][0]
    assert out[3][0].tokens == plain.tokens


def test_constrained_search_finds_the_best_constrained_output_when_wide():
    model = _tiny(5, 10)
    src = torch.tensor([[3, 4]])
    constraint = [4, 3]
    # exhaustive over outputs that contain the phrase: up to 3 tokens + EOS, or 4 tokens (the limit) without EOS
    outputs = []
    for n in range(2, 5):
        sequences = [list(t) for t in itertools.product([0, 1, 3, 4], repeat=n) if _contains(list(t), constraint)]
        outputs += zip(_batch_log_probs(model, src, sequences, n < 4), sequences, strict=True)
    best = max(outputs, key=lambda o: o[0])
    hyp = constrained_beam_search(model, src, torch.tensor([2]), [[constraint]], beam_size=200, alpha=0.0,
                                  max_len_a=0.0, max_len_b=2)[0][0]  # limit 2 + 2 constraint tokens = 4
    assert hyp.constraints_met and hyp.tokens == best[1]
    assert hyp.score == pytest.approx(best[0], abs=1e-5)


def test_a_constraint_whose_prefix_repeats_is_tracked():
    from rnnkit.models.decoding import _Progress

    progress = _Progress((False,))
    for token in [5, 5, 5, 6]:
        progress = progress.advance(token, [[5, 5, 6]])
    assert progress.complete


def test_constraint_with_eos_is_an_error():
    model = _tiny()
    with pytest.raises(ValueError, match="constraints"):
        constrained_beam_search(model, torch.tensor([[3]]), torch.tensor([1]), [[[EOS]]])
    with pytest.raises(ValueError, match="one list per sentence"):
        constrained_beam_search(model, torch.tensor([[3]]), torch.tensor([1]), [])


def test_sampling_follows_the_model_and_cold_sampling_is_greedy():
    model = _tiny(6, 11)
    src = torch.tensor([[3, 4, 5]]).repeat(4000, 1)
    lengths = torch.full((4000,), 3)
    samples = sample_decode(model, src, lengths, temperature=1.0, max_len_a=0.0, max_len_b=1,
                            generator=torch.Generator().manual_seed(0))
    first = [h.tokens[0] if h.tokens else EOS for h in samples]
    memory = model.encode(src[:1], lengths[:1])
    probs = model.step(torch.tensor([model.bos_id]), model.start(memory), memory)[0].exp()[0]
    for token in range(6):
        frequency = first.count(token) / len(first)
        p = float(probs[token])
        assert abs(frequency - p) < 4 * math.sqrt(p * (1 - p) / 4000) + 1e-3
    cold = sample_decode(model, src[:5], lengths[:5], temperature=1e-4, generator=torch.Generator().manual_seed(0))
    greedy = greedy_decode(model, src[:5], lengths[:5])
    assert [h.tokens for h in cold] == [h.tokens for h in greedy]
    with pytest.raises(ValueError, match="temperature"):
        sample_decode(model, src[:1], lengths[:1], temperature=0.0)


def test_attention_is_kept_for_heatmaps():
    model = _tiny(9, 12)
    src = torch.tensor([[3, 4, 5, 0]])
    hyp = beam_search(model, src, torch.tensor([3]), beam_size=3, keep_attention=True)[0][0]
    assert hyp.attention.shape == (len(hyp.tokens) + hyp.finished, 4)
    assert torch.equal(hyp.attention[:, 3], torch.zeros(hyp.attention.shape[0]))
    torch.testing.assert_close(hyp.attention.sum(1), torch.ones(hyp.attention.shape[0]))
