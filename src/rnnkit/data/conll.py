"""Tagged sentences in and out: CoNLL-2003 column files, CoNLL-U, and the chunk tagging schemes.

Formats:

* **CoNLL-2003 columns**: one token per line, whitespace-separated columns (token first, the tag
  in a chosen column, by default the last), a blank line between sentences, ``-DOCSTART-`` lines
  between documents::

      -DOCSTART- -X- -X- O

      EU NNP B-NP B-ORG
      rejects VBZ B-VP O

* **CoNLL-U** (Universal Dependencies): ten tab-separated columns, ``#`` comments, multiword-token
  ranges (``1-2``) and empty nodes (``1.1``) skipped; the tag is UPOS, XPOS or one FEATS key.

Schemes (how a chunk's tokens are tagged):

========  =========================================================================
``IOB2``  (also ``BIO``) every chunk starts with ``B-X``, continues with ``I-X``
``IOB1``  ``I-X`` everywhere; ``B-X`` only where a chunk follows another of type X
``BIOES`` (also ``IOBES``) ``S-X`` one-token chunk, ``B-X I-X* E-X`` longer ones
``BMES``  BIOES with ``M-X`` for the inside tags (the Chinese NER corpora's spelling)
``none``  plain tags (part of speech): no chunks
========  =========================================================================

Every format error names the file and the line.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from rnnkit.models.tag_schemes import SCHEMES, canonical_scheme, split_tag, transition_allowed

#: CoNLL-U's ten columns.
CONLLU_COLUMNS = ("id", "form", "lemma", "upos", "xpos", "feats", "head", "deprel", "deps", "misc")


class ConllFormatError(ValueError):
    """A malformed line in a CoNLL or CoNLL-U file; the message names the file and the line."""


@dataclass
class TaggedSentence:
    """One sentence: its tokens, their tags, and where it came from.

    Attributes:
        tokens: the words (or characters, for character-level corpora).
        tags: one tag per token.
        line: the 1-based line of the sentence's first token in its file (0 when not from a file).
        source: the file name (empty when not from a file).
    """

    tokens: list[str]
    tags: list[str]
    line: int = 0
    source: str = ""
    comments: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if len(self.tokens) != len(self.tags):
            raise ValueError(f"{self.where()}: {len(self.tokens)} tokens but {len(self.tags)} tags")

    def where(self) -> str:
        """``file:line`` of the sentence (or ``sentence`` when it has no origin)."""
        return f"{self.source}:{self.line}" if self.source else "sentence"


def _lines(source: str | os.PathLike | Iterable[str]) -> tuple[str, Iterator[str]]:
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.is_file():
            raise FileNotFoundError(f"data: {path} does not exist or is not a file")
        return str(path), iter(path.read_text(encoding="utf-8").splitlines())
    return "<lines>", iter(source)


def read_conll(
    source: str | os.PathLike | Iterable[str],
    *,
    tag_column: int = -1,
    token_column: int = 0,
) -> list[TaggedSentence]:
    """Read a CoNLL-2003 style column file.

    Every token line of a file must have the same number of columns (the first token line sets
    it); ``-DOCSTART-`` lines and the blank line after them are skipped. Tabs or spaces separate
    columns.

    Args:
        source: a path, or an iterable of lines (without or with newlines).
        tag_column: the column holding the tag (negative counts from the end; default the last).
        token_column: the column holding the token.

    Returns:
        The sentences, each with the line number of its first token.

    Raises:
        ConllFormatError: a line with a different number of columns, or too few for the columns asked.

    Example:
        >>> s = read_conll(["EU NNP B-ORG", "rejects VBZ O", "", "Peter NNP B-PER"])
        >>> s[0].tokens, s[0].tags
        (['EU', 'rejects'], ['B-ORG', 'O'])
    """
    name, lines = _lines(source)
    sentences: list[TaggedSentence] = []
    tokens: list[str] = []
    tags: list[str] = []
    first = 0
    width: int | None = None
    width_line = 0
    needed = max(tag_column if tag_column >= 0 else -tag_column - 1, token_column) + 1

    def close() -> None:
        nonlocal tokens, tags
        if tokens:
            sentences.append(TaggedSentence(tokens, tags, first, name))
        tokens, tags = [], []

    for number, raw in enumerate(lines, start=1):
        line = raw.rstrip("\r\n")
        if not line.strip():
            close()
            continue
        columns = line.split()
        if columns[0] == "-DOCSTART-":
            close()
            continue
        if width is None:
            if len(columns) < max(needed, 2):
                raise ConllFormatError(f"{name}:{number}: expected at least {max(needed, 2)} columns (token ... tag), "
                                       f"got {len(columns)}: {line!r}")
            width, width_line = len(columns), number
        elif len(columns) != width:
            raise ConllFormatError(f"{name}:{number}: expected {width} columns like line {width_line}, "
                                   f"got {len(columns)}: {line!r}")
        if not tokens:
            first = number
        tokens.append(columns[token_column])
        tags.append(columns[tag_column])
    close()
    return sentences


def read_tokens(source: str | os.PathLike | Iterable[str]) -> list[list[str]]:
    """The first column of a column file as token lists (for tagging files without tags).

    Blank lines separate sentences; ``-DOCSTART-`` lines are skipped; any further columns are ignored.
    """
    _, lines = _lines(source)
    sentences: list[list[str]] = []
    tokens: list[str] = []
    for raw in lines:
        columns = raw.split()
        if not columns or columns[0] == "-DOCSTART-":
            if tokens:
                sentences.append(tokens)
            tokens = []
            continue
        tokens.append(columns[0])
    if tokens:
        sentences.append(tokens)
    return sentences


def write_conll(sentences: Iterable[TaggedSentence], path: str | os.PathLike | None = None, *,
                separator: str = " ", predicted: Sequence[Sequence[str]] | None = None) -> str:
    """Write sentences as ``token tag`` lines (``token gold predicted`` with ``predicted``).

    The three-column form is what the ``conlleval`` script reads.

    Args:
        sentences: the sentences.
        path: the file to write (None: only return the text).
        separator: between columns.
        predicted: a second tag sequence per sentence, written as a third column.

    Returns:
        The text written.
    """
    blocks = []
    sentences = list(sentences)
    if predicted is not None and len(predicted) != len(sentences):
        raise ValueError(f"predicted: expected {len(sentences)} tag sequences, got {len(predicted)}")
    for i, sentence in enumerate(sentences):
        rows = []
        for j, (token, tag) in enumerate(zip(sentence.tokens, sentence.tags, strict=True)):
            if not token or any(c.isspace() for c in token):
                raise ValueError(f"{sentence.where()}: token {j} {token!r} is empty or holds whitespace, "
                                 "which a column file cannot represent")
            cells = [token, tag] + ([predicted[i][j]] if predicted is not None else [])
            rows.append(separator.join(cells))
        blocks.append("\n".join(rows))
    text = "\n\n".join(blocks) + ("\n" if blocks else "")
    if path is not None:
        Path(path).write_text(text, encoding="utf-8")
    return text


def read_conllu(source: str | os.PathLike | Iterable[str], *, column: str = "upos") -> list[TaggedSentence]:
    """Read a CoNLL-U file, taking one column (or one FEATS key) as the tag.

    Args:
        source: a path, or an iterable of lines.
        column: ``"upos"``, ``"xpos"``, another column name (see :data:`CONLLU_COLUMNS`), or
            ``"feats:KEY"`` for one morphological feature (``"_"`` where the token lacks it).

    Returns:
        The sentences, with their ``#`` comment lines.

    Raises:
        ConllFormatError: a token line without exactly ten tab-separated columns, or a bad ID.
        ValueError: an unknown column.

    Example:
        >>> s = read_conllu(["1\\tEv\\tev\\tNOUN\\tNN\\tCase=Nom\\t0\\troot\\t_\\t_"], column="feats:Case")
        >>> s[0].tags
        ['Nom']
    """
    feature = None
    key = column.lower()
    if key.startswith("feats:"):
        feature, index = column.split(":", 1)[1], CONLLU_COLUMNS.index("feats")
        if not feature:
            raise ValueError("column: 'feats:' needs a feature name, e.g. 'feats:Case'")
    elif key in CONLLU_COLUMNS:
        index = CONLLU_COLUMNS.index(key)
    else:
        raise ValueError(f"column: expected one of {list(CONLLU_COLUMNS)} or 'feats:KEY', got {column!r}")
    name, lines = _lines(source)
    sentences: list[TaggedSentence] = []
    tokens: list[str] = []
    tags: list[str] = []
    comments: list[str] = []
    first = 0
    for number, raw in enumerate(lines, start=1):
        line = raw.rstrip("\r\n")
        if not line.strip():
            if tokens:
                sentences.append(TaggedSentence(tokens, tags, first, name, comments))
            tokens, tags, comments = [], [], []
            continue
        if line.startswith("#"):
            comments.append(line)
            continue
        cells = line.split("\t")
        if len(cells) != 10:
            raise ConllFormatError(f"{name}:{number}: expected 10 tab-separated CoNLL-U columns, "
                                   f"got {len(cells)}: {line!r}")
        token_id = cells[0]
        if "-" in token_id or "." in token_id:
            continue  # multiword-token range or empty node: not a token of the sentence
        if not token_id.isdigit():
            raise ConllFormatError(f"{name}:{number}: expected an integer token ID, got {token_id!r}")
        if not tokens:
            first = number
        tokens.append(cells[1])
        if feature is None:
            tags.append(cells[index])
        else:
            feats = dict(item.split("=", 1) for item in cells[index].split("|") if "=" in item)
            tags.append(feats.get(feature, "_"))
    if tokens:
        sentences.append(TaggedSentence(tokens, tags, first, name, comments))
    return sentences


def write_conllu(sentences: Iterable[TaggedSentence], path: str | os.PathLike | None = None, *,
                 column: str = "upos") -> str:
    """Write sentences as CoNLL-U with the tag in ``column`` (``upos`` or ``xpos``), other columns ``_``.

    Returns:
        The text written.
    """
    key = column.lower()
    if key not in ("upos", "xpos"):
        raise ValueError(f"column: write_conllu writes 'upos' or 'xpos', got {column!r}")
    index = CONLLU_COLUMNS.index(key)
    blocks = []
    for sentence in sentences:
        rows = list(sentence.comments)
        for i, (token, tag) in enumerate(zip(sentence.tokens, sentence.tags, strict=True), start=1):
            cells = [str(i), token] + ["_"] * 8
            cells[index] = tag
            rows.append("\t".join(cells))
        blocks.append("\n".join(rows))
    text = "\n\n".join(blocks) + ("\n\n" if blocks else "")
    if path is not None:
        Path(path).write_text(text, encoding="utf-8")
    return text


# ------------------------------------------------------------------------------------------ schemes

#: The inside letter of each chunk scheme.
_INSIDE = {"IOB1": "I", "IOB2": "I", "BIOES": "I", "BMES": "M"}


def tags_to_spans(tags: Sequence[str], scheme: str) -> tuple[list[tuple[str, int, int]], int]:
    """The chunks of a tag sequence, read leniently as the ``conlleval`` script does.

    A chunk starts at ``B``/``S``, or at an inside tag (``I``/``M``/``E``) that does not continue
    a chunk of its type; it ends before ``O``, ``B``, ``S``, a tag of another type, and after
    ``E``/``S``. Invalid transitions (``O I-PER`` in IOB2, ``B-PER O`` in BIOES) are counted.

    Args:
        tags: the tags.
        scheme: a chunk scheme (see :data:`SCHEMES`).

    Returns:
        ``(spans, invalid)``: ``[(type, start, end)]`` with ``end`` exclusive, and the number of
        invalid transitions under ``scheme``.
    """
    scheme = canonical_scheme(scheme)
    if scheme == "none":
        raise ValueError("scheme: 'none' tags have no chunks; give IOB1, IOB2, BIOES or BMES")
    spans: list[tuple[str, int, int]] = []
    invalid = 0
    start, kind = -1, ""
    previous = ("O", "")
    for i, tag in enumerate(tags):
        prefix, label = split_tag(tag)
        if not transition_allowed(previous, (prefix, label), scheme):
            invalid += 1
        continues = kind != "" and label == kind and prefix in ("I", "E") and previous[0] in ("B", "I")
        if kind and not continues:
            spans.append((kind, start, i))
            kind = ""
        if prefix != "O" and not continues:
            start, kind = i, label
        if prefix in ("E", "S"):
            spans.append((kind, start, i + 1))
            kind = ""
        previous = (prefix, label)
    if kind:
        spans.append((kind, start, len(tags)))
    if not transition_allowed(previous, ("O", ""), scheme):
        invalid += 1
    return spans, invalid


def spans_to_tags(spans: Iterable[tuple[str, int, int]], length: int, scheme: str) -> list[str]:
    """Tags of ``length`` tokens holding ``spans`` (``[(type, start, end)]``, end exclusive) in ``scheme``.

    Raises:
        ValueError: overlapping spans or spans outside ``[0, length)``.
    """
    scheme = canonical_scheme(scheme)
    if scheme == "none":
        raise ValueError("scheme: 'none' tags have no chunks; give IOB1, IOB2, BIOES or BMES")
    inside = _INSIDE[scheme]
    tags = ["O"] * length
    previous_end, previous_kind = -1, None
    for kind, start, end in sorted(spans, key=lambda s: s[1]):
        if not 0 <= start < end <= length:
            raise ValueError(f"spans: ({kind!r}, {start}, {end}) lies outside 0..{length}")
        if any(t != "O" for t in tags[start:end]):
            raise ValueError(f"spans: ({kind!r}, {start}, {end}) overlaps another span")
        if scheme in ("BIOES", "BMES"):
            if end - start == 1:
                tags[start] = f"S-{kind}"
            else:
                tags[start:end] = [f"B-{kind}"] + [f"{inside}-{kind}"] * (end - start - 2) + [f"E-{kind}"]
        elif scheme == "IOB2":
            tags[start:end] = [f"B-{kind}"] + [f"I-{kind}"] * (end - start - 1)
        else:  # IOB1: B only where the chunk touches a previous chunk of the same type
            first = "B" if previous_end == start and previous_kind == kind else "I"
            tags[start:end] = [f"{first}-{kind}"] + [f"I-{kind}"] * (end - start - 1)
        previous_end, previous_kind = end, kind
    return tags


def convert_tags(tags: Sequence[str], source: str, target: str) -> list[str]:
    """Re-tag a sequence from one chunk scheme into another (invalid input read as conlleval does).

    Example:
        >>> convert_tags(["B-PER", "I-PER", "O", "B-LOC"], "IOB2", "BIOES")
        ['B-PER', 'E-PER', 'O', 'S-LOC']
    """
    spans, _ = tags_to_spans(tags, source)
    return spans_to_tags(spans, len(tags), target)


def repair_tags(tags: Sequence[str], scheme: str) -> tuple[list[str], int]:
    """``(tags rewritten as valid `scheme` tags, number of invalid transitions found)``.

    The chunks are those ``conlleval`` reads; valid input comes back unchanged.
    """
    spans, invalid = tags_to_spans(tags, scheme)
    return spans_to_tags(spans, len(tags), scheme), invalid


def detect_scheme(tag_sets: Iterable[Iterable[str]]) -> str:
    """Guess the scheme of tag sequences: BMES/BIOES if ``E-``/``S-``/``M-`` tags occur, IOB2 if
    ``B-``/``I-`` tags occur (IOB1 if no sequence starts a chunk with ``B-`` after ``O``), else none."""
    prefixes: set[str] = set()
    b_after_outside = False
    i_after_outside = False
    for tags in tag_sets:
        previous = "O"
        for tag in tags:
            if tag != "O" and not (len(tag) > 2 and tag[1] in "-_" and tag[0] in "BIESM"):
                return "none"
            prefix = tag[0]
            prefixes.add(prefix)
            if previous == "O" and prefix == "B":
                b_after_outside = True
            if previous == "O" and prefix == "I":
                i_after_outside = True
            previous = prefix
    if "M" in prefixes:
        return "BMES"
    if prefixes & {"E", "S"}:
        return "BIOES"
    if prefixes & {"B", "I"}:
        return "IOB1" if i_after_outside and not b_after_outside else "IOB2"
    return "none"


__all__ = ["CONLLU_COLUMNS", "SCHEMES", "ConllFormatError", "TaggedSentence", "canonical_scheme", "convert_tags",
           "detect_scheme", "read_conll", "read_conllu", "read_tokens", "repair_tags", "spans_to_tags", "split_tag",
           "tags_to_spans", "write_conll", "write_conllu"]
