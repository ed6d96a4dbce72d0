"""The trainer: FOMM's reconstruction training plus an adversarial phase with CutMix or PriorityCut.

One training step (``train_step``):
  1. generator step: keypoints of source and driving, the generated frame, then
         L_G = reconstruction (VGG19 or pixel pyramid) + equivariance (value, jacobian)
               + generator_gan * adversarial (+ feature matching: the patch D's feature maps or
                 the U-Net D's encoder features, real vs generated);
  2. discriminator step (only when generator_gan != 0):
         patch D:  LSGAN, real -> 1, fake -> 0;
         U-Net D:  BCE on the encoder logit and every decoder pixel, and, with probability
                   p(epoch) (linear warm-up), a mixed image x_mix = M x + (1 - M) G with
                   encoder(x_mix) -> 0, decoder(x_mix) -> M and the consistency loss
                   (regularizer.mixed_round_weights: how the plain real/fake terms weigh on
                   plain and mixed steps, ``losses.unet_plain_loss_factor``; all_ones_masks:
                   whether a mask that mixes in nothing trains as fake, ``losses.unet_mixed_loss``).
     M is the PriorityCut mask (top-k most occluded foreground pixels show the generated
     frame) or a CutMix box.
The adversarial terms of both updates live in one object per discriminator kind
(``pcutlib.adversaries``: PatchAdversary, UNetAdversary). ``train`` reads as setup
(``setup_run``), epochs (``train_epoch``) and the end of each epoch (``end_epoch``:
schedules, checkpoints, figures). Everything that varies lives in the config
(``pcutlib.config``); the run folder layout is DESIGN.md section 9.

Randomness: every random draw of a step comes from a private stream of the trainer
(``Trainer.rngs``, see :func:`make_rngs`), one per concern: data order, mixing decision,
CutMix box, equivariance warp, region dropout; each training item draws from its own seed
(``pcutlib.data.item_rng``). So two runs with one seed that differ only in the regularizer see
the same batches, warps and dropouts at every step. Checkpoints (``pcutlib.checkpoints``)
keep the streams' states, so a resumed run draws what the uninterrupted one would have.
"""
from __future__ import annotations

import json
import os
import random
import time
import warnings
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DataLoader, DistributedSampler

from . import losses as L
from .checkpoints import generator_states, initialise_from, load_training_checkpoint, save_training_checkpoint
from .config import save_config
from .models import Models, build_models
from .adversaries import Adversary, Mixing, build_adversary
from .regularizers import RegularizerConfig


# --------------------------------------------------------------------------- device and processes

def choose_device(requested: str | None = None) -> torch.device:
    """``requested`` ("cpu", "cuda", "cuda:1") or the best available: CUDA, else CPU."""
    if requested in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(requested)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {requested!r} requested but CUDA is not available")
    return device


def cpus_busy_elsewhere(seconds: float = 0.25) -> float:
    """How many CPUs other processes keep busy, sampled over ``seconds`` (Linux /proc/stat; 0 elsewhere)."""
    def busy_and_total():
        with open("/proc/stat") as f:
            values = [int(v) for v in f.readline().split()[1:]]
        idle = values[3] + values[4]                           # idle + iowait
        return sum(values) - idle, sum(values)
    try:
        busy0, total0 = busy_and_total()
        own0, wall0 = sum(os.times()[:2]), time.perf_counter()
        time.sleep(seconds)
        busy1, total1 = busy_and_total()
        own1, wall1 = sum(os.times()[:2]), time.perf_counter()
    except OSError:
        return 0.0
    cpus = os.cpu_count() or 1
    busy_cpus = cpus * (busy1 - busy0) / max(total1 - total0, 1)
    return max(0.0, busy_cpus - (own1 - own0) / (wall1 - wall0))


