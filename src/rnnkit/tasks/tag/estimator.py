"""``Tagger``: a BiLSTM-CRF sequence tagger (named entities, part of speech) in the estimator style."""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Sequence
from functools import partial
from typing import Any

import torch

from rnnkit.data.conll import TaggedSentence, detect_scheme, tags_to_spans
from rnnkit.data.tag_batches import SentenceBatches, Vocabulary, count_bigrams, count_items, encode_batch
from rnnkit.models.crf import allowed_transitions
from rnnkit.models.tag_schemes import canonical_scheme
from rnnkit.models.tagger import SequenceTagger
from rnnkit.serialization import load_state_dict_checked
from rnnkit.tasks.framework.estimator import Estimator
from rnnkit.training import Trainer
from rnnkit.training.callbacks import KeepBest

#: The raw-text tokenizer of :meth:`Tagger.predict`: words, numbers and single punctuation marks.
TOKEN_PATTERN = re.compile(r"\w+(?:[-'’]\w+)*|[^\w\s]")


def tokenize(text: str, *, characters: bool = False) -> list[str]:
    """Split raw text into tokens: words and punctuation, or every non-space character.

    Example:
        >>> tokenize("Peter Blackburn's lamb, 1996.")
        ['Peter', "Blackburn's", 'lamb', ',', '1996', '.']
    """
    if characters:
        return [c for c in text if not c.isspace()]
    return TOKEN_PATTERN.findall(text)


def _split(data: Any, tags: Any, what: str) -> tuple[list[list[str]], list[list[str]] | None]:
    """(tokens, tags) from TaggedSentences or from parallel lists; checks the sentences."""
    if data and isinstance(data[0], TaggedSentence):
        if tags is not None:
            raise ValueError(f"{what}: give TaggedSentences or (tokens, tags), not both")
        tokens, tags = [s.tokens for s in data], [s.tags for s in data]
    else:
        tokens = [list(s) for s in data]
        if tags is not None:
            tags = [list(t) for t in tags]
            if len(tags) != len(tokens):
                raise ValueError(f"{what}: {len(tokens)} sentences but {len(tags)} tag sequences")
    for i, sentence in enumerate(tokens):
        if isinstance(data[i], str):
            raise TypeError(f"{what}: sentence {i} is a string; give lists of tokens (or call predict on text)")
        if tags is not None and len(tags[i]) != len(sentence):
            raise ValueError(f"{what}: sentence {i} has {len(sentence)} tokens but {len(tags[i])} tags")
    return tokens, tags


