"""Where several models lose their silhouette IoU, body part by body part, and which joints have no
keypoint near them (``pcutlib.evaluation.silhouette_parts``), side by side on one held-out world:

    python tools/iou_by_part.py --models shipped=pretrained/synthetic-64.pt \\
        "demo seed 0=runs/.../checkpoints/last.pt" --data data/synthetic-64-check --out results/iou-by-part
    python tools/iou_by_part.py --from-json results/iou-by-part/iou_by_part.json --readme docs/benchmarks.md

Each model is diagnosed with ``pcut diagnose``'s code on the world's held-out videos. Writes
<out>/iou_by_part.json (per model: its checkpoint, its IoUs, ``silhouette_loss_by_part`` and
``nearest_keypoint_px``), <out>/iou_by_part.md (two tables: the IoU lost by part, and each
joint's distance to its nearest keypoint) and <out>/iou_by_part.png; with --readme, the tables
between the page's <!-- MARKER:start/end --> lines (--marker, default iou-by-part) and one
sentence per model between <!-- MARKER-sentences:start/end -->.
"""
from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

from pcutlib.evaluation.silhouette_parts import lost_on

REPO = Path(__file__).resolve().parent.parent
# the parts in the order the tables list them: limbs' ends first
PART_ORDER = ("left_hand", "right_hand", "left_lower_arm", "right_lower_arm", "left_upper_arm", "right_upper_arm",
              "left_shin", "right_shin", "left_thigh", "right_thigh", "torso", "shoulders", "hips", "head",
              "edge", "neither_frame")


def parse_model(text: str) -> tuple[str, Path]:
    """'NAME=CHECKPOINT' -> (name, path)."""
    name, separator, path = text.partition("=")
    if not separator or not name or not path:
        raise argparse.ArgumentTypeError(f"{text!r}: expected NAME=CHECKPOINT")
    return name, Path(path)


def shown(path: Path) -> str:
    """``path`` as the JSON stores it: relative to the repository when inside it."""
    resolved = path.resolve()
    return str(resolved.relative_to(REPO)) if resolved.is_relative_to(REPO) else str(path)


def diagnosed(models: list[tuple[str, Path]], data: Path, max_videos: int | None, progress: bool) -> dict:
    """{name: {"checkpoint", "silhouette_iou", "warped_source_silhouette_iou", "silhouette_iou_at_rest",
    "silhouette_loss_by_part", "nearest_keypoint_px"}} of each model diagnosed on ``data``."""
    from pcutlib.evaluation.diagnose_command import diagnose_checkpoint
    rows = {}
    for name, checkpoint in models:
        diagnosis = diagnose_checkpoint(checkpoint, data, max_videos, progress)[0]
        if diagnosis.silhouette_loss_by_part is None or diagnosis.nearest_keypoint_px is None:
            raise SystemExit(f"{data}: {name} could not be split by part ({'; '.join(diagnosis.skipped)})")
        rows[name] = {"checkpoint": shown(checkpoint), "videos": diagnosis.videos,
                      **{key: getattr(diagnosis, key) for key in (
                          "silhouette_iou", "warped_source_silhouette_iou", "silhouette_iou_at_rest",
                          "silhouette_loss_by_part", "nearest_keypoint_px")}}
    return rows


def ordered_parts(rows: dict) -> list[str]:
    """The parts any model has a row for, in PART_ORDER."""
    present = {part for row in rows.values() for part in row["silhouette_loss_by_part"]["parts"]}
    return [part for part in PART_ORDER if part in present]


def loss_table(rows: dict) -> str:
    """Markdown: a row per part, a column per model; each cell the share of the union lost there
    (missed + ghost) and, in brackets, the share of the part's own pixels the prediction misses and
    the warp alone misses."""
    lines = ["| part | " + " | ".join(rows) + " |", "|---|" + "---|" * len(rows)]
    for part in ordered_parts(rows):
        cells = []
        for row in rows.values():
            entry = row["silhouette_loss_by_part"]["parts"].get(part)
            if entry is None:
                cells.append("-")
                continue
            shares = "" if entry["missed_share"] is None else (
                f" ({entry['missed_share']:.0%}; warp {entry['warp_missed_share']:.0%})"
                if entry["warp_missed_share"] is not None else f" ({entry['missed_share']:.0%})")
            cells.append(f"{lost_on(row['silhouette_loss_by_part'], [part]):.3f}{shares}")
        lines.append(f"| {part} | " + " | ".join(cells) + " |")
    lines.append("| all: 1 - pooled IoU | " + " | ".join(
        f"{1 - row['silhouette_loss_by_part']['pooled_iou']:.3f}" for row in rows.values()) + " |")
    lines.append("| silhouette IoU (pcut diagnose: mean over every frame) | " + " | ".join(
        f"{row['silhouette_iou']:.3f}" for row in rows.values()) + " |")
    return "\n".join(lines)


def keypoint_table(rows: dict) -> str:
    """Markdown: a row per joint, a column per model: the mean distance to the nearest keypoint (px)."""
    joints = list(next(iter(rows.values()))["nearest_keypoint_px"])
    lines = ["| joint: nearest keypoint (px) | " + " | ".join(rows) + " |", "|---|" + "---|" * len(rows)]
    for joint in joints:
        lines.append(f"| {joint} | " + " | ".join(f"{row['nearest_keypoint_px'][joint]:.1f}" for row in rows.values())
                     + " |")
    return "\n".join(lines)


