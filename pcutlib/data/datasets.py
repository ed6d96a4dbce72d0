"""FOMM-layout video datasets: training pairs, whole test videos, the repeater and
animation pairs (videos are read by `pcutlib.data.video_io`, clips augmented by
`pcutlib.data.augmentation`).

A dataset root holds `train/` and `test/` (or, without them, all videos, split 80/20 by
a seeded shuffle). Items hold (3,H,W) frames or (T,3,H,W) videos, float32 in [0,1], and
ground-truth keypoints (J,2) / (T,J,2) in [-1,1] when a video has them.

Differences from FOMM's `frames_dataset.py`, on purpose:
- training frames are two *distinct* indices (FOMM draws two with replacement, so a pair
  may be the same frame), sorted;
- the horizontal and time flips are drawn independently (FOMM skips the horizontal flip
  whenever it flips time; `pcutlib.data.augmentation`);
- each item's randomness (frames, augmentation) comes from its own numpy generator: seeded
  from (item_seed, epoch, repeat, index) when the trainer sets ``item_seed``, so two runs
  with one seed see the same items whatever else they draw; else from torch's global RNG,
  so DataLoader workers differ and `torch.manual_seed` reproduces a run (FOMM's global
  numpy state is copied into every worker);
- every video is inspected when the dataset is built (``inspect_video``) and all bad files
  are reported at once, naming them; nothing is skipped silently.
"""

from __future__ import annotations

import csv
import math
import warnings
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset
from tqdm.auto import tqdm

from pcutlib.data.augmentation import VideoAugmentation
from pcutlib.data.synthetic_truth import disocclusion, load_truth
from pcutlib.data.video_io import (DecodedVideos, check_frame_shape, inspect_video, list_videos, load_keypoints,
                                   read_chosen_frames, read_video)

TEST_FRACTION = 0.2  # FOMM's random split: train_test_split(test_size=0.2)


# ----------------------------------------------------------------------------- datasets

def choose_frame_pair(num_frames: int, rng: np.random.Generator, max_gap: int | None = None) -> np.ndarray:
    """Two distinct frame indices, sorted (2,): any two (FOMM), or at most max_gap frames apart.

    With max_gap the first frame is uniform and the second uniform among the frames within
    max_gap of it, so small motions come first in a curriculum (train_params.frame_gap).
    """
    if num_frames < 2:
        raise ValueError(f"a training pair needs a video of at least 2 frames, got {num_frames}")
    if max_gap is None or max_gap >= num_frames - 1:
        return np.sort(rng.choice(num_frames, size=2, replace=False))
    if max_gap < 1:
        raise ValueError(f"max_gap must be at least 1 frame, got {max_gap}")
    first = int(rng.integers(num_frames))
    near = [j for j in range(max(0, first - max_gap), min(num_frames, first + max_gap + 1)) if j != first]
    return np.sort(np.array([first, near[rng.integers(len(near))]]))


def _torch_seeded_rng() -> np.random.Generator:
    """A numpy generator drawn from torch's RNG (per-worker seeded by DataLoader)."""
    return np.random.default_rng(int(torch.randint(0, 2**62, (1,)).item()))


def item_rng(item_seed: int | None, epoch: int, repeat: int, index: int) -> np.random.Generator:
    """The numpy generator of one training item: its frame pair, video (id_sampling) and augmentation.

    item_seed None: drawn from torch's global RNG (``_torch_seeded_rng``). Otherwise seeded
    from (item_seed, epoch, repeat, index) alone, so the item is the same in every run with
    that seed, in any DataLoader worker, whatever the run draws elsewhere; ``repeat`` tells
    the visits of one video within an epoch (``DatasetRepeater``) apart.
    """
    if item_seed is None:
        return _torch_seeded_rng()
    values = {"item_seed": item_seed, "epoch": epoch, "repeat": repeat, "index": index}
    bad = {k: v for k, v in values.items() if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0}
    if bad:
        raise ValueError(f"item_rng needs integers >= 0, got {bad}")
    return np.random.default_rng([int(item_seed), int(epoch), int(repeat), int(index)])


def identity_of(name: str) -> str:
    """VoxCeleb-style identity of a video name `id#video#...`: the part before the first '#'
    (a name without '#' is its own identity)."""
    return name.split("#")[0]


LAYOUTS_NOTE = ("Accepted layouts: root/train/ and root/test/ holding videos, or a flat root of videos "
                "(split 80/20 by a seeded shuffle); a video is a folder of frames, an .mp4/.gif/.mov "
                "file or a horizontally stacked .png/.jpg.")


