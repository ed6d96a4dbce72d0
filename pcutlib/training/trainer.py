"""The trainer: networks, optimizers, schedules, losses and the private random streams of one run.

:func:`build_trainer` makes a :class:`Trainer` from a config; the step (``pcutlib.training.step``)
and the loop (``pcutlib.training.loop``) read everything from it.

Randomness: every random draw of a step comes from a private stream of the trainer
(``Trainer.rngs``, see :func:`make_rngs`), one per concern: data order, mixing decision,
CutMix box, equivariance warp, region dropout; each training item draws from its own seed
(``pcutlib.data.datasets.item_rng``). So two runs with one seed that differ only in the
regularizer see the same batches, warps and dropouts at every step. Training checkpoints
(``pcutlib.training.state``) keep the streams' states, so a resumed run draws what the
uninterrupted one would have.
"""
from __future__ import annotations

import functools
import math
import random
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from pcutlib.config_rules import check_combinations
from pcutlib.models.build import Models, build_models
from pcutlib.models.tpsmm.build import TPSMMModels
from pcutlib.prioritycut import RegularizerConfig
from pcutlib.training import losses as L
from pcutlib.training.adversaries import Adversary, build_adversary
from pcutlib.training.device import ProcessGroup, resolve_mixed_precision
from pcutlib.training.tpsmm_step import build_tpsmm_optimizers
from pcutlib.training.weight_average import WeightAverage


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


@dataclass
class Trainer:
    """Everything a training step needs; built by :func:`build_trainer`."""
    config: dict
    models: Models | TPSMMModels
    optimizers: dict
    schedulers: dict
    reconstruction_loss: nn.Module
    regularizer: RegularizerConfig
    device: torch.device
    group: ProcessGroup = field(default_factory=ProcessGroup)
    epoch: int = 0          # completed epochs
    step: int = 0           # completed steps
    steps_per_epoch: int = 1
    autocast_dtype: torch.dtype | None = None
    # how train_params.mixed_precision was resolved on this device (one line; "auto" says why)
    precision_note: str = ""
    # True: the step in FOMM's straightforward order and with its Adam, without pcut's shortcuts
    # that give the same numbers (set by build_trainer(..., baseline_step=True): the optimizers
    # are built for it; benchmarks/train_step.py's baseline; tests/test_training.py checks equality)
    baseline_step: bool = False
    # one private random stream per concern (make_rngs), saved in training checkpoints
    rngs: dict[str, torch.Generator] = field(default_factory=dict)
    # the adversarial half of the step (pcutlib.training.adversaries); build_trainer sets it when
    # adversarial, and the step asks only whether it is there
    adversary: Adversary | None = None
    # train_params.ema_decay > 0: the averaged weights (training.weight_average), else None
    weight_average: WeightAverage | None = None

    @property
    def backbone(self) -> str:
        """"fomm" or "tpsmm" (config key ``backbone``)."""
        return self.config["backbone"]

    @property
    def adversarial(self) -> bool:
        return self.config["train_params"]["loss_weights"]["generator_gan"] != 0

    def discriminator_warming_up(self, epoch_float: float) -> bool:
        """True during the first train_params.discriminator_warmup_epochs of an adversarial run:
        only the discriminator trains (``train_step``)."""
        return self.adversary is not None and epoch_float < self.config["train_params"]["discriminator_warmup_epochs"]

    def generator_updates(self, epoch_float: float) -> bool:
        """Whether this step (``self.step`` steps done) updates the generator and keypoint
        detector: never during the discriminator warm-up; otherwise on every n-th step, n =
        train_params.discriminator_steps_per_generator_step (the discriminator on every step)."""
        if self.discriminator_warming_up(epoch_float):
            return False
        every = self.config["train_params"]["discriminator_steps_per_generator_step"] if self.adversary else 1
        return self.step % every == 0

    def network(self, name: str) -> nn.Module:
        """The network without its DistributedDataParallel wrapper."""
        module = getattr(self.models, name)
        return module.module if isinstance(module, nn.parallel.DistributedDataParallel) else module

    def averaged_networks(self) -> dict[str, nn.Module]:
        """The networks a weight average follows: all but the discriminator."""
        return {name: self.network(name) for name in self.models.networks() if name != "discriminator"}


