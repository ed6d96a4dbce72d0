"""Cut FOMM-style crops out of YouTube videos, as listed in a metadata CSV.

The metadata (FOMM's public video-preprocessing practice, files `vox-metadata.csv` and
`taichi-metadata.csv`) has one row per crop:

    video_id,start,end,bbox,fps,width,height,partition[,person_id]

`start`/`end` are frame numbers at the reference frame rate `fps`, `bbox` is
`left-top-right-bottom` in pixels of the reference `width` x `height`. A downloaded
copy may have another frame rate or resolution: frame i (at the copy's rate r) belongs
to the crop when start * r <= i * fps < end * r, and the box is rescaled to the copy's
size. Each crop is resized to S x S and saved as `<out>/<partition>/<name>`.
"""

from __future__ import annotations

import argparse
import csv
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from data_scripts.common import Report, output_path, resize_uint8, save_video

VIDEO_SUFFIXES = (".mp4", ".mkv", ".webm", ".mov")
WATCH_URL = "https://www.youtube.com/watch?v="
REQUIRED_COLUMNS = ("video_id", "start", "end", "bbox", "fps", "width", "height", "partition")


@dataclass(frozen=True)
class Crop:
    """One metadata row: a time span and a box of a source video."""
    video_id: str
    start: int
    end: int
    bbox: tuple[int, int, int, int]  # left, top, right, bottom at the reference size
    fps: float
    width: int
    height: int
    partition: str
    person_id: str | None = None


def read_metadata(path: Path, require: tuple[str, ...] = ()) -> list[Crop]:
    """Rows of a metadata CSV; errors name the file, the row and the bad value."""
    if not Path(path).is_file():
        raise FileNotFoundError(f"metadata file {str(path)!r} does not exist")
    crops = []
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        missing = [c for c in REQUIRED_COLUMNS + require if c not in (reader.fieldnames or ())]
        if missing:
            raise ValueError(f"metadata {str(path)!r} lacks columns {missing}")
        for line, row in enumerate(reader, start=2):
            try:
                bbox = tuple(int(v) for v in row["bbox"].split("-"))
                if len(bbox) != 4:
                    raise ValueError(f"bbox {row['bbox']!r} is not left-top-right-bottom")
                crop = Crop(row["video_id"], int(row["start"]), int(row["end"]), bbox,
                            float(row["fps"]), int(row["width"]), int(row["height"]),
                            row["partition"], row.get("person_id") or None)
            except (ValueError, TypeError) as error:
                raise ValueError(f"metadata {str(path)!r} line {line}: {error}") from error
            if crop.end <= crop.start:
                raise ValueError(f"metadata {str(path)!r} line {line}: end {crop.end} <= start {crop.start}")
            crops.append(crop)
    return crops


def find_local_video(video_id: str, folders: list[Path]) -> Path | None:
    """`<folder>/<video_id>.<mp4|mkv|webm|mov>` in the first folder that has it."""
    for folder in folders:
        for suffix in VIDEO_SUFFIXES:
            candidate = Path(folder) / (video_id + suffix)
            if candidate.is_file() and candidate.stat().st_size > 0:
                return candidate
    return None


def download_video(video_id: str, folder: Path, downloader: str = "yt-dlp") -> Path:
    """Download with yt-dlp to `<folder>/<video_id>.mp4`; RuntimeError with the reason."""
    program = shutil.which(downloader)
    if program is None:
        raise RuntimeError(f"{downloader!r} is not installed (pip install yt-dlp), and the video "
                           f"is not in --local-videos")
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{video_id}.mp4"
    result = subprocess.run([program, "--quiet", "--no-warnings", "--no-playlist",
                             "-f", "best[ext=mp4]/best", "-o", str(target), WATCH_URL + video_id],
                            capture_output=True, text=True)
    if result.returncode != 0 or not target.is_file():
        last = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"download failed (the video may be gone from the web): {last}")
    return target


def scaled_box(crop: Crop, frame_height: int, frame_width: int) -> tuple[int, int, int, int]:
    """The crop's box at the copy's resolution, clipped to the frame: (left, top, right, bottom)."""
    sx, sy = frame_width / crop.width, frame_height / crop.height
    left, top, right, bottom = crop.bbox
    return (max(0, int(left * sx)), max(0, int(top * sy)),
            min(frame_width, int(right * sx)), min(frame_height, int(bottom * sy)))


