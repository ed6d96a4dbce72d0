"""pcutlib.data.synthetic: rendering, keypoints on the figure, motion, occlusion, determinism."""

import argparse
import hashlib
import re

import numpy as np
import pytest
import torch

from pcutlib.data import datasets as data
from pcutlib.data import make_synthetic, part_frames, synthetic, synthetic_truth, video_io


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


def test_arms_pass_over_the_torso_and_change_depth():
    identity = synthetic.make_identity(0)
    crossings, over_torso, depth_flips = {}, 0, 0
    for limb_motion in (1.0, synthetic.LIMB_MOTION):
        crossings[limb_motion] = 0
        for seed in range(8):
            motion = synthetic.draw_motion(seed, 64, limb_motion)
            joints = synthetic.pose_joints(identity, motion)
            depth_flips += int((np.diff(np.sign(motion.arm_depth), axis=0) != 0).any())
            for side, sign in (("right", -1), ("left", 1)):
                x = sign * joints[f"{side}_hand"][:, 0]       # > 0: on the hand's own side
                crossings[limb_motion] += int((x < 0).any())   # crossed the body's midline
                if limb_motion == synthetic.LIMB_MOTION:
                    over_torso += int((x < identity.torso_radius).any())   # the hand in front of / behind the torso
    assert depth_flips >= 12
    assert crossings[1.0] >= 2                   # the full swing crosses the midline
    assert over_torso >= 4                       # the default swing still takes hands over the torso


def test_background_is_smooth_unless_striped():
    smooth = synthetic.make_background(0, 64)
    striped = synthetic.make_background(0, 64, stripes=True)
    def gradient(image):
        return np.abs(np.diff(image, axis=0)).mean() + np.abs(np.diff(image, axis=1)).mean()
    assert gradient(smooth) < 3 and gradient(striped) > 8
    assert np.ptp(smooth, axis=-1).max() <= synthetic.BACKGROUND_MAX_CHROMA + 1e-6


def test_background_grain_is_fine_seeded_and_keeps_the_colour_rule():
    smooth = synthetic.make_background(3, 64)
    grained = synthetic.make_background(3, 64, grain_sd=20)
    grain = (grained - smooth)[..., 0]                      # luminance only: the same in every channel
    np.testing.assert_allclose(grained - smooth, np.repeat(grain[..., None], 3, -1), atol=1e-9)
    assert 17 < grain.std() < 21                           # sd 20 before clipping at 0 and 255
    neighbours = np.corrcoef(grain[:, :-1].ravel(), grain[:, 1:].ravel())[0, 1]
    far = np.corrcoef(grain[:, :-8].ravel(), grain[:, 8:].ravel())[0, 1]
    assert neighbours > 0.5 and abs(far) < 0.15            # grains of a few pixels, no long-range pattern
    assert np.ptp(grained, axis=-1).max() <= synthetic.BACKGROUND_MAX_CHROMA + 1e-6
    np.testing.assert_array_equal(grained, synthetic.make_background(3, 64, grain_sd=20))
    assert np.abs(synthetic.make_background(4, 64, grain_sd=20) - grained).mean() > 5
    with pytest.raises(ValueError, match="background_texture must be in"):
        synthetic.World(background_texture=-1)


def test_a_coarser_grain_keeps_its_sd_and_grows_its_grains():
    smooth = synthetic.make_background(3, 64)
    fine = (synthetic.make_background(3, 64, grain_sd=20) - smooth)[..., 0]
    coarse = (synthetic.make_background(3, 64, grain_sd=20, grain_scale=3) - smooth)[..., 0]
    assert 17 < coarse.std() < 21
    def correlation(grain, shift):
        return np.corrcoef(grain[:, :-shift].ravel(), grain[:, shift:].ravel())[0, 1]
    # the correlation length triples: 3 px apart the coarse grain still looks like its neighbour
    assert correlation(coarse, 3) > 0.6 > correlation(fine, 3)
    world = synthetic.World(background_texture=20, background_grain_scale=3)
    np.testing.assert_array_equal(synthetic.world_background(3, 64, False, world),
                                  synthetic.make_background(3, 64, grain_sd=20, grain_scale=3))
    with pytest.raises(ValueError, match="background_grain_scale must be in .* got 0.1"):
        synthetic.World(background_grain_scale=0.1)