def _split_folder(root: Path, is_train: bool, random_seed: int) -> list[Path]:
    """Videos of the chosen split: `root/train|test` if present, else a seeded 80/20 split."""
    train, test = root / "train", root / "test"
    if train.is_dir() or test.is_dir():
        if not (train.is_dir() and test.is_dir()):
            missing = test if train.is_dir() else train
            raise FileNotFoundError(f"dataset root {str(root)!r} has one split folder but "
                                    f"{str(missing)!r} is missing")
        return list_videos(train if is_train else test)
    videos = list_videos(root)
    order = np.random.default_rng(random_seed).permutation(len(videos))
    num_test = math.ceil(TEST_FRACTION * len(videos))
    chosen = order[num_test:] if is_train else order[:num_test]
    return [videos[i] for i in sorted(chosen)]


class FramesDataset(Dataset):
    """Videos of a FOMM-layout root, as training pairs or whole videos.

    Train items: {"source": (3,H,W), "driving": (3,H,W), "name": str} plus
    "source_keypoints"/"driving_keypoints" (J,2) when ground truth exists, and with
    ``with_disocclusion`` (the oracle regularizer's labelled variant only; the trainer sets it)
    "driving_disocclusion" (1,H,W): the synthetic world's true dis-occlusion of the pair.
    Test items: {"video": (T,3,H,W), "name": str} plus "keypoints" (T,J,2) when known.
    All float32, images in [0,1]. Decoded video files stay in memory up to
    ``cache_megabytes`` (``DecodedVideos``; dataset_params.cache_megabytes).

    With id_sampling (training only) an epoch visits each identity (name before the
    first '#') once and picks a random video of it.

    Randomness of an item: see :func:`item_rng`. The trainer sets ``item_seed``
    (train_params.seed) and ``epoch``, as it sets ``max_frame_gap``; left at None, items
    draw from torch's global RNG.
    """
    def __init__(self, root: str | Path | None = None, *, root_dir: str | Path | None = None,
                 frame_shape: Sequence[int] = (256, 256, 3), id_sampling: bool = False,
                 is_train: bool = True, random_seed: int = 0, pairs_list: str | Path | None = None,
                 augmentation_params: Mapping[str, Any] | None = None,
                 skip_bad_files: bool = False, cache_megabytes: float = 512, progress: bool = True):
        if (root is None) == (root_dir is None):
            raise ValueError(f"give exactly one of root / root_dir (FOMM's name), got "
                             f"root={root!r}, root_dir={root_dir!r}")
        self.root = Path(root if root is not None else root_dir)
        if not self.root.is_dir():
            raise FileNotFoundError(f"dataset root {str(self.root)!r} does not exist")
        self.frame_shape = check_frame_shape(frame_shape)
        self.is_train, self.id_sampling = bool(is_train), bool(id_sampling)
        self.pairs_list = pairs_list
        self.random_seed = random_seed
        self.max_frame_gap: int | None = None    # training pairs: any two frames (set by train_params.frame_gap)
        self.item_seed: int | None = None        # None: items draw from torch's global RNG (see item_rng)
        self.with_disocclusion = False           # training pairs carry their true dis-occlusion (oracle only)
        self.truths: dict[Path, object] = {}     # each video's VideoTruth, read once (with_disocclusion)
        self.epoch = 0                           # with item_seed: part of each item's seed
        self.transform = (VideoAugmentation(**augmentation_params)
                          if is_train and augmentation_params else None)
        self.skipped: list[tuple[str, str]] = []
        self.decoded = DecodedVideos(int(cache_megabytes * 2**20))   # training items' video files
        paths = self._checked(_split_folder(self.root, self.is_train, random_seed), skip_bad_files, progress)
        if not paths:
            raise ValueError(f"dataset root {str(self.root)!r} holds no usable "
                             f"{'train' if is_train else 'test'} videos. {LAYOUTS_NOTE} {self._split_note()}")
        self.paths = paths
        self.videos = [p.name for p in paths]  # FOMM's attribute, used by PairedDataset
        self.identities: dict[str, list[Path]] = {}
        for path in paths:
            self.identities.setdefault(identity_of(path.name), []).append(path)
        self._identity_names = sorted(self.identities)

    def _split_note(self) -> str:
        if (self.root / "train").is_dir():
            return f"Here: {self.root / 'train'} and {self.root / 'test'}."
        listed = list_videos(self.root)
        test = {p.name for p in _split_folder(self.root, False, self.random_seed)}

        def names(split: list[str]) -> str:
            return ", ".join(split[:5]) + (f" and {len(split) - 5} more" if len(split) > 5 else "") or "none"
        return (f"Here: no train/ and test/ folders, so the {len(listed)} video(s) in it were split "
                f"{100 - round(100 * TEST_FRACTION)}/{round(100 * TEST_FRACTION)} by a shuffle with "
                f"random_seed={self.random_seed} (a set this small may leave no usable video in a split): "
                f"train: {names([p.name for p in listed if p.name not in test])}; "
                f"test: {names([p.name for p in listed if p.name in test])}.")

    @classmethod
    def from_config(cls, dataset_params: Mapping[str, Any], is_train: bool = True,
                    **overrides) -> "FramesDataset":
        """Build from FOMM's `dataset_params` section; unknown keys are an error."""
        known = {"root_dir", "frame_shape", "id_sampling", "pairs_list",
                 "augmentation_params", "random_seed", "skip_bad_files", "cache_megabytes"}
        unknown = sorted(set(dataset_params) - known)
        if unknown:
            raise ValueError(f"dataset_params: unknown keys {unknown}; known: {sorted(known)}")
        return cls(is_train=is_train, **{**dict(dataset_params), **overrides})

    def _checked(self, paths: list[Path], skip_bad_files: bool, progress: bool) -> list[Path]:
        """Inspect every video now (``inspect_video``): report all bad ones at once, or skip them
        with one warning when skip_bad_files. A progress bar shows for large sets."""
        split = "train" if self.is_train else "test"
        bar = tqdm(paths, desc=f"checking {len(paths)} {split} videos", leave=False, unit="video",
                   disable=not progress or len(paths) < 500)
        bad = [(path, reason) for path in bar if (reason := inspect_video(path, self.frame_shape)) is not None]
        if not bad:
            return list(paths)
        listing = "; ".join(f"{path.name}: {reason}" for path, reason in bad[:10])
        more = f" (and {len(bad) - 10} more)" if len(bad) > 10 else ""
        if not skip_bad_files:
            raise ValueError(f"{len(bad)} of {len(paths)} {split} videos in {str(self.root)!r} are unusable: "
                             f"{listing}{more}. Fix or remove them, or skip them with "
                             f"dataset_params.skip_bad_files: true (the flag --skip-bad-files of pcut train "
                             f"and pcut evaluate)")
        self.skipped.extend((str(path), reason) for path, reason in bad)
        warnings.warn(f"skipping {len(bad)} of {len(paths)} {split} videos in {str(self.root)!r}: {listing}{more}",
                      stacklevel=3)
        dropped = {path for path, _ in bad}
        return [path for path in paths if path not in dropped]

    def __len__(self) -> int:
        return len(self._identity_names) if self.is_train and self.id_sampling else len(self.paths)

    def _path_for(self, index: int, rng: np.random.Generator) -> Path:
        if self.is_train and self.id_sampling:
            videos = self.identities[self._identity_names[index]]
            return videos[rng.integers(len(videos))]
        return self.paths[index]

    def __getitem__(self, index: int) -> dict[str, Any]:
        return self.get_item(index)

    def get_item(self, index: int, repeat: int = 0) -> dict[str, Any]:
        """Item ``index``, on its ``repeat``-th visit this epoch (``DatasetRepeater``)."""
        rng = item_rng(self.item_seed, self.epoch, repeat, index)
        path = self._path_for(index, rng)
        if self.is_train:
            return self._train_item(path, rng)
        frames = read_video(path, self.frame_shape)
        keypoints = load_keypoints(path, len(frames))
        item = {"video": torch.from_numpy(frames).permute(0, 3, 1, 2).contiguous(),  # (T,3,H,W)
                "name": path.name}
        if keypoints is not None:
            item["keypoints"] = torch.from_numpy(keypoints)  # (T,J,2)
        return item

    def _train_item(self, path: Path, rng: np.random.Generator) -> dict[str, Any]:
        clip, indices, num_frames = read_chosen_frames(
            path, lambda n: choose_frame_pair(n, rng, self.max_frame_gap), self.frame_shape,
            self.decoded)  # (2,H,W,3)
        keypoints = load_keypoints(path, num_frames)
        keypoints = None if keypoints is None else keypoints[indices]  # (2,J,2)
        if self.with_disocclusion:                                       # a 4th channel moves with the pixels
            if path not in self.truths:
                self.truths[path] = load_truth(path)
            clip = np.concatenate([clip, pair_disocclusion(path, self.truths[path], indices, clip.shape[1:3])],
                                  axis=-1)
        if self.transform is not None:
            clip, keypoints = self.transform(clip, keypoints, rng)
        clip = torch.from_numpy(np.ascontiguousarray(clip)).permute(0, 3, 1, 2)  # (2,3,H,W) or (2,4,H,W)
        item = {"source": clip[0, :3].contiguous(), "driving": clip[1, :3].contiguous(), "name": path.name}
        if self.with_disocclusion:                                      # 0/1 again after a bilinear resize
            item["driving_disocclusion"] = (clip[1, 3:] > 0.5).float()  # (1,H,W)
        if keypoints is not None:
            item["source_keypoints"] = torch.from_numpy(keypoints[0].copy())  # (J,2)
            item["driving_keypoints"] = torch.from_numpy(keypoints[1].copy())
        return item


