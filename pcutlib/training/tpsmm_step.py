"""One TPSMM training step, as TPSMM's ``train.py`` and ``GeneratorFullModel`` take it.

TPSMM trains without a discriminator: one Adam optimizer (betas 0.5, 0.999, weight decay
1e-4) for the keypoint detector, dense motion network and inpainting network, a second one for
the background predictor, stepped only from ``bg_start`` on; before each step the gradients of
the keypoint detector and dense motion network (and, when it trains, the background predictor)
are clipped to a largest absolute entry of 10 (``clip_grad_norm_`` with the infinity norm); the
inpainting network's are not. Learning rates drop by 10 at ``epoch_milestones``.

``train_params`` keys (TPSMM's vox-256 values): lr_generator 2e-4, scales [1, 0.5, 0.25,
0.125], dropout_epoch 35, dropout_maxp 0.3, dropout_startp 0.1, dropout_inc_epoch 10, bg_start
10, transform_params {sigma_affine 0.05, sigma_tps 0.005, points_tps 5}, loss_weights
{perceptual [10]*5, equivariance_value 10, warp_loss 10, bg 10}, epoch_milestones [70, 90].
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.utils import clip_grad_norm_

from pcutlib.models.tpsmm.loading import TPSMMNetworks
from pcutlib.training.tpsmm_losses import background_loss, tps_dropout_probability, tps_equivariance_loss, warp_loss

ADAM_BETAS = (0.5, 0.999)
WEIGHT_DECAY = 1e-4
CLIP_MAX_ABS = 10.0      # clip_grad_norm_(..., max_norm=10, norm_type=inf): the largest |gradient| entry


@dataclass
class TPSMMTrainer:
    """What a TPSMM step needs: the networks, the two optimizers and their schedulers, the
    reconstruction loss (``losses.PerceptualPyramidLoss`` or ``losses.PixelPyramidLoss``), the
    train_params and the random streams of TPS dropout and the equivariance warps."""
    networks: TPSMMNetworks
    optimizer: torch.optim.Optimizer
    optimizer_bg: torch.optim.Optimizer | None
    schedulers: list
    reconstruction_loss: nn.Module
    train_params: dict
    rngs: dict


def build_tpsmm_trainer(networks: TPSMMNetworks, train_params: dict, reconstruction_loss: nn.Module,
                        seed: int = 0) -> TPSMMTrainer:
    """Optimizers and schedulers as TPSMM's train.py makes them; random streams from ``seed``
    (TPS dropout and the equivariance warps draw on the CPU, so a run repeats on any device)."""
    main = [*networks.kp_detector.parameters(), *networks.dense_motion_network.parameters(),
            *networks.inpainting_network.parameters()]
    lr = train_params["lr_generator"]
    optimizer = torch.optim.Adam(main, lr=lr, betas=ADAM_BETAS, weight_decay=WEIGHT_DECAY)
    optimizer_bg = None
    if networks.bg_predictor is not None:
        optimizer_bg = torch.optim.Adam(networks.bg_predictor.parameters(), lr=lr, betas=ADAM_BETAS,
                                        weight_decay=WEIGHT_DECAY)
    milestones = train_params.get("epoch_milestones", [])
    schedulers = [torch.optim.lr_scheduler.MultiStepLR(o, milestones, gamma=0.1)
                  for o in (optimizer, optimizer_bg) if o is not None]
    rngs = {name: torch.Generator().manual_seed(seed * 2 + offset) for offset, name in enumerate(("dropout", "equivariance"))}
    return TPSMMTrainer(networks, optimizer, optimizer_bg, schedulers, reconstruction_loss, train_params, rngs)


def background_active(trainer: TPSMMTrainer, epoch: int) -> bool:
    """Whether the background moves (and its predictor trains) in this epoch: bg and epoch >= bg_start."""
    return trainer.networks.bg_predictor is not None and epoch >= trainer.train_params["bg_start"]


def tpsmm_generator_losses(trainer: TPSMMTrainer, source: torch.Tensor, driving: torch.Tensor,
                           epoch: int) -> tuple[dict, dict]:
    """TPSMM's losses of one batch (source, driving (B, 3, H, W) in [0, 1]) in ``epoch``:
    ({"perceptual", "equivariance_value", "warp_loss", "bg"}: each weighted, present when its
    weight is non-zero and, for bg, from bg_start on}, generated outputs with the keypoints)."""
    networks, params = trainer.networks, trainer.train_params
    weights = params["loss_weights"]
    kp_source = networks.kp_detector(source)
    kp_driving = networks.kp_detector(driving)
    bg_param = networks.bg_predictor(source, driving) if background_active(trainer, epoch) else None
    dropout = tps_dropout_probability(epoch, params["dropout_epoch"], params["dropout_maxp"],
                                      params["dropout_startp"], params["dropout_inc_epoch"])
    dense_motion = networks.dense_motion_network(source, kp_driving, kp_source, bg_param=bg_param, dropout=dropout,
                                                 dropout_rng=trainer.rngs["dropout"])
    generated = networks.inpainting_network(source, dense_motion)
    generated.update({"kp_source": kp_source, "kp_driving": kp_driving})

    losses = {}
    if sum(weights["perceptual"]) != 0:
        losses["perceptual"] = trainer.reconstruction_loss(generated["prediction"], driving)
    if weights["equivariance_value"] != 0:
        value, extra = tps_equivariance_loss(networks.kp_detector, driving, kp_driving["value"],
                                             params["transform_params"], weights["equivariance_value"],
                                             trainer.rngs["equivariance"])
        losses.update(value)
        generated.update(extra)
    if weights["warp_loss"] != 0:
        losses.update(warp_loss(networks.inpainting_network, driving, generated, weights["warp_loss"]))
    if bg_param is not None and weights["bg"] != 0:
        losses.update(background_loss(networks.bg_predictor, source, driving, bg_param, weights["bg"]))
    return losses, generated


def clip_tpsmm_gradients(networks: TPSMMNetworks, background_trains: bool) -> None:
    """TPSMM's clipping: the keypoint detector's, the dense motion network's and (while it trains)
    the background predictor's gradients to a largest absolute entry of CLIP_MAX_ABS; not the
    inpainting network's."""
    clipped = [networks.kp_detector, networks.dense_motion_network]
    clipped += [networks.bg_predictor] if background_trains else []
    for network in clipped:
        clip_grad_norm_(network.parameters(), max_norm=CLIP_MAX_ABS, norm_type=math.inf)


def tpsmm_train_step(trainer: TPSMMTrainer, batch: dict, epoch: int) -> dict[str, float]:
    """One optimisation step on batch {"source", "driving"}; returns the losses as floats."""
    networks = trainer.networks
    networks.train()
    device = next(networks.kp_detector.parameters()).device
    losses, _ = tpsmm_generator_losses(trainer, batch["source"].to(device), batch["driving"].to(device), epoch)
    total = sum(losses.values())
    if not torch.isfinite(total):
        raise FloatingPointError(f"TPSMM loss is not finite at epoch {epoch}: "
                                 f"{ {k: float(v) for k, v in losses.items()} }")
    total.backward()
    active = background_active(trainer, epoch)
    clip_tpsmm_gradients(networks, active)
    trainer.optimizer.step()
    trainer.optimizer.zero_grad()
    if active:
        trainer.optimizer_bg.step()
        trainer.optimizer_bg.zero_grad()
    return {name: float(value) for name, value in losses.items()}


def end_tpsmm_epoch(trainer: TPSMMTrainer) -> None:
    """Step the learning-rate schedulers once per epoch, as TPSMM does."""
    for scheduler in trainer.schedulers:
        scheduler.step()
