"""Tagging scores: entity precision/recall/F1 through seqeval in strict mode, token accuracy.

seqeval's default mode and its strict mode disagree on invalid tag sequences (seqeval#57, #23),
and the default mode only imitates ``conlleval`` for IOB tags. Here every sequence, gold and
predicted, is first read the way ``conlleval`` reads it (:func:`rnnkit.data.conll.repair_tags`:
``O I-PER`` is a chunk starting at the ``I``) and rewritten as valid tags, then scored by seqeval
in **strict mode with the scheme stated** (``IOB2`` for IOB1/IOB2 data, ``IOBES`` for BIOES/BMES).
On valid sequences that is exactly seqeval's strict score; on invalid ones it is ``conlleval``'s
score, and the number of invalid transitions found is reported beside it.

Part-of-speech tags (scheme ``none``) have no chunks: token accuracy and per-tag
precision/recall/F1 (scikit-learn).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rnnkit.models.tag_schemes import canonical_scheme
from rnnkit.optional import require

#: The seqeval scheme class used to score each of our schemes (after conversion).
SEQEVAL_SCHEME = {"IOB1": "IOB2", "IOB2": "IOB2", "BIOES": "IOBES", "BMES": "IOBES"}


def _check(gold: Sequence[Sequence[str]], predicted: Sequence[Sequence[str]]) -> None:
    if len(gold) != len(predicted):
        raise ValueError(f"predicted: expected {len(gold)} sentences like gold, got {len(predicted)}")
    for i, (g, p) in enumerate(zip(gold, predicted, strict=True)):
        if len(g) != len(p):
            raise ValueError(f"predicted: sentence {i} has {len(p)} tags, gold has {len(g)}")


def token_accuracy(gold: Sequence[Sequence[str]], predicted: Sequence[Sequence[str]]) -> float:
    """The fraction of tokens whose predicted tag equals the gold tag."""
    _check(gold, predicted)
    total = sum(len(g) for g in gold)
    right = sum(a == b for g, p in zip(gold, predicted, strict=True) for a, b in zip(g, p, strict=True))
    return right / total if total else float("nan")


def normalise_for_seqeval(tags: Sequence[str], scheme: str) -> tuple[list[str], int]:
    """Tags read as conlleval does and rewritten in seqeval's scheme; and the invalid transitions found."""
    from rnnkit.data.conll import spans_to_tags, tags_to_spans

    spans, invalid = tags_to_spans(tags, scheme)
    target = "BIOES" if SEQEVAL_SCHEME[scheme] == "IOBES" else "IOB2"
    return spans_to_tags(spans, len(tags), target), invalid


def tagging_scores(gold: Sequence[Sequence[str]], predicted: Sequence[Sequence[str]], scheme: str) -> dict[str, Any]:
    """Scores of predicted tag sequences against gold ones.

    Args:
        gold: the reference tags, one list per sentence.
        predicted: the predicted tags, the same lengths.
        scheme: the tags' scheme (``IOB1``, ``IOB2``/``BIO``, ``BIOES``, ``BMES`` or ``none``).

    Returns:
        ``{"accuracy", "precision", "recall", "f1", "per_type": {type: {"precision", "recall",
        "f1", "support"}}, "invalid_gold", "invalid_predicted", "method"}`` (F1 etc. in [0, 1]).
        For ``none`` precision/recall/F1 are the micro averages over tags (equal to accuracy) and
        ``per_type`` is per tag.

    Example:
        >>> s = tagging_scores([["B-PER", "I-PER", "O"]], [["B-PER", "O", "O"]], "IOB2")
        >>> s["f1"], s["accuracy"]
        (0.0, 0.6666666666666666)
    """
    scheme = canonical_scheme(scheme)
    _check(gold, predicted)
    accuracy = token_accuracy(gold, predicted)
    if scheme == "none":
        metrics = require("sklearn.metrics", "tag", package="scikit-learn")
        flat_gold = [t for s in gold for t in s]
        flat_pred = [t for s in predicted for t in s]
        labels = sorted(set(flat_gold))
        p, r, f, support = metrics.precision_recall_fscore_support(flat_gold, flat_pred, labels=labels,
                                                                   zero_division=0)
        per_type = {label: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]),
                            "support": int(support[i])} for i, label in enumerate(labels)}
        return {"accuracy": accuracy, "precision": accuracy, "recall": accuracy, "f1": accuracy,
                "per_type": per_type, "invalid_gold": 0, "invalid_predicted": 0,
                "method": "token accuracy; per-tag precision/recall/F1 from scikit-learn"}
    require("seqeval", "tag")
    from seqeval import scheme as seqeval_schemes
    from seqeval.metrics import classification_report

    gold_tags, invalid_gold = [], 0
    pred_tags, invalid_pred = [], 0
    for g, p in zip(gold, predicted, strict=True):
        tags, bad = normalise_for_seqeval(g, scheme)
        gold_tags.append(tags)
        invalid_gold += bad
        tags, bad = normalise_for_seqeval(p, scheme)
        pred_tags.append(tags)
        invalid_pred += bad
    target = SEQEVAL_SCHEME[scheme]
    report = classification_report(gold_tags, pred_tags, mode="strict", scheme=getattr(seqeval_schemes, target),
                                   output_dict=True, zero_division=0)
    micro = report.get("micro avg", {"precision": 0.0, "recall": 0.0, "f1-score": 0.0})
    per_type = {name: {"precision": float(row["precision"]), "recall": float(row["recall"]),
                       "f1": float(row["f1-score"]), "support": int(row["support"])}
                for name, row in report.items() if not name.endswith(" avg")}
    return {"accuracy": accuracy, "precision": float(micro["precision"]), "recall": float(micro["recall"]),
            "f1": float(micro["f1-score"]), "per_type": per_type, "invalid_gold": invalid_gold,
            "invalid_predicted": invalid_pred,
            "method": f"seqeval strict mode, scheme {target} (input {scheme}, read as conlleval reads it)"}


def per_type_markdown(per_type: dict[str, dict[str, float]]) -> str:
    """The per-type table as Markdown (precision, recall, F1 in percent, support)."""
    lines = ["| type | precision | recall | F1 | support |", "|---|---:|---:|---:|---:|"]
    for name, row in sorted(per_type.items(), key=lambda item: -item[1]["support"]):
        lines.append(f"| {name} | {100 * row['precision']:.2f} | {100 * row['recall']:.2f} | "
                     f"{100 * row['f1']:.2f} | {row['support']} |")
    return "\n".join(lines)


__all__ = ["SEQEVAL_SCHEME", "normalise_for_seqeval", "per_type_markdown", "tagging_scores", "token_accuracy"]
