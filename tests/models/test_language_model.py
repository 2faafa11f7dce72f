"""The recurrent language model: contiguous batching through the Trainer, regularisers, generation."""

from __future__ import annotations

import math

import pytest
import torch

from rnnkit import Trainer
from rnnkit.data.streams import StreamBatches, evaluation_batch
from rnnkit.metrics.language import language_scores, stream_nll
from rnnkit.models.language_model import RecurrentLanguageModel
from rnnkit.models.sampling import sample_next
from rnnkit.training.batches import detach_state

V = 11


def tiny(seed: int = 0, **options) -> RecurrentLanguageModel:
    torch.manual_seed(seed)
    options = {"embedding_size": 6, "hidden_size": 8, "num_layers": 2, "backend": "native", **options}
    return RecurrentLanguageModel(V, **options).double()


def test_windows_with_carried_state_equal_one_long_pass():
    model = tiny().eval()
    stream = torch.randint(V, (91,))
    batch = evaluation_batch(stream, 3, 7)
    with torch.no_grad():
        full, _ = model(batch["inputs"])
    pieces, state = [], None
    for start, stop in batch["windows"]:
        logits, state = model(batch["inputs"][:, start:stop], state)
        pieces.append(logits)
    torch.testing.assert_close(torch.cat(pieces, 1), full)
    # validation_step reads the stream the same way: its NLL is the long pass's.
    nll = torch.nn.functional.cross_entropy(full.flatten(0, 1), batch["targets"].flatten(), reduction="sum")
    assert model.validation_step(batch)["loss"] == pytest.approx(float(nll) / batch["targets"].numel(), rel=1e-12)


def test_trainer_carries_the_state_across_windows_and_detaches_it():
    ids = torch.randint(V, (120,), generator=torch.Generator().manual_seed(1))
    data = StreamBatches(ids, batch_size=4, bptt=9)
    windows = next(iter(data))["windows"]
    trained = tiny(3)
    Trainer(max_steps=len(windows), tbptt_steps=1, optimizer="sgd", lr=0.5, shuffle=False, progress_bar=False,
            device="cpu").fit(trained, data)
    # The definition: one SGD step per window, the state passed on and cut from the graph.
    manual = tiny(3)
    optimizer = torch.optim.SGD(manual.parameters(), lr=0.5)
    batch, state = next(iter(data)), None
    for start, stop in windows:
        window = {"inputs": batch["inputs"][:, start:stop], "targets": batch["targets"][:, start:stop],
                  "windows": ((0, stop - start),)}
        out, state = manual.training_step(window, state)
        optimizer.zero_grad()
        out["loss"].backward()
        optimizer.step()
        state = detach_state(state)
    for (name, a), b in zip(trained.named_parameters(), manual.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-12, msg=name)
    # Resetting the state at every window instead gives different weights: the carry matters.
    reset = tiny(3)
    optimizer = torch.optim.SGD(reset.parameters(), lr=0.5)
    for start, stop in windows:
        window = {"inputs": batch["inputs"][:, start:stop], "targets": batch["targets"][:, start:stop],
                  "windows": ((0, stop - start),)}
        optimizer.zero_grad()
        reset.training_step(window, None)[0]["loss"].backward()
        optimizer.step()
    assert (reset.layers[0].cells.l0.weight_hh - trained.layers[0].cells.l0.weight_hh).abs().max() > 1e-6


def test_perplexity_of_a_model_that_always_predicts_a_fixed_distribution():
    model = tiny(tie_weights=False).eval()
    p = torch.tensor([0.3, 0.2, 0.1, 0.1, 0.05, 0.05, 0.05, 0.05, 0.04, 0.03, 0.03], dtype=torch.float64)
    with torch.no_grad():
        model.decoder.weight.zero_()
        model.decoder.bias.copy_(p.log())
    stream = torch.tensor([0, 1, 0, 2, 10, 0, 0, 1, 3, 4, 9])
    nll, n = stream_nll(model, stream, batch_size=1, bptt=4)
    # By hand: every token but the first is scored with p.
    targets = stream[1:].tolist()
    expected = -sum(math.log(p[t]) for t in targets)
    assert n == 10 and nll == pytest.approx(expected, rel=1e-12)
    scores = language_scores(nll, n, characters=20)
    assert scores["perplexity"] == pytest.approx(math.exp(expected / 10), rel=1e-12)
    assert scores["bpc"] == pytest.approx(expected / 20 / math.log(2), rel=1e-12)