def choose_cpu_threads() -> int:
    """Intra-op threads for CPU training: the CPUs this process may use, minus those other
    processes keep busy, at least 1. OMP_NUM_THREADS wins when set.

    Measured on 2 cores: with another training beside it, a synthetic-64 step took 7.2 s with
    2 threads and 0.5 s with 1 (two processes x 2 OpenMP threads on 2 cores spin against each
    other); alone, 2 threads are the faster choice.
    """
    if os.environ.get("OMP_NUM_THREADS"):
        return torch.get_num_threads()
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(cpus, cpus - round(cpus_busy_elsewhere())))


@contextmanager
def threads_for_free_cpus(device: torch.device | str = "cpu", say=print):
    """Inside the block, torch computes with ``choose_cpu_threads()`` intra-op threads on a CPU
    device (restored after). For any long CPU work (training, evaluation): measured during an
    experiment, evaluating a held-out video took 1.1 s alone and 31 s with 2 threads while
    another process kept one core busy."""
    threads = torch.get_num_threads()
    chosen = choose_cpu_threads() if torch.device(device).type == "cpu" else threads
    if chosen != threads:
        say(f"CPU busy with other work: computing with {chosen} thread(s) instead of {threads} "
            f"(set OMP_NUM_THREADS to choose)")
        torch.set_num_threads(chosen)
    try:
        yield chosen
    finally:
        torch.set_num_threads(threads)


