"""Training losses: VGG19 perceptual pyramid, equivariance, keypoint separation, patch-GAN (LSGAN)
and U-Net BCE (O's label terms: ``occlusion_label``).

Every loss here returns either a scalar tensor (the reconstruction losses, which are
nn.Modules holding their networks) or a dict of named scalar tensors that the trainer
sums and logs one by one. Key names follow FOMM where FOMM has the loss (``perceptual``,
``equivariance_value``, ``gen_gan``, ``disc_gan``, ``feature_matching``).
"""
from __future__ import annotations

import os
import warnings
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from pcutlib.checkpoints.files import safe_torch_load
from pcutlib.models.warping import ImagePyramid, RandomTPS, scale_key
from pcutlib.prioritycut import consistency_loss

# --------------------------------------------------------------------------- VGG19

VGG19_URL = "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth"
VGG19_FILE_NAME = "vgg19-dcbb9e9d.pth"
VGG19_ENV_VAR = "PCUT_VGG19_WEIGHTS"

# torchvision's vgg19 "features" up to relu5_1 (indices 0..29): channel counts, "M" = maxpool.
_VGG19_LAYOUT = [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512]
# FOMM's five slices, ending at relu1_1, relu2_1, relu3_1, relu4_1, relu5_1.
_VGG19_SLICES = [(0, 2), (2, 7), (7, 12), (12, 21), (21, 30)]
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def _vgg19_feature_layers() -> list[nn.Module]:
    """torchvision's vgg19().features[0:30], numbered the same way (conv, relu, ..., maxpool)."""
    layers, in_channels = [], 3
    for item in _VGG19_LAYOUT:
        if item == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        else:
            layers += [nn.Conv2d(in_channels, item, kernel_size=3, padding=1), nn.ReLU(inplace=False)]
            in_channels = item
    assert len(layers) == 30
    return layers


class VGG19Features(nn.Module):
    """Frozen VGG19 features for the perceptual loss (FOMM's ``Vgg19``).

    (B, 3, H, W) in [0, 1] -> list of 5 maps: relu1_1 (64, H), relu2_1 (128, H/2),
    relu3_1 (256, H/4), relu4_1 (512, H/8), relu5_1 (512, H/16). The input is normalised
    with the ImageNet mean and std first. Parameters never get gradients; inputs do.
    Weights start random: load them with :func:`load_vgg19_weights`.
    """
    def __init__(self):
        super().__init__()
        # Parameter names "features.N.weight" match torchvision's state dict.
        self.features = nn.Sequential(*_vgg19_feature_layers())
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))
        self.requires_grad_(False)

    def forward(self, image: torch.Tensor) -> list[torch.Tensor]:
        h = (image - self.mean) / self.std
        outputs = []
        for start, end in _VGG19_SLICES:
            for index in range(start, end):
                h = self.features[index](h)
            outputs.append(h)
        return outputs


def vgg19_cache_path() -> Path:
    """Where torch hub keeps the downloaded file: <torch hub dir>/checkpoints/vgg19-dcbb9e9d.pth."""
    return Path(torch.hub.get_dir()) / "checkpoints" / VGG19_FILE_NAME


def _read_vgg19_state_dict(source: str | os.PathLike | None) -> dict:
    """The state dict from ``source``, else $PCUT_VGG19_WEIGHTS, else the hub cache, else the URL."""
    if source is None:
        source = os.environ.get(VGG19_ENV_VAR) or None
    if source is None and vgg19_cache_path().is_file():
        source = vgg19_cache_path()
    if source is not None:
        path = Path(source).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"VGG19 weights file not found: {path}")
        return safe_torch_load(path)          # same refusal and messages as every checkpoint
    try:
        return torch.hub.load_state_dict_from_url(VGG19_URL, map_location="cpu", check_hash=True,
                                                  file_name=VGG19_FILE_NAME, weights_only=True)
    except Exception as error:  # offline, proxy, hash mismatch: say what to do instead
        raise RuntimeError(
            f"could not download the VGG19 ImageNet weights ({type(error).__name__}: {error}). "
            f"Download {VGG19_URL} on a machine with internet access and put it at "
            f"{vgg19_cache_path()} (the torch hub checkpoints directory), or set ${VGG19_ENV_VAR} "
            f"to its path, or pass the path as weights=... / source=...") from error


