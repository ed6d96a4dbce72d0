"""Has the model learned motion, and does its occlusion map point at what must be invented?
Diagnostics on held-out synthetic videos (docs/algorithm.md, the synthetic ground truth).

L1 alone cannot tell: a blurred figure beats copying the source on L1 while learning no
motion. The synthetic world knows the truth (joints, which part covers each pixel, what
the source would look like in the driving pose), so ``diagnose`` measures motion directly,
each figure next to the baseline that learns nothing (``motion_measures``):

- distinct keypoints, and of them those that move with the body (an untrained detector
  spreads its keypoints too);
- keypoint-to-joint probe (fitted on train videos, scored on test videos, in pixels) next to
  always answering the mean training pose and to a probe of six silhouette statistics;
- silhouette IoU of the prediction's figure pixels with the driving frame's, next to copying
  the source, and where it is lost: the source warped by the flow alone, and the generator at
  rest (each frame driving itself: the flow moves nothing, so what is lost there is lost by the
  generator's encoding, occlusion and decoding, not by motion), and by body part (``silhouette_parts``);
- O at rest: mean occlusion value on figure pixels when driving = source (close to 1);
- O against the true dis-occlusion by stratum, what the dis-occlusion is made of, the
  PriorityCut mask's precision against random foreground pixels, and a U-Net discriminator's
  pixel head against the truth (``occlusion_truth``);
- L1 of reconstruction (driving frames) and of animation (the true pose-space animation of
  the source identity), each next to copying the source, and how far FOMM's keypoint-
  displacement rule lies from that pose-space truth (a perfect FOMM cannot reach zero there).

``diagnose(models, data_root)`` returns a ``Diagnosis``; ``pcut diagnose`` prints it.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from tqdm.auto import tqdm

from pcutlib.data.splits import animation_case, fomm_rule_gap, load_split
from pcutlib.data.synthetic import BACKGROUND_LABEL
from pcutlib.data.synthetic_truth import disocclusion_from
from pcutlib.evaluation.artifacts import reconstruction_foreground, reconstruction_mask
from pcutlib.evaluation.discriminator_quality import batched, discriminator_quality, mixed_pixel_auc
from pcutlib.evaluation.metrics import roc_auc
from pcutlib.evaluation.motion_measures import (distinct_keypoints, figure_pixels, linear_probe_error,
                                                moving_distinct_keypoints, moving_keypoints, silhouette_iou,
                                                silhouette_statistics)
from pcutlib.evaluation.occlusion_truth import (discriminator_auc_against_truth, disocclusion_composition,
                                                frame_difference_rule, mask_against_truth, occlusion_auc_strata,
                                                top_k_in_foreground, warp_error,
                                                WARP_FAILURE_THRESHOLD, warp_failure_figures)
from pcutlib.evaluation.silhouette_parts import part_figures, part_lines
from pcutlib.evaluation.targets import TARGETS, relative_change, targets_line
from pcutlib.inference import animate_video, detect_keypoints, generate_frames, repeat_first
from pcutlib.models.revealed_pixels import driving_range_maps, revealed_score
from pcutlib.models.unet_discriminator import UNetDiscriminator
from pcutlib.models.warping import resize_bilinear
from pcutlib.paths import marker_pair
from pcutlib.prioritycut import RegularizerConfig

# ----------------------------------------------------------------------------- the diagnosis

@dataclass
class Diagnosis:
    """The figures of ``diagnose`` (None where the data did not allow them; ``skipped`` says why)."""
    videos: int
    num_keypoints: int
    distinct_keypoints: float
    moving_distinct_keypoints: float | None = None
    probe_px: float | None = None
    mean_pose_px: float | None = None
    silhouette_probe_px: float | None = None
    silhouette_iou: float = math.nan
    copy_silhouette_iou: float = math.nan
    # where the IoU is lost: the source warped by the flow alone (before occlusion and decoder), the whole
    # generator with each frame driving itself (what it loses where nothing moves), by part (silhouette_parts)
    warped_source_silhouette_iou: float | None = None
    silhouette_iou_at_rest: float | None = None
    silhouette_loss_by_part: dict | None = None
    nearest_keypoint_px: dict | None = None
    occlusion_at_rest: float | None = None
    occlusion_auc: float | None = None
    occlusion_auc_foreground: float | None = None
    occlusion_auc_figure: float | None = None
    occlusion_auc_core: float | None = None
    occlusion_auc_video_mean: float | None = None
    occlusion_auc_video_sd: float | None = None
    # TPSMM: the AUCs of each occlusion mask, coarse to fine ({"size": h, "pooled", "foreground", "figure"}; finest = above)
    occlusion_auc_by_mask: list[dict] | None = None
    rule_auc: float | None = None
    rule_auc_foreground: float | None = None
    rule_auc_figure: float | None = None
    rule_auc_warp_failure: float | None = None
    rule_mask_lift: float | None = None
    # O against where this model's own warp shows the wrong colour (occlusion_truth.warp_failure)
    warp_failure_rate: float | None = None
    occlusion_auc_warp_failure: float | None = None
    occlusion_auc_warp_failure_foreground: float | None = None
    disocclusion_warp_failure_share: float | None = None
    warp_failure_disocclusion_share: float | None = None
    # the model's own warp error (occlusion_truth.warp_error) as a score for the true dis-occlusion:
    # what an O that marked exactly where its warp shows the wrong colour would reach
    warp_error_auc: float | None = None
    warp_error_auc_foreground: float | None = None
    warp_error_auc_figure: float | None = None
    # the model's own revealed pixels (models.revealed_pixels: where its reverse flow brings no source
    # pixel and the frame changed), a label without truth that sees the driving frame
    revealed_auc: float | None = None
    revealed_auc_foreground: float | None = None
    revealed_auc_figure: float | None = None
    revealed_mask_lift: float | None = None
    # the revealed score plus the warp error: the label of train_params.occlusion_revealed_warp_error
    revealed_warp_auc: float | None = None
    revealed_warp_auc_foreground: float | None = None
    revealed_warp_auc_figure: float | None = None
    revealed_warp_mask_lift: float | None = None
    disocclusion_rate: float | None = None
    disocclusion_background_share: float | None = None
    disocclusion_figure_share: float | None = None
    disocclusion_sliver_share: float | None = None
    disocclusion_core_share: float | None = None
    top_k_percent: float | None = None
    mask_precision: float | None = None
    mask_chance: float | None = None
    mask_lift: float | None = None
    mask_recall: float | None = None
    mask_figure_recall: float | None = None
    d_image_auc: float | None = None
    d_pixel_auc_true_disocclusion: float | None = None
    d_pixel_auc_prioritycut: float | None = None
    d_pixel_auc_cutmix: float | None = None
    reconstruction_l1: float = math.nan
    copy_reconstruction_l1: float = math.nan
    animation_l1: float | None = None
    copy_animation_l1: float | None = None
    animation_silhouette_iou: float | None = None
    copy_animation_silhouette_iou: float | None = None
    fomm_rule_gap_px: float | None = None
    skipped: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def _upsampled(occlusion_map: torch.Tensor, size, aligned: bool = False) -> torch.Tensor:
    """(N,1,h,w) -> (N,H,W) bilinear, as FOMM's generator resizes O (``aligned_resize``)."""
    return resize_bilinear(occlusion_map, size, aligned)[:, 0]