def tree_hashes(root):
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_dataset_is_byte_identical_and_loads(tmp_path):
    kwargs = dict(videos=6, frames=4, size=32, seed=5, identities=3, progress=False)
    first = make_synthetic.make_synthetic_dataset(tmp_path / "a", **kwargs)
    second = make_synthetic.make_synthetic_dataset(tmp_path / "b", **kwargs)
    hashes = tree_hashes(first)
    assert hashes == tree_hashes(second)
    other = make_synthetic.make_synthetic_dataset(tmp_path / "c", **{**kwargs, "seed": 6})
    assert hashes != tree_hashes(other)
    names = sorted(p.name for p in (first / "train").iterdir()) + sorted(p.name for p in (first / "test").iterdir())
    assert all(re.fullmatch(r"id\d{3}#video\d{4}(\.png|\.keypoints\.npy|\.truth\.npz)", n) for n in names)
    assert len(names) == 18 and all(n.startswith("id002") for n in (p.name for p in (first / "test").iterdir()))

    train = data.FramesDataset(first, frame_shape=(32, 32, 3), id_sampling=True)
    assert len(train) == 2  # identities 0 and 1
    item = train[0]
    assert item["source"].shape == (3, 32, 32) and item["source_keypoints"].shape == (14, 2)
    test = data.FramesDataset(first, frame_shape=(32, 32, 3), is_train=False)
    item = test[0]
    video, keypoints = synthetic.render_video(make_synthetic._seed(5, 0, 2), make_synthetic._seed(5, 1, 2), 4, 32)
    assert item["name"] == "id002#video0002.png"
    np.testing.assert_array_equal((item["video"] * 255).round().byte().permute(0, 2, 3, 1).numpy(), video)
    torch.testing.assert_close(item["keypoints"], torch.from_numpy(keypoints))


def test_dataset_refuses_to_mix_with_existing_files(tmp_path):
    kwargs = dict(videos=2, frames=3, size=16, progress=False)
    make_synthetic.make_synthetic_dataset(tmp_path, **kwargs)
    with pytest.raises(FileExistsError, match=str(tmp_path.name)):
        make_synthetic.make_synthetic_dataset(tmp_path, **kwargs)
    make_synthetic.make_synthetic_dataset(tmp_path, overwrite=True, **{**kwargs, "videos": 3})
    assert len(list(tmp_path.rglob("*.png"))) == 3
    with pytest.raises(ValueError, match="identities"):
        make_synthetic.make_synthetic_dataset(tmp_path / "x", videos=2, identities=1, progress=False)


def test_command_line_helpers(tmp_path, capsys):
    parser = make_synthetic.add_make_synthetic_arguments(argparse.ArgumentParser())
    args = parser.parse_args(["--out", str(tmp_path / "s"), "--videos", "4", "--frames", "3",
                              "--size", "16", "--seed", "2", "--no-progress"])
    assert make_synthetic.run_make_synthetic(args) == 0
    assert len(list((tmp_path / "s").rglob("*.png"))) == 4
    assert "4 synthetic videos" in capsys.readouterr().out


# ----------------------------------------------------------------------------- ground truth

def test_labels_mark_the_figure():
    identity = synthetic.make_identity(1)
    motion = synthetic.draw_motion(4, 8)
    background = synthetic.make_background(4, 64)
    rendering = synthetic.render(identity, motion, background)
    figure = rendering.labels != synthetic.BACKGROUND_LABEL
    chroma = np.ptp(rendering.frames.astype(int), axis=-1)
    # every labelled pixel is at least half covered: far above the background's chroma
    assert (chroma[figure] > synthetic.BACKGROUND_MAX_CHROMA).all()
    # and every pixel untouched by the figure is labelled background
    untouched = (rendering.frames == np.round(background).astype(np.uint8)).all(-1)
    assert not (figure & untouched).any()
    assert figure.mean() > 0.05
    # the head is painted on top of the torso: no pixel of the head disc shows the torso
    head = synthetic.PART_NAMES.index("head")
    assert (rendering.labels == head).sum() > 10