def cut_crops(video: Path, crops: list[Crop], size: int) -> dict[Crop, np.ndarray]:
    """Read `video` once and return each crop's frames (T,S,S,3) uint8 (T may be 0)."""
    import imageio.v2 as imageio

    frames: dict[Crop, list[np.ndarray]] = {crop: [] for crop in crops}
    try:
        reader = imageio.get_reader(video, "FFMPEG")
    except Exception as error:
        raise RuntimeError(f"cannot open {video}: {error}") from error
    with reader:
        rate = float(reader.get_meta_data().get("fps") or crops[0].fps)
        last = max(c.end for c in crops)
        for index, frame in enumerate(reader):
            if index * crops[0].fps >= last * rate:
                break
            for crop in crops:
                if crop.start * rate <= index * crop.fps < crop.end * rate:
                    left, top, right, bottom = scaled_box(crop, *frame.shape[:2])
                    if right - left < 2 or bottom - top < 2:
                        raise RuntimeError(f"box {crop.bbox} is empty in a {frame.shape[1]}x"
                                           f"{frame.shape[0]} copy")
                    frames[crop].append(resize_uint8(frame[top:bottom, left:right, :3], (size, size)))
    return {crop: (np.stack(f) if f else np.zeros((0, size, size, 3), np.uint8))
            for crop, f in frames.items()}


def process(crops: list[Crop], name_of: Callable[[Crop], str], out: Path, *, size: int = 256,
            fmt: str = "png", local_videos: Path | None = None, video_folder: Path | None = None,
            download: bool = True, downloader: str = "yt-dlp", dry_run: bool = False) -> Report:
    """Make every crop of the metadata that is not already done; failures are collected."""
    video_folder = video_folder or out / "source-videos"
    report = Report()
    by_video: dict[str, list[Crop]] = {}
    for crop in crops:
        by_video.setdefault(crop.video_id, []).append(crop)
    for video_id, video_crops in by_video.items():
        todo = []
        for crop in video_crops:
            if output_path(out, crop.partition, name_of(crop), fmt).exists():
                report.existing.append(name_of(crop))  # finished by an earlier run
            else:
                todo.append(crop)
        if not todo:
            continue
        local = find_local_video(video_id, [p for p in (local_videos, video_folder) if p])
        if local is None and not download:
            report.failures.append((video_id, "not in --local-videos (downloads disabled)"))
            continue
        if dry_run:
            source = local or f"download {WATCH_URL}{video_id} -> {video_folder}"
            for crop in todo:
                print(f"{video_id}: {source} -> {output_path(out, crop.partition, name_of(crop), fmt)}")
                report.written.append(name_of(crop))
            continue
        try:
            if local is None:
                local = download_video(video_id, video_folder, downloader)
            cut = cut_crops(local, todo, size)
        except RuntimeError as error:
            report.failures.append((video_id, str(error)))
            continue
        for crop, frames in cut.items():
            name = name_of(crop)
            if len(frames) < 2:
                report.failures.append((name, f"only {len(frames)} frame(s) in frames "
                                              f"{crop.start}..{crop.end} of {local.name}"))
                continue
            save_video(output_path(out, crop.partition, name, fmt), frames, fps=crop.fps)
            report.written.append(name)
    return report


def add_arguments(parser) -> None:
    """Flags shared by voxceleb.py and taichi.py (besides data_scripts.common's)."""
    parser.add_argument("--metadata", type=Path, required=True, metavar="CSV",
                        help="metadata CSV: video_id,start,end,bbox,fps,width,height,partition[,person_id]")
    parser.add_argument("--video-folder", type=Path, default=None, metavar="DIR",
                        help="where downloads go (default: OUT/source-videos)")
    parser.add_argument("--no-download", action="store_true",
                        help="use only --local-videos / --video-folder; a missing video is a failure")
    parser.add_argument("--downloader", default="yt-dlp", help="downloader program (default: %(default)s)")


def main(argv: list[str] | None, description: str, name_of: Callable[[Crop], str],
         require: tuple[str, ...] = ()) -> int:
    """The whole command of voxceleb.py and taichi.py: parse the flags, read the metadata (with the
    ``require``d extra columns), cut every crop named by ``name_of``; the exit status."""
    from data_scripts.common import add_common_arguments
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_arguments(parser)
    add_arguments(parser)
    args = parser.parse_args(argv)
    report = process(read_metadata(args.metadata, require=require), name_of, args.out, size=args.size,
                     fmt=args.format, local_videos=args.local_videos, video_folder=args.video_folder,
                     download=not args.no_download, downloader=args.downloader, dry_run=args.dry_run)
    return report.finish(args.out, dry_run=args.dry_run)