def tables(rows: dict) -> str:
    """The loss table, then the keypoint table."""
    return loss_table(rows) + "\n\n" + keypoint_table(rows)


HANDS = ("left_hand", "right_hand")


def sentences(rows: dict) -> str:
    """One sentence per model: its IoU, what the two hands cost of the union (and of all it loses),
    the share of each hand's pixels missed, and each hand joint's nearest keypoint."""
    lines = []
    for name, row in rows.items():
        loss = row["silhouette_loss_by_part"]
        if not all(loss["parts"].get(hand, {}).get("pixels") for hand in HANDS):
            raise SystemExit(f"{name}: the held-out frames show no pixel of a hand ({', '.join(HANDS)})")
        if loss["pooled_iou"] == 1:
            raise SystemExit(f"{name}: the pooled IoU is 1, nothing is lost to split")
        hands = [loss["parts"][hand] for hand in HANDS]
        cost = lost_on(loss, HANDS)
        lines.append(f"{name}: IoU {row['silhouette_iou']:.3f} (pooled over frames 1.. {loss['pooled_iou']:.3f}); "
                     f"the hands cost {cost:.3f} of the union, {cost / (1 - loss['pooled_iou']):.0%} of all it loses, the prediction "
                     f"missing {hands[0]['missed_share']:.0%} and {hands[1]['missed_share']:.0%} of the left and "
                     f"right hand's pixels; the nearest keypoint to the left and right hand joints is "
                     f"{row['nearest_keypoint_px'][HANDS[0]]:.1f} and {row['nearest_keypoint_px'][HANDS[1]]:.1f} px "
                     f"away.")
    return "\n".join(lines)


def plot(rows: dict, path: Path) -> None:
    """Two panels: the union's share lost by part, and each joint's nearest keypoint, a bar per model."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    parts = ordered_parts(rows)
    joints = list(next(iter(rows.values()))["nearest_keypoint_px"])
    figure, (left, right) = plt.subplots(1, 2, figsize=(13, 5.5))
    width = 0.8 / len(rows)
    for index, (name, row) in enumerate(rows.items()):
        loss = [lost_on(row["silhouette_loss_by_part"], [p]) for p in parts]
        left.barh(np.arange(len(parts)) + index * width, loss, height=width, label=name)
        right.barh(np.arange(len(joints)) + index * width, [row["nearest_keypoint_px"][j] for j in joints],
                   height=width, label=name)
    for axis, labels, title in ((left, parts, "share of the union lost (missed + ghost pixels)"),
                                (right, joints, "joint's distance to the nearest keypoint (px)")):
        axis.set_yticks(np.arange(len(labels)) + 0.4 - width / 2, labels)
        axis.invert_yaxis()
        axis.set_title(title, fontsize=10)
        axis.grid(axis="x", alpha=0.3)
    left.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)


def write_outputs(document: dict, out: Path, readme: Path | None, marker: str) -> str:
    from pcutlib.paths import marker_pair, replace_between_markers
    text, summary = tables(document["models"]), sentences(document["models"])      # both fail before any write
    out.mkdir(parents=True, exist_ok=True)
    (out / "iou_by_part.json").write_text(json.dumps(document, indent=1) + "\n")
    (out / "iou_by_part.md").write_text(text + "\n\n" + summary + "\n")
    plot(document["models"], out / "iou_by_part.png")
    if readme is not None:
        replace_between_markers(readme, text, *marker_pair(marker))
        replace_between_markers(readme, summary, *marker_pair(f"{marker}-sentences"))
    return text + "\n\n" + summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", type=parse_model, default=[], metavar="NAME=CHECKPOINT")
    parser.add_argument("--data", type=Path, default=Path("data/synthetic-64-check"),
                        help="a synthetic world with label maps (pcut make-synthetic)")
    parser.add_argument("--max-videos", type=int, default=None, metavar="N", help="diagnose only N test videos")
    parser.add_argument("--out", type=Path, default=None,
                        help="folder of the outputs (default: results/iou-by-part, or --from-json's folder)")
    parser.add_argument("--from-json", type=Path, default=None, metavar="JSON",
                        help="diagnose nothing: the tables, plot and --readme block from a stored run")
    parser.add_argument("--readme", type=Path, default=None, metavar="PAGE")
    parser.add_argument("--marker", default="iou-by-part")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    if args.from_json is not None:
        if args.models:
            parser.error("--from-json diagnoses nothing: leave out --models")
        document = json.loads(args.from_json.read_text())
        out = args.out or args.from_json.parent
    else:
        if not args.models:
            parser.error("--models NAME=CHECKPOINT ... is needed (or --from-json)")
        names = [name for name, _ in args.models]
        if len(set(names)) < len(names):
            parser.error(f"--models: each NAME once, got {names}")
        missing = [str(path) for _, path in args.models if not path.is_file()]
        if missing:
            parser.error(f"no checkpoint at {', '.join(missing)}")
        document = {"command": "python tools/iou_by_part.py " + shlex.join(argv if argv is not None else sys.argv[1:]),
                    "data": shown(args.data), "models": diagnosed(args.models, args.data, args.max_videos,
                                                                  not args.no_progress)}
        out = args.out or REPO / "results" / "iou-by-part"
    print(write_outputs(document, out, args.readme, args.marker))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
