"""``LanguageModel``: a recurrent language model in the estimator style (fit / perplexity /
generate / save / load), at character, word or BPE level."""

from __future__ import annotations

import time
import warnings
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

import torch

from rnnkit.checks import check_positive_int
from rnnkit.data.streams import EOS, LEVELS, CorpusError, StreamBatches, StreamTokenizer, evaluation_batch
from rnnkit.metrics.language import language_scores, stream_nll
from rnnkit.models.language_model import RecurrentLanguageModel
from rnnkit.models.sampling import check_sampling
from rnnkit.serialization import SerializationError, load_state_dict_checked
from rnnkit.tasks.framework.estimator import Estimator

OPTIMIZERS = ("adam", "sgd", "nt-asgd")


@dataclass
class LanguageModelConfig:
    """Every setting of a :class:`LanguageModel` (saved with the model); see its docstring."""

    level: str = "char"
    cell: str = "lstm"
    embedding_size: int = 128
    hidden_size: int = 512
    num_layers: int = 2
    tie_weights: bool = True
    embedding_dropout: float = 0.0
    input_dropout: float = 0.1
    hidden_dropout: float = 0.1
    output_dropout: float = 0.1
    weight_dropout: float = 0.2
    activation_regularization: float = 0.0
    temporal_activation_regularization: float = 0.0
    batch_size: int = 32
    bptt: int = 100
    variable_bptt: bool = True
    eval_batch_size: int = 10
    optimizer: str = "adam"
    lr: float = 2e-3
    weight_decay: float = 0.0
    clip_grad_norm: float | None = 0.25
    max_epochs: int | None = 1
    max_steps: int | None = None
    max_seconds: float | None = None
    lr_decay: float = 1.0
    lr_decay_after: int | None = None
    lr_decay_on_plateau: bool = False
    nt_asgd_patience: int = 5
    max_vocab: int | None = None
    min_count: int = 1
    bpe_vocab_size: int = 2000
    seed: int = 0
    device: str = "cpu"
    progress: bool = False
    cell_options: dict = field(default_factory=dict)


class NTAverage:
    """Trainer callback for NT-ASGD (Merity et al. 2018, Sec. 3): plain SGD until the validation
    loss has not improved on the best of the validations more than ``patience`` epochs old, then
    an average of the weights after every later step; the average replaces the weights at the end.

    Args:
        network: the model whose parameters are averaged.
        patience: the non-monotone interval ``n``.
    """

    def __init__(self, network: torch.nn.Module, patience: int) -> None:
        self.network, self.patience = network, patience
        self.losses: list[float] = []
        self.average: dict[str, torch.Tensor] | None = None
        self.averaged_steps = 0
        self.triggered_at: int | None = None

    def on_epoch_end(self, trainer: Any, epoch: int, record: dict) -> None:
        loss = record.get("val_loss")
        if loss is None:
            return
        if self.average is None and len(self.losses) > self.patience and loss > min(self.losses[:-self.patience]):
            self.average = {k: p.detach().clone() for k, p in self.network.named_parameters()}
            self.averaged_steps, self.triggered_at = 1, epoch
        self.losses.append(loss)

    def on_step_end(self, trainer: Any, step: int, row: dict) -> None:
        if self.average is None:
            return
        self.averaged_steps += 1
        with torch.no_grad():
            for name, p in self.network.named_parameters():
                self.average[name] += (p.detach() - self.average[name]) / self.averaged_steps

    def apply(self) -> None:
        """Copy the averaged weights into the network (if averaging started)."""
        if self.average is not None:
            with torch.no_grad():
                for name, p in self.network.named_parameters():
                    p.copy_(self.average[name])