def load_vgg19_weights(model: VGG19Features, source: str | os.PathLike | None = None) -> VGG19Features:
    """Fill ``model`` with torchvision's ImageNet VGG19 weights (file vgg19-dcbb9e9d.pth).

    source: a path to that file (keys ``features.N.weight`` / ``features.N.bias``; features
    past index 29 and the classifier are ignored). None looks at $PCUT_VGG19_WEIGHTS, then
    the torch hub cache (:func:`vgg19_cache_path`), then downloads into that cache. Offline
    without the file: a RuntimeError saying where to put it. Returns ``model``.
    """
    state = _read_vgg19_state_dict(source)
    if not isinstance(state, dict):
        raise ValueError(f"VGG19 weights must be a state dict, got {type(state).__name__}")
    wanted = model.features.state_dict()                       # keys like "0.weight"
    loaded = {}
    for key, expected in wanted.items():
        file_key = f"features.{key}"
        if file_key not in state:
            raise ValueError(f"VGG19 weights lack {file_key!r} (expected torchvision's vgg19 state "
                             f"dict with keys features.N.weight/bias); found keys such as "
                             f"{sorted(state)[:4]}")
        if tuple(state[file_key].shape) != tuple(expected.shape):
            raise ValueError(f"VGG19 weights {file_key!r} have shape {tuple(state[file_key].shape)}, "
                             f"expected {tuple(expected.shape)}")
        loaded[key] = state[file_key]
    model.features.load_state_dict(loaded)
    return model


def build_vgg19(weights: str | os.PathLike = "imagenet") -> tuple[VGG19Features, bool]:
    """VGG19 features with "imagenet" weights (found or downloaded), a file path, or "random".

    Returns (model in eval mode, is_paper_loss). "random" warns: it is not the paper's loss.
    """
    model = VGG19Features()
    if weights == "random":
        warnings.warn("VGG19 with RANDOM weights: this perceptual loss is NOT the paper's (FOMM's "
                      "ImageNet VGG19). Use it for tests only.", UserWarning, stacklevel=3)
        return model.eval(), False
    load_vgg19_weights(model, None if weights == "imagenet" else weights)
    return model.eval(), True


# --------------------------------------------------------------------------- reconstruction

class PerceptualPyramidLoss(nn.Module):
    """FOMM's perceptual loss over an image pyramid (FOMM sec. 3.3):

        L = sum_s sum_l w_l * mean | VGG_l(P_s(generated)) - VGG_l(P_s(real)) |

    P_s = anti-aliased downsampling to scale s, VGG_l = relu{l}_1 features, w_l = layer_weights.
    forward(generated, real, source=None): (B, 3, H, W) in [0, 1] -> scalar (``source`` not read). The smallest scale must
    leave at least 16x16 pixels (relu5_1 sits after four 2x2 poolings).
    ``is_paper_loss`` is False when the VGG weights are random.
    """
    def __init__(self, scales=(1, 0.5, 0.25, 0.125), layer_weights=(10, 10, 10, 10, 10),
                 weights: str | os.PathLike = "imagenet", num_channels: int = 3):
        super().__init__()
        if num_channels != 3:
            raise ValueError(f"the VGG19 perceptual loss needs RGB images, got num_channels={num_channels}")
        if len(layer_weights) != len(_VGG19_SLICES):
            raise ValueError(f"layer_weights needs {len(_VGG19_SLICES)} values (relu1_1..relu5_1), "
                             f"got {list(layer_weights)}")
        self.scales = list(scales)
        self.layer_weights = [float(w) for w in layer_weights]
        self.pyramid = ImagePyramid(self.scales, num_channels)
        self.vgg, self.is_paper_loss = build_vgg19(weights)

    def train(self, mode: bool = True):
        super().train(mode)
        self.vgg.eval()              # frozen network: always in eval mode
        return self

    def forward(self, generated: torch.Tensor, real: torch.Tensor, source: torch.Tensor | None = None) -> torch.Tensor:
        """``source`` is not read: every pixel weighs alike here (the pixel pyramid's moving weight reads it)."""
        pyramid_generated, pyramid_real = self.pyramid(generated), self.pyramid(real)
        total = generated.new_zeros(())
        for scale in self.scales:
            key = f"prediction_{scale_key(scale)}"
            features_generated = self.vgg(pyramid_generated[key])
            with torch.no_grad():
                features_real = self.vgg(pyramid_real[key])
            for weight, a, b in zip(self.layer_weights, features_generated, features_real):
                total = total + weight * (a - b).abs().mean()        # w_l * mean|VGG_l(G) - VGG_l(x)|
        return total


