"""Decoding an encoder-decoder: greedy, batched beam search, sampling, lexically constrained beam search.

Every function takes a model with the decoding interface of :class:`rnnkit.models.seq2seq.Seq2Seq`
(``encode``, ``start``, ``step``, ``bos_id``, ``eos_id``) and a batch of right-padded sources, and
returns :class:`Hypothesis` objects (token ids without BOS/EOS).

Lengths. A sentence may produce at most ``max_len_a * source_length + max_len_b`` tokens (EOS
included); a hypothesis that reaches it without EOS ends there.

Scores. ``log_prob`` is the sum of the token log-probabilities (EOS included); beam search ranks
finished hypotheses by ``log_prob / lp(length)`` with GNMT's length penalty
``lp(n) = ((5 + n) / 6) ** alpha`` (Wu et al. 2016, §7), ``n`` counting EOS; ``alpha = 0`` is no
normalisation.

Beam search (batched over sentences): at each step the ``2k`` best continuations of the ``k`` live
hypotheses are taken; a continuation with EOS among the first ``k`` of them is set aside as
finished, the first ``k`` others stay live; a sentence stops when it has ``k`` finished hypotheses
(or at its maximum length, when its live ones are finished as they are). With ``k = 1`` this is
greedy decoding exactly.

Constrained beam search (dynamic beam allocation, Post & Vilar 2018): each hypothesis tracks which
constraint phrases (token sequences) it has produced; candidates are the global top ``k``, each
hypothesis' best token and every token that advances or starts an unmet constraint; the beam is
shared out among "banks" by the number of constraint tokens met, EOS is allowed only once every
constraint is met, and the maximum length grows by the constraints' length. The result contains
every constraint unless no hypothesis met them all by the maximum length (then the one with the
most constraint tokens, flagged ``constraints_met=False``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass
class Hypothesis:
    """One output sentence.

    Attributes:
        tokens: the token ids, without BOS and EOS.
        log_prob: the sum of log-probabilities of the tokens and EOS (if produced).
        score: ``log_prob / lp(length)`` (equal to ``log_prob`` for greedy and sampling).
        finished: whether EOS was produced (False: stopped at the maximum length).
        attention: ``(len(tokens) + finished, S)`` weights of each produced token, or None.
        constraints_met: for constrained search, whether every constraint appears.
    """

    tokens: list[int]
    log_prob: float
    score: float
    finished: bool
    attention: Tensor | None = None
    constraints_met: bool = True


def length_penalty(length: int, alpha: float) -> float:
    """GNMT's ``((5 + length) / 6) ** alpha`` (Wu et al. 2016, eq. 14)."""
    return ((5.0 + length) / 6.0) ** alpha


def max_lengths(src_lengths: Tensor, max_len_a: float, max_len_b: int) -> list[int]:
    """Per-sentence output limits ``max(1, floor(a * source_length + b))``."""
    if max_len_a < 0 or max_len_b < 0:
        raise ValueError(f"max_len_a, max_len_b: expected >= 0, got {max_len_a!r}, {max_len_b!r}")
    return [max(1, math.floor(max_len_a * int(n) + max_len_b)) for n in src_lengths.tolist()]


