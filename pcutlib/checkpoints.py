"""Checkpoints: importing FOMM's, saving and loading pcut's, and a training run's state.

One layout for every pcut checkpoint (:func:`checkpoint_dict`): ``format`` ("pcut-1"),
``config`` (the resolved config), one state dict per network (``kp_detector``,
``generator``, ``discriminator``), plus what the writer adds: a training checkpoint the
epoch, step, optimizers, schedulers and random states (enough to resume exactly), the
shipped model its epoch and source.

Security: checkpoints are downloaded from mirrors, so every file is read with
``torch.load(..., weights_only=True)``, which never runs pickled code. A file that needs
arbitrary unpickling is refused.
"""
from __future__ import annotations

import os
import pickle
import random
import re
import tempfile
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from .models import Models, build_models

if TYPE_CHECKING:                      # training imports this module; only the type hint goes back
    from .training import Trainer

CHECKPOINT_FORMAT = "pcut-1"
NETWORK_NAMES = ("kp_detector", "generator", "discriminator")

# Which config value decides the shape (or presence) of a parameter, by key pattern.
CONFIG_HINTS = [
    (r"^kp_detector\.(kp|jacobian)\.", "common_params.num_kp, common_params.estimate_jacobian, "
                                      "kp_detector_params.single_jacobian_map"),
    (r"^kp_detector\.", "kp_detector_params (block_expansion, max_features, num_blocks, scale_factor)"),
    (r"^generator\.dense_motion_network\.occlusion", "generator_params.estimate_occlusion_map"),
    (r"^generator\.dense_motion_network\.", "generator_params.dense_motion_params and common_params.num_kp"),
    (r"^generator\.bottleneck\.", "generator_params.num_bottleneck_blocks"),
    (r"^generator\.", "generator_params (block_expansion, max_features, num_down_blocks)"),
    (r"^discriminator\.discs\.([^.]+)\.", "discriminator_params.scales"),
    (r"^discriminator\..*weight_(orig|u|v)$", "discriminator_params.sn"),
    (r"^discriminator\..*down_blocks\.0\.", "discriminator_params.use_kp and common_params.num_kp"),
    (r"^discriminator\.", "discriminator_params (block_expansion, max_features, num_blocks, sn, kind)"),
]


def config_hint(key: str) -> str:
    for pattern, hint in CONFIG_HINTS:
        if re.search(pattern, key):
            return hint
    return "model_params"


class CheckpointError(ValueError):
    """A checkpoint file that cannot be used: unreadable, truncated, or refused as unsafe."""


def _unpickling_reason(error: Exception) -> str:
    """The useful part of torch's weights_only refusal, e.g. 'unsupported GLOBAL posix.system'."""
    text = str(error)
    found = re.search(r"unsupported GLOBAL ([\w.]+)", text, re.IGNORECASE)
    if found:
        return f"unsupported GLOBAL {found.group(1)}"
    for line in text.splitlines():
        if "WeightsUnpickler error" in line:
            return line.split("WeightsUnpickler error:", 1)[-1].strip().rstrip(".")
    useful = [line for line in text.splitlines() if line.strip() and "weights_only" not in line]
    return useful[0].strip() if useful else type(error).__name__


def safe_torch_load(source, map_location="cpu") -> dict:
    """torch.load with weights_only=True; a file that needs arbitrary unpickling is refused.

    Errors are one line naming the file: FileNotFoundError, or CheckpointError for a file that
    is not a readable PyTorch checkpoint (truncated, text, corrupt zip) or is refused as unsafe.
    """
    if isinstance(source, (str, os.PathLike)) and Path(source).is_dir():
        raise CheckpointError(f"checkpoint {str(source)!r} is a folder; give the .pt/.pth.tar file inside it")
    try:
        return torch.load(source, map_location=map_location, weights_only=True)
    except FileNotFoundError:
        raise FileNotFoundError(f"checkpoint not found: {source}") from None
    except pickle.UnpicklingError as error:
        raise CheckpointError(
            f"refusing to load {source}: it holds objects that only arbitrary unpickling can build, which "
            f"could run code; pcut reads plain tensors and containers only (refused: {_unpickling_reason(error)})"
        ) from None
    except (RuntimeError, EOFError, IndexError, KeyError, OSError, ValueError, UnicodeDecodeError) as error:
        detail = str(error).splitlines()[0] if str(error) else ""
        raise CheckpointError(f"cannot read checkpoint {source}: not a PyTorch checkpoint, or truncated "
                              f"({type(error).__name__}: {detail})") from None


