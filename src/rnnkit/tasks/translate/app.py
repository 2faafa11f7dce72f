"""``rnnkit translate``: English->Spanish on the Bible by default, or the user's parallel text.

Train = BPE subwords and the attentional encoder-decoder on the training split (and, as a baseline,
the same network without attention); evaluate = BLEU/chrF (sacrebleu) on the held-out books for
beam search, greedy decoding, the no-attention network and copying the source, decoding speed,
constrained decoding with one reference word per sentence, attention heatmaps; predict = translate
lines from a file or stdin with a saved model.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from rnnkit.tasks.framework.app import Application, Report, RunContext
from rnnkit.tasks.translate.config import TranslateAppConfig
from rnnkit.tasks.translate.data import TranslationData, load_translation_data


def build_translator(config: TranslateAppConfig, **changes: Any):
    """A :class:`Translator` with the app's settings (``changes`` override them)."""
    from rnnkit.tasks.translate.estimator import Translator

    options = dict(
        vocab_size=config.vocab_size, joint_vocab=config.joint_vocab, lowercase=config.lowercase,
        embed_size=config.embed_size, hidden_size=config.hidden_size, cell=config.cell,
        encoder_layers=config.encoder_layers, decoder_layers=config.decoder_layers, attention=config.attention,
        input_feeding=config.input_feeding, dropout=config.dropout, tie_embeddings=config.tie_embeddings,
        label_smoothing=config.label_smoothing, lr=config.lr, batch_size=config.batch_size,
        max_steps=config.max_steps, max_src_len=config.max_len, max_tgt_len=config.max_len, beam=config.beam,
        alpha=config.alpha, seed=config.seed, device=config.device, progress=config.progress,
    )
    options.update(changes)
    return Translator(**options)


def constraint_terms(references: list[str], tokenizer, *, min_chars: int = 5) -> list[list[str]]:
    """One constraint per sentence: the reference's longest word (letters only) that the target
    vocabulary can spell, or none. Used to measure how often constrained decoding places its terms."""
    terms = []
    for reference in references:
        words = sorted({w.strip(".,;:!?¿¡«»“”‘’'\"()") for w in reference.split()}, key=len, reverse=True)
        chosen = [w for w in words if len(w) >= min_chars and w.isalpha() and tokenizer.unk_id not in
                  tokenizer.encode(w)]
        terms.append(chosen[:1])
    return terms


def score_constraints(translator, pairs: list[tuple[str, str]], beam: int) -> dict[str, float]:
    """Constrained beam search with one reference word per sentence: placement rate and BLEU/chrF."""
    from rnnkit.metrics.translation import translation_scores

    terms = constraint_terms([t for _, t in pairs], translator.tgt_tokenizer_)
    start = time.perf_counter()
    outputs = translator.translate([s for s, _ in pairs], beam=beam, constraints=terms)
    seconds = time.perf_counter() - start
    wanted = sum(len(t) for t in terms)
    placed = sum(term in output for output, row in zip(outputs, terms, strict=True) for term in row)
    scores = translation_scores(outputs, [t for _, t in pairs]).as_dict()
    return {**scores, "sentences_per_second": len(pairs) / seconds, "constraints_placed_%":
            100.0 * placed / wanted if wanted else float("nan"), "constraints": float(wanted)}


