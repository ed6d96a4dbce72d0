"""TPSMM's checkpoints (``.pth.tar`` with kp_detector, bg_predictor, dense_motion_network,
inpainting_network, avd_network and optimizer states) into pcut's TPSMM networks.

pcut's TPSMM modules use TPSMM's parameter names, so each state dict loads strictly, by name,
through the same safe reader as FOMM's (``files.safe_torch_load``: weights only, never pickled
code); a key that does not fit is named with the config value that decides its shape.
``avd_network`` and the optimizer states are not used (docs/tpsmm.md).
"""
from __future__ import annotations

import os

from pcutlib.checkpoints.files import load_state_strict, safe_torch_load
from pcutlib.models.tpsmm.build import TPSMMModels, build_tpsmm


def load_tpsmm_state_dicts(networks: TPSMMModels, state_dicts: dict) -> TPSMMModels:
    """Load {"kp_detector": ..., "bg_predictor": ..., "dense_motion_network": ...,
    "inpainting_network": ...} (TPSMM's names and keys) into ``networks``, strictly; a
    discriminator is loaded when ``networks`` has one. Other entries (optimizers, epoch,
    avd_network) are ignored. Returns ``networks``."""
    if not isinstance(state_dicts, dict):
        raise ValueError(f"a TPSMM checkpoint is a dict of state dicts, got {type(state_dicts).__name__}")
    if networks.bg_predictor is None and "bg_predictor" in state_dicts:
        raise ValueError("the checkpoint has a 'bg_predictor' but model_params.common_params.bg is false")
    for name, module in networks.networks().items():
        if name not in state_dicts:
            raise ValueError(f"the checkpoint has no '{name}' state dict (found: {sorted(state_dicts)})")
        load_state_strict(module, state_dicts[name], name, "model_params")
    return networks


def load_tpsmm_checkpoint(checkpoint, model_params: dict, device="cpu") -> TPSMMModels:
    """Build TPSMM's networks from ``model_params`` (TPSMM's yaml layout) and load a checkpoint.

    checkpoint: a path to TPSMM's ``.pth.tar`` or the loaded dict. Returns the networks (no
    discriminator) in eval mode on ``device``.
    """
    if isinstance(checkpoint, (str, os.PathLike)):
        checkpoint = safe_torch_load(checkpoint)
    networks = load_tpsmm_state_dicts(build_tpsmm(model_params), checkpoint)
    return networks.to(device).eval()
