"""The Trainer's epoch lines: one per epoch, but at most one per EPOCH_LINE_SECONDS."""

from __future__ import annotations

from rnnkit import Trainer
from rnnkit.training import trainer as trainer_module
from tests.training_helpers import LinearModel, linear_data


def epoch_lines(capsys) -> list[str]:
    captured = capsys.readouterr()
    text = (captured.out + "\n" + captured.err).replace("\r", "\n")
    return [line for line in text.splitlines() if "epoch=" in line]


def test_one_batch_epochs_print_first_last_and_throttled_lines(capsys, monkeypatch):
    model, data = LinearModel(), linear_data(8)
    Trainer(max_epochs=30, batch_size=8, progress_bar=True, plot=False).fit(model, data, data)
    lines = epoch_lines(capsys)
    # 30 one-batch epochs in well under 5 s: the first and the last epoch only (was 30 lines).
    assert len(lines) == 2 and "epoch=0 " in lines[0] and "epoch=29 " in lines[1]
    monkeypatch.setattr(trainer_module, "EPOCH_LINE_SECONDS", 0.0)
    Trainer(max_epochs=5, batch_size=8, progress_bar=True, plot=False).fit(model, data, data)
    lines = epoch_lines(capsys)
    assert len(lines) == 5  # with no time limit, every epoch
    Trainer(max_epochs=None, max_steps=7, batch_size=8, progress_bar=True, plot=False).fit(model, data)
    lines = epoch_lines(capsys)
    assert "epoch=6 " in lines[-1]  # a run ended by max_steps prints its last epoch
