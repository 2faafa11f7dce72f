"""The CTC recogniser: output lengths from the front end, the loss's robustness, decoding against
brute force, and streaming equal to the offline pass."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from rnnkit.models.ctc import CTCRecognizerNet, ctc_frames_needed
from rnnkit.models.ctc_decoding import (
    WordNgramLM,
    collapse,
    edit_distance,
    greedy_decode,
    prefix_beam_search,
)


def _brute_force(log_probs: torch.Tensor) -> dict[tuple[int, ...], float]:
    """P(labelling) by enumerating every alignment path of a tiny (T, V) output."""
    steps, labels = log_probs.shape
    totals: dict[tuple[int, ...], float] = {}
    for path in itertools.product(range(labels), repeat=steps):
        p = math.exp(sum(float(log_probs[t, c]) for t, c in enumerate(path)))
        key = tuple(collapse(path))
        totals[key] = totals.get(key, 0.0) + p
    return totals


def _random_log_probs(steps: int, labels: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.log_softmax(torch.randn(steps, labels, generator=g) * 2, dim=-1).double()


@pytest.mark.parametrize("seed", range(4))
def test_prefix_beam_search_with_unbounded_beam_gives_exact_labelling_probabilities(seed):
    lp = _random_log_probs(5, 3, seed)
    exact = _brute_force(lp)
    found = prefix_beam_search(lp, beam_width=0, prune=None)
    assert len(found) == len(exact)
    for labels, score in found:
        assert math.exp(score) == pytest.approx(exact[tuple(labels)], rel=1e-9, abs=1e-12)
    assert tuple(found[0][0]) == max(exact, key=exact.get)


@pytest.mark.parametrize("seed", range(6))
def test_small_beam_finds_the_most_probable_labelling_on_tiny_outputs(seed):
    lp = _random_log_probs(6, 3, seed + 10)
    exact = _brute_force(lp)
    labels, score = prefix_beam_search(lp, beam_width=8, prune=None)[0]
    assert tuple(labels) == max(exact, key=exact.get)
    # A pruned beam drops some alignments of the prefix, so its score is a lower bound, close here.
    assert exact[tuple(labels)] * 0.97 <= math.exp(score) <= exact[tuple(labels)] * (1 + 1e-9)


def _as_text_hypotheses(exact: dict[tuple[int, ...], float], characters: str,
                        lexicon: set[str] | None = None) -> dict[tuple[int, ...], float]:
    """The brute-force labellings the beam search may return: no leading or doubled space, a trailing
    space merged into the labelling without it, and (with a lexicon) only words of the lexicon."""
    space = characters.index(" ") + 1
    out: dict[tuple[int, ...], float] = {}
    for labels, p in exact.items():
        if labels[:1] == (space,) or any(a == b == space for a, b in itertools.pairwise(labels)):
            continue
        key = labels[:-1] if labels[-1:] == (space,) else labels
        words = "".join(characters[i - 1] for i in key).split(" ")
        if lexicon is not None and not all(w in lexicon for w in words):
            continue
        out[key] = out.get(key, 0.0) + p
    return out


@pytest.mark.parametrize("seed", range(4))
def test_a_space_or_letter_held_over_several_frames_keeps_all_its_alignments(seed):
    # A label held for two frames ("a _ _ a": the space over two frames) merges into the last label.
    # The search skipped that merge when the doubled label was not allowed (a doubled space, or "aa"
    # outside the lexicon), so such labellings lost most of their probability and the real models'
    # beam inserted short words between words ("six of five five eight"); beam CER was 2-3x greedy's.
    lp = _random_log_probs(5, 4, seed + 20)
    characters = " ab"
    exact = _brute_force(lp)
    for lexicon in (None, {"a", "b", "ab"}):
        expected = _as_text_hypotheses(exact, characters, lexicon)
        found = prefix_beam_search(lp, beam_width=0, prune=None, characters=characters,
                                   lexicon=sorted(lexicon) if lexicon else None)
        assert {tuple(k) for k, _ in found} == set(expected)
        for labels, score in found:
            assert math.exp(score) == pytest.approx(expected[tuple(labels)], rel=1e-9, abs=1e-12)


def test_greedy_takes_the_best_path_and_collapses_it():
    lp = _random_log_probs(5, 4, 3)
    best_path = max(itertools.product(range(4), repeat=5), key=lambda p: sum(float(lp[t, c]) for t, c in enumerate(p)))
    assert greedy_decode(lp) == [collapse(best_path)]
    assert collapse([1, 1, 0, 1, 2, 2, 0]) == [1, 1, 2]
    batch = greedy_decode(lp.unsqueeze(0).repeat(2, 1, 1), torch.tensor([5, 2]))
    assert batch[1] == collapse(lp[:2].argmax(-1).tolist())


def test_lexicon_keeps_only_words_of_the_lexicon():
    characters = " ab"  # labels: 1 space, 2 a, 3 b
    # Acoustically "ab" is best (0.6 per frame), but only "aa" and "b" are words.
    lp = torch.log(torch.tensor([[0.1, 0.0, 0.6, 0.3], [0.1, 0.0, 0.3, 0.6]]).clamp_min(1e-9)).double()
    free = prefix_beam_search(lp, beam_width=0, prune=None, characters=characters)
    assert free[0][0] == [2, 3]
    constrained = prefix_beam_search(lp, beam_width=0, prune=None, characters=characters, lexicon=["b", "aa"])
    assert [labels for labels, _ in constrained] == [[3]]  # "aa" needs a blank between its a's: 3 frames


def test_language_model_reorders_acoustically_close_hypotheses():
    characters = " ab"
    lm = WordNgramLM(["b"] * 20 + ["a"])
    lp = torch.log(torch.tensor([[0.3, 0.0, 0.36, 0.34]])).double()
    assert prefix_beam_search(lp, characters=characters, prune=None)[0][0] == [2]
    assert prefix_beam_search(lp, characters=characters, lm=lm, alpha=1.0, beta=0.0, prune=None)[0][0] == [3]
    restored = WordNgramLM.from_json(lm.to_json())
    assert restored.log_prob("b", ["a"]) == pytest.approx(lm.log_prob("b", ["a"]))


def test_ngram_probabilities_sum_to_one_over_the_vocabulary():
    lm = WordNgramLM(["ace of spades", "two of hearts", "ace of hearts"], order=2)
    for history in ([], ["of"], ["ace"], ["unknown"]):
        total = sum(math.exp(lm.log_prob(w, history)) for w in lm.vocabulary - {"<s>"})
        unseen = math.exp(lm.log_prob("zebra", history))
        assert total + unseen + math.exp(lm.log_prob("<s>", history)) == pytest.approx(1.0, abs=1e-9)


def test_edit_distance_and_frames_needed():
    assert edit_distance("kitten", "sitting") == 3
    assert edit_distance([], [1, 2]) == 2
    assert ctc_frames_needed([1, 1, 1]) == 5 and ctc_frames_needed([1, 2]) == 2


def test_output_lengths_come_from_the_front_end_pooling():
    net = CTCRecognizerNet(16, 5, channels=(4, 4, 4), hidden_size=8)  # pool 2 per block: T -> ceil(T / 8)
    lengths = torch.tensor([64, 57, 9, 1])
    log_probs, out_lengths = net(torch.randn(4, 64, 16), lengths)
    assert out_lengths.tolist() == [8, 8, 2, 1]
    assert log_probs.shape == (4, 8, 5)
    assert torch.allclose(log_probs.exp().sum(-1), torch.ones(4, 8), atol=1e-5)


def test_padded_batch_gives_the_same_log_probs_as_each_utterance_alone():
    torch.manual_seed(0)
    net = CTCRecognizerNet(16, 5, channels=(4, 4), hidden_size=8, bidirectional=True).eval()
    x = torch.randn(2, 40, 16)
    lengths = torch.tensor([40, 23])
    batched, out_lengths = net(x, lengths)
    alone, _ = net(x[1:, :23])
    assert torch.allclose(batched[1, : out_lengths[1]], alone[0], atol=1e-5)


def test_ctc_loss_stays_finite_when_a_transcript_cannot_fit_its_frames():
    torch.manual_seed(0)
    net = CTCRecognizerNet(16, 5, channels=(4, 4), hidden_size=8)
    batch = {"features": torch.randn(2, 20, 16), "lengths": torch.tensor([20, 8]),
             "targets": torch.tensor([[1, 2, 0, 0, 0, 0, 0], [3, 1, 2, 3, 4, 1, 2]]),
             "target_lengths": torch.tensor([2, 7])}
    out = net.training_step(batch)  # utterance 2 has 2 output frames for 7 labels: infinite CTC loss
    assert torch.isfinite(out["loss"]) and out["infeasible"].item() == 0.5
    out["loss"].backward()
    assert all(torch.isfinite(p.grad).all() for p in net.parameters() if p.grad is not None)
    raw = torch.nn.functional.ctc_loss(*_args(net, batch), reduction="none")
    assert math.isinf(raw[1].item())  # what zero_infinity protects against


def _args(net, batch):
    lp, lengths = net(batch["features"], batch["lengths"])
    return lp.transpose(0, 1), batch["targets"], lengths, batch["target_lengths"]


@pytest.mark.parametrize("channels,chunk", [((4,), 7), ((4, 4), 16), ((4, 4, 4), 5), ((4, 4), 1)])
def test_streaming_equals_the_offline_forward_for_a_unidirectional_network(channels, chunk):
    torch.manual_seed(1)
    net = CTCRecognizerNet(12, 6, channels=channels, hidden_size=10, num_layers=2, cell="lstm").eval()
    x = torch.randn(1, 83, 12)
    offline, _ = net(x)
    stream = net.streamer()
    parts = [stream.push(x[0, i:i + chunk]) for i in range(0, x.shape[1], chunk)]
    parts.append(stream.finish())
    streamed = torch.cat(parts)
    assert streamed.shape == offline[0].shape
    assert torch.allclose(streamed, offline[0], atol=1e-5)
    assert greedy_decode(streamed) == greedy_decode(offline)
    assert max(p.shape[0] for p in parts[:-1]) > 0  # frames were emitted before the end


def test_bidirectional_network_refuses_to_stream():
    with pytest.raises(ValueError, match="cannot stream"):
        CTCRecognizerNet(12, 6, channels=(4,), hidden_size=8, bidirectional=True).streamer()
