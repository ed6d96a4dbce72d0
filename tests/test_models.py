"""Model core: shapes for other configurations, gradients, bad input, checkpoint round trips."""
import copy

import numpy as np
import pytest
import torch

from pcutlib.checkpoints.files import load_models, save_models
from pcutlib.checkpoints.fomm import load_fomm_checkpoint
from pcutlib.coordinates import keypoints_to_pixels, pixels_to_keypoints
from pcutlib.models.build import build_models
from pcutlib.models.warping import ImagePyramid, make_coordinate_grid

SMALL = {
    "common_params": {"num_kp": 4, "num_channels": 3, "estimate_jacobian": True},
    "kp_detector_params": {"temperature": 0.1, "block_expansion": 8, "max_features": 32,
                           "scale_factor": 0.5, "num_blocks": 3},
    "generator_params": {"block_expansion": 8, "max_features": 32, "num_down_blocks": 2,
                         "num_bottleneck_blocks": 1, "estimate_occlusion_map": True,
                         "dense_motion_params": {"block_expansion": 8, "max_features": 32,
                                                 "num_blocks": 3, "scale_factor": 0.5}},
    "discriminator_params": {"scales": [1, 0.5], "block_expansion": 8, "max_features": 32,
                             "num_blocks": 3, "sn": True, "use_kp": True},
}


def small_params(**common):
    params = copy.deepcopy(SMALL)
    params["common_params"].update(common)
    return params


@pytest.mark.parametrize("estimate_jacobian", [True, False])
def test_shapes_and_keys(estimate_jacobian):
    models = build_models(small_params(estimate_jacobian=estimate_jacobian))
    source, driving = torch.rand(2, 3, 64, 64), torch.rand(2, 3, 64, 64)
    kp_source, kp_driving = models.kp_detector(source), models.kp_detector(driving)
    assert kp_source["value"].shape == (2, 4, 2)
    assert ("jacobian" in kp_source) == estimate_jacobian
    out = models.generator(source, kp_driving=kp_driving, kp_source=kp_source)
    assert out["prediction"].shape == (2, 3, 64, 64)
    assert out["occlusion_map"].shape == (2, 1, 32, 32)
    assert out["region_mask"].shape == (2, 5, 32, 32)
    assert out["deformation"].shape == (2, 32, 32, 2)
    assert out["deformed"].shape == (2, 3, 64, 64)
    assert out["sparse_deformed"].shape == (2, 5, 3, 32, 32)
    torch.testing.assert_close(out["region_mask"].sum(1), torch.ones(2, 32, 32))
    pyramid = ImagePyramid([1, 0.5])(driving)
    d = models.discriminator(pyramid, kp=kp_driving)
    assert set(d) == {"feature_maps_1", "prediction_map_1", "feature_maps_0.5", "prediction_map_0.5"}


def test_identity_motion_reproduces_source():
    """Equal source and driving keypoints: every sparse motion and the dense flow are the identity."""
    models = build_models(small_params()).eval()
    source = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        kp = models.kp_detector(source)
        out = models.generator(source, kp_driving=kp, kp_source=kp)
        small_source = models.generator.dense_motion_network.down(source)
    torch.testing.assert_close(out["deformation"][0], make_coordinate_grid(32, 32), atol=1e-5, rtol=0)
    for k in range(5):
        torch.testing.assert_close(out["sparse_deformed"][0, k], small_source[0], atol=1e-5, rtol=0)


def test_fomms_resize_zooms_an_identity_flow_by_up_to_049_px():
    """warping.resize_bilinear from 32 to 64 pixels: FOMM's align_corners=False reads a pixel up
    to 0.49 px from itself (the figure architecture.md and the docstring quote); corner-aligned, none."""
    from pcutlib.models.warping import resize_bilinear
    coarse = make_coordinate_grid(32, 32).permute(2, 0, 1)[None]
    error = {aligned: float((resize_bilinear(coarse, (64, 64), aligned)[0].permute(1, 2, 0)
                             - make_coordinate_grid(64, 64)).abs().amax()) * 63 / 2 for aligned in (False, True)}
    assert f"{error[False]:.2f}" == "0.49" and error[True] < 1e-4


@pytest.mark.parametrize("aligned", [False, True])
def test_aligned_resize_keeps_an_identity_flow_the_identity(aligned):
    """generator_params.aligned_resize: the 32x32 identity flow resized corner-aligned warps the
    64x64 source onto itself; FOMM's resize (align_corners=False) reads up to 0.49 px away."""
    params = small_params()
    params["generator_params"]["aligned_resize"] = aligned
    models = build_models(params).eval()
    source = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        kp = models.kp_detector(source)
        out = models.generator(source, kp_driving=kp, kp_source=kp)
    error = (out["deformed"] - source).abs().amax()
    assert (error < 1e-4) if aligned else (error > 0.05), float(error)


