"""The CRF against brute-force enumeration of every tag sequence (float64), gradcheck, constraints."""

from __future__ import annotations

import itertools

import pytest
import torch

from rnnkit.models.crf import CRF, FORBIDDEN, allowed_transitions

IOB2_TAGS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]


def brute_force(crf: CRF, emissions: torch.Tensor, length: int) -> tuple[torch.Tensor, list[int], list[float]]:
    """log Z, the best path and every path's score of one sequence, by enumerating all K**length paths."""
    trans = crf.transitions + crf.transition_penalty
    start, end = crf.start + crf.start_penalty, crf.end + crf.end_penalty
    scores, paths = [], []
    for path in itertools.product(range(crf.num_tags), repeat=length):
        s = start[path[0]] + end[path[-1]] + sum(emissions[t, y] for t, y in enumerate(path))
        s = s + sum(trans[a, b] for a, b in itertools.pairwise(path))
        scores.append(s)
        paths.append(list(path))
    stacked = torch.stack(scores)
    return torch.logsumexp(stacked, 0), paths[int(stacked.argmax())], stacked.tolist()


def random_crf(num_tags: int, *, tags: list[str] | None = None, scheme: str | None = None, seed: int = 0) -> CRF:
    torch.manual_seed(seed)
    crf = CRF.for_tags(tags, scheme) if tags else CRF(num_tags)
    with torch.no_grad():
        for p in crf.parameters():
            p.normal_(0, 1.0)
    return crf.double()


@pytest.mark.parametrize("constrained", [False, True])
def test_partition_score_and_viterbi_equal_brute_force(constrained):
    crf = random_crf(5, tags=IOB2_TAGS if constrained else None, scheme="IOB2", seed=1)
    generator = torch.Generator().manual_seed(2)
    emissions = torch.randn(4, 5, 5, generator=generator, dtype=torch.float64) * 2
    lengths = torch.tensor([5, 1, 3, 4])
    tags = torch.randint(0, 5, (4, 5), generator=generator)
    with torch.no_grad():
        log_z = crf.log_partition(emissions, lengths)
        scores = crf.score(emissions, tags, lengths)
    decoded = crf.decode(emissions, lengths)
    for b, n in enumerate(lengths.tolist()):
        with torch.no_grad():
            expected_z, expected_path, all_scores = brute_force(crf, emissions[b], n)
        assert abs(float(log_z[b]) - float(expected_z)) < 1e-9
        assert decoded[b] == expected_path
        index = sum(int(y) * 5 ** (n - 1 - t) for t, y in enumerate(tags[b, :n]))
        assert abs(float(scores[b]) - all_scores[index]) < 1e-9
    with torch.no_grad():
        nll = crf(emissions, tags, lengths, reduction="none")
    assert torch.allclose(nll, log_z - scores)
    assert torch.all(nll > 0)


def test_viterbi_never_breaks_constraints_and_is_the_best_valid_path():
    crf = random_crf(5, tags=IOB2_TAGS, scheme="IOB2", seed=3)
    allowed, first, last = allowed_transitions(IOB2_TAGS, "IOB2")
    # Emissions that would favour an invalid path: I-PER everywhere.
    emissions = torch.zeros(1, 4, 5, dtype=torch.float64)
    emissions[..., 2] = 50.0
    path = crf.decode(emissions, torch.tensor([4]))[0]
    assert first[path[0]] and last[path[-1]]
    assert all(allowed[a, b] for a, b in itertools.pairwise(path))
    assert path == [1, 2, 2, 2]  # B-PER then I-PER: the best path among the valid ones
    # Compare with the best of the valid paths enumerated directly (constraints as a filter).
    generator = torch.Generator().manual_seed(4)
    for _ in range(5):
        e = torch.randn(1, 4, 5, generator=generator, dtype=torch.float64) * 3
        best, best_path = -float("inf"), None
        with torch.no_grad():
            _, _, scores = brute_force(crf, e[0], 4)
        for p, s in zip(itertools.product(range(5), repeat=4), scores, strict=True):
            valid = first[p[0]] and last[p[-1]] and all(allowed[a, b] for a, b in itertools.pairwise(p))
            if valid and s > best:
                best, best_path = s, list(p)
        assert crf.decode(e, torch.tensor([4]))[0] == best_path


