"""pcutlib.models.revealed_pixels: the range map and the revealed label on hand-made flows, then a model's."""
import pytest
import torch
from conftest import tiny_synthetic_world

from pcutlib.models import revealed_pixels as R
from pcutlib.models.build import build_models
from pcutlib.models.warping import make_coordinate_grid


def identity_grid(batch: int, size: int) -> torch.Tensor:
    """(batch, size, size, 2): every pixel stays where it is."""
    return make_coordinate_grid(size, size).unsqueeze(0).repeat(batch, 1, 1, 1)


def test_the_identity_flow_lands_one_pixel_on_each_pixel():
    assert torch.allclose(R.range_map(identity_grid(2, 8), (8, 8)), torch.ones(2, 8, 8), atol=1e-5)


def test_a_shift_reveals_the_columns_it_leaves_behind():
    """Every pixel moves 2 px to the right: nothing lands on the two left columns, the two right
    columns' pixels leave the frame, every other pixel receives exactly one."""
    grid = identity_grid(1, 8)
    grid[..., 0] += 2 * 2 / 7                       # 2 px in align_corners coordinates
    mass = R.range_map(grid, (8, 8))[0]
    assert torch.allclose(mass[:, :2], torch.zeros(8, 2), atol=1e-5)
    assert torch.allclose(mass[:, 2:], torch.ones(8, 6), atol=1e-5)
    assert float(mass.sum()) == pytest.approx(6 * 8, abs=1e-4)


def test_half_a_pixel_spreads_its_mass_over_two_neighbours():
    grid = identity_grid(1, 4)
    grid[0, 1, 1, 0] += 0.5 * 2 / 3                 # pixel (row 1, col 1) moves half a pixel right
    mass = R.range_map(grid, (4, 4))[0]
    assert float(mass[1, 1]) == pytest.approx(0.5, abs=1e-5) and float(mass[1, 2]) == pytest.approx(1.5, abs=1e-5)


def test_a_coarse_grid_is_resized_to_the_frame_first():
    assert torch.allclose(R.range_map(identity_grid(1, 4), (8, 8)), torch.ones(1, 8, 8), atol=1e-5)
    grid = identity_grid(1, 4)
    grid[..., 0] += 2 * 2 / 7                       # 2 px of the 8 px frame, given at 4 x 4
    assert torch.allclose(R.range_map(grid, (8, 8))[0, :, :2], torch.zeros(8, 2), atol=1e-5)
    with pytest.raises(ValueError, match=r"grid \(1, 4, 4\): expected \(N, h, w, 2\)"):
        R.range_map(torch.zeros(1, 4, 4), (8, 8))


def test_the_revealed_score_needs_both_nothing_landed_and_a_change():
    range_of_source = torch.tensor([[[0.0, 0.0, 1.0, 0.25]]])
    difference = torch.tensor([[[0.3, 0.0, 0.3, 0.2]]])
    assert torch.allclose(R.revealed_score(range_of_source, difference), torch.tensor([[[0.3, 0.0, 0.0, 0.15]]]))
    with pytest.raises(ValueError, match=r"range map \(1, 1, 4\) and frame difference \(1, 4\)"):
        R.revealed_score(range_of_source, difference[0])


def test_the_visible_target_is_one_minus_the_scaled_score_area_averaged():
    score = torch.tensor([[[0.2, 0.05], [0.0, 0.0]]])
    target = R.revealed_visible_target(score, (1, 1))
    assert target.shape == (1, 1, 1, 1) and float(target) == pytest.approx((0 + 0.5 + 1 + 1) / 4)
    with pytest.raises(ValueError, match="revealed scale 0: expected a positive score"):
        R.revealed_visible_target(score, (1, 1), scale=0)


def test_a_model_driven_by_its_own_keypoints_reveals_nothing(tmp_path):
    """Source = driving: every keypoint stays, so the reverse flow is the identity and R = 1."""
    _, config = tiny_synthetic_world(tmp_path, seed=3)
    torch.manual_seed(0)
    models = build_models(config["model_params"]).eval()
    frames = torch.rand(3, 3, 32, 32)
    kp = {key: value.detach() for key, value in models.kp_detector(frames).items()}
    mass = R.driving_range_maps(models.generator, frames[:1], frames[:1].expand(3, -1, -1, -1),
                                {key: value[:1] for key, value in kp.items()},
                                {key: value[:1].expand(3, *value.shape[1:]) for key, value in kp.items()})
    assert mass.shape == (3, 32, 32) and mass.device.type == "cpu"
    assert torch.allclose(mass, torch.ones_like(mass), atol=1e-3)
    moved = R.driving_range_maps(models.generator, frames[:1], frames, {key: value[:1] for key, value in kp.items()}, kp)
    assert float(moved.sum()) <= 3 * 32 * 32 + 1e-2           # mass is kept or leaves the frame, never made
    assert R.driving_range_maps(torch.nn.Identity(), frames[:1], frames, kp, kp) is None   # no FOMM dense motion


def test_the_warp_error_joins_the_label_where_the_warped_source_shows_the_wrong_colour(tmp_path):
    """Source = driving (R = 1, no frame difference: nothing revealed): the label is 1 everywhere;
    given a deformed source wrong by 0.05 on one 2x2 block, the block's pixels score 0.05, so the
    label there is 1 - 0.05 / 0.1 = 0.5, area-averaged; the deformed image carries no gradient."""
    _, config = tiny_synthetic_world(tmp_path, seed=3)
    torch.manual_seed(0)
    models = build_models(config["model_params"]).eval()
    frames = torch.rand(2, 3, 32, 32)
    kp = {key: value.detach() for key, value in models.kp_detector(frames).items()}
    network = models.generator.dense_motion_network
    plain = R.revealed_target(network, frames, frames, kp, kp, (16, 16))
    assert torch.allclose(plain, torch.ones_like(plain), atol=1e-3)
    deformed = frames.clone().requires_grad_(False)
    deformed[:, :, 4:6, 4:6] += 0.05
    assert torch.allclose(R.warp_error(deformed, frames)[:, 4:6, 4:6], torch.full((2, 2, 2), 0.05), atol=1e-6)
    labelled = R.revealed_target(network, frames, frames, kp, kp, (16, 16), deformed=deformed.requires_grad_())
    assert not labelled.requires_grad
    assert torch.allclose(labelled[:, 0, 2, 2], torch.full((2,), 0.5), atol=1e-3)          # the block's cell
    assert torch.allclose(labelled[:, 0, 8:, 8:], torch.ones(2, 8, 8), atol=1e-3)          # elsewhere: unchanged
    with pytest.raises(ValueError, match=r"deformed \(2, 3, 16, 16\) and driving \(2, 3, 32, 32\)"):
        R.warp_error(deformed[..., :16, :16], frames)
