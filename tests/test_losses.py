"""Losses: VGG19 weight loading, perceptual/pixel pyramids, equivariance, LSGAN, U-Net BCE."""
import math
import urllib.error

import pytest
import torch
from torch import nn

from pcutlib.models.warping import ImagePyramid, RandomTPS
from pcutlib.prioritycut import consistency_loss
from pcutlib.training import losses
from pcutlib.training.losses import (PerceptualPyramidLoss, PixelPyramidLoss, VGG19Features, equivariance_losses,
                                     feature_matching_loss, keypoint_separation_loss, load_vgg19_weights, lsgan_discriminator_loss,
                                     lsgan_generator_loss, unet_discriminator_loss, unet_feature_matching_loss,
                                     unet_generator_loss, unet_mixed_loss, unet_plain_loss_factor)

# ----------------------------------------------------------------------------- VGG19 weights

CONV_INDICES = [0, 2, 5, 7, 10, 12, 14, 16, 19, 21, 23, 25, 28]  # convs of features[0:30]


@pytest.fixture(scope="module")
def fake_vgg19_file(tmp_path_factory):
    """A state dict in torchvision's vgg19 layout (random values, ~50 MB), plus keys we ignore."""
    model = VGG19Features()
    generator = torch.Generator().manual_seed(0)
    state = {f"features.{key}": torch.randn(value.shape, generator=generator)
             for key, value in model.features.state_dict().items()}
    state["features.30.weight"] = torch.zeros(2, 2)   # past relu5_1: ignored
    state["classifier.0.weight"] = torch.zeros(3, 3)  # classifier: ignored
    path = tmp_path_factory.mktemp("vgg") / losses.VGG19_FILE_NAME
    torch.save(state, path)
    return path, state


@pytest.fixture
def no_weights_anywhere(monkeypatch, tmp_path):
    """No env var, an empty hub dir in tmp_path and a download that fails as offline."""
    monkeypatch.delenv(losses.VGG19_ENV_VAR, raising=False)
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))

    def offline(*args, **kwargs):
        raise urllib.error.URLError("no network")
    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", offline)
    return tmp_path / "hub" / "checkpoints" / losses.VGG19_FILE_NAME


def test_vgg19_layout_matches_torchvision_numbering():
    model = VGG19Features()
    convs = [i for i, layer in enumerate(model.features) if isinstance(layer, nn.Conv2d)]
    pools = [i for i, layer in enumerate(model.features) if isinstance(layer, nn.MaxPool2d)]
    assert convs == CONV_INDICES and pools == [4, 9, 18, 27] and len(model.features) == 30
    outputs = model(torch.rand(1, 3, 32, 32))
    assert [tuple(o.shape[1:]) for o in outputs] == [(64, 32, 32), (128, 16, 16), (256, 8, 8),
                                                     (512, 4, 4), (512, 2, 2)]
    assert all(o.min() >= 0 for o in outputs)  # every slice ends on a ReLU


def test_load_vgg19_weights_from_a_local_file(fake_vgg19_file):
    path, state = fake_vgg19_file
    model = load_vgg19_weights(VGG19Features(), path)
    for index in CONV_INDICES:
        assert torch.equal(model.features[index].weight, state[f"features.{index}.weight"])
        assert torch.equal(model.features[index].bias, state[f"features.{index}.bias"])
    assert not any(p.requires_grad for p in model.parameters())


def test_weights_found_through_env_var_and_hub_cache(fake_vgg19_file, no_weights_anywhere, monkeypatch):
    path, state = fake_vgg19_file
    monkeypatch.setenv(losses.VGG19_ENV_VAR, str(path))
    loss = PerceptualPyramidLoss(scales=(1,), weights="imagenet")
    assert loss.is_paper_loss
    assert torch.equal(loss.vgg.features[28].weight, state["features.28.weight"])

    monkeypatch.delenv(losses.VGG19_ENV_VAR)
    cache = no_weights_anywhere
    cache.parent.mkdir(parents=True)
    cache.symlink_to(path)
    model = load_vgg19_weights(VGG19Features())
    assert torch.equal(model.features[0].weight, state["features.0.weight"])


def test_offline_without_file_says_where_to_put_it(no_weights_anywhere):
    with pytest.raises(RuntimeError) as error:
        load_vgg19_weights(VGG19Features())
    message = str(error.value)
    assert str(no_weights_anywhere) in message and losses.VGG19_ENV_VAR in message
    assert "URLError" in message


