"""FOMM's checkpoints (``.pth.tar`` with kp_detector, generator, discriminator state dicts) into pcut's networks.

FOMM's key names are pcut's (the layers are built to match), so a FOMM checkpoint loads
strictly; a key that does not fit is named with the config value that decides its shape.
"""
from __future__ import annotations

import os

from pcutlib.checkpoints.files import load_state_strict, safe_torch_load
from pcutlib.models.build import Models, build_models


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
