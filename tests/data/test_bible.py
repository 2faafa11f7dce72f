"""The Bible reader: footnote cleaning, the cache and its checksum, alignment, book splits."""

from __future__ import annotations

import json

import pytest

from rnnkit.data import bible
from rnnkit.data.bible import (
    BibleUnavailable,
    VerseKey,
    aligned_verses,
    clean_osis,
    read_bible,
    split_by_books,
)

HAVE_MODULES = all((bible.SWORD_PATH / "mods.d" / f"{m}.conf").is_file() for m in (bible.WEB, bible.RV1909))


def test_footnote_becomes_a_space_not_glue():
    pytest.importorskip("pysword")
    raw = ('<w lemma="strong:H0430">God</w><note placement="foot"><reference type="annotateRef">1:1 </reference>'
           'The Hebrew word rendered “God” is “Elohim”.</note><w lemma="strong:H1254">created</w> the earth. ')
    assert clean_osis(raw) == "God created the earth."


def test_other_tags_stripped_and_space_before_punctuation_removed():
    pytest.importorskip("pysword")
    raw = '<div type="x-milestone" sID="pv9"/><w>cherubim</w><note n="a">angels</note>, <title>Psalm</title>and  x'
    assert clean_osis(raw) == "cherubim, and x"
    assert clean_osis("plain   text ") == "plain text"


def test_missing_module_names_the_apt_command(tmp_path):
    with pytest.raises(BibleUnavailable, match=r"apt-get install -y sword-text-web"):
        read_bible(bible.WEB, sword_path=tmp_path, cache_dir=tmp_path / "cache")


def _fake_sword(tmp_path, module="engWEB2015eb"):
    (tmp_path / "mods.d").mkdir(parents=True)
    (tmp_path / "mods.d" / f"{module}.conf").write_text(f"[{module}]\nDataPath=./modules/{module}/\n")
    (tmp_path / "modules" / module).mkdir(parents=True)
    (tmp_path / "modules" / module / "ot.bzz").write_bytes(b"v1")
    return tmp_path


def test_cache_is_used_checked_and_invalidated(tmp_path, monkeypatch):
    sword = _fake_sword(tmp_path / "sword")
    calls = []

    def fake_extract(module, path):
        calls.append(module)
        return [["Gen", 1, 1, f"text {len(calls)}"]]

    monkeypatch.setattr(bible, "_extract", fake_extract)
    cache = tmp_path / "cache"
    first = read_bible(bible.WEB, sword_path=sword, cache_dir=cache)
    assert first == {VerseKey("Gen", 1, 1): "text 1"}
    assert read_bible(bible.WEB, sword_path=sword, cache_dir=cache) == first and len(calls) == 1
    # A damaged cache (verses edited, checksum not) is extracted again, with a warning.
    payload = json.loads((cache / "engWEB2015eb.json").read_text())
    payload["verses"][0][3] = "tampered"
    (cache / "engWEB2015eb.json").write_text(json.dumps(payload))
    with pytest.warns(UserWarning, match="stale or damaged"):
        assert read_bible(bible.WEB, sword_path=sword, cache_dir=cache)[VerseKey("Gen", 1, 1)] == "text 2"
    # A changed module (new package version) is extracted again too.
    (sword / "modules" / "engWEB2015eb" / "ot.bzz").write_bytes(b"v2")
    with pytest.warns(UserWarning):
        assert read_bible(bible.WEB, sword_path=sword, cache_dir=cache)[VerseKey("Gen", 1, 1)] == "text 3"


def test_aligned_verses_intersects_keys_and_counts_drops():
    k = [VerseKey("Gen", 1, v) for v in range(1, 6)]
    src = {k[0]: "In the beginning God created", k[1]: "a" * 50, k[2]: "short one here", k[3]: "only english"}
    tgt = {k[0]: "En el principio crió Dios", k[1]: "b" * 12, k[2]: "corto aquí sí", k[4]: "solo español"}
    result = aligned_verses(src, tgt, max_ratio=3.0)
    assert [p.key for p in result.pairs] == [k[0], k[2]]
    assert (result.dropped_ratio, result.only_source, result.only_target) == (1, 1, 1)
    assert "2 verse pairs kept" in result.summary()
    with pytest.raises(ValueError, match="max_ratio"):
        aligned_verses(src, tgt, max_ratio=0.5)


def test_split_by_whole_books():
    pairs = [bible.VersePair(VerseKey(b, 1, v), f"{b}{v}", f"{b}{v}") for b in ("Gen", "Ruth", "Jas") for v in (1, 2)]
    split = split_by_books(pairs, dev_books=["Jas"], test_books=["Ruth"])
    assert {p.key.book for p in split["train"]} == {"Gen"}
    assert [p.source for p in split["test"]] == ["Ruth1", "Ruth2"]
    assert len(split["dev"]) == 2
    with pytest.raises(ValueError, match="both"):
        split_by_books(pairs, dev_books=["Jas"], test_books=["Jas"])
    with pytest.raises(ValueError, match="no pairs for the books"):
        split_by_books(pairs, dev_books=["Tob"], test_books=["Ruth"])


@pytest.mark.slow
@pytest.mark.skipif(not HAVE_MODULES, reason="sword-text-web / sword-text-sparv not installed")
def test_real_modules_align():
    pytest.importorskip("pysword")
    aligned = aligned_verses()
    assert len(aligned.pairs) + aligned.dropped_empty + aligned.dropped_ratio == 31077
    first = aligned.pairs[0]
    assert first.key == VerseKey("Gen", 1, 1)
    assert first.source == "In the beginning, God created the heavens and the earth."
    assert "principio" in first.target
    split = split_by_books(aligned.pairs)
    assert not {p.key.book for p in split["train"]} & set(bible.TEST_BOOKS)


def test_shouted_chapter_openings_are_lower_cased():
    assert bible.fix_chapter_opening("EN el principio") == "En el principio"
    assert bible.fix_chapter_opening("Y dijo Dios") == "Y dijo Dios"
    assert bible.fix_chapter_opening("In the beginning") == "In the beginning"
    assert bible.fix_chapter_opening("ÉSTE es") == "Éste es"
