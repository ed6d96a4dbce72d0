"""FOMM's evaluation protocols: reconstruction and animation (docs/algorithm.md, evaluation).

Reconstruction (FOMM's ``reconstruction.py``): for each test video the first frame is the
source and *every* frame t is driven with its own keypoints, used as they are (absolute,
not relative: source and driving show the same figure):
    x_hat_t = G(x_1, kp_source = KP(x_1), kp_driving = KP(x_t)),    compared with x_t.
The copy-the-source baseline predicts x_hat_t = x_1 for every t; it is measured the same
way and reported with a ``baseline_`` prefix, so a model must beat doing nothing.

Animation (FOMM's ``animate.py``): PairedDataset pairs (driving video, source video); the
first frame of the source video is driven by the whole driving video with relative
motion (``pcutlib.inference.animate_video``). There is no ground truth, so only the probes
measure it: pose following (AKD/MKR against the driving frames) and identity keeping
(AED against the source frame).

Two ways to average, both reported:
- pcut's metrics (``l1``, ``psnr``, ``ssim``, ``lpips``, ``akd``, ``mkr``, ``akd_gt``, ``aed``)
  pool each video (``pcutlib.evaluation.metrics``: e.g. PSNR of the video's MSE, AKD over all its
  keypoints found in both) and the summary is the mean over videos, ignoring NaN entries.
- FOMM's evaluation code (AliaksandrSiarohin/pose-evaluation, cmp*.py) scores every frame
  and averages over all frames of all videos; ``fomm_frame_metrics`` gives those under the
  names ``<metric>_fomm``, each with ``<metric>_fomm_weight``, the number of frames it
  averages in the video, so the summary (a weighted mean over videos) is the mean over all
  frames. Definitions there.
"""
from __future__ import annotations

import argparse
import csv
import json
import math
import sys
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from pcutlib.checkpoints.files import load_models
from pcutlib.data.datasets import FramesDataset, PairedDataset
from pcutlib.evaluation import metrics
from pcutlib.evaluation.probes import load_probe
from pcutlib.inference import animate_video, reconstruct_video
from pcutlib.paths import refuse_to_replace
from pcutlib.training.device import choose_device

DEFAULT_CONFIDENCE_THRESHOLD = 0.5   # a probe joint with confidence below this counts as missing


# ----------------------------------------------------------------------------- reconstruction

def fomm_frame_metrics(pred: torch.Tensor, real: torch.Tensor, prefix: str = "", detections: tuple | None = None,
                       embeddings: tuple | None = None, true_keypoints: torch.Tensor | None = None) -> dict:
    """FOMM-style metrics of one video: each frame scored alone, then the mean over its frames,
    with the count of frames scored as ``<key>_weight`` (the mean over all frames of all videos
    is the weighted mean of these). pred, real (T,3,H,W) in [0,1].

        l1_fomm     per frame: mean |pred - real| over pixels and channels (cmp.py on images)
        psnr_fomm   per frame: 10 log10(1 / MSE), at most metrics.PSNR_CAP_DB
        ssim_fomm   per frame: mean SSIM (Gaussian window 11, sigma 1.5)
      with ``detections`` = ((pred keypoints (T,J,2), pred found (T,J)), (real keypoints, real found)):
        akd_fomm    per frame: mean Euclidean distance in pixels over keypoints found in both
                    (frames with none found in both are not scored)
        mkr_fomm    per frame: share of the keypoints found in the real frame that are missing in
                    the generated one (frames without a real keypoint are not scored)
        akd_gt_fomm as akd_fomm, the generated frame's detections against ``true_keypoints`` (T,J,2)
      with ``embeddings`` = (pred (T,D), real (T,D)):
        aed_fomm    per frame: mean over dimensions of |e_pred - e_real| (cmp.py's distance)
    Keys are prefixed by ``prefix``.
    """
    per_frame = {"l1_fomm": metrics.l1_per_frame(pred, real), "psnr_fomm": metrics.psnr_per_frame(pred, real),
                 "ssim_fomm": metrics.ssim_per_frame(pred, real)}
    if detections is not None:
        (keypoints, found), (real_keypoints, real_found) = detections
        size = real.shape[2:]
        per_frame["akd_fomm"] = metrics.keypoint_distance_per_frame(keypoints, real_keypoints, size, found,
                                                                    real_found)
        per_frame["mkr_fomm"] = metrics.missing_keypoints_per_frame(found, real_found)
        if true_keypoints is not None:
            per_frame["akd_gt_fomm"] = metrics.keypoint_distance_per_frame(keypoints, true_keypoints, size, found)
    if embeddings is not None:
        per_frame["aed_fomm"] = metrics.embedding_difference_per_frame(*embeddings)
    row = {}
    for key, values in per_frame.items():
        scored = values[~np.isnan(values)]
        row[f"{prefix}{key}"] = float(scored.mean()) if len(scored) else math.nan
        row[f"{prefix}{key}_weight"] = int(len(scored))
    return row


