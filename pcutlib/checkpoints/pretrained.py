"""The small synthetic-world model that ships with the repository, for notebooks and Binder.

``pretrained/synthetic-64.pt`` is a pcut checkpoint (keypoint detector, generator and U-Net
discriminator, weights stored as float16 to stay small): ``synthetic-64`` trained for
reconstruction 5.6x as long as the demo (``pcut calibrate small-motion+full-res-long``,
10,000 steps), then the demo's PriorityCut fine-tune. The commands are listed in docs/usage.md
("The shipped model"). Where the file is found: ``pcutlib.paths.pretrained_path``.

Training a stand-in when the file is missing is ``pcutlib.experiments.shipped_model``'s job.
"""
from __future__ import annotations

from pathlib import Path

from pcutlib import paths
from pcutlib.checkpoints.files import (NETWORK_NAMES, atomic_save, checkpoint_dict, load_models, network_states,
                                       safe_torch_load)
from pcutlib.models.build import Models


def export_pretrained(checkpoint: str | Path, out: str | Path | None = None) -> Path:
    """Keep only the config and the networks of a training checkpoint, as float16, in ``out``
    (default: pretrained/synthetic-64.pt of the clone, else of the working directory; never
    the copy inside an installed package)."""
    out = paths.pretrained_output_path() if out is None else out
    state = safe_torch_load(checkpoint)
    networks = {name: {k: (v.half() if v.is_floating_point() else v) for k, v in weights.items()}
                for name, weights in network_states(state).items()}          # the averaged weights, if kept
    atomic_save(checkpoint_dict(state["config"], networks, epoch=state.get("epoch"), source=str(checkpoint)), out)
    return Path(out)


def load_pretrained(path: str | Path | None = None, device="cpu") -> tuple[Models, dict]:
    """(Models in eval mode, resolved config) of the shipped model at ``path`` (default:
    ``paths.pretrained_path()``)."""
    path = paths.pretrained_path() if path is None else Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no pretrained model at {path}; make it with `pcut demo` then "
                                f"`pcut export-pretrained`, or train a stand-in with "
                                f"pcutlib.experiments.shipped_model.load_or_train_pretrained")
    models, checkpoint = load_models(path, device=device)
    return models, checkpoint["config"]


def pretrained_summary(path: str | Path | None = None) -> dict:
    """Size and provenance of the shipped model (for the README and notebooks)."""
    path = paths.pretrained_path() if path is None else Path(path)
    state = safe_torch_load(path)
    parameters = {name: sum(v.numel() for v in state[name].values())
                  for name in NETWORK_NAMES if name in state}
    return {"path": str(path), "megabytes": round(path.stat().st_size / 2 ** 20, 2),
            "epoch": state.get("epoch"), "parameters": parameters,
            "regularizer": state["config"]["regularizer"]["type"]}