class PixelPyramidLoss(nn.Module):
    """A cheap CPU stand-in for the perceptual loss, on pixels instead of VGG features:

        L = sum_s mean( |P_s(generated) - P_s(real)| * (weight + moving_weight * P_s(|real - source|)) )

    forward(generated, real, source): all (B, C, H, W) -> scalar; ``source`` (the frame the
    generator warped) is needed only when moving_weight is not 0: it weighs each value's error more
    where the driving frame differs from the source, channel by channel (the pixels that motion must
    explain: moved limbs, and where they were). moving_weight 0 is the plain pyramid, and ``source``
    is then not read. Not the paper's loss.
    """
    is_paper_loss = False

    def __init__(self, scales=(1, 0.5, 0.25, 0.125), weight: float = 10.0, num_channels: int = 3,
                 moving_weight: float = 0.0):
        super().__init__()
        if moving_weight < 0:
            raise ValueError(f"moving_weight {moving_weight}: expected 0 (off) or more")
        self.scales = list(scales)
        self.weight = float(weight)
        self.moving_weight = float(moving_weight)
        self.pyramid = ImagePyramid(self.scales, num_channels)

    def forward(self, generated: torch.Tensor, real: torch.Tensor, source: torch.Tensor | None = None) -> torch.Tensor:
        pyramid_generated, pyramid_real = self.pyramid(generated), self.pyramid(real)
        if self.moving_weight:
            if source is None:
                raise ValueError(f"moving_weight {self.moving_weight} weighs pixels by |real - source|: pass the source frame")
            if source.shape != real.shape:
                raise ValueError(f"source {tuple(source.shape)} and real {tuple(real.shape)}: expected the same shape")
            pyramid_change = self.pyramid((real - source).abs().detach())
        total = generated.new_zeros(())
        for scale in self.scales:
            key = f"prediction_{scale_key(scale)}"
            error = (pyramid_generated[key] - pyramid_real[key].detach()).abs()           # (B,C,h,w)
            if self.moving_weight:
                total = total + (error * (self.weight + self.moving_weight * pyramid_change[key])).mean()
            else:
                total = total + self.weight * error.mean()
        return total


# --------------------------------------------------------------------------- equivariance

def equivariance_losses(kp_detector, driving: torch.Tensor, kp_driving: dict, transform_params: dict,
                        weight_value: float, weight_jacobian: float,
                        generator: torch.Generator | None = None) -> tuple[dict, dict]:
    """Keypoints must move with the image (FOMM sec. 3.3, ``model.py``).

    Draw a random warp T (``RandomTPS.random(B, **transform_params, generator=generator)``,
    the first draw from ``generator``), detect keypoints p_t, J_t on the warped frame
    X' = X o T and compare with the driving keypoints p, J:
        equivariance_value    = w_v * mean | p - T(p_t) |
        equivariance_jacobian = w_j * mean | I - J^-1 (dT(p_t) J_t) |
    A term with weight 0 is skipped, as is the jacobian term for keypoints without jacobians.

    driving: (B, C, H, W); kp_driving: {"value": (B,K,2), "jacobian": (B,K,2,2)?};
    transform_params: sigma_affine, sigma_tps, points_tps.
    Returns (losses, visuals) with visuals = {"transformed_frame": (B, C, H, W),
    "transformed_kp": the detector's output on it}.
    """
    batch = driving.shape[0]
    transform = RandomTPS.random(batch, **transform_params, generator=generator, device=driving.device)
    transformed_frame = transform.transform_frame(driving)                     # X' = X o T
    transformed_kp = kp_detector(transformed_frame)
    losses = {}
    if weight_value != 0:
        warped_value = transform.warp_coordinates(transformed_kp["value"])     # T(p_t): (B, K, 2)
        losses["equivariance_value"] = weight_value * (kp_driving["value"] - warped_value).abs().mean()
    if weight_jacobian != 0 and "jacobian" in kp_driving and "jacobian" in transformed_kp:
        jacobian_transformed = transform.jacobian(transformed_kp["value"]) @ transformed_kp["jacobian"]
        product = torch.inverse(kp_driving["jacobian"]) @ jacobian_transformed  # J^-1 dT(p_t) J_t: (B,K,2,2)
        eye = torch.eye(2, dtype=product.dtype, device=product.device)
        losses["equivariance_jacobian"] = weight_jacobian * (eye - product).abs().mean()
    return losses, {"transformed_frame": transformed_frame, "transformed_kp": transformed_kp}