def video_metrics(pred: torch.Tensor, real: torch.Tensor, use_lpips: bool = False, pose_probe=None,
                  identity_probe=None, true_keypoints: torch.Tensor | None = None,
                  confidence_threshold: float = DEFAULT_CONFIDENCE_THRESHOLD, prefix: str = "",
                  real_detection: tuple | None = None, real_embedding: torch.Tensor | None = None) -> dict:
    """Every reconstruction metric of one video: pred, real (T,3,H,W); true_keypoints (T,J,2) or None.

    pcut's pooled metrics (``frame_metrics``, ``pose_metrics``, AED) and FOMM's per-frame ones
    (``fomm_frame_metrics``), keys prefixed by ``prefix``. real_detection / real_embedding: the
    probes' output on ``real`` when already computed (else computed here).
    """
    row = frame_metrics(pred, real, use_lpips, prefix)
    detections = embeddings = None
    if pose_probe is not None:
        if real_detection is None:
            real_detection = pose_probe.detect(real, confidence_threshold)
        detection = pose_probe.detect(pred, confidence_threshold)
        row.update(pose_metrics(pose_probe, pred, real_detection, real.shape[2:], confidence_threshold,
                                true_keypoints, prefix, detection=detection))
        detections = (detection, real_detection)
    if identity_probe is not None:
        if real_embedding is None:
            real_embedding = identity_probe.embeddings(real)                 # (T,D)
        embeddings = (identity_probe.embeddings(pred), real_embedding)
        row[f"{prefix}aed"] = metrics.average_euclidean_distance(*embeddings)
    row.update(fomm_frame_metrics(pred, real, prefix, detections, embeddings, true_keypoints))
    return row


def frame_metrics(pred: torch.Tensor, real: torch.Tensor, use_lpips: bool, prefix: str = "") -> dict:
    """L1, PSNR, SSIM (and LPIPS) of pred vs real, both (T,3,H,W); keys prefixed by ``prefix``."""
    row = {f"{prefix}l1": metrics.l1(pred, real), f"{prefix}psnr": metrics.psnr(pred, real),
           f"{prefix}ssim": metrics.ssim(pred, real)}
    if use_lpips:
        row[f"{prefix}lpips"] = metrics.lpips_distance(pred, real)
    return row


def pose_metrics(pose_probe, pred: torch.Tensor, real_detection: tuple, image_size, threshold: float,
                 true_keypoints: torch.Tensor | None, prefix: str = "", detection: tuple | None = None) -> dict:
    """AKD/MKR of the probe's detections on pred (T,3,H,W) against those on the real frames.

    real_detection: (keypoints (T,J,2), found (T,J)) on the real frames; detection: the same on
    pred when already computed. With the true joints (T,J,2) also ``akd_gt``: the pred
    detections against the ground truth.
    """
    keypoints, found = pose_probe.detect(pred, threshold) if detection is None else detection
    real_keypoints, real_found = real_detection
    row = {f"{prefix}akd": metrics.average_keypoint_distance(keypoints, real_keypoints, image_size,
                                                             found, real_found),
           f"{prefix}mkr": metrics.missing_keypoint_rate(found, real_found)}
    if true_keypoints is not None:
        row[f"{prefix}akd_gt"] = metrics.average_keypoint_distance(keypoints, true_keypoints, image_size,
                                                                   found, None)
    return row


def weighted_mean(rows: list[dict], key: str) -> float:
    """Mean of ``row[key]`` over rows, weighted by ``row[key + "_weight"]`` where rows carry it
    (else 1 each); NaN and missing entries are left out; NaN when nothing is left.

    With the FOMM-style keys (weight = frames scored) this is the mean over all frames."""
    values, weights = [], []
    for row in rows:
        value = row.get(key)
        if isinstance(value, (int, float)) and not math.isnan(value):
            values.append(float(value))
            weights.append(float(row.get(f"{key}_weight", 1)))
    values, weights = np.array(values), np.array(weights)
    if not len(values) or weights.sum() == 0:
        return math.nan
    return float((values * weights).sum() / weights.sum())


