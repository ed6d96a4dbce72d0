"""TPSMM's dense motion, inpainting and background networks as one generator, called as FOMM's is.

TPSMM calls its networks one by one (``bg_predictor``, ``dense_motion_network``,
``inpainting_network``); pcut's pipeline (training step, inference, diagnose, PriorityCut)
calls a generator with the source and two keypoint sets, as FOMM's ``OcclusionAwareGenerator``.
:class:`TPSMMGenerator` holds the three and returns what the pipeline reads, under FOMM's names:

    prediction      (B, C, H, W)      the generated frame
    occlusion_map   (B, 1, H, W)      the finest of TPSMM's occlusion masks (1 = visible): the one
                                      the prediction is blended with (docs/tpsmm.md, PriorityCut on TPSMM)
    occlusion_maps  list of (B, 1, h_l, w_l), coarse to fine: all of them (TPSMM's ``occlusion_map``)
    region_mask     (B, K+1, H_o, W_o) TPSMM's contribution maps (channel 0: the background's),
                                      resized to occlusion_map's size as TPSMM resizes its flow
                                      (bilinear, align_corners=True), so that PriorityCut's
                                      foreground and ranking share one grid
    deformed, deformed_source, warped_encoder_maps, contribution_maps: as TPSMM returns them.
"""
from __future__ import annotations

import torch
from torch import nn

from pcutlib.models.tpsmm.bg_motion import BackgroundMotionPredictor
from pcutlib.models.tpsmm.dense_motion import TPSDenseMotionNetwork
from pcutlib.models.tpsmm.inpainting import InpaintingNetwork, resize_aligned


class TPSMMGenerator(nn.Module):
    """source, keypoints (and the background motion) -> the generated frame and its maps (module doc).

    The submodules keep TPSMM's names, so TPSMM's state dicts load into
    ``dense_motion_network``, ``inpainting_network`` and ``bg_predictor`` (None without bg)."""

    def __init__(self, dense_motion_network: TPSDenseMotionNetwork, inpainting_network: InpaintingNetwork,
                 bg_predictor: BackgroundMotionPredictor | None = None):
        super().__init__()
        self.dense_motion_network = dense_motion_network
        self.inpainting_network = inpainting_network
        self.bg_predictor = bg_predictor

    def background_motion(self, source: torch.Tensor, driving: torch.Tensor) -> torch.Tensor | None:
        """bg_param (B, 3, 3): the affine map of the driving frame's grid into the source, or None
        without a background predictor (the background does not move)."""
        return None if self.bg_predictor is None else self.bg_predictor(source, driving)

    def forward(self, source: torch.Tensor, kp_source: dict, kp_driving: dict, bg_param: torch.Tensor | None = None,
                tps_dropout: float | None = None, dropout_rng: torch.Generator | None = None) -> dict:
        """source (B, C, H, W); kp_source, kp_driving {"value": (B, 5K, 2)}; bg_param (B, 3, 3) or
        None (no background motion: TPSMM's animation, and training before ``bg_start``);
        tps_dropout: None, or p for TPS dropout drawn from ``dropout_rng``. Returns the module
        doc's dict."""
        dense_motion = self.dense_motion_network(source, kp_driving, kp_source, bg_param=bg_param,
                                                 dropout=tps_dropout, dropout_rng=dropout_rng)
        out = self.inpainting_network(source, dense_motion)
        out["occlusion_maps"] = out.pop("occlusion_map")
        out["occlusion_map"] = out["occlusion_maps"][-1]
        out["region_mask"] = resize_aligned(out["contribution_maps"], out["occlusion_map"].shape[2:])
        return out
