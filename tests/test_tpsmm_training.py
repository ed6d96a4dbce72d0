"""pcutlib.training.tpsmm_losses and tpsmm_step, through pcut's trainer (backbone: tpsmm) on a small model.

The step was compared with TPSMM's own code by ``tools/compare_tpsmm_training.py`` (it needs a
checkout of that code, so it is not a test here); these tests check what holds without it.
"""
import math

import pytest
import torch

from pcutlib.config import resolve_config
from pcutlib.models.tpsmm.build import build_tpsmm
from pcutlib.models.tpsmm.dense_motion import tps_dropout_softmax
from pcutlib.training.step import generator_losses, train_step
from pcutlib.training.tpsmm_losses import background_loss, tps_dropout_probability, tps_equivariance_loss, warp_loss
from pcutlib.training.trainer import build_trainer

MODEL_PARAMS = {"common_params": {"num_tps": 2, "num_channels": 3, "bg": True, "multi_mask": True},
                "generator_params": {"block_expansion": 8, "max_features": 32, "num_down_blocks": 3},
                "dense_motion_params": {"block_expansion": 8, "max_features": 32, "num_blocks": 3, "scale_factor": 0.25}}
TRAIN_PARAMS = {"lr_generator": 2e-4, "dropout_epoch": 35, "dropout_maxp": 0.3, "dropout_startp": 0.1,
                "dropout_inc_epoch": 10, "bg_start": 10, "epoch_milestones": [2],
                "transform_params": {"sigma_affine": 0.05, "sigma_tps": 0.005, "points_tps": 5},
                "loss_weights": {"perceptual": [0, 0, 0, 0, 0], "pixel_pyramid": 10, "equivariance_value": 10,
                                 "warp_loss": 10, "bg": 10}}


def tpsmm_trainer(**train_params):
    """pcut's trainer of a small TPSMM (pixel pyramid instead of VGG19: no download)."""
    config = resolve_config({"backbone": "tpsmm", "dataset_params": {"root_dir": "unused"},
                             "model_params": MODEL_PARAMS, "train_params": {**TRAIN_PARAMS, **train_params}})
    return build_trainer(config, torch.device("cpu"))


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    """Many small convolutions: one thread is faster on 2 shared cores."""


@pytest.fixture
def frames():
    generator = torch.Generator().manual_seed(0)
    source = torch.rand(2, 3, 32, 32, generator=generator)           # the smallest size TPSMM's networks take
    return source, torch.roll(source, shifts=(3, -2), dims=(2, 3))


def test_dropout_follows_tpsmm_schedule():
    schedule = dict(dropout_epoch=35, dropout_maxp=0.3, dropout_startp=0.1, dropout_inc_epoch=10)
    assert tps_dropout_probability(0, **schedule) == pytest.approx(0.1)
    assert tps_dropout_probability(1, **schedule) == pytest.approx(0.13)       # slope maxp / inc, TPSMM's
    assert tps_dropout_probability(7, **schedule) == pytest.approx(0.3)
    assert tps_dropout_probability(34, **schedule) == pytest.approx(0.3)
    assert tps_dropout_probability(35, **schedule) is None
    with pytest.raises(ValueError, match="dropout_inc_epoch"):
        tps_dropout_probability(0, **dict(schedule, dropout_inc_epoch=0))


def test_dropout_keeps_where_the_draw_is_below_one_minus_p():
    logits = torch.randn(4, 5, 3, 3)
    draws = torch.rand(4, 5, generator=torch.Generator().manual_seed(7))
    maps = tps_dropout_softmax(logits, 0.4, torch.Generator().manual_seed(7))
    kept = maps.flatten(2).amax(2) > 0
    expected = draws < 0.6
    expected[:, 0] = True                                                       # the background stays
    assert torch.equal(kept, expected)
    assert torch.allclose(maps.sum(1), torch.ones(4, 3, 3), atol=1e-5)


def test_equivariance_loss_is_zero_for_the_identity_warp(frames):
    networks = build_tpsmm(MODEL_PARAMS).eval()
    _, driving = frames
    kp = networks.kp_detector(driving)["value"]
    identity = {"sigma_affine": 0.0, "sigma_tps": 0.0, "points_tps": 5}
    losses, extra = tps_equivariance_loss(networks.kp_detector, driving, kp, identity, weight=10)
    assert torch.allclose(extra["transformed_frame"], driving, atol=1e-5)         # float32 grid rounding
    assert losses["equivariance_value"].item() < 1e-4
    moved, _ = tps_equivariance_loss(networks.kp_detector, driving, kp, TRAIN_PARAMS["transform_params"], 10,
                                     torch.Generator().manual_seed(0))
    assert moved["equivariance_value"].item() > 1e-4