def test_wrong_keys_or_shapes_are_named(tmp_path):
    wrong = tmp_path / "wrong.pth"
    torch.save({"conv1.weight": torch.zeros(64, 3, 3, 3)}, wrong)
    with pytest.raises(ValueError, match="'features.0.weight'"):
        load_vgg19_weights(VGG19Features(), wrong)
    torch.save({"features.0.weight": torch.zeros(64, 1, 3, 3)}, wrong)
    with pytest.raises(ValueError, match=r"\(64, 1, 3, 3\)"):
        load_vgg19_weights(VGG19Features(), wrong)
    with pytest.raises(FileNotFoundError, match="missing.pth"):
        load_vgg19_weights(VGG19Features(), tmp_path / "missing.pth")


def test_random_weights_warn_and_are_marked():
    with pytest.warns(UserWarning, match="NOT the paper"):
        loss = PerceptualPyramidLoss(scales=(1,), weights="random")
    assert loss.is_paper_loss is False


# ----------------------------------------------------------------------------- reconstruction losses

@pytest.fixture(scope="module")
def random_perceptual():
    torch.manual_seed(0)
    with pytest.warns(UserWarning):
        return PerceptualPyramidLoss(scales=(1, 0.5), layer_weights=(1, 2, 3, 4, 5), weights="random")


def test_perceptual_loss_value_and_gradients(random_perceptual):
    loss_fn = random_perceptual
    generator = torch.Generator().manual_seed(1)
    real = torch.rand(1, 3, 32, 32, generator=generator)
    generated = torch.rand(1, 3, 32, 32, generator=generator, requires_grad=True)
    value = loss_fn(generated, real)

    pyramid = ImagePyramid((1, 0.5), 3)
    expected = 0
    with torch.no_grad():
        for key in ("prediction_1", "prediction_0.5"):
            features = zip((1, 2, 3, 4, 5), loss_fn.vgg(pyramid(generated)[key]), loss_fn.vgg(pyramid(real)[key]))
            for weight, a, b in features:
                expected = expected + weight * (a - b).abs().mean()
    assert value.item() == pytest.approx(expected.item(), rel=1e-5) and value.item() > 0
    value.backward()
    assert generated.grad.abs().sum() > 0
    assert all(p.grad is None for p in loss_fn.parameters())
    with torch.no_grad():
        assert loss_fn(real, real).item() == 0
    assert not loss_fn.train().vgg.training


