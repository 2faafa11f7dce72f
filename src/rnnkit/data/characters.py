"""The character alphabet of a CTC recogniser: transcripts to label ids and back.

Transcripts are normalised by one documented mapping before they are encoded:

1. lower case;
2. the punctuation ``. , ! ? ; : " ( ) [ ] -`` and tabs/newlines become spaces; the typographic
   apostrophe ``’`` becomes ``'``;
3. runs of spaces collapse to one, and the ends are stripped.

Any character still outside the alphabet (a digit, an accented letter, ``&``) is an error that
names it: spell numbers out (``"42"`` -> ``"forty two"``) before training.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

#: Label 0 is CTC's blank; these characters follow it.
DEFAULT_CHARACTERS = " '" + "abcdefghijklmnopqrstuvwxyz"

_PUNCTUATION = str.maketrans({c: " " for c in ".,!?;:\"()[]-\t\n\r"} | {"’": "'"})


class TranscriptError(ValueError):
    """A transcript holds characters the alphabet cannot encode."""


def normalize_transcript(text: str) -> str:
    """Apply the module's documented mapping (lower case, punctuation to spaces, spaces collapsed).

    Example:
        >>> normalize_transcript("Seven of Hearts, please!")
        'seven of hearts please'
    """
    if not isinstance(text, str):
        raise TranscriptError(f"transcript: expected a string, got {type(text).__name__}")
    return re.sub(" +", " ", text.lower().translate(_PUNCTUATION)).strip()


class CharacterAlphabet:
    """Characters <-> CTC label ids (``0`` is the blank).

    Args:
        characters: the alphabet, each character once (default: space, apostrophe, a-z).

    Example:
        >>> alphabet = CharacterAlphabet()
        >>> alphabet.encode("Ace of spades")[:3], alphabet.decode(alphabet.encode("ace"))
        ([3, 5, 7], 'ace')
    """

    blank = 0

    def __init__(self, characters: Sequence[str] | str = DEFAULT_CHARACTERS) -> None:
        characters = "".join(characters)
        if len(set(characters)) != len(characters) or not characters:
            raise ValueError(f"characters: expected distinct characters, got {characters!r}")
        self.characters = characters
        self.index = {c: i + 1 for i, c in enumerate(characters)}

    def __len__(self) -> int:
        """Labels including the blank."""
        return len(self.characters) + 1

    def encode(self, text: str, *, what: str = "transcript") -> list[int]:
        """Label ids of the normalised ``text``.

        Raises:
            TranscriptError: characters outside the alphabet remain (the message lists them).
        """
        clean = normalize_transcript(text)
        unknown = sorted({c for c in clean if c not in self.index})
        if unknown:
            raise TranscriptError(f"{what}: {text!r} has characters outside the alphabet: "
                                  f"{', '.join(repr(c) for c in unknown)} (the alphabet is {self.characters!r}; "
                                  "spell numbers and symbols out as words)")
        return [self.index[c] for c in clean]

    def decode(self, labels: Sequence[int]) -> str:
        """Characters of label ids (blanks skipped, no collapsing: see the CTC decoders)."""
        return "".join(self.characters[i - 1] for i in labels if i != self.blank)

    def to_json(self) -> dict:
        """The alphabet as saved in a model directory."""
        return {"characters": self.characters}

    @classmethod
    def from_json(cls, data: dict) -> CharacterAlphabet:
        """Rebuild from :meth:`to_json`."""
        return cls(data["characters"])


__all__ = ["DEFAULT_CHARACTERS", "CharacterAlphabet", "TranscriptError", "normalize_transcript"]
