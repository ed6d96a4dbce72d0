"""Our models compute exactly what FOMM computes: every tensor of the reference fixture."""
import pytest
import torch

from pcutlib.animate import relative_keypoints
from pcutlib.checkpoints import load_fomm_checkpoint
from pcutlib.warping import RandomTPS

TOLERANCE = 1e-5


def assert_close(actual, expected, name):
    assert actual.shape == expected.shape, f"{name}: shape {tuple(actual.shape)} != {tuple(expected.shape)}"
    error = (actual - expected).abs().max().item()
    assert error <= TOLERANCE, f"{name}: max abs error {error:.3g} > {TOLERANCE}"


@pytest.fixture(scope="module")
def loaded(fomm_reference):
    return load_fomm_checkpoint(fomm_reference["checkpoint"], fomm_reference["config"]["model_params"])


@torch.no_grad()
def test_keypoints(fomm_reference, loaded):
    for name in ("source", "driving"):
        kp = loaded.kp_detector(fomm_reference["inputs"][name])
        expected = fomm_reference[f"kp_{name}"]
        assert set(kp) == set(expected)
        for key in expected:
            assert_close(kp[key], expected[key], f"kp_{name}.{key}")


@torch.no_grad()
def test_generator_outputs(fomm_reference, loaded):
    out = loaded.generator(fomm_reference["inputs"]["source"], kp_driving=fomm_reference["kp_driving"],
                           kp_source=fomm_reference["kp_source"])
    for fomm_name, expected in fomm_reference["generator"].items():
        ours = "region_mask" if fomm_name == "mask" else fomm_name
        assert_close(out[ours], expected, ours)


@torch.no_grad()
def test_discriminator_outputs(fomm_reference, loaded):
    out = loaded.discriminator(fomm_reference["driving_pyramid"])
    expected = fomm_reference["discriminator"]
    assert set(out) == set(expected)
    for key, value in expected.items():
        if isinstance(value, (list, tuple)):
            assert len(out[key]) == len(value)
            for i, (a, b) in enumerate(zip(out[key], value)):
                assert_close(a, b, f"{key}[{i}]")
        else:
            assert_close(out[key], value, key)


@pytest.mark.parametrize("adapt", [False, True])
@pytest.mark.parametrize("relative_jacobian", [False, True])
def test_relative_motion(fomm_reference, adapt, relative_jacobian):
    data = fomm_reference["normalize_kp"]
    expected = data["cases"][f"adapt={adapt},relative_jacobian={relative_jacobian}"]
    out = relative_keypoints(data["kp_source"], data["kp_driving"], data["kp_driving_initial"],
                             adapt_movement_scale=adapt, use_relative_movement=True,
                             use_relative_jacobian=relative_jacobian)
    for key in expected:
        assert_close(out[key], expected[key], key)


def test_tps_transform(fomm_reference):
    data = fomm_reference["tps"]
    tps = RandomTPS(data["theta"], data["control_points"], data["control_params"])
    assert_close(tps.transform_frame(data["frame"]), data["transformed_frame"], "transformed_frame")
    assert_close(tps.warp_coordinates(data["coordinates"]), data["warped_coordinates"], "warped_coordinates")
    assert_close(tps.jacobian(data["coordinates"]).detach(), data["jacobian"], "jacobian")