def crossing_motion(arm_depths):
    """A still figure whose right arm lies across the torso, at the given depth per frame."""
    frames = len(arm_depths)
    zeros = np.zeros((frames, 2))
    shoulder = np.tile([[np.radians(-40), np.radians(20)]], (frames, 1))
    depth = np.stack([np.asarray(arm_depths, float), np.full(frames, 1.0)], -1)
    return synthetic.Motion(shoulder=shoulder, elbow_bend=zeros + np.radians(10), hip=zeros, knee_bend=zeros,
                            arm_depth=depth, sway_angle=np.zeros(frames), sway_scale=np.ones(frames),
                            sway_shift=zeros)


def test_arm_moving_behind_the_torso_uncovers_exactly_its_old_pixels():
    identity = synthetic.make_identity(2)
    rendering = synthetic.render(identity, crossing_motion([1.0, -1.0]), synthetic.make_background(0, 64))
    source, driving = rendering.labels
    arm = [synthetic.PART_NAMES.index(n) for n in ("right_upper_arm", "right_lower_arm", "right_hand")]
    uncovered = np.isin(source, arm) & ~np.isin(driving, arm)
    assert uncovered.sum() > 10                     # the arm really hid some torso
    truth = synthetic_truth.disocclusion(source, rendering.part_frames[0], driving, rendering.part_frames[1])
    np.testing.assert_array_equal(truth, uncovered)


def test_zero_motion_gives_no_disocclusion_and_the_source_as_animation():
    identity_seed, video_seed = 3, 11
    motion = synthetic.draw_motion(video_seed, 6)
    rendering = synthetic.render(synthetic.make_identity(identity_seed), motion,
                                 synthetic.make_background(video_seed, 48))
    source = synthetic_truth.VideoTruth(rendering.labels, rendering.part_frames, motion, identity_seed, video_seed,
                                  False, synthetic.World())
    for t in range(len(motion)):
        still = synthetic_truth.disocclusion(rendering.labels[t], rendering.part_frames[t], rendering.labels[t],
                                       rendering.part_frames[t])
        assert not still.any()
    # a driving video that does not move: every frame of the true animation is the source frame
    still_driving = synthetic_truth.VideoTruth(rendering.labels, rendering.part_frames, motion.frames(np.zeros(5, int)),
                                         7, 8, False, synthetic.World())
    animation = synthetic_truth.true_animation(source, 4, still_driving)
    for frame in animation.frames:
        assert np.abs(frame.astype(int) - rendering.frames[4].astype(int)).max() <= 1
    # driving a video by itself from its first frame gives the video back
    itself = synthetic_truth.true_animation(source, 0, source)
    assert np.abs(itself.frames.astype(int) - rendering.frames.astype(int)).max() <= 1
    np.testing.assert_allclose(itself.keypoints, rendering.keypoints, atol=1e-5)


def test_true_animation_moves_the_source_figure_by_the_driving_change():
    a, b = synthetic.draw_motion(1, 10), synthetic.draw_motion(2, 10)
    moved = synthetic.relative_motion(a, 3, b)
    np.testing.assert_allclose(moved.shoulder - a.shoulder[3], b.shoulder - b.shoulder[0])
    np.testing.assert_allclose(moved.sway_scale / a.sway_scale[3], b.sway_scale / b.sway_scale[0])