@torch.no_grad()
def _reconstruct_split(models, test: list, regularizer: RegularizerConfig, progress: bool) -> dict:
    """Every test video driven from its first frame. Returns lists over videos: "keypoints"
    (T,K,2), "prediction", "driving", "copy", "rest" (the prediction when driving = source),
    "deformed" (the source warped by the flow, where the generator returns it) (T,3,H,W), "at_rest"
    (O on figure pixels when driving = source), and for frames t >= 1 of videos with truth,
    (T-1,H,W) each: "score" (1 - O),
    "rule" (``frame_difference_rule``), "truth", "figure", "foreground", "selected" (the PriorityCut mask's pixels), "video" (T-1,)."""
    parts = {key: [] for key in ("keypoints", "prediction", "driving", "copy", "rest", "deformed", "at_rest",
                                 "score", "rule", "truth",
                                 "figure", "foreground", "selected", "video", "mask_scores", "warp_error", "range")}
    aligned = getattr(models.generator, "aligned_resize", False)       # FOMM's flag; TPSMM's masks: False
    for index, (_, frames, _, truth) in enumerate(tqdm(test, desc="diagnose: reconstruction",
                                                         disable=not progress, leave=False)):
        kp = detect_keypoints(models.kp_detector, frames)
        out = generate_frames(models.generator, frames[:1], repeat_first(kp, 1), kp,      # frame 0 driven by each
                              driving=frames, extra_outputs=("deformed",))
        size, count = frames.shape[2:], len(frames)
        parts["keypoints"].append(kp["value"])
        parts["prediction"].append(out["prediction"])
        parts["driving"].append(frames)
        parts["copy"].append(frames[:1].expand(count, -1, -1, -1))
        rest = generate_frames(models.generator, frames, kp, kp, driving=frames)                 # driving = source
        parts["rest"].append(rest["prediction"])
        if "deformed" in out and out["deformed"].shape == frames.shape:
            parts["deformed"].append(out["deformed"])
        if "occlusion_map" not in out:
            continue
        parts["at_rest"].append(_upsampled(rest["occlusion_map"], size, aligned)[figure_pixels(frames)])
        if truth is None or count < 2:
            continue
        later, later_kp = ({key: value[1:] for key, value in rows.items()} for rows in (out, kp))
        parts["score"].append(1 - _upsampled(later["occlusion_map"], size, aligned))
        if "occlusion_maps" in out:          # TPSMM: every mask, coarse to fine
            parts["mask_scores"].append([1 - _upsampled(level[1:], size) for level in out["occlusion_maps"]])
            parts["mask_sizes"] = [level.shape[-2] for level in out["occlusion_maps"]]
        parts["rule"].append(frame_difference_rule(frames[1:], frames[0]))
        range_of_source = driving_range_maps(models.generator, frames[:1], frames[1:],
                                             {key: value[:1] for key, value in kp.items()}, later_kp)
        if range_of_source is not None:
            parts["range"].append(range_of_source)
        if "deformed" in later:
            parts["warp_error"].append(warp_error(later["deformed"], frames[1:]))
        parts["truth"].append(torch.from_numpy(disocclusion_from(truth, 0)[1:]))
        parts["figure"].append(torch.from_numpy(truth.labels[1:] != BACKGROUND_LABEL))
        parts["foreground"].append(reconstruction_foreground(later, regularizer, size))
        parts["selected"].append(reconstruction_mask(later, regularizer, size)[:, 0] < 0.5)
        parts["video"].append(torch.full((count - 1,), index))
    return parts


