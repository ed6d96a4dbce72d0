"""pcut's TPSMM networks compute what the Thin-Plate Spline Motion Model's public code computes:
every tensor of its reference fixture (``tpsmm_reference_small.pt``), plus small invariants that
need no fixture.

Each network is checked on the fixture's own inputs to it (the dense motion network on the
stored keypoints and bg_param, the inpainting network on the stored dense motion outputs), so
a difference points at one network; one more test chains them from the images alone.

Tolerances come from the values, as in ``test_fomm_reference.py``: every call also runs in
float64, and the fixture may differ from our float32 result by NOISE_MULTIPLE times the gap
between our float32 and float64 results (the float32 noise of this call on this machine; the
TPS solve makes it larger than elsewhere), and never needs to be closer than RELATIVE times the
largest value compared.
"""
import copy

import pytest
import torch
from conftest import fixtures_dir, skip_or_fail

from pcutlib.checkpoints.tpsmm import load_tpsmm_checkpoint, load_tpsmm_state_dicts
from pcutlib.models.tpsmm.bg_motion import BackgroundMotionPredictor
from pcutlib.models.tpsmm.build import build_tpsmm
from pcutlib.models.tpsmm.dense_motion import TPSDenseMotionNetwork, tps_dropout_softmax
from pcutlib.models.tpsmm.inpainting import InpaintingNetwork
from pcutlib.models.tpsmm.keypoint_detector import TPSKeypointDetector
from pcutlib.models.tpsmm.resnet import ResNet18
from pcutlib.models.tpsmm.tps import KeypointTPS, RandomTPS
from pcutlib.models.warping import make_coordinate_grid

FIXTURE = "tpsmm_reference_small.pt"
NOISE_MULTIPLE = 8.0
RELATIVE = 1e-5

TINY_PARAMS = {"common_params": {"num_tps": 2, "num_channels": 3, "bg": True, "multi_mask": True},
               "generator_params": {"block_expansion": 8, "max_features": 64, "num_down_blocks": 3},
               "dense_motion_params": {"block_expansion": 8, "max_features": 32, "num_blocks": 3,
                                       "scale_factor": 0.25}}


@pytest.fixture(scope="module")
def reference():
    folder = fixtures_dir()
    if folder is None or not (folder / FIXTURE).is_file():
        skip_or_fail(f"TPSMM reference fixture {FIXTURE} not found: set PCUT_FIXTURES or place "
                     f"shared/fixtures beside the repository")
    return torch.load(folder / FIXTURE, weights_only=True)


@pytest.fixture(scope="module")
def networks(reference, one_thread):
    return load_tpsmm_checkpoint(reference["state_dicts"], reference["model_params"])


@pytest.fixture(scope="module")
def networks64(networks):
    """The same networks in float64 (the reference for the float32 noise floor)."""
    copied = copy.deepcopy(networks)
    for module in copied.networks().values():
        module.double()
    return copied


def to_double(tree):
    """Every floating tensor in a nested dict/list as float64."""
    if torch.is_tensor(tree):
        return tree.double() if tree.is_floating_point() else tree
    if isinstance(tree, dict):
        return {k: to_double(v) for k, v in tree.items()}
    if isinstance(tree, (list, tuple)):
        return type(tree)(to_double(v) for v in tree)
    return tree


def check(name, ours, ours64, expected):
    """assert_close of our float32 result (tensor or list) with the fixture's, at the tolerance
    derived from our float64 result."""
    if isinstance(expected, (list, tuple)):
        assert len(ours) == len(expected), f"{name}: {len(ours)} tensors, the fixture has {len(expected)}"
        for i, (a, a64, b) in enumerate(zip(ours, ours64, expected)):
            check(f"{name}[{i}]", a, a64, b)
        return
    assert ours.shape == expected.shape, f"{name}: shape {tuple(ours.shape)} != {tuple(expected.shape)}"
    noise = (ours.double() - ours64).abs().max().item()
    scale = max(expected.abs().max().item(), 1.0)
    tolerance = max(NOISE_MULTIPLE * noise, RELATIVE * scale)
    torch.testing.assert_close(ours, expected, rtol=0, atol=tolerance,
                               msg=lambda m: f"{name} (tolerance {tolerance:.3g}, float32 noise {noise:.3g}): {m}")


def fg(kp):
    """TPSMM's keypoints {"fg_kp"} as pcut names them: {"value"}."""
    return {"value": kp["fg_kp"]}


