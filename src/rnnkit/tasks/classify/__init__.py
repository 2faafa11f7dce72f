"""Text and sequence classification: :class:`TextClassifier`, :class:`SequenceClassifier`, MR, JapaneseVowels."""

from rnnkit.tasks.classify.estimator import SequenceClassifier, TextClassifier

__all__ = ["SequenceClassifier", "TextClassifier"]
