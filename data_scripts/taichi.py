"""Tai-Chi-HD for FOMM: download the listed YouTube videos, cut the person crops, resize.

    python data_scripts/taichi.py --metadata taichi-metadata.csv --out data/taichi-png \
        [--local-videos DIR] [--format png|mp4] [--size 256] [--dry-run]

The metadata CSV is FOMM's `taichi-metadata.csv` (public video-preprocessing repository of
FOMM's authors). Outputs are named `<video_id>#<start>#<end>` (start/end
6-digit frame numbers; FOMM trains Tai-Chi without id sampling). Many listed
videos are gone from YouTube: those are listed in OUT/failures.txt, not fatal.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `data_scripts` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from data_scripts import youtube_crops  # noqa: E402


def crop_name(crop: youtube_crops.Crop) -> str:
    """FOMM's Tai-Chi name: video_id#start#end."""
    return f"{crop.video_id}#{crop.start:06d}#{crop.end:06d}"


def main(argv: list[str] | None = None) -> int:
    return youtube_crops.main(argv, __doc__, crop_name)


if __name__ == "__main__":
    sys.exit(main())
