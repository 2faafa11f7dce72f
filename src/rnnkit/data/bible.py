"""Bible texts from the Debian SWORD packages: verses keyed by (book, chapter, verse), aligned pairs.

Two public-domain translations are installable here as Debian packages and read with PyPI
``pysword`` (nothing is downloaded at run time):

============  =================  ==========================================  ==============
module        Debian package     text                                        versification
============  =================  ==========================================  ==============
engWEB2015eb  sword-text-web     World English Bible (2015 edition)          NRSVA
spaRV1909eb   sword-text-sparv   Reina-Valera 1909 (Spanish)                 KJV
============  =================  ==========================================  ==============

Verses are keyed by the OSIS book name (``"Gen"``, ``"Matt"``), the chapter and the verse, so two
modules with different versifications align by key: :func:`aligned_verses` keeps the keys both
have (31,077 English-Spanish pairs for the two modules above, before filtering).

Cleaning. pysword's ``clean=True`` deletes ``<note>`` footnotes and so glues the words on either
side (``"God<note>…</note>created"`` becomes ``"Godcreated"``, in about 1.4 % of WEB verses). Here
the raw OSIS text (``clean=False``) has each footnote replaced by a space first, then the remaining
tags are stripped with pysword's OSIS cleaner and whitespace is collapsed (:func:`clean_osis`).

Extraction takes about a minute per module, so each module's verses are cached as JSON under
``$RNNKIT_CACHE/bible/`` (default ``~/.cache/rnnkit/bible/``) with the SHA-256 of the module's data
files (a newer package re-extracts) and of the verses themselves (a damaged cache re-extracts).

Splits are by whole books (:func:`split_by_books`), so near-identical verses of one book do not
land on both sides of a split.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from rnnkit.optional import require

#: Where the Debian packages put the SWORD modules.
SWORD_PATH = Path("/usr/share/sword")
#: World English Bible (English) and Reina-Valera 1909 (Spanish), both public domain.
WEB = "engWEB2015eb"
RV1909 = "spaRV1909eb"
#: The Debian package that installs each module.
DEBIAN_PACKAGES: dict[str, str] = {WEB: "sword-text-web", RV1909: "sword-text-sparv"}
#: Held-out books of the default split: few close parallels in the other books (no Gospel, no
#: Kings/Chronicles), several genres. WEB + RV1909 after filtering: development 379 pairs, test 1,357.
DEV_BOOKS: tuple[str, ...] = ("Esth", "Jas", "Phil")
TEST_BOOKS: tuple[str, ...] = ("Ruth", "Eccl", "Jonah", "Acts")
#: The extra that installs pysword.
EXTRA = "translate"
_CACHE_FORMAT = 1


class VerseKey(NamedTuple):
    """A verse reference: OSIS book name, chapter and verse (both from 1)."""

    book: str
    chapter: int
    verse: int


class VersePair(NamedTuple):
    """One verse in two translations."""

    key: VerseKey
    source: str
    target: str


class BibleUnavailable(FileNotFoundError):
    """A SWORD module is not installed; the message gives the ``apt-get install`` command."""


def install_command(modules: Iterable[str] = (WEB, RV1909)) -> str:
    """The exact command that installs the Debian packages of ``modules``."""
    packages = " ".join(DEBIAN_PACKAGES.get(module, f"<the package of {module}>") for module in modules)
    return f"sudo apt-get update && sudo apt-get install -y {packages}"


def default_cache_dir() -> Path:
    """``$RNNKIT_CACHE/bible`` if ``RNNKIT_CACHE`` is set, else ``~/.cache/rnnkit/bible``."""
    return Path(os.environ.get("RNNKIT_CACHE", Path.home() / ".cache" / "rnnkit")) / "bible"


# ---------------------------------------------------------------------------------------------- cleaning

_NOTE = re.compile(r"<note\b[^>]*?/>|<note\b[^>]*>.*?</note>", re.IGNORECASE | re.DOTALL)
_ANY_TAG = re.compile(r"<[^>]*>")
_SPACE = re.compile(r"\s+")
_SPACE_BEFORE_PUNCT = re.compile(r"\s+([,.;:!?»”’)\]])")
_SHOUTED_OPENING = re.compile(r"^([^\W\d_])([^\W\d_]+)\b")
_osis_cleaner = None


def clean_osis(raw: str) -> str:
    """Plain text of one verse of OSIS markup, with a space where each footnote was.

    Args:
        raw: the verse as ``pysword`` returns it with ``clean=False``.

    Returns:
        The text with footnotes (``<note>…</note>``) replaced by a space, other tags removed
        (pysword's OSIS cleaner, which also drops titles and variant readings, then any tag left),
        whitespace collapsed and no space before closing punctuation.

    Example:
        >>> clean_osis('<w lemma="H430">God</w><note placement="foot">Hebrew “Elohim”.</note><w>created</w>')
        'God created'
    """
    global _osis_cleaner
    text = _NOTE.sub(" ", raw)
    if "<" in text:
        if _osis_cleaner is None:
            _osis_cleaner = require("pysword.cleaner", EXTRA, package="pysword").OSISCleaner()
        text = _ANY_TAG.sub("", _osis_cleaner.clean(text))
    text = _SPACE.sub(" ", text).strip()
    return _SPACE_BEFORE_PUNCT.sub(r"\1", text)


# ---------------------------------------------------------------------------------------------- reading


def _module_files(module: str, sword_path: Path) -> tuple[Path, list[Path]]:
    mods = sword_path / "mods.d"
    confs = [p for p in mods.glob("*.conf") if p.stem.lower() == module.lower()] if mods.is_dir() else []
    conf = confs[0] if confs else mods / f"{module}.conf"
    if not conf.is_file():
        raise BibleUnavailable(
            f"read_bible: the SWORD module {module!r} is not installed (no {conf}); install it with:\n"
            f"    {install_command([module])}"
        )
    data_path = None
    for line in conf.read_text(encoding="utf-8", errors="replace").splitlines():
        if line.startswith("DataPath="):
            data_path = (sword_path / line.split("=", 1)[1].strip()).resolve()
    if data_path is None or not data_path.is_dir():
        raise BibleUnavailable(f"read_bible: {conf} names no readable DataPath ({data_path}); reinstall with:\n"
                               f"    {install_command([module])}")
    return conf, sorted(p for p in data_path.iterdir() if p.is_file())


def _fingerprint(conf: Path, files: Sequence[Path]) -> str:
    digest = hashlib.sha256(conf.read_bytes())
    for path in files:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _verses_checksum(rows: Sequence[Sequence[object]]) -> str:
    return hashlib.sha256(json.dumps(rows, ensure_ascii=False, separators=(",", ":")).encode()).hexdigest()


def _extract(module: str, sword_path: Path) -> list[list[object]]:
    modules = require("pysword.modules", EXTRA, package="pysword")
    sword = modules.SwordModules(str(sword_path))
    sword.parse_modules()
    bible = sword.get_bible_from_module(module)
    rows: list[list[object]] = []
    for books in bible.get_structure().get_books().values():
        for book in books:
            for chapter, n_verses in enumerate(book.chapter_lengths, start=1):
                for verse in range(1, n_verses + 1):
                    raw = bible.get(books=book.name, chapters=chapter, verses=verse, clean=False)
                    text = clean_osis(raw) if raw else ""
                    if text:
                        rows.append([book.osis_name, chapter, verse, text])
    return rows


def read_bible(module: str = WEB, *, sword_path: str | os.PathLike | None = None,
               cache_dir: str | os.PathLike | None = None, refresh: bool = False) -> dict[VerseKey, str]:
    """Every non-empty verse of one SWORD Bible module, cleaned (see :func:`clean_osis`), cached.

    Args:
        module: the SWORD module name, e.g. :data:`WEB` (``"engWEB2015eb"``) or :data:`RV1909`.
        sword_path: the SWORD directory (default :data:`SWORD_PATH`, where Debian installs it).
        cache_dir: where the JSON cache goes (default :func:`default_cache_dir`).
        refresh: extract again even if a valid cache exists.

    Returns:
        ``{VerseKey(book, chapter, verse): text}`` in canonical order (OSIS book names).

    Raises:
        BibleUnavailable: the module is not installed; the message gives the ``apt-get`` command.
        rnnkit.optional.MissingDependency: ``pysword`` is not installed (``rnnkit[translate]``).

    Example:
        >>> web = read_bible("engWEB2015eb")  # doctest: +SKIP
        >>> web[VerseKey("Gen", 1, 1)]  # doctest: +SKIP
        'In the beginning, God created the heavens and the earth.'
    """
    sword_path = Path(sword_path) if sword_path is not None else SWORD_PATH
    conf, files = _module_files(module, sword_path)
    fingerprint = _fingerprint(conf, files)
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    cache_file = cache / f"{module}.json"
    rows = None if refresh else _read_cache(cache_file, fingerprint)
    if rows is None:
        rows = _extract(module, sword_path)
        cache.mkdir(parents=True, exist_ok=True)
        payload = {"format": _CACHE_FORMAT, "module": module, "source_sha256": fingerprint,
                   "verses_sha256": _verses_checksum(rows), "verses": rows}
        tmp = cache_file.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(payload, ensure_ascii=False), encoding="utf-8")
        tmp.replace(cache_file)
    return {VerseKey(str(b), int(c), int(v)): str(t) for b, c, v, t in rows}


def _read_cache(path: Path, fingerprint: str) -> list[list[object]] | None:
    if not path.is_file():
        return None
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
        rows = payload["verses"]
        valid = (payload.get("format") == _CACHE_FORMAT and payload.get("source_sha256") == fingerprint
                 and payload.get("verses_sha256") == _verses_checksum(rows))
    except (OSError, ValueError, KeyError, TypeError):
        valid = False
    if not valid:
        warnings.warn(f"read_bible: the cache {path} is stale or damaged; extracting again", stacklevel=3)
        return None
    return rows


# ---------------------------------------------------------------------------------------------- pairs


@dataclass
class AlignedVerses:
    """Verse pairs of two modules and what was dropped on the way (see :func:`aligned_verses`)."""

    pairs: list[VersePair]
    only_source: int = 0
    only_target: int = 0
    dropped_empty: int = 0
    dropped_ratio: int = 0
    max_ratio: float = 0.0
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One line that says how many pairs were kept and why the others were not."""
        return (f"{len(self.pairs)} verse pairs kept; dropped {self.dropped_empty} with an empty side and "
                f"{self.dropped_ratio} with a length ratio above {self.max_ratio:g}; "
                f"{self.only_source} source-only and {self.only_target} target-only verses (versification)")


def fix_chapter_opening(text: str) -> str:
    """Lower-case the rest of a shouted first word (RV1909 opens chapters with ``"EN el principio"``).

    Example:
        >>> fix_chapter_opening("EN el principio crió Dios")
        'En el principio crió Dios'
    """
    match = _SHOUTED_OPENING.match(text)
    if match and match.group(2).isupper():
        return match.group(1) + match.group(2).lower() + text[match.end():]
    return text


def aligned_verses(source: str | dict[VerseKey, str] = WEB, target: str | dict[VerseKey, str] = RV1909, *,
                   max_ratio: float = 3.0, min_chars: int = 10, **read_options) -> AlignedVerses:
    """Verse pairs present in both modules, without empty and extreme length-ratio pairs.

    Args:
        source: a module name (read with :func:`read_bible`) or verses already read.
        target: the same, for the other language.
        max_ratio: drop a pair whose longer side has more than ``max_ratio`` times the characters
            of the shorter (a verse merged into its neighbour in one versification); ``inf`` keeps all.
        min_chars: the length ratio is taken only when both sides have at least this many characters
            (short verses vary a lot by language).
        **read_options: passed to :func:`read_bible` (``sword_path``, ``cache_dir``, ``refresh``).

    Returns:
        An :class:`AlignedVerses` with the pairs in the source's order and the counts dropped. The
        first verse of each chapter has a shouted first word lower-cased (:func:`fix_chapter_opening`).

    Example:
        >>> aligned = aligned_verses()  # doctest: +SKIP
        >>> aligned.summary()  # doctest: +SKIP
    """
    if not max_ratio >= 1.0:
        raise ValueError(f"aligned_verses: max_ratio must be >= 1, got {max_ratio!r}")
    src = read_bible(source, **read_options) if isinstance(source, str) else source
    tgt = read_bible(target, **read_options) if isinstance(target, str) else target
    result = AlignedVerses(pairs=[], max_ratio=max_ratio)
    result.only_source = sum(1 for key in src if key not in tgt)
    result.only_target = sum(1 for key in tgt if key not in src)
    for key, text in src.items():
        if key not in tgt:
            continue
        a, b = text.strip(), tgt[key].strip()
        if key[2] == 1:
            a, b = fix_chapter_opening(a), fix_chapter_opening(b)
        if not a or not b:
            result.dropped_empty += 1
            continue
        short, long_ = sorted((len(a), len(b)))
        if short >= min_chars and long_ > max_ratio * short:
            result.dropped_ratio += 1
            continue
        result.pairs.append(VersePair(VerseKey(*key), a, b))
    return result


def split_by_books(pairs: Sequence[VersePair], *, dev_books: Iterable[str] = DEV_BOOKS,
                   test_books: Iterable[str] = TEST_BOOKS) -> dict[str, list[VersePair]]:
    """Split pairs into train / dev / test by whole books.

    Args:
        pairs: verse pairs (from :func:`aligned_verses`).
        dev_books: OSIS names of the development books (default :data:`DEV_BOOKS`).
        test_books: OSIS names of the test books (default :data:`TEST_BOOKS`).

    Returns:
        ``{"train": [...], "dev": [...], "test": [...]}``; every other book goes to train.

    Raises:
        ValueError: a book is in both lists, or a named book has no pair.

    Example:
        >>> split = split_by_books(aligned_verses().pairs)  # doctest: +SKIP
        >>> len(split["test"])  # doctest: +SKIP
    """
    dev, test = set(dev_books), set(test_books)
    if dev & test:
        raise ValueError(f"split_by_books: books in both dev_books and test_books: {sorted(dev & test)}")
    present = {pair.key.book for pair in pairs}
    missing = sorted((dev | test) - present)
    if missing:
        raise ValueError(f"split_by_books: no pairs for the books {missing}; books present: {sorted(present)}")
    split: dict[str, list[VersePair]] = {"train": [], "dev": [], "test": []}
    for pair in pairs:
        book = pair.key.book
        split["test" if book in test else "dev" if book in dev else "train"].append(pair)
    return split


__all__ = [
    "DEBIAN_PACKAGES", "DEV_BOOKS", "RV1909", "SWORD_PATH", "TEST_BOOKS", "WEB", "AlignedVerses",
    "BibleUnavailable", "VerseKey", "VersePair", "aligned_verses", "clean_osis", "default_cache_dir",
    "fix_chapter_opening", "install_command", "read_bible", "split_by_books",
]