def strip_data_parallel(state_dict: dict) -> dict:
    """Remove the 'module.' prefix that (Distributed)DataParallel adds to every key."""
    return {(k[len("module."):] if k.startswith("module.") else k): v for k, v in state_dict.items()}


def load_state_strict(module: torch.nn.Module, state_dict: dict, name: str, params_name: str) -> None:
    """load_state_dict that names each missing, unexpected or misshaped key and the config to check."""
    state_dict = strip_data_parallel(state_dict)
    own = module.state_dict()
    problems = []
    for key in own:
        if key not in state_dict:
            problems.append(f"missing key '{name}.{key}' (check {config_hint(f'{name}.{key}')} in {params_name})")
        elif tuple(state_dict[key].shape) != tuple(own[key].shape):
            problems.append(f"key '{name}.{key}' has shape {tuple(state_dict[key].shape)} in the checkpoint "
                            f"but {tuple(own[key].shape)} in the model (check {config_hint(f'{name}.{key}')} "
                            f"in {params_name})")
    for key in state_dict:
        if key not in own:
            problems.append(f"unexpected key '{name}.{key}' (check {config_hint(f'{name}.{key}')} in {params_name})")
    if problems:
        shown = "\n  ".join(problems[:10])
        more = f"\n  ... and {len(problems) - 10} more" if len(problems) > 10 else ""
        raise ValueError(f"the checkpoint does not fit the configured {name}:\n  {shown}{more}")
    module.load_state_dict(state_dict, strict=True)


def load_fomm_checkpoint(checkpoint, model_params: dict, device="cpu",
                         with_discriminator: bool = True) -> Models:
    """Build models from FOMM's ``model_params`` and load a FOMM checkpoint into them.

    checkpoint: a path to FOMM's ``.pth.tar`` or the loaded dict with ``kp_detector``,
    ``generator`` and (optionally) ``discriminator`` state dicts, FOMM key names
    (spectral-norm weights as weight_orig/weight_u/weight_v; 'module.' prefixes allowed).
    Returns :class:`Models` in eval mode on ``device``.
    """
    if isinstance(checkpoint, (str, os.PathLike)):
        checkpoint = safe_torch_load(checkpoint)
    if not isinstance(checkpoint, dict):
        raise ValueError(f"a FOMM checkpoint is a dict of state dicts, got {type(checkpoint).__name__}")
    for name in ("kp_detector", "generator"):
        if name not in checkpoint:
            raise ValueError(f"the checkpoint has no '{name}' state dict (keys: {sorted(checkpoint)})")
    with_discriminator = with_discriminator and "discriminator" in checkpoint
    models = build_models(model_params, with_discriminator=with_discriminator)
    for name, module in models.networks().items():
        load_state_strict(module, checkpoint[name], name, "model_params")
    return models.to(device).eval()


