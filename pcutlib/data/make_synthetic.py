"""Writing a synthetic dataset in FOMM's layout (``pcut make-synthetic``): identities split
between train/ and test/, one PNG strip per video with its joints and its ground truth beside it.
"""
from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import imageio.v3 as iio
import numpy as np
from tqdm import tqdm

from pcutlib.data.synthetic import (FIGURE_HEIGHT, JOINT_NAMES, LIMB_MOTION, PART_NAMES, World, draw_motion,
                                    make_identity, render, world_background)
from pcutlib.data.synthetic_truth import truth_arrays, write_truth
from pcutlib.data.video_io import TRUTH_SUFFIX, keypoints_path


def video_name(identity: int, video: int) -> str:
    """FOMM/VoxCeleb-style name `id<NNN>#video<MMMM>` (id_sampling groups by `id<NNN>`)."""
    return f"id{identity:03d}#video{video:04d}"


def _seed(*numbers: int) -> int:
    return int(np.random.SeedSequence([int(n) for n in numbers]).generate_state(1)[0])


def _split_identities(identities: int, test_fraction: float) -> int:
    """Number of test identities: round(fraction * identities), at least 1 of each split."""
    if not 0.0 <= test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in [0, 1), got {test_fraction}")
    if test_fraction == 0:
        return 0
    if identities < 2:
        raise ValueError(f"a train/test split needs identities >= 2, got {identities}")
    return min(max(1, round(test_fraction * identities)), identities - 1)


def make_synthetic_dataset(out: str | Path, videos: int = 200, frames: int = 32, size: int = 64,
                           seed: int = 0, identities: int | None = None,
                           test_fraction: float = 0.2, progress: bool = True,
                           overwrite: bool = False, stripes: bool = False,
                           world: World = World()) -> Path:
    """Write a FOMM-layout synthetic dataset and return its root `out`.

    Layout: out/train/ and out/test/ hold, per video,
      `id<NNN>#video<MMMM>.png`            T frames stacked horizontally, (S, T*S, 3) uint8;
      `id<NNN>#video<MMMM>.keypoints.npy`  the joints, (T,J,2) float32 in [-1,1];
      `id<NNN>#video<MMMM>.truth.npz`      what only a renderer knows: `labels` (T,S,S) uint8
          (the part covering each pixel, 255 = background), `part_frames` (T,P,4) (each part's
          own coordinates), `paint_order` (T,P), the pose parameters `motion_*` and the seeds
          and world that re-render it (``load_truth``, ``disocclusion``, ``true_animation``).
    out/synthetic.json records the parameters, joint and part names. Identities (default
    max(2, videos // 5)) are split between train and test, so test figures are unseen.
    Video v belongs to identity v % identities. The same arguments write byte-identical files.
    """
    out = Path(out)
    identities = max(2, videos // 5) if identities is None else int(identities)
    if videos < 1 or identities < 1 or frames < 2:
        raise ValueError(f"need videos >= 1, identities >= 1, frames >= 2; got videos={videos}, "
                         f"identities={identities}, frames={frames}")
    num_test = _split_identities(identities, test_fraction)
    if out.exists() and any(out.iterdir()):
        if not overwrite:
            raise FileExistsError(f"output folder {str(out)!r} is not empty (pass overwrite=True, "
                                  f"or --overwrite, to replace its train/ and test/)")
        for split in ("train", "test"):
            shutil.rmtree(out / split, ignore_errors=True)
    for split in ("train", "test"):
        (out / split).mkdir(parents=True, exist_ok=True)
    test_ids = set(range(identities - num_test, identities))
    for v in tqdm(range(videos), desc="synthetic videos", disable=not progress, unit="video"):
        identity = v % identities
        identity_seed, video_seed = _seed(seed, 0, identity), _seed(seed, 1, v)
        motion = draw_motion(video_seed, frames, world.limb_motion)
        rendering = render(make_identity(identity_seed), motion, world_background(video_seed, size, stripes, world), world)
        path = out / ("test" if identity in test_ids else "train") / (video_name(identity, v) + ".png")
        stacked = rendering.frames.transpose(1, 0, 2, 3).reshape(size, frames * size, 3)  # (S, T*S, 3)
        # Fixed zlib settings and no metadata chunks: byte-identical output for a seed.
        iio.imwrite(path, stacked, extension=".png", compress_level=6, optimize=False)
        np.save(keypoints_path(path), rendering.keypoints)
        write_truth(keypoints_path(path, TRUTH_SUFFIX),
                    truth_arrays(rendering, motion, identity_seed, video_seed, stripes, world))
    meta = {"videos": videos, "frames": frames, "size": size, "seed": seed,
            "identities": identities, "test_identities": sorted(test_ids),
            "stripes": stripes, **world.record(),
            "joint_names": list(JOINT_NAMES), "part_names": list(PART_NAMES)}
    (out / "synthetic.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
    return out


def add_make_synthetic_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Flags of `pcut make-synthetic` (and data_scripts/synthetic.py)."""
    parser.add_argument("--out", type=Path, default=Path("data/synthetic-64"), metavar="DIR",
                        help="output folder (default: %(default)s)")
    parser.add_argument("--videos", type=int, default=200, metavar="N", help="number of videos (default: %(default)s)")
    parser.add_argument("--frames", type=int, default=32, metavar="T", help="frames per video (default: %(default)s)")
    parser.add_argument("--size", type=int, default=64, metavar="S", help="frame size in pixels (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, metavar="K", help="random seed (default: %(default)s)")
    parser.add_argument("--identities", type=int, default=None, metavar="N",
                        help="number of figures (default: max(2, videos // 5))")
    parser.add_argument("--test-fraction", type=float, default=0.2, metavar="F",
                        help="share of identities held out for test/ (default: %(default)s)")
    parser.add_argument("--stripes", action="store_true", help="high-frequency background stripes")
    parser.add_argument("--figure-height", type=float, default=FIGURE_HEIGHT, metavar="H",
                        help="figure height as a share of the frame (default: %(default)s)")
    parser.add_argument("--limb-width", type=float, default=1.0, metavar="W",
                        help="factor on the limb and hand radii (default: %(default)s)")
    parser.add_argument("--limb-motion", type=float, default=LIMB_MOTION, metavar="M",
                        help="factor on the joint angles' amplitudes (default: %(default)s)")
    parser.add_argument("--texture", action="store_true",
                        help="stripes on each body part, fixed in the part's own coordinates")
    parser.add_argument("--background-texture", type=float, default=0.0, metavar="SD",
                        help="fine random grain on the background, luminance sd in 0..255 units (default: 0, smooth)")
    parser.add_argument("--background-grain-scale", type=float, default=1.0, metavar="F",
                        help="factor on the grain's size, about 2 px at 64 px (default: %(default)s)")
    parser.add_argument("--part-grain", action="store_true",
                        help="a random grain on each body part, fixed in the part's own coordinates (replaces --texture)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing dataset in --out")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser


def run_make_synthetic(args: argparse.Namespace) -> int:
    """Run `make_synthetic_dataset` from parsed flags; returns the exit status (0)."""
    root = make_synthetic_dataset(args.out, videos=args.videos, frames=args.frames, size=args.size,
                                  seed=args.seed, identities=args.identities,
                                  test_fraction=args.test_fraction, progress=not args.no_progress,
                                  overwrite=args.overwrite, stripes=args.stripes,
                                  world=World(args.figure_height, args.texture, args.limb_width, args.limb_motion,
                                              args.background_texture, args.background_grain_scale, args.part_grain))
    print(f"wrote {args.videos} synthetic videos to {root}")
    return 0