def _step_tokens(model, src: Tensor, src_lengths: Tensor, choose, max_len_a: float, max_len_b: int,
                 keep_attention: bool) -> list[Hypothesis]:
    """Greedy / sampling: one token per sentence per step, chosen by ``choose(log_probs)``."""
    limits = max_lengths(src_lengths, max_len_a, max_len_b)
    batch = src.shape[0]
    memory = model.encode(src, src_lengths)
    state = model.start(memory)
    tokens = torch.full((batch,), model.bos_id, dtype=torch.long, device=src.device)
    out: list[list[int]] = [[] for _ in range(batch)]
    log_probs = [0.0] * batch
    attention: list[list[Tensor]] = [[] for _ in range(batch)]
    done = [False] * batch
    ended = [False] * batch
    for t in range(max(limits)):
        step_log_probs, state, weights = model.step(tokens, state, memory)
        chosen = choose(step_log_probs)
        picked = step_log_probs.gather(1, chosen.unsqueeze(1)).squeeze(1).tolist()
        for b, token in enumerate(chosen.tolist()):
            if done[b]:
                continue
            log_probs[b] += picked[b]
            if keep_attention and weights is not None:
                attention[b].append(weights[b].detach().cpu())
            if token == model.eos_id:
                done[b] = ended[b] = True
                continue
            out[b].append(token)
            if t + 1 >= limits[b]:
                done[b] = True
        if all(done):
            break
        tokens = chosen
    return [Hypothesis(out[b], log_probs[b], log_probs[b], finished=ended[b],
                       attention=torch.stack(attention[b]) if attention[b] else None) for b in range(batch)]


@torch.no_grad()
def greedy_decode(model, src: Tensor, src_lengths: Tensor, *, max_len_a: float = 1.5, max_len_b: int = 10,
                  keep_attention: bool = False) -> list[Hypothesis]:
    """The most probable token at each step, for a batch of sentences.

    Args:
        model: a model with the decoding interface (``Seq2Seq``), in eval mode.
        src: ``(B, S)`` source ids, right-padded.
        src_lengths: ``(B,)`` real lengths.
        max_len_a, max_len_b: output limit ``a * source_length + b`` (EOS included).
        keep_attention: keep each step's attention weights (for a heatmap).

    Returns:
        One :class:`Hypothesis` per sentence.

    Example:
        >>> hyps = greedy_decode(model, src, lengths)  # doctest: +SKIP
    """
    return _step_tokens(model, src, src_lengths, lambda lp: lp.argmax(-1), max_len_a, max_len_b, keep_attention)


@torch.no_grad()
def sample_decode(model, src: Tensor, src_lengths: Tensor, *, temperature: float = 1.0,
                  generator: torch.Generator | None = None, max_len_a: float = 1.5, max_len_b: int = 10,
                  keep_attention: bool = False) -> list[Hypothesis]:
    """Ancestral sampling from ``softmax(logits / temperature)``, for a batch of sentences.

    Args:
        temperature: > 0; below 1 sharpens, above 1 flattens the distribution.
        generator: a seeded ``torch.Generator`` for reproducible samples.
        (the rest as in :func:`greedy_decode`; ``log_prob`` is under the untempered model.)

    Returns:
        One sampled :class:`Hypothesis` per sentence.
    """
    if not temperature > 0:
        raise ValueError(f"temperature: expected a positive number, got {temperature!r}")

    def choose(log_probs: Tensor) -> Tensor:
        probs = torch.softmax(log_probs / temperature, dim=-1)
        return torch.multinomial(probs, 1, generator=generator).squeeze(1)

    return _step_tokens(model, src, src_lengths, choose, max_len_a, max_len_b, keep_attention)


