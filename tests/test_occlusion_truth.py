"""pcutlib.evaluation.occlusion_truth and the new motion measures, on hand-built cases."""
import math

import pytest
import torch

from pcutlib.evaluation import motion_measures as M
from pcutlib.evaluation import occlusion_truth as O


def _world(seed=0, frames=6, size=24):
    """(truth, figure, foreground, video): blobs of dis-occlusion, half of them on the figure."""
    generator = torch.Generator().manual_seed(seed)
    truth = torch.rand(frames, size, size, generator=generator) < 0.15
    truth[:, 4:10, 4:10] = True                                      # a core that survives erosion
    figure = torch.zeros(frames, size, size, dtype=torch.bool)
    figure[:, :, : size // 2] = True
    foreground = torch.zeros_like(figure)
    foreground[:, 2:20, 2:20] = True
    video = torch.arange(frames) // 2
    return truth, figure, foreground, video


def test_an_occlusion_map_equal_to_the_truth_ranks_perfectly_in_every_stratum():
    truth, figure, foreground, video = _world()
    strata = O.occlusion_auc_strata(truth.double(), truth, figure, foreground, video)
    for stratum in ("pooled", "foreground", "figure", "core", "video_mean"):
        assert strata[stratum] == 1.0, stratum
    assert strata["video_sd"] == 0.0 and strata["videos"] == 3


def test_a_constant_occlusion_map_is_at_chance_in_every_stratum():
    truth, figure, foreground, video = _world(1)
    strata = O.occlusion_auc_strata(torch.full(truth.shape, 0.3), truth, figure, foreground, video)
    for stratum in ("pooled", "foreground", "figure", "core", "video_mean"):
        assert strata[stratum] == 0.5, stratum


def test_a_stratum_without_positives_is_nan_not_an_error():
    truth, figure, foreground, video = _world(2)
    truth = truth & ~figure                                          # nothing dis-occluded on the figure
    strata = O.occlusion_auc_strata(truth.double(), truth, figure, foreground, video)
    assert math.isnan(strata["figure"]) and strata["pooled"] == 1.0
    with pytest.raises(ValueError, match=r"\(N,H,W\)"):
        O.occlusion_auc_strata(truth.double()[0], truth, figure, foreground, video)


def test_erosion_and_slivers():
    mask = torch.zeros(1, 10, 10, dtype=torch.bool)
    mask[0, 1:5, 1:5] = True                                         # a 4x4 block
    mask[0, 7, 1:9] = True                                           # a 1-px line
    mask[0, 1, 8] = True                                             # a single pixel
    core = O.erode(mask)
    assert core.sum() == 4 and core[0, 2:4, 2:4].all()              # 4x4 eroded by 3x3 -> 2x2
    thin = O.slivers(mask)
    assert thin.sum() == 9 and not thin[0, 1:5, 1:5].any()          # the line and the point, not the block
    with pytest.raises(ValueError, match="odd"):
        O.erode(mask, 2)


def test_composition_shares_add_up():
    truth, figure, _, _ = _world(3)
    parts = O.disocclusion_composition(truth, figure)
    assert parts["background"] + parts["figure"] == pytest.approx(1.0)
    assert 0 < parts["core"] < 1 and 0 < parts["sliver"] < 1
    assert parts["rate"] == pytest.approx(truth.double().mean().item())


def test_random_foreground_pixels_have_lift_about_one_and_the_truth_has_lift_one_over_chance():
    truth, figure, foreground, _ = _world(4, frames=40, size=32)
    generator = torch.Generator().manual_seed(5)
    random_pixels = foreground & (torch.rand(truth.shape, generator=generator) < 0.1)
    result = O.mask_against_truth(random_pixels, truth, figure, foreground)
    assert result["lift"] == pytest.approx(1.0, abs=0.1)
    perfect = O.mask_against_truth(truth & foreground, truth, figure, foreground)
    assert perfect["precision"] == 1.0 and perfect["lift"] == pytest.approx(1 / perfect["chance"])
    assert perfect["recall"] == pytest.approx(float((truth & foreground).sum() / truth.sum()))


def test_the_discriminator_auc_reads_low_logits_as_fake():
    truth, *_ = _world(6)
    logits = torch.where(truth, -3.0, 2.0)[:, None]                  # (N,1,H,W): "fake" exactly at the truth
    assert O.discriminator_auc_against_truth(logits, truth) == 1.0
    assert O.discriminator_auc_against_truth(-logits, truth) == 0.0


def test_the_frame_difference_rule_scores_where_the_frame_changed():
    source = torch.rand(3, 16, 16, generator=torch.Generator().manual_seed(1))
    driving = source.expand(2, -1, -1, -1).clone()
    driving[1, :, 4:8, 4:8] = 1 - driving[1, :, 4:8, 4:8]            # frame 1 changes inside a square
    rule = O.frame_difference_rule(driving, source)
    assert rule.shape == (2, 16, 16) and float(rule[0].abs().max()) == 0.0      # an unchanged frame: 0
    assert float(rule[1, 5:7, 5:7].min()) > float(rule[1, 10:, 10:].max())
    truth = torch.zeros(2, 16, 16, dtype=torch.bool)
    truth[1, 4:8, 4:8] = True
    assert O.discriminator_auc_against_truth(-rule[:, None], truth) > 0.95    # as a "fake" score: high AUC


def test_top_k_in_foreground_selects_the_highest_scores_of_each_frame_inside_the_foreground():
    truth, figure, foreground, _ = _world(7, frames=5, size=20)
    score = torch.rand(truth.shape, generator=torch.Generator().manual_seed(8))
    selected = O.top_k_in_foreground(score, foreground, 10.0)
    for frame in range(len(score)):
        inside = foreground[frame]
        count = math.ceil(int(inside.sum()) * 10 / 100)
        assert int(selected[frame].sum()) == count and not bool((selected[frame] & ~inside).any())
        assert float(score[frame][selected[frame]].min()) >= float(score[frame][inside & ~selected[frame]].max())
    perfect = O.top_k_in_foreground(truth.float(), foreground, 10.0)            # the truth as a score
    assert O.mask_against_truth(perfect, truth, figure, foreground)["precision"] == 1.0


def _joints_and_video(frames=60, joints=5, seed=0):
    generator = torch.Generator().manual_seed(seed)
    video = torch.arange(frames) // 20
    rest = torch.rand(1, joints, 2, generator=generator) * 1.2 - 0.6
    phase = torch.linspace(0, 6.28, frames)[:, None, None]
    amplitude = torch.rand(1, joints, 2, generator=generator) * 0.2 + 0.05
    return rest + amplitude * torch.sin(phase + torch.arange(joints)[None, :, None]), video


def test_keypoints_that_follow_the_joints_move_with_the_body_and_static_or_random_ones_do_not():
    joints, video = _joints_and_video()
    generator = torch.Generator().manual_seed(1)
    following = joints[:, [0, 1, 2]] * 0.9 + 0.05                     # 3 keypoints moving with joints 0-2
    static = torch.tensor([[[0.5, 0.5], [-0.5, 0.5]]]).expand(len(joints), -1, -1)
    jitter = torch.tensor([[[0.0, -0.5]]]) + 0.08 * torch.randn(len(joints), 1, 2, generator=generator)
    keypoints = torch.cat([following, static, jitter], dim=1)          # (N,6,2)
    moving = M.moving_keypoints(keypoints, joints, video)
    assert moving.tolist() == [True, True, True, False, False, False]
    assert M.distinct_keypoints(keypoints) == pytest.approx(M.moving_distinct_keypoints(keypoints, moving) + 3, abs=0.5)
    with pytest.raises(ValueError, match="share N"):
        M.moving_keypoints(keypoints[1:], joints, video)


def test_silhouette_statistics_of_a_square():
    frames = torch.full((1, 3, 9, 9), 0.5)
    frames[0, 0, 0:3, 6:9] = 1.0                                     # a saturated 3x3 square, top right
    area, cx, cy, xx, xy, yy = M.silhouette_statistics(frames)[0].tolist()
    assert area == pytest.approx(9 / 81)
    assert cx == pytest.approx(0.75) and cy == pytest.approx(-0.75)  # pixel 7 of 9 -> 0.75 in [-1,1]
    assert xx == pytest.approx(yy) and xx == pytest.approx(2 / 3 * 0.25 ** 2) and xy == pytest.approx(0)
    assert M.silhouette_statistics(torch.full((1, 3, 4, 4), 0.5)).abs().sum() == 0    # no figure: zeros


def test_warp_failure_is_where_the_warped_source_shows_the_wrong_colour():
    driving = torch.zeros(1, 3, 2, 3)
    deformed = driving.clone()
    deformed[0, :, 0, 0] = 0.5                      # wrong by 0.5 in every channel
    deformed[0, 0, 1, 2] = 0.2                      # wrong by 0.2 in one channel: mean 0.067, under 0.1
    assert O.warp_failure(deformed, driving).tolist() == [[[True, False, False], [False, False, False]]]
    assert O.warp_failure(deformed, driving, threshold=0.05)[0, 1, 2]
    torch.testing.assert_close(O.warp_error(deformed, driving)[0, :, 2], torch.tensor([0.0, 0.2 / 3]))
    assert O.warp_error(deformed, driving)[0, 0, 0] == 0.5
    with pytest.raises(ValueError, match=r"deformed \(1, 3, 2, 3\) and driving \(3, 2, 3\)"):
        O.warp_failure(deformed, driving[0])
    with pytest.raises(ValueError, match="warp failure threshold 0: expected a colour error in"):
        O.warp_failure(deformed, driving, threshold=0)


def test_warp_failure_figures_on_a_hand_built_frame():
    failure = torch.tensor([[[True, True, False, False]]])
    truth = torch.tensor([[[True, False, True, False]]])
    foreground = torch.tensor([[[True, True, True, False]]])
    score = torch.tensor([[[0.9, 0.8, 0.1, 0.2]]])            # ranks the failures first
    figures = O.warp_failure_figures(score, failure, truth, foreground)
    assert figures["rate"] == 0.5 and figures["auc"] == 1.0 and figures["auc_foreground"] == 1.0
    assert figures["disocclusion_share"] == 0.5 and figures["failure_share"] == 0.5
    none = O.warp_failure_figures(score, torch.zeros_like(failure), truth, foreground)
    assert none["rate"] == 0.0 and math.isnan(none["failure_share"]) and math.isnan(none["auc"])
