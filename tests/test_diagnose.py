"""pcutlib.evaluation.diagnose: each measure on hand-made cases, then the whole diagnosis and command."""
import json
import math

import pytest
import torch
from conftest import tiny_synthetic_world

from pcutlib.checkpoints.files import save_models
from pcutlib.cli import main
from pcutlib.data.video_io import read_video
from pcutlib.evaluation import diagnose as D
from pcutlib.evaluation import motion_measures as M
from pcutlib.evaluation.metrics import roc_auc
from pcutlib.models.build import Models, build_models
from pcutlib.models.unet_discriminator import UNetDiscriminator


def test_distinct_keypoints_counts_isolated_points():
    collapsed = torch.zeros(4, 10, 2)
    assert M.distinct_keypoints(collapsed) == 0
    spread = torch.stack(torch.meshgrid(torch.linspace(-0.8, 0.8, 5), torch.tensor([-0.5, 0.5]),
                                        indexing="ij"), -1).reshape(1, 10, 2)
    assert M.distinct_keypoints(spread) == 10
    pair_and_loner = torch.tensor([[[0.0, 0.0], [0.05, 0.0], [0.9, 0.9]]])
    assert M.distinct_keypoints(pair_and_loner) == 1
    with pytest.raises(ValueError, match=r"\(N,K,2\)"):
        M.distinct_keypoints(torch.zeros(3, 2))


def test_linear_probe_recovers_a_linear_map_and_beats_the_mean_pose():
    generator = torch.Generator().manual_seed(0)
    joints = torch.rand(200, 4, 2, generator=generator) * 2 - 1
    mixing = torch.randn(8, 8, generator=generator)
    keypoints = (joints.flatten(1) @ mixing).view(200, 4, 2)          # keypoints: an invertible linear view
    result = M.linear_probe_error(keypoints[:150], joints[:150], keypoints[150:], joints[150:], image_size=64)
    assert result["probe_px"] < 1 < 10 < result["mean_pose_px"]      # the small ridge costs a little


def test_roc_auc_matches_pairwise_counting():
    generator = torch.Generator().manual_seed(1)
    scores = torch.randint(0, 5, (300,), generator=generator).double()     # many ties
    labels = torch.rand(300, generator=generator) < 0.3
    positive, negative = scores[labels], scores[~labels]
    pairs = (positive[:, None] > negative[None]).double() + 0.5 * (positive[:, None] == negative[None]).double()
    assert roc_auc(scores, labels) == pytest.approx(pairs.mean().item(), rel=1e-12)
    assert roc_auc(torch.arange(4.0), torch.tensor([0, 0, 1, 1]).bool()) == 1.0
    assert roc_auc(-torch.arange(4.0), torch.tensor([0, 0, 1, 1]).bool()) == 0.0
    assert math.isnan(roc_auc(torch.arange(4.0), torch.zeros(4).bool()))


def test_silhouette_iou_uses_the_colour_rule():
    grey = torch.full((1, 3, 8, 8), 0.5)
    figure = grey.clone()
    figure[:, 0, 2:6, 2:6] = 1.0                    # a saturated 4x4 square
    assert M.figure_pixels(figure).sum() == 16 and M.figure_pixels(grey).sum() == 0
    shifted = grey.clone()
    shifted[:, 0, 2:6, 4:8] = 1.0                   # half overlapping
    assert M.silhouette_iou(figure, figure) == 1.0
    assert M.silhouette_iou(shifted, figure) == pytest.approx(8 / 24)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root, config = tiny_synthetic_world(tmp_path_factory.mktemp("diagnose-data"), seed=11)
    torch.manual_seed(0)
    models = build_models(config["model_params"], with_discriminator=True).eval()
    checkpoint = root.parent / "tiny.pt"
    save_models(checkpoint, models, config)
    return root, models, checkpoint