def _occlusion_figures(diagnosis: Diagnosis, parts: dict, regularizer: RegularizerConfig) -> None:
    """The stratified O AUCs, the dis-occlusion's make-up and the PriorityCut mask's figures, and
    the same AUCs and lift of the no-model rule |driving - source| (``frame_difference_rule``)."""
    score, truth, figure, foreground, selected, video = (torch.cat(parts[key]) for key in (
        "score", "truth", "figure", "foreground", "selected", "video"))
    strata = occlusion_auc_strata(score, truth, figure, foreground, video)
    for stratum in ("pooled", "foreground", "figure", "core", "video_mean", "video_sd"):
        setattr(diagnosis, "occlusion_auc" if stratum == "pooled" else f"occlusion_auc_{stratum}", strata[stratum])
    for key, value in disocclusion_composition(truth, figure).items():
        setattr(diagnosis, "disocclusion_rate" if key == "rate" else f"disocclusion_{key}_share", value)
    diagnosis.top_k_percent = regularizer.top_k_percent
    for key, value in mask_against_truth(selected, truth, figure, foreground).items():
        setattr(diagnosis, f"mask_{key}", value)
    if parts["mask_scores"]:
        diagnosis.occlusion_auc_by_mask = []
        for level, scores in enumerate(zip(*parts["mask_scores"])):
            level_strata = occlusion_auc_strata(torch.cat(scores), truth, figure, foreground, video)
            diagnosis.occlusion_auc_by_mask.append(
                {"size": int(parts["mask_sizes"][level]), **{k: level_strata[k] for k in ("pooled", "foreground", "figure")}})
    errors = torch.cat(parts["warp_error"]) if parts["warp_error"] else None          # the model's warp error
    failure = errors > WARP_FAILURE_THRESHOLD if errors is not None else None
    if failure is not None:
        figures = warp_failure_figures(score, failure, truth, foreground)
        diagnosis.warp_failure_rate = figures["rate"]
        diagnosis.occlusion_auc_warp_failure = figures["auc"]
        diagnosis.occlusion_auc_warp_failure_foreground = figures["auc_foreground"]
        diagnosis.disocclusion_warp_failure_share = figures["disocclusion_share"]
        diagnosis.warp_failure_disocclusion_share = figures["failure_share"]
        error_strata = occlusion_auc_strata(errors, truth, figure, foreground, video)
        diagnosis.warp_error_auc, diagnosis.warp_error_auc_foreground, diagnosis.warp_error_auc_figure = (
            error_strata[key] for key in ("pooled", "foreground", "figure"))
    rule = torch.cat(parts["rule"])                                          # the no-model baseline
    if parts["range"]:
        revealed = revealed_score(torch.cat(parts["range"]), rule)
        scores = {"revealed": revealed}
        if errors is not None:
            scores["revealed_warp"] = revealed + errors
        for name, values in scores.items():
            strata = occlusion_auc_strata(values, truth, figure, foreground, video)
            for stratum, suffix in (("pooled", ""), ("foreground", "_foreground"), ("figure", "_figure")):
                setattr(diagnosis, f"{name}_auc{suffix}", strata[stratum])
            selected_by_score = top_k_in_foreground(values, foreground, regularizer.top_k_percent)
            setattr(diagnosis, f"{name}_mask_lift", mask_against_truth(selected_by_score, truth, figure, foreground)["lift"])
    if failure is not None:
        diagnosis.rule_auc_warp_failure = roc_auc(rule, failure)
    rule_strata = occlusion_auc_strata(rule, truth, figure, foreground, video)
    diagnosis.rule_auc, diagnosis.rule_auc_foreground, diagnosis.rule_auc_figure = (
        rule_strata[key] for key in ("pooled", "foreground", "figure"))
    rule_selected = top_k_in_foreground(rule, foreground, regularizer.top_k_percent)
    diagnosis.rule_mask_lift = mask_against_truth(rule_selected, truth, figure, foreground)["lift"]