@torch.no_grad()
def test_keypoint_detector(reference, networks, networks64):
    for name in ("source", "driving"):
        image = reference["inputs"][name]
        kp, kp64 = networks.kp_detector(image), networks64.kp_detector(image.double())
        assert set(reference["outputs"][f"kp_{name}"]) == {"fg_kp"} and set(kp) == {"value"}
        check(f"kp_{name}.fg_kp", kp["value"], kp64["value"], reference["outputs"][f"kp_{name}"]["fg_kp"])


@torch.no_grad()
def test_background_motion(reference, networks, networks64):
    source, driving = reference["inputs"]["source"], reference["inputs"]["driving"]
    check("bg_param", networks.bg_predictor(source, driving),
          networks64.bg_predictor(source.double(), driving.double()), reference["outputs"]["bg_param"])


@torch.no_grad()
def test_dense_motion(reference, networks, networks64):
    outputs = reference["outputs"]
    args = (reference["inputs"]["source"], fg(outputs["kp_driving"]), fg(outputs["kp_source"]))
    out = networks.dense_motion_network(*args, bg_param=outputs["bg_param"])
    out64 = networks64.dense_motion_network(*to_double(args), bg_param=outputs["bg_param"].double())
    assert set(out) == set(outputs["dense_motion"])
    for key, expected in outputs["dense_motion"].items():
        check(f"dense_motion.{key}", out[key], out64[key], expected)


@torch.no_grad()
def test_inpainting(reference, networks, networks64):
    source, dense_motion = reference["inputs"]["source"], reference["outputs"]["dense_motion"]
    out = networks.inpainting_network(source, dense_motion)
    out64 = networks64.inpainting_network(source.double(), to_double(dense_motion))
    assert set(out) == set(reference["outputs"]["generated"])
    for key, expected in reference["outputs"]["generated"].items():
        check(f"generated.{key}", out[key], out64[key], expected)


@torch.no_grad()
def test_get_encode(reference, networks, networks64):
    driving, occlusion = reference["inputs"]["driving"], reference["outputs"]["generated"]["occlusion_map"]
    check("get_encode", networks.inpainting_network.get_encode(driving, occlusion),
          networks64.inpainting_network.get_encode(driving.double(), to_double(occlusion)),
          reference["outputs"]["get_encode"])


@torch.no_grad()
def test_images_to_prediction(reference, networks, networks64):
    """The four networks chained from the two images alone."""
    def run(nets, source, driving):
        kp_source, kp_driving = nets.kp_detector(source), nets.kp_detector(driving)
        bg_param = nets.bg_predictor(source, driving)
        dense_motion = nets.dense_motion_network(source, kp_driving, kp_source, bg_param=bg_param)
        return nets.inpainting_network(source, dense_motion)

    source, driving = reference["inputs"]["source"], reference["inputs"]["driving"]
    out, out64 = run(networks, source, driving), run(networks64, source.double(), driving.double())
    for key in ("deformed", "occlusion_map", "prediction"):
        check(f"chained {key}", out[key], out64[key], reference["outputs"]["generated"][key])


def test_tps_keypoint_mode(reference):
    outputs, points = reference["outputs"], reference["inputs"]["points"]
    kp_driving, kp_source = outputs["kp_driving"]["fg_kp"], outputs["kp_source"]["fg_kp"]
    batch = kp_driving.shape[0]
    tps = KeypointTPS(kp_driving.reshape(batch, -1, 5, 2), kp_source.reshape(batch, -1, 5, 2))
    tps64 = KeypointTPS(kp_driving.double().reshape(batch, -1, 5, 2), kp_source.double().reshape(batch, -1, 5, 2))
    expected = outputs["tps_kp"]
    check("tps_kp.theta", tps.theta, tps64.theta, expected["theta"])
    check("tps_kp.control_params", tps.control_params, tps64.control_params, expected["control_params"])
    check("tps_kp.warped_points", tps.warp_coordinates(points), tps64.warp_coordinates(points.double()),
          expected["warped_points"])


def test_tps_random_mode(reference):
    """Random draws differ between runs, so the stored parameters are replayed."""
    stored = reference["outputs"]["tps_random"]
    tps = RandomTPS(stored["theta"], stored["control_points"], stored["control_params"])
    tps64 = RandomTPS(stored["theta"].double(), stored["control_points"].double(), stored["control_params"].double())
    height, width = reference["inputs"]["driving"].shape[2:]
    check("tps_random.grid", tps.grid(height, width), tps64.grid(height, width), stored["grid"])
    kp = reference["outputs"]["kp_driving"]["fg_kp"]
    check("tps_random.warped_kp_driving", tps.warp_coordinates(kp), tps64.warp_coordinates(kp.double()),
          stored["warped_kp_driving"])