class TranslateApp(Application):
    """Machine translation with a recurrent encoder-decoder against copy, greedy and no-attention baselines."""

    name = "translate"
    serving = "rnnkit.tasks.translate.serving:TranslateRequest"
    summary = "Translate with an attentional recurrent encoder-decoder (English->Spanish Bible by default)."
    config_class = TranslateAppConfig
    extra = "translate"

    def run_name(self, config: TranslateAppConfig) -> str:
        if config.data or config.src:
            return super().run_name(config) if config.data else "parallel"
        return f"bible-{config.direction}"

    def load_data(self, config: TranslateAppConfig) -> TranslationData:
        return load_translation_data(config)

    def build(self, config: TranslateAppConfig, data: TranslationData) -> Any:
        return build_translator(config)

    def fit(self, estimator: Any, data: TranslationData, config: TranslateAppConfig, context: RunContext) -> None:
        estimator.extra_callbacks = list(context.callbacks)
        if context.verbose:
            print(f"rnnkit translate: {data.description}", file=sys.stderr)
        estimator.fit(data.train, data.dev or None)
        data.baseline_models = {}
        if "no_attention" in config.baselines and config.attention != "none":
            plain = build_translator(config, attention="none")
            data.baseline_models["no_attention"] = plain.fit(data.train, data.dev or None)

    def evaluate(self, estimator: Any, data: TranslationData, config: TranslateAppConfig,
                 context: RunContext) -> Report:
        from rnnkit.metrics.translation import translation_scores

        test = data.test
        beam = config.beam
        metrics: dict[str, dict[str, float]] = {}

        def row(translator, **options) -> dict[str, float]:
            scores = translator.evaluate(test, **options)
            return {**scores, "train_seconds": float(translator.fit_seconds_ or 0.0),
                    "parameters": float(translator.num_parameters)}

        label = f"rnnkit {config.cell} + {config.attention} attention, beam {beam}" if beam > 1 else \
            f"rnnkit {config.cell} + {config.attention} attention, greedy"
        metrics[label] = row(estimator, beam=beam)
        outputs = list(estimator.last_outputs_)
        signatures = dict(estimator.signatures_)
        if "greedy" in config.baselines and beam > 1:
            metrics[f"rnnkit {config.cell} + {config.attention} attention, greedy"] = row(estimator, beam=1)
        if "no_attention" in getattr(data, "baseline_models", {}):
            metrics[f"rnnkit {config.cell}, no attention, beam {beam}"] = row(data.baseline_models["no_attention"],
                                                                             beam=beam)
        if "copy" in config.baselines:
            metrics["copy the source"] = translation_scores([s for s, _ in test], [t for _, t in test]).as_dict()
        constrained = score_constraints(estimator, test[: min(len(test), 100)], beam)
        plots = {}
        if context.output_dir is not None and estimator.network.attention is not None:
            for i, (source, _) in enumerate(test[: config.heatmap_sentences]):
                path = context.output_dir / f"attention_{i}.png"
                estimator.attention_heatmap(source, str(path), beam=beam)
                plots[f"attention_{i}"] = path
        examples = "\n".join(f"- source: {s}\n  - reference: {t}\n  - rnnkit: {o}"
                             for (s, t), o in list(zip(test, outputs, strict=True))[:3])
        constrained_md = (f"One reference word per sentence (its longest spellable word) as a constraint, on "
                          f"{min(len(test), 100)} test sentences, beam {beam}: "
                          f"{constrained['constraints_placed_%']:.1f} % of {int(constrained['constraints'])} "
                          f"terms placed; BLEU {constrained['BLEU']:.2f}, chrF {constrained['chrF']:.2f} "
                          f"(those references' words were given to the decoder, so this is not a fair BLEU).")
        return Report(
            metrics, primary="BLEU", higher_is_better=True, plots=plots,
            sections={"examples": examples, "constrained decoding": constrained_md},
            notes=[data.description, *data.notes,
                   f"sacrebleu signatures: BLEU {signatures['BLEU']}; chrF {signatures['chrF']}",
                   "train_seconds and sentences_per_second are wall-clock on this machine."],
            extra={"constrained": constrained, "signatures": signatures},
        )


    def add_predict_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--input", help="file with one source sentence per line (default: stdin)")
        parser.add_argument("--output", help="write translations here (default: stdout)")
        parser.add_argument("--beam", type=int, help="beam size (1: greedy; default: the model's)")
        parser.add_argument("--n-best", type=int, default=1, help="translations per sentence (tab-separated)")
        parser.add_argument("--constraint", action="append", default=[],
                            help="a target term every translation must contain (repeatable)")
        parser.add_argument("--sample", action="store_true", help="sample instead of searching")
        parser.add_argument("--temperature", type=float, default=1.0, help="sampling temperature")

    def predict(self, estimator: Any, args: argparse.Namespace) -> int:
        if args.input:
            with open(args.input, encoding="utf-8") as handle:
                lines = handle.read().splitlines()
        else:
            lines = sys.stdin.read().splitlines()
        constraints = [list(args.constraint) for _ in lines] if args.constraint else None
        outputs = estimator.translate(lines, beam=args.beam, n_best=args.n_best, constraints=constraints,
                                      method="sample" if args.sample else None, temperature=args.temperature)
        text = "\n".join("\t".join(o) if isinstance(o, list) else o for o in outputs)
        if args.output:
            with open(args.output, "w", encoding="utf-8") as handle:
                handle.write(text + "\n")
            print(f"wrote {args.output} ({len(outputs)} lines)")
        else:
            print(text)
        return 0


APP = TranslateApp()