def test_aligned_resize_survives_a_checkpoint_round_trip(tmp_path):
    """The flag lives in the saved config: load_models rebuilds the generator with it; a config
    without the key (FOMM's yamls, older checkpoints) loads with FOMM's resize."""
    config = {"model_params": small_params()}
    for aligned in (True, False):
        config["model_params"]["generator_params"]["aligned_resize"] = aligned
        save_models(tmp_path / "m.pt", build_models(config["model_params"]), config)
        assert load_models(tmp_path / "m.pt")[0].generator.aligned_resize is aligned
    del config["model_params"]["generator_params"]["aligned_resize"]
    save_models(tmp_path / "old.pt", build_models(config["model_params"]), config)
    assert load_models(tmp_path / "old.pt")[0].generator.aligned_resize is False


def test_keep_visible_source_blends_the_decoder_with_the_warped_source_by_o():
    """generator_params.keep_visible_source: prediction = decoder (1 - O) + warped source O, O
    resized to the frame; the same weights without it give the decoder's output; no O: refused."""
    from pcutlib.models.warping import resize_bilinear
    params = small_params()
    plain = build_models(params).eval()
    params["generator_params"]["keep_visible_source"] = True
    blended = build_models(params).eval()
    blended.generator.load_state_dict(plain.generator.state_dict())
    source, driving = torch.rand(2, 3, 64, 64), torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        kp_source, kp_driving = plain.kp_detector(source), plain.kp_detector(driving)
        decoder = plain.generator(source, kp_driving=kp_driving, kp_source=kp_source)
        out = blended.generator(source, kp_driving=kp_driving, kp_source=kp_source)
    visible = resize_bilinear(decoder["occlusion_map"], (64, 64), False)
    expected = decoder["prediction"] * (1 - visible) + decoder["deformed"] * visible
    torch.testing.assert_close(out["prediction"], expected)
    assert not torch.allclose(out["prediction"], decoder["prediction"])
    with torch.no_grad():                                  # the occlusion warm-up skips the blend
        unmasked = [net.generator(source, kp_driving=kp_driving, kp_source=kp_source, apply_occlusion=False)
                    for net in (plain, blended)]
    torch.testing.assert_close(unmasked[1]["prediction"], unmasked[0]["prediction"])
    params["generator_params"]["estimate_occlusion_map"] = False
    with pytest.raises(ValueError, match="keep_visible_source blends by the occlusion map, but estimate_occlusion_map is False"):
        build_models(params)


def test_gradients_reach_every_parameter():
    models = build_models(small_params())
    source, driving = torch.rand(2, 3, 64, 64), torch.rand(2, 3, 64, 64)
    kp_source, kp_driving = models.kp_detector(source), models.kp_detector(driving)
    out = models.generator(source, kp_driving=kp_driving, kp_source=kp_source)
    # keypoint jacobians start at exactly the identity with zero weights; a jacobian term
    # keeps their gradient non-zero, as the equivariance loss does in training
    loss = (out["prediction"] - driving).abs().mean() + out["occlusion_map"].mean() \
        + (kp_driving["jacobian"] ** 2).mean() + kp_source["value"].pow(2).mean()
    loss.backward()
    for name, module in [("kp_detector", models.kp_detector), ("generator", models.generator)]:
        for pname, p in module.named_parameters():
            assert p.grad is not None, f"{name}.{pname} got no gradient"
            assert torch.isfinite(p.grad).all(), f"{name}.{pname} has non-finite gradient"
            assert p.grad.abs().sum() > 0, f"{name}.{pname} has an all-zero gradient"


def test_bad_input_errors():
    models = build_models(small_params())
    with pytest.raises(ValueError, match="3 channels"):
        models.kp_detector(torch.rand(1, 4, 64, 64))
    with pytest.raises(ValueError, match="divisible"):
        models.kp_detector(torch.rand(1, 3, 36, 36))
    kp = models.kp_detector(torch.rand(1, 3, 64, 64))
    with pytest.raises(ValueError, match="divisible"):
        models.generator(torch.rand(1, 3, 66, 66), kp_driving=kp, kp_source=kp)
    bad = {"value": torch.rand(1, 3, 2)}
    with pytest.raises(ValueError, match="num_kp=4"):
        models.generator(torch.rand(1, 3, 64, 64), kp_driving=bad, kp_source=kp)
    with pytest.raises(ValueError, match=r"\(B, K, 2\)"):
        models.generator(torch.rand(1, 3, 64, 64), kp_driving={"value": torch.rand(1, 4, 3)}, kp_source=kp)
    with pytest.raises(ValueError, match="kp_detector_params.temprature"):
        build_models({**small_params(), "kp_detector_params": {"temprature": 0.1}})


def test_fomm_checkpoint_round_trip_with_data_parallel_prefix(tmp_path):
    models = build_models(small_params())
    checkpoint = {name: {f"module.{k}": v for k, v in m.state_dict().items()}
                  for name, m in models.networks().items()}
    path = tmp_path / "fomm.pth.tar"
    torch.save(checkpoint, path)
    loaded = load_fomm_checkpoint(path, small_params())
    assert not loaded.generator.training
    for name, module in models.networks().items():
        for key, value in module.state_dict().items():
            assert torch.equal(loaded.networks()[name].state_dict()[key], value), f"{name}.{key}"


