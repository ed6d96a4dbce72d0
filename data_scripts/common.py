"""Shared pieces of the dataset scripts: saving videos, resuming, the failures report.

Outputs follow FOMM's layout: `<out>/train/` and `<out>/test/`, each video either a
folder of PNG frames (`--format png`, lossless, FOMM's default) or an `.mp4` file.
Every output is written under a temporary name and renamed when complete, so an
existing output is a finished one and a rerun skips it (resume).
"""

from __future__ import annotations

import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:  # so that `python data_scripts/x.py` finds pcutlib
    sys.path.insert(0, str(REPO_ROOT))

FORMATS = ("png", "mp4")
FAILURES_FILE = "failures.txt"


def output_path(out: Path, partition: str, name: str, fmt: str) -> Path:
    """`<out>/<partition>/<name>` (a PNG folder) or `<name>.mp4`."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got {fmt!r}")
    if partition not in ("train", "test"):
        raise ValueError(f"partition must be 'train' or 'test', got {partition!r} (video {name!r})")
    return out / partition / (name + (".mp4" if fmt == "mp4" else ""))


def save_video(path: Path, frames: np.ndarray, fps: float = 25.0) -> None:
    """Write frames (T,H,W,3) uint8 atomically as a PNG folder or an .mp4 (by `path`)."""
    import imageio.v3 as iio

    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError(f"{path}: frames must be (T,H,W,3) uint8, got {frames.shape} {frames.dtype}")
    path.parent.mkdir(parents=True, exist_ok=True)
    # Hidden (dataset listings skip it) and with the real suffix (ffmpeg picks the format by it).
    partial = path.with_name(f".{path.stem}.partial{path.suffix}")
    if partial.is_dir():
        shutil.rmtree(partial)
    elif partial.exists():
        partial.unlink()
    if path.suffix == ".mp4":
        iio.imwrite(partial, frames, plugin="FFMPEG", extension=".mp4", fps=fps)
    else:
        partial.mkdir()
        for index, frame in enumerate(frames):
            iio.imwrite(partial / f"{index:07d}.png", frame, extension=".png")
    partial.rename(path)


def resize_uint8(frame: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """(H,W,3) uint8 -> (h,w,3) uint8, anti-aliased bilinear (pcutlib.data.video_io.resize_frames)."""
    from pcutlib.data.video_io import resize_frames

    resized = resize_frames(frame[None].astype(np.float32) / 255.0, shape)[0]
    return np.round(resized * 255.0).astype(np.uint8)


@dataclass
class Report:
    """What a run did: outputs written, outputs already there, failures (name, reason)."""
    written: list[str] = field(default_factory=list)
    existing: list[str] = field(default_factory=list)
    failures: list[tuple[str, str]] = field(default_factory=list)

    def finish(self, out: Path, dry_run: bool = False) -> int:
        """Print a summary, write `<out>/failures.txt`; exit status 1 only if nothing worked."""
        print(f"{'would write' if dry_run else 'written'}: {len(self.written)}, "
              f"already done: {len(self.existing)}, failed: {len(self.failures)}")
        for name, reason in self.failures:
            print(f"  FAILED {name}: {reason}")
        if not dry_run:
            out.mkdir(parents=True, exist_ok=True)
            lines = [f"{name}\t{reason}\n" for name, reason in self.failures]
            (out / FAILURES_FILE).write_text("".join(lines))
            if self.failures:
                print(f"failures listed in {out / FAILURES_FILE}")
        worked = self.written or self.existing
        return 1 if self.failures and not worked else 0


def add_common_arguments(parser) -> None:
    """--out, --format, --size, --local-videos, --dry-run."""
    parser.add_argument("--out", type=Path, required=True, metavar="DIR",
                        help="dataset root to write (train/ and test/ inside)")
    parser.add_argument("--format", choices=FORMATS, default="png",
                        help="png: a folder of PNG frames per video (lossless, FOMM's default); "
                             "mp4: one file per video (default: %(default)s)")
    parser.add_argument("--size", type=int, default=256, metavar="S",
                        help="output frames are S x S (default: %(default)s)")
    parser.add_argument("--local-videos", type=Path, default=None, metavar="DIR",
                        help="folder of already downloaded source videos, used before any download")
    parser.add_argument("--dry-run", action="store_true", help="print what would be done, write nothing")