def _discriminator_figures(diagnosis: Diagnosis, models, parts: dict, regularizer: RegularizerConfig) -> None:
    """A U-Net discriminator's pixel head against the true dis-occlusion and against mixed-image
    masks; its image AUC (``discriminator_quality``); a patch discriminator gets the image AUC."""
    frames = {key: torch.cat([v[1:] for v in parts[name]]) for key, name in (("real", "driving"), ("fake", "prediction"))}
    quality = discriminator_quality(models, None, regularizer, frames=frames)
    diagnosis.d_image_auc = quality["d_image_auc"]
    if not isinstance(models.discriminator, UNetDiscriminator):
        diagnosis.skipped.append("discriminator pixel figures: the checkpoint's discriminator is a patch "
                                 "discriminator (no pixel head)")
        return
    diagnosis.d_pixel_auc_cutmix = quality["d_pixel_auc_cutmix"]
    if not parts["truth"]:
        return
    device = next(models.discriminator.parameters()).device
    real, fake = (torch.cat([parts[key][int(v[0])][1:] for v in parts["video"]]) for key in ("driving", "prediction"))
    logits = batched(lambda x: models.discriminator(x.to(device))["pixel_logits"], fake, 16)
    diagnosis.d_pixel_auc_true_disocclusion = discriminator_auc_against_truth(logits, torch.cat(parts["truth"]))
    mask = (~torch.cat(parts["selected"]))[:, None].float()                   # M = 1: the real pixel
    diagnosis.d_pixel_auc_prioritycut = mixed_pixel_auc(models.discriminator, real, fake, mask, device, 16)


