"""Revealed pixels: an occlusion label from the model's own motion and the driving frame, no truth.

FOMM's flow is backward: for every pixel of the driving frame it names the source point to copy.
Such a flow never says that a driving pixel shows something the source hides: every pixel gets
some source point. The flow the other way does. Run the dense motion network with the roles
swapped (the driving frame as the image to sample, the source's keypoints as the target) and
every source pixel gets the point of the driving frame it moves to. Spread one unit of mass from
each source pixel onto its four nearest driving pixels (bilinear splatting) and sum: the range
map R (Wang et al. 2018, "Occlusion aware unsupervised learning of optical flow"). A driving
pixel that no source pixel reaches (R near 0) is revealed: it must be invented.

Where the figure only slides over a flat background, R alone also marks background pixels whose
colour did not change; multiplying by the frame difference |driving - source| keeps the revealed
pixels that changed:

    revealed_score = (1 - min(R, 1)) * frame difference                 in [0, 1]
    revealed_visible_target = 1 - min(1, revealed_score / scale)        1: visible, 0: revealed

A range map sees gaps, not layers: a limb that comes out from behind the torso lands where
the torso's own pixels land, so R is full there. The warped source shows the torso's colour
where the driving frame shows the limb, so the model's warp error |deformed - driving| marks
those pixels. The label can add it (``revealed_target``'s ``deformed``):

    score = revealed_score + warp error          in [0, 2]; what the warped source cannot supply

The warp error also fires wherever the flow is a little off, on gaps as well as layers, and where
the flow reaches outside the frame (``deform`` pads with zeros): it is not a layer detector.

Training data has the driving frame (it is the reconstruction target), so this label is as
available as the reconstruction loss: no ground truth enters it.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from pcutlib.models.dense_motion import DenseMotionNetwork
from pcutlib.models.warping import make_coordinate_grid

REVEALED_SCALE = 0.1    # a revealed score this high counts as fully revealed (the colour error
#                         that pcut calls a warp failure, evaluation.occlusion_truth)


def range_map(grid: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """How much of an image lands on each pixel: grid (N, h, w, 2) in [-1, 1], x first, where
    each pixel of the image goes (align_corners=True coordinates, as ``warping.deform``) -> (N, H, W)
    at ``size`` (H, W), each of the H*W pixels splatted with weight 1 onto its four nearest target
    pixels; mass that lands outside the frame is dropped. A coarser grid is resized corner-aligned
    (its displacement from the identity, bilinearly with align_corners=True), so a flow that moves
    nothing stays the identity; ``warping.deform`` resizes with align_corners=False by default, as
    FOMM, which pulls the flow towards the centre and would stack mass on the border rows (with
    ``generator_params.aligned_resize`` the generator's warp resizes as this does)."""
    if grid.dim() != 4 or grid.shape[-1] != 2:
        raise ValueError(f"grid {tuple(grid.shape)}: expected (N, h, w, 2)")
    height, width = size
    if grid.shape[1:3] != (height, width):
        identity = make_coordinate_grid(*grid.shape[1:3], dtype=grid.dtype, device=grid.device)
        displacement = F.interpolate((grid - identity).permute(0, 3, 1, 2), size=(height, width), mode="bilinear",
                                     align_corners=True).permute(0, 2, 3, 1)
        grid = make_coordinate_grid(height, width, dtype=grid.dtype, device=grid.device) + displacement
    x = (grid[..., 0].float() + 1) / 2 * (width - 1)
    y = (grid[..., 1].float() + 1) / 2 * (height - 1)
    mass = torch.zeros(grid.shape[0], height * width, device=grid.device)
    for corner_x in (x.floor(), x.floor() + 1):
        for corner_y in (y.floor(), y.floor() + 1):
            weight = (1 - (x - corner_x).abs()) * (1 - (y - corner_y).abs())
            inside = (corner_x >= 0) & (corner_x < width) & (corner_y >= 0) & (corner_y < height)
            index = corner_y.clamp(0, height - 1) * width + corner_x.clamp(0, width - 1)
            mass.scatter_add_(1, index.long().flatten(1), (weight * inside).flatten(1))
    return mass.view(-1, height, width)


@torch.no_grad()
def reverse_deformation(dense_motion_network, driving: torch.Tensor, kp_source: dict,
                        kp_driving: dict) -> torch.Tensor:
    """For each pixel of the source frame, where it is in the driving frame: the dense motion
    network run with the roles swapped. driving (N, 3, H, W); keypoints {"value": (N, K, 2),
    "jacobian"?: (N, K, 2, 2)} -> grid (N, h, w, 2) at the network's resolution."""
    return dense_motion_network(driving, kp_driving=kp_source, kp_source=kp_driving)["deformation"]


@torch.no_grad()
def source_range_map(dense_motion_network, driving: torch.Tensor, kp_source: dict, kp_driving: dict) -> torch.Tensor:
    """R over each driving frame: driving (N, 3, H, W) and N rows of keypoints (``reverse_deformation``)
    -> (N, H, W) on the network's device (inputs moved there, keypoints without gradient)."""
    device = next(dense_motion_network.parameters()).device
    moved = lambda kp: {key: value.detach().to(device) for key, value in kp.items()}   # noqa: E731
    grid = reverse_deformation(dense_motion_network, driving.to(device), moved(kp_source), moved(kp_driving))
    return range_map(grid, tuple(driving.shape[2:]))


def driving_range_maps(generator, source: torch.Tensor, driving: torch.Tensor, kp_source: dict,
                       kp_driving: dict) -> torch.Tensor | None:
    """R of each driving frame against one source: source (1, 3, H, W), driving (N, 3, H, W),
    kp_source {"value": (1, K, 2), ...}, kp_driving (N rows) -> (N, H, W) float32 on the CPU;
    None for a generator without FOMM's dense motion network (TPSMM's moves by TPS and has none
    of this form)."""
    network = getattr(generator, "dense_motion_network", None)
    if not isinstance(network, DenseMotionNetwork):
        return None
    repeated = {key: value.expand(len(driving), *value.shape[1:]) for key, value in kp_source.items()}
    return source_range_map(network, driving, repeated, kp_driving).cpu()


def frame_difference(driving: torch.Tensor, source: torch.Tensor) -> torch.Tensor:
    """|driving - source| averaged over the channels, then over each 3x3 neighbourhood:
    driving (N,3,H,W), source (3,H,W) or (N,3,H,W) -> (N,H,W)."""
    difference = (driving - source).abs().mean(1, keepdim=True)                       # (N,1,H,W)
    return F.avg_pool2d(difference, 3, stride=1, padding=1, count_include_pad=False)[:, 0]


def warp_error(deformed: torch.Tensor, driving: torch.Tensor) -> torch.Tensor:
    """How wrong the warped source's colour is: deformed (the source image warped by the model's
    flow) and driving (N,3,H,W) in [0, 1] -> (N,H,W), the channel-mean absolute difference."""
    if deformed.shape != driving.shape or deformed.dim() != 4:
        raise ValueError(f"deformed {tuple(deformed.shape)} and driving {tuple(driving.shape)}: expected two "
                         f"(N,3,H,W) tensors of one shape")
    return (deformed - driving).abs().mean(1)


def revealed_score(range_of_source: torch.Tensor, frame_difference: torch.Tensor) -> torch.Tensor:
    """(1 - min(R, 1)) * frame difference: range_of_source (N, H, W) from ``range_map`` of the
    reverse deformation, frame_difference (N, H, W) (``frame_difference``) -> (N, H, W) in [0, 1]."""
    if range_of_source.shape != frame_difference.shape:
        raise ValueError(f"range map {tuple(range_of_source.shape)} and frame difference "
                         f"{tuple(frame_difference.shape)}: expected one (N, H, W) shape")
    return (1 - range_of_source.clamp(max=1)) * frame_difference


def revealed_visible_target(score: torch.Tensor, size: tuple[int, int],
                            scale: float = REVEALED_SCALE) -> torch.Tensor:
    """The occlusion map's target from ``revealed_score`` (N, H, W): 1 - min(1, score / scale),
    area-averaged to O's ``size`` (h, w) -> (N, 1, h, w); 1 visible, 0 revealed."""
    if not scale > 0:
        raise ValueError(f"revealed scale {scale}: expected a positive score")
    visible = 1 - (score / scale).clamp(max=1)
    return F.interpolate(visible[:, None].float(), size=size, mode="area")


def revealed_target(dense_motion_network, source: torch.Tensor, driving: torch.Tensor, kp_source: dict,
                    kp_driving: dict, size: tuple[int, int], deformed: torch.Tensor | None = None) -> torch.Tensor:
    """The occlusion map's revealed label for B training pairs: source, driving (B, 3, H, W) and
    their keypoints ({"value": (B, K, 2), ...}), the flow from ``dense_motion_network`` (FOMM's,
    run once more with the roles swapped and no gradient; in train mode its batch statistics see
    these reversed pairs too) -> (B, 1, h, w) on the network's device, 1 visible, 0 revealed.
    deformed (B, 3, H, W): the source warped by the model's own flow (in training, the generator's
    output of the same step, region dropout included where it is on); given, its ``warp_error``
    joins the score (detached: a label, not a path for gradients)."""
    range_of_source = source_range_map(dense_motion_network, driving, kp_source, kp_driving)
    device = range_of_source.device
    score = revealed_score(range_of_source, frame_difference(driving.to(device), source.to(device)))
    if deformed is not None:
        score = score + warp_error(deformed.detach().to(device).float(), driving.to(device).float())
    return revealed_visible_target(score, size)
