"""Has the model learned motion? Diagnostics on held-out synthetic videos (docs/algorithm.md, the synthetic ground truth).

L1 alone cannot tell: a blurred figure beats copying the source on L1 while learning no
motion. The synthetic world knows the truth (joints, which part covers each pixel, what
the source would look like in the driving pose), so ``diagnose`` measures motion directly,
each figure next to the baseline that learns nothing:

- distinct keypoints: per frame, keypoints whose nearest other keypoint is more than 0.1
  away ([-1,1] units, about 3 px at 64 px), averaged over frames; collapsed keypoints
  count as one cluster;
- keypoint-to-joint probe: a linear map from the detected keypoints to the true joints
  (least squares, fitted on train videos, scored on test videos, in pixels) next to always
  answering the mean training pose;
- silhouette IoU of the prediction's figure pixels (the renderer's chroma rule) with the
  driving frame's, next to copying the source;
- O at rest: mean occlusion value on figure pixels when driving = source (close to 1);
- O-vs-truth AUC: how well 1 - O ranks the true dis-occluded pixels above the others;
- L1 of reconstruction (driving frames) and of animation (the true relative-motion
  rendering of the source identity), each next to copying the source.

``diagnose(models, data_root)`` returns a ``Diagnosis``; ``pcut diagnose`` prints it.
"""
from __future__ import annotations

import argparse
import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from matplotlib.figure import Figure
from tqdm.auto import tqdm

from pcutlib.checkpoints.files import load_models
from pcutlib.coordinates import keypoints_to_pixels
from pcutlib.data.splits import animation_case, load_split
from pcutlib.data.synthetic import BACKGROUND_MAX_CHROMA, FIGURE_MIN_CHROMA
from pcutlib.data.synthetic_truth import disocclusion, disocclusion_from
from pcutlib.inference import animate_video, detect_keypoints, generate_frames, repeat_first
from pcutlib.paths import refuse_to_replace
from pcutlib.training.device import choose_device

DISTINCT_DISTANCE = 0.1          # in [-1,1] units: nearest other keypoint farther than this
FIGURE_CHROMA_THRESHOLD = (FIGURE_MIN_CHROMA + BACKGROUND_MAX_CHROMA) / 2 / 255   # 0.29
PROBE_RIDGE = 1e-3               # ridge on the linear probe (keypoints are near-collinear when collapsed)


# ----------------------------------------------------------------------------- single measures

def distinct_keypoints(keypoints: torch.Tensor, min_distance: float = DISTINCT_DISTANCE) -> float:
    """keypoints (N,K,2) -> mean over frames of #keypoints whose nearest other is > min_distance away."""
    if keypoints.dim() != 3 or keypoints.shape[-1] != 2:
        raise ValueError(f"keypoints must be (N,K,2), got {tuple(keypoints.shape)}")
    distances = torch.cdist(keypoints.double(), keypoints.double())                  # (N,K,K)
    distances.diagonal(dim1=1, dim2=2).fill_(math.inf)
    return float((distances.amin(dim=2) > min_distance).sum(dim=1).double().mean())


def _with_bias(features: torch.Tensor) -> torch.Tensor:
    return torch.cat([features, torch.ones(len(features), 1, dtype=features.dtype)], dim=1)


def linear_probe_error(train_keypoints: torch.Tensor, train_joints: torch.Tensor,
                       test_keypoints: torch.Tensor, test_joints: torch.Tensor, image_size: int) -> dict:
    """Fit joints ~ W [keypoints, 1] on train (ridge least squares), score on test, in pixels.

    *_keypoints (N,K,2) detected, *_joints (N,J,2) true, both in [-1,1]. Returns
    {"probe_px": mean Euclidean joint error of the probe, "mean_pose_px": the same for
    always answering the mean training pose}. Coordinates -> pixels: x (S-1)/2.
    """
    x = _with_bias(train_keypoints.flatten(1).double())                            # (N,2K+1)
    y = train_joints.flatten(1).double()                                             # (N,2J)
    gram = x.T @ x + PROBE_RIDGE * len(x) * torch.eye(x.shape[1], dtype=x.dtype)
    weights = torch.linalg.solve(gram, x.T @ y)                                      # (2K+1,2J)
    predicted = (_with_bias(test_keypoints.flatten(1).double()) @ weights).view(test_joints.shape)
    to_px = (image_size - 1) / 2
    mean_pose = train_joints.double().mean(dim=0, keepdim=True)
    error = lambda guess: float((guess - test_joints.double()).norm(dim=-1).mean() * to_px)  # noqa: E731
    return {"probe_px": error(predicted), "mean_pose_px": error(mean_pose)}


