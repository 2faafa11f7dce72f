"""Every setting of ``rnnkit transcribe`` (flags, config files and the tuner's search space)."""

from __future__ import annotations

from dataclasses import dataclass

from rnnkit.tasks.framework.config import AppConfig, ConfigError, setting


@dataclass
class TranscribeAppConfig(AppConfig):
    """Settings of ``rnnkit transcribe``: the synthesised corpus, the model, training and evaluation."""

    train_utterances: int = setting(1200, "synthesised training utterances (built-in data)", min=1)
    val_utterances: int = setting(120, "synthesised validation utterances (training voices)", min=0)
    test_utterances: int = setting(240, "synthesised test utterances (held-out voices only)", min=1)
    cell: str = setting("gru", "recurrent cell: gru, lstm, layernorm_lstm, ...",
                        search={"choices": ["gru", "lstm", "layernorm_lstm"]})
    hidden_size: int = setting(96, "state size of each recurrent layer", min=1,
                               search={"low": 64, "high": 256, "log": True})
    num_layers: int = setting(2, "stacked recurrent layers", min=1, search={"low": 1, "high": 3})
    channels: tuple[int, ...] = setting((16, 32), "output channels of each front-end convolution block "
                                        "(each halves time and frequency)")
    bidirectional: bool = setting(False, "read both directions (offline only; the default streams)")
    dropout: float = setting(0.1, "dropout between recurrent layers", min=0.0, max=0.9)
    n_mels: int = setting(40, "log-mel bands", min=8, max=128)
    spec_augment: bool = setting(True, "mask random bands and time spans of training batches (SpecAugment)")
    augment: bool = setting(False, "a new random waveform version of each training utterance at every draw (speed, "
                            "telephone/low-pass bands, reverberation, noise/hum/babble, gain, clipping)")
    batch_size: int = setting(8, "utterances per batch", min=1)
    lr: float = setting(3e-3, "Adam learning rate (peak; see lr_decay)", min=0.0,
                        search={"low": 5e-4, "high": 5e-3, "log": True})
    lr_decay: bool = setting(True, "decay the learning rate: one-cycle over max_steps, or a cosine over "
                             "max_minutes when that is set (to 5 %)")
    # A step count, not a time budget, by default: the same run learns the same model on an idle or a
    # loaded machine (3 minutes of wall clock on a shared box bought 48 CPU seconds and a model that
    # printed "a" for every clip). 6,000 steps: 250 CPU seconds on one core here.
    max_steps: int = setting(6000, "training steps", min=1)
    max_minutes: float | None = setting(None, "training time budget in minutes instead (training stops at the first "
                                        "step after it, or at max_steps)", min=0.0)
    decoder: str = setting("beam", "greedy, or beam (prefix beam search with the training words and a bigram LM)",
                           choices=("greedy", "beam"))
    beam_width: int = setting(16, "prefixes kept by the beam search", min=1)
    lm_weight: float = setting(0.8, "weight of the word bigram model in the beam search", min=0.0)
    word_bonus: float = setting(1.0, "score added per word in the beam search")
    real_clips: bool = setting(True, "also transcribe the real pocketsphinx-testdata recordings")
    peer: bool = setting(True, "run PocketSphinx on the real recordings as the peer")

    def validate(self) -> None:
        if not self.channels or any(c < 1 for c in self.channels):
            raise ConfigError(f"channels: expected positive channel counts, got {list(self.channels)}")
