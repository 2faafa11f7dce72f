"""NextFramePredictor: the rollout streams with the same weights; the training protocol's losses by hand."""

from __future__ import annotations

import torch
from torch.nn import functional as F

from rnnkit.models import NextFramePredictor


def test_predictor_rollout_streams_with_the_same_weights():
    torch.manual_seed(0)
    model = NextFramePredictor("convgru", hidden_size=2, num_layers=2, kernel_size=3).double()
    frames = torch.rand(2, 5, 1, 6, 6, dtype=torch.float64)
    rolled = model.rollout(frames[:, :3], 2)
    # The rollout's second frame is the model run on the context followed by its own first prediction.
    logits, _ = model(torch.cat([frames[:, :3], rolled[:, :1]], 1))
    assert torch.allclose(rolled[:, 1], torch.sigmoid(logits[:, -1]), atol=1e-12)


def test_training_and_validation_steps_score_frame_t_plus_1_from_frames_up_to_t():
    torch.manual_seed(0)
    model = NextFramePredictor("convlstm", hidden_size=3, num_layers=1, kernel_size=3).double()
    frames = torch.rand(2, 4, 1, 5, 5, dtype=torch.float64)
    probabilities = []
    state = None
    for t in range(3):  # step by step: the prediction after frame t sees frames 0..t only
        features, state = model.recurrent.step(frames[:, t], state)
        probabilities.append(torch.sigmoid(model.head(features)))
    expected = torch.stack(probabilities, 1)
    target = frames[:, 1:]
    bce = -(target * expected.log() + (1 - target) * (1 - expected).log()).mean()
    assert torch.allclose(model.training_step(frames), bce, atol=1e-10)
    assert torch.allclose(model.training_step([frames]), bce, atol=1e-10)  # a TensorDataset batch
    scores = model.validation_step((frames,))
    assert torch.allclose(scores["loss"], bce, atol=1e-10)
    assert torch.allclose(scores["mse"], F.mse_loss(expected, target), atol=1e-10)