@dataclass
class ProcessGroup:
    """Where this process sits in a torchrun launch (world size 1 without torchrun)."""
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def init_distributed(device: torch.device) -> ProcessGroup:
    """Join the process group that torchrun describes in RANK/WORLD_SIZE/LOCAL_RANK (gloo on CPU)."""
    if "WORLD_SIZE" not in os.environ or int(os.environ["WORLD_SIZE"]) == 1:
        return ProcessGroup()
    group = ProcessGroup(int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"]), int(os.environ["LOCAL_RANK"]))
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return group


def finish_distributed() -> None:
    """Leave the process group (all ranks together, so none tears down while another still talks)."""
    if dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


# --------------------------------------------------------------------------- the pieces of a run

@dataclass
class Trainer:
    """Everything a training step needs; built by :func:`build_trainer`."""
    config: dict
    models: Models
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
    # True: the step in FOMM's straightforward order and with its Adam, without pcut's shortcuts
    # that give the same numbers (set by build_trainer(..., baseline_step=True): the optimizers
    # are built for it; benchmarks/train_step.py's baseline; tests/test_training.py checks equality)
    baseline_step: bool = False
    # one private random stream per concern (make_rngs), saved in training checkpoints
    rngs: dict[str, torch.Generator] = field(default_factory=dict)
    # the adversarial half of the step (pcutlib.adversaries); build_trainer sets it when
    # adversarial, and the step asks only whether it is there
    adversary: Adversary | None = None

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
        cutmix_box         the CutMix boxes (``regularizers.make_mask``)
        equivariance_warp  the random TPS of the equivariance losses (``losses.equivariance_losses``)
        region_dropout     the dropped keypoint regions (``dense_motion.region_softmax``)

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


def gather_rank_rngs(trainer: Trainer) -> list[dict]:
    """The states of every rank's streams, indexed by rank (a collective: call it on all ranks)."""
    own = generator_states(trainer.rngs)
    if not trainer.group.distributed:
        return [own]
    gathered = [None] * trainer.group.world_size
    dist.all_gather_object(gathered, own)
    return gathered


def build_reconstruction_loss(train_params: dict, num_channels: int) -> nn.Module:
    """VGG19 perceptual pyramid (FOMM) and/or the pixel pyramid, as the loss weights say."""
    weights = train_params["loss_weights"]
    terms = []
    if sum(weights["perceptual"]) != 0:
        terms.append(L.PerceptualPyramidLoss(train_params["scales"], weights["perceptual"],
                                             train_params["perceptual_weights"], num_channels))
    if weights["pixel_pyramid"] != 0:
        terms.append(L.PixelPyramidLoss(train_params["scales"], weights["pixel_pyramid"], num_channels))
    if not terms:
        raise ValueError("no reconstruction loss: set train_params.loss_weights.perceptual or pixel_pyramid")
    return nn.ModuleList(terms)


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
    kind = config["model_params"]["discriminator_params"]["kind"]
    if regularizer.type != "none" and kind != "unet":
        raise ValueError(f"regularizer.type={regularizer.type!r} needs the U-Net discriminator: set "
                         f"model_params.discriminator_params.kind: unet (got {kind!r})")
    if regularizer.type != "none" and train_params["loss_weights"]["generator_gan"] == 0:
        raise ValueError(f"regularizer.type={regularizer.type!r} acts on the discriminator, which only trains "
                         f"when train_params.loss_weights.generator_gan != 0")
    dropout = train_params["region_dropout"]
    if not (0 <= dropout["start"] < 1 and 0 <= dropout["max"] < 1 and dropout["ramp_epochs"] >= 0):
        raise ValueError(f"train_params.region_dropout needs start and max in [0, 1) and ramp_epochs >= 0, "
                         f"got {dropout}")
    gap = train_params["frame_gap"]
    if gap["start"] != 0 and not (1 <= gap["start"] <= gap["end"] and gap["ramp_epochs"] >= 1):
        raise ValueError(f"train_params.frame_gap needs 1 <= start <= end and ramp_epochs >= 1 (or start 0: off), "
                         f"got {gap}")
    models = build_models(config["model_params"]).to(device)
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
    # generator and discriminator from overshooting each other.
    learning_rates = {"generator": train_params["lr_generator"], "kp_detector": train_params["lr_kp_detector"],
                      "discriminator": train_params["lr_discriminator"]}
    # the discriminator only trains when the generator has an adversarial term
    trained = [n for n in models.networks() if n != "discriminator" or train_params["loss_weights"]["generator_gan"] != 0]
    fused = True if not baseline_step and device.type in ("cpu", "cuda") else None
    optimizers = {name: torch.optim.Adam(getattr(models, name).parameters(), lr=learning_rates[name],
                                         betas=(0.5, 0.999), fused=fused) for name in trained}
    # learning rates drop x0.1 at each milestone epoch, as FOMM
    schedulers = {name: torch.optim.lr_scheduler.MultiStepLR(opt, train_params["epoch_milestones"], gamma=0.1)
                  for name, opt in optimizers.items()}
    reconstruction = build_reconstruction_loss(train_params, config["model_params"]["common_params"]["num_channels"])
    if train_params["channels_last"]:
        # the VGG19 of the perceptual loss sees the generator's channels_last images: with its weights
        # in the other layout every convolution reordered them (about 2% of a vox-256 step, profiled)
        reconstruction.to(memory_format=torch.channels_last)
    precision = train_params["mixed_precision"]
    if precision not in ("none", "bf16", "fp16"):
        raise ValueError(f"train_params.mixed_precision must be none, bf16 or fp16, got {precision!r}")
    if precision == "fp16" and device.type != "cuda":
        raise ValueError("train_params.mixed_precision=fp16 needs CUDA; use bf16 or none on the CPU")
    autocast_dtype = {"none": None, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]
    trainer = Trainer(config, models, optimizers, schedulers, reconstruction.to(device), regularizer, device, group,
                      autocast_dtype=autocast_dtype, baseline_step=baseline_step,
                      rngs=make_rngs(train_params["seed"], group.rank))
    if trainer.adversarial:
        trainer.adversary = build_adversary(trainer)
    return trainer


# --------------------------------------------------------------------------- one step

def autocast(trainer: Trainer):
    if trainer.autocast_dtype is None:
        return nullcontext()
    return torch.autocast(trainer.device.type, dtype=trainer.autocast_dtype)


def region_dropout_probability(schedule: dict, epoch_float: float) -> float:
    """The region dropout probability at a (fractional) epoch: linear from schedule["start"] to
    schedule["max"] over schedule["ramp_epochs"], 0 from schedule["until_epoch"] on."""
    if epoch_float >= schedule["until_epoch"]:
        return 0.0
    ramp = min(1.0, epoch_float / schedule["ramp_epochs"]) if schedule["ramp_epochs"] > 0 else 1.0
    return schedule["start"] + (schedule["max"] - schedule["start"]) * ramp


def equivariance_ramp(warmup_epochs: float, epoch_float: float) -> float:
    """Factor on the equivariance weights: 0 -> 1 linearly over warmup_epochs (0: always 1)."""
    return min(1.0, epoch_float / warmup_epochs) if warmup_epochs > 0 else 1.0


def max_frame_gap(schedule: dict, epoch: int) -> int | None:
    """The largest frame distance of a training pair in this epoch (None: any two frames):
    linear from schedule["start"] to schedule["end"] over schedule["ramp_epochs"]."""
    if schedule["start"] == 0 or epoch >= schedule["ramp_epochs"]:
        return None
    return round(schedule["start"] + (schedule["end"] - schedule["start"]) * epoch / schedule["ramp_epochs"])


def generate(trainer: Trainer, source, driving, epoch_float: float = 0.0) -> dict:
    """The generator's outputs (keypoints added) for source, driving (B, 3, H, W); draws the
    region dropout from the trainer's stream."""
    models = trainer.models
    dropout = region_dropout_probability(trainer.config["train_params"]["region_dropout"], epoch_float)
    # the keypoint detector stays float32 under autocast: with it in bf16, synthetic-64 learned 3.3
    # distinct keypoints of 10 instead of 6.2 (README, Benchmarks)
    kp_source = models.kp_detector(source)
    kp_driving = models.kp_detector(driving)
    with autocast(trainer):
        warmup = epoch_float < trainer.config["train_params"]["occlusion_warmup_epochs"]
        generated = models.generator(source, kp_source=kp_source, kp_driving=kp_driving, region_dropout=dropout,
                                     apply_occlusion=not warmup, dropout_rng=trainer.rngs["region_dropout"])
    generated.update(kp_source=kp_source, kp_driving=kp_driving)
    return generated


def generator_losses(trainer: Trainer, source, driving, epoch_float: float = 0.0) -> tuple[dict, dict]:
    """L_G and the generator's outputs (keypoints added) for one batch: source, driving (B, 3, H, W).

    Draws the region dropout and the equivariance warp from the trainer's streams."""
    models, weights = trainer.models, trainer.config["train_params"]["loss_weights"]
    generated = generate(trainer, source, driving, epoch_float)
    kp_driving = generated["kp_driving"]
    prediction = generated["prediction"].float()
    losses = {"reconstruction": sum(term(prediction, driving) for term in trainer.reconstruction_loss)}
    ramp = equivariance_ramp(trainer.config["train_params"]["equivariance_warmup_epochs"], epoch_float)
    equivariance, _ = L.equivariance_losses(
        models.kp_detector, driving, {k: v.float() for k, v in kp_driving.items()},
        trainer.config["train_params"]["transform_params"], ramp * weights["equivariance_value"],
        ramp * weights["equivariance_jacobian"], generator=trainer.rngs["equivariance_warp"])
    losses.update(equivariance)
    if trainer.adversary is not None:
        losses.update(trainer.adversary.generator_losses(prediction, driving, kp_driving))
    return losses, generated


class StepResult(NamedTuple):
    """What one training step gives back (unpacks as ``losses, generated, mixing``)."""
    losses: dict[str, float]      # every loss term of both updates, as floats
    generated: dict               # the generator's outputs (prediction (B,3,H,W), occlusion_map, ...,
    #                               kp_source, kp_driving)
    mixing: Mixing                # what the discriminator step mixed (nothing when not adversarial)


def train_step(trainer: Trainer, batch: dict, epoch_float: float) -> StepResult:
    """One generator update and (when adversarial) one discriminator update; the discriminator
    update only during the discriminator warm-up and on the steps between two generator updates
    (``Trainer.generator_updates``).

    batch: {"source": (B,3,H,W), "driving": (B,3,H,W)}; epoch_float: the fractional epoch
    (schedules of region dropout, equivariance, mixing).
    """
    memory_format = torch.channels_last if trainer.config["train_params"]["channels_last"] else torch.preserve_format
    source = batch["source"].to(trainer.device, memory_format=memory_format)
    driving = batch["driving"].to(trainer.device, memory_format=memory_format)

    if not trainer.generator_updates(epoch_float):
        g_losses = {}
        with torch.no_grad():                       # the generator as it is: no losses, no update
            generated = generate(trainer, source, driving, epoch_float)
    else:
        for name in ("generator", "kp_detector"):
            trainer.optimizers[name].zero_grad(set_to_none=True)
        g_losses, generated = generator_losses(trainer, source, driving, epoch_float)
        sum(g_losses.values()).backward()
        trainer.optimizers["generator"].step()
        trainer.optimizers["kp_detector"].step()

    d_losses, mixing = {}, Mixing()
    if trainer.adversary is not None:
        trainer.optimizers["discriminator"].zero_grad(set_to_none=True)
        d_losses, mixing = trainer.adversary.discriminator_losses(driving, generated, epoch_float)
        sum(d_losses.values()).backward()
        trainer.optimizers["discriminator"].step()
    values = {name: float(value.detach()) for name, value in {**g_losses, **d_losses}.items()}
    return StepResult(values, generated, mixing)


# --------------------------------------------------------------------------- the loop

def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def make_dataloader(config: dict, group: ProcessGroup, dataset=None,
                    generator: torch.Generator | None = None) -> DataLoader:
    """The training loader: ``dataset`` (default: the config's FramesDataset) x num_repeats, in
    batches of train_params.batch_size, shuffled by ``generator`` (the trainer's data_order
    stream; None: torch's global RNG), or split across ranks by a DistributedSampler under DDP.
    The items' own randomness is the dataset's (``train`` seeds a FramesDataset's items per epoch).
    """
    from .data import DatasetRepeater, FramesDataset

    train_params = config["train_params"]
    if dataset is None:
        dataset = FramesDataset.from_config(config["dataset_params"], is_train=True)
    dataset = DatasetRepeater(dataset, train_params["num_repeats"])
    batch_size = train_params["batch_size"]
    if len(dataset) < batch_size * group.world_size:
        raise ValueError(f"{len(dataset)} training items (x num_repeats) cannot fill one batch of "
                         f"batch_size={batch_size} on {group.world_size} process(es)")
    sampler = (DistributedSampler(dataset, group.world_size, group.rank, shuffle=True, drop_last=True,
                                  seed=train_params["seed"]) if group.distributed else None)
    workers = train_params["num_workers"]
    return DataLoader(dataset, batch_size=batch_size, shuffle=sampler is None, sampler=sampler,
                      drop_last=True, num_workers=workers, persistent_workers=False,
                      pin_memory=torch.cuda.is_available(), generator=generator)


def append_log(path: Path, row: dict) -> None:
    with open(path, "a") as f:
        f.write(json.dumps(row) + "\n")


def truncate_log(path: Path, last_step: int) -> None:
    """Drop log rows past the checkpoint we resume from (they will be recomputed), and a last
    row torn by a kill mid-write (with a warning)."""
    if not path.exists():
        return
    lines = [line for line in path.read_text().splitlines() if line.strip()]
    rows = []
    for number, line in enumerate(lines, 1):
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            if number == len(lines):
                warnings.warn(f"{path}: dropping a torn last line (the run was killed while writing it)")
                continue
            raise ValueError(f"{path}: line {number} is not JSON ({line[:60]!r}); the log is damaged") from None
        if row["step"] <= last_step:
            rows.append(line)
    path.write_text("".join(row + "\n" for row in rows))


def remove_partial_files(checkpoint_dir: Path) -> list[Path]:
    """Delete temporary files that a kill during atomic_save left behind; returns them."""
    partial = sorted(checkpoint_dir.glob(".*.tmp")) if checkpoint_dir.is_dir() else []
    for path in partial:
        path.unlink()
    return partial


def check_finite(values: dict, trainer: Trainer, checkpoint: Path) -> None:
    """Stop the run at the first non-finite loss, naming the step and the loss."""
    bad = {name: value for name, value in values.items() if not np.isfinite(value)}
    if bad:
        kept = f"the last finite checkpoint {checkpoint} is kept" if checkpoint.exists() else "no checkpoint was written"
        raise FloatingPointError(f"training diverged at step {trainer.step + 1} (epoch {trainer.epoch + 1}): "
                                 f"{', '.join(f'{k} = {v}' for k, v in bad.items())}; {kept}. Lower the learning "
                                 f"rates (train_params.lr_*) and resume or restart.")


def check_finite_weights(trainer: Trainer, checkpoint: Path) -> None:
    """Never save a checkpoint whose weights are not finite."""
    for name in trainer.models.networks():
        for key, tensor in trainer.network(name).state_dict().items():
            if tensor.is_floating_point() and not torch.isfinite(tensor).all():
                raise FloatingPointError(f"training diverged by step {trainer.step} (epoch {trainer.epoch}): {name}.{key} "
                                         f"holds non-finite values although every loss was finite (see the losses "
                                         f"in log.jsonl); not saving, {checkpoint} stays as it was. Lower the "
                                         f"learning rates (train_params.lr_*) and resume or restart.")


def prepare_run_dir(run_dir: Path, resume: bool, overwrite: bool) -> None:
    """Refuse to train into a run folder that holds a run, unless resuming or overwriting (cleared)."""
    import shutil

    holds_run = (run_dir / "checkpoints").is_dir() or (run_dir / "log.jsonl").exists()
    if resume or not holds_run:
        return
    if not overwrite:
        raise FileExistsError(f"run folder {str(run_dir)!r} already holds a run; continue it with --resume, "
                              f"replace it with --overwrite, or choose another --name")
    shutil.rmtree(run_dir)


def continue_from(checkpoint: Path, run_dir: Path) -> None:
    """Make ``run_dir`` a run to resume (``train(..., resume=True)``) from another run's
    ``checkpoint`` (e.g. its epoch-N.pt): a copy of it as checkpoints/last.pt and of that run's
    log.jsonl (the resume drops the rows past the checkpoint's step)."""
    import shutil

    (run_dir / "checkpoints").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(checkpoint, run_dir / "checkpoints" / "last.pt")
    shutil.copyfile(Path(checkpoint).parent.parent / "log.jsonl", run_dir / "log.jsonl")


def train(config: dict, run_dir: str | Path, device: str | None = None, resume: bool = False,
          init_from: str | Path | None = None, progress: bool = True, dataset=None,
          stop_after_steps: int | None = None, overwrite: bool = False, tensorboard: bool = False) -> Path:
    """Train as ``config`` says and write the run folder; returns the path of checkpoints/last.pt.

    resume: continue from ``run_dir/checkpoints/last.pt`` exactly (models, optimizers,
    schedulers, epoch, step, RNG states and the trainer's random streams). init_from: a
    checkpoint whose keypoint detector and generator weights start this run; the discriminator
    starts fresh from this run's seed, never from the checkpoint (``checkpoints.initialise_from``).
    stop_after_steps: stop early (tests, profiling).
    overwrite: clear a run folder that already holds a run (otherwise that is an error).
    tensorboard: also log losses, learning rates and per-epoch images to ``run_dir/tensorboard``
    (``pcutlib.tensorboard_writer``; log.jsonl stays the record).
    A non-finite loss or weight stops the run with FloatingPointError; no checkpoint is
    overwritten by a non-finite one. On the CPU the thread count leaves room for other work
    (``choose_cpu_threads``) and denormal floats are flushed to zero; both are restored afterwards.
    """
    device = choose_device(device)
    # Denormal floats (below 1.2e-38) take a slow path on x86 CPUs. The keypoint heatmaps and
    # Gaussians (exp of large negative numbers) fill up with them as the keypoints sharpen (a
    # synthetic-64 step took 0.20 s early in a 10,000-step run and 0.38 s late in it); from
    # that run's last checkpoint an iteration took 276 ms with them flushed to zero and 324 ms
    # without (benchmarks/training_iteration.py --init-from CHECKPOINT).
    flush = device.type == "cpu" and torch.set_flush_denormal(True)
    try:
        with threads_for_free_cpus(device):
            return _train(config, run_dir, device, resume, init_from, progress, dataset, stop_after_steps,
                          overwrite, tensorboard)
    finally:
        if flush:
            torch.set_flush_denormal(False)


@dataclass
class Run:
    """A training run's surroundings: its folder, log, loader and optional TensorBoard writer."""
    trainer: Trainer
    run_dir: Path
    loader: DataLoader
    board: object | None = None          # a TensorBoardWriter, or None
    progress: bool = True

    @property
    def checkpoint_dir(self) -> Path:
        return self.run_dir / "checkpoints"

    @property
    def log_path(self) -> Path:
        return self.run_dir / "log.jsonl"


def _train(config, run_dir, device, resume, init_from, progress, dataset, stop_after_steps, overwrite,
           tensorboard) -> Path:
    run = setup_run(config, Path(run_dir), device, resume, init_from, progress, dataset, overwrite, tensorboard)
    trainer, num_epochs = run.trainer, config["train_params"]["num_epochs"]
    trainer.models.train()
    try:
        while trainer.epoch < num_epochs:
            last_step = train_epoch(run, stop_after_steps)
            if stop_after_steps is not None and trainer.step >= stop_after_steps:
                break       # a partial epoch is not checkpointed: resume repeats it exactly
            end_epoch(run, last_step)
    finally:
        if run.board is not None:
            run.board.close()
        if trainer.group.distributed and dist.is_initialized():
            dist.barrier()
    return run.checkpoint_dir / "last.pt"


def setup_run(config, run_dir: Path, device, resume, init_from, progress, dataset, overwrite, tensorboard) -> Run:
    """Processes, run folder, trainer (resumed, initialised from a checkpoint, or fresh), loader."""
    group = init_distributed(device)
    if device.type == "cuda" and group.distributed:
        device = torch.device("cuda", group.local_rank)
        torch.cuda.set_device(device)
    if group.is_main:
        prepare_run_dir(run_dir, resume, overwrite)
    seed_everything(config["train_params"]["seed"] + group.rank)
    trainer = build_trainer(config, device, group)
    checkpoint_dir = run_dir / "checkpoints"
    if resume:
        last = checkpoint_dir / "last.pt"
        if not last.exists():
            raise FileNotFoundError(f"--resume: no checkpoint at {last}")
        load_training_checkpoint(trainer, last)
        if group.is_main:
            truncate_log(run_dir / "log.jsonl", trainer.step)
            for partial in remove_partial_files(checkpoint_dir):
                print(f"resume: removed {partial.name}, a checkpoint left half-written by an interrupted run")
    elif init_from is not None:
        initialise_from(trainer, Path(init_from))
    board = None
    if group.is_main:
        (run_dir / "vis").mkdir(parents=True, exist_ok=True)
        save_config(config, run_dir / "config.yaml")
        if tensorboard:
            from .tensorboard_writer import TensorBoardWriter
            board = TensorBoardWriter(run_dir / "tensorboard")
    loader = make_dataloader(config, group, dataset, generator=trainer.rngs["data_order"])
    trainer.steps_per_epoch = len(loader)
    return Run(trainer, run_dir, loader, board, progress)


def train_epoch(run: Run, stop_after_steps: int | None = None) -> tuple | None:
    """The steps of epoch ``trainer.epoch`` (or up to ``stop_after_steps``), logged every
    log_every steps. Returns the last (batch, generated, mixing) for the epoch's figures."""
    from tqdm.auto import tqdm

    trainer, config = run.trainer, run.trainer.config
    epoch, num_epochs = trainer.epoch, config["train_params"]["num_epochs"]
    if isinstance(run.loader.sampler, DistributedSampler):
        run.loader.sampler.set_epoch(epoch)
    frames = getattr(run.loader.dataset, "dataset", None)      # DatasetRepeater -> FramesDataset
    if hasattr(frames, "max_frame_gap"):
        frames.max_frame_gap = max_frame_gap(config["train_params"]["frame_gap"], epoch)
    if hasattr(frames, "item_seed"):                            # each item's seed: (seed, epoch, repeat, index)
        frames.item_seed, frames.epoch = config["train_params"]["seed"], epoch
    bar = tqdm(run.loader, desc=f"epoch {epoch + 1}/{num_epochs}",
               disable=not (run.progress and trainer.group.is_main), leave=False, dynamic_ncols=True)
    last_step = None
    for i, batch in enumerate(bar):
        started = time.perf_counter()
        values, generated, mixing = train_step(trainer, batch, epoch + i / trainer.steps_per_epoch)
        check_finite(values, trainer, run.checkpoint_dir / "last.pt")
        trainer.step += 1
        last_step = (batch, generated, mixing)
        if trainer.group.is_main and trainer.step % config["train_params"]["log_every"] == 0:
            append_log(run.log_path, {"step": trainer.step, "epoch": epoch + 1, **values, "mixed": mixing.mixed,
                                      "empty_foreground": mixing.empty_foreground,
                                      "seconds": round(time.perf_counter() - started, 4)})
            if run.board is not None:
                run.board.scalars(trainer.step, values, trainer.optimizers)
        bar.set_postfix({k: f"{v:.3g}" for k, v in values.items()}, refresh=False)
        if stop_after_steps is not None and trainer.step >= stop_after_steps:
            break
    return last_step


def end_epoch(run: Run, last_step: tuple | None) -> None:
    """Learning-rate schedules, checkpoints (epoch-N.pt, then last.pt), figures and loss plot."""
    from .visualize import plot_losses, save_training_visualization

    trainer, train_params = run.trainer, run.trainer.config["train_params"]
    trainer.epoch += 1
    with warnings.catch_warnings():
        # the schedules count epochs, also those in which an optimizer took no step (the
        # generator's during the discriminator warm-up): torch's order warning does not apply
        warnings.filterwarnings("ignore", message=r"Detected call of `lr_scheduler.step\(\)` before")
        for scheduler in trainer.schedulers.values():
            scheduler.step()
    rank_rngs = gather_rank_rngs(trainer)                   # every rank takes part (DDP)
    if not trainer.group.is_main:
        return
    last = run.checkpoint_dir / "last.pt"
    check_finite_weights(trainer, last)
    final = trainer.epoch == train_params["num_epochs"]
    # epoch-N.pt before last.pt: a kill between the two repeats this epoch on resume and
    # writes epoch-N.pt again, instead of losing it
    if trainer.epoch % train_params["checkpoint_freq"] == 0 or final:
        save_training_checkpoint(trainer, run.checkpoint_dir / f"epoch-{trainer.epoch}.pt", rank_rngs)
    save_training_checkpoint(trainer, last, rank_rngs)
    figures = trainer.epoch % train_params["visualize_every"] == 0 or final
    if last_step is not None and figures:
        save_training_visualization(run.run_dir / "vis" / f"epoch-{trainer.epoch}.png", *last_step,
                                    regularizer=trainer.regularizer)
    if last_step is not None and run.board is not None:
        run.board.epoch_images(trainer.epoch, *last_step)
    if figures:
        plot_losses(run.log_path, run.run_dir / "loss.png")
