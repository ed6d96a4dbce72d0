"""BAIR robot pushing for FOMM: 64x64 sequences of 30 frames -> S x S videos.

Two sources:
  --tfrecords DIR     the original release (`softmotion30_44k/{train,test}/*.tfrecords`),
                      read with tensorflow (only needed for this path). Frame t of a
                      sequence is the raw 64x64x3 uint8 string `'<t>/image_aux1/encoded'`
                      (`--camera main` reads `image_main`).
  --local-videos DIR  already extracted videos, `DIR/{train,test}/<video>` (frame folders
                      or video files, as pcutlib.data.video_io reads them).
--download fetches and unpacks the release (about 30 GB) into --download-dir first.

    python data_scripts/bair.py --tfrecords bair/softmotion30_44k --out data/bair [--dry-run]

Outputs: `<out>/{train,test}/<tfrecord stem>-<index>` (or the extracted video's name).
"""

from __future__ import annotations

import argparse
import sys
import tarfile
import urllib.request
from pathlib import Path
from typing import Iterator

if __package__ in (None, ""):  # run as a script: make `data_scripts` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from data_scripts.common import Report, add_common_arguments, output_path, save_video  # noqa: E402

RELEASE_URL = "http://rail.eecs.berkeley.edu/datasets/bair_robot_pushing_dataset_v0.tar"
FRAMES_PER_SEQUENCE = 30
SOURCE_SIZE = 64
SPLITS = ("train", "test")


def _tensorflow():
    try:
        import tensorflow as tf  # noqa: PLC0415
    except ImportError as error:
        raise SystemExit("reading BAIR tfrecords needs tensorflow (pip install tensorflow-cpu); "
                         "or extract the frames elsewhere and pass --local-videos DIR") from error
    return tf


def tfrecord_sequences(path: Path, camera: str = "aux1") -> Iterator[np.ndarray]:
    """Sequences (30,64,64,3) uint8 of one tfrecord file."""
    tf = _tensorflow()
    for record in tf.data.TFRecordDataset(str(path)):
        example = tf.train.Example()
        example.ParseFromString(record.numpy())
        features = example.features.feature
        frames = []
        for t in range(FRAMES_PER_SEQUENCE):
            key = f"{t}/image_{camera}/encoded"
            if key not in features:
                raise ValueError(f"{path}: a sequence lacks {key!r}")
            raw = features[key].bytes_list.value[0]
            frames.append(np.frombuffer(raw, np.uint8).reshape(SOURCE_SIZE, SOURCE_SIZE, 3))
        yield np.stack(frames)


def resize_video(frames: np.ndarray, size: int) -> np.ndarray:
    """(T,H,W,3) uint8 -> (T,S,S,3) uint8 (bilinear, anti-aliased when shrinking)."""
    from pcutlib.data.video_io import resize_frames  # noqa: PLC0415

    return np.round(resize_frames(frames.astype(np.float32) / 255.0, (size, size)) * 255.0).astype(np.uint8)


def from_tfrecords(root: Path, out: Path, size: int, fmt: str, camera: str, dry_run: bool) -> Report:
    report = Report()
    for split in SPLITS:
        files = sorted((root / split).glob("*.tfrecords"))
        if not files:
            report.failures.append((str(root / split), "no *.tfrecords files"))
        for path in files:
            if dry_run:
                print(f"{path} -> {out / split}/{path.stem}-<index>")
                report.written.append(path.name)
                continue
            try:
                for index, frames in enumerate(tfrecord_sequences(path, camera)):
                    target = output_path(out, split, f"{path.stem}-{index:03d}", fmt)
                    if target.exists():
                        report.existing.append(target.name)
                        continue
                    save_video(target, resize_video(frames, size), fps=10)
                    report.written.append(target.name)
            except Exception as error:  # a corrupt record file must not stop the others
                report.failures.append((str(path), f"{type(error).__name__}: {error}"))
    return report


def from_extracted(root: Path, out: Path, size: int, fmt: str, dry_run: bool) -> Report:
    """Resize already extracted videos `root/{train,test}/<video>`."""
    from pcutlib.data.video_io import list_videos, read_video  # noqa: PLC0415

    report = Report()
    for split in SPLITS:
        if not (root / split).is_dir():
            report.failures.append((str(root / split), "folder does not exist"))
            continue
        for video in list_videos(root / split):
            target = output_path(out, split, Path(video.name).stem if video.is_file() else video.name, fmt)
            if target.exists():
                report.existing.append(target.name)
            elif dry_run:
                print(f"{video} -> {target}")
                report.written.append(target.name)
            else:
                try:
                    frames = read_video(video, (size, size, 3))
                except (ValueError, FileNotFoundError) as error:
                    report.failures.append((str(video), str(error)))
                    continue
                save_video(target, np.round(frames * 255.0).astype(np.uint8), fps=10)
                report.written.append(target.name)
    return report


def download_release(folder: Path, dry_run: bool) -> Path:
    """Fetch and unpack the BAIR release into `folder`; returns its softmotion30_44k dir."""
    root = folder / "softmotion30_44k"
    if root.is_dir():
        return root
    archive = folder / Path(RELEASE_URL).name
    if dry_run:
        print(f"would download {RELEASE_URL} -> {archive} and unpack it")
        return root
    folder.mkdir(parents=True, exist_ok=True)
    if not archive.is_file():
        partial = archive.with_name(archive.name + ".partial")
        urllib.request.urlretrieve(RELEASE_URL, partial)
        partial.rename(archive)
    with tarfile.open(archive) as tar:
        tar.extractall(folder, filter="data")
    return root


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_arguments(parser)
    parser.add_argument("--tfrecords", type=Path, default=None, metavar="DIR",
                        help="softmotion30_44k folder with train/ and test/ tfrecords")
    parser.add_argument("--camera", choices=("aux1", "main"), default="aux1",
                        help="which BAIR camera to read (default: %(default)s)")
    parser.add_argument("--download", action="store_true", help="download the release first")
    parser.add_argument("--download-dir", type=Path, default=Path("bair-download"), metavar="DIR")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.download:
        args.tfrecords = download_release(args.download_dir, args.dry_run)
    if (args.tfrecords is None) == (args.local_videos is None):
        raise SystemExit("give exactly one source: --tfrecords DIR (or --download) or --local-videos DIR")
    if args.tfrecords is not None:
        report = from_tfrecords(args.tfrecords, args.out, args.size, args.format, args.camera, args.dry_run)
    else:
        report = from_extracted(args.local_videos, args.out, args.size, args.format, args.dry_run)
    return report.finish(args.out, dry_run=args.dry_run)


if __name__ == "__main__":
    sys.exit(main())