def test_diagnose_computes_every_figure_with_ground_truth(tiny):
    root, models, _ = tiny
    assert isinstance(models.discriminator, UNetDiscriminator)
    result = D.diagnose(models, root, progress=False)
    assert result.videos == 4 and result.num_keypoints == 3 and result.skipped == []
    for name, value in result.to_dict().items():
        if name in ("occlusion_auc_figure", "occlusion_auc_core", "mask_figure_recall", "warp_error_auc_figure",
                    "revealed_auc_figure", "revealed_warp_auc_figure"):
            continue            # 4-frame videos at 32 px: the figure may dis-occlude nothing of itself
        if name == "occlusion_auc_by_mask":
            assert value is None        # FOMM has one occlusion map (TPSMM's several: tests/test_backbones.py)
            continue
        assert value is not None and (not isinstance(value, float) or math.isfinite(value)), name
    assert 0 <= result.occlusion_auc <= 1 and 0 <= result.silhouette_iou <= 1
    assert result.top_k_percent == 10 and result.mask_lift == result.mask_precision / result.mask_chance
    shares = result.disocclusion_background_share + result.disocclusion_figure_share
    assert shares == pytest.approx(1.0)
    without = D.diagnose(Models(models.kp_detector, models.generator), root, progress=False)
    assert without.d_pixel_auc_true_disocclusion is None and without.occlusion_auc == result.occlusion_auc
    assert without.skipped == ["discriminator figures: no discriminator given (none in the checkpoint, or the model was loaded without it)"]
    # the copy baseline of reconstruction is exactly "first frame for every frame"
    videos = [torch.from_numpy(read_video(p)).permute(0, 3, 1, 2) for p in sorted((root / "test").glob("*.png"))]
    copy_l1 = torch.cat([(v[:1] - v).abs() for v in videos]).mean().item()
    assert result.copy_reconstruction_l1 == pytest.approx(copy_l1, rel=1e-5)
    table = D.format_diagnosis(result)
    assert "distinct keypoints (of 3)" in table and "mean pose" in table


def test_the_revealed_label_with_the_warp_error_is_scored_as_the_sum_of_its_two_parts(tiny):
    """revealed_warp_*: the strata and lift of revealed_score + warp_error, the score of the label
    that train_params.occlusion_revealed_warp_error trains O on."""
    from pcutlib.evaluation.occlusion_truth import occlusion_auc_strata
    from pcutlib.models.revealed_pixels import revealed_score
    from pcutlib.prioritycut import RegularizerConfig

    root, models, _ = tiny
    result = D.diagnose(models, root, progress=False)
    parts = D._reconstruct_split(models, D.load_split(root, "test", None, None), RegularizerConfig(), False)
    joined = revealed_score(torch.cat(parts["range"]), torch.cat(parts["rule"])) + torch.cat(parts["warp_error"])
    strata = occlusion_auc_strata(joined, *(torch.cat(parts[key]) for key in ("truth", "figure", "foreground", "video")))
    assert result.revealed_warp_auc == pytest.approx(strata["pooled"])
    assert result.revealed_warp_auc_foreground == pytest.approx(strata["foreground"])
    assert result.revealed_warp_auc != pytest.approx(result.revealed_auc)
    assert "revealed pixels + warp error vs dis-occlusion" in D.format_diagnosis(result)


@pytest.mark.parametrize("max_videos", [0, -1])
def test_a_video_count_below_one_is_refused_by_name(tiny, max_videos):
    """load_split (pcut diagnose --max-videos, pcut calibrate --max-videos): 0 or -1 videos is an
    error naming the value, not an empty split or every video but the last."""
    root, _, _ = tiny
    assert len(D.load_split(root, "test", None, 1)) == 1
    with pytest.raises(ValueError, match=f"max_videos must be at least 1 .*got {max_videos}"):
        D.load_split(root, "test", None, max_videos)


class _Replaced(torch.nn.Module):
    """The tiny generator with its prediction replaced by ``pick(source_image, its outputs)``."""

    def __init__(self, generator, pick):
        super().__init__()
        self.generator, self.pick = generator, pick

    def forward(self, source_image, **kwargs):
        out = self.generator(source_image, **kwargs)
        prediction = self.pick(source_image, out)
        return {**out, "prediction": prediction}


