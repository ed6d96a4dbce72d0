"""Notebook 8 (thin-plate splines and TPSMM's multi-resolution occlusion): a bend that one affine
map cannot follow, deformed grids, and a TPSMM model to look at (the one ``pcut compare-backbones``
trained, or a stand-in trained for a few steps)."""
from __future__ import annotations

import math
from pathlib import Path

import matplotlib.pyplot as plt
import torch

from pcutlib.checkpoints.files import load_models
from pcutlib.config import load_config, resolve_config
from pcutlib.data.make_synthetic import make_synthetic_dataset
from pcutlib.models.tpsmm.tps import KeypointTPS
from pcutlib.models.warping import make_coordinate_grid
from pcutlib.paths import repository_root
from pcutlib.training.loop import train

# what pcut compare-backbones makes, under the repository root: the TPSMM it trained, its held-out world
BACKBONES_RUN = Path("runs/backbones/tpsmm/checkpoints/last.pt")
BACKBONES_CHECK_WORLD = Path("data/calibration-h62-m60-seed1")


def bent_limb(bend_degrees: float = 60.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Five points of a straight limb of some width in the driving frame (the two edges at the
    shoulder, the elbow, the two edges at the hand) and the same points in the source, where the
    limb is bent by ``bend_degrees`` at the elbow: (5, 2) each, in [-1, 1], x first. The shoulder
    and elbow keep their place; the hand turns about the elbow. (Five points on one line would
    make the spline's system singular without regularisation: its affine part is undetermined.)"""
    driving = torch.tensor([[-0.6, -0.1], [-0.6, 0.1], [0.0, 0.0], [0.6, -0.1], [0.6, 0.1]])
    angle = math.radians(bend_degrees)
    rotation = torch.tensor([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    source = driving.clone()
    source[3:] = driving[3:] @ rotation.T              # about the elbow at the origin
    return driving, source


def grid_lines(lines: int = 9, samples: int = 41) -> torch.Tensor:
    """Points on the lines of a regular grid over [-1, 1]^2: (2 * lines * samples, 2)."""
    ticks, along = torch.linspace(-1, 1, lines), torch.linspace(-1, 1, samples)
    vertical = torch.stack(torch.meshgrid(ticks, along, indexing="ij"), dim=-1).reshape(-1, 2)
    return torch.cat([vertical, vertical.flip(-1)])


def deformed_grid_figure(transformations: dict, driving: torch.Tensor, source: torch.Tensor, lines: int = 9,
                         samples: int = 41, size: float = 3.0):
    """One panel per transformation {title: T, (N, 2) -> (N, 2)}: the grid lines of the driving
    frame drawn where T sends them in the source, the source points (crosses) and where T sends
    the driving points (circles); where the two meet, T passes through the keypoints."""
    figure, axes = plt.subplots(1, len(transformations), figsize=(size * len(transformations), size), squeeze=False)
    points = grid_lines(lines, samples)
    for ax, (title, transform) in zip(axes[0], transformations.items()):
        moved = transform(points).detach().reshape(2 * lines, samples, 2)
        for line in moved:
            ax.plot(line[:, 0], line[:, 1], color="0.6", linewidth=0.7)
        sent = transform(driving).detach()
        ax.scatter(source[:, 0], source[:, 1], marker="x", s=60, color="C3", label="source points")
        ax.scatter(sent[:, 0], sent[:, 1], facecolors="none", edgecolors="C0", s=60, label="T(driving points)")
        error = float((sent - source).norm(dim=-1).max())
        ax.set_title(f"{title}\nlargest miss {error:.3f}", fontsize=9)
        ax.set_xlim(-1.6, 1.6)
        ax.set_ylim(1.6, -1.6)              # y points down, as in images
        ax.set_aspect("equal")
        ax.set_xticks([])
        ax.set_yticks([])
    axes[0, 0].legend(fontsize=7, loc="lower left")
    figure.tight_layout()
    return figure


def kernel_figure(r_max: float = 2.0):
    """TPSMM's U(r) = r^2 log(r^2) against FOMM's random-warp kernel r^2 log(r) (both with their
    small constants), as functions of the distance r."""
    r = torch.linspace(0, r_max, 201, dtype=torch.float64)
    figure, ax = plt.subplots(figsize=(4.5, 3))
    ax.plot(r, r ** 2 * torch.log(r ** 2 + 1e-9), label="TPSMM: $r^2 \\log(r^2 + 10^{-9})$")
    ax.plot(r, r ** 2 * torch.log(r + 1e-6), label="FOMM's random warp: $r^2 \\log(r + 10^{-6})$")
    ax.axhline(0, color="0.5", linewidth=0.6)
    ax.set_xlabel("distance r (in [-1, 1] units)")
    ax.set_ylabel("U(r)")
    ax.legend(fontsize=8)
    figure.tight_layout()
    return figure


def small_world_data(root: Path) -> Path:
    """A small synthetic world (12 videos of 16 frames, 6 figures, seed 5) at ``root``, made when missing."""
    if not (root / "synthetic.json").is_file():
        make_synthetic_dataset(root, videos=12, frames=16, size=64, identities=6, seed=5, progress=False, overwrite=True)
    return root


def tpsmm_model(checkpoint: str | Path | None = None, data_root: str | Path | None = None,
                stand_in_steps: int = 20):
    """(TPSMMModels in eval mode, what it is, a held-out synthetic world with truth to draw).

    checkpoint: a pcut TPSMM checkpoint (it must exist); None: the TPSMM that ``pcut
    compare-backbones`` trained when it is there, else a stand-in trained here for
    ``stand_in_steps`` steps of synthetic-64-tpsmm on a small world (12 videos of 16 frames, made
    under runs/notebook-08/). data_root: the world to draw (None: compare-backbones' held-out
    world when it is there, else the small world)."""
    root = repository_root()
    scratch = root / "runs" / "notebook-08"
    small_world = scratch / "data"
    if checkpoint is not None and not Path(checkpoint).is_file():
        raise FileNotFoundError(f"tpsmm_checkpoint {checkpoint} not found; give None for compare-backbones' model "
                                f"or a stand-in")
    path = Path(checkpoint) if checkpoint is not None else root / BACKBONES_RUN
    if path.is_file():
        models, stored = load_models(path, with_discriminator=False)
        label = f"{path} (epoch {stored.get('epoch')}, step {stored.get('step')})"
    else:
        small_world_data(small_world)
        config = load_config("synthetic-64-tpsmm")
        config["dataset_params"]["root_dir"] = str(small_world)
        config["train_params"].update(num_epochs=1, num_workers=0)
        last = train(resolve_config(config), scratch / "stand-in", device="cpu", progress=False, overwrite=True,
                     stop_after_steps=stand_in_steps)
        models, _ = load_models(last, with_discriminator=False)
        label = f"a stand-in trained for {stand_in_steps} steps ({path} not found: run pcut compare-backbones)"
    if data_root is not None:
        world = Path(data_root)
    elif (root / BACKBONES_CHECK_WORLD / "synthetic.json").is_file():
        world = root / BACKBONES_CHECK_WORLD
    else:
        world = small_world_data(small_world)
    return models, label, world


def mask_sizes(models, size: int = 64) -> list[int]:
    """The side of each of a TPSMM's occlusion masks for size x size frames, coarse to fine."""
    frame = torch.zeros(1, 3, size, size)
    with torch.no_grad():
        kp = models.kp_detector(frame)
        return [m.shape[-1] for m in models.generator(frame, kp_source=kp, kp_driving=kp)["occlusion_maps"]]


def identity_deviation(kp: torch.Tensor, regularisation: float) -> float:
    """How far a KeypointTPS fitted from ``kp`` (1, K, 5, 2) to the same points moves the grid:
    the largest |T(z) - z| over a 64x64 grid, in [-1, 1] units."""
    grid = make_coordinate_grid(64, 64).reshape(1, -1, 2)
    moved = KeypointTPS(kp, kp, regularisation=regularisation).warp_coordinates(grid)[0]     # (K, N, 2)
    return float((moved - grid).norm(dim=-1).max())