def test_truth_files_round_trip(tmp_path):
    root = make_synthetic.make_synthetic_dataset(tmp_path / "d", videos=4, frames=5, size=32, seed=9, identities=2,
                                            progress=False, world=synthetic.World(figure_height=0.7, texture=True,
                                                                                  background_texture=20,
                                                                                  background_grain_scale=2,
                                                                                  part_grain=True))
    video = sorted((root / "train").glob("*.png"))[0]
    truth = synthetic_truth.load_truth(video)
    frames = video_io.read_video(video)
    assert truth.labels.shape == (5, 32, 32) and truth.part_frames.shape == (5, len(synthetic.PARTS), 4)
    assert truth.world == synthetic.World(figure_height=0.7, texture=True, background_texture=20,
                                          background_grain_scale=2, part_grain=True)
    rendered = synthetic_truth.true_animation(truth, 0, truth).frames.astype(np.float32) / 255
    assert np.abs(rendered - frames).max() <= 1.5 / 255
    assert synthetic_truth.load_truth(tmp_path / "missing.png") is None
    truth_file = video.with_name(video.stem + ".truth.npz")            # written before the grain existed
    with np.load(truth_file) as archive:
        older = {name: archive[name] for name in archive.files
                 if name not in ("background_texture", "background_grain_scale", "part_grain")}
    np.savez(truth_file, **older)
    assert synthetic_truth.load_truth(video).world.background_texture == 0.0
    assert synthetic_truth.load_truth(video).world.background_grain_scale == 1.0
    assert synthetic_truth.load_truth(video).world.part_grain is False
    (tmp_path / "bad.truth.npz").write_text("not a zip")
    with pytest.raises(ValueError, match="bad.truth.npz"):
        synthetic_truth.load_truth(tmp_path / "bad.png")


@pytest.mark.parametrize("world", [synthetic.World(texture=True), synthetic.World(part_grain=True)],
                         ids=["stripes", "part-grain"])
def test_texture_keeps_the_colour_rule(world):
    rendering = synthetic.render(synthetic.make_identity(5), synthetic.draw_motion(5, 4),
                                 synthetic.make_background(5, 64), world)
    figure = rendering.labels != synthetic.BACKGROUND_LABEL
    chroma = np.ptp(rendering.frames.astype(float), axis=-1)
    labels = rendering.labels
    inner = figure.copy()          # inside one part: all 4 neighbours carry the same label (no edge blend)
    inner[:, 1:-1, 1:-1] &= ((labels[:, :-2, 1:-1] == labels[:, 1:-1, 1:-1]) & (labels[:, 2:, 1:-1] == labels[:, 1:-1, 1:-1])
                             & (labels[:, 1:-1, :-2] == labels[:, 1:-1, 1:-1]) & (labels[:, 1:-1, 2:] == labels[:, 1:-1, 1:-1]))
    inner[:, [0, -1]] = False
    inner[:, :, [0, -1]] = False
    assert chroma[inner].min() >= synthetic.FIGURE_MIN_CHROMA - 1
    values = rendering.frames.max(-1)[inner]
    assert values.std() > 5            # the stripes or the grain vary the value inside parts


def test_part_grain_moves_with_its_part_and_varies_in_every_direction():
    frames = np.zeros((2, len(synthetic.PARTS), 4), np.float32)
    frames[:, :, 3] = 20.0                                   # 20 px per figure unit
    frames[0, :, :2] = (20.0, 24.0)
    frames[1, :, :2] = (23.0, 26.0)                          # the part moved 3 px right, 2 px down
    factor = part_frames.part_grain_factor(frames, 48)
    assert factor.min() > part_frames.TEXTURE_LOW and factor.max() < 1.0
    np.testing.assert_allclose(factor[1, :, 2:, 3:], factor[0, :, :-2, :-3], atol=1e-5)
    torso = factor[0, 0]
    along_x, along_y = np.abs(np.diff(torso, axis=1)).mean(), np.abs(np.diff(torso, axis=0)).mean()
    assert min(along_x, along_y) > 0.3 * max(along_x, along_y)   # not stripes: no direction keeps it constant
    rotated = frames.copy()
    rotated[1, :, :2] = frames[0, :, :2]
    rotated[1, :, 2] = 0.5
    assert np.abs(part_frames.part_grain_factor(rotated, 48)[1] - factor[0]).mean() > 0.01