# The trainer's random streams (make_rngs). data_order and mixing are the same on every DDP
# rank (the DistributedSampler splits one order; a step mixes the whole global batch or none
# of it); the others differ per rank, as each rank holds other samples. A stream's seed
# depends on its position here: add new streams at the end, or old seeds draw differently.
RNG_STREAMS = ("data_order", "mixing", "cutmix_box", "equivariance_warp", "region_dropout")


SHARED_ACROSS_RANKS = ("data_order", "mixing")


def make_rngs(seed: int, rank: int = 0) -> dict[str, torch.Generator]:
    """One CPU ``torch.Generator`` per random concern of training, seeded from (seed, stream, rank):

        data_order         the DataLoader's shuffle and worker seeds (DDP: the DistributedSampler
                           shuffles with train_params.seed and the epoch itself)
        mixing             whether a discriminator step mixes (``adversaries.UNetAdversary``)
        cutmix_box         the CutMix boxes (``prioritycut.make_mask``)
        equivariance_warp  the random TPS of the equivariance losses (``losses.equivariance_losses``;
                           TPSMM's ``tpsmm_losses.tps_equivariance_loss``)
        region_dropout     the dropped keypoint regions (``dense_motion.region_softmax``; TPSMM's
                           dropped transformations, ``tpsmm.dense_motion.tps_dropout_softmax``)

    The streams are independent of each other (numpy's SeedSequence spreads the seeds), so a
    regularizer that draws CutMix boxes moves no other stream. Returns {name: generator}.
    """
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"train_params.seed must be an integer >= 0, got {seed!r}")
    if isinstance(rank, bool) or not isinstance(rank, int) or rank < 0:
        raise ValueError(f"the process rank must be an integer >= 0, got {rank!r}")
    rngs = {}
    for number, name in enumerate(RNG_STREAMS):
        stream_rank = 0 if name in SHARED_ACROSS_RANKS else rank
        stream_seed = np.random.SeedSequence([seed, number, stream_rank]).generate_state(1, np.uint64)[0]
        rngs[name] = torch.Generator().manual_seed(int(stream_seed))
    return rngs


def build_reconstruction_loss(train_params: dict, num_channels: int) -> nn.Module:
    """VGG19 perceptual pyramid (FOMM) and/or the pixel pyramid, as the loss weights say."""
    weights = train_params["loss_weights"]
    terms = []
    if sum(weights["perceptual"]) != 0:
        terms.append(L.PerceptualPyramidLoss(train_params["scales"], weights["perceptual"],
                                             train_params["perceptual_weights"], num_channels))
    if weights["pixel_pyramid"] != 0:
        terms.append(L.PixelPyramidLoss(train_params["scales"], weights["pixel_pyramid"], num_channels,
                                        weights["pixel_pyramid_moving"]))
    if not terms:
        raise ValueError("no reconstruction loss: set train_params.loss_weights.perceptual or pixel_pyramid")
    return nn.ModuleList(terms)


def cosine_factor(epoch: int, warmup: int, epochs: int) -> float:
    """The factor on the configured learning rate during ``epoch`` (0-based) of the cosine schedule:
    (epoch + 1) / warmup over the first ``warmup`` epochs, then half a cosine from 1 down towards 0
    at ``epochs``."""
    if epoch < warmup:
        return (epoch + 1) / warmup
    return 0.5 * (1 + math.cos(math.pi * (epoch - warmup) / (epochs - warmup)))


def step_factor(epoch: int, warmup: int, milestones: list[int]) -> float:
    """The factor on the configured learning rate during ``epoch`` (0-based) of the step schedule
    with a warm-up: (epoch + 1) / warmup over the first ``warmup`` epochs, times 0.1 for each
    milestone reached (MultiStepLR's drops)."""
    rise = (epoch + 1) / warmup if epoch < warmup else 1.0
    return rise * 0.1 ** sum(1 for milestone in milestones if milestone <= epoch)


