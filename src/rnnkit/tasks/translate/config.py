"""Every setting of ``rnnkit translate`` (flags, config files and the tuner's search space)."""

from __future__ import annotations

from dataclasses import dataclass

from rnnkit.tasks.framework.config import AppConfig, ConfigError, setting


@dataclass
class TranslateAppConfig(AppConfig):
    """Settings of ``rnnkit translate``: data, subwords, network, training, decoding and baselines.

    The defaults are the reduced budget of ``rnnkit translate`` with no arguments (a few minutes on
    2 CPU cores); ``benchmarks/translate.py`` uses larger ones.
    """

    src: str | None = setting(None, "source-language file, one sentence per line (with --tgt)")
    tgt: str | None = setting(None, "target-language file aligned with --src")
    direction: str = setting("en-es", "built-in Bible direction: English->Spanish or Spanish->English",
                             choices=("en-es", "es-en"))
    test_fraction: float = setting(0.05, "your data: share of pairs held out for testing (and as much for "
                                   "validation)", min=0.0, max=0.5)
    train_pairs: int | None = setting(5000, "use at most this many training pairs (None: all)", min=1)
    eval_pairs: int | None = setting(100, "score at most this many test pairs (None: all)", min=1)
    vocab_size: int = setting(2000, "BPE vocabulary size", min=16, search={"low": 2000, "high": 16000, "log": True})
    joint_vocab: bool = setting(True, "one BPE vocabulary for both languages (shared embeddings)")
    lowercase: bool = setting(False, "lower-case all text")
    cell: str = setting("lstm", "recurrent cell of encoder and decoder (lstm, gru, ...)",
                        search={"choices": ["lstm", "gru"]})
    embed_size: int = setting(64, "embedding size", min=1, search={"low": 64, "high": 512, "log": True})
    hidden_size: int = setting(64, "decoder size (each encoder direction has half)", min=2,
                               search={"low": 64, "high": 512, "log": True})
    encoder_layers: int = setting(1, "encoder layers", min=1, max=8)
    decoder_layers: int = setting(1, "decoder layers", min=1, max=8)
    attention: str = setting("general", "attention: general, dot (Luong), additive (Bahdanau) or none",
                             choices=("general", "dot", "additive", "none"))
    input_feeding: bool = setting(True, "feed the attentional vector into the next decoder step")
    dropout: float = setting(0.2, "dropout", min=0.0, max=0.9, search={"low": 0.0, "high": 0.5})
    tie_embeddings: bool = setting(True, "tie the decoder's input and output embeddings")
    label_smoothing: float = setting(0.1, "label smoothing", min=0.0, max=0.9)
    lr: float = setting(3e-3, "Adam learning rate (one-cycle)", min=0.0,
                        search={"low": 3e-4, "high": 1e-2, "log": True})
    batch_size: int = setting(32, "pairs per batch", min=1)
    max_steps: int = setting(120, "training steps", min=1)
    max_len: int = setting(50, "subword limit per sentence (longer ones are truncated, with a warning)", min=1)
    beam: int = setting(5, "beam size of the model's row (1: greedy)", min=1)
    alpha: float = setting(0.6, "GNMT length-penalty exponent", min=0.0)
    baselines: tuple[str, ...] = setting(("copy", "greedy", "no_attention"),
                                         "comma-separated from copy, greedy, no_attention")
    heatmap_sentences: int = setting(2, "test sentences drawn as attention heatmaps", min=0)

    def validate(self) -> None:
        if bool(self.src) != bool(self.tgt):
            raise ConfigError(f"src and tgt: give both files or neither, got src={self.src!r}, tgt={self.tgt!r}")
        if self.data and self.src:
            raise ConfigError("data and src/tgt: give a TSV (--data) or two aligned files (--src/--tgt), not both")
        for name in self.baselines:
            if name not in ("copy", "greedy", "no_attention"):
                raise ConfigError(f"baselines: expected names from ['copy', 'greedy', 'no_attention'], got {name!r}")
        if self.hidden_size % 2:
            raise ConfigError(f"hidden_size: expected an even number (each encoder direction has half), "
                              f"got {self.hidden_size}")