@torch.no_grad()
def beam_search(model, src: Tensor, src_lengths: Tensor, *, beam_size: int = 5, alpha: float = 0.6,
                n_best: int = 1, max_len_a: float = 1.5, max_len_b: int = 10,
                keep_attention: bool = False) -> list[list[Hypothesis]]:
    """Batched beam search with GNMT length normalisation and n-best lists (see the module docstring).

    Args:
        model: a model with the decoding interface, in eval mode.
        src, src_lengths: the batch, as in :func:`greedy_decode`.
        beam_size: live hypotheses per sentence ``k``.
        alpha: length-penalty exponent (0: rank by total log-probability).
        n_best: hypotheses returned per sentence (at most ``beam_size``).
        max_len_a, max_len_b, keep_attention: as in :func:`greedy_decode`.

    Returns:
        Per sentence, the ``n_best`` finished hypotheses, best first.

    Example:
        >>> best = [nbest[0] for nbest in beam_search(model, src, lengths, beam_size=5)]  # doctest: +SKIP
    """
    if beam_size < 1 or not 1 <= n_best <= beam_size:
        raise ValueError(f"beam_size, n_best: expected 1 <= n_best <= beam_size, got {beam_size!r}, {n_best!r}")
    limits = max_lengths(src_lengths, max_len_a, max_len_b)
    batch, k, device = src.shape[0], beam_size, src.device
    rows = torch.arange(batch, device=device).repeat_interleave(k)
    memory = model.encode(src, src_lengths).select(rows)
    state = model.start(memory)
    scores = torch.full((batch, k), float("-inf"), device=device)
    scores[:, 0] = 0.0
    tokens = torch.full((batch * k,), model.bos_id, dtype=torch.long, device=device)
    history = torch.empty((batch * k, 0), dtype=torch.long, device=device)
    attention = None
    finished: list[list[Hypothesis]] = [[] for _ in range(batch)]
    done = [False] * batch
    for t in range(max(limits)):
        log_probs, state, weights = model.step(tokens, state, memory)
        vocab = log_probs.shape[-1]
        if keep_attention and weights is not None:
            attention = weights.unsqueeze(1) if attention is None else torch.cat([attention, weights.unsqueeze(1)], 1)
        candidates = (scores.view(-1, 1) + log_probs).view(batch, k * vocab)
        top_scores, top_index = candidates.topk(min(2 * k, k * vocab), dim=1)
        top_scores, top_index = top_scores.tolist(), top_index.tolist()
        next_rows, next_tokens, next_scores = [], [], []
        for b in range(batch):
            alive: list[tuple[float, int, int]] = []
            if not done[b]:
                for rank, (score, index) in enumerate(zip(top_scores[b], top_index[b], strict=True)):
                    if score == float("-inf"):
                        break
                    beam, token = divmod(index, vocab)
                    row = b * k + beam
                    if token == model.eos_id:
                        if rank < k:
                            finished[b].append(_hypothesis(history[row].tolist(), score, True, alpha,
                                                           attention, row, t + 1))
                        continue
                    if len(alive) < k:
                        alive.append((score, row, token))
                if t + 1 >= limits[b]:
                    for score, row, token in alive:
                        finished[b].append(_hypothesis([*history[row].tolist(), token], score, False, alpha,
                                                       attention, row, t + 1))
                    done[b] = True
                elif len(finished[b]) >= k or not alive:
                    done[b] = True
            if done[b] or not alive:  # keep the rows' shapes; their scores are -inf from now on
                alive = [(float("-inf"), b * k, model.eos_id)] * k
            alive += [(float("-inf"), alive[0][1], alive[0][2])] * (k - len(alive))
            for score, row, token in alive:
                next_rows.append(row)
                next_tokens.append(token)
                next_scores.append(score)
        if all(done):
            break
        index = torch.tensor(next_rows, device=device)
        tokens = torch.tensor(next_tokens, device=device)
        scores = torch.tensor(next_scores, device=device).view(batch, k)
        history = torch.cat([history.index_select(0, index), tokens.unsqueeze(1)], dim=1)
        state = state.select(index)
        if attention is not None:
            attention = attention.index_select(0, index)
    return [sorted(hyps, key=lambda h: h.score, reverse=True)[:n_best] for hyps in finished]


def _hypothesis(tokens: list[int], log_prob: float, finished: bool, alpha: float, attention: Tensor | None,
                row: int, steps: int) -> Hypothesis:
    length = len(tokens) + int(finished)
    weights = None if attention is None else attention[row, :steps].detach().cpu().clone()
    return Hypothesis(tokens, log_prob, log_prob / length_penalty(length, alpha), finished, weights)


# ---------------------------------------------------------------------------------------------- constraints


