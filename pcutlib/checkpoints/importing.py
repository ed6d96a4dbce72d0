"""FOMM's and TPSMM's published checkpoints turned into pcut checkpoints, so that every command
(reconstruct, animate, evaluate, diagnose, train --init-from, experiment) takes them.

    pcut import-checkpoint --config tpsmm-vox-256 --checkpoint vox.pth.tar --out runs/tpsmm-vox/model.pt

The file is read with the safe loader (weights only), its networks are built from the config's
``model_params`` and loaded strictly (a key that does not fit is named with the config value
that decides it), and a pcut checkpoint is written with that config. A checkpoint of one
backbone given with a config of the other is refused, naming both.
"""
from __future__ import annotations

from pathlib import Path

from pcutlib.checkpoints.files import CHECKPOINT_FORMAT, safe_torch_load, save_models
from pcutlib.checkpoints.fomm import load_fomm_checkpoint
from pcutlib.checkpoints.tpsmm import load_tpsmm_checkpoint
from pcutlib.paths import refuse_to_replace

# a network only one backbone's checkpoints hold
MARKERS = {"fomm": "generator", "tpsmm": "inpainting_network"}


def checkpoint_kind(checkpoint: dict) -> str:
    """"pcut", "fomm" or "tpsmm": whose layout a loaded checkpoint has (ValueError when none)."""
    if checkpoint.get("format") == CHECKPOINT_FORMAT:
        return "pcut"
    for backbone, marker in MARKERS.items():
        if marker in checkpoint:
            return backbone
    raise ValueError(f"neither a FOMM nor a TPSMM checkpoint: no 'generator' or 'inpainting_network' state dict "
                     f"(keys: {sorted(checkpoint)[:12]})")


def import_checkpoint(source: str | Path, config: dict, out: str | Path, overwrite: bool = False) -> Path:
    """Read FOMM's or TPSMM's ``source``, load it into the networks of ``config`` (a resolved
    config whose ``backbone`` must be the checkpoint's) and write the pcut checkpoint ``out``."""
    out = Path(out)
    refuse_to_replace([out], overwrite)
    checkpoint = safe_torch_load(source)
    kind = checkpoint_kind(checkpoint)
    backbone = config["backbone"]
    if kind == "pcut":
        raise ValueError(f"{source} is already a pcut checkpoint; give it to the commands as it is")
    if kind != backbone:
        raise ValueError(f"{source} holds {kind.upper()}'s networks ({MARKERS[kind]}, ...), but the config is "
                         f"backbone: {backbone}; use a {kind} config (e.g. "
                         f"{'vox-256' if kind == 'fomm' else 'tpsmm-vox-256'})")
    if backbone == "tpsmm":
        models = load_tpsmm_checkpoint(checkpoint, config["model_params"])
    else:
        models = load_fomm_checkpoint(checkpoint, config["model_params"])
    extra = {"epoch": checkpoint["epoch"]} if isinstance(checkpoint.get("epoch"), int) else {}
    save_models(out, models, config, imported_from=str(source), **extra)
    return out
