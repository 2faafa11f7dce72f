"""Language models: the :class:`LanguageModel` estimator, the Kneser–Ney baseline and ``rnnkit lm``."""

from rnnkit.tasks.lm.estimator import LanguageModel, LanguageModelConfig

__all__ = ["LanguageModel", "LanguageModelConfig"]
