"""U-Net discriminator: output contract, sizes, gradients, errors."""
import pytest
import torch

from pcutlib.models.unet_discriminator import UNetDiscriminator


@pytest.mark.parametrize("size,block_expansion,max_features", [(64, 8, 32), (128, 4, 16), (256, 2, 8)])
def test_output_shapes(size, block_expansion, max_features):
    torch.manual_seed(0)
    unet = UNetDiscriminator(block_expansion=block_expansion, max_features=max_features, image_size=size)
    assert unet.num_blocks == {64: 4, 128: 5, 256: 6}[size]  # derived: 4x4 bottleneck
    out = unet(torch.rand(2, 3, size, size))
    assert out["logit"].shape == (2,)
    assert out["pixel_logits"].shape == (2, 1, size, size)
    assert len(out["features"]) == unet.num_blocks
    for i, feature in enumerate(out["features"]):
        channels = min(block_expansion * 2 ** i, max_features)
        assert feature.shape == (2, channels, size // 2 ** (i + 1), size // 2 ** (i + 1))


def test_gradients_reach_every_parameter_and_the_image():
    torch.manual_seed(0)
    unet = UNetDiscriminator(num_channels=1, block_expansion=4, max_features=16, num_blocks=3,
                             image_size=32, spectral_norm=False)
    image = torch.rand(2, 1, 16, 24, requires_grad=True)  # non-square, divisible by 2**3
    out = unet(image)
    (out["logit"].sum() + out["pixel_logits"].sum()).backward()
    assert image.grad is not None and image.grad.abs().sum() > 0
    for name, parameter in unet.named_parameters():
        assert parameter.grad is not None and parameter.grad.abs().sum() > 0, name


def test_pixel_logits_depend_on_the_pixel_neighbourhood():
    """Changing one corner must change the pixel logits there more than far away."""
    torch.manual_seed(0)
    unet = UNetDiscriminator(block_expansion=4, max_features=16, num_blocks=2, image_size=32).eval()
    image = torch.rand(1, 3, 32, 32)
    changed = image.clone()
    changed[..., :4, :4] = 1 - changed[..., :4, :4]
    with torch.no_grad():
        difference = (unet(image)["pixel_logits"] - unet(changed)["pixel_logits"]).abs()[0, 0]
    assert difference[:4, :4].mean() > 1e-4
    assert difference[-4:, -4:].max() < 1e-3 * difference[:4, :4].mean()


def test_outputs_vary_with_the_image_at_initialisation():
    for seed in range(3):
        torch.manual_seed(seed)
        unet = UNetDiscriminator(block_expansion=4, max_features=8, num_blocks=2, image_size=16).eval()
        with torch.no_grad():
            out = unet(torch.rand(2, 3, 16, 16))
        assert out["pixel_logits"].std() > 1e-4 and (out["logit"][0] - out["logit"][1]).abs() > 1e-6


def test_spectral_norm_is_applied():
    unet = UNetDiscriminator(block_expansion=4, max_features=8, image_size=16)
    assert any("parametrizations" in name for name, _ in unet.named_parameters())
    plain = UNetDiscriminator(block_expansion=4, max_features=8, image_size=16, spectral_norm=False)
    assert not any("parametrizations" in name for name, _ in plain.named_parameters())


def test_errors_name_the_bad_value():
    with pytest.raises(ValueError, match="100"):
        UNetDiscriminator(image_size=100)                       # cannot derive num_blocks
    with pytest.raises(ValueError, match="48"):
        UNetDiscriminator(image_size=48, num_blocks=5)          # 48 % 32 != 0
    unet = UNetDiscriminator(block_expansion=4, max_features=8, num_blocks=3, image_size=32)
    with pytest.raises(ValueError, match=r"\(36, 32\)"):
        unet(torch.rand(1, 3, 36, 32))
    with pytest.raises(ValueError, match=r"\(1, 4, 32, 32\)"):
        unet(torch.rand(1, 4, 32, 32))
    with pytest.raises(ValueError, match="num_channels"):
        UNetDiscriminator(num_channels=0)