def _summarize(rows: list[dict], protocol: str) -> dict:
    """Mean over rows of every numeric key (weighted where a ``_weight`` key says so), plus counts."""
    summary = {"protocol": protocol, "num_videos": len(rows),
               "num_frames": int(sum(row.get("frames", 0) for row in rows))}
    keys = [k for k in rows[0] if k not in ("name", "frames") and not k.endswith("_weight")] if rows else []
    for key in keys:
        summary[key] = weighted_mean(rows, key)
    return summary


def _check_threshold(threshold: float) -> None:
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"confidence_threshold must be in [0, 1], got {threshold}")


def evaluate_reconstruction(models, dataset, device="cpu", pose_probe=None, identity_probe=None,
                            max_videos: int | None = None, progress: bool = True, batch_size: int = 16,
                            confidence_threshold: float = DEFAULT_CONFIDENCE_THRESHOLD,
                            use_lpips: bool | None = None) -> tuple[dict, list[dict]]:
    """FOMM's reconstruction protocol over a test dataset, with the copy-source baseline.

    dataset items: {"video": (T,3,H,W), "name", "keypoints"?: (T,J,2)} (FramesDataset with
    is_train=False). Per video: l1, psnr, ssim, lpips (when available or use_lpips=True);
    with a pose probe akd, mkr (a joint is missing below ``confidence_threshold``), and,
    with true joints, akd_gt and probe_akd_gt (the probe on the real frames: its error
    floor); with an identity probe aed; and FOMM's per-frame versions ``<metric>_fomm``
    (``fomm_frame_metrics``). Each metric also as ``baseline_<metric>``.
    Returns (summary: means over videos, per_video: one dict per video).
    """
    _check_threshold(confidence_threshold)
    if use_lpips is None:
        use_lpips = metrics.lpips_available()
    models.to(device).eval()
    for probe in (pose_probe, identity_probe):
        if probe is not None:
            probe.to(device).eval()
    count = len(dataset) if max_videos is None else min(int(max_videos), len(dataset))
    if count < 1:
        raise ValueError(f"nothing to evaluate: the dataset has {len(dataset)} videos, max_videos={max_videos}")
    rows = []
    for index in tqdm(range(count), desc="reconstruction", disable=not progress, unit="video"):
        item = dataset[index]
        video = item["video"]                                                # (T,3,H,W)
        prediction = reconstruct_video(models, video, batch_size)["prediction"]
        baseline = video[:1].expand_as(video)                                # x_hat_t = x_1
        true_keypoints = item.get("keypoints")                               # (T,J,2) or None
        row = {"name": item["name"], "frames": len(video)}
        real_detection = None if pose_probe is None else pose_probe.detect(video, confidence_threshold)
        real_embedding = None if identity_probe is None else identity_probe.embeddings(video)    # (T,D)
        for prefix, frames in (("", prediction), ("baseline_", baseline)):
            row.update(video_metrics(frames, video, use_lpips, pose_probe, identity_probe, true_keypoints,
                                     confidence_threshold, prefix, real_detection, real_embedding))
        if real_detection is not None and true_keypoints is not None:
            row["probe_akd_gt"] = metrics.average_keypoint_distance(
                real_detection[0], true_keypoints, video.shape[2:], real_detection[1], None)
        rows.append(row)
    return _summarize(rows, "reconstruction"), rows


# ----------------------------------------------------------------------------- animation

