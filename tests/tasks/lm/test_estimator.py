"""LanguageModel: fit, perplexity, generate, save / load, and its bad inputs."""

from __future__ import annotations

import math
import warnings
from collections import Counter

import pytest
import torch

import rnnkit
from rnnkit.data.streams import CorpusError
from rnnkit.tasks.lm import LanguageModel

TEXT = "the cat sat on the mat.\nthe dog sat on the log.\n" * 40
TINY = {"embedding_size": 8, "hidden_size": 16, "num_layers": 1, "batch_size": 4, "bptt": 12, "max_steps": 120,
        "max_epochs": 10, "lr": 2e-2, "cell_options": {"backend": "native"}}


@pytest.fixture(scope="module")
def fitted():
    return LanguageModel(**TINY).fit(TEXT, val_text=TEXT[:300])


def test_fit_learns_something_and_scores_are_consistent(fitted):
    scores = fitted.evaluate(TEXT[:400])
    counts = Counter(TEXT)
    unigram = math.exp(-sum(c / len(TEXT) * math.log(c / len(TEXT)) for c in counts.values()))
    assert scores["perplexity"] < 0.8 * unigram  # it uses the context: better than character frequencies
    assert scores["bpc"] == pytest.approx(scores["bits_per_token"], rel=0.02)  # char level: a token is a character
    assert fitted.perplexity(TEXT[:400]) == pytest.approx(scores["perplexity"])
    assert "val_loss" in fitted.training_log_[-1]


def test_generate_is_reproducible_from_a_seed(fitted):
    a = fitted.generate("the ", 40, temperature=0.8, seed=3)
    assert a == fitted.generate("the ", 40, temperature=0.8, seed=3)
    assert a != fitted.generate("the ", 40, temperature=0.8, seed=4)
    assert len(a) == 40
    assert "".join(fitted.stream("the ", 40, temperature=0.8, seed=3)) == a


def test_temperature_zero_is_greedy_and_deterministic(fitted):
    greedy = fitted.generate("the c", 20, temperature=0)
    assert greedy == fitted.generate("the c", 20, temperature=0, seed=99)  # no randomness at all
    network, tok = fitted.network, fitted.tokenizer_
    ids = tok.encode("the c")
    with torch.no_grad():
        logits, _state = network(ids.unsqueeze(0))
        token = int(logits[0, -1].argmax())
    assert greedy[0] == tok.token_text(token)


def test_save_load_generate(fitted, tmp_path):
    fitted.save(tmp_path / "model")
    loaded = rnnkit.load(tmp_path / "model")
    assert isinstance(loaded, LanguageModel)
    assert (tmp_path / "model" / "tokenizer.json").is_file()
    assert loaded.generate("the ", 30, seed=1) == fitted.generate("the ", 30, seed=1)
    assert loaded.perplexity(TEXT[:200]) == pytest.approx(fitted.perplexity(TEXT[:200]), rel=1e-9)
    assert loaded.network.decoder.weight is loaded.network.embedding.weight


def test_out_of_vocabulary_prompt_is_read_as_unknown_with_a_warning(fitted):
    with pytest.warns(UserWarning, match=r"2 token\(s\) are not in the model's vocabulary and were read as <unk>"):
        text = fitted.generate("the Z#", 5, seed=0)
    assert fitted.last_unknown_ == 2 and len(text) == 5
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fitted.generate("", 5, seed=0)  # an empty prompt starts after a line break, no warning


def test_word_level_model_and_its_unknown_words():
    lm = LanguageModel(**{**TINY, "level": "word", "max_steps": 5, "bptt": 5}).fit(TEXT)
    assert lm.tokenizer_.vocab_size == 9  # the cat sat on mat. dog log. + <eos> + <unk>
    with pytest.warns(UserWarning, match="1 token"):
        lm.generate("the zebra", 3, seed=0)
    scores = lm.evaluate("the cat sat on the zebra .\n")
    assert scores["unknown"] == 2.0  # "zebra" and "." are not words of the training text


