"""CoNLL-2003 and CoNLL-U readers/writers, scheme conversion, and their errors."""

from __future__ import annotations

import random

import pytest

from rnnkit.data.conll import (
    ConllFormatError,
    TaggedSentence,
    convert_tags,
    detect_scheme,
    read_conll,
    read_conllu,
    repair_tags,
    spans_to_tags,
    tags_to_spans,
    write_conll,
    write_conllu,
)

# The opening of CoNLL-2003's eng.train as distributed (IOB1 chunk and entity tags), typed by hand.
CONLL2003 = """\
-DOCSTART- -X- O O

EU NNP I-NP I-ORG
rejects VBZ I-VP O
German JJ I-NP I-MISC
call NN I-NP O
to TO I-VP O
boycott VB I-VP O
British JJ I-NP I-MISC
lamb NN I-NP O
. . O O

Peter NNP I-NP I-PER
Blackburn NNP I-NP I-PER

BRUSSELS NNP I-NP I-LOC
1996-08-22 CD I-NP O

-DOCSTART- -X- O O

Germany NNP I-NP I-LOC
's POS B-NP O
representative NN I-NP O
"""


def test_conll2003_excerpt(tmp_path):
    path = tmp_path / "eng.train"
    path.write_text(CONLL2003, encoding="utf-8")
    sentences = read_conll(path)
    assert [len(s.tokens) for s in sentences] == [9, 2, 2, 3]
    assert sentences[0].tokens[:3] == ["EU", "rejects", "German"]
    assert sentences[0].tags == ["I-ORG", "O", "I-MISC", "O", "O", "O", "I-MISC", "O", "O"]
    assert [s.line for s in sentences] == [3, 13, 16, 21]
    assert detect_scheme(s.tags for s in sentences) == "IOB1"
    assert convert_tags(sentences[0].tags, "IOB1", "IOB2") == ["B-ORG", "O", "B-MISC", "O", "O", "O", "B-MISC",
                                                               "O", "O"]
    assert convert_tags(sentences[1].tags, "IOB1", "BIOES") == ["B-PER", "E-PER"]
    chunks = read_conll(path, tag_column=2)  # the chunk column instead of the entities
    assert chunks[3].tags == ["I-NP", "B-NP", "I-NP"]
    assert tags_to_spans(chunks[3].tags, "IOB1")[0] == [("NP", 0, 1), ("NP", 1, 3)]


def test_conll_round_trip(tmp_path):
    sentences = read_conll(CONLL2003.splitlines())
    text = write_conll(sentences, tmp_path / "out.conll")
    again = read_conll(tmp_path / "out.conll")
    assert [(s.tokens, s.tags) for s in again] == [(s.tokens, s.tags) for s in sentences]
    three = write_conll(sentences[:1], predicted=[["O"] * 9])
    assert three.splitlines()[0] == "EU I-ORG O"
    assert text.count("\n\n") == 3


def test_wrong_number_of_columns_names_the_line(tmp_path):
    path = tmp_path / "bad.conll"
    path.write_text("EU NNP I-ORG\nrejects VBZ O\n\nPeter I-PER\n", encoding="utf-8")
    with pytest.raises(ConllFormatError, match=r"bad.conll:4: expected 3 columns like line 1, got 2"):
        read_conll(path)
    with pytest.raises(ConllFormatError, match=r"<lines>:1: expected at least 2 columns"):
        read_conll(["lonely"])


CONLLU = """\
# sent_id = 1
# text = Evde kitaplar var.
1-2\tEvde\t_\t_\t_\t_\t_\t_\t_\t_
1\tEv\tev\tNOUN\tNN\tCase=Nom|Number=Sing\t3\tnsubj\t_\t_
2\tde\tde\tADP\tPOSTP\t_\t1\tcase\t_\t_
3\tkitaplar\tkitap\tNOUN\tNN\tCase=Nom|Number=Plur\t0\troot\t_\t_
3.1\tvar\t_\t_\t_\t_\t_\t_\t_\t_
4\t.\t.\tPUNCT\t.\t_\t3\tpunct\t_\t_

1\tGeldi\tgel\tVERB\tVB\tTense=Past\t0\troot\t_\t_
"""


