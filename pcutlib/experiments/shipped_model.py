"""The shipped model when it is not there: a short stand-in trained on the synthetic world, and a
seconds-long one (one training step) for tests and quick looks at the notebooks."""
from __future__ import annotations

import json
from pathlib import Path

from pcutlib import paths
from pcutlib.checkpoints.pretrained import export_pretrained, load_pretrained
from pcutlib.config import load_config
from pcutlib.data.make_synthetic import make_synthetic_dataset
from pcutlib.data.synthetic import World
from pcutlib.models.build import Models
from pcutlib.training.loop import train


def ensure_synthetic_data(root: str | Path | None = None, videos: int = 200, frames: int = 32,
                          size: int = 64, seed: int = 0, progress: bool = True, world: World | None = None) -> Path:
    """The synthetic dataset at ``root`` (default: ``paths.synthetic_root()``), generated first
    if it is not there (in ``world``; None: the flat ``World()``). With ``world`` given, a dataset
    already there must have been made in that world (its synthetic.json), else ValueError."""
    root = paths.synthetic_root() if root is None else Path(root)
    if not (root / "train").is_dir() or not (root / "test").is_dir():
        make_synthetic_dataset(root, videos=videos, frames=frames, size=size, seed=seed, progress=progress,
                               world=World() if world is None else world)
    elif world is not None:
        meta = root / "synthetic.json"
        found = World.from_record(json.loads(meta.read_text())) if meta.is_file() else None
        if found != world:
            raise ValueError(f"{root} holds {'no synthetic.json' if found is None else found}, expected a dataset of "
                             f"{world}: pass another folder, or remove this one to have it made")
    return root


def load_or_train_pretrained(path: str | Path | None = None, device="cpu", epochs: int = 6,
                             progress: bool = True) -> tuple[Models, dict]:
    """(Models in eval mode, resolved config) of the shipped model; when the file is missing,
    train a short stand-in first (``epochs`` of reconstruction on the synthetic world, a few
    minutes on a CPU), say so, and save it there."""
    path = paths.pretrained_path() if path is None else Path(path)
    if not path.exists():
        print(f"no model at {path}: training a {epochs}-epoch stand-in on the synthetic world and saving it there")
        config = load_config("synthetic-64")
        config["dataset_params"]["root_dir"] = str(ensure_synthetic_data(progress=progress))
        config["train_params"]["num_epochs"] = epochs
        last = train(config, paths.runs_folder() / "pretrained-stand-in", device=device, progress=progress,
                     overwrite=True)
        export_pretrained(last, path)
    return load_pretrained(path, device=device)


def tiny_pretrained(out_dir: str | Path, videos: int = 10, frames: int = 8, progress: bool = False) -> tuple:
    """A stand-in for ``pretrained/synthetic-64.pt`` made in seconds, for tests and quick looks.

    Writes a tiny synthetic dataset (64x64, ``videos`` videos of ``frames`` frames, 5
    identities) and trains the synthetic-64 model for a single step on it: the networks have the
    shipped model's shapes but have learnt nothing. Returns (pretrained path, data root); pass
    them to the notebooks as the papermill parameters ``pretrained_path`` and ``data_root``.
    """
    out_dir = Path(out_dir)
    data_root = make_synthetic_dataset(out_dir / "synthetic-64", videos=videos, frames=frames, size=64,
                                       identities=5, progress=progress, overwrite=True)
    config = load_config("synthetic-64")
    train_videos = len(list((data_root / "train").glob("*.png")))
    config["dataset_params"]["root_dir"] = str(data_root)
    config["train_params"].update(num_epochs=1, num_workers=0, batch_size=min(8, train_videos))
    last = train(config, out_dir / "run", device="cpu", progress=progress, overwrite=True)
    return export_pretrained(last, out_dir / "synthetic-64.pt"), data_root