def test_iob2_constraints():
    allowed, first, last = allowed_transitions(IOB2_TAGS, "IOB2")
    o, bp, ip, bl, il = range(5)
    assert not allowed[o, ip] and not allowed[bl, ip] and not allowed[il, ip]
    assert allowed[bp, ip] and allowed[ip, ip] and allowed[ip, bl] and allowed[o, bl]
    assert first.tolist() == [True, True, False, True, False]
    assert last.all()
    tags = ["O", "B-PER", "I-PER", "E-PER", "S-PER"]
    allowed, first, last = allowed_transitions(tags, "BIOES")
    o, b, i, e, s = range(5)
    assert not allowed[b, o] and not allowed[o, e] and allowed[b, e] and allowed[e, s] and not allowed[i, b]
    assert first.tolist() == [True, True, False, False, True]
    assert last.tolist() == [True, False, False, True, True]
    crf = CRF.for_tags(tags, "BIOES")
    assert float(crf.transition_penalty[b, o]) == FORBIDDEN


def test_gradcheck():
    crf = random_crf(3, seed=5)
    emissions = torch.randn(2, 4, 3, dtype=torch.float64, requires_grad=True)
    lengths = torch.tensor([4, 2])
    tags = torch.tensor([[0, 2, 1, 1], [2, 2, 0, 0]])

    inputs = (emissions, crf.transitions.detach().clone().requires_grad_(),
              crf.start.detach().clone().requires_grad_(), crf.end.detach().clone().requires_grad_())

    def through_params(e, transitions, start, end):
        # Differentiate through the parameters by substituting them functionally.
        return torch.func.functional_call(crf, {"transitions": transitions, "start": start, "end": end},
                                          (e, tags, lengths), {"reduction": "sum"})

    assert torch.autograd.gradcheck(through_params, inputs)


def test_padding_does_not_change_results():
    crf = random_crf(4, seed=6)
    e = torch.randn(1, 3, 4, dtype=torch.float64)
    padded = torch.cat([e, torch.randn(1, 5, 4, dtype=torch.float64) * 100], dim=1)
    tags = torch.tensor([[1, 3, 0]])
    padded_tags = torch.cat([tags, torch.full((1, 5), 2)], dim=1)
    assert torch.allclose(crf.log_partition(e, torch.tensor([3])), crf.log_partition(padded, torch.tensor([3])))
    assert torch.allclose(crf(e, tags, torch.tensor([3])), crf(padded, padded_tags, torch.tensor([3])))
    assert crf.decode(e, torch.tensor([3])) == crf.decode(padded, torch.tensor([3]))


def test_agrees_with_pytorch_crf_when_installed():
    torchcrf = pytest.importorskip("torchcrf")
    crf = random_crf(4, seed=7)
    peer = torchcrf.CRF(4, batch_first=True).double()
    with torch.no_grad():
        peer.transitions.copy_(crf.transitions)
        peer.start_transitions.copy_(crf.start)
        peer.end_transitions.copy_(crf.end)
    e = torch.randn(3, 6, 4, dtype=torch.float64)
    lengths = torch.tensor([6, 2, 4])
    tags = torch.randint(0, 4, (3, 6))
    mask = torch.arange(6)[None] < lengths[:, None]
    assert torch.allclose(-peer(e, tags, mask, reduction="none"), crf(e, tags, lengths, reduction="none"))
    assert peer.decode(e, mask) == crf.decode(e, lengths)


@pytest.mark.parametrize("bad, message", [
    ({"lengths": torch.tensor([0, 3])}, "lengths: expected values in 1..3"),
    ({"lengths": torch.tensor([3])}, "lengths: expected shape"),
    ({"tags": torch.tensor([[0, 9, 0], [0, 0, 0]])}, "tags: expected ids in 0..3"),
    ({"emissions": torch.zeros(2, 3, 5)}, "emissions: expected"),
])
def test_bad_inputs(bad, message):
    crf = CRF(4)
    args = {"emissions": torch.zeros(2, 3, 4), "tags": torch.zeros(2, 3, dtype=torch.long),
            "lengths": torch.tensor([3, 2]), **bad}
    with pytest.raises(ValueError, match=message):
        crf(args["emissions"], args["tags"], args["lengths"])


def test_long_sentence_2000_tokens():
    crf = CRF.for_tags(IOB2_TAGS, "IOB2")
    e = torch.randn(1, 2000, 5)
    nll = crf(e, torch.zeros(1, 2000, dtype=torch.long), torch.tensor([2000]))
    assert torch.isfinite(nll)
    assert len(crf.decode(e, torch.tensor([2000]))[0]) == 2000


def test_memory_grows_as_tags_squared_times_length():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "benchmarks" / "tag.py"
    spec = importlib.util.spec_from_file_location("bench_tag", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    base = bench.saved_tensor_bytes(40, 100)
    assert 3.6 < bench.saved_tensor_bytes(80, 100) / base < 4.2  # doubling K: about 4x
    assert 1.9 < bench.saved_tensor_bytes(40, 200) / base < 2.1  # doubling T: 2x
    assert 3.5 < base / (8 * 100 * 40 * 40) < 4.5  # one float32 (B, K, K) block per step
