"""The data of ``rnnkit transcribe``: speech synthesised with espeak-ng, real recordings from
pocketsphinx-testdata, and the reader of the user's own ``path<TAB>transcript`` lists.

**Synthesised training data.** espeak-ng (Debian ``espeak-ng``, a GPL program run as an external
tool; its output is not a derived work) speaks generated utterances: digit strings ("four oh two
seven"), playing-card phrases from the grammar of pocketsphinx's card-game test ("eight of spades
four of clubs"), and short English sentences from a small template grammar. Every utterance gets
a random accent and voice variant, speaking rate, pitch, amplitude and word gap, then, in numpy,
random leading/trailing silence, gain, a band-limiting filter (a crude microphone), reverberation
(an exponentially decaying noise impulse response) and added noise (white, pink or brown, at a
random SNR). Utterances are written as 16 kHz FLAC under
``$RNNKIT_CACHE/transcribe/`` (default ``~/.cache/rnnkit/transcribe/``) with a ``manifest.jsonl``
whose SHA-256 is checked, and every file's size, at each load.

**Held-out voices.** The test set's voices never occur in training: every utterance spoken with
the variants in :data:`HELD_OUT_VARIANTS`, or in the accent :data:`HELD_OUT_ACCENT`, is a test
utterance; training and validation use the other accent/variant combinations.

**Real speech.** ``/usr/share/pocketsphinx/test/data`` (Debian ``pocketsphinx-testdata``, BSD
licence) holds five card-game utterances (cards/*.wav), five LibriVox sentences of *Sense and
Sensibility* (public domain recordings) and a TIDIGITS-style digit clip ``dhd.2934z.raw`` whose
transcript ("two nine three four zero") is read from its file name as TIDIGITS names files. About
45 seconds in all: a real-world check, not a benchmark.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import subprocess
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rnnkit.data.audio import SAMPLE_RATE, AudioError, read_audio, read_raw_pcm, to_mono_16k
from rnnkit.data.characters import CharacterAlphabet
from rnnkit.dirlock import waiting_lock

#: Accents (espeak-ng voices) and variants the synthesiser draws from.
ACCENTS = ("en-us", "en-gb", "en-gb-scotland", "en-gb-x-rp", "en-gb-x-gbclan", "en-gb-x-gbcwmd", "en-029")
VARIANTS = ("m1", "m2", "m3", "m4", "m5", "m6", "m7", "f1", "f2", "f3", "f4", "f5")
#: More espeak-ng voice variants (its named ones), for training only with ``extra_voices=True``.
EXTRA_VARIANTS = ("m8", "klatt", "klatt2", "klatt3", "klatt4", "croak", "Andy", "Annie", "belinda", "ed", "iven",
                  "john", "linda", "max", "michel", "norbert", "paul", "steph", "robert", "quincy")
#: Voices of the test set only (see the module docstring).
HELD_OUT_VARIANTS = ("m4", "f3")
HELD_OUT_ACCENT = "en-029"

DIGITS = ("zero", "oh", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
RANKS = ("ace", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "jack", "queen", "king",
         "lady")
SUITS = ("clubs", "hearts", "diamonds", "spades")
_SUBJECTS = ("the man", "a woman", "my brother", "the young lady", "his sister", "the old king", "she", "he",
             "we", "they", "the children", "mister john")
_VERBS = ("was not", "had been", "might be", "would have been", "is", "seemed", "became")
_ADJECTIVES = ("cold", "kind", "happy", "selfish", "amiable", "respectable", "ill", "young", "rich", "poor",
               "proud", "clever", "tired")
_TAILS = ("", " himself", " to them", " in his power", " for a while", " at home", " than he was", " again",
          " today", " after all")
_OTHERS = ("he had leisure to consider it", "how much there might be to do", "she went home", "they talked for "
           "an hour", "the house was quiet", "we shall see", "it was a fine morning", "he was a good man",
           "they had no money", "she could not say")

#: The real recordings: (group, relative path, transcript).
REAL_CLIPS = [
    ("cards", "cards/001.wav", "ten of clubs"),
    ("cards", "cards/002.wav", "four queen of clubs"),
    ("cards", "cards/003.wav", "seven of clubs"),
    ("cards", "cards/004.wav", "five five"),
    ("cards", "cards/005.wav", "eight of spades four of clubs seven of hearts"),
    ("digits", "tidigits/dhd.2934z.raw", "two nine three four zero"),
]
POCKETSPHINX_DATA = Path("/usr/share/pocketsphinx/test/data")
INSTALL_HINT = "sudo apt-get install espeak-ng sox pocketsphinx-testdata"
_GENERATOR_VERSION = 2


class SynthesisError(AudioError):
    """espeak-ng is missing or failed (no audio could be made)."""


def espeak_binary() -> str:
    """The espeak-ng executable, or an error with the exact command that installs it."""
    path = shutil.which("espeak-ng")
    if path is None:
        raise SynthesisError("espeak-ng is not installed (rnnkit transcribe synthesises its training speech with "
                             f"it); install it with: {INSTALL_HINT}")
    return path


def cache_dir() -> Path:
    """``$RNNKIT_CACHE/transcribe`` or ``~/.cache/rnnkit/transcribe``."""
    root = os.environ.get("RNNKIT_CACHE")
    return (Path(root) if root else Path.home() / ".cache" / "rnnkit") / "transcribe"


# ------------------------------------------------------------------------------------- texts
def generate_text(rng: random.Random, kind: str) -> str:
    """One utterance's text of ``kind`` (``"digits"``, ``"cards"`` or ``"sentence"``)."""
    if kind == "digits":
        return " ".join(rng.choice(DIGITS) for _ in range(rng.randint(1, 7)))
    if kind == "cards":
        def card() -> str:
            return f"{rng.choice(RANKS)}{' of' if rng.random() < 0.9 else ''} {rng.choice(SUITS)}"
        form = rng.random()
        if form < 0.35:
            return card()
        if form < 0.6:
            return f"{card()} {card()}"
        if form < 0.8:
            return f"{card()} {card()} {card()}"
        if form < 0.9:
            return f"{rng.choice(RANKS)} {card()}"
        return f"{rng.choice(RANKS)} {rng.choice(RANKS)}"
    if kind == "sentence":
        if rng.random() < 0.3:
            return rng.choice(_OTHERS)
        return f"{rng.choice(_SUBJECTS)} {rng.choice(_VERBS)} {rng.choice(_ADJECTIVES)}{rng.choice(_TAILS)}"
    raise ValueError(f"kind: expected digits, cards or sentence, got {kind!r}")