def figure_pixels(frames: torch.Tensor) -> torch.Tensor:
    """frames (N,3,H,W) in [0,1] -> (N,H,W) bool: chroma (max - min of RGB) above the midpoint of
    the renderer's background ceiling and figure floor."""
    return (frames.amax(dim=1) - frames.amin(dim=1)) > FIGURE_CHROMA_THRESHOLD


def silhouette_iou(predicted: torch.Tensor, real: torch.Tensor) -> float:
    """Mean over frames of IoU(figure pixels of predicted, of real); both (N,3,H,W)."""
    a, b = figure_pixels(predicted), figure_pixels(real)
    intersection = (a & b).flatten(1).sum(1).double()
    union = (a | b).flatten(1).sum(1).double().clamp(min=1)
    return float((intersection / union).mean())


def roc_auc(scores: torch.Tensor, labels: torch.Tensor) -> float:
    """Area under the ROC curve of ``scores`` for boolean ``labels`` (Mann-Whitney, ties halved).

    nan when one class is empty.
    """
    scores, labels = scores.flatten().double(), labels.flatten().bool()
    positives, negatives = int(labels.sum()), int((~labels).sum())
    if positives == 0 or negatives == 0:
        return math.nan
    order = torch.argsort(scores)
    sorted_scores = scores[order]
    _, inverse, counts = torch.unique(sorted_scores, return_inverse=True, return_counts=True)
    mean_rank = torch.cumsum(counts, 0).double() - (counts.double() - 1) / 2      # tied ranks averaged
    ranks = torch.empty_like(scores)
    ranks[order] = mean_rank[inverse]
    rank_sum = ranks[labels].sum()
    return float((rank_sum - positives * (positives + 1) / 2) / (positives * negatives))


# ----------------------------------------------------------------------------- the diagnosis

# What the shipped model must reach; printed beside each figure.
@dataclass(frozen=True)
class Target:
    """A figure's target: ``field`` ``at_least`` (or at most) ``threshold``, times the baseline
    ``relative_to`` where given (e.g. animation L1 at most 0.6 x copying the source)."""
    field: str
    at_least: bool
    threshold: float
    text: str
    relative_to: str | None = None

    def bound(self, diagnosis) -> float | None:
        if self.relative_to is None:
            return self.threshold
        base = getattr(diagnosis, self.relative_to)
        return None if base is None else self.threshold * base

    def met(self, diagnosis) -> bool | None:
        """True or False; None where the figure (or its baseline) could not be computed."""
        value, bound = getattr(diagnosis, self.field), self.bound(diagnosis)
        if value is None or bound is None or (isinstance(value, float) and math.isnan(value)):
            return None
        return value >= bound if self.at_least else value <= bound


TARGETS = {target.field: target for target in [
    Target("distinct_keypoints", True, 8, ">= 8 of 10"),
    Target("probe_px", False, 2.5, "<= 2.5"),
    Target("silhouette_iou", True, 0.85, ">= 0.85"),
    Target("occlusion_at_rest", True, 0.95, ">= 0.95"),
    Target("occlusion_auc", True, 0.8, ">= 0.8"),
    Target("animation_l1", False, 0.6, "<= 0.6 x copy", relative_to="copy_animation_l1"),
]}


def targets_line(title: str, diagnosis) -> str:
    """One line: how many targets the diagnosis meets, and each missed one with its figure."""
    verdicts = {name: target.met(diagnosis) for name, target in TARGETS.items()}
    measured = {name: met for name, met in verdicts.items() if met is not None}
    missed = [f"{name} {getattr(diagnosis, name):.3g} (target {TARGETS[name].text})"
              for name, met in measured.items() if not met]
    line = f"{title}: targets met {len(measured) - len(missed)} of {len(measured)}"
    line += f"; missed: {', '.join(missed)}" if missed else " (all met)"
    unmeasured = sorted(set(verdicts) - set(measured))
    return line + (f"; not measured: {', '.join(unmeasured)}" if unmeasured else "")


def relative_change(value: float, baseline: float) -> str:
    """'36.4% below' or '12.0% above': value against baseline, in words that read naturally."""
    change = 100 * (value / baseline - 1)
    return f"{abs(change):.1f}% {'below' if change < 0 else 'above'}"