def evaluate_animation(models, pairs, device="cpu", pose_probe=None, identity_probe=None,
                       max_pairs: int | None = None, progress: bool = True,
                       confidence_threshold: float = DEFAULT_CONFIDENCE_THRESHOLD,
                       normalization_params: dict | None = None) -> tuple[dict, list[dict]]:
    """FOMM's animation protocol: drive each pair's source frame by its driving video.

    pairs: PairedDataset items {"driving_video": (T,3,H,W), "source_video": (S,3,H,W),
    "driving_name", "source_name"}. normalization_params: animate_params'
    (adapt_movement_scale, use_relative_movement, use_relative_jacobian); default relative.
    Per pair, with a pose probe: akd, mkr of the generated frames against the driving
    frames; with an identity probe: aed of the generated frames against the source frame.
    Returns (summary, per_pair).
    """
    _check_threshold(confidence_threshold)
    normalization = {"adapt_movement_scale": False, "use_relative_movement": True,
                     "use_relative_jacobian": True, **(normalization_params or {})}
    models.to(device).eval()
    for probe in (pose_probe, identity_probe):
        if probe is not None:
            probe.to(device).eval()
    count = len(pairs) if max_pairs is None else min(int(max_pairs), len(pairs))
    rows = []
    for index in tqdm(range(count), desc="animation", disable=not progress, unit="pair"):
        item = pairs[index]
        driving, source = item["driving_video"], item["source_video"][0]    # (T,3,H,W), (3,H,W)
        prediction = animate_video(models.kp_detector, models.generator, source, driving,
                                   **normalization)["prediction"]            # (T,3,H,W)
        row = {"name": f"{item['source_name']}<-{item['driving_name']}", "frames": len(driving)}
        if pose_probe is not None:
            row.update(pose_metrics(pose_probe, prediction,
                                    pose_probe.detect(driving, confidence_threshold),
                                    driving.shape[2:], confidence_threshold, None))
        if identity_probe is not None:
            source_embedding = identity_probe.embeddings(source[None])       # (1,D)
            embeddings = identity_probe.embeddings(prediction)               # (T,D)
            row["aed"] = metrics.average_euclidean_distance(embeddings, source_embedding.expand_as(embeddings))
        rows.append(row)
    return _summarize(rows, "animation"), rows


# ----------------------------------------------------------------------------- writing

