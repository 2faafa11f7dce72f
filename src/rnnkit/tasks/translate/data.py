"""The translation app's data: the built-in English-Spanish Bible or the user's parallel files, split."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from rnnkit.tasks.translate.config import TranslateAppConfig


@dataclass
class TranslationData:
    """Train / dev / test pairs and where they came from."""

    train: list[tuple[str, str]]
    dev: list[tuple[str, str]]
    test: list[tuple[str, str]]
    name: str
    description: str
    notes: list[str] = field(default_factory=list)


def bible_pairs(direction: str = "en-es") -> TranslationData:
    """World English Bible and Reina-Valera 1909 verse pairs, split by whole books (rnnkit.data.bible).

    Raises:
        rnnkit.data.bible.BibleUnavailable: the Debian packages are missing (the message has the
            ``apt-get install`` command).
    """
    from rnnkit.data import bible

    aligned = bible.aligned_verses()
    split = bible.split_by_books(aligned.pairs)

    def side(pairs):
        return [(p.source, p.target) if direction == "en-es" else (p.target, p.source) for p in pairs]

    return TranslationData(
        side(split["train"]), side(split["dev"]), side(split["test"]), name=f"bible-{direction}",
        description=(f"Bible {direction} (WEB / Reina-Valera 1909, public domain): {len(split['train'])} train, "
                     f"{len(split['dev'])} dev ({', '.join(bible.DEV_BOOKS)}), {len(split['test'])} test "
                     f"({', '.join(bible.TEST_BOOKS)}) verse pairs, split by whole books"),
        notes=[aligned.summary()],
    )


def user_pairs(config: TranslateAppConfig) -> TranslationData:
    """The user's pairs (``--data`` TSV or ``--src``/``--tgt``), split at random (seeded) into train/dev/test."""
    from rnnkit.data.parallel import ParallelDataError, read_parallel, read_tsv

    pairs = read_tsv(config.data) if config.data else read_parallel(config.src, config.tgt)
    order = list(range(len(pairs)))
    random.Random(config.seed).shuffle(order)
    n_test = round(config.test_fraction * len(pairs))
    if len(pairs) - 2 * n_test < 1:
        raise ParallelDataError(f"data: {len(pairs)} pairs are too few to hold out 2 x {n_test} for dev and test")
    test = [pairs[i] for i in order[:n_test]]
    dev = [pairs[i] for i in order[n_test: 2 * n_test]]
    train = [pairs[i] for i in order[2 * n_test:]]
    if not test:  # tiny files: score on the training pairs, and say so
        test, note = train, ["too few pairs to hold any out: the scores are on the training pairs"]
    else:
        note = []
    source = config.data or f"{config.src} / {config.tgt}"
    return TranslationData(train, dev, test, name="user",
                           description=f"{source}: {len(train)} train, {len(dev)} dev, {len(test)} test pairs "
                                       f"(random split, seed {config.seed})", notes=note)


def load_translation_data(config: TranslateAppConfig) -> TranslationData:
    """The user's data if given, else the Bible; ``train_pairs`` / ``eval_pairs`` subsample (seeded)."""
    data = user_pairs(config) if (config.data or config.src) else bible_pairs(config.direction)
    rng = random.Random(config.seed)
    if config.train_pairs is not None and len(data.train) > config.train_pairs:
        data.train = rng.sample(data.train, config.train_pairs)
        data.notes.append(f"trained on {config.train_pairs} pairs drawn at random from the training split")
    if config.eval_pairs is not None and len(data.test) > config.eval_pairs:
        data.test = rng.sample(data.test, config.eval_pairs)
        data.notes.append(f"scored on {config.eval_pairs} pairs drawn at random from the test split")
    if len(data.dev) > 500:
        data.dev = rng.sample(data.dev, 500)
    return data


__all__ = ["TranslationData", "bible_pairs", "load_translation_data", "user_pairs"]