@dataclass
class Diagnosis:
    """The figures of ``diagnose`` (None where the data did not allow them; ``skipped`` says why)."""
    videos: int
    num_keypoints: int
    distinct_keypoints: float
    probe_px: float | None = None
    mean_pose_px: float | None = None
    silhouette_iou: float = math.nan
    copy_silhouette_iou: float = math.nan
    occlusion_at_rest: float | None = None
    occlusion_auc: float | None = None
    reconstruction_l1: float = math.nan
    copy_reconstruction_l1: float = math.nan
    animation_l1: float | None = None
    copy_animation_l1: float | None = None
    animation_silhouette_iou: float | None = None
    copy_animation_silhouette_iou: float | None = None
    skipped: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def _upsampled(occlusion_map: torch.Tensor, size) -> torch.Tensor:
    """(N,1,h,w) -> (N,H,W) bilinear (the generator's own resampling of O is at h x w)."""
    return F.interpolate(occlusion_map, size=size, mode="bilinear", align_corners=False)[:, 0]


@torch.no_grad()
def diagnose(models, data_root: str | Path, frame_shape=None, max_videos: int | None = None,
             max_probe_videos: int = 80, progress: bool = True) -> Diagnosis:
    """Diagnose a trained model on the held-out videos of a synthetic dataset (see module doc).

    models: pcutlib.models.build.Models (kp_detector, generator); data_root: a root with train/
    (for the probe) and test/ videos, with X.keypoints.npy and X.truth.npz beside them where
    available; what cannot be computed without them is skipped and named in ``skipped``.
    frame_shape (H,W,3): the model's frame size (default: the videos' own).
    """
    models.eval()
    root = Path(data_root)
    test = load_split(root, "test", frame_shape, max_videos)
    skipped = []
    keypoints, predictions, drivings, copies, scores, truths, at_rest = [], [], [], [], [], [], []
    for path, frames, _, truth in tqdm(test, desc="diagnose: reconstruction", disable=not progress, leave=False):
        kp = detect_keypoints(models.kp_detector, frames)
        keypoints.append(kp["value"])
        count = len(frames)
        out = generate_frames(models.generator, frames[:1], repeat_first(kp, 1), kp)      # frame 0 driven by each
        predictions.append(out["prediction"])
        drivings.append(frames)
        copies.append(frames[:1].expand(count, -1, -1, -1))
        if "occlusion_map" in out:
            rest = generate_frames(models.generator, frames, kp, kp)["occlusion_map"]          # driving = source
            mask = figure_pixels(frames)
            at_rest.append(_upsampled(rest, frames.shape[2:])[mask])
            if truth is not None and count > 1:
                occlusion = _upsampled(out["occlusion_map"][1:], frames.shape[2:])          # (T-1,H,W)
                truth_masks = disocclusion_from(truth, 0)[1:]                               # (T-1,H,W)
                scores.append((1 - occlusion).flatten())
                truths.append(torch.from_numpy(truth_masks).flatten())
    prediction, driving, copy = torch.cat(predictions), torch.cat(drivings), torch.cat(copies)
    all_keypoints = torch.cat(keypoints)
    diagnosis = Diagnosis(videos=len(test), num_keypoints=all_keypoints.shape[1],
                          distinct_keypoints=distinct_keypoints(all_keypoints),
                          silhouette_iou=silhouette_iou(prediction, driving),
                          copy_silhouette_iou=silhouette_iou(copy, driving),
                          reconstruction_l1=float((prediction - driving).abs().mean()),
                          copy_reconstruction_l1=float((copy - driving).abs().mean()), skipped=skipped)
    if at_rest:
        diagnosis.occlusion_at_rest = float(torch.cat(at_rest).mean())
    else:
        skipped.append("occlusion figures: the generator estimates no occlusion map")
    if scores:
        diagnosis.occlusion_auc = roc_auc(torch.cat(scores), torch.cat(truths))
    elif at_rest:
        skipped.append("occlusion AUC: the test videos have no X.truth.npz (make them with pcut make-synthetic)")

    # keypoint -> joint probe: fit on train videos, score on test videos
    if all(joints is not None for _, _, joints, _ in test) and (root / "train").is_dir():
        train = load_split(root, "train", frame_shape, max_probe_videos)
        if all(joints is not None for _, _, joints, _ in train):
            train_kp = torch.cat([detect_keypoints(models.kp_detector, frames)["value"] for _, frames, _, _ in train])
            probe = linear_probe_error(train_kp, torch.cat([j for _, _, j, _ in train]), all_keypoints,
                                       torch.cat([j for _, _, j, _ in test]), driving.shape[-1])
            diagnosis.probe_px, diagnosis.mean_pose_px = probe["probe_px"], probe["mean_pose_px"]
        else:
            skipped.append("keypoint probe: some train videos have no X.keypoints.npy")
    else:
        skipped.append("keypoint probe: needs X.keypoints.npy beside every test video and a train/ folder")

    # animation: test video i's first frame driven by a test video of another figure
    if all(truth is not None for *_, truth in test):
        animated, truth_frames, copied = [], [], []
        for index in tqdm(range(len(test)), desc="diagnose: animation", disable=not progress, leave=False):
            case = animation_case(test, index)
            if case is None:
                break
            source, driving, target = case
            result = animate_video(models.kp_detector, models.generator, source, driving)
            animated.append(result["prediction"].float().cpu())
            truth_frames.append(target)
            copied.append(source[None].expand_as(target))
        if animated:
            animated, truth_frames, copied = torch.cat(animated), torch.cat(truth_frames), torch.cat(copied)
            diagnosis.animation_l1 = float((animated - truth_frames).abs().mean())
            diagnosis.copy_animation_l1 = float((copied - truth_frames).abs().mean())
            diagnosis.animation_silhouette_iou = silhouette_iou(animated, truth_frames)
            diagnosis.copy_animation_silhouette_iou = silhouette_iou(copied, truth_frames)
        else:
            skipped.append("animation: the test videos show a single figure (no other identity to drive by)")
    else:
        skipped.append("animation: the test videos have no X.truth.npz (make them with pcut make-synthetic)")
    return diagnosis