@dataclass(frozen=True)
class _Progress:
    """Which constraints a hypothesis has met, and how far into one it is."""

    met: tuple[bool, ...]
    current: int = -1  # index of the constraint in progress, -1 for none
    position: int = 0  # tokens of it produced so far

    def advance(self, token: int, constraints: Sequence[Sequence[int]]) -> _Progress:
        met = list(self.met)
        if self.current >= 0:
            phrase = constraints[self.current]
            if token == phrase[self.position]:
                if self.position + 1 == len(phrase):
                    met[self.current] = True
                    return _Progress(tuple(met))
                return _Progress(self.met, self.current, self.position + 1)
            produced = [*phrase[: self.position], token]  # a mismatch: the longest suffix that restarts it
            for start in range(1, len(produced)):
                if produced[start:] == list(phrase[: len(produced) - start]):
                    return _Progress(self.met, self.current, len(produced) - start)
        for c, phrase in enumerate(constraints):  # start an unmet constraint (also after an abandoned one)
            if not met[c] and token == phrase[0]:
                if len(phrase) == 1:
                    met[c] = True
                    return _Progress(tuple(met))
                return _Progress(self.met, c, 1)
        return _Progress(self.met)

    def wanted(self, constraints: Sequence[Sequence[int]]) -> set[int]:
        """Tokens that advance the constraint in progress or start an unmet one."""
        if self.current >= 0:
            return {constraints[self.current][self.position]}
        return {phrase[0] for c, phrase in enumerate(constraints) if not self.met[c]}

    def bank(self, constraints: Sequence[Sequence[int]]) -> int:
        """Constraint tokens produced: those of met constraints plus the one in progress."""
        return sum(len(p) for p, m in zip(constraints, self.met, strict=True) if m) + self.position

    @property
    def complete(self) -> bool:
        return all(self.met)


@torch.no_grad()
def constrained_beam_search(model, src: Tensor, src_lengths: Tensor, constraints: Sequence[Sequence[Sequence[int]]],
                            *, beam_size: int = 5, alpha: float = 0.6, n_best: int = 1, max_len_a: float = 1.5,
                            max_len_b: int = 10, keep_attention: bool = False) -> list[list[Hypothesis]]:
    """Lexically constrained beam search with dynamic beam allocation (Post & Vilar 2018).

    Args:
        model: a model with the decoding interface, in eval mode.
        src, src_lengths: the batch, as in :func:`greedy_decode`.
        constraints: per sentence, a list of token-id phrases that must appear (may be empty).
        beam_size: the beam ``k``; raised to the number of banks (constraint tokens + 1) if smaller.
        alpha, n_best, max_len_a, max_len_b, keep_attention: as in :func:`beam_search`; each
            sentence's maximum length grows by the total length of its constraints.

    Returns:
        Per sentence, up to ``n_best`` hypotheses, best first (those meeting every constraint first).

    Example:
        >>> out = constrained_beam_search(model, src, lengths, [[[17, 4]], []])  # doctest: +SKIP
    """
    if len(constraints) != src.shape[0]:
        raise ValueError(f"constraints: expected one list per sentence ({src.shape[0]}), got {len(constraints)}")
    for b, phrases in enumerate(constraints):
        for phrase in phrases:
            if len(phrase) == 0 or model.eos_id in phrase:
                raise ValueError(f"constraints[{b}]: expected non-empty phrases without EOS, got {list(phrase)}")
    results = []
    for b in range(src.shape[0]):
        length = src_lengths[b: b + 1]
        one = src[b: b + 1, : int(length)]
        phrases = [list(p) for p in constraints[b]]
        if not phrases:
            results.append(beam_search(model, one, length, beam_size=beam_size, alpha=alpha, n_best=n_best,
                                       max_len_a=max_len_a, max_len_b=max_len_b, keep_attention=keep_attention)[0])
            continue
        extra = sum(len(p) for p in phrases)
        limit = max_lengths(length, max_len_a, max_len_b)[0] + extra
        results.append(_constrained_one(model, one, length, phrases, max(beam_size, extra + 1), alpha,
                                        n_best, limit, keep_attention))
    return results