def test_conllu_columns_and_round_trip(tmp_path):
    sentences = read_conllu(CONLLU.splitlines())
    assert [s.tokens for s in sentences] == [["Ev", "de", "kitaplar", "."], ["Geldi"]]
    assert sentences[0].tags == ["NOUN", "ADP", "NOUN", "PUNCT"]
    assert read_conllu(CONLLU.splitlines(), column="xpos")[0].tags == ["NN", "POSTP", "NN", "."]
    assert read_conllu(CONLLU.splitlines(), column="feats:Number")[0].tags == ["Sing", "_", "Plur", "_"]
    assert sentences[1].line == 10
    path = tmp_path / "out.conllu"
    write_conllu(sentences, path)
    again = read_conllu(path)
    assert [(s.tokens, s.tags) for s in again] == [(s.tokens, s.tags) for s in sentences]


def test_conllu_errors():
    with pytest.raises(ConllFormatError, match=r"<lines>:2: expected 10 tab-separated CoNLL-U columns, got 3"):
        read_conllu(["# c", "1\tEv\tNOUN"])
    with pytest.raises(ValueError, match="column: expected one of"):
        read_conllu([], column="upostag")


def test_scheme_conversion_round_trips():
    iob2 = ["B-PER", "I-PER", "O", "B-LOC", "B-LOC", "I-LOC", "O", "B-ORG"]
    bioes = convert_tags(iob2, "IOB2", "BIOES")
    assert bioes == ["B-PER", "E-PER", "O", "S-LOC", "B-LOC", "E-LOC", "O", "S-ORG"]
    assert convert_tags(bioes, "BIOES", "BMES") == bioes  # no inside tags here
    assert convert_tags(["B-PER", "I-PER", "I-PER"], "BIO", "BMES") == ["B-PER", "M-PER", "E-PER"]
    iob1 = convert_tags(iob2, "IOB2", "IOB1")
    assert iob1 == ["I-PER", "I-PER", "O", "I-LOC", "B-LOC", "I-LOC", "O", "I-ORG"]
    assert convert_tags(iob1, "IOB1", "IOB2") == iob2
    rng = random.Random(0)
    for _ in range(200):
        n = rng.randint(1, 12)
        spans, i = [], 0
        while i < n:
            if rng.random() < 0.4:
                end = rng.randint(i + 1, n)
                spans.append((rng.choice("AB"), i, end))
                i = end
            else:
                i += 1
        for scheme in ("IOB1", "IOB2", "BIOES", "BMES"):
            tags = spans_to_tags(spans, n, scheme)
            assert tags_to_spans(tags, scheme) == (spans, 0), (scheme, tags)


def test_invalid_sequences_are_counted_and_read_as_conlleval_does():
    tags = ["O", "I-PER", "I-PER", "B-LOC", "I-ORG", "O"]
    spans, invalid = tags_to_spans(tags, "IOB2")
    assert spans == [("PER", 1, 3), ("LOC", 3, 4), ("ORG", 4, 5)]
    assert invalid == 2  # O -> I-PER and B-LOC -> I-ORG
    repaired, count = repair_tags(tags, "IOB2")
    assert repaired == ["O", "B-PER", "I-PER", "B-LOC", "B-ORG", "O"] and count == 2
    assert tags_to_spans(["B-PER", "O", "E-LOC"], "BIOES")[1] == 2  # B-PER -> O and O -> E-LOC
    assert tags_to_spans(["S-PER", "B-LOC"], "BIOES") == ([("PER", 0, 1), ("LOC", 1, 2)], 1)  # ends open
    assert tags_to_spans(["S-PER", "B-LOC", "E-LOC"], "BIOES")[1] == 0


def test_unknown_scheme_and_sentence_checks():
    with pytest.raises(ValueError, match=r"scheme: expected one of .*got 'IOBX'"):
        convert_tags(["O"], "IOBX", "IOB2")
    with pytest.raises(ValueError, match="3 tokens but 2 tags"):
        TaggedSentence(["a", "b", "c"], ["O", "O"])
    with pytest.raises(ValueError, match="holds whitespace"):
        write_conll([TaggedSentence(["New York"], ["B-LOC"])])
    assert read_conll(["", "", "-DOCSTART- O", ""]) == []  # empty sentences are never produced