@torch.no_grad()
def diagnose(models, data_root: str | Path, frame_shape=None, max_videos: int | None = None,
             max_probe_videos: int = 80, progress: bool = True,
             regularizer: RegularizerConfig | None = None) -> Diagnosis:
    """Diagnose a trained model on the held-out videos of a synthetic dataset (see module doc).

    models: pcutlib.models.build.Models (kp_detector, generator; a discriminator when the
    checkpoint holds one, for its figures); data_root: a root with train/ (for the probes) and
    test/ videos, with X.keypoints.npy and X.truth.npz beside them where available; what cannot
    be computed without them is skipped and named in ``skipped``. frame_shape (H,W,3): the
    model's frame size (default: the videos' own). regularizer: the PriorityCut settings of the
    mask measured (default: the schema's, k = 10).
    """
    models.eval()
    regularizer = regularizer or RegularizerConfig()
    root = Path(data_root)
    test = load_split(root, "test", frame_shape, max_videos)
    skipped = []
    parts = _reconstruct_split(models, test, regularizer, progress)
    prediction, driving, copy = (torch.cat(parts[key]) for key in ("prediction", "driving", "copy"))
    all_keypoints = torch.cat(parts["keypoints"])
    diagnosis = Diagnosis(videos=len(test), num_keypoints=all_keypoints.shape[1],
                          distinct_keypoints=distinct_keypoints(all_keypoints),
                          silhouette_iou=silhouette_iou(prediction, driving),
                          copy_silhouette_iou=silhouette_iou(copy, driving),
                          silhouette_iou_at_rest=silhouette_iou(torch.cat(parts["rest"]), driving),
                          reconstruction_l1=float((prediction - driving).abs().mean()),
                          copy_reconstruction_l1=float((copy - driving).abs().mean()), skipped=skipped)
    if len(parts["deformed"]) == len(test):
        diagnosis.warped_source_silhouette_iou = silhouette_iou(torch.cat(parts["deformed"]), driving)
    else:
        skipped.append("the warped source's IoU: the generator returns no full-size 'deformed' image")
    if parts["at_rest"]:
        diagnosis.occlusion_at_rest = float(torch.cat(parts["at_rest"]).mean())
    else:
        skipped.append("occlusion figures: the generator estimates no occlusion map")
    if parts["score"]:
        _occlusion_figures(diagnosis, parts, regularizer)
    elif parts["at_rest"]:
        skipped.append("occlusion AUC and PriorityCut mask figures: the test videos have no X.truth.npz "
                       "(make them with pcut make-synthetic)")
    if models.discriminator is not None:
        _discriminator_figures(diagnosis, models, parts, regularizer)
    else:
        skipped.append("discriminator figures: no discriminator given (none in the checkpoint, or the model was "
                       "loaded without it)")
    _probe_figures(diagnosis, models, root, test, all_keypoints, frame_shape, max_probe_videos, driving.shape[-1])
    part_figures(diagnosis, parts, test)
    _animation_figures(diagnosis, models, test, progress)
    return diagnosis


def _probe_figures(diagnosis: Diagnosis, models, root: Path, test: list, keypoints: torch.Tensor, frame_shape,
                   max_probe_videos: int, image_size: int) -> None:
    """The keypoint -> joint probe (fit on train videos, scored on test videos) beside the mean
    pose and the silhouette-statistics probe; the keypoints that move with the body."""
    if not all(joints is not None for _, _, joints, _ in test) or not (root / "train").is_dir():
        diagnosis.skipped.append("keypoint probe: needs X.keypoints.npy beside every test video and a train/ folder")
        return
    test_joints = torch.cat([joints for _, _, joints, _ in test])
    video = torch.cat([torch.full((len(frames),), index) for index, (_, frames, _, _) in enumerate(test)])
    moving = moving_keypoints(keypoints, test_joints, video)
    diagnosis.moving_distinct_keypoints = moving_distinct_keypoints(keypoints, moving)
    train = load_split(root, "train", frame_shape, max_probe_videos)
    if not all(joints is not None for _, _, joints, _ in train):
        diagnosis.skipped.append("keypoint probe: some train videos have no X.keypoints.npy")
        return
    train_joints = torch.cat([joints for _, _, joints, _ in train])
    train_kp = torch.cat([detect_keypoints(models.kp_detector, frames)["value"] for _, frames, _, _ in train])
    probe = linear_probe_error(train_kp, train_joints, keypoints, test_joints, image_size)
    diagnosis.probe_px, diagnosis.mean_pose_px = probe["probe_px"], probe["mean_pose_px"]
    statistics = [silhouette_statistics(torch.cat([frames for _, frames, _, _ in split])) for split in (train, test)]
    diagnosis.silhouette_probe_px = linear_probe_error(statistics[0], train_joints, statistics[1], test_joints,
                                                       image_size)["probe_px"]


