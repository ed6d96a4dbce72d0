"""Helpers for the notebooks: figures, the functions behind the sliders, paths on any machine.

The notebooks compute with the library (``pcutlib.models.warping``, ``regularizers``, the models,
``pcutlib.evaluation.diagnose`` for every measurement) and call this module to *draw*, plus a few
pieces of plumbing that would otherwise be copied between notebooks: the one loader of the
shipped model (:func:`load_shipped_model`), the synthetic world's truth
(:func:`synthetic_video`, :func:`true_disocclusion`), notebook 6's config
(:func:`notebook_training_config`, built on ``pcutlib.experiments.demo.finetune_config``) and notebook
7's pose probe. The pipeline diagram (:func:`pipeline_figure`) labels its boxes with the
shapes of a real forward pass, so it stays true. Every slider widget is built here by a
``*_widget`` function around a ``*_figure`` function and has a static twin (``*_small_multiples``)
that a rendered notebook shows without a kernel; tests call the figure functions directly and
:func:`sweep_widget` moves every slider to its ends, so an error inside a widget callback
cannot hide from the tests.

All figures are ``matplotlib.figure.Figure`` objects made without pyplot (no global state,
nothing piles up across slider moves); a notebook shows one by leaving it as the last
expression of a cell.
"""
from __future__ import annotations

import io
import json
import math
from pathlib import Path

import numpy as np
import torch
from matplotlib.figure import Figure

from pcutlib import paths
from pcutlib.models.keypoints import keypoints_to_pixels
from pcutlib.paths import PACKAGE_PARENT  # noqa: F401  (kept importable; paths.py finds every file)
from pcutlib.prioritycut import cutmix_mask, foreground_pixels, mix_images, prioritycut_mask
from pcutlib.models.warping import RandomTPS, deform, local_affine_motions, make_coordinate_grid

URL_FILE_NAME = "REPOSITORY_URL"


# --------------------------------------------------------------------------- where things are

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


def repository_url(root: str | Path | None = None) -> str:
    """The public URL of the repository, kept in the one file ``REPOSITORY_URL`` at the root
    of the clone (it is not shipped in the package)."""
    root = repository_root() if root is None else Path(root)
    path = root / URL_FILE_NAME
    if not path.is_file():
        raise FileNotFoundError(f"no {URL_FILE_NAME} at {path}: expected a pcut clone there "
                                f"(a non-editable install used outside a clone has none)")
    return path.read_text().strip()


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