def vocabulary() -> list[str]:
    """Every word the text generator can produce (the lexicon of the built-in task)."""
    words = set(DIGITS) | set(RANKS) | set(SUITS) | {"of"}
    for phrase in (*_SUBJECTS, *_VERBS, *_ADJECTIVES, *_TAILS, *_OTHERS):
        words.update(phrase.split())
    return sorted(words)


# -------------------------------------------------------------------------------- synthesis
@dataclass
class Utterance:
    """One synthesised or recorded utterance."""

    id: str
    text: str
    split: str
    samples: np.ndarray | None = None
    meta: dict = field(default_factory=dict)


def _parse_espeak_wav(data: bytes) -> np.ndarray:
    # espeak-ng --stdout writes a RIFF header with placeholder sizes; the samples follow "data".
    start = data.find(b"data")
    if not data.startswith(b"RIFF") or start < 0:
        raise SynthesisError("espeak-ng did not write WAV audio")
    return np.frombuffer(data[start + 8:len(data) - (len(data) - start - 8) % 2], dtype="<i2")


def speak(text: str, *, voice: str, rate: int = 160, pitch: int = 50, amplitude: int = 100, gap: int = 0) -> np.ndarray:
    """``text`` spoken by espeak-ng, as float32 16 kHz samples.

    Example:
        >>> speak("seven", voice="en-us+f2").shape  # doctest: +SKIP
        (9216,)
    """
    command = [espeak_binary(), "-v", voice, "-s", str(rate), "-p", str(pitch), "-a", str(amplitude), "-g",
               str(gap), "--stdout", text]
    result = subprocess.run(command, capture_output=True, check=False, timeout=60)
    if result.returncode != 0:
        raise SynthesisError(f"espeak-ng failed on {text!r} with voice {voice}: {result.stderr.decode()[:200]}")
    return to_mono_16k(_parse_espeak_wav(result.stdout), 22050, what=f"espeak-ng output for {text!r}")


