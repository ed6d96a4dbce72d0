"""Checkpoint files: reading them safely, writing them atomically, pcut's one layout.

One layout for every pcut checkpoint (:func:`checkpoint_dict`): ``format`` ("pcut-1"),
``config`` (the resolved config), one state dict per network (FOMM: ``kp_detector``,
``generator``, ``discriminator``; TPSMM: ``kp_detector``, ``bg_predictor``,
``dense_motion_network``, ``inpainting_network``, ``discriminator``, TPSMM's own names), plus what the writer adds: a training checkpoint the
epoch, step, optimizers, schedulers and random states (enough to resume exactly), the
shipped model its epoch and source.

Security: checkpoints are downloaded from mirrors, so every file is read with
``torch.load(..., weights_only=True)``, which never runs pickled code. A file that needs
arbitrary unpickling is refused.
"""
from __future__ import annotations

import os
import pickle
import re
import tempfile
from pathlib import Path

import torch

from pcutlib.models.build import Models, build_models
from pcutlib.models.tpsmm.build import TPSMMModels

CHECKPOINT_FORMAT = "pcut-1"
NETWORK_NAMES = ("kp_detector", "generator", "discriminator", "bg_predictor", "dense_motion_network",
                 "inpainting_network")

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
    # TPSMM's networks
    (r"^kp_detector\.fg_encoder\.fc\.", "common_params.num_tps"),
    (r"^bg_predictor\.", "common_params.bg and num_channels"),
    (r"^dense_motion_network\.occlusion", "common_params.multi_mask and generator_params.num_down_blocks"),
    (r"^dense_motion_network\.", "dense_motion_params and common_params.num_tps"),
    (r"^inpainting_network\.", "generator_params (block_expansion, max_features, num_down_blocks)"),
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

    networks: state dicts by name (a subset of NETWORK_NAMES);
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


def save_models(path: str | Path, models: Models | TPSMMModels, config: dict, **extra) -> None:
    """Save pcut's checkpoint: the resolved config plus each network's state dict (and ``extra``)."""
    networks = {name: module.state_dict() for name, module in models.networks().items()}
    atomic_save(checkpoint_dict(config, networks, **extra), path)


def checkpoint_backbone(checkpoint: dict) -> str:
    """The backbone a pcut checkpoint was trained with ("fomm" for files written before the key)."""
    return checkpoint["config"].get("backbone", "fomm")


def network_states(checkpoint: dict) -> dict[str, dict]:
    """The state dict of each network a checkpoint holds, the averaged weights where it keeps a
    weight average (``train_params.ema_decay``; ``training.weight_average``) in place of the
    trained ones: the model a checkpoint stands for."""
    averaged = checkpoint.get("weight_average") or {}      # also holds "updates", not a network
    return {name: averaged.get(name, checkpoint[name]) for name in NETWORK_NAMES if name in checkpoint}


def load_models(path: str | Path, device="cpu", with_discriminator: bool = True) -> tuple[Models | TPSMMModels, dict]:
    """Rebuild the networks of a pcut checkpoint, FOMM's or TPSMM's as its config says (the
    averaged weights where it keeps a weight average: ``network_states``).
    Returns (Models or TPSMMModels in eval mode, checkpoint dict)."""
    checkpoint = safe_torch_load(path)
    if checkpoint.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path} is not a pcut checkpoint (no format {CHECKPOINT_FORMAT!r}); import FOMM's and "
                         f"TPSMM's checkpoints with: pcut import-checkpoint --backbone fomm|tpsmm --config CONFIG "
                         f"--checkpoint {path} --out model.pt")
    model_params = checkpoint["config"]["model_params"]
    with_discriminator = with_discriminator and "discriminator" in checkpoint
    models = build_models(model_params, with_discriminator=with_discriminator, backbone=checkpoint_backbone(checkpoint))
    states = network_states(checkpoint)
    for name, module in models.networks().items():
        load_state_strict(module, states[name], name, f"{path}'s config.model_params")
    return models.to(device).eval(), checkpoint