# --------------------------------------------------------------------------- the shipped model

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
    missing a stand-in is trained first for ``epochs`` (``pcutlib.checkpoints.pretrained.load_pretrained``).
    Prints which model it is, what it was trained with and its sizes.
    """
    from pcutlib.checkpoints.pretrained import load_pretrained

    path = Path(pretrained_path) if pretrained_path else shipped_model_path()
    models, config = load_pretrained(path, epochs=epochs, progress=progress)
    gan = config["train_params"]["loss_weights"]["generator_gan"]
    print(f"{model_label(path)} | K = {config['model_params']['common_params']['num_kp']} keypoints | "
          f"{'x'.join(map(str, config['dataset_params']['frame_shape'][:2]))} frames | last trained with "
          f"regularizer {config['regularizer']['type']!r}, generator_gan {gan}")
    return models, config


# --------------------------------------------------------------------------- the pipeline

# (x, y, text, notebooks that teach it), in the diagram's own units (x 0..14, y 0..4.4).
PIPELINE_NODES = {
    "source": (0.8, 3.7, "source S", (1, 2)),
    "driving": (0.8, 0.7, "driving D", (1, 2)),
    "kp_detector": (3.1, 2.2, "keypoint detector\nheatmaps -> p_k, J_k", (2,)),
    "dense_motion": (6.1, 2.2, "dense motion\nT_k(z) = p^S + J_k (z - p^D)\nregions R, occlusion O", (1, 2, 3)),
    "generator": (9.1, 2.2, "generator: encode S,\nwarp by T, multiply by O,\ndecode (inpaint)", (3,)),
    "prediction": (11.3, 3.7, "prediction G", (3, 7)),
    "mask": (11.3, 0.7, "mask M (1 = real pixel)\nPriorityCut: top-k% by O\nCutMix: a random box", (4, 5)),
    "unet": (13.4, 2.2, "U-Net discriminator\none logit per image\n+ one per pixel", (4, 5, 6)),
}
PIPELINE_EDGES = [  # (from, to, arc)
    ("source", "kp_detector", 0.0), ("driving", "kp_detector", 0.0), ("kp_detector", "dense_motion", 0.0),
    ("source", "dense_motion", -0.2), ("source", "generator", -0.2), ("dense_motion", "generator", 0.0),
    ("generator", "prediction", 0.0), ("dense_motion", "mask", 0.15), ("driving", "mask", 0.08),
    ("prediction", "mask", 0.0), ("mask", "unet", 0.0), ("prediction", "unet", 0.0), ("driving", "unet", 0.12),
]


def pipeline_shapes(models, image_size: int = 64) -> dict:
    """What each box of the pipeline diagram returns, from one forward pass of ``models`` on a
    blank batch of 1: the names and shapes the library really gives (so the diagram stays true)."""
    image = torch.zeros(1, 3, image_size, image_size)
    with torch.no_grad():
        kp = models.kp_detector(image)
        out = models.generator(image, kp_source=kp, kp_driving=kp)
        shape = lambda name, tensor: f"{name} {tuple(tensor.shape)}"                     # noqa: E731
        outputs = {"kp_detector": [shape(k, v) for k, v in kp.items()],
                   "dense_motion": [shape(k, out[k]) for k in ("deformation", "region_mask", "occlusion_map")
                                    if k in out],
                   "generator": [shape("prediction", out["prediction"])],
                   "mask": [shape("M", out["prediction"][:, :1])]}
        discriminator = getattr(models, "discriminator", None)
        if discriminator is not None and hasattr(discriminator, "up_blocks"):         # the U-Net one
            verdict = discriminator(out["prediction"])
            outputs["unet"] = [shape("logit", verdict["logit"]), shape("pixel_logits", verdict["pixel_logits"])]
    return {name: "\n".join(lines) for name, lines in outputs.items()}


def pipeline_figure(highlight=(), models=None, image_size: int = 64) -> Figure:
    """FOMM + PriorityCut as boxes and arrows; the boxes a notebook teaches in colour.

    highlight: notebook numbers (e.g. ``(5,)``) whose parts are coloured; models: a
    ``pcutlib.models.build.Models`` to write under each box what it returns, with shapes, from one
    forward pass (:func:`pipeline_shapes`).
    """
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    outputs = pipeline_shapes(models, image_size) if models is not None else {}
    highlight = {int(n) for n in (highlight if isinstance(highlight, (tuple, list, set)) else (highlight,))}
    figure = Figure(figsize=(12.5, 3.9))
    ax = figure.add_axes((0, 0, 1, 1))
    ax.set_xlim(-0.3, 14.9)
    ax.set_ylim(-0.6, 4.35)
    ax.axis("off")
    boxes = {}
    for name, (x, y, text, notebooks) in PIPELINE_NODES.items():
        lit = bool(highlight & set(notebooks)) or not highlight
        width, height = (1.3, 0.5) if "\n" not in text else (2.55, 0.95)
        patch = FancyBboxPatch((x - width / 2, y - height / 2), width, height, boxstyle="round,pad=0.04",
                               facecolor="#ffe9a8" if lit else "#f0f0f0", edgecolor="black" if lit else "#aaaaaa",
                               linewidth=1.2 if lit else 0.8, zorder=2)
        ax.add_patch(patch)
        ax.text(x, y, text, ha="center", va="center", fontsize=8, color="black" if lit else "#777777", zorder=3)
        if name in outputs:
            ax.text(x, y - height / 2 - 0.08, outputs[name], ha="center", va="top", fontsize=6.5,
                    color="#1f4e9c", zorder=3)
        boxes[name] = patch
    for start, end, arc in PIPELINE_EDGES:
        ax.add_patch(FancyArrowPatch(posA=PIPELINE_NODES[start][:2], posB=PIPELINE_NODES[end][:2],
                                     patchA=boxes[start], patchB=boxes[end], arrowstyle="-|>", mutation_scale=10,
                                     connectionstyle=f"arc3,rad={arc}", linewidth=0.9, color="#555555", zorder=1))
    ax.text(11.3, -0.5, "mixed = M * D + (1 - M) * G  ->  U-Net D", ha="center", fontsize=7.5, family="monospace")
    if highlight:
        ax.text(-0.2, 4.2, f"coloured: what notebook {', '.join(map(str, sorted(highlight)))} takes apart"
                + ("; blue: what each box returns (shapes from the loaded model)" if outputs else ""),
                fontsize=8, va="top")
    return figure


# --------------------------------------------------------------------------- the synthetic world's truth

def synthetic_video(identity: int = 0, video: int = 0, frames: int = 32, size: int = 64):
    """One video of the synthetic world with what only the renderer knows.

    Returns a ``pcutlib.data.synthetic.Rendering`` plus two tensors: ``.video`` (T,3,S,S) float in
    [0,1] and ``.joints`` (T,J,2) in [-1,1]; ``.labels`` (T,S,S) and ``.part_frames`` feed
    :func:`true_disocclusion`. The same frames as :func:`synthetic_frames`.
    """
    from pcutlib.data.synthetic import World, draw_motion, make_background, make_identity, render

    world = World()
    rendering = render(make_identity(identity), draw_motion(video, frames, world.limb_motion),
                       make_background(video, size), world)
    rendering.video = torch.from_numpy(rendering.frames).permute(0, 3, 1, 2).float() / 255
    rendering.joints = torch.from_numpy(rendering.keypoints)
    return rendering


def true_disocclusion(rendering, source_frame: int, driving_frames) -> torch.Tensor:
    """The renderer's dis-occlusion (``pcutlib.data.synthetic_truth.disocclusion``) of each driving frame
    against ``source_frame``: (N,S,S) bool, True where the driving frame shows a surface point
    that the source frame hides or lacks."""
    from pcutlib.data.synthetic_truth import disocclusion

    if isinstance(driving_frames, int):
        driving_frames = [driving_frames]
    return torch.from_numpy(np.stack([
        disocclusion(rendering.labels[source_frame], rendering.part_frames[source_frame],
                     rendering.labels[t], rendering.part_frames[t]) for t in driving_frames]))


# --------------------------------------------------------------------------- drawing basics

def to_numpy_image(image: torch.Tensor) -> np.ndarray:
    """(3,H,W) / (1,3,H,W) in [0,1] -> (H,W,3); (H,W), (1,H,W) or (1,1,H,W) -> (H,W)."""
    image = image.detach().float().cpu()
    while image.dim() > 3:
        image = image[0]
    if image.dim() == 3 and image.shape[0] == 1:
        image = image[0]
    if image.dim() == 3:
        return image.clamp(0, 1).permute(1, 2, 0).numpy()
    return image.numpy()


def show_images(images: dict, columns: int | None = None, size: float = 2.2, title: str | None = None,
                cmap: str = "viridis", colorbar: bool | str = False, vmin=0.0, vmax=1.0,
                colorbar_label: str | None = None) -> Figure:
    """One panel per entry: name -> image (colour (3,H,W) or a map (H,W) shown with ``cmap``).

    All maps share one colour scale [vmin, vmax]. colorbar: False, True (one bar per map) or
    "shared" (one bar for all maps, which says that they share the scale).
    """
    columns = columns or len(images)
    rows = math.ceil(len(images) / columns)
    shared = colorbar == "shared"
    figure = Figure(figsize=(size * columns + (0.6 if shared else 0), size * rows + (0.3 if title else 0)),
                    layout="constrained" if shared else None)
    axes = figure.subplots(rows, columns, squeeze=False)
    last_map = None
    for ax, (name, image) in zip(axes.flat, images.items()):
        array = to_numpy_image(image) if torch.is_tensor(image) else np.asarray(image)
        shown = ax.imshow(array, cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
        if array.ndim == 2:
            last_map = shown
            if colorbar is True:
                figure.colorbar(shown, ax=ax, fraction=0.046, pad=0.04)
        ax.set_title(name, fontsize=9)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    for ax in list(axes.flat)[len(images):]:
        ax.axis("off")
    if shared and last_map is not None:
        bar = figure.colorbar(last_map, ax=list(axes.flat), fraction=0.03, pad=0.02)
        if colorbar_label:
            bar.set_label(colorbar_label, fontsize=8)
    if title:
        figure.suptitle(title, fontsize=10)
    if not shared:
        figure.tight_layout()
    return figure


def shared_vmax(*maps: torch.Tensor, quantile: float = 0.99) -> float:
    """One upper end for the colour scale of several maps: their joint ``quantile`` (so that a
    few extreme pixels do not turn everything else black), rounded up to 2 decimals."""
    values = torch.cat([m.detach().float().flatten().cpu() for m in maps])
    return max(0.01, math.ceil(round(float(torch.quantile(values, quantile)) * 100, 6)) / 100)


KEYPOINT_LABEL_SIZE = 9    # points: readable at the notebooks' panel sizes (6 pt was not)


def draw_keypoints(ax, points: torch.Tensor, size: int, highlight: int | None = None, labels: bool = True,
                   fontsize: float = KEYPOINT_LABEL_SIZE) -> None:
    """Mark (K,2) keypoints in [-1,1] on an image axis of side ``size``; ``highlight`` one in red.

    Labels are the keypoint indices in bold white with a black outline, readable on any colour.
    """
    from matplotlib import patheffects

    outline = [patheffects.withStroke(linewidth=2.2, foreground="black")]
    pixels = keypoints_to_pixels(points.detach().float().cpu().numpy(), size, size)      # (K,2)
    for k, (x, y) in enumerate(pixels):
        chosen = highlight is not None and k == highlight
        ax.scatter([x], [y], s=40 if chosen else 16, c="red" if chosen else "white",
                   edgecolors="black", linewidths=0.6, zorder=3)
        if labels:
            ax.annotate(str(k), (x, y), xytext=(3, -3), textcoords="offset points", fontsize=fontsize,
                        fontweight="bold", color="red" if chosen else "white", path_effects=outline, zorder=4)


def figure_png(figure: Figure, dpi: int = 80) -> bytes:
    """The figure as PNG bytes (what the widgets display)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def checkerboard(size: int = 64, squares: int = 8) -> torch.Tensor:
    """A (1,3,H,W) colour checkerboard with a red-green gradient: every warp shows on it."""
    coords = torch.arange(size, dtype=torch.float32)
    cells = ((coords[:, None] * squares // size) + (coords[None, :] * squares // size)) % 2    # (H, W)
    gradient = coords / (size - 1)
    red = 0.3 + 0.7 * gradient[None, :].expand(size, size) * (0.5 + 0.5 * cells)
    green = 0.3 + 0.7 * gradient[:, None].expand(size, size) * (0.5 + 0.5 * cells)
    blue = 0.2 + 0.6 * cells
    return torch.stack([red, green, blue])[None]


def synthetic_frames(identity: int = 0, video: int = 0, frames: int = 32, size: int = 64) -> tuple:
    """One video of the synthetic world: (T,3,S,S) float in [0,1] and its true joints (T,J,2)."""
    from pcutlib.data.synthetic import render_video

    clip, joints = render_video(identity, video, frames, size)
    return torch.from_numpy(clip).permute(0, 3, 1, 2).float() / 255, torch.from_numpy(joints)


# --------------------------------------------------------------------------- notebook 1: warping

def affine_jacobian(rotation_degrees: float = 0.0, scale: float = 1.0, j11: float = 1.0, j12: float = 0.0,
                    j21: float = 0.0, j22: float = 1.0) -> torch.Tensor:
    """J = scale * R(rotation) @ [[j11, j12], [j21, j22]] as a (2,2) tensor."""
    angle = math.radians(rotation_degrees)
    rotation = torch.tensor([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    return scale * rotation @ torch.tensor([[j11, j12], [j21, j22]], dtype=torch.float32)


def local_affine_warp(image: torch.Tensor, source_point, driving_point, jacobian: torch.Tensor) -> tuple:
    """Warp ``image`` (1,C,H,W) by one keypoint's motion T(z) = p^S + J (z - p^D).

    source_point, driving_point: (x, y) in [-1,1]; jacobian: (2,2), the source jacobian
    (the driving one is the identity). Returns (warped (1,C,H,W), grid T (H,W,2)).
    """
    height, width = image.shape[2:]
    kp_source = {"value": torch.tensor([[source_point]], dtype=torch.float32),       # (1,1,2)
                 "jacobian": jacobian.reshape(1, 1, 2, 2).float()}
    kp_driving = {"value": torch.tensor([[driving_point]], dtype=torch.float32),
                  "jacobian": torch.eye(2).reshape(1, 1, 2, 2)}
    motions = local_affine_motions(kp_source, kp_driving, height, width)               # (1, 2, H, W, 2)
    grid = motions[:, 1]                                                                # the keypoint's T
    return deform(image, grid), grid[0]


def _draw_grid_lines(ax, grid: np.ndarray, size: int, every: int = 8, color: str = "white") -> None:
    """Draw the lines of a sampling grid (H,W,2) in [-1,1] in pixel units of an image of side size."""
    pixels = keypoints_to_pixels(grid, size, size)
    for i in range(0, grid.shape[0], every):
        ax.plot(pixels[i, :, 0], pixels[i, :, 1], color=color, linewidth=0.6)
    for j in range(0, grid.shape[1], every):
        ax.plot(pixels[:, j, 0], pixels[:, j, 1], color=color, linewidth=0.6)


def affine_warp_figure(image: torch.Tensor, driving_x: float = 0.0, driving_y: float = 0.0,
                       rotation: float = 0.0, scale: float = 1.0, j11: float = 1.0, j12: float = 0.0,
                       j21: float = 0.0, j22: float = 1.0, source_point=(0.0, 0.0)) -> Figure:
    """Source with p^S and where the driving frame samples it; the warped frame with p^D."""
    jacobian = affine_jacobian(rotation, scale, j11, j12, j21, j22)
    warped, grid = local_affine_warp(image, source_point, (driving_x, driving_y), jacobian)
    size = image.shape[-1]
    figure = Figure(figsize=(7.5, 2.8))
    left, middle, right = figure.subplots(1, 3)
    left.imshow(to_numpy_image(image), interpolation="nearest")
    _draw_grid_lines(left, grid.numpy(), size)
    draw_keypoints(left, torch.tensor([source_point]), size, highlight=0, labels=False)
    left.set_title("source: where T(z) samples", fontsize=9)
    middle.imshow(to_numpy_image(warped), interpolation="nearest")
    draw_keypoints(middle, torch.tensor([[driving_x, driving_y]]), size, highlight=0, labels=False)
    middle.set_title("warped: source at T(z)", fontsize=9)
    right.axis("off")
    j = jacobian.numpy()
    right.text(0.0, 0.5, f"T(z) = p_S + J (z - p_D)\n\np_S = ({source_point[0]:.2f}, {source_point[1]:.2f})\n"
               f"p_D = ({driving_x:.2f}, {driving_y:.2f})\n\nJ = [[{j[0, 0]:+.2f}, {j[0, 1]:+.2f}],\n"
               f"     [{j[1, 0]:+.2f}, {j[1, 1]:+.2f}]]\ndet J = {np.linalg.det(j):+.2f}",
               family="monospace", fontsize=9, va="center")
    _frame_axes((left, middle), size)
    figure.tight_layout()
    return figure


AFFINE_CASES = (  # (title, p^D, rotation, scale, (J11, J12, J21, J22)); p^S = (0, 0)
    ("J = I, p^D = (0.3, 0.2)", (0.3, 0.2), 0.0, 1.0, (1, 0, 0, 1)),
    ("rotation 30 deg", (0.0, 0.0), 30.0, 1.0, (1, 0, 0, 1)),
    ("scale 1.5", (0.0, 0.0), 0.0, 1.5, (1, 0, 0, 1)),
    ("shear J12 = 0.5", (0.0, 0.0), 0.0, 1.0, (1, 0.5, 0, 1)),
    ("mirror J11 = -1 (det < 0)", (0.0, 0.0), 0.0, 1.0, (-1, 0, 0, 1)),
    ("det J = 0 (J21 = J22 = 0)", (0.0, 0.0), 0.0, 1.0, (1, 0, 0, 0)),
)


def affine_small_multiples(image: torch.Tensor, cases=AFFINE_CASES) -> Figure:
    """The static twin of the affine widget: the source warped by T(z) = p^S + J (z - p^D) for a
    few jacobians (top: where T samples the source; bottom: the warped frame with p^D)."""
    size = image.shape[-1]
    figure = Figure(figsize=(2.0 * len(cases), 4.3))
    axes = figure.subplots(2, len(cases), squeeze=False)
    for column, (title, driving_point, rotation, scale, entries) in enumerate(cases):
        jacobian = affine_jacobian(rotation, scale, *entries)
        warped, grid = local_affine_warp(image, (0.0, 0.0), driving_point, jacobian)
        axes[0, column].imshow(to_numpy_image(image), interpolation="nearest")
        _draw_grid_lines(axes[0, column], grid.numpy(), size)
        axes[0, column].set_title(title, fontsize=8)
        axes[1, column].imshow(to_numpy_image(warped), interpolation="nearest")
        draw_keypoints(axes[1, column], torch.tensor([driving_point]), size, highlight=0, labels=False)
        axes[1, column].set_title(f"det J = {float(torch.det(jacobian)):+.2f}", fontsize=8)
        _frame_axes(axes[:, column], size)
    axes[0, 0].set_ylabel("source, grid T(z)", fontsize=8)
    axes[1, 0].set_ylabel("warped", fontsize=8)
    figure.tight_layout()
    return figure


def _frame_axes(axes, size: int) -> None:
    """Show exactly the size x size pixel area, image orientation, no ticks."""
    for ax in axes:
        ax.set_xlim(-0.5, size - 0.5)
        ax.set_ylim(size - 0.5, -0.5)
        ax.set_xticks([])
        ax.set_yticks([])


def tps_figure(image: torch.Tensor, sigma_affine: float = 0.05, sigma_tps: float = 0.005,
               points_tps: int = 5, seed: int = 0) -> Figure:
    """A random affine + thin-plate-spline warp (the equivariance losses' T): image, grid, warped."""
    generator = torch.Generator().manual_seed(int(seed))
    tps = RandomTPS.random(1, sigma_affine, sigma_tps, int(points_tps), generator=generator)
    size = image.shape[-1]
    grid = make_coordinate_grid(size, size).reshape(1, -1, 2)
    warped_grid = tps.warp_coordinates(grid).reshape(size, size, 2)
    figure = Figure(figsize=(6.6, 2.4))
    axes = figure.subplots(1, 3)
    axes[0].imshow(to_numpy_image(image), interpolation="nearest")
    axes[0].set_title("image", fontsize=9)
    axes[1].imshow(to_numpy_image(image), interpolation="nearest", alpha=0.5)
    _draw_grid_lines(axes[1], warped_grid.numpy(), size, color="black")
    control = keypoints_to_pixels(tps.control_points.reshape(-1, 2).detach().float().cpu().numpy(), size, size)
    axes[1].scatter(control[:, 0], control[:, 1], s=8, c="red", zorder=3)
    axes[1].set_title("T(z) on a grid (red: control points)", fontsize=9)
    axes[2].imshow(to_numpy_image(tps.transform_frame(image)), interpolation="nearest")
    axes[2].set_title("image sampled at T(z)", fontsize=9)
    _frame_axes(axes, size)
    figure.tight_layout()
    return figure


# --------------------------------------------------------------------------- notebook 2: regions

def region_colours(region_mask: torch.Tensor) -> np.ndarray:
    """(K+1,h,w) softmax -> (h,w,3): each pixel in the colour of its most likely region (black = background)."""
    palette = np.concatenate([[[0.0, 0.0, 0.0]], _palette(region_mask.shape[0] - 1)])
    weights = region_mask.detach().float().cpu().numpy()                        # (K+1, h, w)
    return np.clip(np.einsum("khw,kc->hwc", weights, palette), 0, 1)


def _palette(count: int) -> np.ndarray:
    from matplotlib import colormaps

    return np.array([colormaps["tab10"](k % 10)[:3] for k in range(count)])


def region_figure(source: torch.Tensor, driving: torch.Tensor, generated: dict, kp_source: dict,
                  kp_driving: dict, keypoint: int = 0) -> Figure:
    """Keypoint k's part of the dense motion: its warped source copy, its region mask, all regions.

    source, driving: (1,3,H,W); generated: the generator's output for them (batch 1);
    kp_*: keypoints (batch 1); keypoint: k in 0..K-1 (region k+1; region 0 is the background).
    """
    num_kp = kp_source["value"].shape[1]
    if not 0 <= keypoint < num_kp:
        raise ValueError(f"keypoint must be in 0..{num_kp - 1}, got {keypoint}")
    size = source.shape[-1]
    panels = [("source, p_k^S", source, kp_source), ("driving, p_k^D", driving, kp_driving),
              (f"source warped by T_{keypoint + 1}", generated["sparse_deformed"][0, keypoint + 1], None),
              (f"region mask M_{keypoint + 1}", generated["region_mask"][0, keypoint + 1], None),
              ("all regions (argmax colours)", None, None)]
    figure = Figure(figsize=(11, 2.5))
    axes = figure.subplots(1, len(panels))
    for ax, (name, image, kp) in zip(axes, panels):
        if image is None:
            ax.imshow(region_colours(generated["region_mask"][0]), interpolation="nearest")
        elif image.dim() == 2:
            ax.imshow(to_numpy_image(image), cmap="magma", vmin=0, vmax=1, interpolation="nearest")
        else:
            ax.imshow(to_numpy_image(image), interpolation="nearest")
        if kp is not None:
            draw_keypoints(ax, kp["value"][0], size, highlight=keypoint)
        ax.set_title(name, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    figure.tight_layout()
    return figure


def region_small_multiples(source: torch.Tensor, generated: dict, kp_source: dict, columns: int = 6) -> Figure:
    """The static twin of the region widget: every region mask M_k (k = 0 is the background)
    over the source, with keypoint k-1 marked, and all regions in argmax colours."""
    region_mask = generated["region_mask"][0]                                            # (K+1, h, w)
    size = source.shape[-1]
    panels = region_mask.shape[0] + 1
    rows = math.ceil(panels / columns)
    figure = Figure(figsize=(1.9 * columns, 2.0 * rows))
    axes = figure.subplots(rows, columns, squeeze=False)
    upsampled = torch.nn.functional.interpolate(region_mask[None], size=(size, size), mode="bilinear",
                                                align_corners=False)[0]
    for k, ax in enumerate(axes.flat[:region_mask.shape[0]]):
        ax.imshow(to_numpy_image(source) * 0.35, interpolation="nearest")
        ax.imshow(upsampled[k].numpy(), cmap="magma", vmin=0, vmax=1, alpha=0.75, interpolation="nearest")
        if k > 0:
            draw_keypoints(ax, kp_source["value"][0], size, highlight=k - 1, labels=False)
        share = float((region_mask.argmax(0) == k).float().mean())
        ax.set_title(("M_0 background" if k == 0 else f"M_{k}: keypoint {k - 1}") + f"\nwins {100 * share:.0f}%",
                     fontsize=8)
    axes.flat[region_mask.shape[0]].imshow(region_colours(region_mask), interpolation="nearest")
    axes.flat[region_mask.shape[0]].set_title("all regions (argmax)", fontsize=8)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    for ax in list(axes.flat)[panels:]:
        ax.axis("off")
    figure.tight_layout()
    return figure


def flow_figure(deformation: torch.Tensor, image: torch.Tensor | None = None, every: int = 2) -> Figure:
    """The dense backward flow T(z) - z (h,w,2) as arrows, over ``image`` (1,3,H,W) if given."""
    deformation = deformation.detach().float().cpu()
    height, width = deformation.shape[:2]
    displacement = (deformation - make_coordinate_grid(height, width)).numpy()           # (h, w, 2)
    figure = Figure(figsize=(3.2, 3.2))
    ax = figure.subplots()
    if image is not None:
        ax.imshow(to_numpy_image(image), extent=(-1, 1, 1, -1), interpolation="nearest")
    grid = make_coordinate_grid(height, width).numpy()
    ax.quiver(grid[::every, ::every, 0], grid[::every, ::every, 1], displacement[::every, ::every, 0],
              displacement[::every, ::every, 1], color="yellow", angles="xy", scale_units="xy", scale=1)
    ax.set_xlim(-1, 1)
    ax.set_ylim(1, -1)
    ax.set_title("T(z) - z: where each pixel samples from", fontsize=9)
    figure.tight_layout()
    return figure


# --------------------------------------------------------------------------- notebook 3: occlusion

def most_occluded(occlusion_map: torch.Tensor, size, percent: float = 10.0) -> torch.Tensor:
    """The ``percent`` % of pixels with the lowest occlusion value O, per sample (ties included).

    occlusion_map (B,1,h,w) is first upsampled bilinearly to ``size`` (H, W). A share rather
    than a fixed threshold: how low O gets depends on the model and its training.
    Returns (B,1,H,W) bool.
    """
    import torch.nn.functional as F

    if not 0 < percent <= 100:
        raise ValueError(f"percent must be in (0, 100], got {percent}")
    upsampled = F.interpolate(occlusion_map.float(), size=tuple(size), mode="bilinear", align_corners=False)
    flat = upsampled.flatten(1)                                                          # (B, H*W)
    count = max(1, math.ceil(flat.shape[1] * percent / 100))
    threshold = flat.kthvalue(count, dim=1).values                                       # (B,)
    return upsampled <= threshold.view(-1, 1, 1, 1)


def artifact_map(prediction: torch.Tensor, driving: torch.Tensor, occlusion_map: torch.Tensor,
                 most_occluded_percent: float = 10.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-pixel error |prediction - driving| (mean over channels) and where the pixels are most occluded.

    prediction, driving: (B,3,H,W); occlusion_map: (B,1,h,w). Returns (error (B,1,H,W),
    occluded (B,1,H,W) bool: the ``most_occluded_percent`` % of pixels with the lowest O).
    """
    error = (prediction - driving).abs().mean(dim=1, keepdim=True)                       # (B,1,H,W)
    return error, most_occluded(occlusion_map, prediction.shape[2:], most_occluded_percent)


# --------------------------------------------------------------------------- notebooks 4-5: masks

# A CutMix seed whose box is neither tiny nor inverted nor nearly the whole image: seed 9 draws
# lambda = 0.25 and no inversion, a box of 27% of a 64x64 image (seed 0 gives an inverted mask
# with 99% generated pixels, a poor first example). See ``cutmix_mask``.
DEFAULT_CUTMIX_SEED = 9

def discriminator_maps(unet, images: dict) -> dict:
    """D's per-pixel verdict sigmoid(pixel_logits) (H,W) and image score for each named (1,3,H,W) image."""
    maps = {}
    with torch.no_grad():
        for name, image in images.items():
            out = unet(image)
            maps[f"{name}: D(x)={torch.sigmoid(out['logit'])[0]:.2f}"] = torch.sigmoid(out["pixel_logits"])[0, 0]
    return maps


def toy_prioritycut_inputs(size: int = 8) -> tuple[torch.Tensor, torch.Tensor]:
    """A small deterministic occlusion map (1,1,s,s) and region mask (1,2,s,s), no randomness.

    Occlusion O(z) = min(1, |z - c| / 2) grows with the distance from c = (0.4, -0.2): the most
    occluded pixels sit near c. The foreground is the disc |z| < 0.6: there the background
    region has probability 0.1, elsewhere 0.9.
    """
    grid = make_coordinate_grid(size, size)                                              # (s, s, 2)
    occlusion = ((grid - torch.tensor([0.4, -0.2])).norm(dim=-1) / 2).clamp(max=1)       # (s, s)
    background = torch.where(grid.norm(dim=-1) < 0.6, torch.tensor(0.1), torch.tensor(0.9))
    region_mask = torch.stack([background, 1 - background])                              # (2, s, s)
    return occlusion[None, None], region_mask[None]


def prioritycut_counts(occlusion_map: torch.Tensor, region_mask: torch.Tensor, top_k_percent: float,
                       foreground_threshold: float = 0.5) -> dict:
    """|F|, n = ceil(k|F|/100) and the pixels PriorityCut hands to the generator, for sample 0."""
    foreground = foreground_pixels(region_mask, foreground_threshold)[0]
    mask = prioritycut_mask(occlusion_map, region_mask, top_k_percent, foreground_threshold)[0, 0]
    return {"foreground": int(foreground.sum()), "n": math.ceil(int(foreground.sum()) * top_k_percent / 100),
            "generated_pixels": int((mask == 0).sum()), "pixels": mask.numel()}


GENERATED_COLOUR = "white"        # outline of the generated pixels (M = 0) on mixed images
TRUTH_COLOUR = "#ff2bd6"          # fill of the true dis-occlusion


def outline(ax, region: torch.Tensor, colour: str = GENERATED_COLOUR, linewidth: float = 1.2) -> None:
    """Draw the border of a boolean (H,W) region (e.g. M == 0) on an image axis."""
    region = region.detach().float().cpu().numpy()
    if 0 < region.sum() < region.size:
        height, width = region.shape
        padded = np.pad(region, 1)                    # closes regions that touch the border
        for line_colour, line_width in (("black", linewidth + 1.4), (colour, linewidth)):   # readable on any colour
            ax.contour(np.arange(-1, width + 1), np.arange(-1, height + 1), padded, levels=[0.5],
                       colors=[line_colour], linewidths=line_width)
    ax.set_xlim(-0.5, region.shape[1] - 0.5)
    ax.set_ylim(region.shape[0] - 0.5, -0.5)


def _black_edge():
    from matplotlib import patheffects

    return [patheffects.Stroke(linewidth=3.4, foreground="black"), patheffects.Normal()]


def mask_legend(ax, truth: bool = False) -> None:
    """The legend of mixed images: what the outline and the two sides of it are."""
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], color=GENERATED_COLOUR, linewidth=2, label="inside: generated G (M = 0)",
                      path_effects=_black_edge()),
               Line2D([], [], color="none", label="outside: real D (M = 1)")]
    if truth:
        from matplotlib.patches import Patch

        handles.append(Patch(facecolor=TRUTH_COLOUR, alpha=0.5, label="true dis-occlusion"))
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(0, -0.02), fontsize=7, frameon=False,
              handlelength=1.2, borderaxespad=0)


def mixed_panel(ax, real: torch.Tensor, fake: torch.Tensor, mask: torch.Tensor, title: str,
                truth: torch.Tensor | None = None) -> None:
    """The mixed image M * real + (1 - M) * fake with the generated pixels outlined.

    real, fake (1,3,H,W); mask (1,1,H,W); truth: an optional (H,W) bool region filled in translucent magenta.
    """
    ax.imshow(to_numpy_image(mix_images(real, fake, mask)[0]), interpolation="nearest")
    if truth is not None:                             # a translucent fill: the truth is ragged at 64 px
        from matplotlib.colors import to_rgba

        overlay = np.zeros((*truth.shape, 4))
        overlay[truth.detach().cpu().numpy().astype(bool)] = to_rgba(TRUTH_COLOUR, 0.5)
        ax.imshow(overlay, interpolation="nearest")
    outline(ax, mask[0, 0] == 0)
    share = float((mask == 0).float().mean())
    ax.set_title(f"{title}\n{100 * share:.1f}% of pixels generated", fontsize=8)
    ax.set_xticks([])
    ax.set_yticks([])


def _map_panel(ax, image: torch.Tensor, title: str, cmap: str = "gray") -> None:
    ax.imshow(to_numpy_image(image), cmap=cmap, vmin=0, vmax=1, interpolation="nearest")
    ax.set_title(title, fontsize=8)
    ax.set_xticks([])
    ax.set_yticks([])


def prioritycut_figure(driving: torch.Tensor, prediction: torch.Tensor, occlusion_map: torch.Tensor,
                       region_mask: torch.Tensor, top_k_percent: float = 10.0, foreground_threshold: float = 0.5,
                       cutmix_seed: int = DEFAULT_CUTMIX_SEED, truth: torch.Tensor | None = None) -> Figure:
    """PriorityCut step by step beside CutMix, for one sample.

    driving, prediction: (1,3,H,W); occlusion_map: (1,1,h,w); region_mask: (1,K+1,h,w);
    truth: optional (H,W) bool true dis-occlusion, shown on the PriorityCut mix.
    Panels: occlusion map, foreground F, the PriorityCut mask (black = generated), the mixed
    image with the generated pixels outlined, a CutMix mask and its mixed image.
    """
    size = tuple(driving.shape[2:])
    foreground = foreground_pixels(region_mask, foreground_threshold)[0].float()
    mask = prioritycut_mask(occlusion_map, region_mask, top_k_percent, foreground_threshold, size=size)
    box = cutmix_mask(1, *size, generator=torch.Generator().manual_seed(int(cutmix_seed)))
    counts = prioritycut_counts(occlusion_map, region_mask, top_k_percent, foreground_threshold)
    figure = Figure(figsize=(12.0, 2.9))
    axes = figure.subplots(1, 6)
    _map_panel(axes[0], occlusion_map[0, 0], "occlusion map O\n(1 = visible)", cmap="magma")
    _map_panel(axes[1], foreground, f"foreground F\n|F| = {counts['foreground']} of {counts['pixels']}")
    _map_panel(axes[2], mask[0, 0], f"PriorityCut M (black: M = 0)\nn = {counts['n']} (k = {top_k_percent:g}%)")
    mixed_panel(axes[3], driving, prediction, mask, "PriorityCut mix", truth)
    _map_panel(axes[4], box[0, 0], f"CutMix M, seed {int(cutmix_seed)}\n(black: M = 0)")
    mixed_panel(axes[5], driving, prediction, box, "CutMix mix")
    mask_legend(axes[3], truth=truth is not None)
    figure.tight_layout()
    return figure


def prioritycut_small_multiples(driving: torch.Tensor, prediction: torch.Tensor, occlusion_map: torch.Tensor,
                                region_mask: torch.Tensor, top_k_percents=(5, 10, 30, 100),
                                foreground_threshold: float = 0.5, truth: torch.Tensor | None = None) -> Figure:
    """The static twin of the PriorityCut widget: masks (top) and mixed images (bottom) for a few k."""
    size = tuple(driving.shape[2:])
    figure = Figure(figsize=(2.3 * len(top_k_percents), 5.6))
    axes = figure.subplots(2, len(top_k_percents), squeeze=False)
    for column, k in enumerate(top_k_percents):
        mask = prioritycut_mask(occlusion_map, region_mask, k, foreground_threshold, size=size)
        counts = prioritycut_counts(occlusion_map, region_mask, k, foreground_threshold)
        _map_panel(axes[0, column], mask[0, 0], f"M, k = {k:g}%: n = {counts['n']}")
        mixed_panel(axes[1, column], driving, prediction, mask, f"mix, k = {k:g}%", truth)
    mask_legend(axes[1, 0], truth=truth is not None)
    figure.tight_layout()
    return figure


def cutmix_figure(real: torch.Tensor, fake: torch.Tensor, seeds=(0, 1, 2, 3)) -> Figure:
    """CutMix masks for a few seeds (top) and the mixed images with the box outlined (bottom);
    real, fake (1,3,H,W)."""
    size = tuple(real.shape[2:])
    figure = Figure(figsize=(2.3 * len(seeds), 5.6))
    axes = figure.subplots(2, len(seeds), squeeze=False)
    for column, seed in enumerate(seeds):
        mask = cutmix_mask(1, *size, generator=torch.Generator().manual_seed(int(seed)))
        _map_panel(axes[0, column], mask[0, 0], f"M, seed {seed} (black: M = 0)")
        mixed_panel(axes[1, column], real, fake, mask, f"mix, seed {seed}")
    mask_legend(axes[1, 0])
    figure.tight_layout()
    return figure


# --------------------------------------------------------------------------- widgets

WIDE_LABEL = {"description_width": "initial"}     # show the whole slider name


def _slider(description: str, value: float, low: float, high: float, step: float):
    import ipywidgets

    return ipywidgets.FloatSlider(value=value, min=low, max=high, step=step, description=description,
                                  continuous_update=False, style=WIDE_LABEL)


def figure_widget(draw, **sliders):
    """``ipywidgets.interactive`` showing ``draw(**slider values)`` (a Figure) as a PNG.

    Uses only APIs common to ipywidgets 7 and 8. ``widget.draw`` is ``draw`` itself (tests
    call it), and ``widget.sliders`` the slider widgets by argument name.
    """
    import ipywidgets
    from IPython.display import Image, display

    def show(**values):
        display(Image(data=figure_png(draw(**values))))

    widget = ipywidgets.interactive(show, **sliders)
    widget.draw = draw
    widget.sliders = sliders
    return widget


def sweep_widget(widget, points: int = 3) -> int:
    """Call ``widget.draw`` with every slider at ``points`` values from min to max, one at a time.

    Exceptions propagate (ipywidgets itself would only print them into the output area).
    Returns the number of figures drawn.
    """
    defaults = {name: slider.value for name, slider in widget.sliders.items()}
    drawn = 0
    for name, slider in widget.sliders.items():
        for value in np.linspace(slider.min, slider.max, points):
            widget.draw(**{**defaults, name: type(slider.value)(value)})
            drawn += 1
    return drawn


def affine_warp_widget(image: torch.Tensor):
    """Sliders for p^D (x, y), rotation, scale and the jacobian entries of one keypoint."""
    return figure_widget(
        lambda **v: affine_warp_figure(image, **v),
        driving_x=_slider("p_D x", 0.0, -0.8, 0.8, 0.05), driving_y=_slider("p_D y", 0.0, -0.8, 0.8, 0.05),
        rotation=_slider("rotation (deg)", 0.0, -180.0, 180.0, 5.0), scale=_slider("scale", 1.0, 0.25, 2.0, 0.05),
        j11=_slider("J11", 1.0, -2.0, 2.0, 0.1), j12=_slider("J12", 0.0, -2.0, 2.0, 0.1),
        j21=_slider("J21", 0.0, -2.0, 2.0, 0.1), j22=_slider("J22", 1.0, -2.0, 2.0, 0.1))


def region_widget(source, driving, generated, kp_source, kp_driving):
    """A slider choosing which keypoint's motion and region to show."""
    import ipywidgets

    num_kp = kp_source["value"].shape[1]
    return figure_widget(lambda keypoint: region_figure(source, driving, generated, kp_source, kp_driving,
                                                        keypoint),
                         keypoint=ipywidgets.IntSlider(value=0, min=0, max=num_kp - 1, description="keypoint k",
                                                       continuous_update=False, style=WIDE_LABEL))


def prioritycut_widget(driving, prediction, occlusion_map, region_mask, truth: torch.Tensor | None = None):
    """Sliders for top_k_percent and foreground_threshold (and the CutMix seed); ``truth`` (H,W)
    bool, the true dis-occlusion, is outlined on the PriorityCut mix when given."""
    import ipywidgets

    return figure_widget(
        lambda **v: prioritycut_figure(driving, prediction, occlusion_map, region_mask, truth=truth, **v),
        top_k_percent=_slider("top_k_percent", 10.0, 0.0, 100.0, 1.0),
        foreground_threshold=_slider("foreground_threshold", 0.5, 0.0, 1.0, 0.05),
        cutmix_seed=ipywidgets.IntSlider(value=DEFAULT_CUTMIX_SEED, min=0, max=20, description="CutMix seed",
                                         continuous_update=False, style=WIDE_LABEL))


# --------------------------------------------------------------------------- notebooks 6-7: runs

# What a U-Net discriminator loss term is when D answers sigmoid = 1/2 everywhere (a discriminator
# at chance, weights 1): each BCE term is then ln 2; the D terms add a real and a fake BCE.
CHANCE_LOSS = {"disc_unet_encoder": (2 * math.log(2), "2 ln 2"), "disc_unet_decoder": (2 * math.log(2), "2 ln 2"),
               "disc_mix_encoder": (math.log(2), "ln 2"), "disc_mix_decoder": (math.log(2), "ln 2"),
               "gen_unet_encoder": (math.log(2), "ln 2"), "gen_unet_decoder": (math.log(2), "ln 2")}


def loss_figure(log_path: str | Path, names=None, smoothing: int = 10) -> Figure:
    """Loss curves from a run's log.jsonl (one panel per loss term, moving average in bold).

    U-Net discriminator terms carry a dashed line at their chance level (``CHANCE_LOSS``, for
    loss weight 1): a D term on that line means a discriminator that cannot tell real from fake.
    """
    from pcutlib.training.visualize import LOG_FIELDS, read_log

    rows = read_log(log_path)
    if not rows:
        raise FileNotFoundError(f"no log rows in {log_path}")
    names = names or list(dict.fromkeys(k for row in rows for k in row if k not in LOG_FIELDS))
    columns = min(4, len(names))
    figure = Figure(figsize=(3.0 * columns, 2.3 * math.ceil(len(names) / columns)))
    axes = figure.subplots(math.ceil(len(names) / columns), columns, squeeze=False)
    for ax, name in zip(axes.flat, names):
        steps, values = np.array([(r["step"], r[name]) for r in rows if name in r], dtype=float).T
        ax.plot(steps, values, alpha=0.35, linewidth=0.8)
        window = min(smoothing, len(values))
        ax.plot(steps[window - 1:], np.convolve(values, np.ones(window) / window, mode="valid"), linewidth=1.6)
        if name in CHANCE_LOSS:
            level, text = CHANCE_LOSS[name]
            ax.axhline(level, color="black", linestyle="--", linewidth=0.9)
            ax.annotate(f"chance: {text}", (0.02, level), xycoords=("axes fraction", "data"), xytext=(0, 2),
                        textcoords="offset points", fontsize=7)
        ax.set_title(name, fontsize=9)
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(names):]:
        ax.axis("off")
    figure.tight_layout()
    return figure


TRAINING_PHASES = ("finetune", "reconstruction")


def notebook_training_config(config_name: str | Path = "synthetic-64", phase: str = "finetune",
                             epochs: int | None = 6, regularizer: str | None = None,
                             top_k_percent: float | None = None, foreground_threshold: float | None = None,
                             batch_size: int | None = None, data_root: str | Path | None = None,
                             overrides: dict | None = None, root: str | Path | None = None) -> dict:
    """The config notebook 6 trains with, from its parameters.

    phase "finetune": the README's (and ``pcut demo``'s) adversarial fine-tune,
    ``pcutlib.experiments.demo.finetune_config``: U-Net discriminator, PriorityCut at the config's (or the
    given) top-k, generator_gan 1, lr 5e-5 for generator and keypoint detector, 2e-4 for the
    fresh discriminator, no learning-rate drops, region dropout off. phase "reconstruction":
    the config as it is (synthetic-64: generator_gan 0, no discriminator step).
    Then, where given (None keeps the value): ``epochs``, ``regularizer`` (none | cutmix |
    prioritycut), ``foreground_threshold``, ``batch_size``, and ``overrides``
    ({"train_params.lr_generator": 1e-4, ...}; an unknown key is an error that names it).
    ``data_root`` None keeps the config's dataset root, relative to the repository.
    """
    from pcutlib.config import load_config, resolve_config, set_by_path
    from pcutlib.experiments.demo import finetune_config

    if phase not in TRAINING_PHASES:
        raise ValueError(f"phase must be one of {TRAINING_PHASES}, got {phase!r}")
    config = load_config(config_file(config_name, root))
    if phase == "finetune":
        config = finetune_config(config, epochs if epochs is not None else config["train_params"]["num_epochs"],
                                 top_k_percent)
    chosen = {"train_params.num_epochs": epochs, "regularizer.type": regularizer,
              "regularizer.top_k_percent": top_k_percent, "regularizer.foreground_threshold": foreground_threshold,
              "train_params.batch_size": batch_size, **(overrides or {})}
    for key, value in chosen.items():
        if value is not None:
            set_by_path(config, key, value)
    dataset_root = Path(data_root) if data_root is not None else \
        repository_root(root) / config["dataset_params"]["root_dir"]
    config["dataset_params"]["root_dir"] = str(dataset_root)
    return resolve_config(config)


FITTING_SECTIONS = ("common_params", "kp_detector_params", "generator_params")


def shipped_model_fits(config: dict, path: str | Path | None = None) -> bool:
    """Whether the shipped model's keypoint detector and generator can start a run of ``config``
    (same ``model_params`` sections for both; the discriminator always starts fresh). Compared
    with the checkpoint's own config, else, when the file is missing, with configs/synthetic-64."""
    from pcutlib.checkpoints.files import safe_torch_load
    from pcutlib.config import load_config

    path = Path(path) if path is not None else shipped_model_path()
    shipped = safe_torch_load(path)["config"] if path.is_file() else load_config(config_file("synthetic-64"))
    return all(shipped["model_params"][name] == config["model_params"][name] for name in FITTING_SECTIONS)


def training_summary(config: dict) -> str:
    """The settings of a training config that notebook 6's prose talks about, one line each."""
    train_params, regularizer = config["train_params"], config["regularizer"]
    return "\n".join([
        f"epochs {train_params['num_epochs']} x {train_params['num_repeats']} repeats, batch "
        f"{train_params['batch_size']}, milestones {train_params['epoch_milestones']}",
        f"lr generator {train_params['lr_generator']:g}, keypoint detector {train_params['lr_kp_detector']:g}, "
        f"discriminator {train_params['lr_discriminator']:g}",
        f"generator_gan {train_params['loss_weights']['generator_gan']}, discriminator "
        f"{config['model_params']['discriminator_params']['kind']}, region dropout max "
        f"{train_params.get('region_dropout', {}).get('max', 0)}",
        f"regularizer {regularizer['type']}, top_k_percent {regularizer['top_k_percent']:g}, foreground "
        f"{regularizer['foreground']} < {regularizer['foreground_threshold']:g}, mix probability "
        f"{regularizer['mix_probability']:g} after {regularizer['mix_warmup_epochs']:g} warm-up epoch(s)",
        f"data {config['dataset_params']['root_dir']}"])


def compare_with_copy_baseline(summary: dict, metric: str = "l1") -> float:
    """Held-out ``metric`` of a run relative to copying the source frame: model / baseline.

    Warns (``UserWarning``) when the run ends at or above the baseline, i.e. when it does worse
    than a model that learnt nothing; returns the ratio (below 1 is better than copying).
    """
    import warnings

    ratio = summary[metric] / summary[f"baseline_{metric}"]
    if ratio >= 1:
        warnings.warn(f"held-out {metric} {summary[metric]:.4f} is not below copying the source frame "
                      f"({summary[f'baseline_{metric}']:.4f}): this run does worse than doing nothing",
                      stacklevel=2)
    return ratio


def pose_probe_for(data_root: str | Path, cache: str | Path | None = None, steps: int = 300,
                   progress: bool = False):
    """A pose probe (``pcutlib.evaluation.probes.PoseProbe``: frames -> the 14 true joints) trained on the
    train videos of a synthetic dataset, loaded from ``cache`` when that file exists (and
    saved there after training)."""
    from pcutlib.evaluation.probes import load_probe, save_probe, train_pose_probe

    if cache is not None and Path(cache).is_file():
        return load_probe(cache, kind="pose")
    probe = train_pose_probe(str(data_root), steps=steps, progress=progress)
    if cache is not None:
        Path(cache).parent.mkdir(parents=True, exist_ok=True)
        save_probe(cache, probe)
    return probe


def read_run_metrics(runs_root: str | Path) -> dict:
    """{run name: summary dict} from every ``<runs_root>/<name>/metrics.json``."""
    found = {}
    for path in sorted(Path(runs_root).glob("*/metrics.json")):
        document = json.loads(path.read_text())
        found[path.parent.name] = document.get("summary", document)
    return found


def metrics_table(summaries: dict, keys=("l1", "psnr", "ssim", "akd", "akd_gt", "aed")) -> str:
    """A text table: one row per run, the chosen metrics with the copy-source baseline after '|'."""
    keys = [k for k in keys if any(k in s for s in summaries.values())]
    width = max([34] + [len(name) + 2 for name in summaries])
    header = f"{'run':<{width}}" + "".join(f"{k:>10}" for k in keys) + "  |" + "".join(f"{'base ' + k:>12}" for k in keys)
    lines = [header]
    for name, summary in summaries.items():
        cell = lambda v: f"{v:10.4f}" if isinstance(v, (int, float)) else f"{'-':>10}"      # noqa: E731
        lines.append(f"{name:<{width}}" + "".join(cell(summary.get(k)) for k in keys) + "  |"
                     + "".join("  " + cell(summary.get(f"baseline_{k}")) for k in keys))
    return "\n".join(lines)


def animation_html(videos: dict, fps: int = 8, size: float = 2.0) -> str:
    """An HTML5/JavaScript animation (no ffmpeg needed) of named (T,3,H,W) videos side by side."""
    from matplotlib.animation import FuncAnimation

    names = list(videos)
    frames = min(len(v) for v in videos.values())
    figure = Figure(figsize=(size * len(names), size + 0.3))
    axes = figure.subplots(1, len(names), squeeze=False)[0]
    shown = []
    for ax, name in zip(axes, names):
        shown.append(ax.imshow(to_numpy_image(videos[name][0]), interpolation="nearest"))
        ax.set_title(name, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    figure.tight_layout()

    def update(t):
        for image, name in zip(shown, names):
            image.set_data(to_numpy_image(videos[name][t]))
        return shown

    return FuncAnimation(figure, update, frames=frames, interval=1000 / fps, blit=False).to_jshtml()


# --------------------------------------------------------------------------- a seconds-long stand-in model

def tiny_pretrained(out_dir: str | Path, videos: int = 10, frames: int = 8, progress: bool = False) -> tuple:
    """A stand-in for ``pretrained/synthetic-64.pt`` made in seconds, for tests and quick looks.

    Writes a tiny synthetic dataset (64x64, ``videos`` videos of ``frames`` frames, 5
    identities) and trains the synthetic-64 model for a single step on it: the networks have the
    shipped model's shapes but have learnt nothing. Returns (pretrained path, data root); pass
    them to the notebooks as the papermill parameters ``pretrained_path`` and ``data_root``.
    """
    from pcutlib.config import load_config
    from pcutlib.checkpoints.pretrained import export_pretrained
    from pcutlib.data.make_synthetic import make_synthetic_dataset
    from pcutlib.training.loop import train

    out_dir = Path(out_dir)
    data_root = make_synthetic_dataset(out_dir / "synthetic-64", videos=videos, frames=frames, size=64,
                                       identities=5, progress=progress, overwrite=True)
    config = load_config("synthetic-64")
    train_videos = len(list((data_root / "train").glob("*.png")))
    config["dataset_params"]["root_dir"] = str(data_root)
    config["train_params"].update(num_epochs=1, num_workers=0, batch_size=min(8, train_videos))
    last = train(config, out_dir / "run", device="cpu", progress=progress, overwrite=True)
    return export_pretrained(last, out_dir / "synthetic-64.pt"), data_root