def atomic_save(obj, path: str | Path) -> None:
    """torch.save to a temporary file in the same folder, then rename (never a half-written file)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(handle)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(temporary, 0o666 & ~umask)          # mkstemp makes 0600; give the usual permissions
    try:
        torch.save(obj, temporary)
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


def checkpoint_dict(config: dict, networks: dict[str, dict], **extra) -> dict:
    """The one layout of a pcut checkpoint:

        {"format": "pcut-1", "config": config, <network>: its state dict, ..., **extra}

    networks: state dicts by name (a subset of kp_detector, generator, discriminator);
    extra: whatever else the writer keeps (epoch, step, optimizers, ...). A name that would
    replace another entry is an error naming it.
    """
    unknown = sorted(set(networks) - set(NETWORK_NAMES))
    if unknown:
        raise ValueError(f"unknown network(s) {unknown} for a checkpoint; expected some of {NETWORK_NAMES}")
    clashes = sorted(set(extra) & (set(NETWORK_NAMES) | {"format", "config"}))
    if clashes:
        raise ValueError(f"checkpoint entries {clashes} are reserved (format, config and the networks)")
    return {"format": CHECKPOINT_FORMAT, "config": config, **networks, **extra}


def save_models(path: str | Path, models: Models, config: dict, **extra) -> None:
    """Save pcut's checkpoint: the resolved config plus each network's state dict (and ``extra``)."""
    networks = {name: module.state_dict() for name, module in models.networks().items()}
    atomic_save(checkpoint_dict(config, networks, **extra), path)


def load_models(path: str | Path, device="cpu", with_discriminator: bool = True) -> tuple[Models, dict]:
    """Rebuild the networks of a pcut checkpoint. Returns (Models in eval mode, checkpoint dict)."""
    checkpoint = safe_torch_load(path)
    if checkpoint.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path} is not a pcut checkpoint (no format {CHECKPOINT_FORMAT!r}); "
                         f"for FOMM's checkpoints use load_fomm_checkpoint(path, model_params)")
    model_params = checkpoint["config"]["model_params"]
    with_discriminator = with_discriminator and "discriminator" in checkpoint
    models = build_models(model_params, with_discriminator=with_discriminator)
    for name, module in models.networks().items():
        load_state_strict(module, checkpoint[name], name, f"{path}'s config.model_params")
    return models.to(device).eval(), checkpoint


# --------------------------------------------------------------------------- random states

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


# --------------------------------------------------------------------------- training checkpoints

def scheduler_state(scheduler) -> dict:
    """MultiStepLR's state without its Counter of milestones (rebuilt from the config)."""
    return {k: v for k, v in scheduler.state_dict().items() if k != "milestones"}


def save_training_checkpoint(trainer: Trainer, path: str | Path, rank_rngs: list[dict] | None = None) -> None:
    """Everything to resume exactly: networks, optimizers, schedulers, epoch, step, this process's
    global random states (``rng``) and the trainer's private streams of every rank (``trainer_rngs``,
    a list indexed by rank).

    rank_rngs: ``generator_states(trainer.rngs)`` of each rank, gathered by the caller under DDP
    (``training.gather_rank_rngs``); None: this process's alone (one process).
    """
    networks = {name: trainer.network(name).state_dict() for name in trainer.models.networks()}
    state = checkpoint_dict(trainer.config, networks, epoch=trainer.epoch, step=trainer.step,
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
            drops = sum(1 for m in scheduler.milestones.elements() if m <= scheduler.last_epoch)
            scheduler.base_lrs = list(configured)
            for group, base in zip(trainer.optimizers[name].param_groups, configured):
                group["initial_lr"], group["lr"] = base, base * scheduler.gamma ** drops
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
    reconstruction run).

    Only those two networks are loaded. The discriminator keeps the fresh weights that
    ``build_trainer`` drew after ``seed_everything(train_params.seed + rank)``, whatever the
    checkpoint holds: so variants and seeds that fine-tune one checkpoint start from their own
    seed's discriminator (one seed, one start), not from the checkpoint's one (often never
    trained, as a reconstruction run's, and then shared by every variant and seed). Optimizers,
    schedulers, epoch and step start anew.
    """
    state = safe_torch_load(path, map_location=trainer.device)
    for name in ("kp_detector", "generator"):
        if name not in state:
            raise ValueError(f"{path} holds no '{name}' state dict (keys: {sorted(state)})")
        load_state_strict(trainer.network(name), state[name], name, f"{path}'s config.model_params")
