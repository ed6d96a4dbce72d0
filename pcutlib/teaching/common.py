"""What every notebook needs first: where the clone's files are, the shipped model loaded in one step,
and a video of the synthetic world with its true dis-occlusion.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from pcutlib import paths
from pcutlib.data.synthetic import (BACKGROUND_LABEL, World, draw_motion, make_identity, render,
                                    render_video, world_background)
from pcutlib.data.synthetic_truth import disocclusion
from pcutlib.evaluation.diagnose import Diagnosis
from pcutlib.experiments.shipped_model import load_or_train_pretrained

URL_FILE_NAME = "REPOSITORY_URL"     # the clone's file that holds its GitHub address (tools/set_repository_url.py)


def repository_root(start: str | Path | None = None) -> Path:
    """The pcut clone (found from ``start``, default the working directory, upwards, else
    beside the package), or ``start`` itself when there is none: see :mod:`pcutlib.paths`."""
    return paths.repository_root(start)


def config_file(name_or_path: str | Path, root: str | Path | None = None) -> Path:
    """A config path: an existing file as it is, else ``configs/<name>.yaml`` of the clone found
    from ``root`` (default: the working directory), else the shipped copy (:mod:`pcutlib.paths`)."""
    return paths.find_config(name_or_path, start=root)


def shipped_model_path(root: str | Path | None = None) -> Path:
    """The shipped model ``synthetic-64.pt``: the clone's pretrained/, else the copy in the
    package (:mod:`pcutlib.paths`)."""
    return paths.pretrained_path(root)


def github_slug(url: str) -> str:
    """'https://github.com/owner/name(.git)' -> 'owner/name'."""
    prefix = "https://github.com/"
    slug = url.strip().removesuffix("/").removesuffix(".git")
    if not slug.startswith(prefix) or slug[len(prefix):].count("/") != 1:
        raise ValueError(f"expected a GitHub repository URL https://github.com/<owner>/<name>, got {url!r}")
    return slug[len(prefix):]


def badge_links(url: str, notebook: str, branch: str = "main") -> dict:
    """Colab and Binder links that open ``notebooks/<notebook>`` of the repository at ``url``."""
    slug = github_slug(url)
    return {"colab": f"https://colab.research.google.com/github/{slug}/blob/{branch}/notebooks/{notebook}",
            "binder": f"https://mybinder.org/v2/gh/{slug}/{branch}?urlpath=lab/tree/notebooks/{notebook}"}


def model_label(path: str | Path) -> str:
    """How the notebooks name a model file: 'shipped model pretrained/synthetic-64.pt' for the
    shipped one, else the file's path."""
    path = Path(path)
    try:
        shipped = path.resolve() == shipped_model_path().resolve()
    except FileNotFoundError:
        shipped = False
    return f"shipped model {path.parent.name}/{path.name}" if shipped else f"model {path}"


def load_shipped_model(pretrained_path: str | Path | None = None, epochs: int = 6, progress: bool = True):
    """The one loading step of notebooks 2-5 and 7: (Models in eval mode, config).

    pretrained_path None means the shipped ``pretrained/synthetic-64.pt``; when that file is
    missing a stand-in is trained first for ``epochs``
    (``pcutlib.experiments.shipped_model.load_or_train_pretrained``).
    Prints which model it is, what it was trained with and its sizes.
    """
    path = Path(pretrained_path) if pretrained_path else shipped_model_path()
    models, config = load_or_train_pretrained(path, epochs=epochs, progress=progress)
    gan = config["train_params"]["loss_weights"]["generator_gan"]
    print(f"{model_label(path)} | K = {config['model_params']['common_params']['num_kp']} keypoints | "
          f"{'x'.join(map(str, config['dataset_params']['frame_shape'][:2]))} frames | last trained with "
          f"regularizer {config['regularizer']['type']!r}, generator_gan {gan}")
    return models, config


def synthetic_video(identity: int = 0, video: int = 0, frames: int = 32, size: int = 64, world: World | None = None):
    """One video of the synthetic world (``world``; default ``World()``, the flat world of the
    shipped model; ``TEXTURED_WORLD`` for the textured pair) with what only the renderer knows.

    Returns a ``pcutlib.data.synthetic.Rendering`` plus two tensors: ``.video`` (T,3,S,S) float in
    [0,1] and ``.joints`` (T,J,2) in [-1,1]; ``.labels`` (T,S,S) and ``.part_frames`` feed
    :func:`true_disocclusion`. The same frames as :func:`synthetic_frames`.
    """
    world = World() if world is None else world
    rendering = render(make_identity(identity), draw_motion(video, frames, world.limb_motion),
                       world_background(video, size, False, world), world)
    rendering.video = torch.from_numpy(rendering.frames).permute(0, 3, 1, 2).float() / 255
    rendering.joints = torch.from_numpy(rendering.keypoints)
    return rendering


