"""Does the occlusion map point at what must be invented? O, the PriorityCut mask and a U-Net
discriminator's pixel head against the synthetic world's true dis-occlusion, by stratum.

Every function takes frames of generated images (frames t >= 1 of held-out videos, each driven
from its video's first frame) as (N,H,W) tensors at the image resolution:

    truth       bool   the driving pixel's surface point is hidden or absent in the source
    figure      bool   the driving frame shows a body part there (the renderer's label map)
    foreground  bool   PriorityCut's foreground F (the region masks' background below the
                       threshold), upsampled by nearest neighbour as the mask is
    score       float  1 - O, O the occlusion map upsampled bilinearly (high = occluded)

The pooled AUC mixes two questions: where the figure uncovered the background (most of the
dis-occlusion) and which part pixels the figure itself cannot show. The strata separate them:

    pooled       every pixel
    foreground   pixels of F only: where PriorityCut draws its mask
    figure       part pixels only: dis-occluded part pixels against the other part pixels
    core         the dis-occlusion eroded by 3x3 against the pixels that are not dis-occluded
                 (the 1-2 px bands along moving silhouettes left out)
    per video    the pooled AUC of each video: mean and standard deviation over videos

The true dis-occlusion is geometry; what O is trained to mark is where *this model's* warp
shows the wrong colour (``warp_failure``: the source warped by the model's own flow against the
driving frame). The two differ where the flow is wrong on visible surface (a blurred limb edge)
and where a dis-occluded pixel happens to receive the right colour (flat background uncovered
next to flat background). ``warp_failure_figures`` measures O against that target too, so that
"O does not mark the dis-occlusion" can be told apart from "O does not mark where warping fails".

Chance (0.5) is not the only baseline: ``frame_difference_rule`` ranks pixels by how much the
driving frame differs from the source, with no model at all. Where the dis-occlusion is mostly
uncovered background next to a moving figure, that rule already points at it; O, the mask and
the discriminator are measured beside it.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from pcutlib.evaluation.metrics import roc_auc
from pcutlib.models.revealed_pixels import frame_difference, warp_error  # noqa: F401 (warp_error: public here too)
from pcutlib.prioritycut import prioritycut_mask


def _check_frames(**masks: torch.Tensor) -> None:
    shapes = {name: tuple(value.shape) for name, value in masks.items()}
    if len(set(shapes.values())) != 1 or any(len(shape) != 3 for shape in shapes.values()):
        raise ValueError(f"expected (N,H,W) tensors of one shape, got {shapes}")


def erode(mask: torch.Tensor, size: int = 3) -> torch.Tensor:
    """(N,H,W) bool -> (N,H,W) bool: pixels whose whole size x size window (odd size) lies in the
    mask; pixels outside the frame count as outside the mask."""
    if size < 1 or size % 2 == 0:
        raise ValueError(f"erosion size must be odd and positive, got {size}")
    padded = F.pad(mask.float()[:, None], (size // 2,) * 4, value=0.0)
    return (-F.max_pool2d(-padded, size, stride=1))[:, 0] > 0.5


def slivers(mask: torch.Tensor) -> torch.Tensor:
    """(N,H,W) bool -> (N,H,W) bool: mask pixels that an opening by a 2x2 square removes, i.e.
    pixels of no 2x2 block inside the mask (lines and points 1 px thin)."""
    blocks = (-F.max_pool2d(-F.pad(mask.float()[:, None], (0, 1, 0, 1), value=0.0), 2, stride=1)) > 0.5
    opened = F.max_pool2d(F.pad(blocks.float(), (1, 0, 1, 0), value=0.0), 2, stride=1)[:, 0] > 0.5
    return mask & ~opened


def occlusion_auc_strata(score: torch.Tensor, truth: torch.Tensor, figure: torch.Tensor,
                         foreground: torch.Tensor, video: torch.Tensor) -> dict:
    """AUCs of ``score`` (1 - O) for the true dis-occlusion, by stratum (module doc).

    score, truth, figure, foreground (N,H,W); video (N,) ints grouping the frames by video.
    Returns {"pooled", "foreground", "figure", "core", "video_mean", "video_sd", "videos"}; an
    AUC is nan where its stratum holds no positive or no negative pixel.
    """
    _check_frames(score=score, truth=truth, figure=figure, foreground=foreground)
    truth = truth.bool()
    core = erode(truth)
    visible = ~truth
    per_video = [roc_auc(score[video == name], truth[video == name]) for name in video.unique().tolist()]
    per_video = torch.tensor([auc for auc in per_video if not math.isnan(auc)], dtype=torch.float64)
    return {"pooled": roc_auc(score, truth),
            "foreground": roc_auc(score[foreground], truth[foreground]),
            "figure": roc_auc(score[figure], truth[figure]),
            "core": roc_auc(score[core | visible], core[core | visible]),
            "video_mean": float(per_video.mean()) if len(per_video) else math.nan,
            "video_sd": float(per_video.std()) if len(per_video) > 1 else math.nan,
            "videos": len(per_video)}


WARP_FAILURE_THRESHOLD = 0.1    # mean absolute colour error (intensities in [0, 1]) that counts as wrong


def warp_failure(deformed: torch.Tensor, driving: torch.Tensor,
                 threshold: float = WARP_FAILURE_THRESHOLD) -> torch.Tensor:
    """Pixels where the warped source shows the wrong colour: (N,3,H,W) twice -> (N,H,W) bool,
    ``warp_error`` above ``threshold``."""
    if not 0 < threshold < 1:
        raise ValueError(f"warp failure threshold {threshold}: expected a colour error in (0, 1)")
    return warp_error(deformed, driving) > threshold


def warp_failure_figures(score: torch.Tensor, failure: torch.Tensor, truth: torch.Tensor,
                         foreground: torch.Tensor) -> dict:
    """O against where the model's own warp fails, beside the true dis-occlusion. score (1 - O),
    failure, truth, foreground (N,H,W). Returns {"rate": the share of pixels whose warp fails,
    "auc": AUC of score for failure over all pixels, "auc_foreground": the same inside F,
    "disocclusion_share": the share of the true dis-occlusion whose warp fails, "failure_share":
    the share of the failures that are truly dis-occluded}; nan where a set is empty."""
    _check_frames(score=score, failure=failure, truth=truth, foreground=foreground)
    failure, truth = failure.bool(), truth.bool()
    share = lambda part, whole: float(part.sum() / whole.sum()) if whole.any() else math.nan   # noqa: E731
    return {"rate": float(failure.float().mean()), "auc": roc_auc(score, failure),
            "auc_foreground": roc_auc(score[foreground], failure[foreground]),
            "disocclusion_share": share(failure & truth, truth), "failure_share": share(failure & truth, failure)}


def frame_difference_rule(driving: torch.Tensor, source: torch.Tensor) -> torch.Tensor:
    """A no-model score for "must be invented": |driving - source| averaged over the channels,
    then over each 3x3 neighbourhood (``models.revealed_pixels.frame_difference``, which the
    revealed label multiplies). driving (N,3,H,W), source (3,H,W) or (N,3,H,W) -> (N,H,W)."""
    return frame_difference(driving, source)


def top_k_in_foreground(score: torch.Tensor, foreground: torch.Tensor, top_k_percent: float) -> torch.Tensor:
    """Per frame, the ceil(k% of |F|) foreground pixels of highest score, selected by PriorityCut's
    own ranking (``prioritycut_mask`` with -score as O and F as the foreground; ties: lowest flat
    index). score (N,H,W) float, foreground (N,H,W) bool -> (N,H,W) bool."""
    _check_frames(score=score, foreground=foreground)
    background = (~foreground).float()[:, None]                                  # R_0 = 1 outside F
    region_mask = torch.cat([background, 1 - background], dim=1)                # (N, 2, H, W)
    return prioritycut_mask(-score[:, None].float(), region_mask, top_k_percent)[:, 0] == 0


def disocclusion_composition(truth: torch.Tensor, figure: torch.Tensor) -> dict:
    """What the true dis-occlusion is made of, as shares of its pixels: {"background" (uncovered
    background), "figure" (part pixels), "sliver" (1 px thin, see ``slivers``), "core" (kept by
    a 3x3 erosion), "rate" (its share of all pixels)}. truth, figure (N,H,W) bool."""
    _check_frames(truth=truth, figure=figure)
    truth = truth.bool()
    total = int(truth.sum())
    share = (lambda part: float(part.sum()) / total) if total else (lambda part: math.nan)
    return {"background": share(truth & ~figure), "figure": share(truth & figure),
            "sliver": share(slivers(truth)), "core": share(erode(truth)),
            "rate": float(truth.double().mean())}


def mask_against_truth(selected: torch.Tensor, truth: torch.Tensor, figure: torch.Tensor,
                       foreground: torch.Tensor) -> dict:
    """The PriorityCut mask's pixels (``selected``, M = 0) against the true dis-occlusion.

    precision: the share of selected pixels that are dis-occluded; chance: the same share among
    all foreground pixels, where the mask draws from (random foreground pixels reach it); lift:
    precision / chance; recall: the share of the dis-occlusion selected; figure_recall: the share
    of its part pixels selected. All (N,H,W) bool; nan where a denominator is empty.
    """
    _check_frames(selected=selected, truth=truth, figure=figure, foreground=foreground)
    truth = truth.bool()
    ratio = lambda a, b: float(a.sum()) / int(b.sum()) if int(b.sum()) else math.nan  # noqa: E731
    precision, chance = ratio(selected & truth, selected), ratio(foreground & truth, foreground)
    return {"precision": precision, "chance": chance,
            "lift": precision / chance if chance and not math.isnan(chance) else math.nan,
            "recall": ratio(selected & truth, truth), "figure_recall": ratio(selected & truth & figure, truth & figure)}


def discriminator_auc_against_truth(pixel_logits: torch.Tensor, truth: torch.Tensor) -> float:
    """``d_pixel_auc_true_disocclusion``: how well a U-Net discriminator's fake score (the
    negated pixel logit; the decoder says "real" with high logits) ranks the dis-occluded pixels
    of generated frames above their other pixels. pixel_logits (N,1,H,W) or (N,H,W); truth (N,H,W)."""
    logits = pixel_logits[:, 0] if pixel_logits.dim() == 4 else pixel_logits
    _check_frames(pixel_logits=logits, truth=truth)
    return roc_auc(-logits, truth.bool())
