"""Write the box of the shipped model's departures from FOMM's recipe into notebooks 2, 3 and 5
(``pcutlib.teaching.departures``), between their <!-- departures:start/end --> markers.

    python tools/write_departures.py
"""
from pathlib import Path

from pcutlib.teaching.departures import write_departures

NOTEBOOKS = ("02_keypoints_and_dense_motion", "03_occlusion_and_inpainting", "05_prioritycut")

if __name__ == "__main__":
    root = Path(__file__).resolve().parent.parent
    for name in NOTEBOOKS:
        changed = write_departures(root / "notebooks" / f"{name}.ipynb", root)
        print(f"{name}: {'written' if changed else 'unchanged'}")
