"""``rnnkit transcribe``: CRNN + CTC speech recognition trained on synthesised speech (see ``app.py``)."""


def __getattr__(name: str):
    if name in ("SpeechRecognizer", "SpeechRecognizerConfig"):
        from rnnkit.tasks.transcribe import estimator

        return getattr(estimator, name)
    raise AttributeError(f"module 'rnnkit.tasks.transcribe' has no attribute {name!r}")


__all__ = ["SpeechRecognizer", "SpeechRecognizerConfig"]