def _animation_figures(diagnosis: Diagnosis, models, test: list, progress: bool) -> None:
    """Test video i's first frame driven by a test video of another figure, against the true
    (pose-space) animation; and how far FOMM's keypoint-displacement rule lies from that truth."""
    if not all(truth is not None for *_, truth in test):
        diagnosis.skipped.append("animation: the test videos have no X.truth.npz (make them with pcut make-synthetic)")
        return
    animated, truth_frames, copied, gaps = [], [], [], []
    for index in tqdm(range(len(test)), desc="diagnose: animation", disable=not progress, leave=False):
        case = animation_case(test, index)
        if case is None:
            break
        source, driving, target = case
        result = animate_video(models.kp_detector, models.generator, source, driving)
        animated.append(result["prediction"].float().cpu())
        truth_frames.append(target)
        copied.append(source[None].expand_as(target))
        gaps.append(fomm_rule_gap(test, index))
    if not animated:
        diagnosis.skipped.append("animation: the test videos show a single figure (no other identity to drive by)")
        return
    animated, truth_frames, copied = torch.cat(animated), torch.cat(truth_frames), torch.cat(copied)
    diagnosis.animation_l1 = float((animated - truth_frames).abs().mean())
    diagnosis.copy_animation_l1 = float((copied - truth_frames).abs().mean())
    diagnosis.animation_silhouette_iou = silhouette_iou(animated, truth_frames)
    diagnosis.copy_animation_silhouette_iou = silhouette_iou(copied, truth_frames)
    if all(gap is not None for gap in gaps):
        diagnosis.fomm_rule_gap_px = float(torch.cat(gaps).mean()) * (truth_frames.shape[-1] - 1) / 2


def number_text(value, digits: int) -> str:
    """``value`` with ``digits`` decimals, or "-" where it is missing (None or NaN)."""
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


# rows left out when no diagnosis has the figure (diagnoses stored before it was measured)
OPTIONAL_FIELDS = {"warped_source_silhouette_iou", "silhouette_iou_at_rest", "occlusion_auc_warp_failure",
                   "occlusion_auc_warp_failure_foreground", "warp_failure_rate", "disocclusion_warp_failure_share",
                   "warp_failure_disocclusion_share", "warp_error_auc", "warp_error_auc_foreground",
                   "warp_error_auc_figure", *(f"{label}_{measure}" for label in ("revealed", "revealed_warp")
                                              for measure in ("auc", "auc_foreground", "auc_figure", "mask_lift"))}