class Tagger(Estimator):
    """Sequence tagger: word + character features, a bidirectional recurrent stack, a CRF or softmax.

    Lample et al. (2016)'s LSTM-CRF with any rnnkit cell. Settings go here; the vocabularies and
    the network are built from the training data in :meth:`fit`.

    Args:
        scheme: the tags' scheme (``IOB1``, ``IOB2``/``BIO``, ``BIOES``, ``BMES``, ``none`` for
            part of speech) or ``"auto"`` (guessed from the training tags).
        head: ``"crf"`` (transition scores, Viterbi, the scheme's invalid transitions forbidden)
            or ``"softmax"`` (each token on its own).
        cell: any rnnkit cell name.
        word_dim, char_dim, char_hidden, char_encoder: embeddings and the per-word character
            encoder (``"rnn"``: a bidirectional recurrent layer; ``"cnn"``; ``"none"``: no characters).
        hidden_size, num_layers, dropout: the sentence-level bidirectional stack.
        lowercase: look words up lowercased (characters keep their case).
        min_count: words seen fewer times in training map to the unknown word.
        bigram_dim: 0 (default) for none, else the size of an embedding of each token joined with
            the next (Zhang & Yang 2018's character bigrams; for Chinese character tagging).
        bigram_min_count: bigrams seen fewer times in training map to the unknown bigram.
        word_dropout: in training, the probability of replacing a word (and bigram) by the unknown one.
        tokenizer: how :meth:`predict` splits raw text: ``"words"`` or ``"characters"`` (Chinese).
        batch_size, max_epochs, max_steps, lr: training (Adam, gradient norm clipped to 5).
        patience: stop after this many epochs without a better dev accuracy (``None``: train all
            ``max_epochs``); needs ``dev`` in :meth:`fit`.
        seed: initial weights and data order.
        device: ``"cpu"``, ``"cuda"`` or ``"auto"``.
        progress: show the Trainer's progress.

    Example:
        >>> tagger = Tagger(scheme="IOB2", max_epochs=5).fit([["Peter", "runs"]], [["B-PER", "O"]])
        >>> tagger.predict("Peter runs")  # doctest: +SKIP
        ['B-PER', 'O']
    """

    app_name = "tag"

    def __init__(self, *, scheme: str = "auto", head: str = "crf", cell: str = "lstm", word_dim: int = 64,
                 char_dim: int = 24, char_hidden: int = 24, char_encoder: str = "rnn", hidden_size: int = 128,
                 num_layers: int = 1, dropout: float = 0.3, lowercase: bool = False, min_count: int = 1,
                 bigram_dim: int = 0, bigram_min_count: int = 2, word_dropout: float = 0.05,
                 tokenizer: str = "words", batch_size: int = 32, max_epochs: int | None = 10,
                 max_steps: int | None = None, lr: float = 2e-3, patience: int | None = None, seed: int = 0,
                 device: str = "cpu", progress: bool = False) -> None:
        if scheme != "auto":
            canonical_scheme(scheme)
        for name, value, allowed in (("head", head, ("crf", "softmax")), ("char_encoder", char_encoder,
                                     ("rnn", "cnn", "none")), ("tokenizer", tokenizer, ("words", "characters"))):
            if value not in allowed:
                raise ValueError(f"{name}: expected one of {list(allowed)}, got {value!r}")
        for name, value in (("bigram_dim", bigram_dim), ("bigram_min_count", bigram_min_count)):
            if isinstance(value, bool) or not isinstance(value, int) or value < (0 if name == "bigram_dim" else 1):
                raise ValueError(f"{name}: expected an integer >= {0 if name == 'bigram_dim' else 1}, got {value!r}")
        if patience is not None and (isinstance(patience, bool) or not isinstance(patience, int) or patience < 0):
            raise ValueError(f"patience: expected None or an integer >= 0, got {patience!r}")
        if not 0.0 <= word_dropout < 1.0:
            raise ValueError(f"word_dropout: expected a probability in [0, 1), got {word_dropout!r}")
        self.settings = dict(scheme=scheme, head=head, cell=cell, word_dim=word_dim, char_dim=char_dim,
                             char_hidden=char_hidden, char_encoder=char_encoder, hidden_size=hidden_size,
                             num_layers=num_layers, dropout=dropout, lowercase=lowercase, min_count=min_count,
                             bigram_dim=bigram_dim, bigram_min_count=bigram_min_count, word_dropout=word_dropout,
                             tokenizer=tokenizer, batch_size=batch_size, max_epochs=max_epochs,
                             max_steps=max_steps, lr=lr, patience=patience, seed=seed, device=device,
                             progress=progress)
        self.network: SequenceTagger | None = None
        self.extra_callbacks: list[Any] = []
        self.training_log_: list[dict] = []
        self.fit_seconds_ = 0.0

    def get_config(self) -> dict[str, Any]:
        return dict(self.settings)

    # ------------------------------------------------------------------------------------- fit
    def fit(self, sentences: Sequence[Any], tags: Sequence[Sequence[str]] | None = None, *,
            dev: Sequence[Any] | None = None, dev_tags: Sequence[Sequence[str]] | None = None) -> Tagger:
        """Build the vocabularies and the network from ``sentences`` and train it.

        Args:
            sentences: :class:`~rnnkit.data.conll.TaggedSentence` objects, or token lists with ``tags``.
            tags: one tag list per sentence (when ``sentences`` are token lists).
            dev, dev_tags: held-out sentences; the weights of the epoch with the best token
                accuracy on them are kept. Tags that occur only in ``dev`` get an id (so the
                sentences can be scored) but are never a training target.

        Returns:
            ``self``, fitted.
        """
        cfg = self.settings
        tokens, gold = _split(sentences, tags, "sentences")
        if gold is None:
            raise ValueError("tags: fit needs the tags of every sentence")
        empty = [i for i, s in enumerate(tokens) if not s]
        if empty:
            raise ValueError(f"sentences: sentence {empty[0]} is empty ({len(empty)} empty in all); "
                             "every training sentence needs at least one token")
        if not tokens:
            raise ValueError("sentences: fit needs at least one sentence")
        dev_tokens, dev_gold = _split(dev, dev_tags, "dev") if dev else ([], None)
        self.scheme_ = detect_scheme(gold) if cfg["scheme"] == "auto" else canonical_scheme(cfg["scheme"])
        word_counts, char_counts = count_items(tokens, cfg["lowercase"])
        self.words_ = Vocabulary.build(word_counts, min_count=cfg["min_count"])
        self.chars_ = Vocabulary.build(char_counts) if cfg["char_encoder"] != "none" else None
        self.bigrams_ = Vocabulary.build(count_bigrams(tokens, cfg["lowercase"]), min_count=cfg["bigram_min_count"]) \
            if cfg["bigram_dim"] else None
        tag_counts = Counter(t for row in gold for t in row)
        extra = sorted({t for row in (dev_gold or []) for t in row} - set(tag_counts))
        self.tags_ = Vocabulary(sorted(tag_counts, key=lambda t: (-tag_counts[t], t)) + extra)
        self.num_trained_tags_ = len(tag_counts)
        self.network = self._build_network()
        encode = partial(encode_batch, words=self.words_, chars=self.chars_, tag_vocab=self.tags_,
                         lowercase=cfg["lowercase"], bigrams=self.bigrams_)
        torch.manual_seed(cfg["seed"])
        train = SentenceBatches(tokens, gold, lambda s, t: encode(s, tags=t), batch_size=cfg["batch_size"])
        kept = [i for i, s in enumerate(dev_tokens) if s]
        val = SentenceBatches([dev_tokens[i] for i in kept], [dev_gold[i] for i in kept],
                              lambda s, t: encode(s, tags=t), batch_size=64, shuffle=False) \
            if kept and dev_gold is not None else None
        options = {"max_epochs": cfg["max_epochs"], "max_steps": cfg["max_steps"], "lr": cfg["lr"],
                   "optimizer": "adam", "clip_grad_norm": 5.0, "seed": cfg["seed"], "device": cfg["device"],
                   "progress_bar": cfg["progress"], "plot": False, "monitor": "val_accuracy", "monitor_mode": "max",
                   "early_stopping_patience": cfg.get("patience") if val is not None else None}
        keeper = KeepBest("val_accuracy", mode="max", module=self.network)
        start = time.perf_counter()
        result = Trainer(callbacks=[keeper, *self.extra_callbacks], **options).fit(self.network, train, val)
        keeper.restore(self.network)
        self.network.cpu().eval()
        self.fit_seconds_ = time.perf_counter() - start
        self.training_log_ = [{k: v for k, v in row.items() if isinstance(v, (int, float))} for row in result.history]
        return self

    def _build_network(self) -> SequenceTagger:
        cfg = self.settings
        torch.manual_seed(cfg["seed"])
        constraints = {}
        if cfg["head"] == "crf" and self.scheme_ != "none":
            allowed, first, last = allowed_transitions(self.tags_.items, self.scheme_)
            constraints = {"allowed": allowed, "allowed_start": first, "allowed_end": last}
        return SequenceTagger(
            len(self.words_), len(self.chars_) if self.chars_ is not None else 0, len(self.tags_),
            word_dim=cfg["word_dim"], char_dim=cfg["char_dim"], char_hidden=cfg["char_hidden"],
            hidden_size=cfg["hidden_size"], num_layers=cfg["num_layers"], cell=cfg["cell"],
            char_encoder=cfg["char_encoder"] if cfg["char_encoder"] != "none" else "rnn",
            dropout=cfg["dropout"], head=cfg["head"], word_dropout=cfg["word_dropout"],
            num_bigrams=len(self.bigrams_) if self.bigrams_ is not None else 0, bigram_dim=cfg["bigram_dim"] or 50,
            **constraints,
        )

    # --------------------------------------------------------------------------------- predict
    def _check_fitted(self) -> SequenceTagger:
        if self.network is None:
            raise RuntimeError("Tagger: call fit() (or rnnkit.load) before predict()")
        return self.network

    def predict(self, x: str | Sequence[str] | Sequence[Sequence[str]], *, batch_size: int = 64) -> Any:
        """Tags of one sentence (raw text or a token list) or of many (a list of token lists).

        Raw text is split by :func:`tokenize` (characters for a ``tokenizer="characters"`` model);
        an empty sentence gets no tags (``[]``).

        Returns:
            A tag list for one sentence, a list of tag lists for many.
        """
        if isinstance(x, str):
            return self.predict_tokens([tokenize(x, characters=self.settings["tokenizer"] == "characters")],
                                       batch_size=batch_size)[0]
        x = list(x)
        if x and all(isinstance(t, str) for t in x):
            return self.predict_tokens([x], batch_size=batch_size)[0]
        return self.predict_tokens([list(s) for s in x], batch_size=batch_size)

    def predict_tokens(self, sentences: Sequence[Sequence[str]], *, batch_size: int = 64) -> list[list[str]]:
        """Tags of each token list (empty lists get ``[]``)."""
        network = self._check_fitted()
        network.eval()
        out: list[list[str]] = [[] for _ in sentences]
        order = sorted((i for i, s in enumerate(sentences) if s), key=lambda i: len(sentences[i]))
        for start in range(0, len(order), batch_size):
            group = order[start:start + batch_size]
            batch = encode_batch([sentences[i] for i in group], self.words_, self.chars_,
                                 lowercase=self.settings["lowercase"], bigrams=self.bigrams_)
            for i, ids in zip(group, network.decode(batch), strict=True):
                out[i] = [self.tags_.items[k] for k in ids]
        return out

    def predict_spans(self, x: str | Sequence[str]) -> list[dict[str, Any]]:
        """The chunks of one sentence: ``[{"type", "start", "end", "text"}]`` (token offsets, end exclusive)."""
        if self.scheme_ == "none":
            raise ValueError("predict_spans: this tagger's tags have no chunks (scheme 'none'); use predict")
        tokens = tokenize(x, characters=self.settings["tokenizer"] == "characters") if isinstance(x, str) else list(x)
        spans, _ = tags_to_spans(self.predict_tokens([tokens])[0], self.scheme_)
        joiner = "" if self.settings["tokenizer"] == "characters" else " "
        return [{"type": k, "start": a, "end": b, "text": joiner.join(tokens[a:b])} for k, a, b in spans]

    def evaluate(self, sentences: Sequence[Any], tags: Sequence[Sequence[str]] | None = None) -> dict[str, Any]:
        """Scores on held-out sentences (see :func:`rnnkit.metrics.tagging.tagging_scores`).

        Gold tags never seen in training cannot be predicted: they count as errors, and their
        tokens are counted in ``unseen_tag_tokens``.

        Returns:
            ``{"accuracy", "precision", "recall", "f1", "per_type", "invalid_gold",
            "invalid_predicted", "unseen_tag_tokens", "method"}``.
        """
        from rnnkit.metrics.tagging import tagging_scores

        tokens, gold = _split(sentences, tags, "sentences")
        if gold is None:
            raise ValueError("tags: evaluate needs the gold tags")
        predicted = self.predict_tokens(tokens)
        scores = tagging_scores(gold, predicted, self.scheme_)
        trained = set(self.trained_tags())
        scores["unseen_tag_tokens"] = sum(t not in trained for row in gold for t in row)
        return scores

    def trained_tags(self) -> list[str]:
        """The tags the model was trained to predict (not those seen only in the dev data)."""
        return list(self.tags_.items[: self.num_trained_tags_])

    # ------------------------------------------------------------------------------ save / load
    def json_state(self) -> dict[str, Any]:
        self._check_fitted()
        return {"scheme": self.scheme_, "words": self.words_.items,
                "chars": self.chars_.items if self.chars_ is not None else None, "tags": self.tags_.items,
                "bigrams": self.bigrams_.items if self.bigrams_ is not None else None,
                "num_trained_tags": self.num_trained_tags_,
                "training_log": self.training_log_, "fit_seconds": self.fit_seconds_}

    def load_json_state(self, state: dict[str, Any]) -> None:
        self.scheme_ = state["scheme"]
        self.words_ = Vocabulary(list(state["words"]))
        self.chars_ = Vocabulary(list(state["chars"])) if state["chars"] is not None else None
        self.tags_ = Vocabulary(list(state["tags"]))
        self.bigrams_ = Vocabulary(list(state["bigrams"])) if state.get("bigrams") is not None else None
        self.num_trained_tags_ = int(state["num_trained_tags"])
        self.training_log_ = state.get("training_log", [])
        self.fit_seconds_ = state.get("fit_seconds", 0.0)
        self.network = self._build_network()

    def tensor_state(self) -> dict[str, torch.Tensor]:
        return dict(self._check_fitted().state_dict())

    def load_tensor_state(self, tensors: dict[str, torch.Tensor]) -> None:
        load_state_dict_checked(self._check_fitted(), tensors, what="Tagger network")
        self.network.eval()


__all__ = ["TOKEN_PATTERN", "Tagger", "tokenize"]
