"""pcutlib.experiments.occlusion_bound: the oracle's pieces on hand-made cases, then the command."""
import copy
import json

import numpy as np
import pytest
import torch
from conftest import tiny_synthetic_world

from pcutlib.checkpoints.files import save_models
from pcutlib.cli import main
from pcutlib.data.synthetic_truth import disocclusion
from pcutlib.experiments import occlusion_bound as B
from pcutlib.models.build import build_models


def test_visible_target_is_the_visible_share_of_each_area():
    truth = torch.zeros(1, 4, 4, dtype=torch.bool)
    truth[0, :2, :2] = True                     # the top-left 2x2 block hidden in the source
    truth[0, 2, 2] = True                       # one pixel of the bottom-right block
    target = B.visible_target(truth, (2, 2))
    assert target.shape == (1, 1, 2, 2)
    assert target[0, 0].tolist() == [[0.0, 1.0], [1.0, 0.75]]


def test_balanced_bce_weighs_the_two_classes_equally():
    target = torch.tensor([0.0, 1.0, 1.0, 1.0]).view(1, 1, 2, 2)
    occlusion_map = torch.tensor([0.5, 0.9, 0.9, 0.9]).view(1, 1, 2, 2)
    expected = 0.5 * -np.log(0.5) + 0.5 * -np.log(0.9)
    assert float(B.balanced_bce(occlusion_map, target)) == pytest.approx(expected, rel=1e-5)
    everything_visible = torch.ones(1, 1, 2, 2)
    assert float(B.balanced_bce(occlusion_map, everything_visible)) == pytest.approx(
        float(-torch.log(occlusion_map).mean()), rel=1e-5)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root, config = tiny_synthetic_world(tmp_path_factory.mktemp("bound-data"), seed=5)
    torch.manual_seed(0)
    models = build_models(config["model_params"]).eval()
    checkpoint = root.parent / "tiny.pt"
    save_models(checkpoint, models, config)
    return root, models, checkpoint


def test_pairs_are_two_frames_of_one_video_with_their_truth(tiny):
    root, models, _ = tiny
    videos = B.training_videos(root, None, models.kp_detector)
    assert len(videos) == 4
    source, kp_source, kp_driving, truth = B.sample_pairs(videos, 6, np.random.default_rng(0))
    assert source.shape == (6, 3, 32, 32) and truth.shape == (6, 32, 32) and truth.dtype == torch.bool
    assert kp_source["value"].shape == kp_driving["value"].shape == (6, 3, 2)
    assert set(kp_source) == set(kp_driving) == {"value", "jacobian"}
    rng = np.random.default_rng(0)                      # the same draws, replayed by hand
    for row in range(6):
        frames, keypoints, video_truth = videos[rng.integers(len(videos))]
        s, d = rng.choice(len(frames), size=2, replace=False)
        assert s != d and torch.equal(source[row], frames[s])
        assert torch.equal(kp_driving["value"][row], keypoints["value"][d])
        assert np.array_equal(truth[row].numpy(), disocclusion(video_truth.labels[s], video_truth.part_frames[s],
                                                               video_truth.labels[d], video_truth.part_frames[d]))


def test_the_head_trains_alone_and_the_dense_motion_network_trains_whole(tiny):
    root, models, _ = tiny
    videos = B.training_videos(root, None, models.kp_detector)
    for part, trained_prefix in (("head", "dense_motion_network.occlusion."), ("dense-motion", "dense_motion_network.")):
        trained = copy.deepcopy(models)
        before = {name: value.clone() for name, value in trained.generator.state_dict().items()}
        detector = {name: value.clone() for name, value in trained.kp_detector.state_dict().items()}
        losses = B.train_occlusion(trained, videos, part, steps=3, batch_size=2, progress=False)
        assert len(losses) == 3 and all(np.isfinite(losses))
        changed = {name for name, value in trained.generator.state_dict().items() if not torch.equal(value, before[name])}
        assert changed and all(name.startswith(trained_prefix) for name in changed), (part, changed)
        assert "dense_motion_network.occlusion.weight" in changed
        if part == "dense-motion":
            assert any(name.startswith("dense_motion_network.hourglass.") for name in changed)
        assert all(torch.equal(value, detector[name]) for name, value in trained.kp_detector.state_dict().items())
    with pytest.raises(ValueError, match="part 'flow': expected one of head, dense-motion"):
        B.trainable_parameters(models, "flow")


def test_the_command_writes_the_table_beside_its_references(tiny, tmp_path, capsys):
    root, _, checkpoint = tiny
    out = tmp_path / "bound"
    assert main(["occlusion-bound", "--checkpoint", str(checkpoint), "--data", str(root), "--check-data", str(root),
                 "--steps", "2", "--batch-size", "2", "--out", str(out), "--no-progress"]) == 0
    record = json.loads((out / "occlusion_bound.json").read_text())
    assert list(record["rows"]) == ["as trained (the reconstruction loss alone)", "head trained on the truth (oracle)",
                                    "dense-motion trained on the truth (oracle)"]
    assert all(0 <= row["occlusion_auc"] <= 1 for row in record["rows"].values())
    table = (out / "occlusion_bound.md").read_text()
    assert "| no-model rule (driving vs source) |" in table and "| the model's warp error" in table
    assert f"{record['rows']['as trained (the reconstruction loss alone)']['rule_auc']:.3f}" in table
    assert "written:" in capsys.readouterr().out


def test_the_oracle_refuses_a_world_without_truth(tiny, tmp_path):
    root, models, _ = tiny
    stripped = tmp_path / "no-truth" / "train"
    stripped.mkdir(parents=True)
    for path in (root / "train").glob("*.png"):
        (stripped / path.name).write_bytes(path.read_bytes())
    with pytest.raises(ValueError, match="no-truth'/train holds no video .* X.truth.npz"):
        B.training_videos(stripped.parent, None, models.kp_detector)