def pair_disocclusion(path: Path, truth, indices, frame_size) -> np.ndarray:
    """(2,S,S,1) float32: each frame's true dis-occlusion when the other frame of the pair is the
    source (``synthetic_truth.disocclusion``), from ``truth`` (``load_truth(path)``). Both
    directions, so that a time flip of the clip (which swaps source and driving) keeps the
    driving frame's channel right; a left-right flip, resize or crop moves it with the pixels.

    indices: the pair's two frame indices; frame_size: (H, W) of the decoded frames."""
    if truth is None:
        raise FileNotFoundError(f"{path} has no ground truth beside it ({path.name}'s .truth.npz): the oracle "
                                f"regularizer trains only on the synthetic world (pcut make-synthetic)")
    if tuple(frame_size) != (truth.size, truth.size):
        raise ValueError(f"{path}: its truth is {truth.size}x{truth.size} px but the frames are read at "
                         f"{tuple(frame_size)}; set dataset_params.frame_shape to the world's size")
    first, second = (int(i) for i in indices)

    def towards(source: int, driving: int) -> np.ndarray:
        return disocclusion(truth.labels[source], truth.part_frames[source], truth.labels[driving],
                            truth.part_frames[driving])
    return np.stack([towards(second, first), towards(first, second)]).astype(np.float32)[..., None]


