"""Occlusion-aware generator (FOMM sec. 3.2, Johnson-style encoder/decoder).

    features  = down_blocks(first(S))                      encode the source
    warped    = features o T                              warp by the dense flow T
    masked    = O * warped                                keep what the source can explain
    D_hat     = sigmoid(final(up_blocks(bottleneck(masked))))   inpaint and decode

With ``keep_visible_source`` (a departure from FOMM, TPSMM's output) the prediction keeps the
warped source where O says it is visible: D_hat <- D_hat (1 - O) + (S o T) O, with O (1: visible)
resized to the frame as the flow is.

Where the occlusion map O is near 0 the decoder must invent the pixels: the regions
PriorityCut sends to the discriminator.
"""
from __future__ import annotations

import torch
from torch import nn

from pcutlib.models.blocks import DownBlock, ResBlock, SameBlock, UpBlock, channels_at
from pcutlib.models.dense_motion import DenseMotionNetwork
from pcutlib.models.warping import check_image, check_keypoints, deform, resize_bilinear


class OcclusionAwareGenerator(nn.Module):
    """generator(source_image, kp_driving=..., kp_source=...) -> dict.

    source_image (B, C, H, W) in [0,1]; keypoints {"value": (B, K, 2), "jacobian"?}.
    Returns ``prediction`` (B, C, H, W) and, with a dense motion network, ``deformed``
    (B, C, H, W: the source warped by the flow), ``deformation`` (B, h, w, 2),
    ``region_mask`` (B, K+1, h, w), ``sparse_deformed`` (B, K+1, C, h, w) and
    ``occlusion_map`` (B, 1, h, w) with its input ``motion_features`` (B, F, h, w) when estimated. H and W must be divisible by
    2^num_down_blocks. ``apply_occlusion=False`` (training warm-up only) leaves the warped features
    unmasked, so every pixel's error reaches the flow. ``region_dropout`` (training only) is passed to the dense motion
    network (``pcutlib.models.dense_motion.region_softmax``), which draws the dropped regions from ``dropout_rng``
    (None: torch's global RNG); 0 is FOMM's generator. ``aligned_resize``: the flow and O reach
    the features' size by ``warping.resize_bilinear`` with align_corners=True (TPSMM's choice, an
    identity flow stays the identity) instead of FOMM's False. ``keep_visible_source``: the
    prediction is blended with the warped source by O (module doc); it needs an occlusion map, and
    ``apply_occlusion=False`` skips the blend as it skips the masking.
    """

    def __init__(self, *, num_channels: int, num_kp: int, block_expansion: int, max_features: int,
                 num_down_blocks: int, num_bottleneck_blocks: int, estimate_occlusion_map: bool = False,
                 dense_motion_params: dict | None = None, estimate_jacobian: bool = False,
                 aligned_resize: bool = False, keep_visible_source: bool = False):
        super().__init__()
        if keep_visible_source and (dense_motion_params is None or not estimate_occlusion_map):
            motion = "absent" if dense_motion_params is None else "set"
            raise ValueError(f"generator_params.keep_visible_source blends by the occlusion map, but "
                             f"estimate_occlusion_map is {estimate_occlusion_map} and dense_motion_params is "
                             f"{motion}: set both, or keep_visible_source false")
        self.aligned_resize = aligned_resize
        self.keep_visible_source = keep_visible_source
        self.num_channels = num_channels
        self.num_kp = num_kp
        self.num_down_blocks = num_down_blocks
        self.dense_motion_network = None
        if dense_motion_params is not None:
            self.dense_motion_network = DenseMotionNetwork(
                num_kp=num_kp, num_channels=num_channels, estimate_occlusion_map=estimate_occlusion_map,
                **dense_motion_params)
        self.first = SameBlock(num_channels, block_expansion, kernel_size=(7, 7), padding=(3, 3))
        self.down_blocks = nn.ModuleList(
            DownBlock(channels_at(i, block_expansion, max_features), channels_at(i + 1, block_expansion, max_features))
            for i in range(num_down_blocks))
        self.up_blocks = nn.ModuleList(
            UpBlock(channels_at(num_down_blocks - i, block_expansion, max_features),
                    channels_at(num_down_blocks - i - 1, block_expansion, max_features))
            for i in range(num_down_blocks))
        bottleneck_features = channels_at(num_down_blocks, block_expansion, max_features)
        self.bottleneck = nn.Sequential()
        for i in range(num_bottleneck_blocks):
            self.bottleneck.add_module(f"r{i}", ResBlock(bottleneck_features))
        self.final = nn.Conv2d(block_expansion, num_channels, kernel_size=(7, 7), padding=(3, 3))

    def forward(self, source_image: torch.Tensor, kp_driving: dict, kp_source: dict,
                region_dropout: float = 0.0, apply_occlusion: bool = True,
                dropout_rng: torch.Generator | None = None) -> dict:
        check_image(source_image, "source_image", self.num_channels)
        factor = 2 ** self.num_down_blocks
        if source_image.shape[2] % factor or source_image.shape[3] % factor:
            raise ValueError(f"image size {source_image.shape[2]}x{source_image.shape[3]} must be divisible "
                             f"by {factor} (2^num_down_blocks, num_down_blocks={self.num_down_blocks})")
        batch = source_image.shape[0]
        check_keypoints(kp_source, "kp_source", self.num_kp, batch)
        check_keypoints(kp_driving, "kp_driving", self.num_kp, batch)

        out = self.first(source_image)
        for block in self.down_blocks:
            out = block(out)                                                  # (B, F, H/2^n, W/2^n)

        output = {}
        if self.dense_motion_network is not None:
            motion = self.dense_motion_network(source_image, kp_driving=kp_driving, kp_source=kp_source,
                                               region_dropout=region_dropout, dropout_rng=dropout_rng)
            output["region_mask"] = motion["region_mask"]
            output["sparse_deformed"] = motion["sparse_deformed"]
            deformation = motion["deformation"]
            output["deformation"] = deformation
            out = deform(out, deformation, aligned_resize=self.aligned_resize)
            if "occlusion_map" in motion:
                occlusion_map = motion["occlusion_map"]
                output["occlusion_map"] = occlusion_map
                output["motion_features"] = motion["motion_features"]      # O's input, (B, F, h, w)
                if occlusion_map.shape[2:] != out.shape[2:]:
                    occlusion_map = resize_bilinear(occlusion_map, out.shape[2:], self.aligned_resize)
                if apply_occlusion:
                    out = out * occlusion_map
            output["deformed"] = deform(source_image, deformation, aligned_resize=self.aligned_resize)

        out = self.bottleneck(out)
        for block in self.up_blocks:
            out = block(out)
        prediction = torch.sigmoid(self.final(out))
        if self.keep_visible_source and apply_occlusion:
            visible = resize_bilinear(output["occlusion_map"], prediction.shape[2:], self.aligned_resize)
            prediction = prediction * (1 - visible) + output["deformed"] * visible     # (B, C, H, W)
        output["prediction"] = prediction
        return output