# --------------------------------------------------------------------------- keypoint separation

def keypoint_separation_loss(keypoints: torch.Tensor, sigma: float, weight: float) -> dict:
    """Keypoints must not sit on one spot: pcut's lever against collapsed keypoints, the separation
    prior of Zhang et al. (CVPR 2018, "Unsupervised discovery of object landmarks as structural
    representations"); FOMM has no such term.

        keypoint_separation = w * mean over frames and pairs i != j of exp(-|p_i - p_j|^2 / (2 sigma^2))

    keypoints: (B, K, 2) in [-1, 1], K >= 2; sigma in the same units. A pair on one spot costs w,
    a pair 3 sigma apart about w / 90. Returns {} when the weight is 0.
    """
    if weight == 0:
        return {}
    if keypoints.dim() != 3 or keypoints.shape[1] < 2 or keypoints.shape[2] != 2:
        raise ValueError(f"keypoints must be (B, K, 2) with K >= 2, got {tuple(keypoints.shape)}")
    if sigma <= 0:
        raise ValueError(f"the keypoint separation's sigma must be positive, got {sigma}")
    num_kp = keypoints.shape[1]
    squared = (keypoints[:, :, None, :] - keypoints[:, None, :, :]).pow(2).sum(dim=-1)     # (B, K, K)
    kernel = torch.exp(-squared / (2 * sigma ** 2))
    off_diagonal = kernel.sum(dim=(1, 2)) - kernel.diagonal(dim1=1, dim2=2).sum(dim=1)    # (B,)
    return {"keypoint_separation": weight * (off_diagonal / (num_kp * (num_kp - 1))).mean()}


# --------------------------------------------------------------------------- FOMM patch discriminator (LSGAN)

def lsgan_discriminator_loss(real_maps: dict, fake_maps: dict, scales, weight: float) -> dict:
    """disc_gan = sum_s weight * mean[ (1 - D_s(x))^2 + D_s(G)^2 ]   on ``prediction_map_<s>``."""
    total = 0
    for scale in scales:
        key = f"prediction_map_{scale_key(scale)}"
        total = total + weight * ((1 - real_maps[key]) ** 2 + fake_maps[key] ** 2).mean()
    return {"disc_gan": total}


def lsgan_generator_loss(fake_maps: dict, scales, weight: float) -> dict:
    """gen_gan = sum_s weight * mean (1 - D_s(G))^2."""
    total = 0
    for scale in scales:
        key = f"prediction_map_{scale_key(scale)}"
        total = total + weight * ((1 - fake_maps[key]) ** 2).mean()
    return {"gen_gan": total}


def feature_matching_loss(real_maps: dict, fake_maps: dict, scales, weights) -> dict:
    """feature_matching = sum_s sum_i w_i * mean | F_s,i(x) - F_s,i(G) |  on ``feature_maps_<s>``.

    weights: one per discriminator block; zero weights skip the block. Real features are
    detached (they do not depend on the generator).
    """
    total = 0
    for scale in scales:
        key = f"feature_maps_{scale_key(scale)}"
        if len(real_maps[key]) != len(weights):
            raise ValueError(f"feature_matching has {len(weights)} weights but {key} has "
                             f"{len(real_maps[key])} feature maps")
        for weight, real, fake in zip(weights, real_maps[key], fake_maps[key]):
            if weight != 0:
                total = total + weight * (real.detach() - fake).abs().mean()
    return {"feature_matching": total}


# --------------------------------------------------------------------------- U-Net discriminator (BCE on logits)

def _bce(logits: torch.Tensor, target) -> torch.Tensor:
    """mean over all elements of -[t log sigmoid(l) + (1 - t) log(1 - sigmoid(l))]."""
    if not torch.is_tensor(target):
        target = torch.full_like(logits, float(target))
    return F.binary_cross_entropy_with_logits(logits, target.expand_as(logits).to(logits.dtype))


