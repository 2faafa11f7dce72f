"""Chunk tagging schemes: names, tag prefixes and which transitions each scheme allows.

Pure Python, shared by the CRF's constraints (:func:`rnnkit.models.crf.allowed_transitions`) and
the CoNLL readers' span logic (:mod:`rnnkit.data.conll`), so both agree on what is valid.

========  =========================================================================
``IOB2``  (also ``BIO``) every chunk starts with ``B-X``, continues with ``I-X``
``IOB1``  ``I-X`` everywhere; ``B-X`` only where a chunk follows another of type X
``BIOES`` (also ``IOBES``) ``S-X`` one-token chunk, ``B-X I-X* E-X`` longer ones
``BMES``  BIOES with ``M-X`` for the inside tags (the Chinese NER corpora's spelling)
``none``  plain tags (part of speech): no chunks, every transition allowed
========  =========================================================================
"""

from __future__ import annotations

#: Scheme names accepted everywhere (aliases map to the canonical name).
SCHEMES = {"IOB2": "IOB2", "BIO": "IOB2", "IOB1": "IOB1", "BIOES": "BIOES", "IOBES": "BIOES",
           "BMES": "BMES", "NONE": "none", "PLAIN": "none"}


def canonical_scheme(scheme: str) -> str:
    """The canonical name of ``scheme`` (``"BIO"`` -> ``"IOB2"``).

    Raises:
        ValueError: an unknown scheme, naming the known ones.

    Example:
        >>> canonical_scheme("bio")
        'IOB2'
    """
    key = str(scheme).upper()
    if key not in SCHEMES:
        raise ValueError(f"scheme: expected one of {sorted(set(SCHEMES))}, got {scheme!r}")
    return SCHEMES[key]


def split_tag(tag: str) -> tuple[str, str]:
    """``"B-PER"`` -> ``("B", "PER")``; ``"O"`` -> ``("O", "")``; ``"PER"`` (no prefix) -> ``("I", "PER")``.

    ``M-X`` (BMES) is returned as ``("I", "X")``: it plays the role of an inside tag.
    """
    if tag == "O":
        return "O", ""
    if len(tag) > 2 and tag[1] in "-_" and tag[0] in "BIESM":
        return ("I" if tag[0] == "M" else tag[0]), tag[2:]
    return "I", tag


def transition_allowed(previous: tuple[str, str], current: tuple[str, str], scheme: str) -> bool:
    """Whether ``current`` may follow ``previous`` (each ``(prefix, type)`` from :func:`split_tag`).

    The sequence's start and end are ``("O", "")``. ``scheme`` must be canonical.
    """
    (p, pt), (c, ct) = previous, current
    if scheme == "none":
        return True
    if scheme == "IOB2":
        if c in ("E", "S"):
            return False
        return c != "I" or (p in ("B", "I") and pt == ct)
    if scheme == "IOB1":
        if c in ("E", "S"):
            return False
        return c != "B" or (p in ("B", "I") and pt == ct)
    # BIOES / BMES: inside and end tags continue a B or I of their type; B and I must be continued.
    opened = p in ("B", "I")
    if c in ("I", "E"):
        return opened and pt == ct
    return not opened


__all__ = ["SCHEMES", "canonical_scheme", "split_tag", "transition_allowed"]