# (label, field, digits, baseline field or fixed text, which baseline, target key)
TABLE_ROWS = [
    ("distinct keypoints (of {K})", "distinct_keypoints", 1, None, "", None),
    ("  of them moving with the body", "moving_distinct_keypoints", 1, None, "", "moving_distinct_keypoints"),
    ("keypoint->joint probe error (px)", "probe_px", 2, "mean_pose_px", "mean pose", "probe_px"),
    ("  silhouette-statistics probe (px)", "silhouette_probe_px", 2, "mean_pose_px", "mean pose", None),
    ("silhouette IoU vs driving", "silhouette_iou", 3, "copy_silhouette_iou", "copy", "silhouette_iou"),
    ("  the warped source alone", "warped_source_silhouette_iou", 3, "copy_silhouette_iou", "copy", None),
    ("  at rest (driving = source)", "silhouette_iou_at_rest", 3, "1", "ideal", None),
    ("mean O on figure pixels at rest", "occlusion_at_rest", 3, "1", "ideal", "occlusion_at_rest"),
    ("O vs true dis-occlusion AUC, pooled", "occlusion_auc", 3, "rule_auc", "no-model", None),
    ("  inside PriorityCut's foreground", "occlusion_auc_foreground", 3, "rule_auc_foreground", "no-model",
     "occlusion_auc_foreground"),
    ("  on figure pixels", "occlusion_auc_figure", 3, "rule_auc_figure", "no-model", "occlusion_auc_figure"),
    ("  eroded cores vs visible pixels", "occlusion_auc_core", 3, "0.5", "chance", None),
    ("  per video: mean", "occlusion_auc_video_mean", 3, "0.5", "chance", None),
    ("  per video: sd", "occlusion_auc_video_sd", 3, None, "", None),
    ("O vs its own warp's failures AUC, pooled", "occlusion_auc_warp_failure", 3, "rule_auc_warp_failure",
     "no-model", None),
    ("  inside PriorityCut's foreground", "occlusion_auc_warp_failure_foreground", 3, "0.5", "chance", None),
    ("warp failures: share of pixels", "warp_failure_rate", 3, None, "", None),
    ("  of the dis-occlusion: failing", "disocclusion_warp_failure_share", 3, None, "", None),
    ("  of the failures: dis-occluded", "warp_failure_disocclusion_share", 3, None, "", None),
    ("own warp error vs true dis-occlusion AUC", "warp_error_auc", 3, "rule_auc", "no-model", None),
    ("  inside PriorityCut's foreground", "warp_error_auc_foreground", 3, "rule_auc_foreground", "no-model", None),
    ("  on figure pixels", "warp_error_auc_figure", 3, "rule_auc_figure", "no-model", None),
    ("own revealed pixels vs dis-occlusion AUC", "revealed_auc", 3, "rule_auc", "no-model", None),
    ("  inside PriorityCut's foreground", "revealed_auc_foreground", 3, "rule_auc_foreground", "no-model", None),
    ("  on figure pixels", "revealed_auc_figure", 3, "rule_auc_figure", "no-model", None),
    ("  top {k}%: lift over random foreground", "revealed_mask_lift", 2, "rule_mask_lift", "no-model", None),
    ("revealed pixels + warp error vs dis-occlusion", "revealed_warp_auc", 3, "rule_auc", "no-model", None),
    ("  inside PriorityCut's foreground", "revealed_warp_auc_foreground", 3, "rule_auc_foreground", "no-model", None),
    ("  on figure pixels", "revealed_warp_auc_figure", 3, "rule_auc_figure", "no-model", None),
    ("  top {k}%: lift over random foreground", "revealed_warp_mask_lift", 2, "rule_mask_lift", "no-model", None),
    ("true dis-occlusion: share of pixels", "disocclusion_rate", 3, None, "", None),
    ("  of it background", "disocclusion_background_share", 3, None, "", None),
    ("  of it figure", "disocclusion_figure_share", 3, None, "", None),
    ("  of it 1-px slivers", "disocclusion_sliver_share", 3, None, "", None),
    ("  of it kept by a 3x3 erosion", "disocclusion_core_share", 3, None, "", None),
    ("PriorityCut mask (top {k}%): precision", "mask_precision", 3, "mask_chance", "random fg", None),
    ("  lift over random foreground", "mask_lift", 2, "rule_mask_lift", "no-model", "mask_lift"),
    ("  recall of the dis-occlusion", "mask_recall", 3, None, "", None),
    ("  recall of its figure part", "mask_figure_recall", 3, None, "", None),
    ("D image AUC, real vs generated", "d_image_auc", 3, "0.5", "chance", None),
    ("D pixel AUC vs true dis-occlusion", "d_pixel_auc_true_disocclusion", 3, "rule_auc", "no-model",
     "d_pixel_auc_true_disocclusion"),
    ("D pixel AUC, PriorityCut-mixed", "d_pixel_auc_prioritycut", 3, "0.5", "chance", None),
    ("D pixel AUC, CutMix-mixed", "d_pixel_auc_cutmix", 3, "0.5", "chance", None),
    ("reconstruction L1", "reconstruction_l1", 4, "copy_reconstruction_l1", "copy", None),
    ("animation L1 vs pose-space animation", "animation_l1", 4, "copy_animation_l1", "copy", "animation_l1"),
    ("animation silhouette IoU", "animation_silhouette_iou", 3, "copy_animation_silhouette_iou", "copy", None),
    ("FOMM's rule vs pose-space joints (px)", "fomm_rule_gap_px", 2, None, "", None),
]


