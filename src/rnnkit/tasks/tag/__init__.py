"""``rnnkit tag``: sequence tagging (part of speech, named entities) with a BiLSTM-CRF."""

from rnnkit.tasks.tag.estimator import Tagger

__all__ = ["Tagger"]