def test_weight_tying_shares_the_matrix_and_sizes_the_last_layer():
    model = tiny(tie_weights=True)
    assert model.decoder.weight is model.embedding.weight
    assert model.layers[-1].hidden_size == 6 and model.layers[0].hidden_size == 8
    untied = tiny(tie_weights=False)
    assert untied.decoder.weight is not untied.embedding.weight and untied.layers[-1].hidden_size == 8


def test_regularisers_act_in_training_only():
    options = {"embedding_dropout": 0.3, "input_dropout": 0.3, "hidden_dropout": 0.3, "output_dropout": 0.3,
               "weight_dropout": 0.5}
    model = tiny(**options)
    plain = tiny()  # the same weights (same seed), no regularisers
    tokens = torch.randint(V, (2, 12))
    model.eval()
    plain.eval()
    torch.testing.assert_close(model(tokens)[0], plain(tokens)[0])
    model.train()
    torch.manual_seed(0)
    a = model(tokens)[0]
    torch.manual_seed(1)
    b = model(tokens)[0]
    assert (a - b).abs().max() > 1e-3
    assert model.layers[0].backend == "native"  # DropConnect keeps PyTorch's fused kernel


def test_activation_regularisers_add_to_the_loss():
    batch = evaluation_batch(torch.randint(V, (60,)), 2, 10)
    plain, _ = tiny().training_step(batch)
    regularised, _ = tiny(activation_regularization=2.0, temporal_activation_regularization=1.0).training_step(batch)
    assert float(regularised["nll"]) == pytest.approx(float(plain["nll"]))
    assert float(regularised["loss"].detach()) > float(plain["loss"].detach()) + 1e-6


def test_generate_is_reproducible_and_equals_the_step_by_step_loop():
    model = tiny(5).eval()
    prompt = [1, 4, 2]
    options = {"temperature": 0.9, "top_k": 8, "top_p": 0.95}
    first = model.generate(prompt, 25, generator=torch.Generator().manual_seed(7), **options)
    again = model.generate(prompt, 25, generator=torch.Generator().manual_seed(7), **options)
    other = model.generate(prompt, 25, generator=torch.Generator().manual_seed(8), **options)
    assert first == again and first != other
    # By hand: every token (prompt included) through each layer's Recurrent.step.
    generator, state, tokens = torch.Generator().manual_seed(7), None, []
    for token in prompt:
        logits, state = model.step(torch.tensor([token]), state)
    for _ in range(25):
        token = sample_next(logits, generator=generator, **options)
        tokens.append(int(token))
        x = model.embedding(token)
        layer_states = []
        for index, layer in enumerate(model.layers):
            x, s = layer.step(x, state[index])
            layer_states.append(s)
        logits, state = model.decoder(x), layer_states
    assert tokens == first


def test_generation_continues_from_the_yielded_state():
    model = tiny(2).eval()
    generator = torch.Generator().manual_seed(3)
    long = model.generate([3], 20, generator=generator)
    generator = torch.Generator().manual_seed(3)
    stream = model.stream_tokens([3], 10, generator=generator)
    head = [next(stream) for _ in range(10)]
    last, state = head[-1]
    tail = model.generate([last], 10, generator=generator, state=state)
    assert [t for t, _ in head] + tail == long


def test_generation_errors():
    model = tiny()
    with pytest.raises(ValueError, match="prompt: expected at least one"):
        model.generate([], 3)
    with pytest.raises(ValueError, match=r"prompt: token ids must lie in \[0, 11\)"):
        model.generate([11], 3)
    with pytest.raises(ValueError, match="temperature"):
        model.generate([1], 3, temperature=-1.0)
    with pytest.raises(ValueError, match="top_p"):
        model.generate([1], 3, top_p=0.0)
