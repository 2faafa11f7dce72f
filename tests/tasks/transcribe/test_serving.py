"""POST /v1/transcribe: WAV uploads (multipart and raw) to a tiny trained recogniser on 127.0.0.1."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest

from tests.serving_helpers import call, multipart, running_server, served

sf = pytest.importorskip("soundfile")
pytest.importorskip("jiwer")
pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

TINY = {"channels": (4, 4), "hidden_size": 16, "num_layers": 1, "n_mels": 16, "batch_size": 4, "max_steps": 4,
        "beam_width": 4, "max_audio_seconds": 3.0}


def _clip(i: int, seconds: float = 1.0, rate: int = 16000) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (0.3 * np.sin(2 * np.pi * (200 + 150 * i) * t)).astype(np.float32)


def _wav(samples: np.ndarray, rate: int = 16000, subtype: str = "PCM_16") -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, samples, rate, format="WAV", subtype=subtype)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def model():
    from rnnkit.tasks.transcribe.estimator import SpeechRecognizer

    return SpeechRecognizer(**TINY).fit([_clip(i) for i in range(4)], ["one two", "three", "ace", "seven"])


@pytest.fixture(scope="module")
def url(model):
    with running_server(served("transcribe", model), max_body_bytes=10_000, max_upload_bytes=200_000) as base:
        yield f"{base}/v1/transcribe"


def test_multipart_and_raw_uploads_match_the_model(url, model):
    from rnnkit.data.audio import read_audio

    data = _wav(_clip(1))
    expected = model.transcribe(read_audio(data))[0]
    body, content_type = multipart({}, {"audio": ("clip.wav", data)})
    status, answer, headers = call(url, raw=body, content_type=content_type)
    assert status == 200 and headers["x-request-id"]
    assert answer == {"text": expected, "seconds": 1.0}
    status, answer, _ = call(url, raw=data, content_type="audio/wav")
    assert status == 200 and answer["text"] == expected
    body, content_type = multipart({"decoder": "beam"}, {"audio": ("clip.wav", data)})
    status, answer, _ = call(url, raw=body, content_type=content_type)
    assert status == 200 and answer["text"] == model.transcribe(read_audio(data), decoder="beam")[0]
    # 8 kHz stereo is resampled and mixed down like any other input.
    stereo = np.stack([_clip(1, rate=8000), _clip(1, rate=8000)], axis=1)
    status, answer, _ = call(url, raw=_wav(stereo, 8000), content_type="audio/x-wav")
    assert status == 200 and answer["seconds"] == 1.0


def test_a_non_wav_upload_is_415_naming_the_problem(url):
    flac = io.BytesIO()
    sf.write(flac, _clip(0), 16000, format="FLAC")
    for data in (b"ID3\x03\x00 this is an mp3", flac.getvalue(), b"hello"):
        body, content_type = multipart({}, {"audio": ("song.mp3", data)})
        status, answer, _ = call(url, raw=body, content_type=content_type)
        assert status == 415 and "not a WAV file" in answer["detail"] and "song.mp3" in answer["detail"]


@pytest.mark.parametrize("fields, files, field", [
    ({"decoder": "viterbi"}, {"audio": ("a.wav", None)}, "decoder"),
    ({}, {}, "audio"),
    ({"audio": "not a file"}, {}, "audio"),
    ({"langauge": "en"}, {"audio": ("a.wav", None)}, "langauge"),
])
def test_malformed_uploads_get_4xx_naming_the_field(url, fields, files, field):
    files = {k: (name, _wav(_clip(0))) for k, (name, _) in files.items()}
    body, content_type = multipart(fields, files)
    status, answer, _ = call(url, raw=body, content_type=content_type)
    assert status == 422 and field in json.dumps(answer["detail"])


def test_wrong_body_types_and_limits(url):
    status, answer, _ = call(url, {"audio": "UklGRg=="})  # JSON is not an upload
    assert status == 415 and "multipart/form-data" in answer["detail"]
    status, answer, _ = call(url, raw=_wav(_clip(0, seconds=4.0)), content_type="audio/wav")  # model limit 3 s
    assert status == 422 and "longer than the limit of 3 s" in answer["detail"]
    status, answer, _ = call(url, raw=_wav(np.zeros(200_000, np.float32)), content_type="audio/wav")
    assert status == 413 and "200000 bytes" in answer["detail"]
    status, answer, _ = call(url, raw=_wav(np.zeros(80, np.float32)), content_type="audio/wav")  # 5 ms
    assert status == 422 and "audio" in answer["detail"]
    status, answer, _ = call(url, raw=b"", content_type="audio/wav")
    assert status == 422 and "audio" in json.dumps(answer["detail"])


def test_openapi_describes_the_upload(url):
    status, schema, _ = call(url.replace("/v1/transcribe", "/openapi.json"))
    body = schema["paths"]["/v1/transcribe"]["post"]["requestBody"]["content"]
    assert status == 200 and set(body) == {"multipart/form-data", "audio/wav"}
    fields = body["multipart/form-data"]["schema"]["properties"]
    assert fields["audio"] == {"type": "string", "format": "binary"} and "decoder" in fields