def learning_rate_schedule(optimizer: torch.optim.Optimizer, train_params: dict):
    """The per-epoch schedule of train_params.lr_schedule: "step", x0.1 at each of epoch_milestones
    (FOMM's; after lr_warmup_epochs of linear rise when it is set: :func:`step_factor`), or
    "cosine" (:func:`cosine_factor`)."""
    if train_params["lr_schedule"] == "step" and not train_params["lr_warmup_epochs"]:
        return torch.optim.lr_scheduler.MultiStepLR(optimizer, train_params["epoch_milestones"], gamma=0.1)
    if train_params["lr_schedule"] == "step":
        factor = functools.partial(step_factor, warmup=train_params["lr_warmup_epochs"],
                                   milestones=list(train_params["epoch_milestones"]))
        return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
    factor = functools.partial(cosine_factor, warmup=train_params["lr_warmup_epochs"],
                               epochs=train_params["num_epochs"])
    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def build_trainer(config: dict, device: torch.device, group: ProcessGroup | None = None,
                  baseline_step: bool = False) -> Trainer:
    """Networks (fresh weights from the global RNG: call ``seed_everything`` first), optimizers,
    schedulers, losses and the random streams of ``config`` (``make_rngs(train_params.seed, rank)``).

    baseline_step: FOMM's straightforward step (``Trainer.baseline_step``) with its Adam, which
    updates one parameter tensor after another; otherwise Adam's fused kernel (one call for all
    tensors of a network, on CPU and CUDA: the same update to float rounding)."""
    group = group or ProcessGroup()
    train_params = config["train_params"]
    regularizer = RegularizerConfig.from_dict(config["regularizer"])
    check_combinations(config)             # also for a config dict changed after load_config
    backbone = config["backbone"]
    if backbone == "tpsmm" and group.distributed:
        raise ValueError("multi-process (DDP) training runs backbone: fomm only; train backbone: tpsmm in one process")
    models = build_models(config["model_params"], backbone=backbone).to(device)
    if train_params["channels_last"]:
        for module in models.networks().values():
            module.to(memory_format=torch.channels_last)
    if group.distributed:
        for name, module in models.networks().items():
            if device.type == "cuda":
                module = nn.SyncBatchNorm.convert_sync_batchnorm(module)
            ids = [device.index] if device.type == "cuda" else None
            setattr(models, name, nn.parallel.DistributedDataParallel(module, device_ids=ids))
    # Adam with beta1 = 0.5 as FOMM (and most GANs): a shorter momentum memory keeps the
    # generator and discriminator from overshooting each other (train_params.adam_beta1).
    betas = (train_params["adam_beta1"], 0.999)
    learning_rates = {"generator": train_params["lr_generator"], "kp_detector": train_params["lr_kp_detector"],
                      "discriminator": train_params["lr_discriminator"]}
    # the discriminator only trains when the generator has an adversarial term
    adversarial = train_params["loss_weights"]["generator_gan"] != 0
    fused = True if not baseline_step and device.type in ("cpu", "cuda") else None
    if backbone == "tpsmm":          # TPSMM's two optimizers (weight decay, one for the background)
        optimizers = build_tpsmm_optimizers(models, train_params, fused, betas)
        trained = ["discriminator"] if adversarial else []
    else:
        trained = [n for n in models.networks() if n != "discriminator" or adversarial]
        optimizers = {}
    optimizers.update({name: torch.optim.Adam(getattr(models, name).parameters(), lr=learning_rates[name],
                                              betas=betas, fused=fused)
                       for name in trained})
    schedulers = {name: learning_rate_schedule(opt, train_params) for name, opt in optimizers.items()}
    reconstruction = build_reconstruction_loss(train_params, config["model_params"]["common_params"]["num_channels"])
    if train_params["channels_last"]:
        # the VGG19 of the perceptual loss sees the generator's channels_last images: with its weights
        # in the other layout every convolution reordered them (about 2% of a vox-256 step, profiled)
        reconstruction.to(memory_format=torch.channels_last)
    precision, precision_note = resolve_mixed_precision(train_params["mixed_precision"], device)
    if precision == "fp16" and device.type != "cuda":
        raise ValueError("train_params.mixed_precision=fp16 needs CUDA; use bf16 or none on the CPU")
    autocast_dtype = {"none": None, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]
    trainer = Trainer(config, models, optimizers, schedulers, reconstruction.to(device), regularizer, device, group,
                      autocast_dtype=autocast_dtype, baseline_step=baseline_step,
                      rngs=make_rngs(train_params["seed"], group.rank), precision_note=precision_note)
    if trainer.adversarial:
        trainer.adversary = build_adversary(trainer)
    if train_params["ema_decay"] > 0:
        trainer.weight_average = WeightAverage(trainer.averaged_networks(), train_params["ema_decay"])
    return trainer