def unet_discriminator_loss(real_out: dict, fake_out: dict, weight: float = 1.0, decoder: str = "both") -> dict:
    """U-Net D on real and (detached) fake images, BCE on logits:

        disc_unet_encoder = weight * [ BCE(D_enc(x), 1) + BCE(D_enc(G), 0) ]       mean over images
        disc_unet_decoder = weight * [ BCE(D_dec(x), 1) + BCE(D_dec(G), 0) ]       mean over pixels
    real_out, fake_out: UNetDiscriminator outputs ("logit" (B,), "pixel_logits" (B,1,H,W)).
    decoder: "both" as above; "real" leaves out BCE(D_dec(G), 0); "none" leaves out the decoder
    term (regularizer.decoder_plain_terms once mixing may begin).
    """
    if decoder not in ("both", "real", "none"):
        raise ValueError(f"decoder must be 'both', 'real' or 'none', got {decoder!r}")
    losses = {"disc_unet_encoder": weight * (_bce(real_out["logit"], 1) + _bce(fake_out["logit"], 0))}
    if decoder != "none":
        fake_term = _bce(fake_out["pixel_logits"], 0) if decoder == "both" else 0.0
        losses["disc_unet_decoder"] = weight * (_bce(real_out["pixel_logits"], 1) + fake_term)
    return losses


def unet_generator_loss(fake_out: dict, weight: float) -> dict:
    """The generator wants both heads to say "real" (weight = FOMM's ``generator_gan``):

        gen_unet_encoder = weight * BCE(D_enc(G), 1),   gen_unet_decoder = weight * BCE(D_dec(G), 1)
    """
    return {
        "gen_unet_encoder": weight * _bce(fake_out["logit"], 1),
        "gen_unet_decoder": weight * _bce(fake_out["pixel_logits"], 1),
    }


def unet_feature_matching_loss(real_features: list, fake_features: list, weights) -> dict:
    """Feature matching on the U-Net discriminator's encoder (docs/algorithm.md, the U-Net discriminator):

        feature_matching = sum_i w_i * mean | E_i(x) - E_i(G) |

    E_i = the output of encoder block i (``UNetDiscriminator``'s "features", (B, c_i, H/2^(i+1),
    W/2^(i+1))); weights: one per encoder block (train_params.loss_weights.feature_matching),
    zero weights skip the block. Real features are detached (they do not depend on the generator).
    """
    if len(weights) != len(real_features) or len(fake_features) != len(real_features):
        raise ValueError(f"feature_matching has {len(weights)} weights {list(weights)}, but the U-Net encoder gave "
                         f"{len(real_features)} real and {len(fake_features)} generated feature maps "
                         f"(one weight per encoder block)")
    total = 0
    for weight, real, fake in zip(weights, real_features, fake_features):
        if weight != 0:
            total = total + weight * (real.detach() - fake).abs().mean()
    return {"feature_matching": total}


def unet_plain_loss_factor(mixed_round_weights: str, mixed: bool) -> float:
    """The factor on the plain real/fake terms (``unet_discriminator_loss``) of a discriminator step.

        "sum"      (pcut): 1 on every step; a mixed step adds its mixed terms and consistency on top.
        "unetgan"  U-Net GAN (Schonfeld et al. 2020, boschresearch/unetgan train_fns.py, with the
                   flags of its training scripts: --full_batch_mixup --consistency_loss_and_augmentation):
                   a plain step is 0.5 [real terms] + 0.5 [fake terms], encoder and decoder alike;
                   a mixed step skips the plain terms (factor 0) and trains only
                   BCE(D_dec(x_mix), M) + BCE(D_enc(x_mix), 0) + consistency, each at weight 1
                   (pcut's consistency_weight, 1 by default, still multiplies the consistency).
    What pcut does not take over: U-Net GAN's generator loss is 0.5 enc + 0.5 dec, pcut's
    ``unet_generator_loss`` is generator_gan * (enc + dec) under both settings.
    """
    if mixed_round_weights == "sum":
        return 1.0
    if mixed_round_weights == "unetgan":
        return 0.0 if mixed else 0.5
    raise ValueError(f"regularizer.mixed_round_weights must be 'sum' or 'unetgan', got {mixed_round_weights!r}")


