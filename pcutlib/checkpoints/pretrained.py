"""The small synthetic-world model that ships with the repository, for notebooks and Binder.

``pretrained/synthetic-64.pt`` is a pcut checkpoint (keypoint detector, generator and U-Net
discriminator, weights stored as float16 to stay small): ``synthetic-64`` trained for
reconstruction 5.6x as long as the demo (``pcut calibrate small-motion+full-res-long``,
10,000 steps), then the demo's PriorityCut fine-tune. The commands are listed in the README
("The shipped model").

:func:`load_pretrained` loads it, or trains a quick stand-in when the file is missing.
"""
from __future__ import annotations

from pathlib import Path

from pcutlib import paths
from pcutlib.checkpoints.files import NETWORK_NAMES, atomic_save, checkpoint_dict, load_models, safe_torch_load
from pcutlib.models.build import Models

# Found by pcutlib.paths when this module is imported (a clone, else the package's shipped
# copy; data/ under the clone, else under the working directory).
REPOSITORY = paths.repository_root()
PRETRAINED_PATH = paths.pretrained_path()
SYNTHETIC_ROOT = paths.synthetic_root()


def ensure_synthetic_data(root: str | Path = SYNTHETIC_ROOT, videos: int = 200, frames: int = 32,
                          size: int = 64, seed: int = 0, progress: bool = True) -> Path:
    """The synthetic dataset at ``root``, generated first if it is not there."""
    from pcutlib.data.make_synthetic import make_synthetic_dataset

    root = Path(root)
    if not (root / "train").is_dir() or not (root / "test").is_dir():
        make_synthetic_dataset(root, videos=videos, frames=frames, size=size, seed=seed, progress=progress)
    return root


def export_pretrained(checkpoint: str | Path, out: str | Path | None = None) -> Path:
    """Keep only the config and the networks of a training checkpoint, as float16, in ``out``
    (default: pretrained/synthetic-64.pt of the clone, else of the working directory; never
    the copy inside an installed package)."""
    out = paths.pretrained_output_path() if out is None else out
    state = safe_torch_load(checkpoint)
    networks = {name: {k: (v.half() if v.is_floating_point() else v) for k, v in state[name].items()}
                for name in NETWORK_NAMES if name in state}
    atomic_save(checkpoint_dict(state["config"], networks, epoch=state.get("epoch"), source=str(checkpoint)), out)
    return Path(out)


def load_pretrained(path: str | Path = PRETRAINED_PATH, train_if_missing: bool = True, device="cpu",
                    epochs: int = 6, progress: bool = True) -> tuple[Models, dict]:
    """(Models in eval mode, resolved config) of the shipped model.

    When the file is missing and ``train_if_missing``, train a short stand-in (``epochs`` of
    reconstruction on the synthetic world, a few minutes on a CPU) and save it there.
    """
    path = Path(path)
    if not path.exists():
        if not train_if_missing:
            raise FileNotFoundError(f"no pretrained model at {path}; make it with `pcut demo` then "
                                    f"`pcut export-pretrained`, or call load_pretrained(train_if_missing=True)")
        from pcutlib.config import load_config
        from pcutlib.training.loop import train

        config = load_config("synthetic-64")
        config["dataset_params"]["root_dir"] = str(ensure_synthetic_data(progress=progress))
        config["train_params"]["num_epochs"] = epochs
        run_dir = paths.runs_folder() / "pretrained-stand-in"
        last = train(config, run_dir, device=device, progress=progress, overwrite=True)
        export_pretrained(last, path)
    models, checkpoint = load_models(path, device=device)
    return models, checkpoint["config"]


def pretrained_summary(path: str | Path = PRETRAINED_PATH) -> dict:
    """Size and provenance of the shipped model (for the README and notebooks)."""
    state = safe_torch_load(path)
    parameters = {name: sum(v.numel() for v in state[name].values())
                  for name in ("kp_detector", "generator", "discriminator") if name in state}
    return {"path": str(path), "megabytes": round(Path(path).stat().st_size / 2 ** 20, 2),
            "epoch": state.get("epoch"), "parameters": parameters,
            "regularizer": state["config"]["regularizer"]["type"]}