@pytest.mark.parametrize("options, match", [
    ({"temperature": -1.0}, "temperature"), ({"top_p": 0.0}, "top_p"), ({"top_p": 1.01}, "top_p"),
    ({"top_k": 0}, "top_k"),
])
def test_bad_sampling_settings(fitted, options, match):
    with pytest.raises(ValueError, match=match):
        fitted.generate("the", 5, **options)


def test_bad_corpora():
    with pytest.raises(CorpusError, match="empty"):
        LanguageModel(**TINY).fit("")
    with pytest.raises(CorpusError, match="shorter than one BPTT window"):
        LanguageModel(**TINY).fit("a short text")
    with pytest.raises(TypeError, match="unknown option"):
        LanguageModel(hiden_size=3)
    with pytest.raises(ValueError, match="level"):
        LanguageModel(level="byte")
    with pytest.raises(RuntimeError, match="fit"):
        LanguageModel().generate("x")


def test_nt_asgd_starts_averaging_when_validation_stalls():
    from rnnkit.tasks.lm.estimator import NTAverage

    net = torch.nn.Linear(1, 1, bias=False)
    averaging = NTAverage(net, patience=2)
    for epoch, loss in enumerate([5.0, 4.0, 3.0, 3.5]):  # 3.5 is not worse than min(5): no trigger
        averaging.on_epoch_end(None, epoch, {"val_loss": loss})
    assert averaging.average is None
    averaging.on_epoch_end(None, 4, {"val_loss": 4.5})  # worse than min(5, 4), the losses > 2 epochs old
    assert averaging.triggered_at == 4
    seen = [float(net.weight.detach())]
    for step, value in enumerate([1.0, 2.0, 6.0]):
        with torch.no_grad():
            net.weight.fill_(value)
        averaging.on_step_end(None, step, {})
        seen.append(value)
    averaging.apply()
    assert float(net.weight.detach()) == pytest.approx(sum(seen) / len(seen))


def test_word_level_generation_spells_lines():
    lm = LanguageModel(**{**TINY, "level": "word", "max_steps": 40, "bptt": 5}).fit(TEXT)
    text = lm.generate("", 40, seed=2, temperature=0.5)
    assert not text.startswith(" ") and "\n " not in text and "  " not in text
    assert set(text.split()) <= set(TEXT.split())


def test_learning_rate_decay_follows_the_epoch_schedule():
    lm = LanguageModel(**{**TINY, "max_steps": None, "max_epochs": 3, "lr_decay": 0.5, "lr_decay_after": 1}).fit(TEXT)
    assert [row["lr"] for row in lm.training_log_] == pytest.approx([2e-2, 1e-2, 5e-3])
    constant = LanguageModel(**{**TINY, "max_steps": None, "max_epochs": 2}).fit(TEXT)
    assert [row["lr"] for row in constant.training_log_] == pytest.approx([2e-2, 2e-2])


def test_a_time_budget_stops_inside_the_single_batch_epoch():
    # the whole stream is one Trainer batch per epoch: the budget must act between its windows
    lm = LanguageModel(**{**TINY, "max_steps": None, "max_epochs": 5, "max_seconds": 1e-9}).fit(TEXT, TEXT[:300])
    assert lm.steps_ == 1
    assert "val_loss" in lm.training_log_[-1]  # the stopped epoch is still validated


@pytest.mark.parametrize("options, match", [
    ({"lr_decay": 0.0}, "lr_decay: expected a factor"), ({"lr_decay": 1.5}, "lr_decay: expected a factor"),
    ({"lr_decay": 0.5}, "lr_decay_after=N or lr_decay_on_plateau"), ({"max_seconds": 0}, "max_seconds"),
])
def test_bad_schedule_options(options, match):
    with pytest.raises(ValueError, match=match):
        LanguageModel(**options)


def test_plateau_decay_needs_validation_text():
    with pytest.raises(ValueError, match="val_text"):
        LanguageModel(**{**TINY, "lr_decay": 0.5, "lr_decay_on_plateau": True}).fit(TEXT)
