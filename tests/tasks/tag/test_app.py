"""TagApp.build: the per-dataset defaults (bigram embeddings on for msra only) and flags that override them."""

from __future__ import annotations

from rnnkit.tasks.tag.app import APP
from rnnkit.tasks.tag.config import TagAppConfig
from rnnkit.tasks.tag.data import TagData


def _data(name: str, tokenizer: str) -> TagData:
    return TagData(name, "BMES" if name == "msra" else "none", [], [], [], tokenizer=tokenizer)


def test_bigrams_default_on_for_msra_only_and_the_flag_wins(tmp_path):
    msra = APP.build(TagAppConfig(dataset="msra"), _data("msra", "characters"))
    assert msra.settings["bigram_dim"] == 50 and msra.settings["char_encoder"] == "none"
    assert msra.settings["max_epochs"] == 2  # the reduced budget of the demo
    assert APP.build(TagAppConfig(), _data("turkish", "words")).settings["bigram_dim"] == 0
    off = APP.build(TagAppConfig(dataset="msra", bigram_dim=0), _data("msra", "characters"))
    assert off.settings["bigram_dim"] == 0
    train = tmp_path / "msra.conll"  # your own file is never the built-in data, whatever its name
    train.write_text("北 B-LOC\n京 E-LOC\n", encoding="utf-8")
    mine = APP.build(TagAppConfig(train=str(train), patience=3), _data("msra", "characters"))
    assert mine.settings["bigram_dim"] == 0 and mine.settings["patience"] == 3
