"""Metrics wrapping the field's libraries (seqeval, scikit-learn)."""