def test_background_loss_is_zero_at_the_identity_start_and_weighted(frames):
    networks = build_tpsmm(MODEL_PARAMS).eval()
    source, driving = frames
    bg_param = networks.bg_predictor(source, driving)
    assert torch.allclose(bg_param, torch.eye(3).expand(2, 3, 3))             # TPSMM starts at the identity
    assert background_loss(networks.bg_predictor, source, driving, bg_param, 10)["bg"].item() == 0
    shifted = bg_param.clone()
    shifted[:, 0, 2] = 0.3
    assert background_loss(networks.bg_predictor, source, driving, shifted, 10)["bg"].item() == pytest.approx(
        10 * 0.3 / 9, rel=1e-5)


def test_warp_loss_pairs_the_encoder_levels_fine_to_coarse(frames):
    source, driving = frames
    trainer = tpsmm_trainer()
    _, generated = generator_losses(trainer, source, driving, epoch_float=40)
    encoded = trainer.models.inpainting_network.get_encode(driving, generated["occlusion_maps"])
    decoded = generated["warped_encoder_maps"]
    assert [e.shape for e in encoded] == [d.shape for d in reversed(decoded)]
    by_hand = sum((e - d).abs().mean() for e, d in zip(encoded, decoded[::-1]))
    assert warp_loss(trainer.models.inpainting_network, driving, generated, 10)["warp_loss"].item() == pytest.approx(
        10 * float(by_hand.detach()), rel=1e-6)


def test_losses_follow_the_epoch(frames):
    source, driving = frames
    trainer = tpsmm_trainer()
    early, _ = generator_losses(trainer, source, driving, epoch_float=0)
    late, _ = generator_losses(trainer, source, driving, epoch_float=10)
    assert sorted(early) == ["equivariance_value", "reconstruction", "warp_loss"]   # no background before bg_start
    assert sorted(late) == ["bg", "equivariance_value", "reconstruction", "warp_loss"]
    off = tpsmm_trainer(loss_weights=dict(TRAIN_PARAMS["loss_weights"], equivariance_value=0, warp_loss=0))
    assert sorted(generator_losses(off, source, driving, epoch_float=10)[0]) == ["bg", "reconstruction"]


def test_tpsmm_trainer_has_tpsmm_optimizers():
    trainer = tpsmm_trainer()
    assert sorted(trainer.optimizers) == ["bg_predictor", "generator"]
    group = trainer.optimizers["generator"].param_groups[0]
    assert group["weight_decay"] == 1e-4 and group["betas"] == (0.5, 0.999)
    count = sum(p.numel() for name in ("kp_detector", "dense_motion_network", "inpainting_network")
                for p in getattr(trainer.models, name).parameters())
    assert sum(p.numel() for p in group["params"]) == count
    adversarial = tpsmm_trainer(loss_weights=dict(TRAIN_PARAMS["loss_weights"], generator_gan=1))
    assert sorted(adversarial.optimizers) == ["bg_predictor", "discriminator", "generator"]


@pytest.mark.slow
def test_steps_train_the_background_only_from_bg_start_and_fit_a_batch(frames):
    torch.manual_seed(0)
    source, driving = frames
    trainer = tpsmm_trainer(lr_generator=1e-3)
    models = trainer.models
    batch = {"source": source, "driving": driving}
    bg_before = [p.detach().clone() for p in models.bg_predictor.parameters()]
    first = train_step(trainer, batch, epoch_float=10.0).losses          # epoch 10: the background trains
    assert "bg" in first and all(math.isfinite(v) for v in first.values())
    assert any(not torch.equal(a, b) for a, b in zip(bg_before, models.bg_predictor.parameters()))
    bg_now = [p.detach().clone() for p in models.bg_predictor.parameters()]
    train_step(trainer, batch, epoch_float=3.0)                          # before bg_start: it stays
    assert all(torch.equal(a, b) for a, b in zip(bg_now, models.bg_predictor.parameters()))
    for _ in range(5):
        last = train_step(trainer, batch, epoch_float=40.0).losses
    assert last["reconstruction"] < first["reconstruction"]
    assert all(p.grad is None for p in models.kp_detector.parameters())                # zeroed after the step
    for _ in range(2):
        for scheduler in trainer.schedulers.values():
            scheduler.step()
    assert trainer.optimizers["generator"].param_groups[0]["lr"] == pytest.approx(1e-4)   # dropped by 10 at epoch 2
