"""VoxCeleb for FOMM: download the listed YouTube videos, cut the face crops, resize.

    python data_scripts/voxceleb.py --metadata vox-metadata.csv --out data/vox-png \
        [--local-videos DIR] [--format png|mp4] [--size 256] [--dry-run]

The metadata CSV is FOMM's `vox-metadata.csv` (public video-preprocessing repository of
FOMM's authors). Outputs are named `<person_id>#<video_id>#<start>#<end>` (start/end
6-digit frame numbers), so `id_sampling: True` groups them by person. Many listed
videos are gone from YouTube: those are listed in OUT/failures.txt, not fatal.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `data_scripts` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from data_scripts import youtube_crops  # noqa: E402


def crop_name(crop: youtube_crops.Crop) -> str:
    """FOMM's VoxCeleb name: person_id#video_id#start#end."""
    return f"{crop.person_id}#{crop.video_id}#{crop.start:06d}#{crop.end:06d}"


def main(argv: list[str] | None = None) -> int:
    return youtube_crops.main(argv, __doc__, crop_name, require=("person_id",))


if __name__ == "__main__":
    sys.exit(main())
