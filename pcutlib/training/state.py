"""A training run's state on disk: networks, optimizers, schedulers, epoch, step and every random
stream, saved so that a resumed run continues exactly; and starting a run from another's networks.
"""
from __future__ import annotations

import contextlib
import random
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.distributed as dist

from pcutlib.checkpoints.files import atomic_save, checkpoint_dict, load_state_strict, network_states, safe_torch_load
from pcutlib.training.weight_average import WeightAverage

if TYPE_CHECKING:                      # only the type hint: the state needs no trainer code
    from pcutlib.training.trainer import Trainer

def rng_state() -> dict:
    """This process's global random states (torch, CUDA, Python, numpy), stored as tensors and
    plain values so that ``torch.load(weights_only=True)`` reads them back."""
    numpy_state = np.random.get_state()
    return {"torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
            "python": random.getstate(),
            "numpy": {"key": torch.from_numpy(numpy_state[1].astype(np.int64)), "pos": int(numpy_state[2]),
                      "has_gauss": int(numpy_state[3]), "cached_gaussian": float(numpy_state[4])}}


def set_rng_state(state: dict) -> None:
    """Restore what :func:`rng_state` saved."""
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    n = state["numpy"]
    np.random.set_state(("MT19937", n["key"].numpy().astype(np.uint32), n["pos"], n["has_gauss"],
                         n["cached_gaussian"]))


def generator_states(rngs: dict[str, torch.Generator]) -> dict[str, torch.Tensor]:
    """{name: state} of private generators (``Trainer.rngs``); each state a uint8 tensor."""
    return {name: generator.get_state() for name, generator in rngs.items()}


def set_generator_states(rngs: dict[str, torch.Generator], states: dict[str, torch.Tensor], source: str) -> None:
    """Restore what :func:`generator_states` saved into ``rngs`` (in place: a DataLoader holding
    one of them sees the restored state). A stream that ``source`` lacks keeps its fresh seed,
    with a warning (the resume is then not exact); a stream that this run lacks is an error."""
    unknown = sorted(set(states) - set(rngs))
    if unknown:
        raise ValueError(f"{source} holds random streams {unknown} that this trainer does not have "
                         f"(it has {sorted(rngs)})")
    missing = sorted(set(rngs) - set(states))
    if missing:
        warnings.warn(f"{source} holds no state for the random streams {missing} (an older checkpoint); "
                      f"they start from train_params.seed, so the resumed run draws differently", stacklevel=3)
    for name, state in states.items():
        rngs[name].set_state(state.cpu())


def gather_rank_rngs(trainer: Trainer) -> list[dict]:
    """The states of every rank's streams, indexed by rank (a collective: call it on all ranks)."""
    own = generator_states(trainer.rngs)
    if not trainer.group.distributed:
        return [own]
    gathered = [None] * trainer.group.world_size
    dist.all_gather_object(gathered, own)
    return gathered


# --------------------------------------------------------------------------- training checkpoints

def scheduler_state(scheduler) -> dict:
    """A schedule's state without MultiStepLR's Counter of milestones (rebuilt from the config)."""
    return {k: v for k, v in scheduler.state_dict().items() if k != "milestones"}


def schedule_factor(scheduler) -> float:
    """The factor a schedule applies to the configured learning rate now (its last epoch)."""
    if isinstance(scheduler, torch.optim.lr_scheduler.LambdaLR):
        return scheduler.lr_lambdas[0](scheduler.last_epoch)
    return scheduler.gamma ** sum(1 for m in scheduler.milestones.elements() if m <= scheduler.last_epoch)


def save_training_checkpoint(trainer: Trainer, path: str | Path, rank_rngs: list[dict] | None = None) -> None:
    """Everything to resume exactly: networks, optimizers, schedulers, epoch, step, this process's
    global random states (``rng``) and the trainer's private streams of every rank (``trainer_rngs``,
    a list indexed by rank).

    rank_rngs: ``generator_states(trainer.rngs)`` of each rank, gathered by the caller under DDP
    (:func:`gather_rank_rngs`); None: this process's alone (one process).
    """
    networks = {name: trainer.network(name).state_dict() for name in trainer.models.networks()}
    average = {} if trainer.weight_average is None else {"weight_average": trainer.weight_average.state_dicts()}
    state = checkpoint_dict(trainer.config, networks, **average, epoch=trainer.epoch, step=trainer.step,
                            optimizers={n: o.state_dict() for n, o in trainer.optimizers.items()},
                            schedulers={n: scheduler_state(s) for n, s in trainer.schedulers.items()},
                            rng=rng_state(),
                            trainer_rngs=rank_rngs if rank_rngs is not None else [generator_states(trainer.rngs)])
    atomic_save(state, path)