def degrade(samples: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    """Silence, gain, band limiting, reverberation and noise, drawn from ``rng`` (see the module docstring)."""
    from scipy import signal

    meta: dict = {}
    lead, tail = (int(rng.uniform(0.05, 0.25) * SAMPLE_RATE) for _ in range(2))
    x = np.concatenate([np.zeros(lead), samples.astype(np.float64), np.zeros(tail)])
    low, high = float(rng.uniform(60, 300)), float(rng.uniform(3000, 7600))
    b, a = signal.butter(2, [low, high], btype="bandpass", fs=SAMPLE_RATE)
    x = signal.lfilter(b, a, x)
    meta["band"] = [round(low), round(high)]
    if rng.random() < 0.4:
        rt60 = float(rng.uniform(0.1, 0.5))
        t = np.arange(int(rt60 * SAMPLE_RATE)) / SAMPLE_RATE
        response = rng.standard_normal(len(t)) * np.exp(-6.9 * t / rt60)
        response[0] = 1.0 / float(rng.uniform(0.1, 0.5))  # direct path against the reflections
        x = signal.fftconvolve(x, response)[: len(x)]
        meta["rt60"] = round(rt60, 3)
    x = x / (np.max(np.abs(x)) + 1e-9) * float(rng.uniform(0.1, 0.9))
    if rng.random() < 0.9:
        colour = rng.choice(["white", "pink", "brown"])
        noise = rng.standard_normal(len(x))
        if colour != "white":
            spectrum = np.fft.rfft(noise)
            f = np.maximum(np.fft.rfftfreq(len(x)), 1.0 / len(x))
            spectrum /= np.sqrt(f) if colour == "pink" else f
            noise = np.fft.irfft(spectrum, n=len(x))
        snr = float(rng.uniform(5, 35))
        power = np.mean(x ** 2) + 1e-12
        noise *= np.sqrt(power / (np.mean(noise ** 2) + 1e-12) / 10 ** (snr / 10))
        x = x + noise
        meta.update(noise=str(colour), snr=round(snr, 1))
    return np.clip(x, -1.0, 1.0).astype(np.float32), meta


def voice_split(accent: str, variant: str) -> str:
    """``"test"`` for a held-out voice, else ``"train"``."""
    return "test" if variant in HELD_OUT_VARIANTS or accent == HELD_OUT_ACCENT else "train"


def plan_corpus(train: int, val: int, test: int, seed: int, kinds: dict[str, float], *,
                extra_voices: bool = False) -> list[dict]:
    """What to synthesise: one dict per utterance (id, split, text, voice and its settings).

    ``extra_voices`` adds :data:`EXTRA_VARIANTS` (with every accent but the held-out one) to the
    training and validation voices; the test voices stay the same.
    """
    rng = random.Random(seed)
    test_voices = [(a, v) for a in ACCENTS for v in VARIANTS if voice_split(a, v) == "test"]
    train_voices = [(a, v) for a in ACCENTS for v in VARIANTS if voice_split(a, v) == "train"]
    if extra_voices:
        train_voices += [(a, v) for a in ACCENTS for v in EXTRA_VARIANTS if a != HELD_OUT_ACCENT]
    names, weights = list(kinds), list(kinds.values())
    plan = []
    for split, count in (("train", train), ("val", val), ("test", test)):
        voices = test_voices if split == "test" else train_voices
        for i in range(count):
            accent, variant = rng.choice(voices)
            kind = rng.choices(names, weights)[0]
            plan.append({"id": f"{split}-{i:05d}", "split": split, "kind": kind, "text": generate_text(rng, kind),
                         "voice": f"{accent}+{variant}", "rate": rng.randint(120, 210), "pitch": rng.randint(20, 80),
                         "amplitude": rng.randint(70, 180), "gap": rng.randint(0, 3), "seed": rng.getrandbits(32)})
    return plan


def _synthesise_one(item: dict, folder: Path) -> dict:
    import soundfile as sf

    samples = speak(item["text"], voice=item["voice"], rate=item["rate"], pitch=item["pitch"],
                    amplitude=item["amplitude"], gap=item["gap"])
    samples, meta = degrade(samples, np.random.default_rng(item["seed"]))
    path = folder / f"{item['id']}.flac"
    sf.write(path, samples, SAMPLE_RATE, subtype="PCM_16")
    return {**item, **meta, "file": path.name, "bytes": path.stat().st_size, "seconds": len(samples) / SAMPLE_RATE}


def synthesise_corpus(train: int = 1500, val: int = 150, test: int = 300, *, seed: int = 0,
                      kinds: dict[str, float] | None = None, workers: int = 2, root: Path | None = None,
                      progress: Callable[[str], None] | None = None, extra_voices: bool = False) -> Path:
    """Synthesise (or find in the cache) a corpus and return its folder.

    Args:
        train, val, test: utterances per split (test: held-out voices only).
        seed: the texts, voices and degradations.
        kinds: share of each kind of text (default: digits 0.45, cards 0.35, sentence 0.2).
        workers: espeak-ng processes run at once.
        root: the cache folder (default :func:`cache_dir`).
        progress: called with a line of progress text.
        extra_voices: also train on :data:`EXTRA_VARIANTS` (see :func:`plan_corpus`).

    Returns:
        The folder holding ``manifest.jsonl``, ``manifest.sha256`` and the FLAC files.
    """
    espeak = espeak_binary()
    kinds = kinds or {"digits": 0.45, "cards": 0.35, "sentence": 0.2}
    version = subprocess.run([espeak, "--version"], capture_output=True, text=True, check=False).stdout.strip()
    identity = [_GENERATOR_VERSION, version, train, val, test, seed, kinds] + (["extra voices"] if extra_voices else [])
    key = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:12]
    folder = (root or cache_dir()) / f"synth-{key}"
    if (folder / "manifest.sha256").is_file():
        return folder
    # Two processes starting at once on a cold cache (two benchmark arms, say) would write the same
    # files under each other: the second waits for the first and then finds its corpus.
    with waiting_lock(folder.parent / f"{folder.name}.flock"):
        if (folder / "manifest.sha256").is_file():
            return folder
        folder.mkdir(parents=True, exist_ok=True)
        plan = plan_corpus(train, val, test, seed, kinds, extra_voices=extra_voices)
        if progress:
            progress(f"synthesising {len(plan)} utterances with espeak-ng into {folder} (once; cached)")
        with ThreadPoolExecutor(max(1, workers)) as pool:
            rows = list(pool.map(lambda item: _synthesise_one(item, folder), plan))
        text = "".join(json.dumps(row, sort_keys=True) + "\n" for row in rows)
        (folder / "manifest.jsonl").write_text(text, encoding="utf-8")
        (folder / "manifest.sha256").write_text(hashlib.sha256(text.encode()).hexdigest() + "\n")
    return folder