def true_disocclusion(rendering, source_frame: int, driving_frames) -> torch.Tensor:
    """The renderer's dis-occlusion (``pcutlib.data.synthetic_truth.disocclusion``) of each driving frame
    against ``source_frame``: (N,S,S) bool, True where the driving frame shows a surface point
    that the source frame hides or lacks."""
    if isinstance(driving_frames, int):
        driving_frames = [driving_frames]
    return torch.from_numpy(np.stack([
        disocclusion(rendering.labels[source_frame], rendering.part_frames[source_frame],
                     rendering.labels[t], rendering.part_frames[t]) for t in driving_frames]))


def synthetic_frames(identity: int = 0, video: int = 0, frames: int = 32, size: int = 64) -> tuple:
    """One video of the synthetic world: (T,3,S,S) float in [0,1] and its true joints (T,J,2)."""
    clip, joints = render_video(identity, video, frames, size)
    return torch.from_numpy(clip).permute(0, 3, 1, 2).float() / 255, torch.from_numpy(joints)


def figure_labels(rendering, frames) -> torch.Tensor:
    """(N,S,S) bool: where the renderer painted a body part in each of ``frames`` (its label maps)."""
    if isinstance(frames, int):
        frames = [frames]
    return torch.from_numpy(rendering.labels[list(frames)] != BACKGROUND_LABEL)


# written by pcut diagnose (docs/usage.md): the shipped model, and its PriorityCut fine-tune whose
# discriminator was trained (pretrained/synthetic-64-prioritycut.pt); the same pair in the textured
# world (pretrained/synthetic-64-textured*.pt, README "PriorityCut's two ingredients"); the revealed
# pair, whose O also trained on the model's own revealed pixels (pretrained/synthetic-64-revealed*.pt),
# and its recipe with the warped source kept where O is high (pretrained/synthetic-64-revealed-kept*.pt)
SHIPPED_DIAGNOSIS = "results/diagnosis-shipped.json"
PRIORITYCUT_DIAGNOSIS = "results/diagnosis-prioritycut.json"
TEXTURED_DIAGNOSIS = "results/diagnosis-textured.json"
TEXTURED_PRIORITYCUT_DIAGNOSIS = "results/diagnosis-textured-prioritycut.json"
REVEALED_DIAGNOSIS = "results/diagnosis-revealed.json"
REVEALED_PRIORITYCUT_DIAGNOSIS = "results/diagnosis-revealed-prioritycut.json"
KEPT_DIAGNOSIS = "results/diagnosis-revealed-kept.json"
KEPT_PRIORITYCUT_DIAGNOSIS = "results/diagnosis-revealed-kept-prioritycut.json"
DIAGNOSES = {"shipped": SHIPPED_DIAGNOSIS, "prioritycut": PRIORITYCUT_DIAGNOSIS,
             "textured": TEXTURED_DIAGNOSIS, "textured-prioritycut": TEXTURED_PRIORITYCUT_DIAGNOSIS,
             "revealed": REVEALED_DIAGNOSIS, "revealed-prioritycut": REVEALED_PRIORITYCUT_DIAGNOSIS,
             "revealed-kept": KEPT_DIAGNOSIS, "revealed-kept-prioritycut": KEPT_PRIORITYCUT_DIAGNOSIS}


def shipped_diagnosis(root: str | Path | None = None, model: str = "shipped") -> Diagnosis:
    """A shipped model's diagnosis on held-out figures, as ``pcut diagnose --json`` stored it in
    the repository: model "shipped" (``results/diagnosis-shipped.json``, pretrained/synthetic-64.pt),
    "prioritycut" (``results/diagnosis-prioritycut.json``, its PriorityCut fine-tune with a
    trained discriminator), or "textured" and "textured-prioritycut", the same pair in the textured
    world, or "revealed" and "revealed-prioritycut", the pair whose O also trained on its own revealed
    pixels, or "revealed-kept" and "revealed-kept-prioritycut", that recipe with the warped source kept
    where O is high and the flow resized corner-aligned (``DIAGNOSES``); each picture beside it as .png."""
    if model not in DIAGNOSES:
        raise ValueError(f"model must be one of {sorted(DIAGNOSES)}, got {model!r}")
    path = repository_root(root) / DIAGNOSES[model]
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: run the pcut diagnose command of docs/usage.md")
    return Diagnosis(**json.loads(path.read_text()))