class LanguageModel(Estimator):
    """A recurrent language model of text: train, score, sample.

    The text is one token stream (characters, words with ``<eos>`` per line, or BPE pieces),
    laid out as ``batch_size`` contiguous rows and trained by the Trainer's truncated BPTT with the
    state carried from window to window (AWD-LSTM batching); perplexity and bits per character
    are measured over a whole held-out stream with the state carried.

    Args:
        level: ``"char"``, ``"word"`` or ``"bpe"`` (needs ``rnnkit[lm]`` for ``tokenizers``).
        cell: any rnnkit cell (``"lstm"``, ``"gru"``, ``"layernorm_lstm"``, ...).
        embedding_size, hidden_size, num_layers, tie_weights: of the network
            (:class:`~rnnkit.models.language_model.RecurrentLanguageModel`).
        embedding_dropout, input_dropout, hidden_dropout, output_dropout, weight_dropout: the
            AWD-LSTM regularisers (``dropoute``, ``dropouti``, ``dropouth``, ``dropout``, ``wdrop``).
        activation_regularization, temporal_activation_regularization: AR and TAR (``alpha``, ``beta``).
        batch_size: parallel streams ``B``; bptt: window length (mean length with ``variable_bptt``).
        eval_batch_size: rows of the held-out stream when scoring (1: every token with all the text before it).
        optimizer: ``"adam"``, ``"sgd"`` or ``"nt-asgd"`` (SGD, then averaged weights once the
            validation loss stalls for ``nt_asgd_patience`` epochs); lr, weight_decay, clip_grad_norm.
        max_epochs, max_steps: training length (whichever comes first; a step is one window).
        max_seconds: a wall-time budget for training: it stops after the window that passes it
            (``None``: no limit).
        lr_decay: multiply the learning rate by this at epoch ends (1: a constant rate), after
            epoch ``lr_decay_after`` and every later one (Zaremba et al. 2014: 0.5 after 4) and/or,
            with ``lr_decay_on_plateau``, after each validation that did not improve (PyTorch's
            word_language_model: 0.25); see :class:`rnnkit.training.LearningRateDecay`.
        max_vocab, min_count: char/word vocabulary; bpe_vocab_size: BPE vocabulary.
        seed: initial weights, dropout masks, windows; device: ``"cpu"``, ``"cuda"`` or ``"auto"``.
        progress: show the Trainer's progress bar.
        cell_options: passed to each layer's cell.

    Example:
        >>> lm = LanguageModel(hidden_size=64, max_steps=50).fit(open("corpus.txt").read())  # doctest: +SKIP
        >>> lm.perplexity("held-out text")  # doctest: +SKIP
        >>> lm.generate("Once upon", max_tokens=100, temperature=0.8, seed=1)  # doctest: +SKIP
    """

    app_name = "lm"

    def __init__(self, **options: Any) -> None:
        unknown = set(options) - set(LanguageModelConfig.__dataclass_fields__)
        if unknown:
            raise TypeError(f"LanguageModel: unknown option(s) {sorted(unknown)}")
        self.config = LanguageModelConfig(**options)
        cfg = self.config
        if cfg.level not in LEVELS:
            raise ValueError(f"level: expected one of {list(LEVELS)}, got {cfg.level!r}")
        if cfg.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer: expected one of {list(OPTIMIZERS)}, got {cfg.optimizer!r}")
        for name in ("batch_size", "bptt", "eval_batch_size"):
            check_positive_int(name, getattr(cfg, name))
        if isinstance(cfg.lr_decay, bool) or not isinstance(cfg.lr_decay, (int, float)) or not 0 < cfg.lr_decay <= 1:
            raise ValueError(f"lr_decay: expected a factor in (0, 1] (1: no decay), got {cfg.lr_decay!r}")
        if cfg.lr_decay < 1 and cfg.lr_decay_after is None and not cfg.lr_decay_on_plateau:
            raise ValueError(f"lr_decay: {cfg.lr_decay} needs lr_decay_after=N or lr_decay_on_plateau=True "
                             "to say when to apply it")
        if cfg.max_seconds is not None and not (isinstance(cfg.max_seconds, (int, float)) and cfg.max_seconds > 0):
            raise ValueError(f"max_seconds: expected a positive number of seconds or None, got {cfg.max_seconds!r}")
        self.network: RecurrentLanguageModel | None = None
        self.tokenizer_: StreamTokenizer | None = None
        self.training_log_: list[dict] = []
        self.fit_seconds_ = 0.0
        self.train_tokens_ = 0
        self.steps_ = 0
        self.last_unknown_ = 0
        #: Trainer callbacks added to every fit (the tuner's pruning callback, for example).
        self.extra_callbacks: list = []

    # ------------------------------------------------------------------------------ fitting
    def _build_network(self, vocab_size: int) -> RecurrentLanguageModel:
        cfg = self.config
        return RecurrentLanguageModel(
            vocab_size, embedding_size=cfg.embedding_size, hidden_size=cfg.hidden_size, num_layers=cfg.num_layers,
            cell=cfg.cell, tie_weights=cfg.tie_weights, embedding_dropout=cfg.embedding_dropout,
            input_dropout=cfg.input_dropout, hidden_dropout=cfg.hidden_dropout, output_dropout=cfg.output_dropout,
            weight_dropout=cfg.weight_dropout, activation_regularization=cfg.activation_regularization,
            temporal_activation_regularization=cfg.temporal_activation_regularization, **cfg.cell_options)

    def fit(self, text: str, val_text: str | None = None) -> LanguageModel:
        """Train on ``text`` (validated on ``val_text`` after each epoch, if given).

        Raises:
            CorpusError: an empty text, or one shorter than one BPTT window per row.

        Returns:
            ``self``, fitted.
        """
        from rnnkit import Trainer
        from rnnkit.training.callbacks import TimeBudget
        from rnnkit.training.lr_decay import LearningRateDecay

        cfg = self.config
        if not isinstance(text, str):
            raise TypeError(f"text: expected a str, got {type(text).__name__}")
        if cfg.lr_decay < 1 and cfg.lr_decay_on_plateau and not val_text:
            raise ValueError("val_text: lr_decay_on_plateau decays on the validation loss; give val_text")
        torch.manual_seed(cfg.seed)
        self.tokenizer_ = StreamTokenizer(cfg.level, max_vocab=cfg.max_vocab, min_count=cfg.min_count,
                                          bpe_vocab_size=cfg.bpe_vocab_size).fit(text)
        ids = self.tokenizer_.encode(text)
        data = StreamBatches(ids, cfg.batch_size, cfg.bptt, variable=cfg.variable_bptt)
        val = None
        if val_text:
            val_ids = self.tokenizer_.encode(val_text)
            val = [evaluation_batch(val_ids, min(cfg.eval_batch_size, max(1, val_ids.numel() // 2)), cfg.bptt,
                                    what="validation text")]
        self.network = self._build_network(self.tokenizer_.vocab_size)
        callbacks = list(self.extra_callbacks)
        averaging = NTAverage(self.network, cfg.nt_asgd_patience) if cfg.optimizer == "nt-asgd" else None
        if averaging is not None:
            callbacks.append(averaging)
        if cfg.lr_decay < 1:
            callbacks.append(LearningRateDecay(cfg.lr_decay, after_epoch=cfg.lr_decay_after,
                                               on_plateau=cfg.lr_decay_on_plateau))
        if cfg.max_seconds is not None:
            callbacks.append(TimeBudget(cfg.max_seconds, within_epoch=True))
        trainer = Trainer(
            max_epochs=cfg.max_epochs, max_steps=cfg.max_steps, tbptt_steps=1, shuffle=False,
            optimizer="adam" if cfg.optimizer == "adam" else "sgd", lr=cfg.lr, weight_decay=cfg.weight_decay,
            clip_grad_norm=cfg.clip_grad_norm, seed=cfg.seed, device=cfg.device, progress_bar=cfg.progress,
            log_every_n_steps=50, plot=False, callbacks=callbacks,
        )
        start = time.perf_counter()
        result = trainer.fit(self.network, data, val)
        self.fit_seconds_ = time.perf_counter() - start
        if averaging is not None:
            averaging.apply()
        self.network.eval()
        self.training_log_ = [dict(row) for row in result.history]
        self.steps_ = int(result.steps)
        self.train_tokens_ = self.steps_ * cfg.batch_size * cfg.bptt  # windows have bptt steps on average
        return self

    # ------------------------------------------------------------------------------ scoring
    def _check_fitted(self) -> None:
        if self.network is None or self.tokenizer_ is None:
            raise RuntimeError("LanguageModel: call fit(text) or rnnkit.load(dir) first")

    def evaluate(self, text: str, *, batch_size: int | None = None) -> dict[str, float]:
        """Scores of a held-out text read as one stream with the state carried.

        Returns:
            ``{"nll", "perplexity", "bits_per_token", "bpc", "tokens", "unknown"}``: per-token
            figures over the scored tokens (every token but the first of each of the
            ``eval_batch_size`` rows), bits per character over the characters they spell, and the
            number of tokens read as ``<unk>``.
        """
        self._check_fitted()
        ids = self.tokenizer_.encode(text)
        unknown = self.tokenizer_.last_unknown
        rows = batch_size or self.config.eval_batch_size
        if ids.numel() < 2:
            raise CorpusError(f"text: {ids.numel()} token(s); scoring needs at least 2")
        rows = min(rows, ids.numel() // 2)
        nll, count = stream_nll(self.network, ids, batch_size=rows, bptt=self.config.bptt)
        characters = self.tokenizer_.characters(text) * count / ids.numel()
        scores = language_scores(nll, count, max(1, round(characters)))
        return {**scores, "tokens": float(count), "unknown": float(unknown)}

    def perplexity(self, text: str) -> float:
        """Per-token perplexity of ``text`` (see :meth:`evaluate`)."""
        return self.evaluate(text)["perplexity"]

    # ------------------------------------------------------------------------------ sampling
    def _prompt_ids(self, prompt: str) -> torch.Tensor:
        tok = self.tokenizer_
        if prompt:
            ids = tok.encode(prompt) if tok.level != "word" else torch.tensor(
                [tok.index.get(w, tok.unk_id) for w in prompt.split()], dtype=torch.int64)
            unknown = int((ids == tok.unk_id).sum())
        else:
            ids, unknown = torch.empty(0, dtype=torch.int64), 0
        if ids.numel() == 0:  # start from a line break: "\n", <eos>, or <unk> if neither is known
            start = "\n" if tok.level != "word" else EOS
            ids = tok.encode(start) if tok.level == "bpe" else torch.tensor([tok.index.get(start, tok.unk_id)])
            if ids.numel() == 0:
                ids = torch.tensor([tok.unk_id])
        self.last_unknown_ = unknown
        if unknown:
            warnings.warn(f"prompt: {unknown} token(s) are not in the model's vocabulary and were read as <unk>",
                          stacklevel=3)
        return ids

    def stream(self, prompt: str = "", max_tokens: int = 200, *, temperature: float = 1.0, top_k: int | None = None,
               top_p: float | None = None, seed: int | None = None) -> Iterator[str]:
        """Yield the text of each sampled token as it is produced (see :meth:`generate`)."""
        self._check_fitted()
        check_sampling(temperature, top_k, top_p)
        generator = torch.Generator(device=self.network.embedding.weight.device)
        generator.manual_seed(self.config.seed if seed is None else seed)
        ids = self._prompt_ids(prompt)
        line_start = not prompt or prompt.endswith("\n")  # a word after a line break gets no leading space
        for token, _ in self.network.stream_tokens(ids, max_tokens, temperature=temperature, top_k=top_k,
                                                   top_p=top_p, generator=generator):
            piece = self.tokenizer_.token_text(token, first=line_start)
            line_start = piece == "\n"
            yield piece

    def generate(self, prompt: str = "", max_tokens: int = 200, *, temperature: float = 1.0,
                 top_k: int | None = None, top_p: float | None = None, seed: int | None = None) -> str:
        """Continue ``prompt`` by ``max_tokens`` sampled tokens; returns the continuation's text.

        Args:
            prompt: text to prime the state with (tokens outside the vocabulary are read as
                ``<unk>``, with a warning; an empty prompt starts after a line break).
            max_tokens: tokens to sample.
            temperature: divides the logits; 0 is greedy decoding (the most probable token each step).
            top_k: sample among the ``k`` most probable tokens only.
            top_p: sample from the smallest set of most probable tokens whose probability reaches ``p`` (0 < p <= 1).
            seed: seed of the sampling generator (default: the model's ``seed``); the same seed gives the same text.
        """
        return "".join(self.stream(prompt, max_tokens, temperature=temperature, top_k=top_k, top_p=top_p, seed=seed))

    # ------------------------------------------------------------------------ save / load
    def get_config(self) -> dict:
        return asdict(self.config)

    def extra_files(self) -> dict[str, bytes]:
        self._check_fitted()
        return {"tokenizer.json": self.tokenizer_.dumps().encode("utf-8")}

    def load_extra_files(self, files: dict[str, bytes]) -> None:
        import json

        if "tokenizer.json" not in files:
            raise SerializationError("LanguageModel: the model directory has no tokenizer.json")
        self.tokenizer_ = StreamTokenizer.from_json(json.loads(files["tokenizer.json"].decode("utf-8")))
        self.network = self._build_network(self.tokenizer_.vocab_size)

    def json_state(self) -> dict:
        self._check_fitted()
        return {"training_log": self.training_log_, "fit_seconds": self.fit_seconds_,
                "train_tokens": self.train_tokens_, "steps": self.steps_}

    def load_json_state(self, state: dict) -> None:
        self.training_log_ = state.get("training_log", [])
        self.fit_seconds_ = state.get("fit_seconds", 0.0)
        self.train_tokens_ = state.get("train_tokens", 0)
        self.steps_ = state.get("steps", 0)

    def tensor_state(self) -> dict[str, torch.Tensor]:
        self._check_fitted()
        return {k: v for k, v in self.network.state_dict().items() if k != "decoder.weight" or not
                self.config.tie_weights}

    def load_tensor_state(self, tensors: dict[str, torch.Tensor]) -> None:
        if self.network is None:
            raise SerializationError("LanguageModel: tokenizer.json must be loaded before the weights")
        tensors = dict(tensors)
        if self.config.tie_weights:
            tensors["decoder.weight"] = tensors["embedding.weight"]
        load_state_dict_checked(self.network, tensors, what="LanguageModel network")
        if self.config.tie_weights:
            self.network.decoder.weight = self.network.embedding.weight
        self.network.eval()


__all__ = ["LanguageModel", "LanguageModelConfig", "NTAverage"]