def test_state_dict_key_names_are_the_fixtures(reference):
    built = build_tpsmm(reference["model_params"])
    for name, module in built.networks().items():
        assert list(module.state_dict()) == list(reference["state_dicts"][name]), name


def test_tolerance_rejects_a_real_difference():
    expected = torch.linspace(-2, 2, 100)
    shifted = expected + 1e-4
    with pytest.raises(AssertionError, match="tolerance"):
        check("shifted", shifted, shifted.double(), expected)


# ---- without the fixture -------------------------------------------------------------------

def test_loading_names_the_bad_key():
    networks = build_tpsmm(TINY_PARAMS)
    state_dicts = {name: module.state_dict() for name, module in networks.networks().items()}
    state_dicts["dense_motion_network"] = dict(state_dicts["dense_motion_network"])
    state_dicts["dense_motion_network"]["occlusion.4.weight"] = torch.zeros(1)
    del state_dicts["inpainting_network"]["final.bias"]
    with pytest.raises(ValueError, match=r"unexpected key 'dense_motion_network\.occlusion\.4\.weight'"):
        load_tpsmm_state_dicts(build_tpsmm(TINY_PARAMS), state_dicts)
    state_dicts["dense_motion_network"].pop("occlusion.4.weight")
    with pytest.raises(ValueError, match=r"missing key 'inpainting_network\.final\.bias'"):
        load_tpsmm_state_dicts(build_tpsmm(TINY_PARAMS), state_dicts)
    with pytest.raises(ValueError, match="num_tpss"):
        build_tpsmm({**TINY_PARAMS, "common_params": {**TINY_PARAMS["common_params"], "num_tpss": 3}})


def test_resnet_has_torchvision_names():
    names = list(ResNet18(num_outputs=10).state_dict())
    assert names[:2] == ["conv1.weight", "bn1.weight"]
    assert "layer2.0.downsample.0.weight" in names and "layer4.1.bn2.running_var" in names
    assert "layer1.0.downsample.0.weight" not in names
    assert names[-2:] == ["fc.weight", "fc.bias"]
    assert sum(p.numel() for p in ResNet18().parameters()) == 11_689_512   # torchvision's resnet18


def test_identity_tps_when_keypoints_agree():
    kp = torch.rand(2, 3, 5, 2, generator=torch.Generator().manual_seed(1), dtype=torch.float64) * 2 - 1
    points = make_coordinate_grid(9, 9, torch.float64).reshape(1, -1, 2)
    exact = KeypointTPS(kp, kp, regularisation=0.0)
    torch.testing.assert_close(exact.warp_coordinates(points), points[:, None].expand(2, 3, -1, -1))
    # TPSMM's 0.01 on the whole diagonal: near the keypoints, not the identity elsewhere
    tpsmm = KeypointTPS(kp, kp)
    at_keypoints = torch.stack([tpsmm.warp_coordinates(kp[:, k])[:, k] for k in range(3)], dim=1)
    assert (at_keypoints - kp).abs().max() < 1e-2
    assert (tpsmm.warp_coordinates(points) - points[:, None]).abs().max() > 1e-3


def test_keypoint_tps_interpolates_without_regularisation():
    generator = torch.Generator().manual_seed(2)
    kp_driving = torch.rand(1, 2, 5, 2, generator=generator, dtype=torch.float64) * 2 - 1
    kp_source = torch.rand(1, 2, 5, 2, generator=generator, dtype=torch.float64) * 2 - 1
    tps = KeypointTPS(kp_driving, kp_source, regularisation=0.0)
    for k in range(2):
        torch.testing.assert_close(tps.warp_coordinates(kp_driving[:, k])[:, k], kp_source[:, k])
    assert tps.grid(6, 7).shape == (1, 2, 6, 7, 2)


def test_random_tps_without_noise_is_the_identity():
    tps = RandomTPS.random(3, sigma_affine=0.0, sigma_tps=0.0, points_tps=5)
    grid = tps.grid(8, 8)
    torch.testing.assert_close(grid, make_coordinate_grid(8, 8).expand(3, 8, 8, 2))
    frame = torch.rand(3, 2, 8, 8)
    torch.testing.assert_close(tps.transform_frame(frame), frame)
    assert RandomTPS.random(2, 0.05, 0.005, 5).warp_coordinates(torch.rand(2, 7, 2)).shape == (2, 7, 2)


