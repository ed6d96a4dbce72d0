"""Build the three networks from FOMM's ``model_params`` (common params shared by all)."""
from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from .config import SCHEMA, check_keys, merge_defaults
from .generator import OcclusionAwareGenerator
from .keypoints import KeypointDetector
from .patch_discriminator import MultiScalePatchDiscriminator


@dataclass
class Models:
    """The animation model: keypoint detector, generator and (optional) discriminator."""
    kp_detector: nn.Module
    generator: nn.Module
    discriminator: nn.Module | None = None

    def modules(self) -> dict:
        named = {"kp_detector": self.kp_detector, "generator": self.generator}
        if self.discriminator is not None:
            named["discriminator"] = self.discriminator
        return named

    def to(self, device) -> "Models":
        for module in self.modules().values():
            module.to(device)
        return self

    def train(self, mode: bool = True) -> "Models":
        for module in self.modules().values():
            module.train(mode)
        return self

    def eval(self) -> "Models":
        return self.train(False)


def resolve_model_params(model_params: dict) -> dict:
    """Check keys against the schema and fill defaults for a ``model_params`` dict."""
    check_keys(model_params, SCHEMA["model_params"], "model_params")
    return merge_defaults(model_params, SCHEMA["model_params"], "model_params")


def build_discriminator(discriminator_params: dict, common_params: dict) -> nn.Module:
    params = dict(discriminator_params)
    kind = params.pop("kind")
    if kind == "patch":
        return MultiScalePatchDiscriminator(num_kp=common_params["num_kp"],
                                            num_channels=common_params["num_channels"], **params)
    if kind == "unet":
        from .unet_discriminator import UNetDiscriminator
        unused = {k: params[k] for k in ("use_kp", "scales") if params[k] not in (False, [1])}
        if unused:
            raise ValueError(f"discriminator_params {unused} apply to the patch discriminator only, "
                             f"not to kind: unet")
        return UNetDiscriminator(num_channels=common_params["num_channels"],
                                 block_expansion=params["block_expansion"], max_features=params["max_features"],
                                 num_blocks=params["num_blocks"], spectral_norm=params["sn"],
                                 image_size=2 ** params["num_blocks"])
    raise ValueError(f"model_params.discriminator_params.kind must be 'patch' or 'unet', got {kind!r}")


def build_models(model_params: dict, with_discriminator: bool = True) -> Models:
    """model_params (FOMM yaml layout) -> Models with freshly initialised weights."""
    params = resolve_model_params(model_params)
    common = params["common_params"]
    kp_detector = KeypointDetector(**params["kp_detector_params"], **common)
    generator = OcclusionAwareGenerator(**params["generator_params"], **common)
    discriminator = (build_discriminator(params["discriminator_params"], common)
                     if with_discriminator else None)
    return Models(kp_detector, generator, discriminator)
