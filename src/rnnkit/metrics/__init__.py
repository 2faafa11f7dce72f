"""Scores of every application (layer 6 of docs/design.md), one module per field.

* :mod:`rnnkit.metrics.forecast`: point and probabilistic forecast errors (MAE, RMSE, sMAPE,
  MASE, pinball loss, interval coverage).
* :mod:`rnnkit.metrics.competition`: the forecasting competitions' own measures (M3/Tourism).
* :mod:`rnnkit.metrics.translation`: translation scores.

The other fields' modules wrap their standard libraries (scikit-learn, seqeval, sacrebleu, jiwer)
through :func:`rnnkit.optional.require`, so a missing extra is an error that names it.
"""

from rnnkit.metrics import forecast

__all__ = ["forecast"]
