"""TPSMM's four networks from its ``model_params``, and its state dicts loaded into them.

TPSMM's config (``config/vox-256.yaml``) has ``common_params`` (num_tps, num_channels, bg,
multi_mask), ``generator_params`` (the inpainting network), ``dense_motion_params`` and
``avd_network_params`` (the animation-via-disentanglement network, not built here). Its
checkpoints hold one state dict per network under ``kp_detector``, ``bg_predictor`` (when bg),
``dense_motion_network`` and ``inpainting_network``; pcut's modules use TPSMM's parameter
names, so they load strictly, by name.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch
from torch import nn

from pcutlib.models.bundle import NetworkBundle
from pcutlib.models.tpsmm.bg_motion import BackgroundMotionPredictor
from pcutlib.models.tpsmm.dense_motion import TPSDenseMotionNetwork
from pcutlib.models.tpsmm.inpainting import InpaintingNetwork
from pcutlib.models.tpsmm.keypoint_detector import TPSKeypointDetector

# section -> {key: required?}; a key not listed is refused
PARAMS = {
    "common_params": {"num_tps": True, "num_channels": True, "bg": False, "multi_mask": False},
    "generator_params": {"block_expansion": True, "max_features": True, "num_down_blocks": True},
    "dense_motion_params": {"block_expansion": True, "max_features": True, "num_blocks": True,
                            "scale_factor": False, "kp_variance": False},
    "avd_network_params": None,     # accepted and ignored: AVD is not implemented
}


@dataclass
class TPSMMNetworks(NetworkBundle):
    """TPSMM's networks; ``bg_predictor`` is None without ``common_params.bg``."""
    kp_detector: TPSKeypointDetector
    dense_motion_network: TPSDenseMotionNetwork
    inpainting_network: InpaintingNetwork
    bg_predictor: BackgroundMotionPredictor | None = None

    def networks(self) -> dict[str, nn.Module]:
        """{checkpoint name: module}, in TPSMM's names; bg_predictor only when present."""
        named = {"kp_detector": self.kp_detector, "bg_predictor": self.bg_predictor,
                 "dense_motion_network": self.dense_motion_network, "inpainting_network": self.inpainting_network}
        return {name: module for name, module in named.items() if module is not None}


def check_tpsmm_params(model_params: dict) -> None:
    """Raise a ValueError naming the first unknown, missing or mistyped key of ``model_params``."""
    if not isinstance(model_params, dict):
        raise ValueError(f"model_params must be a mapping, got {type(model_params).__name__}")
    for section, value in model_params.items():
        if section not in PARAMS:
            raise ValueError(f"unknown key 'model_params.{section}' for TPSMM (known: {', '.join(PARAMS)})")
        if PARAMS[section] is None:
            continue
        if not isinstance(value, dict):
            raise ValueError(f"'model_params.{section}' must be a mapping, got {value!r}")
        for key in value:
            if key not in PARAMS[section]:
                raise ValueError(f"unknown key 'model_params.{section}.{key}' for TPSMM "
                                 f"(known: {', '.join(PARAMS[section])})")
    for section, keys in PARAMS.items():
        for key, required in (keys or {}).items():
            if required and key not in model_params.get(section, {}):
                raise ValueError(f"'model_params.{section}.{key}' is required for TPSMM")


def build_tpsmm(model_params: dict) -> TPSMMNetworks:
    """model_params (TPSMM's yaml layout) -> TPSMMNetworks with fresh weights, in training mode."""
    check_tpsmm_params(model_params)
    common = model_params["common_params"]
    num_tps, num_channels = common["num_tps"], common["num_channels"]
    bg, multi_mask = common.get("bg", False), common.get("multi_mask", True)
    return TPSMMNetworks(
        kp_detector=TPSKeypointDetector(num_tps=num_tps, num_channels=num_channels),
        dense_motion_network=TPSDenseMotionNetwork(**model_params["dense_motion_params"], num_tps=num_tps,
                                                   num_channels=num_channels, bg=bg, multi_mask=multi_mask),
        inpainting_network=InpaintingNetwork(**model_params["generator_params"], num_channels=num_channels,
                                             multi_mask=multi_mask),
        bg_predictor=BackgroundMotionPredictor(num_channels=num_channels) if bg else None)


def load_state_dict_strict(module: nn.Module, state_dict: dict, name: str) -> None:
    """module.load_state_dict(strict=True), with a ValueError naming every missing, unexpected or
    misshaped key as ``name.key``. A 'module.' prefix ((Distributed)DataParallel) is removed."""
    state_dict = {(k[len("module."):] if k.startswith("module.") else k): v for k, v in state_dict.items()}
    own = module.state_dict()
    problems = [f"missing key '{name}.{key}'" for key in own if key not in state_dict]
    problems += [f"unexpected key '{name}.{key}'" for key in state_dict if key not in own]
    problems += [f"key '{name}.{key}' has shape {tuple(value.shape)} in the checkpoint but "
                 f"{tuple(own[key].shape)} in the model" for key, value in state_dict.items()
                 if key in own and tuple(value.shape) != tuple(own[key].shape)]
    if problems:
        more = f"\n  ... and {len(problems) - 10} more" if len(problems) > 10 else ""
        raise ValueError(f"the state dict does not fit TPSMM's {name} (check model_params):\n  "
                         + "\n  ".join(problems[:10]) + more)
    module.load_state_dict(state_dict, strict=True)


def load_tpsmm_state_dicts(networks: TPSMMNetworks, state_dicts: dict) -> TPSMMNetworks:
    """Load {"kp_detector": ..., "bg_predictor": ..., "dense_motion_network": ...,
    "inpainting_network": ...} (TPSMM's names and keys) into ``networks``, strictly. Other entries
    (optimizers, epoch, avd_network) are ignored. Returns ``networks``."""
    for name, module in networks.networks().items():
        if name not in state_dicts:
            raise ValueError(f"no '{name}' state dict (found: {sorted(state_dicts)})")
        load_state_dict_strict(module, state_dicts[name], name)
    if networks.bg_predictor is None and "bg_predictor" in state_dicts:
        raise ValueError("the checkpoint has a 'bg_predictor' but model_params.common_params.bg is false")
    return networks


def load_tpsmm_checkpoint(checkpoint, model_params: dict, device="cpu") -> TPSMMNetworks:
    """Build TPSMM's networks from ``model_params`` and load a checkpoint into them.

    checkpoint: a path to TPSMM's ``.pth.tar`` (read with weights_only=True) or the loaded dict.
    Returns the networks in eval mode on ``device``.
    """
    if isinstance(checkpoint, (str, os.PathLike)):
        checkpoint = torch.load(checkpoint, map_location="cpu", weights_only=True)
    if not isinstance(checkpoint, dict):
        raise ValueError(f"a TPSMM checkpoint is a dict of state dicts, got {type(checkpoint).__name__}")
    networks = load_tpsmm_state_dicts(build_tpsmm(model_params), checkpoint)
    return networks.to(device).eval()