def test_mismatched_checkpoint_names_key_and_config():
    models = build_models(small_params())
    checkpoint = {name: m.state_dict() for name, m in models.networks().items()}
    with pytest.raises(ValueError, match=r"kp_detector\.kp\.weight.*num_kp"):
        load_fomm_checkpoint(checkpoint, small_params(num_kp=5))
    del checkpoint["generator"]["final.bias"]
    with pytest.raises(ValueError, match=r"missing key 'generator\.final\.bias'"):
        load_fomm_checkpoint(checkpoint, small_params())


class Evil:
    """Anything that is not a tensor or a plain container needs unpickling to load."""


def test_unpickling_checkpoint_is_refused(tmp_path):
    path = tmp_path / "evil.pth.tar"
    torch.save({"kp_detector": Evil()}, path)
    with pytest.raises(ValueError, match="refusing to load"):
        load_fomm_checkpoint(path, small_params())


def test_pcut_checkpoint_round_trip(tmp_path):
    models = build_models(small_params())
    config = {"model_params": small_params()}
    save_models(tmp_path / "model.pt", models, config, epoch=3)
    loaded, checkpoint = load_models(tmp_path / "model.pt")
    assert checkpoint["epoch"] == 3
    source = torch.rand(1, 3, 64, 64)
    models.eval()
    with torch.no_grad():
        torch.testing.assert_close(loaded.kp_detector(source)["value"], models.kp_detector(source)["value"])


def test_region_dropout_keeps_the_background_and_renormalises():
    from pcutlib.models.dense_motion import region_softmax

    logits = torch.randn(64, 6, 4, 4)
    torch.testing.assert_close(region_softmax(logits, 0.0), torch.softmax(logits, dim=1))
    masks = region_softmax(logits, 0.5)
    torch.testing.assert_close(masks.sum(dim=1), torch.ones(64, 4, 4))
    dropped = masks.amax(dim=(2, 3)) == 0                                   # (B, K+1) channels left out
    assert not dropped[:, 0].any()                                          # background never
    assert 0.35 < dropped[:, 1:].float().mean() < 0.65                      # about half of the regions
    kept = ~dropped[:, :, None, None].expand_as(masks)
    expected = torch.softmax(logits.masked_fill(~kept, float("-inf")), dim=1)
    torch.testing.assert_close(masks, expected)
    with pytest.raises(ValueError, match="region dropout"):
        region_softmax(logits, 1.0)
    seeded = [region_softmax(logits, 0.5, torch.Generator().manual_seed(s)) for s in (3, 3, 4)]
    assert torch.equal(seeded[0], seeded[1]) and not torch.equal(seeded[0], seeded[2])


def test_region_dropout_schedule():
    from pcutlib.training.step import region_dropout_probability

    schedule = {"start": 0.1, "max": 0.3, "ramp_epochs": 10, "until_epoch": 35}
    assert region_dropout_probability(schedule, 0) == pytest.approx(0.1)
    assert region_dropout_probability(schedule, 5) == pytest.approx(0.2)
    assert region_dropout_probability(schedule, 20) == pytest.approx(0.3)
    assert region_dropout_probability(schedule, 35) == 0.0
    assert region_dropout_probability({"start": 0, "max": 0, "ramp_epochs": 0, "until_epoch": 0}, 3) == 0.0


def test_region_dropout_config_is_checked(tmp_path):
    from pcutlib.config import load_config, resolve_config
    from pcutlib.training.trainer import build_trainer

    config = load_config("smoke")
    config["dataset_params"]["root_dir"] = str(tmp_path)
    config["train_params"]["region_dropout"] = {"start": 0.1, "max": 1.5, "ramp_epochs": 1, "until_epoch": 2}
    with pytest.raises(ValueError, match="region_dropout"):
        build_trainer(resolve_config(config), torch.device("cpu"))


def test_keypoint_pixel_conversion_matches_the_coordinate_grid():
    """Pixel (i, j) of an H x W image sits at make_coordinate_grid(H, W)[i, j]; numpy and torch alike."""
    grid = make_coordinate_grid(5, 7)                                      # (H, W, 2), x first
    pixels = keypoints_to_pixels(grid, 5, 7)
    assert pixels.dtype == torch.float32
    torch.testing.assert_close(pixels[2, 3], torch.tensor([3.0, 2.0]))
    torch.testing.assert_close(pixels_to_keypoints(pixels, 5, 7), grid)
    points = np.array([[-1.0, 1.0], [0.0, 0.0]], np.float32)
    assert keypoints_to_pixels(points, 5, 7).dtype == np.float32
    np.testing.assert_array_equal(keypoints_to_pixels(points, 5, 7), [[0.0, 4.0], [3.0, 2.0]])
    with pytest.raises(ValueError, match="at least 2 pixels"):
        keypoints_to_pixels(points, 1, 7)