def test_the_silhouette_iou_is_split_into_the_warp_and_the_decoder_at_rest(tiny):
    """warped_source_silhouette_iou is the IoU of the generator's 'deformed' image (a generator whose
    prediction is that image scores the same in both rows); silhouette_iou_at_rest drives each frame
    by itself (a generator that copies its source scores exactly 1 there, and the copy baseline
    in the main row); a generator without 'deformed' gets the row skipped with the reason."""
    root, models, _ = tiny
    result = D.diagnose(models, root, progress=False)
    assert 0 <= result.warped_source_silhouette_iou <= 1 and 0 <= result.silhouette_iou_at_rest <= 1   # untrained
    warp_only = Models(models.kp_detector, _Replaced(models.generator, lambda source, out: out["deformed"]))
    warped = D.diagnose(warp_only, root, progress=False)
    assert warped.silhouette_iou == warped.warped_source_silhouette_iou == result.warped_source_silhouette_iou
    copying = Models(models.kp_detector, _Replaced(models.generator, lambda source, out: source))
    copied = D.diagnose(copying, root, progress=False)
    assert copied.silhouette_iou_at_rest == 1.0 and copied.silhouette_iou == copied.copy_silhouette_iou

    def without_deformed(source, out):
        out.pop("deformed")
        return out["prediction"]
    bare = D.diagnose(Models(models.kp_detector, _Replaced(models.generator, without_deformed)), root, progress=False)
    assert bare.warped_source_silhouette_iou is None and bare.silhouette_iou == result.silhouette_iou
    assert any("warped source's IoU" in reason for reason in bare.skipped)
    table = D.format_diagnosis(result)
    assert "  the warped source alone" in table and "  at rest (driving = source)" in table


def test_the_silhouette_loss_is_split_by_part_and_each_joint_gets_its_nearest_keypoint(tiny):
    """diagnose fills silhouette_loss_by_part (rows adding up to 1 - the pooled IoU, the warp's
    misses beside the prediction's) and nearest_keypoint_px (every joint), and prints both."""
    from pcutlib.data.synthetic import JOINT_NAMES
    from pcutlib.prioritycut import RegularizerConfig
    root, models, _ = tiny
    result = D.diagnose(models, root, progress=False)
    loss = result.silhouette_loss_by_part
    total = sum(row["missed"] + row["ghost"] for row in loss["parts"].values())
    assert total == pytest.approx(1 - loss["pooled_iou"], abs=1e-9) and "torso" in loss["parts"]
    assert all(row["warp_missed_share"] is not None for name, row in loss["parts"].items() if row["pixels"])
    assert list(result.nearest_keypoint_px) == list(JOINT_NAMES)
    parts = D._reconstruct_split(models, D.load_split(root, "test", None, None), RegularizerConfig(), False)
    keypoints = torch.cat(parts["keypoints"])
    joints = torch.cat([joints for _, _, joints, _ in D.load_split(root, "test", None, None)])
    for j, name in enumerate(JOINT_NAMES):           # brute force: every frame's nearest keypoint, averaged
        nearest = [min(float((keypoints[n, k] - joints[n, j]).norm()) for k in range(keypoints.shape[1]))
                   for n in range(len(keypoints))]
        assert result.nearest_keypoint_px[name] == pytest.approx(sum(nearest) / len(nearest) * 31 / 2)
    printed = D.format_diagnosis(result)
    assert f"model: the pooled IoU {loss['pooled_iou']:.3f} loses most on " in printed
    assert "model: joints farthest from any keypoint (px): " in printed


def test_diagnose_names_what_it_skipped(tiny, tmp_path):
    root, models, _ = tiny
    stripped = tmp_path / "no-truth"
    for split in ("train", "test"):
        (stripped / split).mkdir(parents=True)
        for path in (root / split).iterdir():
            if path.suffix == ".png":                         # videos only: no keypoints, no truth
                (stripped / split / path.name).write_bytes(path.read_bytes())
    result = D.diagnose(models, stripped, progress=False)
    assert result.probe_px is None and result.occlusion_auc is None and result.animation_l1 is None
    reasons = " ".join(result.skipped)
    assert "keypoint probe" in reasons and "X.keypoints.npy" in reasons and "X.truth.npz" in reasons
    assert "the IoU by part: 4 of 4 test videos have no label maps" in reasons and "so none is measured" in reasons
    assert "the joints' nearest keypoints: some test videos have no X.keypoints.npy" in reasons
    assert result.silhouette_loss_by_part is None and result.nearest_keypoint_px is None
    assert math.isfinite(result.silhouette_iou)


