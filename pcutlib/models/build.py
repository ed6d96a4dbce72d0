"""Build a backbone's networks from its ``model_params``: FOMM's three (common params shared by
all), or TPSMM's (``pcutlib.models.tpsmm.build``), each with pcut's optional discriminator."""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from pcutlib.config import resolve_model_params
from pcutlib.models.bundle import NetworkBundle
from pcutlib.models.generator import OcclusionAwareGenerator
from pcutlib.models.keypoints import KeypointDetector
from pcutlib.models.patch_discriminator import MultiScalePatchDiscriminator
from pcutlib.models.tpsmm.build import TPSMMModels, build_tpsmm
from pcutlib.models.tpsmm.keypoint_detector import POINTS_PER_TPS
from pcutlib.models.unet_discriminator import UNetDiscriminator


@dataclass
class Models(NetworkBundle):
    """The animation model: keypoint detector, generator and (optional) discriminator."""
    kp_detector: nn.Module
    generator: nn.Module
    discriminator: nn.Module | None = None

    def networks(self) -> dict[str, nn.Module]:
        """{"kp_detector": ..., "generator": ..., "discriminator": ... (when present)}."""
        named = {"kp_detector": self.kp_detector, "generator": self.generator}
        if self.discriminator is not None:
            named["discriminator"] = self.discriminator
        return named


def build_discriminator(discriminator_params: dict, common_params: dict) -> nn.Module:
    params = dict(discriminator_params)
    kind = params.pop("kind")
    if kind == "patch":
        return MultiScalePatchDiscriminator(num_kp=common_params["num_kp"],
                                            num_channels=common_params["num_channels"], **params)
    if kind == "unet":
        unused = {k: params[k] for k in ("use_kp", "scales") if params[k] not in (False, [1])}
        if unused:
            raise ValueError(f"discriminator_params {unused} apply to the patch discriminator only, "
                             f"not to kind: unet")
        return UNetDiscriminator(num_channels=common_params["num_channels"],
                                 block_expansion=params["block_expansion"], max_features=params["max_features"],
                                 num_blocks=params["num_blocks"], spectral_norm=params["sn"],
                                 image_size=2 ** params["num_blocks"])
    raise ValueError(f"model_params.discriminator_params.kind must be 'patch' or 'unet', got {kind!r}")


MAX_PARAMETERS = 2_000_000_000     # 8 GB of float32 weights: far beyond any FOMM-family model


def count_parameters(model_params: dict, with_discriminator: bool = True) -> dict:
    """Parameters per network that ``model_params`` asks for, counted without allocating
    (the networks are built on PyTorch's meta device): {"kp_detector": n, "generator": n, ...}."""
    params = resolve_model_params(model_params)
    common = params["common_params"]
    with torch.device("meta"):
        networks = {"kp_detector": KeypointDetector(**params["kp_detector_params"], **common),
                    "generator": OcclusionAwareGenerator(**params["generator_params"], **common)}
        if with_discriminator:
            # spectral norm adds no parameters, only buffers; its power iteration is slow on meta
            networks["discriminator"] = build_discriminator({**params["discriminator_params"], "sn": False}, common)
    return {name: sum(p.numel() for p in net.parameters()) for name, net in networks.items()}


def _might_be_huge(model_params: dict) -> bool:
    """A cheap over-estimate (per block two 3x3 convolutions of twice the widest features, as
    a skip concatenation makes them) says whether the exact count on the meta device is worth
    its ~2 s warm-up; FOMM's vox-256 (62 million parameters) stays below it."""
    params = resolve_model_params(model_params)
    generator = params["generator_params"]
    sections = [params["kp_detector_params"], generator, generator["dense_motion_params"],
                params["discriminator_params"]]
    bound = 0
    for section in sections:
        width = max(section.get("max_features", 0), section.get("block_expansion", 0))
        blocks = (section.get("num_blocks", 0) + section.get("num_down_blocks", 0)
                  + section.get("num_bottleneck_blocks", 0) + 2)
        bound += 2 * 9 * (2 * width) ** 2 * blocks
    return bound > MAX_PARAMETERS


def build_models(model_params: dict, with_discriminator: bool = True,
                 backbone: str = "fomm") -> Models | TPSMMModels:
    """model_params (the backbone's yaml layout) -> Models (fomm) or TPSMMModels (tpsmm) with
    freshly initialised weights; both hold ``kp_detector``, ``generator`` and ``discriminator``
    (None without one) and are called the same way (``pcutlib.inference``).

    A FOMM config asking for more than MAX_PARAMETERS parameters is refused before anything is
    allocated, with the count it would need."""
    if backbone == "tpsmm":
        return build_tpsmm_models(model_params, with_discriminator)
    counts = count_parameters(model_params, with_discriminator) if _might_be_huge(model_params) else {}
    if sum(counts.values()) > MAX_PARAMETERS:
        detail = ", ".join(f"{name} {n / 1e9:.1f}e9" for name, n in counts.items())
        raise ValueError(f"model_params ask for {sum(counts.values()) / 1e9:.1f} billion parameters "
                         f"({detail}; {4 * sum(counts.values()) / 2**30:.0f} GiB of float32 weights), more than "
                         f"the {MAX_PARAMETERS / 1e9:.0f} billion pcut accepts: check block_expansion, "
                         f"max_features and num_blocks")
    params = resolve_model_params(model_params, backbone)
    common = params["common_params"]
    kp_detector = KeypointDetector(**params["kp_detector_params"], **common)
    generator = OcclusionAwareGenerator(**params["generator_params"], **common)
    discriminator = (build_discriminator(params["discriminator_params"], common)
                     if with_discriminator else None)
    return Models(kp_detector, generator, discriminator)


def build_tpsmm_models(model_params: dict, with_discriminator: bool = True) -> TPSMMModels:
    """TPSMM's networks and pcut's discriminator (the patch discriminator conditioned on keypoints
    sees TPSMM's 5K keypoints)."""
    models = build_tpsmm(model_params)
    if with_discriminator:
        params = resolve_model_params(model_params, "tpsmm")
        common = params["common_params"]
        models.discriminator = build_discriminator(params["discriminator_params"], {
            "num_kp": POINTS_PER_TPS * common["num_tps"], "num_channels": common["num_channels"]})
    return models
