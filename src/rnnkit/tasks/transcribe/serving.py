"""The ``POST /v1/transcribe`` request (an uploaded WAV) and its answer (see
:mod:`rnnkit.tasks.framework.serve`)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from rnnkit.tasks.framework.serve import RequestError


class TranscribeRequest(BaseModel):
    """A WAV recording to transcribe with a saved :class:`~rnnkit.SpeechRecognizer`.

    Send it as ``multipart/form-data`` (``curl -F audio=@clip.wav``) or as the raw body with
    ``content-type: audio/wav`` (``decoder`` then as a query parameter). Any sample rate and
    channel count (resampled to 16 kHz mono); at most the model's ``max_audio_seconds``.

    Attributes:
        audio: the WAV file's bytes.
        decoder: ``greedy`` or ``beam`` (default: the model's).
        filename: the uploaded file's name (informational).
    """

    model_config = ConfigDict(extra="forbid")

    audio: bytes = Field(..., min_length=1)
    decoder: Literal["greedy", "beam"] | None = None
    filename: str | None = Field(None, max_length=500)


def check_wav(data: bytes, filename: str | None = None) -> None:
    """Raise :class:`RequestError` (415) unless ``data`` is a RIFF/WAVE (or RF64) file."""
    if len(data) >= 12 and data[:4] in (b"RIFF", b"RF64") and data[8:12] == b"WAVE":
        return
    named = f" ({filename})" if filename else ""
    raise RequestError(f"audio: the upload{named} is not a WAV file (its first bytes are {data[:12]!r}, a WAV "
                       "file starts with RIFF....WAVE); convert it, e.g. ffmpeg -i in.mp3 out.wav", status_code=415)


def answer(recognizer: Any, request: TranscribeRequest) -> dict:
    """``{"text": ..., "seconds": duration of the audio}``."""
    from rnnkit.data.audio import SAMPLE_RATE, read_audio

    check_wav(request.audio, request.filename)
    samples = read_audio(request.audio, max_seconds=recognizer.config.max_audio_seconds)
    text = recognizer.transcribe(samples, decoder=request.decoder)[0]
    return {"text": text, "seconds": round(len(samples) / SAMPLE_RATE, 3)}