def _json_number(value):
    """NaN and +-inf are not JSON: written as null (undefined, e.g. PSNR of equal frames)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def metrics_paths(run_dir_or_path, name: str = "metrics") -> tuple[Path, Path]:
    """(json, csv) paths ``write_metrics`` writes: ``<folder>/<name>.json`` and
    ``<name>_per_video.csv`` beside it, or the given ``.json`` path and its CSV."""
    target = Path(run_dir_or_path)
    json_path = target if target.suffix == ".json" else target / f"{name}.json"
    return json_path, json_path.with_name(f"{json_path.stem}_per_video.csv")


def write_metrics(run_dir_or_path, summary: dict, per_video: list[dict],
                  name: str = "metrics") -> tuple[Path, Path]:
    """Write ``<name>.json`` ({"summary", "per_video"}) and ``<name>_per_video.csv``.

    run_dir_or_path: a folder (created if needed) or a path ending in ``.json``, whose
    stem then names both files. Non-finite numbers become JSON null / empty CSV cells.
    Returns (json path, csv path).
    """
    json_path, csv_path = metrics_paths(run_dir_or_path, name)
    json_path.parent.mkdir(parents=True, exist_ok=True)
    document = {"summary": {k: _json_number(v) for k, v in summary.items()},
                "per_video": [{k: _json_number(v) for k, v in row.items()} for row in per_video]}
    json_path.write_text(json.dumps(document, indent=2) + "\n")
    columns = list(dict.fromkeys(key for row in per_video for key in row))
    with open(csv_path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        for row in per_video:
            writer.writerow({k: ("" if _json_number(v) is None else v) for k, v in row.items()})
    return json_path, csv_path


def format_summary(summary: dict) -> str:
    """A small table: each metric beside its copy-source baseline."""
    lines = [f"{summary['protocol']}: {summary['num_videos']} videos, {summary['num_frames']} frames",
             f"{'metric':<14}{'model':>12}{'baseline':>12}"]
    for key, value in summary.items():
        if key in ("protocol", "num_videos", "num_frames") or key.startswith("baseline_"):
            continue
        baseline = summary.get(f"baseline_{key}")
        shown = "" if baseline is None else f"{baseline:12.4f}"
        lines.append(f"{key:<14}{value:12.4f}{shown}")
    return "\n".join(lines)


# ----------------------------------------------------------------------------- console command

def add_evaluate_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Flags of `pcut evaluate`."""
    parser.add_argument("--checkpoint", type=Path, required=True, metavar="PT",
                        help="pcut checkpoint (runs/<name>/checkpoints/last.pt)")
    parser.add_argument("--data", type=Path, default=None, metavar="DIR",
                        help="dataset root (default: dataset_params.root_dir of the checkpoint's config)")
    parser.add_argument("--out", type=Path, default=None, metavar="DIR_OR_JSON",
                        help="where metrics.json and metrics_per_video.csv go (default: the run folder "
                             "of the checkpoint)")
    parser.add_argument("--overwrite", action="store_true", help="replace the metrics files if they exist")
    parser.add_argument("--max-videos", type=int, default=None, metavar="N",
                        help="evaluate only the first N test videos (or N pairs)")
    parser.add_argument("--pose-probe", type=Path, default=None, metavar="PT",
                        help="pose probe (pcutlib.evaluation.probes.save_probe) for AKD/MKR")
    parser.add_argument("--identity-probe", type=Path, default=None, metavar="PT",
                        help="identity probe (pcutlib.evaluation.probes.save_probe) for AED")
    parser.add_argument("--device", default="auto", help="cpu, cuda, cuda:1, ... (default: cuda if available)")
    parser.add_argument("--protocol", choices=("reconstruction", "animation"), default="reconstruction",
                        help="FOMM protocol (default: %(default)s)")
    parser.add_argument("--num-pairs", type=int, default=None, metavar="N",
                        help="animation pairs (default: animate_params.num_pairs of the config)")
    parser.add_argument("--batch-size", type=int, default=16, metavar="B",
                        help="frames generated at once (default: %(default)s)")
    parser.add_argument("--confidence-threshold", type=float, default=DEFAULT_CONFIDENCE_THRESHOLD,
                        metavar="C", help="pose probe confidence below which a joint is missing "
                                          "(default: %(default)s)")
    parser.add_argument("--skip-bad-files", action="store_true",
                        help="leave out unusable test videos with one warning (else they are an error)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    return parser


def default_output(checkpoint: Path) -> Path:
    """runs/<name>/checkpoints/last.pt -> runs/<name>; any other checkpoint -> its folder."""
    folder = checkpoint.resolve().parent
    return folder.parent if folder.name == "checkpoints" else folder


def run_evaluate(args: argparse.Namespace) -> int:
    """`pcut evaluate`: load a checkpoint (and probes), run a protocol, write and print metrics."""
    out = args.out if args.out is not None else default_output(args.checkpoint)
    name = "metrics" if args.protocol == "reconstruction" else "metrics_animation"
    refuse_to_replace(metrics_paths(out, name), args.overwrite, hint="write elsewhere with --out")
    device = choose_device(args.device)
    models, checkpoint = load_models(args.checkpoint, device=device, with_discriminator=False)
    config = checkpoint["config"]
    dataset_params = config.get("dataset_params") or {}
    root = args.data if args.data is not None else dataset_params.get("root_dir")
    if root is None:
        raise ValueError(f"no dataset: pass --data, or give dataset_params.root_dir in {args.checkpoint}'s config")
    dataset = FramesDataset(root, frame_shape=dataset_params.get("frame_shape") or (256, 256, 3),
                            is_train=False, pairs_list=dataset_params.get("pairs_list"),
                            skip_bad_files=args.skip_bad_files)
    pose_probe = None if args.pose_probe is None else load_probe(args.pose_probe, device, kind="pose")
    identity_probe = (None if args.identity_probe is None
                      else load_probe(args.identity_probe, device, kind="identity"))
    if not metrics.lpips_available():
        print(f"LPIPS skipped: {metrics.LPIPS_INSTALL_HINT}", file=sys.stderr)
    if args.protocol == "reconstruction":
        summary, rows = evaluate_reconstruction(
            models, dataset, device, pose_probe, identity_probe, max_videos=args.max_videos,
            progress=not args.no_progress, batch_size=args.batch_size,
            confidence_threshold=args.confidence_threshold)
    else:
        animate_params = config.get("animate_params") or {}
        num_pairs = args.num_pairs or animate_params.get("num_pairs", 50)
        summary, rows = evaluate_animation(
            models, PairedDataset(dataset, number_of_pairs=num_pairs), device, pose_probe, identity_probe,
            max_pairs=args.max_videos, progress=not args.no_progress,
            confidence_threshold=args.confidence_threshold,
            normalization_params=animate_params.get("normalization_params"))
    json_path, csv_path = write_metrics(out, summary, rows, name=name)
    print(format_summary(summary))
    print(f"wrote {json_path} and {csv_path}")
    return 0