def read_corpus(folder: Path) -> list[Utterance]:
    """The utterances of a synthesised corpus, after checking its manifest checksum and file sizes."""
    manifest = (folder / "manifest.jsonl").read_bytes()
    expected = (folder / "manifest.sha256").read_text().strip()
    if hashlib.sha256(manifest).hexdigest() != expected:
        raise AudioError(f"{folder}/manifest.jsonl: checksum mismatch; delete {folder} to synthesise it again")
    utterances = []
    for line in manifest.decode().splitlines():
        row = json.loads(line)
        path = folder / row["file"]
        if not path.is_file() or path.stat().st_size != row["bytes"]:
            raise AudioError(f"{path}: missing or changed since synthesis; delete {folder} to synthesise it again")
        utterances.append(Utterance(row["id"], row["text"], row["split"], read_audio(path), row))
    return utterances


# ------------------------------------------------------------------------------- real speech
def load_real_clips(root: Path = POCKETSPHINX_DATA, *, librivox: bool = True) -> list[Utterance]:
    """The pocketsphinx-testdata recordings with their transcripts (see the module docstring).

    Raises:
        FileNotFoundError: the package is not installed (the message gives the apt-get command).
    """
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: the real test recordings come from Debian pocketsphinx-testdata; "
                                f"install it with: {INSTALL_HINT}")
    clips = [(group, rel, text) for group, rel, text in REAL_CLIPS]
    if librivox:
        for line in (root / "librivox" / "transcription").read_text().splitlines():
            text, name = line.rsplit("(", 1)
            text = text.replace("<s>", "").replace("</s>", "").strip()
            clips.append(("librivox", f"librivox/{name.strip(' )')}.wav", text))
    out = []
    for group, rel, text in clips:
        path = root / rel
        samples = read_raw_pcm(path) if path.suffix == ".raw" else read_audio(path)
        out.append(Utterance(Path(rel).stem, text, group, samples, {"path": str(path)}))
    return out