def format_diagnoses(diagnoses: dict) -> str:
    """Several models' diagnoses side by side ({column title: Diagnosis}), then the baseline
    (from the first) and the shipped model's target."""
    first = next(iter(diagnoses.values()))
    width = max(10, *(len(title) + 2 for title in diagnoses))
    lines = [f"{'':<40}" + "".join(f"{title:>{width}}" for title in diagnoses)
             + f"{'baseline':>10}  {'(which)':<10}{'target':>12}"]
    for label, name, digits, baseline, which, target in TABLE_ROWS:
        if name in OPTIONAL_FIELDS and all(getattr(d, name) is None for d in diagnoses.values()):
            continue
        values = "".join(f"{number_text(getattr(d, name), digits):>{width}}" for d in diagnoses.values())
        base = "-" if baseline is None else (number_text(getattr(first, baseline), digits) if hasattr(first, baseline)
                                             else baseline)
        goal = TARGETS[target].text if target in TARGETS else ""
        label = label.format(K=first.num_keypoints, k="k" if first.top_k_percent is None else f"{first.top_k_percent:g}")
        lines.append(f"{label:<40}{values}{base:>10}  {which:<10}{goal:>12}")
    for title, d in diagnoses.items():
        if d.animation_l1 is not None and d.copy_animation_l1:
            lines.append(f"{title}: animation L1 {relative_change(d.animation_l1, d.copy_animation_l1)} copying the "
                         f"source (target: at least 40% below)")
        lines += [targets_line(title, d), *part_lines(title, d)]
        lines += [f"{title}: skipped {reason}" for reason in d.skipped]
    return "\n".join(lines)


def format_diagnosis(diagnosis: Diagnosis, title: str = "model") -> str:
    """One model's diagnosis as a table: its figures, the baselines and the shipped model's targets."""
    return format_diagnoses({title: diagnosis})


INGREDIENT_ROWS = [   # (ingredient, measure, field, chance level, the no-model rule's field)
    ("O marks what must be invented", "AUC of 1 - O inside PriorityCut's foreground", "occlusion_auc_foreground",
     "0.5", "rule_auc_foreground"),
    ("", "AUC of 1 - O on figure pixels", "occlusion_auc_figure", "0.5", "rule_auc_figure"),
    ("the mask selects it", "mask precision over random foreground pixels' (lift)", "mask_lift", "1", "rule_mask_lift"),
    ("the discriminator points at it", "pixel AUC against the true dis-occlusion", "d_pixel_auc_true_disocclusion",
     "0.5", "rule_auc"),
]


def ingredients_markers(section: str = "ingredients") -> tuple[str, str]:
    """The markers between which ``pcut diagnose --readme PAGE --readme-section SECTION`` writes."""
    if not section or not all(c.isalnum() or c in "-_" for c in section):
        raise ValueError(f"readme section {section!r}: expected letters, digits, '-' or '_' (it names HTML-comment markers)")
    return marker_pair(section)


def ingredients_table(diagnosis: Diagnosis, title: str = "model") -> str:
    """PriorityCut's two ingredients as a markdown table: each figure, its chance level, the
    no-model rule |driving - source| (``frame_difference_rule``), its target and whether it is met (what ``pcut diagnose --readme`` writes between ``ingredients_markers()``)."""
    lines = [f"| ingredient | measure | {title} | chance | no-model rule | target | |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for ingredient, measure, name, chance, rule in INGREDIENT_ROWS:
        met = TARGETS[name].met(diagnosis)
        verdict = "not measured" if met is None else ("met" if met else "missed")
        lines.append(f"| {ingredient} | {measure} | {number_text(getattr(diagnosis, name), 3)} | {chance} "
                     f"| {number_text(getattr(diagnosis, rule), 3)} | {TARGETS[name].text} | {verdict} |")
    return "\n".join(lines)
