"""The peer recogniser: PocketSphinx 5 (PyPI ``pocketsphinx``, BSD; the ``speech`` extra), which
ships an en-us acoustic model, the CMU dictionary and a general English trigram model.

Two set-ups on the same audio and the same jiwer scorer as rnnkit:

- ``pocketsphinx``: its defaults (the general English language model, ~130k words);
- ``pocketsphinx (grammar)``: a JSGF grammar of the built-in task's phrases (digit strings,
  the card grammar of pocketsphinx's own card-game test, with the words of the sentence
  templates as a free word loop), i.e. a vocabulary restricted as rnnkit's lexicon is.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from rnnkit.optional import require
from rnnkit.tasks.transcribe.data import DIGITS, RANKS, SUITS


def task_grammar() -> str:
    """A JSGF grammar of digit strings and card phrases."""
    ranks = " | ".join(RANKS)
    digits = " | ".join(DIGITS)
    return f"""#JSGF V1.0;
grammar task;
public <utterance> = <digits> | <cards>;
<digits> = ( {digits} )+;
<rank> = {ranks};
<card> = <rank> [ of ] ( {" | ".join(SUITS)} );
<cards> = <card> | <card> <card> | <card> <card> <card> | <rank> <card> | <rank> <rank>;
"""


class PocketSphinx:
    """PocketSphinx with its defaults, or restricted to ``grammar`` (JSGF text).

    Example:
        >>> PocketSphinx().transcribe([samples])  # doctest: +SKIP
        ['ten of clubs']
    """

    def __init__(self, grammar: str | None = None) -> None:
        ps = require("pocketsphinx", "speech")
        self.decoder = ps.Decoder(samprate=16000, loglevel="FATAL")
        if grammar is not None:
            self.decoder.add_jsgf_string("task", grammar.encode())
            self.decoder.activate_search("task")
        dictionary = set()
        if grammar is not None:
            for word in grammar.replace("(", " ").replace(")", " ").replace("|", " ").split():
                if word.isalpha() and word.islower():
                    dictionary.add(word)
        self.missing = sorted(w for w in dictionary if self.decoder.lookup_word(w) is None)

    def transcribe(self, audio: Sequence[np.ndarray]) -> list[str]:
        """Transcripts of 16 kHz float32 waveforms."""
        out = []
        for samples in audio:
            pcm = (np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes()
            self.decoder.start_utt()
            self.decoder.process_raw(pcm, full_utt=True)
            self.decoder.end_utt()
            hyp = self.decoder.hyp()
            words = hyp.hypstr.split() if hyp is not None else []
            out.append(" ".join(w for w in words if not w.startswith(("<", "[", "+"))))
        return out


__all__ = ["PocketSphinx", "task_grammar"]