def test_diagnose_command(tiny, tmp_path, capsys):
    root, _, checkpoint = tiny
    out, figure = tmp_path / "d.json", tmp_path / "figure.png"
    page = tmp_path / "page.md"
    page.write_text("before\n<!-- ingredients:start -->\nold\n<!-- ingredients:end -->\nafter\n")
    assert main(["diagnose", "--checkpoint", str(checkpoint), "--data", str(root), "--json", str(out),
                 "--figure", str(figure), "--readme", str(page), "--no-progress"]) == 0
    assert figure.stat().st_size > 5000
    written = page.read_text()
    assert written.startswith("before\n<!-- ingredients:start -->\n| ingredient | measure | tiny.pt |")
    assert "old" not in written and written.endswith("<!-- ingredients:end -->\nafter\n")
    page.write_text(written + "<!-- textured:start -->\nold\n<!-- textured:end -->\n")    # a second model's table
    assert main(["diagnose", "--checkpoint", str(checkpoint), "--data", str(root), "--readme", str(page),
                 "--readme-section", "textured", "--no-progress", "--max-videos", "2"]) == 0
    assert page.read_text().startswith(written) and "old" not in page.read_text()
    assert "<!-- textured:start -->\n| ingredient | measure | tiny.pt |" in page.read_text()
    with pytest.raises(ValueError, match="readme section 'a b'"):
        D.ingredients_markers("a b")
    printed = capsys.readouterr().out
    assert "silhouette IoU vs driving" in printed and "animation L1" in printed
    assert json.loads(out.read_text())["videos"] == 4
    probe = tmp_path / "not-a-model.pt"
    torch.save({"kind": "pose", "state_dict": {}}, probe)
    assert main(["diagnose", "--checkpoint", str(probe), "--data", str(root)]) == 2
    assert "not a pcut checkpoint" in capsys.readouterr().err


def test_targets_say_met_and_missed_and_changes_read_naturally():
    from pcutlib.evaluation.diagnose import Diagnosis
    from pcutlib.evaluation.targets import relative_change, targets_line
    from pcutlib.experiments.demo import demo_recipe, demo_verdict

    good = Diagnosis(videos=4, num_keypoints=10, distinct_keypoints=9.0, moving_distinct_keypoints=9.0, probe_px=1.0,
                     mean_pose_px=5.0, silhouette_probe_px=2.7, silhouette_iou=0.9, copy_silhouette_iou=0.4,
                     occlusion_at_rest=0.99, occlusion_auc_foreground=0.85, occlusion_auc_figure=0.8, mask_lift=3.0,
                     reconstruction_l1=0.02, copy_reconstruction_l1=0.05, animation_l1=0.02, copy_animation_l1=0.05)
    assert targets_line("m", good) == "m: targets met 9 of 9 (all met); not measured: d_pixel_auc_true_disocclusion"
    bad = Diagnosis(**{**good.to_dict(), "moving_distinct_keypoints": 7.7, "animation_l1": 0.04, "probe_px": 3.0,
                       "occlusion_auc_figure": None})
    line = targets_line("m", bad)
    assert line.startswith("m: targets met 4 of 8; missed: moving_distinct_keypoints 7.7 (target >= 8 of 10), "
                           "probe_px 3 (target <= 2.5), probe_px 3 (target <= silhouette probe), ")
    assert "animation_l1 0.04 (target <= 0.6 x copy)" in line
    assert line.endswith("not measured: d_pixel_auc_true_disocclusion, occlusion_auc_figure")
    near = targets_line("m", Diagnosis(**{**good.to_dict(), "silhouette_iou": 0.84977}))
    assert "missed: silhouette_iou 0.8498 (target >= 0.85)" in near       # never rounded onto its bound
    assert relative_change(0.0318, 0.05) == "36.4% below" and relative_change(0.0682, 0.05) == "36.4% above"
    verdict = demo_verdict(0.03, 0.05, bad, 25.0, demo_recipe()["targets"])
    lines = verdict.splitlines()     # met: held-out L1 40% below copy, IoU 0.9; missed: animation, keypoints, time
    assert lines[0] == "demo targets: 2 of 5 met"
    assert "20.0%" in lines[2] and "MISSED" in lines[2]                                 # animation L1 0.04 of 0.05
    assert "MISSED" in lines[3] and lines[4].endswith("met")
    assert "MISSED" in lines[5] and "25.0 min" in lines[5]                              # wall time over 15
