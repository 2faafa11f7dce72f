"""The CTC alphabet and its documented transcript mapping."""

import pytest

from rnnkit.data.characters import CharacterAlphabet, TranscriptError, normalize_transcript


def test_mapping_lowercases_and_turns_punctuation_into_spaces():
    assert normalize_transcript("  Seven of Hearts,  please!\n") == "seven of hearts please"
    assert normalize_transcript("It’s (an) ace-high") == "it's an ace high"


def test_encode_decode_round_trip_and_blank_is_zero():
    alphabet = CharacterAlphabet()
    labels = alphabet.encode("Ace of spades")
    assert 0 not in labels and alphabet.decode(labels) == "ace of spades"
    assert len(alphabet) == 29 and alphabet.decode([0, 3, 0]) == "a"


def test_characters_outside_the_alphabet_are_named():
    with pytest.raises(TranscriptError, match=r"'4', '7', 'é'"):
        CharacterAlphabet().encode("café 47")
    with pytest.raises(ValueError, match="distinct"):
        CharacterAlphabet("aa")
