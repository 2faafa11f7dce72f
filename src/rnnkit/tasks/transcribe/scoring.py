"""The scores of ``rnnkit transcribe`` and its benchmark: error rates per test group, streaming speed."""

from __future__ import annotations

import time
from typing import Any

from rnnkit.metrics.speech import error_rates

REAL_GROUPS = {"cards": "real cards WER %", "digits": "real digits WER %", "librivox": "real LibriVox WER %"}


def score_test_set(estimator: Any, test: list, decoder: str | None = None) -> tuple[dict[str, float], list[str]]:
    """CER/WER on the held-out synthetic utterances, and CER on their digit strings alone."""
    hyps = estimator.transcribe([u.samples for u in test], decoder=decoder)
    refs = [u.text for u in test]
    rates = error_rates(refs, hyps)
    row = {"held-out CER %": rates["cer"], "held-out WER %": rates["wer"]}
    digits = [i for i, u in enumerate(test) if u.meta.get("kind") == "digits"]
    if digits:
        row["held-out digits CER %"] = error_rates([refs[i] for i in digits], [hyps[i] for i in digits])["cer"]
    return row, hyps


def score_real_clips(hyps: list[str], real: list) -> tuple[dict[str, float], list[str]]:
    """WER of each group of real recordings (cards, digits, LibriVox) for the given transcripts."""
    row = {}
    for group, name in REAL_GROUPS.items():
        idx = [i for i, u in enumerate(real) if u.split == group]
        if idx:
            row[name] = error_rates([real[i].text for i in idx], [hyps[i] for i in idx])["wer"]
    return row, hyps


def streaming_speed(estimator: Any, utterances: list, chunk_ms: int = 160) -> dict[str, float]:
    """Real-time factor and mean latency per chunk of :meth:`SpeechRecognizer.stream`, and whether the
    streamed transcripts equal the offline greedy ones (share of utterances, %).

    The real-time factor is given twice: wall-clock time over audio time, and the calling thread's
    CPU time over audio time (the part of the wall time this thread computed; on a machine shared
    with other jobs the wall time also counts the time the thread waited for a core). One untimed
    utterance is streamed first (the first chunks choose the recurrent backend for each shape)."""
    size = 16 * chunk_ms
    compute, cpu, audio, chunks, same = 0.0, 0.0, 0.0, 0, 0
    offline = estimator.transcribe([u.samples for u in utterances], decoder="greedy")
    if utterances:  # warm-up, untimed: the first chunks pick the recurrent backend per shape (autotuning)
        list(estimator.stream([utterances[0].samples[i:i + size] for i in range(0, len(utterances[0].samples), size)]))
    for u, expected in zip(utterances, offline, strict=True):
        pieces = [u.samples[i:i + size] for i in range(0, len(u.samples), size)]
        start, start_cpu = time.perf_counter(), time.thread_time()
        updates = list(estimator.stream(pieces))
        compute += time.perf_counter() - start
        cpu += time.thread_time() - start_cpu
        audio += len(u.samples) / 16000
        chunks += len(pieces)
        same += updates[-1].text == expected
    return {"stream RTF": compute / max(audio, 1e-9), "stream RTF (CPU time)": cpu / max(audio, 1e-9),
            "ms per 160 ms chunk": 1000 * compute / max(chunks, 1),
            "stream = offline %": 100.0 * same / max(len(utterances), 1)}


__all__ = ["REAL_GROUPS", "score_real_clips", "score_test_set", "streaming_speed"]
