"""``rnnkit lm``: language models on the shared app contract.

Train = fit a recurrent language model on the training stream with truncated BPTT (state
carried across windows); evaluate = perplexity and bits per character on the held-out stream
for the model and a Kneser–Ney n-gram fitted on the same training text with the same vocabulary,
both scored on exactly the same target tokens by :mod:`rnnkit.metrics.language`, then a sample;
predict (alias ``generate``) = stream sampled text from a saved model.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from typing import Any

from rnnkit.tasks.framework.app import Application, Report, RunContext
from rnnkit.tasks.lm.config import LMAppConfig
from rnnkit.tasks.lm.data import LMData


class LanguageModelApp(Application):
    """Character-, word- or BPE-level recurrent language models against a Kneser–Ney n-gram."""

    name = "lm"
    serving = "rnnkit.tasks.lm.serving:GenerateRequest"
    summary = "Train a recurrent language model (char, word or BPE) against a Kneser-Ney n-gram, then sample."
    config_class = LMAppConfig
    extra = "lm"

    def run_name(self, config: LMAppConfig) -> str:
        return super().run_name(config) if config.data else (config.dataset or "bible")

    def load_data(self, config: LMAppConfig) -> LMData:
        from rnnkit.tasks.lm.data import load_bible, load_file_corpus, load_ptb

        if config.data:
            return load_file_corpus(config.data, config.valid_data, config.test_data, config.valid_fraction,
                                    config.test_fraction, str(config.chosen("level")))
        return load_ptb() if config.dataset == "ptb" else load_bible()

    def build(self, config: LMAppConfig, data: LMData) -> Any:
        from rnnkit.tasks.lm.estimator import LanguageModel

        c = config.chosen
        return LanguageModel(
            level=str(c("level")), cell=config.cell,
            embedding_size=c("embedding_size"), hidden_size=c("hidden_size"), num_layers=c("num_layers"),
            tie_weights=c("tie_weights"), embedding_dropout=config.embedding_dropout,
            input_dropout=config.input_dropout, hidden_dropout=config.hidden_dropout,
            output_dropout=config.output_dropout, weight_dropout=config.weight_dropout,
            activation_regularization=config.activation_regularization,
            temporal_activation_regularization=config.temporal_activation_regularization,
            batch_size=c("batch_size"), bptt=c("bptt"), variable_bptt=config.variable_bptt,
            eval_batch_size=config.eval_batch_size, optimizer=c("optimizer"), lr=c("lr"),
            clip_grad_norm=c("clip_grad_norm") or None, max_steps=c("max_steps"), max_epochs=c("max_epochs"),
            max_seconds=None if config.max_minutes is None else 60.0 * config.max_minutes,
            lr_decay=config.lr_decay, lr_decay_after=config.lr_decay_after if config.lr_decay < 1 else None,
            lr_decay_on_plateau=config.lr_decay_on_plateau and config.lr_decay < 1,
            max_vocab=config.max_vocab, bpe_vocab_size=config.bpe_vocab_size, seed=config.seed,
            device=config.device, progress=config.progress,
            cell_options={} if config.backend == "auto" else {"backend": config.backend},
        )

    def fit(self, estimator: Any, data: LMData, config: LMAppConfig, context: RunContext) -> None:
        estimator.extra_callbacks = list(context.callbacks)
        if context.verbose:
            print(f"rnnkit lm: {data.description}", flush=True)
            print(f"training a {estimator.config.num_layers}x{estimator.config.hidden_size} {estimator.config.cell} "
                  f"({estimator.config.level} level) ...", flush=True)
        estimator.fit(data.train, data.valid or None)

    def evaluate(self, estimator: Any, data: LMData, config: LMAppConfig, context: RunContext) -> Report:
        import numpy as np

        from rnnkit.metrics.language import language_scores, scored_positions
        from rnnkit.tasks.lm.baselines import KneserNeyLM

        cfg = estimator.config
        tokenizer = estimator.tokenizer_
        # Phase: the recurrent model on the whole test stream, the state carried.
        start = time.perf_counter()
        scores = estimator.evaluate(data.test)
        eval_seconds = time.perf_counter() - start
        tokens_per_s = estimator.train_tokens_ / max(estimator.fit_seconds_, 1e-9)
        model_name = f"rnnkit {cfg.num_layers}x{cfg.hidden_size} {cfg.cell}"
        columns = self._columns(cfg.level, scores)
        columns.update({"train seconds": estimator.fit_seconds_, "train tokens/s": tokens_per_s})
        metrics = {model_name: columns}

        # Phase: the n-gram baseline on the same training ids, scored on the same targets.
        order = int(config.chosen("ngram_order"))
        test_ids = tokenizer.encode(data.test)
        rows = min(cfg.eval_batch_size, test_ids.numel() // 2)
        positions = scored_positions(test_ids.numel(), rows).numpy()
        start = time.perf_counter()
        ngram = KneserNeyLM(order, vocab_size=tokenizer.vocab_size).fit(tokenizer.encode(data.train).numpy())
        nll, count = ngram.stream_nll(test_ids.numpy(), positions)
        characters = tokenizer.characters(data.test) * count / test_ids.numel()
        ngram_scores = language_scores(nll, count, max(1, round(characters)))
        baseline = self._columns(cfg.level, ngram_scores)
        baseline.update({"train seconds": time.perf_counter() - start, "train tokens/s": float("nan")})
        metrics[f"Kneser-Ney {order}-gram"] = baseline
        uniform = language_scores(float(np.log(tokenizer.vocab_size)) * count, count, max(1, round(characters)))
        metrics["uniform"] = self._columns(cfg.level, uniform)

        primary = "test bpc" if cfg.level == "char" else "test perplexity"
        sections: dict[str, str] = {}
        sample = ""
        if config.sample_tokens:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                sample = estimator.generate(config.prompt, config.sample_tokens, temperature=config.temperature,
                                            top_k=config.top_k, top_p=config.top_p, seed=config.seed)
            note = "".join(f"\n\n({w.message})" for w in caught)
            sections[f"sample (temperature {config.temperature}, seed {config.seed})"] = (
                f"```\n{config.prompt}{sample}\n```{note}")
        notes = [
            data.description + ".",
            f"Both models are scored on the same {count:,} test tokens (the test stream in {rows} contiguous rows, "
            f"state carried); {int(scores['unknown'])} test tokens are outside the training vocabulary "
            f"({tokenizer.vocab_size:,} tokens) and count as <unk>.",
            f"Trained for {estimator.steps_} windows of ~{cfg.bptt} steps x {cfg.batch_size} streams "
            f"({estimator.fit_seconds_:.0f} s); test scoring took {eval_seconds:.0f} s.",
        ]
        return Report(metrics, primary=primary, higher_is_better=False, sections=sections, notes=notes,
                      extra={"sample": sample, "training_log": estimator.training_log_,
                             "scored_tokens": count, "vocab_size": tokenizer.vocab_size})

    @staticmethod
    def _columns(level: str, scores: dict[str, float]) -> dict[str, float]:
        columns = {"test perplexity": scores["perplexity"], "test bits/token": scores["bits_per_token"]}
        if level != "word" or "bpc" in scores:
            columns["test bpc"] = scores["bpc"]
        return columns


    def add_predict_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--prompt", default="", help="text to start from (default: a line break)")
        parser.add_argument("--max-tokens", type=int, default=200, help="tokens to sample")
        parser.add_argument("--temperature", type=float, default=0.8,
                            help="divides the logits; 0 = greedy (the most probable token every step)")
        parser.add_argument("--top-k", type=int, default=None, help="sample among the k most probable tokens")
        parser.add_argument("--top-p", type=float, default=None,
                            help="nucleus sampling: the most probable tokens up to this probability, in (0, 1]")
        parser.add_argument("--seed", type=int, default=0, help="seed of the sampling (the same seed, the same text)")

    def predict(self, estimator: Any, args: argparse.Namespace) -> int:
        from rnnkit.models.sampling import check_sampling
        from rnnkit.tasks.framework.cli import CLIError

        if args.max_tokens < 0:
            raise CLIError(f"--max-tokens: expected a non-negative integer, got {args.max_tokens}")
        try:
            check_sampling(args.temperature, args.top_k, args.top_p)
        except ValueError as error:
            raise CLIError(f"--{str(error).replace('_', '-')}") from None
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            pieces = estimator.stream(args.prompt, args.max_tokens, temperature=args.temperature, top_k=args.top_k,
                                      top_p=args.top_p, seed=args.seed)
            sys.stdout.write(args.prompt)
            for piece in pieces:  # streamed: each token is printed as soon as it is sampled
                sys.stdout.write(piece)
                sys.stdout.flush()
            sys.stdout.write("\n")
        for warning in caught:
            print(f"note: {warning.message}", file=sys.stderr)
        return 0


APP = LanguageModelApp()
