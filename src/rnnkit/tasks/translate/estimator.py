"""``rnnkit.Translator``: subwords + a recurrent encoder-decoder with attention + beam search, as one estimator."""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Sequence
from typing import Any

import torch

from rnnkit.checks import check_positive_int
from rnnkit.serialization import SerializationError, load_state_dict_checked
from rnnkit.tasks.framework.estimator import Estimator

#: Decoding methods of :meth:`Translator.translate`.
METHODS = ("beam", "greedy", "sample")


class _KeepBest:
    """Trainer callback: keep the weights of the validation with the lowest loss."""

    def __init__(self, network: torch.nn.Module) -> None:
        self.network, self.best, self.weights = network, float("inf"), None

    def on_epoch_end(self, trainer: Any, epoch: int, record: dict) -> None:
        value = record.get("val_loss")
        if value is not None and value < self.best:
            self.best = value
            self.weights = {k: v.detach().clone() for k, v in self.network.state_dict().items()}

    def restore(self) -> None:
        if self.weights is not None:
            self.network.load_state_dict(self.weights)


class Translator(Estimator):
    """Translate sentences with a recurrent encoder-decoder with attention.

    Settings (all keyword-only):
        vocab_size: BPE vocabulary size (per language, or for both when ``joint_vocab``).
        joint_vocab: one BPE vocabulary for both languages (source and target embeddings shared).
        lowercase: lower-case all text (output is then lower-case).
        embed_size, hidden_size, cell, encoder_layers, decoder_layers, attention, input_feeding,
        dropout, tie_embeddings, label_smoothing: the network (:class:`rnnkit.models.seq2seq.Seq2Seq`).
        lr, batch_size, max_steps, clip_grad_norm: training (Adam, one-cycle schedule, the Trainer).
        max_src_len, max_tgt_len: subword limits; longer training pairs are truncated, longer
            sources at translation time too, each with a warning that counts them.
        beam, alpha, max_len_a, max_len_b: decoding defaults (beam 1 is greedy).
        seed, device, progress: as everywhere.

    Example:
        >>> tr = Translator(max_steps=200).fit([("the house", "la casa"), ...])  # doctest: +SKIP
        >>> tr.translate(["the house"], beam=5, constraints=[["casa"]])  # doctest: +SKIP
        ['la casa']
        >>> tr.save("model"); rnnkit.load("model").evaluate(test_pairs)  # doctest: +SKIP
        {'BLEU': ..., 'chrF': ...}
    """

    app_name = "translate"

    def __init__(self, *, vocab_size: int = 8000, joint_vocab: bool = True, lowercase: bool = False,
                 embed_size: int = 256, hidden_size: int = 256, cell: str = "lstm", encoder_layers: int = 1,
                 decoder_layers: int = 1, attention: str = "general", input_feeding: bool = True,
                 dropout: float = 0.2, tie_embeddings: bool = True, label_smoothing: float = 0.1, lr: float = 2e-3,
                 batch_size: int = 64, max_steps: int = 2000, clip_grad_norm: float = 1.0, max_src_len: int = 80,
                 max_tgt_len: int = 80, beam: int = 5, alpha: float = 0.6, max_len_a: float = 1.5,
                 max_len_b: int = 10, seed: int = 0, device: str = "cpu", progress: bool = False) -> None:
        self.settings = {k: v for k, v in locals().items() if k not in ("self", "__class__")}
        for name in ("vocab_size", "embed_size", "hidden_size", "batch_size", "max_steps", "max_src_len",
                     "max_tgt_len", "beam"):
            check_positive_int(name, self.settings[name])
        self.__dict__.update(self.settings)
        self.network = None
        self.src_tokenizer_ = None
        self.tgt_tokenizer_ = None
        self.training_log_: list[dict] = []
        self.fit_seconds_: float | None = None
        self.truncated_: int = 0
        self.extra_callbacks: list[Any] = []

    # ------------------------------------------------------------------------------------ fit
    def get_config(self) -> dict[str, Any]:
        return dict(self.settings)

    def _tokenizers(self, pairs: Sequence[tuple[str, str]]) -> None:
        from rnnkit.data.subwords import train_subword_tokenizer

        if self.joint_vocab:
            joint = train_subword_tokenizer([s for pair in pairs for s in pair], vocab_size=self.vocab_size,
                                            lowercase=self.lowercase)
            self.src_tokenizer_ = self.tgt_tokenizer_ = joint
        else:
            self.src_tokenizer_ = train_subword_tokenizer([s for s, _ in pairs], vocab_size=self.vocab_size,
                                                          lowercase=self.lowercase)
            self.tgt_tokenizer_ = train_subword_tokenizer([t for _, t in pairs], vocab_size=self.vocab_size,
                                                          lowercase=self.lowercase)

    def _build_network(self) -> torch.nn.Module:
        from rnnkit.models.seq2seq import Seq2Seq

        tgt = self.tgt_tokenizer_
        return Seq2Seq(
            self.src_tokenizer_.vocab_size, tgt.vocab_size, embed_size=self.embed_size, hidden_size=self.hidden_size,
            cell=self.cell, encoder_layers=self.encoder_layers, decoder_layers=self.decoder_layers,
            attention=self.attention, input_feeding=self.input_feeding, dropout=self.dropout,
            tie_embeddings=self.tie_embeddings, share_embeddings=self.joint_vocab, label_smoothing=self.label_smoothing,
            pad_id=tgt.pad_id, bos_id=tgt.special_id("<s>"), eos_id=tgt.special_id("</s>"),
        )

    def _encode_pairs(self, pairs: Sequence[tuple[str, str]], what: str) -> list[tuple[list[int], list[int]]]:
        sources = self.src_tokenizer_.encode_batch([s for s, _ in pairs])
        targets = self.tgt_tokenizer_.encode_batch([t for _, t in pairs])
        encoded, truncated, dropped = [], 0, 0
        for src, tgt in zip(sources, targets, strict=True):
            if not src or not tgt:
                dropped += 1
                continue
            if len(src) > self.max_src_len or len(tgt) > self.max_tgt_len:
                truncated += 1
            encoded.append((src[: self.max_src_len], tgt[: self.max_tgt_len]))
        if truncated:
            warnings.warn(f"{what}: truncated {truncated} of {len(pairs)} pairs to max_src_len={self.max_src_len} / "
                          f"max_tgt_len={self.max_tgt_len} subwords", stacklevel=3)
        if dropped:
            warnings.warn(f"{what}: dropped {dropped} pairs with no subword on a side", stacklevel=3)
        if not encoded:
            raise ValueError(f"{what}: no pair has text on both sides")
        self.truncated_ = truncated
        return encoded

    def fit(self, pairs: Sequence[tuple[str, str]], val_pairs: Sequence[tuple[str, str]] | None = None) -> Translator:
        """Train the subwords (on ``pairs`` only) and the network.

        Args:
            pairs: ``[(source, target), ...]`` training sentences.
            val_pairs: held-out pairs; the weights of the best validation loss are kept.

        Returns:
            ``self``.

        Raises:
            ValueError: no usable pair.
        """
        from rnnkit import Trainer
        from rnnkit.data.parallel import BucketedPairs

        pairs = _check_pairs(pairs, "pairs")
        torch.manual_seed(self.seed)
        self._tokenizers(pairs)
        self.network = self._build_network()
        net = self.network

        def batches(encoded, shuffle):
            return BucketedPairs(encoded, batch_size=self.batch_size, pad_id=net.pad_id, bos_id=net.bos_id,
                                 eos_id=net.eos_id, shuffle=shuffle)

        train = batches(self._encode_pairs(pairs, "pairs"), True)
        val = batches(self._encode_pairs(_check_pairs(val_pairs, "val_pairs"), "val_pairs"), False) \
            if val_pairs else None
        keeper = _KeepBest(net)
        trainer = Trainer(
            callbacks=[*([keeper] if val is not None else []), *self.extra_callbacks], max_epochs=None,
            max_steps=self.max_steps, batch_size=self.batch_size, lr=self.lr, optimizer="adam", scheduler="one-cycle",
            clip_grad_norm=self.clip_grad_norm, seed=self.seed, device=self.device, progress_bar=self.progress,
            plot=False, val_every_n_epochs=1,
        )
        start = time.perf_counter()
        result = trainer.fit(net, train, val)
        self.fit_seconds_ = time.perf_counter() - start
        if val is not None:
            # Validate the final weights too: max_steps rarely ends on an epoch boundary.
            keeper.on_epoch_end(trainer, -1, {"val_loss": trainer.evaluate(net, val)["loss"]})
            keeper.restore()
        self.training_log_ = [{k: v for k, v in row.items() if isinstance(v, (int, float))} for row in result.history]
        net.to("cpu").eval()
        return self

    # ------------------------------------------------------------------------------------ translate
    def _check_fitted(self) -> None:
        if self.network is None:
            raise RuntimeError("Translator: call fit(pairs) (or rnnkit.load a saved one) before translating")

    def _encode_sources(self, sentences: Sequence[str]) -> list[list[int]]:
        if isinstance(sentences, str):
            raise TypeError("sentences: expected a list of strings, got one string; wrap it in a list")
        bad = [i for i, s in enumerate(sentences) if not isinstance(s, str)]
        if bad:
            raise TypeError(f"sentences: item {bad[0]} is a {type(sentences[bad[0]]).__name__}, expected str")
        encoded = self.src_tokenizer_.encode_batch(list(sentences))
        long = sum(len(e) > self.max_src_len for e in encoded)
        if long:
            warnings.warn(f"sentences: truncated {long} sentence(s) longer than max_src_len={self.max_src_len} "
                          "subwords", stacklevel=3)
        unknown = sum(e.count(self.src_tokenizer_.unk_id) for e in encoded)
        if unknown:
            warnings.warn(f"sentences: {unknown} character(s) outside the source vocabulary were read as [UNK]",
                          stacklevel=3)
        return [e[: self.max_src_len] for e in encoded]

    def encode_constraints(self, constraints: Sequence[Sequence[str]]) -> list[list[list[int]]]:
        """Target subword ids of each sentence's constraint terms.

        Raises:
            ValueError: a term that is empty or has characters outside the target vocabulary
                (it could never be produced); the message names the term.
        """
        out = []
        for i, terms in enumerate(constraints):
            if isinstance(terms, str):
                raise TypeError(f"constraints[{i}]: expected a list of terms, got the string {terms!r}")
            phrases = []
            for term in terms:
                ids = self.tgt_tokenizer_.encode(term) if isinstance(term, str) else []
                if not ids:
                    raise ValueError(f"constraints[{i}]: the term {term!r} has no subword; expected non-empty text")
                if self.tgt_tokenizer_.unk_id in ids:
                    raise ValueError(f"constraints[{i}]: the term {term!r} cannot be tokenised: it has characters "
                                     f"outside the target vocabulary ({self.tgt_tokenizer_.tokens(term)})")
                phrases.append(ids)
            out.append(phrases)
        return out

    def hypotheses(self, sentences: Sequence[str], *, method: str | None = None, beam: int | None = None,
                   n_best: int = 1, constraints: Sequence[Sequence[str]] | None = None, temperature: float = 1.0,
                   keep_attention: bool = False, batch_size: int = 32) -> list[list[Any]]:
        """Decoded :class:`rnnkit.models.decoding.Hypothesis` lists, one list per sentence (best first).

        Args:
            sentences: source sentences.
            method: ``"beam"``, ``"greedy"`` or ``"sample"`` (default: beam, greedy when beam is 1).
            beam: beam size (default: the estimator's).
            n_best: hypotheses per sentence (beam search only).
            constraints: per sentence, target terms that must appear (constrained beam search).
            temperature: for sampling.
            keep_attention: keep attention weights (heatmaps).
            batch_size: sentences decoded together.
        """
        from rnnkit.data.parallel import pad_sequences
        from rnnkit.models import decoding

        self._check_fitted()
        beam = self.beam if beam is None else beam
        check_positive_int("beam", beam)
        method = method or ("greedy" if beam == 1 and constraints is None else "beam")
        if method not in METHODS:
            raise ValueError(f"method: expected one of {list(METHODS)}, got {method!r}")
        if constraints is not None:
            if len(constraints) != len(sentences):
                raise ValueError(f"constraints: expected one list of terms per sentence ({len(sentences)}), "
                                 f"got {len(constraints)}")
            if method != "beam":
                raise ValueError(f"constraints: need method='beam', got {method!r}")
        encoded = self._encode_sources(sentences)
        phrases = self.encode_constraints(constraints) if constraints is not None else None
        net = self.network.eval()
        options = {"max_len_a": self.max_len_a, "max_len_b": self.max_len_b, "keep_attention": keep_attention}
        results: list[list[Any]] = [[] for _ in sentences]
        order = sorted(range(len(sentences)), key=lambda i: len(encoded[i]))
        for start in range(0, len(order), batch_size):
            chunk = order[start: start + batch_size]
            # An empty sentence is read as one [UNK]: the encoder needs a step (documented behaviour).
            src, lengths = pad_sequences([encoded[i] or [self.src_tokenizer_.unk_id] for i in chunk], net.pad_id)
            if phrases is not None:
                out = decoding.constrained_beam_search(net, src, lengths, [phrases[i] for i in chunk], beam_size=beam,
                                                       alpha=self.alpha, n_best=n_best, **options)
            elif method == "beam":
                out = decoding.beam_search(net, src, lengths, beam_size=beam, alpha=self.alpha, n_best=n_best,
                                           **options)
            elif method == "greedy":
                out = [[h] for h in decoding.greedy_decode(net, src, lengths, **options)]
            else:
                generator = torch.Generator().manual_seed(self.seed + start)
                out = [[h] for h in decoding.sample_decode(net, src, lengths, temperature=temperature,
                                                           generator=generator, **options)]
            for i, hyps in zip(chunk, out, strict=True):
                results[i] = hyps
        return results

    def translate(self, sentences: Sequence[str], *, beam: int | None = None,
                  constraints: Sequence[Sequence[str]] | None = None, n_best: int = 1, method: str | None = None,
                  temperature: float = 1.0) -> list[str] | list[list[str]]:
        """Translate sentences (detokenised text).

        Args:
            sentences: source sentences.
            beam: beam size (1: greedy; default: the estimator's ``beam``).
            constraints: per sentence, a list of target terms that must appear in its translation.
            n_best: translations per sentence; above 1 a list of lists is returned.
            method: ``"beam"``, ``"greedy"`` or ``"sample"`` (ancestral sampling at ``temperature``).
            temperature: sampling temperature.

        Returns:
            One string per sentence, or ``n_best`` strings per sentence when ``n_best > 1``.

        Raises:
            ValueError: a constraint that cannot be tokenised, a bad beam or method.
        """
        hyps = self.hypotheses(sentences, method=method, beam=beam, n_best=n_best, constraints=constraints,
                               temperature=temperature)
        decode = self.tgt_tokenizer_.decode
        if n_best > 1:
            return [[decode(h.tokens) for h in row] for row in hyps]
        return [decode(row[0].tokens) if row else "" for row in hyps]

    def evaluate(self, pairs: Sequence[tuple[str, str]], *, beam: int | None = None,
                 method: str | None = None) -> dict[str, float]:
        """BLEU and chrF (sacrebleu) of the translations of ``pairs``' sources against their targets.

        The signatures are kept in ``self.signatures_``; ``sentences_per_second`` is the decoding speed.
        """
        from rnnkit.metrics.translation import translation_scores

        pairs = _check_pairs(pairs, "pairs")
        start = time.perf_counter()
        outputs = self.translate([s for s, _ in pairs], beam=beam, method=method)
        seconds = time.perf_counter() - start
        scores = translation_scores(outputs, [t for _, t in pairs])
        self.signatures_ = {"BLEU": scores.bleu_signature, "chrF": scores.chrf_signature}
        self.last_outputs_ = outputs
        return {**scores.as_dict(), "sentences_per_second": len(pairs) / seconds if seconds > 0 else math.inf}

    def attention_heatmap(self, sentence: str, path: str, *, beam: int | None = None) -> str:
        """Draw the attention weights of ``sentence``'s translation as a PNG at ``path``; returns the path."""
        from rnnkit.tasks.translate.plots import attention_heatmap

        if self.network is None or self.network.attention is None:
            raise RuntimeError("attention_heatmap: needs a fitted model with attention (attention='none' has none)")
        hyp = self.hypotheses([sentence], beam=beam, keep_attention=True)[0][0]
        src_tokens = self.src_tokenizer_.tokens(sentence)[: self.max_src_len] or ["[UNK]"]
        tgt_tokens = [self.tgt_tokenizer_.id_to_token(i) for i in hyp.tokens] + (["</s>"] if hyp.finished else [])
        return attention_heatmap(hyp.attention.numpy(), src_tokens, tgt_tokens, path)

    @property
    def num_parameters(self) -> int:
        """Trainable parameters of the network (tied weights counted once)."""
        self._check_fitted()
        return sum(p.numel() for p in self.network.parameters())

    # ------------------------------------------------------------------------------------ save
    def extra_files(self) -> dict[str, bytes]:
        self._check_fitted()
        files = {"tokenizer_src.json": self.src_tokenizer_.to_json().encode()}
        if not self.joint_vocab:
            files["tokenizer_tgt.json"] = self.tgt_tokenizer_.to_json().encode()
        return files

    def load_extra_files(self, files: dict[str, bytes]) -> None:
        from rnnkit.data.tokenizers import Tokenizer

        expected = {"tokenizer_src.json"} | (set() if self.joint_vocab else {"tokenizer_tgt.json"})
        if set(files) != expected:
            raise SerializationError(f"Translator: expected the files {sorted(expected)}, got {sorted(files)}")
        self.src_tokenizer_ = Tokenizer.from_json(files["tokenizer_src.json"])
        self.tgt_tokenizer_ = self.src_tokenizer_ if self.joint_vocab else Tokenizer.from_json(
            files["tokenizer_tgt.json"])
        self.network = self._build_network()

    def json_state(self) -> dict[str, Any]:
        return {"training_log": self.training_log_, "fit_seconds": self.fit_seconds_}

    def load_json_state(self, state: dict[str, Any]) -> None:
        self.training_log_ = list(state.get("training_log", []))
        self.fit_seconds_ = state.get("fit_seconds")

    def tensor_state(self) -> dict[str, torch.Tensor]:
        self._check_fitted()
        # Tied and shared embeddings are one tensor under several names; safetensors wants each once.
        return {k: v.detach().clone().contiguous() for k, v in self.network.state_dict().items()}

    def load_tensor_state(self, tensors: dict[str, torch.Tensor]) -> None:
        load_state_dict_checked(self.network, tensors, what="Translator network")
        self.network.eval()


def _check_pairs(pairs: Any, what: str) -> list[tuple[str, str]]:
    if pairs is None or isinstance(pairs, (str, bytes)):
        raise TypeError(f"{what}: expected a list of (source, target) string pairs, got {type(pairs).__name__}")
    out = []
    for i, pair in enumerate(pairs):
        if not (isinstance(pair, (tuple, list)) and len(pair) == 2 and all(isinstance(s, str) for s in pair)):
            raise TypeError(f"{what}[{i}]: expected a (source, target) pair of strings, got {pair!r}")
        out.append((pair[0], pair[1]))
    if not out:
        raise ValueError(f"{what}: expected at least one pair, got none")
    return out


__all__ = ["METHODS", "Translator"]
