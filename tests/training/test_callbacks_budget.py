"""TimeBudget: the shared wall-time stop the classify and transcribe apps use."""

from __future__ import annotations

from types import SimpleNamespace

from rnnkit.training.callbacks import TimeBudget


def test_time_budget_stops_at_epoch_end_and_within_an_epoch_only_when_asked():
    spent = TimeBudget(0.0)
    spent.start -= 1.0
    trainer = SimpleNamespace(should_stop=False)
    spent.on_step_end(trainer, 1, {})
    assert not trainer.should_stop  # epoch-end only by default
    spent.on_epoch_end(trainer, 0, {})
    assert trainer.should_stop
    inside = TimeBudget(0.0, within_epoch=True)
    inside.start -= 1.0
    trainer = SimpleNamespace(should_stop=False)
    inside.on_step_end(trainer, 1, {})
    assert trainer.should_stop
    unlimited = TimeBudget(None, within_epoch=True)
    unlimited.start -= 1e6
    assert not unlimited.expired()