def test_pixel_pyramid_loss_by_hand():
    loss_fn = PixelPyramidLoss(scales=(1,), weight=2.0)
    real = torch.zeros(1, 3, 4, 4)
    generated = torch.full((1, 3, 4, 4), 0.25)
    assert loss_fn(generated, real).item() == pytest.approx(0.5)
    generated = torch.rand(2, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    pyramid = ImagePyramid((1, 0.5), 3)(generated)
    expected = generated.abs().mean() + pyramid["prediction_0.5"].abs().mean()
    value = PixelPyramidLoss(scales=(1, 0.5), weight=1.0)(generated, torch.zeros_like(generated))
    assert value.item() == pytest.approx(expected.item(), rel=1e-6)


def test_pixel_pyramid_moving_weight_by_hand():
    """moving_weight m: each pixel's error weighs weight + m |real - source| (the pyramid of the change at
    coarser scales); 0 is the plain loss, and the source is then not read."""
    real, source = torch.zeros(1, 3, 4, 4), torch.zeros(1, 3, 4, 4)
    source[..., 0, :] = 0.5                                          # the top row moved: change 0.5
    generated = torch.full((1, 3, 4, 4), 0.25)
    loss_fn = PixelPyramidLoss(scales=(1,), weight=2.0, moving_weight=4.0)
    # 0.25 x (2 + 4 x 0.5) on the top row (a quarter of the pixels), 0.25 x 2 elsewhere
    assert loss_fn(generated, real, source).item() == pytest.approx(0.25 * (0.25 * 4 + 0.75 * 2))
    assert loss_fn(generated, real, real).item() == pytest.approx(PixelPyramidLoss((1,), 2.0)(generated, real).item())
    generated = torch.rand(2, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    source = torch.rand(2, 3, 8, 8, generator=torch.Generator().manual_seed(1))
    pyramid = ImagePyramid((1, 0.5), 3)
    change, error = pyramid(source), pyramid(generated)
    expected = sum((error[k].abs() * (1 + 3 * change[k])).mean() for k in ("prediction_1", "prediction_0.5"))
    value = PixelPyramidLoss((1, 0.5), 1.0, moving_weight=3.0)(generated, torch.zeros_like(generated), source)
    assert value.item() == pytest.approx(expected.item(), rel=1e-6)
    plain = PixelPyramidLoss((1, 0.5), 2.0)(generated, source)
    assert torch.equal(PixelPyramidLoss((1, 0.5), 2.0, moving_weight=0)(generated, source, None), plain)
    with pytest.raises(ValueError, match="moving_weight 3.0 weighs pixels by .*pass the source frame"):
        PixelPyramidLoss((1,), 1.0, moving_weight=3.0)(generated, generated)
    with pytest.raises(ValueError, match=r"source \(1, 3, 8, 8\) and real \(2, 3, 8, 8\): expected the same shape"):
        PixelPyramidLoss((1,), 1.0, moving_weight=3.0)(generated, generated, source[:1])
    with pytest.raises(ValueError, match="moving_weight -1: expected 0"):
        PixelPyramidLoss((1,), 1.0, moving_weight=-1)


# ----------------------------------------------------------------------------- equivariance

class CentroidDetector(nn.Module):
    """Keypoint = intensity-weighted centroid of each channel; identity jacobians."""

    def forward(self, image):
        batch, channels, height, width = image.shape
        ys = torch.linspace(-1, 1, height).view(1, 1, height, 1)
        xs = torch.linspace(-1, 1, width).view(1, 1, 1, width)
        weights = image / image.sum(dim=(2, 3), keepdim=True)
        value = torch.stack([(weights * xs).sum((2, 3)), (weights * ys).sum((2, 3))], dim=-1)  # (B, C, 2)
        return {"value": value, "jacobian": torch.eye(2).expand(batch, channels, 2, 2).clone()}


class FixedDetector(nn.Module):
    def __init__(self, kp):
        super().__init__()
        self.kp = kp

    def forward(self, image):
        return self.kp


TPS = {"sigma_affine": 0.05, "sigma_tps": 0.005, "points_tps": 5}


def test_equivariance_is_zero_under_the_identity_warp():
    detector = CentroidDetector()
    driving = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    identity = {"sigma_affine": 0.0, "sigma_tps": 0.0, "points_tps": 5}
    values, visuals = equivariance_losses(detector, driving, detector(driving), identity, 10, 10)
    assert values["equivariance_value"].item() < 1e-6
    assert values["equivariance_jacobian"].item() < 1e-6
    assert torch.allclose(visuals["transformed_frame"], driving, atol=1e-5)


def test_equivariance_is_zero_for_consistent_keypoints_and_positive_otherwise():
    """Build kp_driving = T(p_t), J = dT(p_t) J_t with the same seeded T: both losses vanish."""
    kp_t = {"value": torch.tensor([[[0.1, -0.2], [0.5, 0.3]]]).repeat(2, 1, 1),
            "jacobian": torch.tensor([[1.0, 0.2], [-0.1, 0.9]]).expand(2, 2, 2, 2).clone()}
    driving = torch.rand(2, 3, 16, 16)
    transform = RandomTPS.random(2, **TPS, generator=torch.Generator().manual_seed(5))
    kp_driving = {"value": transform.warp_coordinates(kp_t["value"]),
                  "jacobian": transform.jacobian(kp_t["value"]) @ kp_t["jacobian"]}
    kp_driving = {key: value.detach() for key, value in kp_driving.items()}
    values, _ = equivariance_losses(FixedDetector(kp_t), driving, kp_driving, TPS, 10, 10,
                                    generator=torch.Generator().manual_seed(5))
    assert values["equivariance_value"].item() < 1e-6
    assert values["equivariance_jacobian"].item() < 1e-5

    # The same fixed keypoints without the warp's correction are penalised.
    values, _ = equivariance_losses(FixedDetector(kp_t), driving, kp_t, TPS, 10, 10,
                                    generator=torch.Generator().manual_seed(5))
    expected = 10 * (kp_t["value"] - transform.warp_coordinates(kp_t["value"])).abs().mean()
    assert values["equivariance_value"].item() == pytest.approx(expected.item(), rel=1e-5)
    assert values["equivariance_value"].item() > 1e-3 and values["equivariance_jacobian"].item() > 1e-3


def test_equivariance_skips_missing_jacobians_and_zero_weights():
    kp = {"value": torch.zeros(2, 3, 2)}
    driving = torch.rand(2, 3, 16, 16)
    values, visuals = equivariance_losses(FixedDetector(kp), driving, kp, TPS, 10, 10)
    assert set(values) == {"equivariance_value"} and visuals["transformed_frame"].shape == driving.shape
    values, _ = equivariance_losses(CentroidDetector(), driving, CentroidDetector()(driving), TPS, 0, 10)
    assert set(values) == {"equivariance_jacobian"}


def test_equivariance_gradient_reaches_the_detector():
    class LearnableOffset(CentroidDetector):
        def __init__(self):
            super().__init__()
            self.offset = nn.Parameter(torch.zeros(2))

        def forward(self, image):
            kp = super().forward(image)
            return {"value": kp["value"] + self.offset, "jacobian": kp["jacobian"]}
    detector = LearnableOffset()
    driving = torch.rand(2, 3, 16, 16)
    values, _ = equivariance_losses(detector, driving, detector(driving), TPS, 10, 10,
                                    generator=torch.Generator().manual_seed(0))
    sum(values.values()).backward()
    assert detector.offset.grad is not None and detector.offset.grad.abs().sum() > 0


# ----------------------------------------------------------------------------- LSGAN, feature matching

def test_lsgan_losses_by_hand():
    real = {"prediction_map_1": torch.tensor([1.0, 0.5]), "prediction_map_0.5": torch.tensor([0.0])}
    fake = {"prediction_map_1": torch.tensor([0.0, 0.5]), "prediction_map_0.5": torch.tensor([1.0])}
    # scale 1: mean([(0 + 0), (0.25 + 0.25)]) = 0.25; scale 0.5: 1 + 1 = 2
    assert lsgan_discriminator_loss(real, fake, [1, 0.5], 2.0)["disc_gan"].item() == pytest.approx(2 * 2.25)
    # scale 1: mean([1, 0.25]) = 0.625; scale 0.5: 0
    assert lsgan_generator_loss(fake, [1, 0.5], 3.0)["gen_gan"].item() == pytest.approx(3 * 0.625)
    assert lsgan_generator_loss(fake, [1], 1.0)["gen_gan"].item() == pytest.approx(0.625)


def test_feature_matching_by_hand():
    real = {"feature_maps_1": [torch.zeros(2), torch.ones(3), torch.ones(1)]}
    fake = {"feature_maps_1": [torch.full((2,), 0.5), torch.zeros(3), torch.full((1,), 9.0)]}
    # 10 * 0.5 + 2 * 1 + 0 * 8 (zero weight skipped)
    value = feature_matching_loss(real, fake, [1], [10, 2, 0])["feature_matching"]
    assert value.item() == pytest.approx(7.0)
    with pytest.raises(ValueError, match="2 weights"):
        feature_matching_loss(real, fake, [1], [10, 2])



def test_unet_feature_matching_is_zero_for_identical_images_and_positive_otherwise():
    from pcutlib.models.unet_discriminator import UNetDiscriminator

    torch.manual_seed(0)
    # eval: spectral norm's power iteration would move the weights between the two forwards
    unet = UNetDiscriminator(block_expansion=4, max_features=16, num_blocks=3, image_size=32).eval()
    real, other = torch.rand(2, 3, 32, 32), torch.rand(2, 3, 32, 32)
    fake = real.clone().requires_grad_(True)
    same = unet_feature_matching_loss(unet(real)["features"], unet(fake)["features"], [10, 10, 10])
    assert same["feature_matching"].item() == 0.0
    weights = [10, 2, 0]
    real_features, other_features = unet(real)["features"], unet(other)["features"]
    value = unet_feature_matching_loss(real_features, other_features, weights)["feature_matching"]
    by_hand = sum(w * (a - b).abs().mean() for w, a, b in zip(weights, real_features, other_features))
    assert value.item() > 0 and value.item() == pytest.approx(by_hand.item(), rel=1e-6)
    # the gradient reaches the generated image, never the real one (its features are detached)
    moved = unet_feature_matching_loss(unet(real)["features"], unet(fake + 0.1)["features"], weights)
    moved["feature_matching"].backward()
    assert fake.grad is not None and fake.grad.abs().sum() > 0
    with pytest.raises(ValueError, match=r"2 weights \[10, 2\].*3 real"):
        unet_feature_matching_loss(real_features, other_features, [10, 2])

# ----------------------------------------------------------------------------- U-Net BCE losses

def softplus(x):
    return math.log1p(math.exp(x))  # BCE(l, 1) = softplus(-l), BCE(l, 0) = softplus(l)


def test_unet_discriminator_and_generator_losses_by_hand():
    real = {"logit": torch.tensor([2.0, 0.0]), "pixel_logits": torch.tensor([1.0, -1.0, 0.0, 3.0]).view(1, 1, 2, 2)}
    fake = {"logit": torch.tensor([-1.0, 1.0]), "pixel_logits": torch.tensor([0.0, 0.0, 2.0, -2.0]).view(1, 1, 2, 2)}
    out = unet_discriminator_loss(real, fake)
    encoder = (softplus(-2) + softplus(0)) / 2 + (softplus(-1) + softplus(1)) / 2
    decoder = (softplus(-1) + softplus(1) + softplus(0) + softplus(-3)) / 4 \
        + (softplus(0) + softplus(0) + softplus(2) + softplus(-2)) / 4
    assert out["disc_unet_encoder"].item() == pytest.approx(encoder, rel=1e-6)
    assert out["disc_unet_decoder"].item() == pytest.approx(decoder, rel=1e-6)

    out = unet_generator_loss(fake, weight=0.5)
    assert out["gen_unet_encoder"].item() == pytest.approx(0.5 * (softplus(1) + softplus(-1)) / 2, rel=1e-6)
    assert out["gen_unet_decoder"].item() == pytest.approx(
        0.5 * (softplus(0) + softplus(0) + softplus(-2) + softplus(2)) / 4, rel=1e-6)


def test_the_plain_decoder_fake_term_can_be_left_out():
    real = {"logit": torch.tensor([1.0]), "pixel_logits": torch.tensor([2.0, -1.0]).view(1, 1, 1, 2)}
    fake = {"logit": torch.tensor([-1.0]), "pixel_logits": torch.tensor([0.5, 3.0]).view(1, 1, 1, 2)}
    without = unet_discriminator_loss(real, fake, weight=2.0, decoder="real")
    assert without["disc_unet_decoder"].item() == pytest.approx(2.0 * (softplus(-2) + softplus(1)) / 2, rel=1e-6)
    assert without["disc_unet_encoder"].item() == unet_discriminator_loss(real, fake, weight=2.0)["disc_unet_encoder"].item()
    assert set(unet_discriminator_loss(real, fake, decoder="none")) == {"disc_unet_encoder"}
    with pytest.raises(ValueError, match="'half'"):
        unet_discriminator_loss(real, fake, decoder="half")


def test_unet_mixed_loss_by_hand():
    mask = torch.tensor([1.0, 0.0]).view(1, 1, 1, 2)
    mixed = {"logit": torch.tensor([0.5]), "pixel_logits": torch.tensor([2.0, 1.0]).view(1, 1, 1, 2)}
    real = {"logit": torch.tensor([0.0]), "pixel_logits": torch.tensor([1.0, 5.0]).view(1, 1, 1, 2)}
    fake = {"logit": torch.tensor([0.0]), "pixel_logits": torch.tensor([7.0, -1.0]).view(1, 1, 1, 2)}
    out = unet_mixed_loss(mixed, mask, real, fake, consistency_weight=3.0)
    assert out["disc_mix_encoder"].item() == pytest.approx(softplus(0.5), rel=1e-6)
    # pixel 0 should be real (M = 1), pixel 1 fake (M = 0)
    assert out["disc_mix_decoder"].item() == pytest.approx((softplus(-2) + softplus(1)) / 2, rel=1e-6)
    # target = [real_0, fake_1] = [1, -1]; squared errors 1 and 4
    assert out["consistency"].item() == pytest.approx(3.0 * 2.5)
    assert out["consistency"].item() == pytest.approx(
        3.0 * consistency_loss(mixed["pixel_logits"], real["pixel_logits"], fake["pixel_logits"], mask).item())
    with pytest.raises(ValueError, match=r"\(1, 1, 2, 1\)"):
        unet_mixed_loss(mixed, mask.view(1, 1, 2, 1), real, fake, 1.0)


def test_unet_mixed_loss_leaves_out_samples_that_mixed_nothing():
    mask = torch.stack([torch.tensor([1.0, 0.0]), torch.ones(2)]).view(2, 1, 1, 2)   # sample 1: all real
    mixed = {"logit": torch.tensor([0.5, -3.0]), "pixel_logits": torch.tensor([2.0, 1.0, 9.0, 9.0]).view(2, 1, 1, 2)}
    real = {"logit": torch.zeros(2), "pixel_logits": torch.tensor([1.0, 5.0, 0.0, 0.0]).view(2, 1, 1, 2)}
    fake = {"logit": torch.zeros(2), "pixel_logits": torch.tensor([7.0, -1.0, 0.0, 0.0]).view(2, 1, 1, 2)}
    both = unet_mixed_loss(mixed, mask, real, fake, consistency_weight=3.0)
    first = unet_mixed_loss({k: v[:1] for k, v in mixed.items()}, mask[:1], {k: v[:1] for k, v in real.items()},
                            {k: v[:1] for k, v in fake.items()}, consistency_weight=3.0)
    for name in both:
        assert both[name].item() == pytest.approx(first[name].item(), rel=1e-6), name
    nothing = unet_mixed_loss(mixed, torch.ones_like(mask), real, fake, consistency_weight=3.0)
    assert all(value.item() == 0.0 for value in nothing.values())


def test_balanced_pixel_weighting_gives_the_generated_pixels_half_of_each_image():
    # image 0: 1 generated pixel of 4; image 1: all real (only "fake" all-ones masks keep it)
    mask = torch.tensor([[1.0, 1.0, 1.0, 0.0], [1.0, 1.0, 1.0, 1.0]]).view(2, 1, 1, 4)
    logits = torch.tensor([[2.0, 0.0, -1.0, 3.0], [1.0, -2.0, 0.0, 4.0]]).view(2, 1, 1, 4)
    image_0 = 0.5 * (softplus(-2) + softplus(0) + softplus(1)) / 3 + 0.5 * softplus(3)
    image_1 = (softplus(-1) + softplus(2) + softplus(0) + softplus(-4)) / 4
    assert losses.balanced_bce(logits, mask).item() == pytest.approx((image_0 + image_1) / 2, rel=1e-6)
    # equal halves: the same as the plain mean over pixels
    half = torch.tensor([1.0, 0.0, 1.0, 0.0]).view(1, 1, 1, 4)
    assert losses.balanced_bce(logits[:1], half).item() == pytest.approx(
        torch.nn.functional.binary_cross_entropy_with_logits(logits[:1], half).item(), rel=1e-6)
    # a decoder that says "real" everywhere no longer reaches the base rate's loss: 1 fake pixel in 100
    sparse = torch.ones(1, 1, 10, 10)
    sparse[..., 0, 0] = 0
    everywhere_real = torch.full_like(sparse, math.log(99))           # sigmoid = 0.99, the base rate
    plain = torch.nn.functional.binary_cross_entropy_with_logits(everywhere_real, sparse).item()
    assert plain == pytest.approx(-(0.99 * math.log(0.99) + 0.01 * math.log(0.01)), rel=1e-5)
    assert losses.balanced_bce(everywhere_real, sparse).item() == pytest.approx(
        0.5 * -math.log(0.99) + 0.5 * -math.log(0.01), rel=1e-5)


def test_unet_mixed_loss_balanced_weighting_changes_only_the_decoder_term():
    mask = torch.tensor([1.0, 1.0, 1.0, 0.0]).view(1, 1, 1, 4)
    mixed = {"logit": torch.tensor([0.5]), "pixel_logits": torch.tensor([2.0, 0.0, -1.0, 3.0]).view(1, 1, 1, 4)}
    real = {"logit": torch.zeros(1), "pixel_logits": torch.ones(1, 1, 1, 4)}
    fake = {"logit": torch.zeros(1), "pixel_logits": -torch.ones(1, 1, 1, 4)}
    mean = unet_mixed_loss(mixed, mask, real, fake, consistency_weight=1.0)
    balanced = unet_mixed_loss(mixed, mask, real, fake, consistency_weight=1.0, pixel_weighting="balanced")
    assert balanced["disc_mix_decoder"].item() == pytest.approx(
        0.5 * (softplus(-2) + softplus(0) + softplus(1)) / 3 + 0.5 * softplus(3), rel=1e-6)
    for name in ("disc_mix_encoder", "consistency"):
        assert balanced[name].item() == mean[name].item()
    with pytest.raises(ValueError, match="'weighted'"):
        unet_mixed_loss(mixed, mask, real, fake, 1.0, pixel_weighting="weighted")


def test_all_ones_masks_trained_as_fake_keep_every_sample():
    mask = torch.stack([torch.tensor([1.0, 0.0]), torch.ones(2)]).view(2, 1, 1, 2)   # sample 1: all real
    mixed = {"logit": torch.tensor([0.5, -3.0]), "pixel_logits": torch.tensor([2.0, 1.0, 9.0, 9.0]).view(2, 1, 1, 2)}
    real = {"logit": torch.zeros(2), "pixel_logits": torch.tensor([1.0, 5.0, 0.0, 0.0]).view(2, 1, 1, 2)}
    fake = {"logit": torch.zeros(2), "pixel_logits": torch.tensor([7.0, -1.0, 0.0, 0.0]).view(2, 1, 1, 2)}
    as_fake = unet_mixed_loss(mixed, mask, real, fake, consistency_weight=1.0, all_ones_masks="fake")
    # both samples count: the all-real one is told "fake" by the encoder, "real" by the decoder
    assert as_fake["disc_mix_encoder"].item() == pytest.approx((softplus(0.5) + softplus(-3.0)) / 2, rel=1e-6)
    assert as_fake["disc_mix_decoder"].item() == pytest.approx(
        (softplus(-2) + softplus(1) + softplus(-9) + softplus(-9)) / 4, rel=1e-6)
    left_out = unet_mixed_loss(mixed, mask, real, fake, consistency_weight=1.0)
    assert left_out["disc_mix_encoder"].item() == pytest.approx(softplus(0.5), rel=1e-6)
    with pytest.raises(ValueError, match="'real'"):
        unet_mixed_loss(mixed, mask, real, fake, 1.0, all_ones_masks="real")


def test_plain_loss_factor_of_pcut_and_of_unet_gan():
    assert [unet_plain_loss_factor("sum", mixed) for mixed in (False, True)] == [1.0, 1.0]
    assert [unet_plain_loss_factor("unetgan", mixed) for mixed in (False, True)] == [0.5, 0.0]
    with pytest.raises(ValueError, match="'half'"):
        unet_plain_loss_factor("half", False)


# ----------------------------------------------------------------------------- keypoint separation

def test_keypoint_separation_by_hand_and_its_gradient_pushes_keypoints_apart():
    # three keypoints: two 0.1 apart, the third far; sigma 0.1, weight 2
    keypoints = torch.tensor([[[0.0, 0.0], [0.1, 0.0], [0.9, 0.9]]], requires_grad=True)
    loss = keypoint_separation_loss(keypoints, sigma=0.1, weight=2.0)["keypoint_separation"]
    near = math.exp(-0.01 / 0.02)                                      # the close pair's kernel
    far_a, far_b = math.exp(-(0.81 + 0.81) / 0.02), math.exp(-(0.64 + 0.81) / 0.02)
    expected = 2.0 * 2 * (near + far_a + far_b) / 6                    # 6 ordered pairs
    assert float(loss.detach()) == pytest.approx(expected, rel=1e-5)
    loss.backward()
    assert keypoints.grad[0, 0, 0] > 0 > keypoints.grad[0, 1, 0]       # descending moves them apart
    assert abs(float(keypoints.grad[0, 2].abs().sum())) < 1e-6 * abs(float(keypoints.grad[0, 0, 0]))
    # a batch is the mean of its frames; weight 0 leaves the term out; bad shapes name themselves
    pair = torch.stack([keypoints.detach()[0], keypoints.detach()[0] * 5])
    per_frame = [float(keypoint_separation_loss(pair[i:i + 1], 0.1, 1.0)["keypoint_separation"]) for i in range(2)]
    assert float(keypoint_separation_loss(pair, 0.1, 1.0)["keypoint_separation"]) == pytest.approx(sum(per_frame) / 2)
    assert keypoint_separation_loss(pair, 0.1, 0.0) == {}
    with pytest.raises(ValueError, match=r"\(B, K, 2\) with K >= 2, got \(1, 1, 2\)"):
        keypoint_separation_loss(torch.zeros(1, 1, 2), 0.1, 1.0)
    with pytest.raises(ValueError, match="sigma must be positive, got 0"):
        keypoint_separation_loss(pair, 0, 1.0)
