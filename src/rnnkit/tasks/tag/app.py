"""``rnnkit tag``: sequence tagging on the shared app contract.

Train = the BiLSTM-CRF (or softmax) tagger on the training split, the best epoch on dev kept;
evaluate = the tagger and the baselines (most frequent tag, feature CRF) on the same test split,
seqeval strict scores with the scheme stated, per-type table and plot; predict = tag raw text or a
CoNLL file and write CoNLL or JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from rnnkit.tasks.framework.app import Application, Report, RunContext
from rnnkit.tasks.tag.config import BIGRAM_DEFAULTS, DEMO_DEFAULTS, TagAppConfig
from rnnkit.tasks.tag.data import TagData

BASELINE_NAMES = {"most_frequent": "most frequent tag", "feature_crf": "feature CRF (crfsuite)"}


class TagApp(Application):
    """Part-of-speech and named-entity tagging with a BiLSTM-CRF against two baselines."""

    name = "tag"
    serving = "rnnkit.tasks.tag.serving:TagRequest"
    summary = "Tag sequences (part of speech, named entities) with a BiLSTM-CRF against baselines."
    config_class = TagAppConfig
    extra = "tag"

    def run_name(self, config: TagAppConfig) -> str:
        from pathlib import Path

        return Path(config.train_file).stem if config.train_file else (config.dataset or "turkish")

    def _defaults(self, config: TagAppConfig) -> dict[str, Any]:
        return {} if config.train_file else DEMO_DEFAULTS[config.dataset or "turkish"]

    def load_data(self, config: TagAppConfig) -> TagData:
        from rnnkit.tasks.tag.data import load_files, load_msra, load_turkish

        if config.train_file:
            data = load_files(config.train_file, config.dev, config.test, column=config.column, scheme=config.scheme)
            if not data.test:
                data.test = data.dev
                data.notes.append("no --test file: the scores are on the dev file, which also chose the epoch")
        elif config.dataset == "msra":
            data = load_msra(train_sentences=config.train_sentences or self._defaults(config)["train_sentences"],
                             test_sentences=config.test_sentences)
        else:
            data = load_turkish(column=config.column)
            if config.train_sentences:
                data.train = data.train[: config.train_sentences]
        if config.test_sentences:
            data.test = data.test[: config.test_sentences]
        if not data.test:
            raise ValueError("test: no test or dev sentences to score (give --test or --dev)")
        return data

    def build(self, config: TagAppConfig, data: TagData) -> Any:
        from rnnkit.tasks.tag.estimator import Tagger

        epochs = config.max_epochs or self._defaults(config).get("max_epochs", 10)
        char_encoder = config.char_encoder if data.tokenizer == "words" else "none"
        bigram_dim = config.bigram_dim if config.bigram_dim is not None \
            else 0 if config.train_file else BIGRAM_DEFAULTS.get(config.dataset or "turkish", 0)
        return Tagger(scheme=data.scheme, head=config.head, cell=config.cell, word_dim=config.word_dim,
                      char_encoder=char_encoder, char_hidden=config.char_hidden, hidden_size=config.hidden_size,
                      num_layers=config.num_layers, dropout=config.dropout, lowercase=config.lowercase,
                      bigram_dim=bigram_dim, word_dropout=config.word_dropout,
                      tokenizer=data.tokenizer, batch_size=config.batch_size, max_epochs=epochs,
                      max_steps=config.max_steps, lr=config.lr, patience=config.patience, seed=config.seed,
                      device=config.device, progress=config.progress)

    def fit(self, estimator: Any, data: TagData, config: TagAppConfig, context: RunContext) -> None:
        estimator.extra_callbacks = list(context.callbacks)
        if context.verbose:
            print(f"rnnkit tag: training on {len(data.train)} sentences "
                  f"({sum(len(s.tokens) for s in data.train):,} tokens), {estimator.settings['max_epochs']} epochs",
                  file=sys.stderr)
        estimator.fit(data.train, dev=data.dev or None)

    def evaluate(self, estimator: Any, data: TagData, config: TagAppConfig, context: RunContext) -> Report:
        from rnnkit.metrics.tagging import per_type_markdown, tagging_scores
        from rnnkit.tasks.tag.baselines import FeatureCRF, MostFrequentTag

        chunks = estimator.scheme_ != "none"
        tokens = [s.tokens for s in data.test]
        gold = [s.tags for s in data.test]
        model_name = f"rnnkit BiLSTM-{'CRF' if estimator.settings['head'] == 'crf' else 'softmax'}"
        start = time.perf_counter()
        predicted = {model_name: estimator.predict_tokens(tokens)}
        seconds = {model_name: (estimator.fit_seconds_, time.perf_counter() - start)}
        for key in config.baselines:
            if key == "most_frequent":
                baseline = MostFrequentTag()
            else:
                baseline = FeatureCRF(max_iterations=config.crf_iterations)
            start = time.perf_counter()
            baseline.fit([s.tokens for s in data.train], [s.tags for s in data.train])
            fitted = time.perf_counter()
            predicted[BASELINE_NAMES[key]] = baseline.predict(tokens)
            seconds[BASELINE_NAMES[key]] = (fitted - start, time.perf_counter() - fitted)
        scores = {name: tagging_scores(gold, tags, estimator.scheme_) for name, tags in predicted.items()}
        metrics: dict[str, dict[str, float]] = {}
        for name, s in scores.items():
            row = {"accuracy %": 100 * s["accuracy"]}
            if chunks:
                row.update({"precision %": 100 * s["precision"], "recall %": 100 * s["recall"], "F1 %": 100 * s["f1"]})
            row.update({"train s": seconds[name][0], "predict s": seconds[name][1]})
            metrics[name] = row
        mine = scores[model_name]
        trained = set(estimator.trained_tags())
        unseen = sum(t not in trained for row in gold for t in row)
        notes = [*data.notes, f"Scores: {mine['method']}."]
        if chunks:
            notes.append(f"Gold test tags hold {mine['invalid_gold']} invalid {estimator.scheme_} transitions "
                         "(scored as conlleval reads them); the model predicted "
                         f"{mine['invalid_predicted']} (the CRF head forbids them).")
        if unseen:
            notes.append(f"{unseen} gold test tokens carry tags never seen in training; no method can predict them.")
        notes.append("Times measured on the machine that ran this (training includes the per-epoch dev check).")
        plots = {}
        path = context.path("per_type_f1.png")
        if path is not None:
            from rnnkit.optional import MissingDependency
            from rnnkit.tasks.tag.plots import plot_per_type

            try:
                plots["per_type_f1"] = plot_per_type({n: s["per_type"] for n, s in scores.items()}, gold,
                                                     predicted[model_name], estimator.scheme_, path,
                                                     title=f"{data.name}: F1 per {'type' if chunks else 'tag'}")
            except MissingDependency as error:
                notes.append(f"no plot: {error}")
        section = f"{model_name}: per {'type' if chunks else 'tag'}"
        return Report(metrics, primary="F1 %" if chunks else "accuracy %", higher_is_better=True, plots=plots,
                      sections={section: per_type_markdown(mine["per_type"])},
                      notes=notes, extra={"scheme": estimator.scheme_, "dataset": data.name,
                                          "invalid_gold": mine["invalid_gold"], "unseen_tag_tokens": unseen,
                                          "per_type": {n: s["per_type"] for n, s in scores.items()},
                                          "training_log": estimator.training_log_})


    def add_predict_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--text", help="one sentence of raw text to tag")
        parser.add_argument("--input", help="a file: raw text (one sentence per line), or .conll/.conllu "
                                            "(first/second column as tokens, tags ignored)")
        parser.add_argument("--input-format", default="auto", choices=("auto", "text", "conll", "conllu"),
                            help="how to read --input (auto: by extension; .txt and others are text)")
        parser.add_argument("--format", default="conll", choices=("conll", "json"),
                            help="conll (token TAB tag) or json (one object per sentence: tokens, tags, spans)")
        parser.add_argument("--output", help="write here instead of printing")

    def predict(self, estimator: Any, args: argparse.Namespace) -> int:
        from pathlib import Path

        from rnnkit.data.conll import read_conllu, read_tokens
        from rnnkit.data.conll import tags_to_spans as spans_of
        from rnnkit.tasks.framework.cli import CLIError
        from rnnkit.tasks.tag.estimator import tokenize

        characters = estimator.settings["tokenizer"] == "characters"
        if bool(args.text) == bool(args.input):
            raise CLIError("predict: give one of --text or --input")
        if args.text:
            sentences = [tokenize(args.text, characters=characters)]
        else:
            path = Path(args.input)
            if not path.is_file():
                raise CLIError(f"--input: {path} does not exist")
            kind = args.input_format
            if kind == "auto":
                by_suffix = {".conll": "conll", ".conllu": "conllu", ".bio": "conll", ".iob": "conll"}
                kind = by_suffix.get(path.suffix, "text")
            if kind == "conllu":
                sentences = [s.tokens for s in read_conllu(path)]
            elif kind == "conll":
                sentences = read_tokens(path)
            else:
                sentences = [tokenize(line, characters=characters)
                             for line in path.read_text(encoding="utf-8").splitlines()]
        tags = estimator.predict_tokens(sentences)
        if args.format == "json":
            lines = []
            for tokens, row in zip(sentences, tags, strict=True):
                item: dict[str, Any] = {"tokens": tokens, "tags": row}
                if estimator.scheme_ != "none":
                    join = "" if characters else " "
                    item["spans"] = [{"type": k, "start": a, "end": b, "text": join.join(tokens[a:b])}
                                     for k, a, b in spans_of(row, estimator.scheme_)[0]]
                lines.append(json.dumps(item, ensure_ascii=False))
            text = "\n".join(lines) + "\n"
        else:
            text = "\n\n".join("\n".join(f"{t}\t{g}" for t, g in zip(tokens, row, strict=True))
                               for tokens, row in zip(sentences, tags, strict=True) if tokens) + "\n"
        if args.output:
            Path(args.output).write_text(text, encoding="utf-8")
            print(f"wrote {args.output} ({len(sentences)} sentences)")
        else:
            sys.stdout.write(text)
        return 0


APP = TagApp()
