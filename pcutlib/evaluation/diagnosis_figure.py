"""The picture beside ``pcut diagnose``'s table: one held-out video driven from its first frame,
one row per chosen frame, showing what the model moves, where its occlusion map and PriorityCut
mask point, where the truth says pixels must be invented, and (for a U-Net discriminator)
where the discriminator says the image is fake."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from matplotlib.figure import Figure

from pcutlib.coordinates import keypoints_to_pixels
from pcutlib.data.splits import load_split
from pcutlib.data.synthetic import BACKGROUND_LABEL
from pcutlib.data.synthetic_truth import disocclusion
from pcutlib.evaluation.artifacts import reconstruction_mask
from pcutlib.inference import detect_keypoints, generate_frames
from pcutlib.models.unet_discriminator import UNetDiscriminator
from pcutlib.prioritycut import RegularizerConfig

TRUTH_COLOURS = {"background": (0.95, 0.65, 0.1), "figure": (0.85, 0.1, 0.45)}   # dis-occluded: uncovered / part


def truth_image(truth: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """(S,S) bool dis-occlusion and the driving frame's labels -> (S,S,3) RGB: white where visible,
    orange where uncovered background, magenta where dis-occluded figure."""
    image = np.ones(truth.shape + (3,))
    figure = labels != BACKGROUND_LABEL
    image[truth & ~figure] = TRUTH_COLOURS["background"]
    image[truth & figure] = TRUTH_COLOURS["figure"]
    return image


def mask_overlay(frame: torch.Tensor, selected: torch.Tensor) -> np.ndarray:
    """frame (3,H,W), selected (H,W) bool -> (H,W,3): the frame dimmed, selected pixels in cyan."""
    image = frame.permute(1, 2, 0).numpy() * 0.4
    image[selected.numpy()] = (0.1, 0.9, 0.95)
    return image


def label_panels(axes, frames: list, columns: list) -> None:
    """Rows named by their frame, columns by their title, no ticks (a grid of image panels)."""
    for row, t in enumerate(frames):
        axes[row, 0].set_ylabel(f"frame {t}")
        for ax in axes[row]:
            ax.set_xticks([])
            ax.set_yticks([])
    for column, title in enumerate(columns):
        axes[0, column].set_title(title, fontsize=8)


@torch.no_grad()
def diagnosis_figure(models, data_root: str | Path, path: str | Path, video_index: int = 0,
                     frames=None, frame_shape=None, regularizer: RegularizerConfig | None = None) -> Path:
    """Draw test video ``video_index`` driven from its first frame, one row per frame (default: four
    spread over the video): source and driving with the detected keypoints, prediction, the
    occlusion map O, the PriorityCut mask (``regularizer``'s k) on the prediction, the true
    dis-occlusion split into uncovered background and figure, and with a U-Net discriminator its
    per-pixel fake probability on the prediction. Writes ``path``; returns it."""
    regularizer = regularizer or RegularizerConfig()
    name, video, _, truth = load_split(Path(data_root), "test", frame_shape, video_index + 1)[video_index]
    if frames is None:
        frames = sorted(set(np.linspace(len(video) // 5, len(video) - 1, 4).round().astype(int).tolist()))
    frames = [t for t in frames if 0 <= t < len(video)]
    if not frames:
        raise ValueError(f"video {name.name} has {len(video)} frames; none of the requested frames exist")
    driving = video[frames]
    kp_driving = detect_keypoints(models.kp_detector, driving)
    kp_source = detect_keypoints(models.kp_detector, video[:1])
    out = generate_frames(models.generator, video[:1], kp_source, kp_driving)
    size = video.shape[-1]
    selected = reconstruction_mask(out, regularizer, (size, size))
    unet = isinstance(models.discriminator, UNetDiscriminator)
    if unet:
        device = next(models.discriminator.parameters()).device
        fake_probability = 1 - torch.sigmoid(models.discriminator(out["prediction"].to(device))["pixel_logits"]).cpu()
    columns = ["source + keypoints", "driving + keypoints", "prediction", "occlusion map O",
               f"PriorityCut mask (top {regularizer.top_k_percent:g}%)", "true dis-occlusion"]
    # the AUC ranks the pixels: the scale spans each frame's own 1st-99th percentile of P(fake)
    columns += ["D: P(fake), frame's 1-99%"] if unet else []
    fig = Figure(figsize=(2.0 * len(columns), 2.0 * len(frames) + 0.6), layout="constrained")
    axes = fig.subplots(len(frames), len(columns), squeeze=False)
    colours = [f"C{k % 10}" for k in range(kp_source["value"].shape[1])]
    for row, t in enumerate(frames):
        prediction = out["prediction"][row].clamp(0, 1)
        for column, image in enumerate([video[0], driving[row], prediction]):
            axes[row, column].imshow(image.permute(1, 2, 0).numpy(), interpolation="nearest")
        for column, kp in ((0, kp_source["value"][0]), (1, kp_driving["value"][row])):
            xy = keypoints_to_pixels(kp.detach().cpu().double().numpy(), size, size)
            axes[row, column].scatter(xy[:, 0], xy[:, 1], s=14, c=colours, edgecolors="white", linewidths=0.5)
        if "occlusion_map" in out:
            occlusion = F.interpolate(out["occlusion_map"][row:row + 1], size=(size, size), mode="bilinear",
                                      align_corners=False)[0, 0]
            axes[row, 3].imshow(occlusion.numpy(), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
        if selected is not None:
            axes[row, 4].imshow(mask_overlay(prediction, selected[row, 0] < 0.5), interpolation="nearest")
        if truth is not None:
            mask = disocclusion(truth.labels[0], truth.part_frames[0], truth.labels[t], truth.part_frames[t])
            axes[row, 5].imshow(truth_image(mask, truth.labels[t]), interpolation="nearest")
        if unet:
            low, high = torch.quantile(fake_probability[row, 0].flatten(), torch.tensor([0.01, 0.99])).tolist()
            axes[row, 6].imshow(fake_probability[row, 0].numpy(), cmap="magma", vmin=low, vmax=max(high, low + 1e-6),
                                interpolation="nearest")
            axes[row, 6].set_xlabel(f"{low:.3f} to {high:.3f}", fontsize=7)
    label_panels(axes, frames, columns)
    fig.suptitle(f"{name.name}: held-out figure driven from its first frame. O: dark = occluded; mask: cyan = "
                 f"generated pixels PriorityCut mixes in; truth: orange = uncovered background, magenta = "
                 f"dis-occluded figure", fontsize=8, wrap=True)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    return Path(path)


@torch.no_grad()
def occlusion_masks_figure(models, data_root: str | Path, path: str | Path | None = None, video_index: int = 0,
                           frames=None, frame_shape=None) -> Figure:
    """TPSMM's occlusion masks, coarse to fine, beside the truth: test video ``video_index`` driven
    from its first frame, one row per frame (default: three spread over the video), columns
    driving, prediction, each of the masks at its own resolution (dark = occluded; the finest is
    the one the prediction is blended with) and the true dis-occlusion. Writes ``path`` when
    given; returns the figure."""
    name, video, _, truth = load_split(Path(data_root), "test", frame_shape, video_index + 1)[video_index]
    frames = frames or sorted(set(np.linspace(len(video) // 4, len(video) - 1, 3).round().astype(int).tolist()))
    driving = video[frames]
    kp_driving = detect_keypoints(models.kp_detector, driving)
    out = generate_frames(models.generator, video[:1], detect_keypoints(models.kp_detector, video[:1]), kp_driving,
                          driving=driving)
    if "occlusion_maps" not in out:
        raise ValueError("the model has one occlusion map, not TPSMM's several: use diagnosis_figure")
    masks = out["occlusion_maps"]
    columns = ["driving", "prediction", *[f"O at {m.shape[-1]}x{m.shape[-1]}" for m in masks], "true dis-occlusion"]
    fig = Figure(figsize=(1.9 * len(columns), 1.9 * len(frames) + 0.5), layout="constrained")
    axes = fig.subplots(len(frames), len(columns), squeeze=False)
    for row, t in enumerate(frames):
        axes[row, 0].imshow(driving[row].permute(1, 2, 0).numpy(), interpolation="nearest")
        axes[row, 1].imshow(out["prediction"][row].clamp(0, 1).permute(1, 2, 0).numpy(), interpolation="nearest")
        for column, mask in enumerate(masks, start=2):
            axes[row, column].imshow(mask[row, 0].numpy(), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
        if truth is not None:
            mask = disocclusion(truth.labels[0], truth.part_frames[0], truth.labels[t], truth.part_frames[t])
            axes[row, -1].imshow(truth_image(mask, truth.labels[t]), interpolation="nearest")
    label_panels(axes, frames, columns)
    fig.suptitle(f"{name.name}: TPSMM's occlusion masks, coarse to fine (dark = occluded), beside the truth "
                 f"(orange = uncovered background, magenta = dis-occluded figure)", fontsize=8, wrap=True)
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=110)
    return fig