@torch.no_grad()
def diagnosis_figure(models, data_root: str | Path, path: str | Path, video_index: int = 0,
                     frames=None, frame_shape=None):
    """A held-out video driven from its first frame, one row per chosen frame (default: four
    spread over the video): source and driving with the detected keypoints, prediction,
    occlusion map O, true dis-occlusion."""
    item = load_split(Path(data_root), "test", frame_shape, video_index + 1)[video_index]
    name, video, _, truth = item
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
    columns = ["source + keypoints", "driving + keypoints", "prediction", "occlusion map O", "true dis-occlusion"]
    fig = Figure(figsize=(2.0 * len(columns), 2.0 * len(frames) + 0.3), layout="constrained")
    axes = fig.subplots(len(frames), len(columns), squeeze=False)
    colours = [f"C{k % 10}" for k in range(kp_source["value"].shape[1])]
    for row, t in enumerate(frames):
        panels = [video[0], driving[row], out["prediction"][row].clamp(0, 1)]
        for column, image in enumerate(panels):
            axes[row, column].imshow(image.permute(1, 2, 0).numpy(), interpolation="nearest")
        for column, kp in ((0, kp_source["value"][0]), (1, kp_driving["value"][row])):
            xy = keypoints_to_pixels(kp.detach().cpu().double().numpy(), size, size)
            axes[row, column].scatter(xy[:, 0], xy[:, 1], s=14, c=colours, edgecolors="white", linewidths=0.5)
        if "occlusion_map" in out:
            axes[row, 3].imshow(_upsampled(out["occlusion_map"][row:row + 1], (size, size))[0].numpy(),
                                cmap="gray", vmin=0, vmax=1, interpolation="nearest")
        if truth is not None:
            mask = disocclusion(truth.labels[0], truth.part_frames[0], truth.labels[t], truth.part_frames[t])
            axes[row, 4].imshow(~mask, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
        axes[row, 0].set_ylabel(f"frame {t}")
        for ax in axes[row]:
            ax.set_xticks([])
            ax.set_yticks([])
    for column, title in enumerate(columns):
        axes[0, column].set_title(title, fontsize=9)
    fig.suptitle(f"{name.name}: held-out figure driven from its first frame (dark = occluded / dis-occluded)",
                 fontsize=9)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    return Path(path)


def _number(value, digits: int) -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


# (label, field, digits, baseline field or fixed text, which baseline, target key)
TABLE_ROWS = [
    ("distinct keypoints (of {K})", "distinct_keypoints", 1, None, "", "distinct_keypoints"),
    ("keypoint->joint probe error (px)", "probe_px", 2, "mean_pose_px", "mean pose", "probe_px"),
    ("silhouette IoU vs driving", "silhouette_iou", 3, "copy_silhouette_iou", "copy", "silhouette_iou"),
    ("mean O on figure pixels at rest", "occlusion_at_rest", 3, "1", "ideal", "occlusion_at_rest"),
    ("O vs true dis-occlusion AUC", "occlusion_auc", 3, "0.5", "chance", "occlusion_auc"),
    ("reconstruction L1", "reconstruction_l1", 4, "copy_reconstruction_l1", "copy", None),
    ("animation L1 vs true animation", "animation_l1", 4, "copy_animation_l1", "copy", "animation_l1"),
    ("animation silhouette IoU", "animation_silhouette_iou", 3, "copy_animation_silhouette_iou", "copy", None),
]


def format_diagnoses(diagnoses: dict) -> str:
    """Several models' diagnoses side by side ({column title: Diagnosis}), then the baseline
    (from the first) and the shipped model's target."""
    first = next(iter(diagnoses.values()))
    width = max(10, *(len(title) + 2 for title in diagnoses))
    lines = [f"{'':<35}" + "".join(f"{title:>{width}}" for title in diagnoses)
             + f"{'baseline':>10}  {'(which)':<10}{'target':>12}"]
    for label, name, digits, baseline, which, target in TABLE_ROWS:
        values = "".join(f"{_number(getattr(d, name), digits):>{width}}" for d in diagnoses.values())
        base = "-" if baseline is None else (_number(getattr(first, baseline), digits) if hasattr(first, baseline)
                                             else baseline)
        goal = TARGETS[target].text if target in TARGETS else ""
        lines.append(f"{label.format(K=first.num_keypoints):<35}{values}{base:>10}  {which:<10}{goal:>12}")
    for title, d in diagnoses.items():
        if d.animation_l1 is not None and d.copy_animation_l1:
            lines.append(f"{title}: animation L1 {relative_change(d.animation_l1, d.copy_animation_l1)} copying the "
                         f"source (target: at least 40% below)")
        lines.append(targets_line(title, d))
        lines += [f"{title}: skipped {reason}" for reason in d.skipped]
    return "\n".join(lines)


def format_diagnosis(diagnosis: Diagnosis, title: str = "model") -> str:
    """One model's diagnosis as a table: its figures, the baselines and the shipped model's targets."""
    return format_diagnoses({title: diagnosis})


# ----------------------------------------------------------------------------- console command

def add_diagnose_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.description = ("Has the model learned motion? Keypoint spread, a keypoint-to-joint probe, silhouette "
                          "IoU, the occlusion map at rest and against the true dis-occlusion, and L1 against "
                          "the true animation, each next to its baseline, on held-out synthetic videos.")
    parser.add_argument("--checkpoint", required=True, type=Path, help="a pcut checkpoint (or pretrained/synthetic-64.pt)")
    parser.add_argument("--data", required=True, type=Path,
                        help="synthetic dataset root with train/ and test/ (pcut make-synthetic)")
    parser.add_argument("--max-videos", type=int, default=None, metavar="N", help="diagnose only N test videos")
    parser.add_argument("--json", type=Path, default=None, metavar="FILE", help="also write the figures as JSON")
    parser.add_argument("--figure", type=Path, default=None, metavar="PNG",
                        help="also draw one held-out video: keypoints, prediction, O and the true dis-occlusion")
    parser.add_argument("--overwrite", action="store_true", help="replace --json and --figure files if they exist")
    parser.add_argument("--device", default="auto", help="auto (CUDA when available), cpu, cuda")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    return parser


def run_diagnose(args: argparse.Namespace) -> int:
    refuse_to_replace([path for path in (args.json, args.figure) if path is not None], args.overwrite)
    models, checkpoint = load_models(args.checkpoint, device=choose_device(args.device), with_discriminator=False)
    frame_shape = checkpoint["config"]["dataset_params"]["frame_shape"]
    diagnosis = diagnose(models, args.data, frame_shape, args.max_videos, progress=not args.no_progress)
    print(f"diagnosis of {args.checkpoint} on {diagnosis.videos} held-out videos of {args.data}/test:")
    print(format_diagnosis(diagnosis))
    if args.json is not None:
        args.json.write_text(json.dumps(diagnosis.to_dict(), indent=2) + "\n")
    if args.figure is not None:
        print(f"figure: {diagnosis_figure(models, args.data, args.figure, frame_shape=frame_shape)}")
    return 0
