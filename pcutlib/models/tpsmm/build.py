"""TPSMM's four networks from its ``model_params`` (its checkpoints load through
``pcutlib.checkpoints.tpsmm``).

TPSMM's config (``config/vox-256.yaml``) has ``common_params`` (num_tps, num_channels, bg,
multi_mask), ``generator_params`` (the inpainting network), ``dense_motion_params`` and
``avd_network_params`` (the animation-via-disentanglement network, not built here). Its
checkpoints hold one state dict per network under ``kp_detector``, ``bg_predictor`` (when bg),
``dense_motion_network`` and ``inpainting_network``; pcut's modules use TPSMM's parameter
names, so they load strictly, by name.
"""
from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from pcutlib.config import resolve_model_params
from pcutlib.models.bundle import NetworkBundle
from pcutlib.models.tpsmm.bg_motion import BackgroundMotionPredictor
from pcutlib.models.tpsmm.dense_motion import NUM_OCCLUSION_MAPS, TPSDenseMotionNetwork
from pcutlib.models.tpsmm.generator import TPSMMGenerator
from pcutlib.models.tpsmm.inpainting import InpaintingNetwork
from pcutlib.models.tpsmm.keypoint_detector import TPSKeypointDetector


@dataclass
class TPSMMModels(NetworkBundle):
    """TPSMM's networks as pcut's pipeline calls them: the keypoint detector, the generator
    (``TPSMMGenerator``: dense motion, inpainting and background networks) and pcut's optional
    discriminator. ``networks()`` names them as TPSMM's checkpoints do."""
    kp_detector: TPSKeypointDetector
    generator: TPSMMGenerator
    discriminator: nn.Module | None = None

    @property
    def dense_motion_network(self) -> TPSDenseMotionNetwork:
        return self.generator.dense_motion_network

    @property
    def inpainting_network(self) -> InpaintingNetwork:
        return self.generator.inpainting_network

    @property
    def bg_predictor(self) -> BackgroundMotionPredictor | None:
        return self.generator.bg_predictor

    def networks(self) -> dict[str, nn.Module]:
        """{checkpoint name: module}, in TPSMM's names (bg_predictor only with bg), then the
        discriminator when present."""
        named = {"kp_detector": self.kp_detector, "bg_predictor": self.bg_predictor,
                 "dense_motion_network": self.dense_motion_network, "inpainting_network": self.inpainting_network,
                 "discriminator": self.discriminator}
        return {name: module for name, module in named.items() if module is not None}


def build_tpsmm(model_params: dict) -> TPSMMModels:
    """model_params (TPSMM's yaml layout) -> TPSMMModels with fresh weights, in training mode,
    without a discriminator (``pcutlib.models.build.build_models`` adds pcut's)."""
    params = resolve_model_params(model_params, "tpsmm")
    common = params["common_params"]
    num_tps, num_channels = common["num_tps"], common["num_channels"]
    bg, multi_mask = common["bg"], common["multi_mask"]
    down = params["generator_params"]["num_down_blocks"]
    if multi_mask and down + 1 != NUM_OCCLUSION_MAPS:
        raise ValueError(f"model_params.common_params.multi_mask needs generator_params.num_down_blocks = "
                         f"{NUM_OCCLUSION_MAPS - 1} (one occlusion mask per scale, {NUM_OCCLUSION_MAPS} masks), got {down}")
    generator = TPSMMGenerator(
        TPSDenseMotionNetwork(**params["dense_motion_params"], num_tps=num_tps, num_channels=num_channels, bg=bg,
                              multi_mask=multi_mask),
        InpaintingNetwork(**params["generator_params"], num_channels=num_channels, multi_mask=multi_mask),
        BackgroundMotionPredictor(num_channels=num_channels) if bg else None)
    return TPSMMModels(TPSKeypointDetector(num_tps=num_tps, num_channels=num_channels), generator)