# --------------------------------------------------------------------------------- user data
def read_transcript_list(path: str | Path, alphabet: CharacterAlphabet | None = None) -> list[Utterance]:
    """A user's list of recordings: a TSV/CSV with a header naming ``path`` and ``transcript``
    (or ``sentence``/``text``, as Common Voice's TSVs do); paths are relative to the list.

    Every file is read (16 kHz mono, see :func:`rnnkit.data.audio.read_audio`) and every
    transcript checked against ``alphabet``, so a bad row is an error naming its line.
    """
    import csv

    path = Path(path)
    if not path.is_file():
        raise AudioError(f"--data: {path} does not exist")
    delimiter = "\t" if path.suffix in (".tsv", ".txt") else ","
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle, delimiter=delimiter))
    if not rows:
        raise AudioError(f"--data: {path} has no rows")
    columns = list(rows[0])
    text_col = next((c for c in ("transcript", "sentence", "text") if c in columns), None)
    if "path" not in columns or text_col is None:
        raise AudioError(f"--data: {path} needs a header with 'path' and 'transcript' columns, got {columns}")
    alphabet = alphabet or CharacterAlphabet()
    out = []
    for line, row in enumerate(rows, start=2):
        audio_path = path.parent / row["path"]
        alphabet.encode(row[text_col], what=f"--data {path} line {line}")
        out.append(Utterance(audio_path.stem, row[text_col], "", read_audio(audio_path), {"path": str(audio_path)}))
    return out


__all__ = ["ACCENTS", "EXTRA_VARIANTS", "HELD_OUT_ACCENT", "HELD_OUT_VARIANTS", "INSTALL_HINT", "REAL_CLIPS",
           "VARIANTS",
           "SynthesisError", "Utterance", "degrade", "espeak_binary", "generate_text", "load_real_clips",
           "plan_corpus", "read_corpus", "read_transcript_list", "speak", "synthesise_corpus", "vocabulary",
           "voice_split"]
