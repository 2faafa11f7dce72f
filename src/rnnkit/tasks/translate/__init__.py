"""``rnnkit translate``: machine translation with a recurrent encoder-decoder, attention and beam search."""

from rnnkit.tasks.translate.estimator import Translator

__all__ = ["Translator"]
