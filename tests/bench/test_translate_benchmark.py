"""The translation benchmark's JoeyNMT driver: the files it writes are rnnkit's BPE, and its output
detokenises with rnnkit's decoder; the config sizes JoeyNMT's network like rnnkit's."""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path

import pytest

pytest.importorskip("tokenizers")

from rnnkit.data.subwords import train_subword_tokenizer

ROOT = Path(__file__).resolve().parents[2]


def _script():
    spec = importlib.util.spec_from_file_location("translate_bench", ROOT / "benchmarks" / "translate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


TEXTS = ["In the beginning, God created the heavens.", "En el principio creó Dios los cielos."] * 4


def test_bpe_files_round_trip_through_rnnkits_decoder():
    script = _script()
    tok = train_subword_tokenizer(TEXTS, vocab_size=60)
    lines = script.bpe_lines(tok, [TEXTS[0], "God Ж", ""], max_len=None)
    assert lines[0].split() == tok.tokens(TEXTS[0]) and "<unk>" in lines[1].split() and lines[2] == "<unk>"
    assert script.bpe_detokenise(tok, lines[0]) == TEXTS[0]
    assert script.bpe_detokenise(tok, lines[1]) == tok.decode(tok.encode("God Ж"))  # '[UNK]' as rnnkit shows it
    assert script.bpe_lines(tok, [TEXTS[0]], max_len=3)[0].split() == tok.tokens(TEXTS[0])[:3]


def test_short_pairs_and_the_joeynmt_config():
    script = _script()
    pairs = [("a b c", "x y"), ("a", "x y z w")]
    assert script.short_pairs(pairs, 3) == [("a b c", "x y")] and script.short_pairs(pairs, None) == pairs
    args = argparse.Namespace(size=128, max_len=50, seed=0, lr=3e-3, batch_size=32, steps=5000)
    cfg = script.joeynmt_config(Path("/w"), args, beam=5, steps_per_epoch=535)
    enc, dec = cfg["model"]["encoder"], cfg["model"]["decoder"]
    assert enc["hidden_size"] == 64 and enc["bidirectional"] and dec["hidden_size"] == 128
    assert dec["attention"] == "luong" and dec["input_feeding"] and cfg["model"]["tied_softmax"]
    training = cfg["training"]
    assert training["updates"] == 5000 and training["batch_size"] == 32 and cfg["testing"]["beam_size"] == 5
    assert training["validation_freq"] == 550 and training["validation_freq"] % training["logging_freq"] == 0
