"""Baselines of ``rnnkit classify``, run on the same folds as the recurrent model (scikit-learn).

* ``majority``: always the most frequent training class (``DummyClassifier``);
* ``tfidf_lr``: TF-IDF of word 1-2-grams (lower-cased, sublinear term frequency) + logistic
  regression (L2, ``C`` chosen by 5-fold cross-validation on the training split only) — the strong
  linear baseline for sentence polarity (Wang & Manning 2012 report 76-78 % on MR for such models);
* ``stats_lr``: for numeric sequences, per-channel mean, standard deviation, minimum, maximum,
  first and last value and the length, standardised, + logistic regression.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from rnnkit.optional import require

TEXT_BASELINES = ("majority", "tfidf_lr")
SEQUENCE_BASELINES = ("majority", "stats_lr")
NAMES = {"majority": "majority class", "tfidf_lr": "TF-IDF 1-2-grams + LR", "stats_lr": "summary stats + LR"}


def sequence_features(sequences: Sequence[np.ndarray]) -> np.ndarray:
    """Fixed-size features of ``(T_i, F)`` sequences: mean, std, min, max, first, last per channel, and T."""
    rows = []
    for s in sequences:
        s = np.asarray(s, dtype=np.float64)
        rows.append(np.concatenate([s.mean(0), s.std(0), s.min(0), s.max(0), s[0], s[-1], [len(s)]]))
    return np.stack(rows)


def make_baseline(name: str, *, seed: int = 0) -> Any:
    """An unfitted scikit-learn estimator for baseline ``name`` (see the module docstring)."""
    require("sklearn", "text", package="scikit-learn")
    from sklearn.dummy import DummyClassifier
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer, StandardScaler

    if name == "majority":
        return DummyClassifier(strategy="most_frequent")
    if name == "tfidf_lr":
        return make_pipeline(
            TfidfVectorizer(ngram_range=(1, 2), lowercase=True, sublinear_tf=True, min_df=1),
            GridSearchCV(LogisticRegression(max_iter=2000, random_state=seed), {"C": [0.5, 1, 2, 4, 8, 16]}, cv=5),
        )
    if name == "stats_lr":
        return make_pipeline(FunctionTransformer(sequence_features), StandardScaler(),
                             LogisticRegression(C=1.0, max_iter=5000, random_state=seed))
    raise ValueError(f"baselines: unknown baseline {name!r}; expected one of {sorted(NAMES)}")


def fit_predict_proba(name: str, train_x: list, train_y: list, test_x: list, classes: list, *, seed: int = 0
                      ) -> np.ndarray:
    """Fit baseline ``name`` on the training split; its ``(n_test, C)`` probabilities in ``classes`` order."""
    model = make_baseline(name, seed=seed)
    model.fit(train_x if name != "majority" else np.zeros((len(train_x), 1)), [str(v) for v in train_y])
    probs = model.predict_proba(test_x if name != "majority" else np.zeros((len(test_x), 1)))
    known = [str(c) for c in model.classes_]
    out = np.zeros((len(test_x), len(classes)))
    for j, c in enumerate(classes):
        if str(c) in known:
            out[:, j] = probs[:, known.index(str(c))]
    return out


__all__ = ["NAMES", "SEQUENCE_BASELINES", "TEXT_BASELINES", "fit_predict_proba", "make_baseline", "sequence_features"]
