"""The probes learn the synthetic ground truth quickly, and save/load exactly."""
import pytest
import torch

from pcutlib.data.make_synthetic import make_synthetic_dataset
from pcutlib.evaluation import metrics, probes

FAST = dict(batch_size=16, channels=8, progress=False)


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def synthetic_root(tmp_path_factory):
    # 4 identities: 3 in train/ (9 videos), 1 unseen in test/ (3 videos); 8 frames each.
    root = tmp_path_factory.mktemp("synthetic")
    return make_synthetic_dataset(root, videos=12, frames=8, size=64, seed=0, identities=4,
                                  progress=False, overwrite=True)


@pytest.fixture(scope="module")
def train_frames(synthetic_root):
    return probes.collect_frames(synthetic_root, "train")


@pytest.fixture(scope="module")
def pose_probe(train_frames):
    torch.manual_seed(0)
    return probes.train_pose_probe(train_frames, steps=150, **FAST)


def test_collect_frames_reads_videos_keypoints_and_names(train_frames):
    assert train_frames.frames.shape == (72, 3, 64, 64)
    assert train_frames.keypoints.shape == (72, 14, 2)
    assert train_frames.names[0] == "id000#video0000.png" and len(train_frames.names) == 72


def test_heatmap_grid_puts_cells_at_their_pixel_centres():
    grid = probes.heatmap_grid(16, 64)  # cell i covers pixels 4i..4i+3, centre 4i + 1.5
    assert grid[0, 0].tolist() == pytest.approx([2 * 1.5 / 63 - 1] * 2)
    assert grid[0, 15, 0].item() == pytest.approx(2 * 61.5 / 63 - 1)  # x along columns
    assert grid[15, 0, 1].item() == pytest.approx(2 * 61.5 / 63 - 1)  # y along rows


def test_pose_probe_outputs():
    probe = probes.PoseProbe(num_joints=5, channels=4).eval()
    out = probe(torch.rand(2, 3, 64, 64))
    assert out["heatmap"].shape == (2, 5, 16, 16)
    assert torch.allclose(out["heatmap"].sum(dim=(2, 3)), torch.ones(2, 5))
    assert out["value"].shape == (2, 5, 2) and out["value"].abs().max() <= 1
    assert out["confidence"].shape == (2, 5)
    assert ((out["confidence"] > 0) & (out["confidence"] <= 1 + 1e-6)).all()
    keypoints, found = probe.detect(torch.rand(3, 3, 32, 32), threshold=0.0)  # resized to 64
    assert keypoints.shape == (3, 5, 2) and found.dtype == torch.bool and found.all()


@pytest.mark.slow
def test_pose_probe_learns_the_joints(pose_probe, train_frames, synthetic_root):
    assert pose_probe.train_seconds < 60
    shuffle = torch.randperm(len(train_frames), generator=torch.Generator().manual_seed(1))
    keypoints, confidence = pose_probe.predict(train_frames.frames)
    akd = metrics.average_keypoint_distance(keypoints, train_frames.keypoints, 64)
    akd_shuffled = metrics.average_keypoint_distance(keypoints, train_frames.keypoints[shuffle], 64)
    assert akd < 0.5 * akd_shuffled, (akd, akd_shuffled)
    assert confidence.mean() > 0.5  # sharp peaks on real frames: few joints "missing"
    # Figures it has never seen (the test identity) too, if less precisely.
    unseen = probes.collect_frames(synthetic_root, "test")
    keypoints, _ = pose_probe.predict(unseen.frames)
    shuffle = torch.randperm(len(unseen), generator=torch.Generator().manual_seed(1))
    akd = metrics.average_keypoint_distance(keypoints, unseen.keypoints, 64)
    akd_shuffled = metrics.average_keypoint_distance(keypoints, unseen.keypoints[shuffle], 64)
    assert akd < 0.75 * akd_shuffled, (akd, akd_shuffled)


def test_identity_probe_beats_chance_on_held_out_videos(train_frames):
    # Hold out the last video of each of the 3 identities; train on the other 6 videos.
    held_out = {"id000#video0008.png", "id001#video0009.png", "id002#video0010.png"}
    mask = torch.tensor([name in held_out for name in train_frames.names])
    subset = lambda keep: probes.LabelledFrames(  # noqa: E731
        train_frames.frames[keep], None, [n for n, k in zip(train_frames.names, keep.tolist()) if k])
    torch.manual_seed(0)
    probe = probes.train_identity_probe(subset(~mask), steps=60, **FAST)
    assert probe.config["identities"] == ["id000", "id001", "id002"]
    assert probe.train_seconds < 60
    accuracy = probes.identity_accuracy(probe, subset(mask))
    assert accuracy > 1 / 3 + 0.2, accuracy  # chance: 1/3
    assert probe.embeddings(train_frames.frames[:4]).shape == (4, 64)


def test_identity_names_must_carry_an_identity():
    with pytest.raises(ValueError, match="'clip.png' carries no identity"):
        probes.identities_of(["id000#video0001.png", "clip.png"])


def test_probes_save_and_load_exactly(tmp_path):
    pose = probes.PoseProbe(num_joints=3, channels=4).eval()
    identity = probes.IdentityProbe(identities=["id000", "id001"], channels=4, embedding_dim=8).eval()
    frames = torch.rand(2, 3, 64, 64)
    for name, probe in (("pose", pose), ("identity", identity)):
        probes.save_probe(tmp_path / f"{name}.pt", probe)
        loaded = probes.load_probe(tmp_path / f"{name}.pt", kind=name)
        assert type(loaded) is type(probe) and loaded.config == probe.config
        for key, value in probe(frames).items():
            assert torch.equal(loaded(frames)[key], value)
    with pytest.raises(ValueError, match="holds a pose probe, but a identity probe"):
        probes.load_probe(tmp_path / "pose.pt", kind="identity")
