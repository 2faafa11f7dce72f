"""Synthetic tasks with known answers, registered for ``rnnkit train --config`` (``task: recall``).

Each task is a ``TaskSetup`` builder (:func:`rnnkit.tasks.register_task`); its network lives in
:mod:`rnnkit.models` (``RecurrentRegressor``).
"""

from rnnkit.tasks.synthetic.recall import RecallConfig, build_recall, make_recall_data

__all__ = ["RecallConfig", "build_recall", "make_recall_data"]