def load_training_checkpoint(trainer: Trainer, path: str | Path) -> None:
    """Restore what :func:`save_training_checkpoint` wrote into ``trainer`` (and the global random
    states). A learning rate changed in this run's config since is applied, with a note."""
    state = safe_torch_load(path, map_location=trainer.device)
    for name in trainer.models.networks():
        load_state_strict(trainer.network(name), state[name], name, f"{path}'s config.model_params")
    say_generator_change(trainer.models.networks().get("generator"), state.get("config"), path)
    for name, optimizer in trainer.optimizers.items():
        saved = state["optimizers"][name]
        # this run's Adam kernel (fused or one tensor at a time), whichever wrote the checkpoint
        kernels = [{key: group.get(key) for key in ("fused", "foreach")} for group in optimizer.param_groups]
        saved = {**saved, "param_groups": [{**group, **kernel} for group, kernel in zip(saved["param_groups"], kernels)]}
        optimizer.load_state_dict(saved)
    for name, scheduler in trainer.schedulers.items():
        merged = scheduler.state_dict()
        configured = merged["base_lrs"]                       # this run's config
        merged.update(state["schedulers"][name])
        scheduler.load_state_dict(merged)
        if scheduler.base_lrs != configured:                  # a learning rate changed on resume: apply it
            print(f"resume: lr_{name} changed from {scheduler.base_lrs[0]:g} to {configured[0]:g}; applying it")
            scheduler.base_lrs = list(configured)
            for group, base in zip(trainer.optimizers[name].param_groups, configured):
                group["initial_lr"], group["lr"] = base, base * schedule_factor(scheduler)
    if trainer.weight_average is None and "weight_average" in state:
        print(f"resume: {path} keeps a weight average, but train_params.ema_decay is 0 here: it is dropped, and "
              f"this run's checkpoints stand for the trained weights")
    if trainer.weight_average is not None:
        if "weight_average" in state:
            trainer.weight_average.load_state_dicts(state["weight_average"])
        else:
            print(f"resume: {path} keeps no weight average; it starts from the networks' weights now")
            trainer.weight_average = WeightAverage(trainer.averaged_networks(), trainer.weight_average.decay)
    trainer.epoch, trainer.step = state["epoch"], state["step"]
    set_rng_state({k: (v.cpu() if torch.is_tensor(v) else v) for k, v in state["rng"].items()})
    rank_rngs = state.get("trainer_rngs", [])
    rank, world_size = trainer.group.rank, trainer.group.world_size
    if rank_rngs and len(rank_rngs) != world_size:
        warnings.warn(f"{path} was written by {len(rank_rngs)} process(es), this run has {world_size}: "
                      f"the random streams start from train_params.seed, so the resumed run draws differently",
                      stacklevel=2)
    else:
        set_generator_states(trainer.rngs, rank_rngs[rank] if rank_rngs else {}, str(path))


def initialise_from(trainer: Trainer, path: str | Path) -> None:
    """Start from another run's keypoint detector and generator (e.g. adversarial fine-tuning of a
    reconstruction run); for TPSMM its four networks.

    Only those networks are loaded; a checkpoint of the other backbone is refused, naming both. The discriminator keeps the fresh weights that
    ``build_trainer`` drew after ``seed_everything(train_params.seed + rank)``, whatever the
    checkpoint holds: so variants and seeds that fine-tune one checkpoint start from their own
    seed's discriminator (one seed, one start), not from the checkpoint's one (often never
    trained, as a reconstruction run's, and then shared by every variant and seed). Optimizers,
    schedulers, epoch and step start anew.
    """
    state = safe_torch_load(path, map_location=trainer.device)
    theirs = state["config"].get("backbone", "fomm") if isinstance(state.get("config"), dict) else "fomm"
    if theirs != trainer.backbone:
        raise ValueError(f"{path} holds a backbone: {theirs} model, but this config trains backbone: "
                         f"{trainer.backbone}; start from a {trainer.backbone} checkpoint or use a {theirs} config")
    states = network_states(state)                 # its averaged weights where it keeps them
    for name in (n for n in trainer.models.networks() if n != "discriminator"):
        if name not in states:
            raise ValueError(f"{path} holds no '{name}' state dict (keys: {sorted(state)})")
        with dense_motion_at_saved_scale(trainer.network(name), state.get("config"), path):
            load_state_strict(trainer.network(name), states[name], name, f"{path}'s config.model_params")
    say_generator_change(trainer.models.networks().get("generator"), state.get("config"), path)
    if trainer.weight_average is not None:         # the average starts from the weights the run starts from
        trainer.weight_average = WeightAverage(trainer.averaged_networks(), trainer.weight_average.decay)


@contextlib.contextmanager
def dense_motion_at_saved_scale(network: torch.nn.Module, config: dict | None, path: str | Path):
    """Within: FOMM's dense motion network of ``network`` (a generator) at the scale the checkpoint
    at ``path`` was saved with, so that its weights load; after: back at this config's scale, its
    convolutions kept (they apply at any size), said in one line. Other networks pass through."""
    dense_motion = getattr(network, "dense_motion_network", None)
    params = ((config or {}).get("model_params", {}).get("generator_params", {}).get("dense_motion_params") or {})
    saved = params.get("scale_factor")
    if (dense_motion is None or not hasattr(dense_motion, "set_scale_factor") or saved is None
            or saved == dense_motion.scale_factor):
        yield
        return
    wanted = dense_motion.scale_factor
    dense_motion.set_scale_factor(saved)
    try:
        yield
    finally:
        dense_motion.set_scale_factor(wanted)
    print(f"the dense motion network of {path} was trained at scale_factor {saved:g}: it runs at {wanted:g} "
          f"here (this config's), its weights kept")


def say_generator_change(generator: torch.nn.Module | None, config: dict | None, path: str | Path) -> None:
    """One line per FOMM generator flag (``aligned_resize``, ``keep_visible_source``) that this run
    sets otherwise than the checkpoint at ``path`` was trained with: they change no weight."""
    if generator is None or not hasattr(generator, "aligned_resize"):
        return
    params = (config or {}).get("model_params", {}).get("generator_params") or {}
    for key, what in (("aligned_resize", "it resizes its flow and occlusion map with"),
                      ("keep_visible_source", "it keeps the warped source where O is high:")):
        saved, here = bool(params.get(key, False)), getattr(generator, key)
        if saved != here:
            print(f"the generator of {path} was trained with {key} {str(saved).lower()}: {what} "
                  f"{str(here).lower()} here (this config's)")
