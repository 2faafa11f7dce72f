"""``TextClassifier`` and ``SequenceClassifier``: recurrent classifiers in the estimator style.

``TextClassifier`` trains a tokenizer on the training texts (saved as ``tokenizer.json`` in the
model directory) and classifies texts; ``SequenceClassifier`` classifies numeric multivariate
sequences (``(T_i, F)`` arrays of any length), standardising each feature with the training
mean and standard deviation. Both: ``fit(X, y)`` returns ``self``, ``predict``, ``predict_proba``,
``evaluate``, ``save(dir)`` and ``rnnkit.load(dir)``.

Documented behaviour for awkward inputs:

* an empty text at ``fit`` is an error naming its index; at ``predict`` it is read as one
  ``[UNK]`` token (the model still answers, from no evidence);
* a sequence longer than ``max_length`` (default: twice the longest training sequence) is cut to
  its first ``max_length`` steps, with a warning stating the limit;
* a label at ``fit`` with one class only, or at ``evaluate`` that the model never saw, is an error
  naming the labels;
* NaN or infinite values in numeric sequences are an error naming the sequence and step.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from rnnkit.data.collate import sequence_loader
from rnnkit.models.classifier import ClassifierEnsemble, SequenceClassifierNet
from rnnkit.serialization import load_state_dict_checked
from rnnkit.tasks.framework.estimator import Estimator
from rnnkit.training.callbacks import KeepBest, TimeBudget

#: Cells whose PyTorch kernels are the fastest backend for short sentences here (measured on MR:
#: auto's compiled kernels were 2.5-6x slower at B=50, T~22, H=128 with lengths on this machine).
NATIVE_CELLS = ("lstm", "gru", "elman", "rnn")


class SequenceClassifier(Estimator):
    """Classify numeric multivariate sequences with a bidirectional recurrent network.

    Args:
        cell: any rnnkit cell name (``"lstm"``, ``"gru"``, ``"layernorm_lstm"``, ``"mingru"``...).
        hidden_size: state size per direction.
        num_layers: stacked recurrent layers.
        embedding_dim: size of the input embedding (text) or linear input projection (numbers).
        pooling: ``"last"``, ``"mean"``, ``"max"`` or ``"attention"``.
        bidirectional: read both ways.
        dropout: before the classifier (and between layers).
        embedding_dropout: dropout on the embedded inputs.
        multi_label: each example has a set of labels (lists, or strings joined by ``label_sep``).
        label_sep: separator of multi-label strings.
        class_weights: ``None``, ``"balanced"`` (inverse class frequency, scikit-learn's formula) or
            ``{label: weight}``.
        batch_size, max_epochs, lr, weight_decay, clip_grad_norm: training.
        val_fraction: share of the training data held out to pick the best epoch (0: none).
        patience: epochs without a better validation accuracy before stopping (``None``: never).
        time_budget: stop after the epoch that passes this many seconds.
        max_length: longest input kept (default: twice the longest training input).
        backend: recurrent backend (default: ``"native"`` for lstm/gru/elman, else ``"auto"``).
        device: where to train (``"cpu"``, ``"cuda"``, ``"auto"``); prediction runs on the CPU.
        seed: weights, data order and the validation split.
        ensemble: train this many networks (seeds ``seed``, ``seed + 1``, ...; same validation split)
            and average their class probabilities.
        progress: show the Trainer's progress bar.

    Example:
        >>> x = [np.random.randn(t, 3) for t in (5, 8, 6, 7)]
        >>> model = SequenceClassifier(hidden_size=8, max_epochs=2).fit(x, ["a", "b", "a", "b"])  # doctest: +SKIP
        >>> model.predict(x[:2])  # doctest: +SKIP
        ['a', 'b']
    """

    app_name = "classify"
    kind = "sequence"

    def __init__(
        self,
        *,
        cell: str = "lstm",
        hidden_size: int = 128,
        num_layers: int = 1,
        embedding_dim: int = 128,
        pooling: str = "max",
        bidirectional: bool = True,
        dropout: float = 0.5,
        embedding_dropout: float = 0.0,
        multi_label: bool = False,
        label_sep: str = "|",
        class_weights: str | dict | None = None,
        batch_size: int = 50,
        max_epochs: int = 10,
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        clip_grad_norm: float | None = 5.0,
        val_fraction: float = 0.1,
        patience: int | None = 3,
        time_budget: float | None = None,
        max_length: int | None = None,
        backend: str | None = None,
        device: str = "cpu",
        seed: int = 0,
        ensemble: int = 1,
        progress: bool = False,
    ) -> None:
        if class_weights is not None and class_weights != "balanced" and not isinstance(class_weights, dict):
            raise ValueError(f"class_weights: expected None, 'balanced' or {{label: weight}}, got {class_weights!r}")
        if not 0.0 <= val_fraction < 1.0:
            raise ValueError(f"val_fraction: expected a fraction in [0, 1), got {val_fraction!r}")
        if not isinstance(ensemble, int) or ensemble < 1:
            raise ValueError(f"ensemble: expected a number of networks >= 1, got {ensemble!r}")
        self.settings = {k: v for k, v in locals().items() if k not in ("self", "__class__")}
        for key, value in self.settings.items():
            setattr(self, key, value)
        self.network_: SequenceClassifierNet | None = None
        self.classes_: list | None = None
        self.history_: list[dict] = []
        self.max_length_: int | None = None
        self.fit_seconds_: float = 0.0
        #: Trainer callbacks added to every fit (the app passes the run's callbacks here).
        self.extra_callbacks: list = []

    # ---------------------------------------------------------------------------- inputs
    def _check_inputs(self, X: Sequence[Any], *, fitting: bool) -> list[np.ndarray]:
        out = []
        for i, x in enumerate(X):
            a = np.asarray(x, dtype=np.float64)
            if a.ndim == 1:
                a = a[:, None]
            if a.ndim != 2 or a.shape[0] == 0:
                raise ValueError(f"X: sequence {i}: expected a non-empty (T, F) array, got shape {a.shape}")
            bad = ~np.isfinite(a)
            if bad.any():
                step, feature = (int(v) for v in np.argwhere(bad)[0])
                raise ValueError(f"X: sequence {i} has NaN or infinite values (first at step {step}, feature "
                                 f"{feature}); fill or drop them before fit/predict")
            out.append(a)
        sizes = {a.shape[1] for a in out}
        expected = self.mean_.shape[0] if not fitting else None
        if len(sizes) > 1 or (expected is not None and sizes != {expected}):
            raise ValueError(f"X: expected {expected or 'the same number of'} features in every sequence, "
                             f"got {sorted(sizes)}")
        return out

    def _encode(self, X: Sequence[Any], *, fitting: bool) -> list:
        """Model inputs (one tensor per example) from raw inputs; fits the preprocessing when ``fitting``."""
        arrays = self._check_inputs(X, fitting=fitting)
        if fitting:
            stacked = np.concatenate(arrays)
            self.mean_ = stacked.mean(0)
            self.std_ = np.where(stacked.std(0) > 1e-12, stacked.std(0), 1.0)
        return [torch.tensor((a - self.mean_) / self.std_, dtype=torch.float32) for a in arrays]

    def _network_options(self) -> dict:
        return {"input_size": int(self.mean_.shape[0])}

    def _truncate(self, sequences: list, *, fitting: bool) -> list:
        if fitting:
            self.max_length_ = self.max_length or 2 * max(len(s) for s in sequences)
        limit = self.max_length_
        long = [i for i, s in enumerate(sequences) if len(s) > limit]
        if long:
            warnings.warn(f"{len(long)} input(s) longer than max_length={limit} steps (tokens) were cut to their first "
                          f"{limit} (first: item {long[0]}, {len(sequences[long[0]])} steps)", stacklevel=3)
        return [s[:limit] for s in sequences]

    # ---------------------------------------------------------------------------- labels
    def _label_sets(self, y: Sequence[Any]) -> list[list]:
        if self.multi_label:
            return [list(v.split(self.label_sep)) if isinstance(v, str) else list(v) for v in y]
        return [[v.item() if isinstance(v, np.generic) else v] for v in y]

    def _targets(self, y: Sequence[Any]) -> torch.Tensor:
        index = {c: i for i, c in enumerate(self.classes_)}
        sets = self._label_sets(y)
        unseen = sorted({str(v) for s in sets for v in s if v not in index})
        if unseen:
            raise ValueError(f"y: label(s) {unseen[:10]} were never seen in training; the model knows "
                             f"{[str(c) for c in self.classes_][:20]}")
        if self.multi_label:
            hot = torch.zeros(len(sets), len(self.classes_))
            for row, s in enumerate(sets):
                hot[row, [index[v] for v in s]] = 1.0
            return hot
        return torch.tensor([index[s[0]] for s in sets], dtype=torch.long)

    def _weights(self, targets: torch.Tensor) -> list[float] | None:
        if self.class_weights is None:
            return None
        if isinstance(self.class_weights, dict):
            missing = [c for c in self.classes_ if c not in self.class_weights and str(c) not in self.class_weights]
            if missing:
                raise ValueError(f"class_weights: no weight for class(es) {missing}")
            return [float(self.class_weights.get(c, self.class_weights.get(str(c)))) for c in self.classes_]
        if self.multi_label:
            positives = targets.sum(0).clamp(min=1)
            return ((len(targets) - positives) / positives).tolist()
        counts = torch.bincount(targets, minlength=len(self.classes_)).clamp(min=1).float()
        return (len(targets) / (len(self.classes_) * counts)).tolist()  # sklearn's "balanced"

    # ---------------------------------------------------------------------------- fit
    def fit(self, X: Sequence[Any], y: Sequence[Any], *, validation: tuple | None = None) -> SequenceClassifier:
        """Train on ``X`` (texts or sequences) and labels ``y``.

        Args:
            X: the training inputs.
            y: one label per input (multi-label: a list of labels, or a ``label_sep``-joined string).
            validation: ``(X_val, y_val)`` to pick the best epoch on, instead of holding out
                ``val_fraction`` of the training data.

        Returns:
            ``self``.

        Raises:
            ValueError: different lengths of ``X`` and ``y``, fewer than two classes, an empty
                text, NaN values.
        """
        if len(X) != len(y):
            raise ValueError(f"X and y: expected the same length, got {len(X)} inputs and {len(y)} labels")
        sets = self._label_sets(y)
        classes = sorted({v for s in sets for v in s}, key=lambda v: (str(type(v)), v))
        if len(classes) < 2:
            raise ValueError(f"y: expected at least two classes to tell apart, got {len(classes)}: {classes!r}")
        self.classes_ = classes
        torch.manual_seed(self.seed)
        start = time.perf_counter()
        if validation is None and self.val_fraction > 0 and len(X) >= 10:
            train_i, val_i = self._validation_split(sets)
            X_val, y_val = [X[i] for i in val_i], [y[i] for i in val_i]
            X, y = [X[i] for i in train_i], [y[i] for i in train_i]
        elif validation is not None:
            X_val, y_val = validation
        else:
            X_val = y_val = None
        inputs = self._truncate(self._encode(X, fitting=True), fitting=True)
        targets = self._targets(y)
        pad = self._pad_value()
        val = None
        if X_val is not None:
            val_inputs = self._truncate(self._encode(X_val, fitting=False), fitting=False)
            val = sequence_loader(val_inputs, self._targets(y_val), batch_size=256, shuffle=False, pad_value=pad)
        members, self.member_histories_ = [], []
        for member in range(self.ensemble):
            seed = self.seed + member
            torch.manual_seed(seed)
            self.network_ = SequenceClassifierNet(
                len(self.classes_), embedding_dim=self.embedding_dim, cell=self.cell, hidden_size=self.hidden_size,
                num_layers=self.num_layers, bidirectional=self.bidirectional, dropout=self.dropout,
                embedding_dropout=self.embedding_dropout, pooling=self.pooling, multi_label=self.multi_label,
                class_weights=self._weights(targets), backend=self._backend(), **self._network_options(),
            )
            self._init_network()
            train = sequence_loader(inputs, targets, batch_size=self.batch_size, seed=seed, pad_value=pad)
            members.append(self._train_network(train, val, seed))
        self.history_ = self.member_histories_[0]
        self.network_ = members[0] if self.ensemble == 1 else ClassifierEnsemble(members)
        self.fit_seconds_ = time.perf_counter() - start
        return self

    def _train_network(self, train: Any, val: Any, seed: int) -> SequenceClassifierNet:
        """Train ``self.network_`` (the best validation epoch kept); returns it, on the CPU, in eval mode."""
        from rnnkit.training import Trainer

        keeper = KeepBest("val_accuracy", mode="max", module=self.network_)
        budget = TimeBudget(self.time_budget)
        trainer = Trainer(
            callbacks=[keeper, budget, *self.extra_callbacks], max_epochs=self.max_epochs, lr=self.lr, optimizer="adam",
            weight_decay=self.weight_decay, clip_grad_norm=self.clip_grad_norm, seed=seed, device=self.device,
            progress_bar=self.progress, plot=False, monitor="val_accuracy" if val is not None else "val_loss",
            monitor_mode="max", early_stopping_patience=self.patience if val is not None else None,
        )
        result = trainer.fit(self.network_, train, val)
        keeper.restore(self.network_)
        self.member_histories_.append([{k: v for k, v in row.items() if isinstance(v, (int, float))}
                                       for row in result.history])
        return self.network_.cpu().eval()

    def _validation_split(self, sets: list[list]) -> tuple[np.ndarray, np.ndarray]:
        from sklearn.model_selection import train_test_split

        indices = np.arange(len(sets))
        stratify = None if self.multi_label else [str(s[0]) for s in sets]
        try:
            return train_test_split(indices, test_size=self.val_fraction, random_state=self.seed, stratify=stratify)
        except ValueError:  # a class too small to stratify
            return train_test_split(indices, test_size=self.val_fraction, random_state=self.seed)

    def _backend(self) -> str:
        if self.backend is not None:
            return self.backend
        return "native" if self.cell in NATIVE_CELLS else "auto"

    def _init_network(self) -> None:
        """Hook for subclasses (pretrained vectors)."""

    def _pad_value(self) -> float:
        return 0.0

    # ---------------------------------------------------------------------------- predict
    def _check_fitted(self) -> None:
        if self.network_ is None:
            raise RuntimeError(f"{type(self).__name__}: call fit() (or rnnkit.load) before predicting")

    def _logits(self, X: Sequence[Any], *, attention: bool = False):
        self._check_fitted()
        if len(X) == 0:
            raise ValueError("X: expected at least one input, got none")
        inputs = self._truncate(self._encode(X, fitting=False), fitting=False)
        loader = sequence_loader(inputs, batch_size=256, shuffle=False, pool_batches=1, pad_value=self._pad_value())
        logits, weights = [], []
        self.network_.eval()
        with torch.no_grad():
            for batch in loader:
                out, w = self.network_(batch["inputs"], batch["lengths"], return_attention=True)
                logits.append(out)
                if attention and w is not None:
                    weights += [row[:n].tolist() for row, n in zip(w, batch["lengths"].tolist(), strict=True)]
        return torch.cat(logits), weights

    def predict_proba(self, X: Sequence[Any]) -> np.ndarray:
        """Class probabilities ``(n, C)`` in the order of :attr:`classes_` (multi-label: each in [0, 1])."""
        logits, _ = self._logits(X)
        probs = torch.sigmoid(logits) if self.multi_label else torch.softmax(logits, 1)
        return probs.numpy()

    def predict(self, X: Sequence[Any], *, threshold: float = 0.5) -> list:
        """The predicted label of each input (multi-label: the list of labels with probability > threshold)."""
        probs = self.predict_proba(X)
        if self.multi_label:
            return [[c for c, p in zip(self.classes_, row, strict=True) if p > threshold] for row in probs]
        return [self.classes_[i] for i in probs.argmax(1)]

    def evaluate(self, X: Sequence[Any], y: Sequence[Any]) -> dict[str, float]:
        """Accuracy, macro-F1 and per-class precision/recall/F1 on ``(X, y)`` (scikit-learn).

        Raises:
            ValueError: a label of ``y`` the model never saw (named).
        """
        from rnnkit.metrics.classification import classification_scores

        targets = self._targets(y)
        probs = self.predict_proba(X)
        return classification_scores(targets.numpy(), probs, self.classes_, multi_label=self.multi_label)

    # ---------------------------------------------------------------------------- save
    def get_config(self) -> dict:
        return dict(self.settings)

    def json_state(self) -> dict:
        self._check_fitted()
        state = {"classes": self.classes_, "max_length": self.max_length_, "history": self.history_,
                 "fit_seconds": self.fit_seconds_}
        if isinstance(self.network_, ClassifierEnsemble):
            state["members"] = [m.get_config() for m in self.network_.members]
        else:
            state["network"] = self.network_.get_config()
        if hasattr(self, "mean_"):
            state.update(mean=self.mean_.tolist(), std=self.std_.tolist())
        return state

    def load_json_state(self, state: dict) -> None:
        self.classes_ = state["classes"]
        self.max_length_ = state["max_length"]
        self.history_ = state["history"]
        self.fit_seconds_ = state.get("fit_seconds", 0.0)
        if "mean" in state:
            self.mean_, self.std_ = np.asarray(state["mean"]), np.asarray(state["std"])
        if "members" in state:
            self.network_ = ClassifierEnsemble([SequenceClassifierNet(**c) for c in state["members"]])
        else:
            self.network_ = SequenceClassifierNet(**state["network"])

    def tensor_state(self) -> dict[str, torch.Tensor]:
        self._check_fitted()
        return dict(self.network_.state_dict())

    def load_tensor_state(self, tensors: dict[str, torch.Tensor]) -> None:
        load_state_dict_checked(self.network_, tensors, what=type(self).__name__)
        self.network_.eval()


class TextClassifier(SequenceClassifier):
    """Classify texts: a tokenizer trained on the training texts, then :class:`SequenceClassifier`'s network.

    Args:
        tokenizer: ``"word"`` (normalised words and punctuation), ``"bpe"`` or ``"char"``
            (see :class:`rnnkit.data.tokenizers.Tokenizer`).
        vocab_size: the largest vocabulary.
        min_frequency: rarer tokens become ``[UNK]``.
        word_dropout: in training, the share of tokens replaced by ``[UNK]`` (see
            :class:`~rnnkit.models.classifier.SequenceClassifierNet`).
        lowercase: lower-case before tokenizing (default: yes for word and BPE).
        pretrained_vectors: a word2vec/GloVe text file to initialise the embedding from (its
            dimension replaces ``embedding_dim``).
        **options: every :class:`SequenceClassifier` setting.

    Example:
        >>> model = TextClassifier(max_epochs=3).fit(["a fine film", "a dull film"] * 20, ["pos", "neg"] * 20)
        >>> model.predict(["fine"])  # doctest: +SKIP
        ['pos']
    """

    kind = "text"

    def __init__(
        self,
        *,
        tokenizer: str = "word",
        vocab_size: int = 30_000,
        min_frequency: int = 1,
        word_dropout: float = 0.0,
        lowercase: bool | None = None,
        pretrained_vectors: str | None = None,
        **options: Any,
    ) -> None:
        from rnnkit.data.tokenizers import KINDS

        if tokenizer not in KINDS:
            raise ValueError(f"tokenizer: expected one of {', '.join(KINDS)}, got {tokenizer!r}")
        if not 0.0 <= word_dropout < 1.0:
            raise ValueError(f"word_dropout: expected a probability in [0, 1), got {word_dropout!r}")
        super().__init__(**options)
        self.settings.update(tokenizer=tokenizer, vocab_size=vocab_size, min_frequency=min_frequency,
                             word_dropout=word_dropout, lowercase=lowercase, pretrained_vectors=pretrained_vectors)
        self.settings.pop("options", None)
        self.tokenizer = tokenizer
        self.vocab_size = vocab_size
        self.min_frequency = min_frequency
        self.word_dropout = word_dropout
        self.lowercase = lowercase
        self.pretrained_vectors = pretrained_vectors
        self.tokenizer_ = None
        self.vector_coverage_: float | None = None

    def _encode(self, X: Sequence[Any], *, fitting: bool) -> list:
        from rnnkit.data.tokenizers import Tokenizer

        if isinstance(X, str):
            raise TypeError("X: expected a list of texts, got one str (wrap it in a list)")
        bad = [i for i, t in enumerate(X) if not isinstance(t, str)]
        if bad:
            raise TypeError(f"X: expected texts (str), item {bad[0]} is a {type(X[bad[0]]).__name__}: {X[bad[0]]!r}")
        if fitting:
            empty = [i for i, t in enumerate(X) if not t.strip()]
            if empty:
                raise ValueError(f"X: {len(empty)} empty text(s) in the training data (first at index {empty[0]}); "
                                 "drop them before fit")
            self.tokenizer_ = Tokenizer.train(X, kind=self.tokenizer, vocab_size=self.vocab_size,
                                              min_frequency=self.min_frequency, lowercase=self.lowercase)
        ids = self.tokenizer_.encode_batch(list(X))
        # An empty text (or one the normaliser empties) is read as one unknown token.
        return [torch.tensor(s or [self.tokenizer_.unk_id], dtype=torch.long) for s in ids]

    def _network_options(self) -> dict:
        return {"vocab_size": self.tokenizer_.vocab_size, "padding_idx": self.tokenizer_.pad_id,
                "unk_idx": self.tokenizer_.unk_id, "word_dropout": self.word_dropout}

    def _init_network(self) -> None:
        if self.pretrained_vectors is None:
            return
        from rnnkit.data.vectors import read_word_vectors

        matrix, self.vector_coverage_ = read_word_vectors(self.pretrained_vectors, self.tokenizer_.backend.get_vocab(),
                                                          seed=self.seed)
        if matrix.shape[1] != self.network_.input.embedding_dim:
            options = {**self.network_.get_config(), "embedding_dim": int(matrix.shape[1])}
            self.network_ = SequenceClassifierNet(**options)
        with torch.no_grad():
            self.network_.input.weight.copy_(matrix)

    def _pad_value(self) -> float:
        return float(self.tokenizer_.pad_id) if self.tokenizer_ is not None else 0.0

    def explain(self, text: str) -> tuple[list[str], list[float], str, float]:
        """Per-token attention weights of one text (needs ``pooling="attention"``).

        Returns:
            ``(tokens, weights, label, probability)``: the pieces of ``text`` behind each token,
            their weights (summing to 1), the predicted label and its probability.

        Raises:
            ValueError: the model does not pool by attention.
        """
        self._check_fitted()
        if self.network_.pool.mode != "attention":
            raise ValueError(f"explain: needs a model trained with pooling='attention', this one pools by "
                             f"{self.network_.pool.mode!r}")
        logits, weights = self._logits([text], attention=True)
        probs = torch.sigmoid(logits[0]) if self.multi_label else torch.softmax(logits[0], 0)
        best = int(probs.argmax())
        tokens = self.tokenizer_.spans(text)[: self.max_length_] or ["[UNK]"]
        return tokens, weights[0], self.classes_[best], float(probs[best])

    def json_state(self) -> dict:
        return {**super().json_state(), "vector_coverage": self.vector_coverage_}

    def load_json_state(self, state: dict) -> None:
        self.vector_coverage_ = state.pop("vector_coverage", None)
        super().load_json_state(state)

    def extra_files(self) -> dict[str, bytes]:
        self._check_fitted()
        return {"tokenizer.json": self.tokenizer_.to_json().encode("utf-8")}

    def load_extra_files(self, files: dict[str, bytes]) -> None:
        from rnnkit.data.tokenizers import Tokenizer

        if "tokenizer.json" not in files:
            raise ValueError("TextClassifier: the model directory has no tokenizer.json")
        self.tokenizer_ = Tokenizer.from_json(files["tokenizer.json"].decode("utf-8"))


__all__ = ["SequenceClassifier", "TextClassifier"]