def _constrained_one(model, src: Tensor, src_lengths: Tensor, constraints: list[list[int]], k: int, alpha: float,
                     n_best: int, limit: int, keep_attention: bool) -> list[Hypothesis]:
    memory = model.encode(src, src_lengths)
    state = model.start(memory)
    live: list[tuple[float, list[int], _Progress]] = [(0.0, [], _Progress((False,) * len(constraints)))]
    attention = None
    finished: list[Hypothesis] = []
    banks = sum(len(p) for p in constraints) + 1
    per_bank = max(1, k // banks)
    for t in range(limit):
        rows = len(live)
        tokens = torch.tensor([h[1][-1] if h[1] else model.bos_id for h in live], device=src.device)
        log_probs, state, weights = model.step(tokens, state, memory.select(torch.zeros(rows, dtype=torch.long,
                                                                                        device=src.device)))
        if keep_attention and weights is not None:
            attention = weights.unsqueeze(1) if attention is None else torch.cat([attention, weights.unsqueeze(1)], 1)
        for r, (_s, _tokens, progress) in enumerate(live):
            if not progress.complete:
                log_probs[r, model.eos_id] = float("-inf")
        totals = torch.tensor([h[0] for h in live], device=src.device).unsqueeze(1) + log_probs
        pairs: set[tuple[int, int]] = set()
        top = totals.view(-1).topk(min(k, totals.numel())).indices.tolist()
        pairs.update(divmod(i, log_probs.shape[1]) for i in top)
        pairs.update((r, int(totals[r].argmax())) for r in range(rows))
        for r, (_s, _tokens, progress) in enumerate(live):
            pairs.update((r, token) for token in progress.wanted(constraints))
        candidates = []
        for r, token in pairs:
            score = float(totals[r, token])
            if score == float("-inf"):
                continue
            candidates.append((score, r, token, live[r][2].advance(token, constraints)))
        # Dynamic beam allocation: the best per_bank of each bank first, then the best of the rest.
        candidates.sort(key=lambda c: c[0], reverse=True)
        chosen, rest = [], []
        taken = dict.fromkeys(range(banks), 0)
        for candidate in candidates:
            bank = candidate[3].bank(constraints)
            if taken[bank] < per_bank:
                taken[bank] += 1
                chosen.append(candidate)
            else:
                rest.append(candidate)
        chosen = (chosen + rest[: max(0, k - len(chosen))])[:k] if len(chosen) < k else chosen[:k]
        new_live, index = [], []
        for score, r, token, progress in chosen:
            if token == model.eos_id:
                finished.append(_constrained_hypothesis(live[r][1], score, True, alpha, attention, r, t + 1, True))
            else:
                new_live.append((score, [*live[r][1], token], progress))
                index.append(r)
        if t + 1 >= limit:
            for (score, tokens_, progress), r in zip(new_live, index, strict=True):
                finished.append(_constrained_hypothesis(tokens_, score, False, alpha, attention, r, t + 1,
                                                        progress.complete))
        if t + 1 >= limit or sum(h.constraints_met for h in finished) >= k or not new_live:
            break
        select = torch.tensor(index, device=src.device)
        state = state.select(select)
        if attention is not None:
            attention = attention.index_select(0, select)
        live = new_live

    def rank(h: Hypothesis) -> tuple[bool, int, float]:
        progress = _Progress((False,) * len(constraints))
        for token in h.tokens:
            progress = progress.advance(token, constraints)
        return h.constraints_met, progress.bank(constraints), h.score

    return sorted(finished, key=rank, reverse=True)[:n_best]


def _constrained_hypothesis(tokens: list[int], log_prob: float, finished: bool, alpha: float,
                            attention: Tensor | None, row: int, steps: int, met: bool) -> Hypothesis:
    hyp = _hypothesis(tokens, log_prob, finished, alpha, attention, row, steps)
    hyp.constraints_met = met
    return hyp


__all__ = ["Hypothesis", "beam_search", "constrained_beam_search", "greedy_decode", "length_penalty",
           "max_lengths", "sample_decode"]