def test_world_limb_width_and_motion(tmp_path):
    from pcutlib.data.make_synthetic import make_synthetic_dataset
    from pcutlib.data.synthetic import World, draw_motion
    from pcutlib.data.synthetic_truth import load_truth

    still = draw_motion(5, 16, limb_motion=0.0)
    assert np.ptp(still.shoulder, axis=0).max() < 1e-12 and np.ptp(still.hip, axis=0).max() < 1e-12
    normal, half = draw_motion(5, 16, limb_motion=1.0), draw_motion(5, 16, limb_motion=0.5)
    base = np.radians(40)
    np.testing.assert_allclose(half.shoulder - base, 0.5 * (normal.shoulder - base), rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(half.sway_shift, normal.sway_shift)          # sway untouched
    figure_pixels = {}
    for width in (1.0, 1.5):
        world = World(limb_width=width, limb_motion=0.5)
        root = make_synthetic_dataset(tmp_path / f"w{width}", videos=2, frames=4, size=32, seed=9,
                                      identities=2, test_fraction=0.5, progress=False, world=world)
        video = sorted((root / "train").glob("*.png"))[0]
        truth = load_truth(video)
        assert truth.world == world
        figure_pixels[width] = int((truth.labels != 255).sum())
    assert figure_pixels[1.5] > 1.2 * figure_pixels[1.0]
    with pytest.raises(ValueError, match="limb_width"):
        World(limb_width=0.0)


def test_training_pairs_carry_their_true_disocclusion_through_flips(tmp_path):
    """The oracle regularizer's items: the driving frame's channel is the dis-occlusion of the
    pair as it comes out of the augmentation (a time flip swaps source and driving, a left-right
    flip mirrors the mask), found here by matching the item's frames to the video's."""
    root = make_synthetic.make_synthetic_dataset(tmp_path / "world", videos=3, frames=6, size=32, identities=2,
                                                 progress=False)
    frames_dataset = data.FramesDataset(root / "train", frame_shape=(32, 32, 3), progress=False,
                                        augmentation_params={"flip_param": {"horizontal_flip": True,
                                                                            "time_flip": True}})
    frames_dataset.with_disocclusion, frames_dataset.item_seed = True, 0
    flips, checked = set(), 0
    for index in range(len(frames_dataset)):
        for repeat in range(8):
            item = frames_dataset.get_item(index, repeat)
            path = frames_dataset.paths[index]
            video = torch.from_numpy(video_io.read_video(path, (32, 32, 3))).permute(0, 3, 1, 2)   # (T,3,H,W)
            truth = synthetic_truth.load_truth(path)
            for mirrored in (False, True):
                frames = video.flip(-1) if mirrored else video
                source = [t for t in range(len(frames)) if torch.equal(frames[t], item["source"])]
                driving = [t for t in range(len(frames)) if torch.equal(frames[t], item["driving"])]
                if source and driving:
                    break
            expected = synthetic_truth.disocclusion(truth.labels[source[0]], truth.part_frames[source[0]],
                                                    truth.labels[driving[0]], truth.part_frames[driving[0]])
            expected = torch.from_numpy(expected[:, ::-1].copy() if mirrored else expected).float()
            assert item["driving_disocclusion"].shape == (1, 32, 32)
            assert torch.equal(item["driving_disocclusion"][0], expected)
            flips.add((mirrored, source[0] > driving[0]))
            checked += 1
    assert checked == 8 * len(frames_dataset) and len(flips) == 4      # every combination of flips was met
    plain = data.FramesDataset(root / "train", frame_shape=(32, 32, 3), progress=False)
    assert "driving_disocclusion" not in plain.get_item(0)
    missing = tmp_path / "no-truth"
    for split in ("train", "test"):
        (missing / split).mkdir(parents=True)
        for file in (root / "train").glob(f"{frames_dataset.paths[0].stem}*"):
            if not file.name.endswith(video_io.TRUTH_SUFFIX):
                (missing / split / file.name).write_bytes(file.read_bytes())
    bare = data.FramesDataset(missing, frame_shape=(32, 32, 3), progress=False)
    bare.with_disocclusion = True
    with pytest.raises(FileNotFoundError, match="no ground truth"):
        bare.get_item(0)
