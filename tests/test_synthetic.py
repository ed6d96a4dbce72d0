"""pcutlib.synthetic: rendering, keypoints on the figure, motion, occlusion, determinism."""

import argparse
import hashlib
import re

import numpy as np
import pytest
import torch

from pcutlib import data, synthetic


def nearest_pixels(keypoints, size):
    """(T,J,2) in [-1,1] -> (T,J,2) integer pixel (x, y) indices."""
    return np.rint((keypoints + 1) * (size - 1) / 2).astype(int)


def test_render_shapes_and_determinism():
    video, keypoints = synthetic.render_video(3, 7, frames=5, size=48)
    assert video.shape == (5, 48, 48, 3) and video.dtype == np.uint8
    assert keypoints.shape == (5, len(synthetic.JOINT_NAMES), 2) and keypoints.dtype == np.float32
    assert np.abs(keypoints).max() <= 1
    again = synthetic.render_video(3, 7, frames=5, size=48)
    np.testing.assert_array_equal(video, again[0])
    np.testing.assert_array_equal(keypoints, again[1])
    assert not np.array_equal(video, synthetic.render_video(3, 8, frames=5, size=48)[0])


@pytest.mark.parametrize("seed", range(4))
def test_keypoints_land_on_the_figure(seed):
    size = 64
    video, keypoints = synthetic.render_video(seed, 100 + seed, frames=16, size=size)
    background, same = synthetic.render_video(seed, 100 + seed, frames=16, size=size, draw_figure=False)
    np.testing.assert_array_equal(keypoints, same)
    x, y = np.moveaxis(nearest_pixels(keypoints, size), -1, 0)  # (T,J) each
    inside = (x >= 0) & (x < size) & (y >= 0) & (y < size)
    assert inside.mean() > 0.95
    t = np.broadcast_to(np.arange(len(video))[:, None], x.shape)
    t, x, y = t[inside], x[inside], y[inside]
    difference = np.abs(video[t, y, x].astype(int) - background[t, y, x].astype(int)).max(-1)
    # Chroma rule: fully covered figure pixels differ by >= (110 - 40) / 2 from the background;
    # a few joints may sit under the anti-aliased edge of another limb.
    assert (difference >= 35).mean() > 0.97
    # Far from the figure nothing changes: the figure is the only foreground.
    assert (video == background).all(-1).mean() > 0.5


def test_figure_is_large_and_moves():
    size = 64
    errors, heights = [], []
    for seed in range(6):
        video, keypoints = synthetic.render_video(seed, seed, frames=32, size=size)
        frames = video.astype(np.float32) / 255
        errors.append(np.abs(frames - frames[:1]).mean())
        heights.append((keypoints[..., 1].max(1) - keypoints[..., 1].min(1)).mean() / 2)
    assert 0.45 < np.mean(heights) < 0.75  # joints span about half to 3/4 of the frame height
    assert np.mean(errors) > 0.02  # copying the first frame is a poor reconstruction


def test_arms_cross_and_change_depth():
    identity = synthetic.make_identity(0)
    crossings, depth_flips = 0, 0
    for seed in range(8):
        joints, arm_depth = synthetic.figure_motion(identity, seed, 64)
        depth_flips += int((np.diff(np.sign(arm_depth), axis=0) != 0).any())
        for side, sign in (("right", -1), ("left", 1)):
            # a hand on the other side of the body's midline has crossed the torso
            crossings += int((sign * joints[f"{side}_hand"][:, 0] < 0).any())
    assert depth_flips >= 6 and crossings >= 2


def test_background_is_smooth_unless_striped():
    smooth = synthetic.make_background(0, 64)
    striped = synthetic.make_background(0, 64, stripes=True)
    def gradient(image):
        return np.abs(np.diff(image, axis=0)).mean() + np.abs(np.diff(image, axis=1)).mean()
    assert gradient(smooth) < 3 and gradient(striped) > 8
    assert np.ptp(smooth, axis=-1).max() <= synthetic.BACKGROUND_MAX_CHROMA + 1e-6


def tree_hashes(root):
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_dataset_is_byte_identical_and_loads(tmp_path):
    kwargs = dict(videos=6, frames=4, size=32, seed=5, identities=3, progress=False)
    first = synthetic.make_synthetic_dataset(tmp_path / "a", **kwargs)
    second = synthetic.make_synthetic_dataset(tmp_path / "b", **kwargs)
    hashes = tree_hashes(first)
    assert hashes == tree_hashes(second)
    other = synthetic.make_synthetic_dataset(tmp_path / "c", **{**kwargs, "seed": 6})
    assert hashes != tree_hashes(other)
    names = sorted(p.name for p in (first / "train").iterdir()) + sorted(p.name for p in (first / "test").iterdir())
    assert all(re.fullmatch(r"id\d{3}#video\d{4}(\.png|\.keypoints\.npy)", n) for n in names)
    assert len(names) == 12 and all(n.startswith("id002") for n in (p.name for p in (first / "test").iterdir()))

    train = data.FramesDataset(first, frame_shape=(32, 32, 3), id_sampling=True)
    assert len(train) == 2  # identities 0 and 1
    item = train[0]
    assert item["source"].shape == (3, 32, 32) and item["source_keypoints"].shape == (14, 2)
    test = data.FramesDataset(first, frame_shape=(32, 32, 3), is_train=False)
    item = test[0]
    video, keypoints = synthetic.render_video(synthetic._seed(5, 0, 2), synthetic._seed(5, 1, 2), 4, 32)
    assert item["name"] == "id002#video0002.png"
    np.testing.assert_array_equal((item["video"] * 255).round().byte().permute(0, 2, 3, 1).numpy(), video)
    torch.testing.assert_close(item["keypoints"], torch.from_numpy(keypoints))


def test_dataset_refuses_to_mix_with_existing_files(tmp_path):
    kwargs = dict(videos=2, frames=3, size=16, progress=False)
    synthetic.make_synthetic_dataset(tmp_path, **kwargs)
    with pytest.raises(FileExistsError, match=str(tmp_path.name)):
        synthetic.make_synthetic_dataset(tmp_path, **kwargs)
    synthetic.make_synthetic_dataset(tmp_path, overwrite=True, **{**kwargs, "videos": 3})
    assert len(list(tmp_path.rglob("*.png"))) == 3
    with pytest.raises(ValueError, match="identities"):
        synthetic.make_synthetic_dataset(tmp_path / "x", videos=2, identities=1, progress=False)


def test_command_line_helpers(tmp_path, capsys):
    parser = synthetic.add_make_synthetic_arguments(argparse.ArgumentParser())
    args = parser.parse_args(["--out", str(tmp_path / "s"), "--videos", "4", "--frames", "3",
                              "--size", "16", "--seed", "2", "--no-progress"])
    assert synthetic.run_make_synthetic(args) == 0
    assert len(list((tmp_path / "s").rglob("*.png"))) == 4
    assert "4 synthetic videos" in capsys.readouterr().out
