"""Our models compute exactly what FOMM computes: every tensor of the reference fixture.

Tolerances come from the values, not from a bare constant. The fixture was computed in
float32 on one CPU; another CPU (Intel or AMD, another oneDNN kernel) rounds differently in
the last bits, and those differences grow with the magnitude of the values and with the
depth of the network. So every comparison also runs the same call in float64: the gap
between our float32 and float64 results is the float32 noise floor of this call on this
machine, and the fixture may differ from ours by a small multiple of it (both sides carry
such noise), never less than a few float32 ulps of the largest value.
"""
import copy

import pytest
import torch

from pcutlib.checkpoints.fomm import load_fomm_checkpoint
from pcutlib.inference import relative_keypoints
from pcutlib.models.warping import RandomTPS

NOISE_MULTIPLE = 8.0      # fixture noise + our noise, each a few times the measured floor
ULPS = 16.0               # floor: 16 float32 ulps of the largest value compared
FLOAT32_EPS = torch.finfo(torch.float32).eps


def tolerance(expected: torch.Tensor, ours64: torch.Tensor, ours32: torch.Tensor) -> float:
    """NOISE_MULTIPLE x max|ours32 - ours64|, at least ULPS ulps of max|expected|."""
    noise_floor = (ours32.double() - ours64).abs().max().item()
    scale = max(expected.abs().max().item(), 1.0)
    return max(NOISE_MULTIPLE * noise_floor, ULPS * FLOAT32_EPS * scale)


def assert_close(actual, expected, name, actual64):
    """actual: our float32 result; actual64: the same call in float64."""
    assert actual.shape == expected.shape, f"{name}: shape {tuple(actual.shape)} != {tuple(expected.shape)}"
    error = (actual.double() - expected.double()).abs().max().item()
    allowed = tolerance(expected, actual64, actual)
    assert error <= allowed, (f"{name}: max abs error {error:.3g} > tolerance {allowed:.3g} "
                              f"(values up to {expected.abs().max().item():.3g})")


def to_double(tree):
    """Every floating tensor in a nested dict/list as float64."""
    if torch.is_tensor(tree):
        return tree.double() if tree.is_floating_point() else tree
    if isinstance(tree, dict):
        return {k: to_double(v) for k, v in tree.items()}
    if isinstance(tree, (list, tuple)):
        return type(tree)(to_double(v) for v in tree)
    return tree


@pytest.fixture(scope="module")
def loaded(fomm_reference):
    return load_fomm_checkpoint(fomm_reference["checkpoint"], fomm_reference["config"]["model_params"])


@pytest.fixture(scope="module")
def loaded64(loaded):
    """The same networks in float64 (the reference for the float32 noise floor)."""
    models = copy.deepcopy(loaded)
    for module in models.networks().values():
        module.double()
    return models


@torch.no_grad()
def test_keypoints(fomm_reference, loaded, loaded64):
    for name in ("source", "driving"):
        image = fomm_reference["inputs"][name]
        kp, kp64 = loaded.kp_detector(image), loaded64.kp_detector(image.double())
        expected = fomm_reference[f"kp_{name}"]
        assert set(kp) == set(expected)
        for key in expected:
            assert_close(kp[key], expected[key], f"kp_{name}.{key}", kp64[key])


@torch.no_grad()
def test_generator_outputs(fomm_reference, loaded, loaded64):
    source, kp_source, kp_driving = (fomm_reference["inputs"]["source"], fomm_reference["kp_source"],
                                     fomm_reference["kp_driving"])
    out = loaded.generator(source, kp_driving=kp_driving, kp_source=kp_source)
    out64 = loaded64.generator(source.double(), kp_driving=to_double(kp_driving), kp_source=to_double(kp_source))
    for fomm_name, expected in fomm_reference["generator"].items():
        ours = "region_mask" if fomm_name == "mask" else fomm_name
        assert_close(out[ours], expected, ours, out64[ours])


@torch.no_grad()
def test_discriminator_outputs(fomm_reference, loaded, loaded64):
    pyramid = fomm_reference["driving_pyramid"]
    out, out64 = loaded.discriminator(pyramid), loaded64.discriminator(to_double(pyramid))
    expected = fomm_reference["discriminator"]
    assert set(out) == set(expected)
    for key, value in expected.items():
        if isinstance(value, (list, tuple)):
            assert len(out[key]) == len(value)
            for i, (a, b) in enumerate(zip(out[key], value)):
                assert_close(a, b, f"{key}[{i}]", out64[key][i])
        else:
            assert_close(out[key], value, key, out64[key])


@pytest.mark.parametrize("adapt", [False, True])
@pytest.mark.parametrize("relative_jacobian", [False, True])
def test_relative_motion(fomm_reference, adapt, relative_jacobian):
    data = fomm_reference["normalize_kp"]
    expected = data["cases"][f"adapt={adapt},relative_jacobian={relative_jacobian}"]
    options = dict(adapt_movement_scale=adapt, use_relative_movement=True, use_relative_jacobian=relative_jacobian)
    inputs = (data["kp_source"], data["kp_driving"], data["kp_driving_initial"])
    out = relative_keypoints(*inputs, **options)
    out64 = relative_keypoints(*to_double(inputs), **options)
    for key in expected:
        assert_close(out[key], expected[key], key, out64[key])


def test_tps_transform(fomm_reference):
    data = fomm_reference["tps"]
    tps = RandomTPS(data["theta"], data["control_points"], data["control_params"])
    tps64 = RandomTPS(data["theta"].double(), data["control_points"].double(), data["control_params"].double())
    frame, coordinates = data["frame"], data["coordinates"]
    assert_close(tps.transform_frame(frame), data["transformed_frame"], "transformed_frame",
                 tps64.transform_frame(frame.double()))
    assert_close(tps.warp_coordinates(coordinates), data["warped_coordinates"], "warped_coordinates",
                 tps64.warp_coordinates(coordinates.double()))
    assert_close(tps.jacobian(coordinates).detach(), data["jacobian"], "jacobian",
                 tps64.jacobian(coordinates.double()).detach())


def test_tolerance_rejects_a_real_difference():
    """The derived tolerance is tight: a change far above float32 noise fails."""
    expected = torch.linspace(-2, 2, 100)
    ours64 = expected.double()
    ours32 = expected.clone()
    assert tolerance(expected, ours64, ours32) < 1e-5
    shifted = expected + 1e-4          # a model difference: same in float32 and float64
    with pytest.raises(AssertionError, match="max abs error"):
        assert_close(shifted, expected, "shifted", shifted.double())
