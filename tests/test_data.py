"""pcutlib.data.video_io, pcutlib.data.augmentation, pcutlib.data.datasets: reading and writing every layout, keypoint
files, augmentation, splits, id sampling, items, errors."""

import csv

import imageio.v3 as iio
import numpy as np
import pytest
import torch

from pcutlib.data import augmentation
from pcutlib.data import datasets as data
from pcutlib.data import video_io

T, S = 4, 32


def blocky_frames(seed=0, frames=T, size=S):
    """(T,S,S,3) uint8 of 8x8 blocks in 8 colours: exact in GIF, mild loss in MP4."""
    rng = np.random.default_rng(seed)
    palette = rng.integers(0, 256, (8, 3)).astype(np.uint8)
    index = np.kron(rng.integers(0, 8, (frames, size // 8, size // 8)), np.ones((1, 8, 8), int))
    return palette[index]


def write_folder(path, frames):
    path.mkdir(parents=True)
    for i, frame in enumerate(frames):
        iio.imwrite(path / f"{i:04d}.png", frame)
    return path


def write_stacked(path, frames):
    iio.imwrite(path, np.concatenate(list(frames), axis=1))  # (H, T*W, 3)
    return path


def write_constant_video(path, values, size=S):
    """A stacked PNG whose frame t is uniformly values[t] (for checking frame indices)."""
    frames = np.stack([np.full((size, size, 3), v, np.uint8) for v in values])
    return write_stacked(path, frames)


@pytest.fixture
def frames():
    return blocky_frames()


# ----------------------------------------------------------------------------- read_video

def test_every_layout_reads_the_same_frames(tmp_path, frames):
    expected = frames.astype(np.float32) / 255
    folder = write_folder(tmp_path / "folder", frames)
    stacked = write_stacked(tmp_path / "stacked.png", frames)
    gif = tmp_path / "clip.gif"
    iio.imwrite(gif, frames, loop=0)
    mp4 = tmp_path / "clip.mp4"
    iio.imwrite(mp4, frames, fps=10)
    for path in (folder, stacked, gif):
        video = video_io.read_video(path)
        assert video.shape == (T, S, S, 3) and video.dtype == np.float32
        np.testing.assert_array_equal(video, expected, err_msg=str(path))
    video = video_io.read_video(mp4)  # lossy codec
    assert video.shape == (T, S, S, 3)
    assert np.abs(video - expected).mean() < 0.04


def test_grayscale_and_rgba_become_rgb(tmp_path, frames):
    gray = frames[..., 0]
    write_stacked(tmp_path / "gray.png", gray)
    rgba = np.concatenate([frames, np.full(frames.shape[:3] + (1,), 7, np.uint8)], -1)
    write_stacked(tmp_path / "rgba.png", rgba)
    video = video_io.read_video(tmp_path / "gray.png")
    assert video.shape == (T, S, S, 3)
    np.testing.assert_array_equal(video[..., 1], gray / np.float32(255))
    np.testing.assert_array_equal(video_io.read_video(tmp_path / "rgba.png"), frames / np.float32(255))


def test_resize_and_non_square_stacked(tmp_path, frames):
    video = video_io.read_video(write_folder(tmp_path / "f", frames), frame_shape=(16, 24, 3))
    assert video.shape == (T, 16, 24, 3) and 0 <= video.min() and video.max() <= 1
    wide = np.concatenate([frames, frames], axis=2)  # (T, S, 2S, 3)
    path = write_stacked(tmp_path / "wide.png", wide)
    video = video_io.read_video(path, frame_shape=(S, 2 * S, 3))
    np.testing.assert_array_equal(video, wide / np.float32(255))


@pytest.mark.parametrize("make, fragment", [
    (lambda p: p / "missing.png", "does not exist"),
    (lambda p: (p / "empty_dir").mkdir() or p / "empty_dir", "0 frame"),
    (lambda p: (p / "corrupt.png").write_bytes(b"not a png") and p / "corrupt.png", "corrupt"),
    (lambda p: (p / "zero.mp4").write_bytes(b"") or p / "zero.mp4", "empty"),
    (lambda p: write_stacked(p / "one.png", blocky_frames(frames=1)), "1 frame"),
    (lambda p: (p / "notes.txt").write_text("hi") and p / "notes.txt", "unsupported extension"),
])
def test_read_errors_name_the_file(tmp_path, make, fragment):
    path = make(tmp_path)
    with pytest.raises((ValueError, FileNotFoundError)) as info:
        video_io.read_video(path)
    assert path.name in str(info.value) and fragment in str(info.value)


def test_one_frame_gif_and_bad_width(tmp_path, frames):
    gif = tmp_path / "single.gif"
    iio.imwrite(gif, frames[:1], loop=0)
    with pytest.raises(ValueError, match="single.gif"):
        video_io.read_video(gif)
    iio.imwrite(tmp_path / "odd.png", np.zeros((S, S * 2 + 3, 3), np.uint8))
    with pytest.raises(ValueError, match="odd.png.*multiple"):
        video_io.read_video(tmp_path / "odd.png")


# ----------------------------------------------------------------------------- writing

def test_save_strip_png_and_video(tmp_path, monkeypatch, capsys):
    frames = torch.rand(5, 3, 16, 16)
    strip = iio.imread(video_io.save_strip_png([frames, frames], tmp_path / "strip.png", max_frames=3))
    assert strip.shape == (32, 48, 3)
    written = video_io.save_video(frames, tmp_path / "clip.mp4", fps=5)
    assert written.suffix == ".mp4" and written.stat().st_size > 0

    def no_ffmpeg(*args, **kwargs):
        raise RuntimeError("no ffmpeg here")

    monkeypatch.setattr("imageio.v2.mimwrite", no_ffmpeg)
    written = video_io.save_video(frames, tmp_path / "fallback.mp4", fps=5)
    assert written == tmp_path / "fallback.gif" and written.is_file()
    assert "writing" in capsys.readouterr().err
    assert iio.imread(written, index=None).shape[0] == 5


# ----------------------------------------------------------------------------- keypoints

def test_keypoints_path_rule(tmp_path, frames):
    assert video_io.keypoints_path(tmp_path / "abc.png") == tmp_path / "abc.keypoints.npy"
    folder = write_folder(tmp_path / "abc", frames)
    assert video_io.keypoints_path(folder) == tmp_path / "abc.keypoints.npy"
    path = write_stacked(tmp_path / "v.png", frames)
    alternative = tmp_path / "v.png.keypoints.npy"
    np.save(alternative, np.zeros((T, 3, 2), np.float32))
    assert video_io.find_keypoints(path) == alternative
    assert video_io.load_keypoints(path, T).shape == (T, 3, 2)
    with pytest.raises(ValueError, match="v.png.keypoints.npy.*4 frames"):
        video_io.load_keypoints(path, 3)


def make_root(root, videos, with_split=True, frames=T, keypoints=True):
    """Stacked-PNG videos; frame t of video i is uniformly 10*(i % 20) + 20*t (grey)."""
    for i, name in enumerate(videos):
        folder = root / ("train" if i % 2 == 0 else "test") if with_split else root
        folder.mkdir(parents=True, exist_ok=True)
        path = write_constant_video(folder / f"{name}.png", [10 * (i % 20) + 20 * t for t in range(frames)])
        if keypoints:
            kp = np.stack([np.full((5, 2), t / 10, np.float32) for t in range(frames)])
            kp[..., 0] = -0.5  # x
            np.save(video_io.keypoints_path(path), kp)
    return root


# ----------------------------------------------------------------------------- datasets

def test_train_and_test_items(tmp_path):
    root = make_root(tmp_path, [f"v{i}" for i in range(4)], frames=6)
    train = data.FramesDataset(root, frame_shape=(S, S, 3))
    assert len(train) == 2
    torch.manual_seed(0)
    for _ in range(10):
        item = train[0]
        assert item["source"].shape == (3, S, S) and item["source"].dtype == torch.float32
        assert item["name"] == "v0.png"
        src, drv = item["source"][0, 0, 0].item(), item["driving"][0, 0, 0].item()
        assert src < drv  # two distinct frames, sorted
        # keypoints follow the chosen frames: y = t / 10, frame value = 20 t / 255
        assert item["source_keypoints"].shape == (5, 2)
        assert item["source_keypoints"][0, 1].item() == pytest.approx(src * 255 / 20 / 10, abs=1e-4)
    test = data.FramesDataset(root, frame_shape=(S, S, 3), is_train=False)
    item = test[1]
    assert item["video"].shape == (6, 3, S, S) and item["keypoints"].shape == (6, 5, 2)
    assert 0 <= item["video"].min() and item["video"].max() <= 1


def test_random_split_is_deterministic_and_disjoint(tmp_path):
    root = make_root(tmp_path, [f"v{i:02d}" for i in range(10)], with_split=False)
    train = data.FramesDataset(root, frame_shape=(S, S, 3), random_seed=3)
    test = data.FramesDataset(root, frame_shape=(S, S, 3), random_seed=3, is_train=False)
    assert len(train) == 8 and len(test) == 2 and not set(train.videos) & set(test.videos)
    again = data.FramesDataset(root, frame_shape=(S, S, 3), random_seed=3)
    assert again.videos == train.videos
    others = {tuple(data.FramesDataset(root, random_seed=s, is_train=False).videos) for s in range(6)}
    assert len(others) > 1


def test_id_sampling_visits_identities(tmp_path):
    names = [f"id{i % 3}#vid{i}#000" for i in range(12)]
    root = make_root(tmp_path, names, with_split=False, keypoints=False)
    dataset = data.FramesDataset(root, frame_shape=(S, S, 3), id_sampling=True, random_seed=0)
    assert len(dataset) == len(dataset.identities) == 3
    torch.manual_seed(0)
    seen = {}
    for _ in range(30):
        for index in range(len(dataset)):
            name = dataset[index]["name"]
            identity = name.split("#")[0]
            assert identity == sorted(dataset.identities)[index]
            seen.setdefault(identity, set()).add(name)
    assert all(len(v) > 1 for v in seen.values())  # random videos of each identity
    test = data.FramesDataset(root, id_sampling=True, is_train=False, frame_shape=(S, S, 3))
    assert len(test) == len(test.videos)  # whole videos: no identity sampling


def test_seeded_items_depend_on_seed_epoch_visit_and_index_only(tmp_path):
    """With item_seed (set by the trainer) an item is a function of (seed, epoch, repeat, index):
    the global RNG does not move it, and each visit of a video draws its own frames."""
    root = make_root(tmp_path, [f"v{i}" for i in range(4)], frames=6)
    dataset = data.FramesDataset(root, frame_shape=(S, S, 3))
    dataset.item_seed = 5
    frames_of = (lambda item: (item["source"][0, 0, 0].item(), item["driving"][0, 0, 0].item()))
    torch.manual_seed(0)
    first = frames_of(dataset[1])
    torch.manual_seed(1)
    assert frames_of(dataset[1]) == first
    repeated = data.DatasetRepeater(dataset, 12)
    visits = [frames_of(repeated[1 + r * len(dataset)]) for r in range(12)]    # video 1, visits 0..11
    assert visits[0] == first and len(set(visits)) > 1
    dataset.epoch = 1
    assert [frames_of(repeated[1 + r * len(dataset)]) for r in range(12)] != visits
    with pytest.raises(ValueError, match="'epoch': -1"):
        data.item_rng(5, -1, 0, 0)


def test_decoded_videos_give_the_same_items_within_the_budget(tmp_path):
    """The in-memory cache of decoded videos changes no item; it keeps videos until the budget is used."""
    root = make_root(tmp_path, [f"v{i}" for i in range(8)], frames=6)      # 4 train videos
    items = {}
    for megabytes in (0, 1):
        dataset = data.FramesDataset(root, frame_shape=(S, S, 3), cache_megabytes=megabytes)
        dataset.item_seed = 3
        items[megabytes] = [dataset[i] for i in range(4)] + [dataset[i] for i in range(4)]
        kept = len(dataset.decoded.frames)
        assert kept == (0 if megabytes == 0 else 4)
        assert dataset.decoded.used_bytes == kept * 6 * S * S * 3
    for cached, plain in zip(items[1], items[0]):
        assert torch.equal(cached["source"], plain["source"]) and torch.equal(cached["driving"], plain["driving"])
    small = video_io.DecodedVideos(max_bytes=6 * S * S * 3)          # room for one video
    for path in sorted(root.glob("train/*.png")):
        small.decode(path, (S, S, 3))
    assert len(small.frames) == 1
    with pytest.raises(ValueError, match="-1"):
        video_io.DecodedVideos(-1)


def test_dataloader_with_workers(tmp_path):
    root = make_root(tmp_path, [f"v{i}" for i in range(8)])
    dataset = data.DatasetRepeater(data.FramesDataset(root, frame_shape=(S, S, 3)), 2)
    loader = torch.utils.data.DataLoader(dataset, batch_size=4, num_workers=2)
    batches = list(loader)
    assert len(batches) == 2 and batches[0]["source"].shape == (4, 3, S, S)
    assert batches[0]["driving_keypoints"].shape == (4, 5, 2)


def test_bad_files_are_all_reported_when_the_dataset_is_built(tmp_path):
    root = make_root(tmp_path, ["a", "b", "c", "d", "e", "f"])
    train = root / "train"
    (train / "empty_video").mkdir()
    (train / "broken.mp4").write_bytes(b"")
    (train / "c.png").write_bytes(b"garbage")                         # corrupt: caught by decoding
    (train / "d.png").write_text("text saved as .png")
    np.save(train / "e.keypoints.npy", np.zeros((2, 5, 2), np.float32))   # wrong frame count
    mixed = train / "mixed_sizes"
    mixed.mkdir()
    for i, size in enumerate([S, S, S + 4]):
        iio.imwrite(mixed / f"{i:03d}.png", np.zeros((size, size, 3), np.uint8))
    with pytest.raises(ValueError) as error:
        data.FramesDataset(root)
    message = str(error.value)
    for name in ("empty_video", "broken.mp4", "c.png", "d.png", "e.png", "mixed_sizes"):
        assert name in message, (name, message)
    listed = len(video_io.list_videos(train))
    assert "skip_bad_files" in message and message.startswith(f"6 of {listed} train videos")
    with pytest.warns(UserWarning) as caught:
        dataset = data.FramesDataset(root, frame_shape=(S, S, 3), skip_bad_files=True)
    assert len(caught) == 1 and f"skipping 6 of {listed}" in str(caught[0].message)
    assert len(dataset) == listed - 6 and not {"c.png", "d.png", "e.png"} & set(dataset.videos)
    assert len(dataset.skipped) == 6


def test_a_stacked_image_must_split_into_frames(tmp_path):
    root = make_root(tmp_path, ["a", "b"])
    iio.imwrite(root / "train" / "wide.png", np.zeros((S, S * 3 + 2, 3), np.uint8))
    iio.imwrite(root / "train" / "single.png", np.zeros((S, S, 3), np.uint8))
    with pytest.raises(ValueError, match="wide.png: width .* not a multiple") as error:
        data.FramesDataset(root, frame_shape=(S, S, 3))
    assert "single.png: holds 1 frame(s)" in str(error.value)


def test_missing_root_split_and_wrong_keypoints(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere"):
        data.FramesDataset(tmp_path / "nowhere")
    (tmp_path / "only" / "train").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match="test"):
        data.FramesDataset(tmp_path / "only")
    root = make_root(tmp_path / "r", ["a", "b"])
    np.save(root / "train" / "a.keypoints.npy", np.zeros((2, 5, 2), np.float32))
    with pytest.raises(ValueError, match="a.keypoints.npy"):
        data.FramesDataset(root)[0]


def test_from_config_accepts_fomm_keys_and_rejects_unknown(tmp_path):
    root = make_root(tmp_path, ["a", "b"])
    params = {"root_dir": str(root), "frame_shape": [S, S, 3], "id_sampling": False,
              "pairs_list": None, "augmentation_params": {"flip_param": {"horizontal_flip": True}}}
    assert len(data.FramesDataset.from_config(params, is_train=True)) == 1
    assert len(data.FramesDataset(**params)) == 1  # FOMM's FramesDataset(**dataset_params)
    with pytest.raises(ValueError, match="frame_shap"):
        data.FramesDataset.from_config({**params, "frame_shap": [1, 1, 3]})
    bad = {**params, "augmentation_params": {"flip_param": {}, "jiter_param": {}}}
    with pytest.raises(ValueError, match="jiter_param"):
        data.FramesDataset.from_config(bad)
    bad = {**params, "augmentation_params": {"flip_param": {"horizontal": True}}}
    with pytest.raises(ValueError, match="flip_param"):
        data.FramesDataset.from_config(bad)


# ----------------------------------------------------------------------------- augmentation

class AlwaysFlip:
    """A stand-in generator whose coin flips always say 'flip'."""

    def random(self):
        return 0.0


def test_flips_move_frames_and_keypoints():
    clip = np.zeros((3, 5, 7, 3), np.float32)
    clip[np.arange(3), 1, np.arange(3)] = 1.0  # frame t: a bright pixel at column t
    keypoints = np.stack([np.array([[2 * t / 6 - 1, 2 * 1 / 4 - 1]], np.float32) for t in range(3)])
    flipped, kp = augmentation.RandomFlip(horizontal_flip=True)(clip, keypoints, AlwaysFlip())
    for t in range(3):
        row, col = np.argwhere(flipped[t, ..., 0] == 1)[0]
        assert kp[t, 0, 0] == pytest.approx(2 * col / 6 - 1) and kp[t, 0, 1] == pytest.approx(2 * row / 4 - 1)
    reversed_, kp = augmentation.RandomFlip(time_flip=True)(clip, keypoints, AlwaysFlip())
    np.testing.assert_array_equal(reversed_, clip[::-1])
    np.testing.assert_array_equal(kp, keypoints[::-1])


def test_jitter_keeps_shape_and_range():
    rng = np.random.default_rng(0)
    clip = rng.uniform(size=(2, 8, 8, 3)).astype(np.float32)
    jitter = augmentation.ColorJitter(brightness=0.5, contrast=0.5, saturation=0.5, hue=0.5)
    for _ in range(5):
        out = jitter(clip, rng)
        assert out.shape == clip.shape and out.dtype == np.float32
        assert out.min() >= 0 and out.max() <= 1
    np.testing.assert_allclose(augmentation.hsv_to_rgb(augmentation.rgb_to_hsv(clip)), clip, atol=1e-5)
    with pytest.raises(ValueError, match="hue"):
        augmentation.ColorJitter(hue=0.7)


def test_augmented_training_items(tmp_path):
    root = make_root(tmp_path, ["a", "b"])
    params = {"flip_param": {"horizontal_flip": True, "time_flip": True},
              "jitter_param": {"brightness": 0.1, "contrast": 0.1, "saturation": 0.1, "hue": 0.1}}
    dataset = data.FramesDataset(root, frame_shape=(S, S, 3), augmentation_params=params)
    torch.manual_seed(1)
    xs = set()
    for _ in range(12):
        item = dataset[0]
        assert item["source"].shape == item["driving"].shape == (3, S, S)
        assert 0 <= item["source"].min() and item["driving"].max() <= 1
        xs.add(round(item["source_keypoints"][0, 0].item(), 3))
    assert xs == {-0.5, 0.5}  # horizontal flips negate x


# ----------------------------------------------------------------------------- wrappers

def test_repeater(tmp_path):
    dataset = data.FramesDataset(make_root(tmp_path, ["a", "b", "c", "d"]), frame_shape=(S, S, 3))
    repeated = data.DatasetRepeater(dataset, 3)
    assert len(repeated) == 6 and repeated[5]["name"] == dataset[1]["name"]
    with pytest.raises(ValueError, match="0"):
        data.DatasetRepeater(dataset, 0)


def test_paired_dataset(tmp_path):
    root = make_root(tmp_path, [f"v{i}" for i in range(8)])
    test = data.FramesDataset(root, frame_shape=(S, S, 3), is_train=False)
    pairs = data.PairedDataset(test, number_of_pairs=5, seed=0)
    assert len(pairs) == 5  # drawn from the 4 x 4 grid of the 4 test videos
    assert pairs.pairs == data.PairedDataset(test, number_of_pairs=5, seed=0).pairs
    item = pairs[0]
    assert {"driving_video", "source_video", "driving_name", "source_name"} <= set(item)
    assert item["driving_video"].shape == (T, 3, S, S)
    csv_path = tmp_path / "pairs.csv"
    with open(csv_path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerows([["source", "driving"], ["v1.png", "v3.png"], ["gone.png", "v1.png"]])
    listed = data.FramesDataset(root, frame_shape=(S, S, 3), is_train=False, pairs_list=csv_path)
    pairs = data.PairedDataset(listed, number_of_pairs=10)
    assert len(pairs) == 1
    assert pairs[0]["source_name"] == "v1.png" and pairs[0]["driving_name"] == "v3.png"


def test_resize_and_crop_move_keypoints_with_pixels():
    clip = np.zeros((1, 20, 30, 3), np.float32)
    clip[0, 5, 12] = 1.0
    keypoints = np.array([[[2 * 12 / 29 - 1, 2 * 5 / 19 - 1]]], np.float32)
    rng = np.random.default_rng(0)
    augment = augmentation.VideoAugmentation(resize_param={"ratio": [2.0, 2.0]}, crop_param={"size": [24, 24]})
    checked = 0
    for _ in range(8):
        out, kp = augment(clip, keypoints, rng)
        assert out.shape == (1, 24, 24, 3)
        x, y = (kp[0, 0] + 1) * 23 / 2
        # the bright pixel became a 2x2 blob whose centre is the moved keypoint
        ys, xs = np.nonzero(out[0, ..., 0] > 0.2)
        if len(xs) == 4:  # blob inside the crop
            assert abs(xs.mean() - x) < 0.6 and abs(ys.mean() - y) < 0.6
            checked += 1
    assert checked > 0
    with pytest.raises(ValueError, match="rotation_param"):
        augmentation.VideoAugmentation(rotation_param={"degrees": 5})


def test_flat_folder_error_names_the_layouts_and_the_split(tmp_path):
    flat = tmp_path / "flat"
    flat.mkdir()
    (flat / "clip.mp4").write_bytes(b"not a video")
    with pytest.raises(ValueError, match=r"no usable train videos.*Accepted layouts.*the 1 video\(s\) in it were split "
                                         r"80/20.*train: none; test: clip.mp4"):
        data.FramesDataset(flat)
