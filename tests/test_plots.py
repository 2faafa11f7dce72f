"""rnnkit.plots: the one matplotlib set-up, figure saving and training-curve plot."""

from __future__ import annotations

import struct
import sys

import pytest

from rnnkit.optional import MissingDependency
from rnnkit.plots import plot_training_curves, pyplot, save_figure

pytest.importorskip("matplotlib")


def _png_size(path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])  # the IHDR chunk: width, height


def test_a_missing_matplotlib_names_the_plots_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib now fails as if not installed
    with pytest.raises(MissingDependency, match=r"pip install 'rnnkit\[plots\]'"):
        pyplot()


def test_save_figure_writes_into_new_folders_at_the_given_resolution(tmp_path):
    figure, axis = pyplot().subplots(figsize=(2, 1))
    axis.plot([0, 1], [1, 0])
    assert figure.number in pyplot().get_fignums()
    path = save_figure(figure, tmp_path / "a" / "b" / "line.png", dpi=50)
    assert _png_size(path) == (100, 50)
    assert figure.number not in pyplot().get_fignums()  # closed after saving


def test_training_curves_with_and_without_the_gradient_panel(tmp_path):
    rows = [{"step": s, "train_loss": 1.0 / s, "grad_norm": 2.0} for s in range(1, 6)]
    rows.append({"step": 5, "val_loss": 0.3, "val_mae": 0.2})
    both = plot_training_curves(rows, tmp_path / "both.png")
    assert _png_size(both) == (1100, 400)  # two panels, 11 x 4 inches at 100 dpi
    loss_only = plot_training_curves(rows, tmp_path / "loss.png", val_keys=["val_loss"], gradient_norm=False,
                                     title="t", loss_label="loss (scaled units)", dpi=110)
    assert _png_size(loss_only) == (770, 440)  # one panel, 7 x 4 inches at 110 dpi
    assert plot_training_curves([{"step": 1}], tmp_path / "none.png") is None
    assert not (tmp_path / "none.png").exists()
