"""The TPSMM half of a training step (``backbone: tpsmm``), as TPSMM's ``train.py`` and
``GeneratorFullModel`` take it; ``pcutlib.training.step.train_step`` calls these where FOMM's
step differs, and adds pcut's discriminator (TPSMM trains without one) as for FOMM.

TPSMM's optimisation (``build_tpsmm_optimizers``): one Adam (betas 0.5, 0.999 unless
``train_params.adam_beta1`` sets the first; weight decay 1e-4) for the keypoint detector, dense
motion network and inpainting network ("generator"), a second one for the background predictor
("bg_predictor"), stepped only from ``bg_start`` on;
before each step the gradients of the keypoint detector and dense motion network (and, while it
trains, the background predictor) are clipped to a largest absolute entry of 10
(``clip_grad_norm_`` with the infinity norm); the inpainting network's are not. Learning rates
drop by 10 at ``epoch_milestones``. TPSMM's schedules (TPS dropout, ``bg_start``) count whole
epochs.

``tools/compare_tpsmm_training.py`` runs TPSMM's own GeneratorFullModel beside this step.
"""
from __future__ import annotations

import math

import torch
from torch.nn.utils import clip_grad_norm_

from pcutlib.models.tpsmm.build import TPSMMModels
from pcutlib.training.tpsmm_losses import background_loss, tps_dropout_probability, tps_equivariance_loss, warp_loss

WEIGHT_DECAY = 1e-4
CLIP_MAX_ABS = 10.0      # clip_grad_norm_(..., max_norm=10, norm_type=inf): the largest |gradient| entry


def build_tpsmm_optimizers(models: TPSMMModels, train_params: dict, fused: bool | None,
                           betas: tuple[float, float]) -> dict:
    """{"generator": Adam(kp_detector, dense motion, inpainting), "bg_predictor": Adam (with bg)},
    both at lr_generator with TPSMM's weight decay and the trainer's ``betas`` (TPSMM's: 0.5, 0.999)."""
    main = [*models.kp_detector.parameters(), *models.dense_motion_network.parameters(),
            *models.inpainting_network.parameters()]
    groups = {"generator": main}
    if models.bg_predictor is not None:
        groups["bg_predictor"] = list(models.bg_predictor.parameters())
    return {name: torch.optim.Adam(params, lr=train_params["lr_generator"], betas=betas,
                                   weight_decay=WEIGHT_DECAY, fused=fused) for name, params in groups.items()}


def background_active(models: TPSMMModels, train_params: dict, epoch: int) -> bool:
    """Whether the background moves (and its predictor trains) in this epoch: bg and epoch >= bg_start."""
    return models.bg_predictor is not None and epoch >= train_params["bg_start"]


def tpsmm_generate(models: TPSMMModels, train_params: dict, source: torch.Tensor, driving: torch.Tensor,
                   kp_source: dict, kp_driving: dict, epoch: int, dropout_rng: torch.Generator | None) -> dict:
    """The generator's outputs in ``epoch``: the background motion from bg_start on, TPS dropout
    before dropout_epoch (drawn from ``dropout_rng``). source, driving (B, 3, H, W)."""
    bg_param = (models.generator.background_motion(source, driving)
                if background_active(models, train_params, epoch) else None)
    dropout = None
    if train_params["dropout_epoch"] > 0:
        dropout = tps_dropout_probability(epoch, train_params["dropout_epoch"], train_params["dropout_maxp"],
                                          train_params["dropout_startp"], train_params["dropout_inc_epoch"])
    generated = models.generator(source, kp_source=kp_source, kp_driving=kp_driving, bg_param=bg_param,
                                 tps_dropout=dropout, dropout_rng=dropout_rng)
    generated["bg_param"] = bg_param
    return generated


def tpsmm_losses(models: TPSMMModels, train_params: dict, source: torch.Tensor, driving: torch.Tensor,
                 generated: dict, equivariance_factor: float = 1.0,
                 equivariance_rng: torch.Generator | None = None) -> dict:
    """TPSMM's terms besides reconstruction, each weighted and present when its weight is
    non-zero (bg only while the background moves): {"equivariance_value", "warp_loss", "bg"}.
    ``generated`` holds the keypoints (kp_driving) and ``bg_param`` (``tpsmm_generate``)."""
    weights = train_params["loss_weights"]
    losses = {}
    if weights["equivariance_value"] != 0:
        value, extra = tps_equivariance_loss(models.kp_detector, driving, generated["kp_driving"]["value"],
                                             train_params["transform_params"],
                                             equivariance_factor * weights["equivariance_value"], equivariance_rng)
        losses.update(value)
        generated.update(extra)
    if weights["warp_loss"] != 0:
        losses.update(warp_loss(models.inpainting_network, driving, generated, weights["warp_loss"]))
    if generated["bg_param"] is not None and weights["bg"] != 0:
        losses.update(background_loss(models.bg_predictor, source, driving, generated["bg_param"], weights["bg"]))
    return losses


def clip_tpsmm_gradients(models: TPSMMModels, background_trains: bool) -> None:
    """TPSMM's clipping: the keypoint detector's, the dense motion network's and (while it trains)
    the background predictor's gradients to a largest absolute entry of CLIP_MAX_ABS; not the
    inpainting network's."""
    clipped = [models.kp_detector, models.dense_motion_network]
    clipped += [models.bg_predictor] if background_trains else []
    for network in clipped:
        clip_grad_norm_(network.parameters(), max_norm=CLIP_MAX_ABS, norm_type=math.inf)


def tpsmm_update(models: TPSMMModels, optimizers: dict, train_params: dict, epoch: int) -> None:
    """After the backward pass: TPSMM's clipping, then the generator's step and, from bg_start
    on, the background predictor's; their gradients are zeroed."""
    active = background_active(models, train_params, epoch)
    clip_tpsmm_gradients(models, active)
    names = ["generator"] + (["bg_predictor"] if active else [])
    for name in names:
        optimizers[name].step()
    for name in ("generator", "bg_predictor"):
        if name in optimizers:
            optimizers[name].zero_grad(set_to_none=True)

