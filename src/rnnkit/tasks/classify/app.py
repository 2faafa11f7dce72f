"""``rnnkit classify``: text and sequence classification on the shared app contract.

Train = for each evaluation fold, fit a fresh classifier on the fold's training part (10 % of it
held out to pick the best epoch) and predict its test part; evaluate = the baselines on the same
folds, accuracy and macro-F1 as mean ± standard deviation over folds, a confusion matrix of all
folds' test predictions and the first fold's training curves; predict = a saved model on
``--text`` or a ``--data`` file, with ``--explain`` for per-token attention weights.

The saved ``model/`` is the first fold's model (trained on that fold's training part), so what
``predict`` runs is a model whose test score is in the table.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

import numpy as np

from rnnkit.tasks.classify.config import ClassifyAppConfig, resolved
from rnnkit.tasks.classify.data import ClassifyData, load_classify_data
from rnnkit.tasks.framework.app import Application, Report, RunContext


def _subset(values: list, indices: np.ndarray) -> list:
    return [values[i] for i in indices]


def _summary(rows: list[dict[str, float]], seconds: list[float]) -> dict[str, float]:
    accuracy = np.array([r["accuracy"] for r in rows]) * 100
    macro = np.array([r["macro_f1"] for r in rows]) * 100
    return {"accuracy %": float(accuracy.mean()), "± std": float(accuracy.std(ddof=1)) if len(rows) > 1 else 0.0,
            "macro-F1 %": float(macro.mean()), "seconds/fold": float(np.mean(seconds))}


class ClassifyApp(Application):
    """Text and sequence classification with a bidirectional recurrent network against baselines."""

    name = "classify"
    serving = "rnnkit.tasks.classify.serving:ClassifyRequest"
    summary = "Classify texts (sentiment) or numeric sequences with a bidirectional recurrent network."
    config_class = ClassifyAppConfig
    extra = "text"

    def run_name(self, config: ClassifyAppConfig) -> str:
        return super().run_name(config) if config.data else config.dataset

    def load_data(self, config: ClassifyAppConfig) -> ClassifyData:
        from rnnkit.data.fetch import FetchError
        from rnnkit.data.text import TextDataError
        from rnnkit.tasks.framework.cli import CLIError

        folds = resolved(config, "folds", 1)
        try:
            return load_classify_data(config.replace(folds=folds))
        except (TextDataError, FetchError) as error:
            raise CLIError(f"--data: {error}" if config.data else str(error)) from None
        except ValueError as error:  # one class only, a class smaller than the folds
            raise CLIError(f"--label-col: {error}") from None

    def build(self, config: ClassifyAppConfig, data: ClassifyData) -> Any:
        from rnnkit.tasks.classify.estimator import SequenceClassifier, TextClassifier

        options = dict(
            cell=config.cell, hidden_size=resolved(config, "hidden_size", 128), num_layers=config.num_layers,
            embedding_dim=resolved(config, "embedding_dim", 128), pooling=resolved(config, "pooling", "max"),
            dropout=resolved(config, "dropout", 0.5), embedding_dropout=config.embedding_dropout,
            multi_label=config.multi_label, label_sep=config.label_sep, class_weights=config.class_weights,
            batch_size=resolved(config, "batch_size", 50), max_epochs=resolved(config, "max_epochs", 8),
            lr=resolved(config, "lr", 3e-3), patience=resolved(config, "patience", 3),
            val_fraction=resolved(config, "val_fraction", 0.1),
            time_budget=resolved(config, "time_budget", None), seed=config.seed, progress=config.progress,
            device=config.device, ensemble=config.ensemble,
        )
        if data.kind == "sequence":
            return SequenceClassifier(embedding_dropout=0.0, **{k: v for k, v in options.items()
                                                               if k != "embedding_dropout"})
        return TextClassifier(tokenizer=config.tokenizer, vocab_size=config.vocab_size,
                              min_frequency=config.min_frequency, pretrained_vectors=config.pretrained_vectors,
                              word_dropout=config.word_dropout, **options)

    def fit(self, estimator: Any, data: ClassifyData, config: ClassifyAppConfig, context: RunContext) -> None:
        data.fold_results = []
        for k, (train, test) in enumerate(data.folds):
            model = estimator if k == 0 else type(estimator).from_config(estimator.get_config())
            model.extra_callbacks = list(context.callbacks)
            start = time.perf_counter()
            model.fit(_subset(data.inputs, train), _subset(data.labels, train))
            seconds = time.perf_counter() - start
            test_x, test_y = _subset(data.inputs, test), _subset(data.labels, test)
            scores = model.evaluate(test_x, test_y)
            data.fold_results.append({"scores": scores, "seconds": seconds, "targets": model._targets(test_y).numpy(),
                                      "probs": model.predict_proba(test_x), "classes": model.classes_,
                                      "history": model.history_})
            if context.verbose:
                print(f"fold {k + 1}/{len(data.folds)}: accuracy {scores['accuracy']:.2%} "
                      f"({seconds:.0f} s, {len(model.history_)} epochs)", flush=True)

    def evaluate(self, estimator: Any, data: ClassifyData, config: ClassifyAppConfig, context: RunContext) -> Report:
        from rnnkit.metrics.classification import classification_scores, confusion
        from rnnkit.tasks.classify.baselines import NAMES, SEQUENCE_BASELINES, TEXT_BASELINES, fit_predict_proba

        if not data.fold_results:
            # `rnnkit classify evaluate --model DIR`: the saved model is fold 1's, so only fold 1's test
            # part is unseen by it; score it (and the baselines) there.
            data.folds = data.folds[:1]
            test = data.folds[0][1]
            data.fold_results = [{"scores": estimator.evaluate(_subset(data.inputs, test), _subset(data.labels, test)),
                                  "seconds": float("nan")}]
        model_name = f"rnnkit {estimator.cell} ({estimator.pooling} pooling)"
        if estimator.ensemble > 1:
            model_name += f", ensemble of {estimator.ensemble}"
        metrics = {model_name: _summary([r["scores"] for r in data.fold_results],
                                        [r["seconds"] for r in data.fold_results])}
        names = config.baselines or (SEQUENCE_BASELINES if data.kind == "sequence" else TEXT_BASELINES)
        if config.multi_label:
            names = ()  # the scikit-learn baselines here are single-label
        for name in names:
            rows, seconds = [], []
            for train, test in data.folds:
                start = time.perf_counter()
                classes = estimator.classes_
                probs = fit_predict_proba(name, _subset(data.inputs, train), _subset(data.labels, train),
                                          _subset(data.inputs, test), classes, seed=config.seed)
                targets = estimator._targets(_subset(data.labels, test)).numpy()
                rows.append(classification_scores(targets, probs, classes))
                seconds.append(time.perf_counter() - start)
            metrics[NAMES[name]] = _summary(rows, seconds)
        plots = {}
        with_predictions = [r for r in data.fold_results if "probs" in r]
        if context.output_dir is not None and with_predictions and not config.multi_label:
            from rnnkit.tasks.classify.plots import plot_confusion, plot_training

            targets = np.concatenate([r["targets"] for r in with_predictions])
            predicted = np.concatenate([r["probs"].argmax(1) for r in with_predictions])
            matrix = confusion(targets, predicted, len(estimator.classes_))
            plots["confusion"] = plot_confusion(matrix, estimator.classes_, context.output_dir / "confusion.png",
                                                title=f"{data.name}: {model_name}, {len(with_predictions)} fold(s)")
            curve = plot_training(with_predictions[0]["history"], context.output_dir / "training_curves.png",
                                  title=f"{data.name}: fold 1")
            if curve is not None:
                plots["training"] = curve
        per_class = {k: v for k, v in data.fold_results[0]["scores"].items() if "/" in k}
        section = "\n".join(f"| {k} | {100 * v:.1f} |" for k, v in per_class.items())
        return Report(
            metrics, primary="accuracy %", higher_is_better=True, plots=plots,
            sections={"per class, fold 1 (%)": f"| score | value |\n|---|---:|\n{section}"},
            notes=[*data.notes, f"Mean ± standard deviation over {len(data.folds)} fold(s); baselines on the same "
                   "folds. model/ is the fold-1 model."],
            extra={"folds": [r["scores"] for r in data.fold_results]},
        )


    # ------------------------------------------------------------------------------- predict
    def add_predict_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--text", action="append", help="a text to classify (repeat for several)")
        parser.add_argument("--data", help="a CSV/TSV/JSONL file of texts (the column --text-col); for a model of "
                                           "numeric sequences, a JSONL file of sequences (see --sequence-col)")
        parser.add_argument("--text-col", default="text", help="the text column of --data (default: text)")
        parser.add_argument("--sequence-col", default="sequence",
                            help="numeric-sequence models: the key of each JSONL line holding its sequence, a "
                                 "list of steps, each a list of channel values (default: sequence)")
        parser.add_argument("--out", help="write the predictions to this CSV (default: print them)")
        parser.add_argument("--explain", action="store_true",
                            help="show per-token attention weights (a model trained with --pooling attention); "
                                 "with --out, also write explain.png beside it")

    def predict(self, estimator: Any, args: argparse.Namespace) -> int:
        from rnnkit.tasks.framework.cli import CLIError

        if getattr(estimator, "kind", "") == "sequence":
            return self._predict_sequences(estimator, args)
        if bool(args.text) == bool(args.data):
            raise CLIError("predict: give --text \"...\" (one or more) or --data FILE, not both or neither")
        if args.data:
            from rnnkit.data.text import TextDataError, read_text_labels

            try:
                texts = read_text_labels(args.data, args.text_col, None, allow_empty_text=True).texts
            except TextDataError as error:
                raise CLIError(f"--data: {error}") from None
        else:
            texts = list(args.text)
        if args.explain:
            return self._explain(estimator, texts, args)
        probs = estimator.predict_proba(texts)
        labels = estimator.predict(texts)
        rows = [(t, lab, float(p.max())) for t, lab, p in zip(texts, labels, probs, strict=True)]
        return _write_predictions(rows, "text", args.out)

    def _predict_sequences(self, estimator: Any, args: argparse.Namespace) -> int:
        """``predict`` for a model of numeric sequences: ``--data`` JSONL, one sequence per line."""
        from rnnkit.data.sequences import read_sequences
        from rnnkit.data.text import TextDataError
        from rnnkit.tasks.framework.cli import CLIError

        if args.text or args.explain or not args.data:
            raise CLIError("--model: this model classifies numeric sequences; give --data FILE.jsonl with one "
                           f"{{\"{args.sequence_col}\": [[channel values of step 1], ...]}} per line "
                           "(--text and --explain are for text models)")
        try:
            sequences, lines = read_sequences(args.data, args.sequence_col)
        except TextDataError as error:
            raise CLIError(f"--data: {error}") from None
        expected = int(estimator.mean_.shape[0])
        if sequences[0].shape[1] != expected:
            raise CLIError(f"--data: the model expects {expected} channel(s) per step, {args.data} has "
                           f"{sequences[0].shape[1]} (line {lines[0]})")
        probs = estimator.predict_proba(sequences)
        labels = estimator.predict(sequences)
        rows = [(line, lab, float(p.max())) for line, lab, p in zip(lines, labels, probs, strict=True)]
        return _write_predictions(rows, "line", args.out)

    def _explain(self, estimator: Any, texts: list[str], args: argparse.Namespace) -> int:
        from rnnkit.tasks.framework.cli import CLIError

        try:
            explained = [estimator.explain(t) for t in texts]
        except ValueError as error:
            raise CLIError(str(error)) from None
        color = sys.stdout.isatty()
        for tokens, weights, label, p in explained:
            print(f"{label} ({p:.3f})")
            shown = []
            for token, w in zip(tokens, weights, strict=True):
                if color:  # background from white to red by weight (256-colour terminals)
                    level = min(5, int(6 * w / max(max(weights), 1e-9)))
                    shown.append(f"\x1b[48;5;{(231, 224, 217, 210, 203, 196)[level]}m{token}\x1b[0m")
                else:
                    shown.append(f"{token}[{w:.2f}]")
            print(" ".join(shown))
        if args.out:
            from pathlib import Path

            from rnnkit.tasks.classify.plots import plot_attention

            tokens, weights, label, p = explained[0]
            path = Path(args.out).with_name("explain.png")
            plot_attention(tokens, weights, path, title=f"{label} ({p:.2f})")
            print(f"wrote {path}")
        return 0


def _write_predictions(rows: list[tuple], first: str, out: str | None) -> int:
    """Rows ``(text or line, label, probability)`` to the CSV ``out``, else printed one per line."""
    if out:
        import csv

        with open(out, "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow([first, "label", "probability"])
            writer.writerows(rows)
        print(f"wrote {out} ({len(rows)} rows)")
    else:
        for item, label, p in rows:
            print(f"{label}\t{p:.3f}\t{item}")
    return 0


APP = ClassifyApp()