def balanced_bce(logits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """BCE(logits, M) with each image's real (M = 1) and generated (M = 0) pixels weighing half:

        per image: 0.5 * mean_{M=1} BCE(l, 1) + 0.5 * mean_{M=0} BCE(l, 0)     (a class it lacks:
        the other class weighs all), then the mean over images.
    A PriorityCut mask shows ~3% of the pixels as generated, so the plain mean lets a decoder
    that says "real" everywhere reach the base rate's loss. logits, mask: (B, 1, H, W)."""
    target = mask.to(logits.dtype)
    per_pixel = F.binary_cross_entropy_with_logits(logits, target, reduction="none").flatten(1)  # (B, HW)
    real, fake = target.flatten(1), 1 - target.flatten(1)
    n_real, n_fake = real.sum(1, keepdim=True), fake.sum(1, keepdim=True)                        # (B, 1)
    share = torch.where((n_real > 0) & (n_fake > 0), 0.5, 1.0)
    weights = share * (real / n_real.clamp(min=1) + fake / n_fake.clamp(min=1))                  # (B, HW)
    return (weights * per_pixel).sum(1).mean()


def unet_mixed_loss(mixed_out: dict, mask: torch.Tensor, real_out: dict, fake_out: dict,
                    consistency_weight: float, all_ones_masks: str = "leave_out",
                    pixel_weighting: str = "mean") -> dict:
    """Discriminator terms on a mixed image x_mix = M x + (1 - M) G (CutMix or PriorityCut):

        disc_mix_encoder = BCE(D_enc(x_mix), 0)                   a mixed image is not real
        disc_mix_decoder = BCE(D_dec(x_mix), M)                   real where M = 1, fake where M = 0
                           (pixel_weighting "mean": over all pixels, U-Net GAN; "balanced":
                           ``balanced_bce``, real and generated pixels half each)
        consistency      = consistency_weight * mean( D_dec(x_mix) - [M D_dec(x) + (1 - M) D_dec(G)] )^2
    mask: (B, 1, H, W); *_out: UNetDiscriminator outputs for the mixed, real and fake images.

    A sample whose mask is all ones (PriorityCut with an empty foreground or k = 0) mixes in
    nothing: its "mixed" image is the real one. all_ones_masks="leave_out" (default) leaves such
    samples out of all three terms (an all-ones batch gives 0); "fake" keeps them, so their
    encoder target is "fake" although the image is real (regularizer.all_ones_masks).
    """
    mixed_pixels = mixed_out["pixel_logits"]
    if mask.shape != mixed_pixels.shape:
        raise ValueError(f"mask {tuple(mask.shape)} must match the pixel logits {tuple(mixed_pixels.shape)}")
    if all_ones_masks not in ("leave_out", "fake"):
        raise ValueError(f"all_ones_masks must be 'leave_out' or 'fake', got {all_ones_masks!r}")
    if pixel_weighting not in ("mean", "balanced"):
        raise ValueError(f"pixel_weighting must be 'mean' or 'balanced', got {pixel_weighting!r}")
    keep = (mask < 1).flatten(1).any(1)                                   # (B,) something was mixed in
    if all_ones_masks == "fake":
        keep = torch.ones_like(keep)
    if not bool(keep.any()):
        zero = mixed_pixels.sum() * 0.0                                   # keeps the graph, adds nothing
        return {"disc_mix_encoder": zero, "disc_mix_decoder": zero, "consistency": zero}
    if not bool(keep.all()):
        mask, mixed_pixels = mask[keep], mixed_pixels[keep]
        mixed_out = {"logit": mixed_out["logit"][keep]}
        real_out = {"pixel_logits": real_out["pixel_logits"][keep]}
        fake_out = {"pixel_logits": fake_out["pixel_logits"][keep]}
    return {
        "disc_mix_encoder": _bce(mixed_out["logit"], 0),
        "disc_mix_decoder": balanced_bce(mixed_pixels, mask) if pixel_weighting == "balanced"
        else _bce(mixed_pixels, mask),
        "consistency": consistency_weight * consistency_loss(
            mixed_pixels, real_out["pixel_logits"], fake_out["pixel_logits"], mask),
    }
