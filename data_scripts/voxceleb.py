"""VoxCeleb for FOMM: download the listed YouTube videos, cut the face crops, resize.

    python data_scripts/voxceleb.py --metadata vox-metadata.csv --out data/vox-png \
        [--local-videos DIR] [--format png|mp4] [--size 256] [--dry-run]

The metadata CSV is FOMM's `vox-metadata.csv` (public video-preprocessing repository of
FOMM's authors). Outputs are named `<person_id>#<video_id>#<start>#<end>` (start/end
6-digit frame numbers), so `id_sampling: True` groups them by person. Many listed
videos are gone from YouTube: those are listed in OUT/failures.txt, not fatal.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `data_scripts` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from data_scripts import youtube_crops  # noqa: E402
from data_scripts.common import add_common_arguments  # noqa: E402


def crop_name(crop: youtube_crops.Crop) -> str:
    """FOMM's VoxCeleb name: person_id#video_id#start#end."""
    return f"{crop.person_id}#{crop.video_id}#{crop.start:06d}#{crop.end:06d}"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_arguments(parser)
    youtube_crops.add_arguments(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    crops = youtube_crops.read_metadata(args.metadata, require=("person_id",))
    report = youtube_crops.process(
        crops, crop_name, args.out, size=args.size, fmt=args.format, local_videos=args.local_videos,
        video_folder=args.video_folder, download=not args.no_download, downloader=args.downloader,
        dry_run=args.dry_run)
    return report.finish(args.out, dry_run=args.dry_run)


if __name__ == "__main__":
    sys.exit(main())