class DatasetRepeater(Dataset):
    """A dataset seen `num_repeats` times per epoch (fewer, longer epochs; as FOMM's).

    Unlike FOMM's, errors of the wrapped dataset propagate instead of being retried.
    """
    def __init__(self, dataset: Dataset, num_repeats: int = 100):
        if int(num_repeats) != num_repeats or num_repeats < 1:
            raise ValueError(f"num_repeats must be a positive integer, got {num_repeats!r}")
        self.dataset, self.num_repeats = dataset, int(num_repeats)

    def __len__(self) -> int:
        return self.num_repeats * len(self.dataset)

    def __getitem__(self, index: int):
        repeat, inner = divmod(index, len(self.dataset))
        if hasattr(self.dataset, "get_item"):           # FramesDataset: each visit draws its own frames
            return self.dataset.get_item(inner, repeat=repeat)
        return self.dataset[inner]


class PairedDataset(Dataset):
    """(driving video, source video) pairs of a test dataset for animation.

    Without `pairs_list`: `number_of_pairs` pairs drawn without replacement from the
    grid of the first min(number_of_pairs, len) videos (FOMM's rule; a video may be
    paired with itself). With a pairs CSV (columns `source`, `driving`, video names):
    its first `number_of_pairs` rows whose videos are in the dataset.
    Items: {"driving_video", "source_video", "driving_name", "source_name", ...}.
    """
    def __init__(self, initial_dataset: FramesDataset, number_of_pairs: int, seed: int = 0):
        self.initial_dataset = initial_dataset
        pairs_list = getattr(initial_dataset, "pairs_list", None)
        if pairs_list is None:
            count = min(number_of_pairs, len(initial_dataset))
            grid = np.stack(np.meshgrid(np.arange(count), np.arange(count), indexing="ij"),
                            -1).reshape(-1, 2)  # (count*count, 2): (driving, source)
            chosen = np.random.default_rng(seed).choice(len(grid), min(number_of_pairs, len(grid)),
                                                        replace=False)
            self.pairs = [tuple(int(i) for i in grid[c]) for c in chosen]
        else:
            self.pairs = self._read_pairs(Path(pairs_list), number_of_pairs)

    def _read_pairs(self, path: Path, number_of_pairs: int) -> list[tuple[int, int]]:
        if not path.is_file():
            raise FileNotFoundError(f"pairs_list {str(path)!r} does not exist")
        index = {name: i for i, name in enumerate(self.initial_dataset.videos)}
        with open(path, newline="") as f:
            reader = csv.DictReader(f)
            missing = {"source", "driving"} - set(reader.fieldnames or ())
            if missing:
                raise ValueError(f"pairs_list {str(path)!r} lacks columns {sorted(missing)}")
            rows = [r for r in reader if r["source"] in index and r["driving"] in index]
        return [(index[r["driving"]], index[r["source"]]) for r in rows[:number_of_pairs]]

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, index: int) -> dict[str, Any]:
        driving, source = (self.initial_dataset[i] for i in self.pairs[index])
        return {**{"driving_" + k: v for k, v in driving.items()},
                **{"source_" + k: v for k, v in source.items()}}