@torch.no_grad()
def test_tiny_networks_shapes_and_invariants():
    networks = build_tpsmm(TINY_PARAMS).eval()
    source, driving = torch.rand(2, 3, 32, 32), torch.rand(2, 3, 32, 32)
    kp_source, kp_driving = networks.kp_detector(source), networks.kp_detector(driving)
    assert kp_source["value"].shape == (2, 10, 2) and kp_source["value"].abs().max() <= 1
    bg_param = networks.bg_predictor(source, driving)
    torch.testing.assert_close(bg_param, torch.eye(3).expand(2, 3, 3))        # fc starts at the identity
    motion = networks.dense_motion_network(source, kp_driving, kp_source, bg_param=bg_param)
    assert motion["deformed_source"].shape == (2, 3, 3, 8, 8)
    assert motion["deformation"].shape == (2, 8, 8, 2)
    torch.testing.assert_close(motion["contribution_maps"].sum(dim=1), torch.ones(2, 8, 8))
    assert [tuple(m.shape) for m in motion["occlusion_map"]] == [(2, 1, s, s) for s in (4, 8, 16, 32)]
    assert all(0 <= m.min() and m.max() <= 1 for m in motion["occlusion_map"])
    out = networks.inpainting_network(source, motion)
    assert out["prediction"].shape == (2, 3, 32, 32) and 0 <= out["prediction"].min() <= out["prediction"].max() <= 1
    assert [m.shape[1:] for m in out["warped_encoder_maps"]] == [(64, 4, 4), (32, 8, 8), (16, 16, 16), (8, 32, 32)]
    encoded = networks.inpainting_network.get_encode(driving, motion["occlusion_map"])
    assert [m.shape for m in encoded] == [m.shape for m in reversed(out["warped_encoder_maps"])]
    # same keypoints, identity background: channel 0 of deformed_source is the downsampled source
    same = networks.dense_motion_network(source, kp_source, kp_source, bg_param=bg_param)
    torch.testing.assert_close(same["deformed_source"][:, 0], networks.dense_motion_network.down(source))


def test_tps_dropout_softmax():
    logits = torch.randn(4, 5, 3, 3)
    maps = tps_dropout_softmax(logits, 0.5, torch.Generator().manual_seed(0))
    dropped = maps.sum(dim=(2, 3)) == 0                                         # (B, K+1)
    assert dropped.any() and not dropped[:, 0].any()                           # the background always stays
    # a softmax over the kept channels, times S / (S + 1e-6) (S: the kept channels' sum of exponentials)
    kept = torch.softmax(logits.masked_fill(dropped[:, :, None, None], float("-inf")), dim=1)
    torch.testing.assert_close(maps / maps.sum(dim=1, keepdim=True), kept)
    assert (maps.sum(dim=1) <= 1).all()
    torch.testing.assert_close(tps_dropout_softmax(logits, 0.0), torch.softmax(logits, 1), atol=1e-5, rtol=0)
    with pytest.raises(ValueError, match="dropout"):
        tps_dropout_softmax(logits, 1.0)


def test_dense_motion_refuses_wrong_keypoints():
    network = TPSDenseMotionNetwork(block_expansion=8, num_blocks=3, max_features=32, num_tps=2, num_channels=3)
    kp = {"value": torch.zeros(1, 15, 2)}
    with pytest.raises(ValueError, match=r"kp_driving\['value'\] must be"):
        network(torch.rand(1, 3, 32, 32), kp, kp)


def test_constructors_check_their_arguments():
    with pytest.raises(ValueError, match="num_tps"):
        TPSKeypointDetector(num_tps=0)
    with pytest.raises(ValueError, match="scale_factor"):
        TPSDenseMotionNetwork(block_expansion=8, num_blocks=3, max_features=32, num_tps=2, num_channels=3,
                              scale_factor=0.3)
    with pytest.raises(ValueError, match="num_down_blocks"):
        InpaintingNetwork(num_channels=3, block_expansion=8, max_features=64, num_down_blocks=0)
    with pytest.raises(ValueError, match="one shape"):
        BackgroundMotionPredictor()(torch.rand(1, 3, 32, 32), torch.rand(1, 3, 16, 16))
