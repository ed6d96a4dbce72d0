"""How O's figures move over training: ``pcut diagnose`` of a chain of runs' checkpoints, drawn.

    python tools/occlusion_curve.py runs/calibration/kept+motion-64-warp-300 \\
        runs/calibration/kept+motion-64-warp-300+constant-200 --every 20 20 \\
        --start pretrained/synthetic-64-revealed-kept.pt --data data/calibration-h62-m60-seed1 \\
        --out results/kept-motion-64-warp-curve --mark 210:"lr x0.1" 300:"lr 1e-4 again, fresh optimizer" --fit

Each run continues the one before it: its epoch N is epoch N + (the epochs of the runs before)
on the curve. ``--every`` takes one step per run (epoch-N.pt for every multiple N of it, and the
run's last epoch); ``--start`` is the checkpoint the first run started from (epoch 0). Writes
OUT/<run folder's name>/epoch-N.json (``Diagnosis.to_dict``; a file already there is read, not
diagnosed again, so an interrupted call resumes), OUT/curve.json (every point, in order) and
OUT/curve.png: O's AUC on figure pixels, O at rest, the PriorityCut mask's lift and the
silhouette IoU against the epoch, each with its target (and where it has one, the no-model rule)
as a dashed line, a dotted line where each run begins and at each ``--mark``, and with ``--fit``
the straight line through the last run's own marks.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

# (Diagnosis field, panel title, target: at least this, the no-model rule's field or None)
PANELS = [("occlusion_auc_figure", "AUC of 1 - O on figure pixels", 0.75, "rule_auc_figure"),
          ("occlusion_at_rest", "mean O on figure pixels at rest", 0.95, None),
          ("mask_lift", "mask lift over random foreground pixels", 2.5, "rule_mask_lift"),
          ("silhouette_iou", "silhouette IoU", 0.85, None)]


def epochs_to_diagnose(run: Path, every: int) -> list[int]:
    """The epochs N of run/checkpoints/epoch-N.pt that are multiples of ``every``, and the run's
    last epoch (its highest epoch-N.pt), ascending."""
    if every < 1:
        raise ValueError(f"--every must be a whole number of epochs >= 1, got {every}")
    saved = sorted(int(path.stem.split("-")[1]) for path in (run / "checkpoints").glob("epoch-*.pt"))
    if not saved:
        raise FileNotFoundError(f"{str(run / 'checkpoints')!r} holds no epoch-N.pt")
    return sorted({n for n in saved if n % every == 0} | {saved[-1]})


def diagnosis_of(checkpoint: Path, data: Path, out: Path, progress: bool) -> dict:
    """``out`` if it exists, else pcut diagnose of ``checkpoint`` on ``data``'s held-out videos,
    written to ``out``."""
    if out.is_file():
        return json.loads(out.read_text())
    from pcutlib.evaluation.diagnose_command import diagnose_checkpoint
    fields = diagnose_checkpoint(checkpoint, data, progress=progress)[0].to_dict()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(fields, indent=2) + "\n")
    return fields


def curve_points(runs: list[Path], every: list[int], data: Path, out: Path, start: Path | None = None,
                 progress: bool = True) -> list[dict]:
    """[{"run", "epoch" (the run's own), "at" (on the curve), **Diagnosis.to_dict()}] for ``start`` (at
    0) and every run's chosen checkpoints, each run's epochs counted on from the runs before it."""
    if len(every) != len(runs):
        raise ValueError(f"--every takes one step per run: {len(runs)} runs, {len(every)} steps {every}")
    points = []
    if start is not None:
        fields = diagnosis_of(start, data, out / "start.json", progress)
        points.append({"run": str(start), "epoch": 0, "at": 0, **fields})
    offset = 0
    for run, step in zip(runs, every):
        epochs = epochs_to_diagnose(run, step)
        for epoch in epochs:
            print(f"{run.name}, epoch {epoch}")
            fields = diagnosis_of(run / "checkpoints" / f"epoch-{epoch}.pt", data, out / run.name / f"epoch-{epoch}.json",
                                  progress)
            points.append({"run": run.name, "epoch": epoch, "at": offset + epoch, **fields})
        offset += epochs[-1]
    return points


def last_run_line(points: list[dict], field: str = "occlusion_auc_figure"):
    """scipy's linregress of ``field`` against the epoch over the last run's own marks (its epochs
    >= 1): slope per epoch, its stderr, intercept; None with fewer than 3 marks."""
    from scipy import stats
    own = [p for p in points if p["run"] == points[-1]["run"] and p["epoch"] >= 1]
    if len(own) < 3:
        return None
    return stats.linregress([p["at"] for p in own], [p[field] for p in own])


def draw_curve(points: list[dict], path: Path, marks: dict[int, str] | None = None, fit: bool = False) -> Path:
    """PANELS against the epoch on the curve: the targets dashed red, the no-model rule (the mean of
    the points' own, a property of the world) dashed grey, each run's beginning and each of ``marks``
    ({epoch on the curve: label}) dotted; ``fit``: the least-squares line through the last run's own
    marks on the first panel."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    figure, axes = plt.subplots(1, len(PANELS), figsize=(4.2 * len(PANELS), 3.4))
    begins = {p["at"] - p["epoch"]: f"{p['run']} begins" for p in points} | (marks or {})
    begins.pop(0, None)
    for ax, (field, title, target, rule) in zip(axes, PANELS):
        ax.plot([p["at"] for p in points], [p[field] for p in points], marker="o", markersize=3, label="model")
        ax.axhline(target, color="tab:red", linestyle="--", linewidth=1, label=f"target >= {target:g}")
        if rule is not None:
            level = sum(p[rule] for p in points) / len(points)
            ax.axhline(level, color="grey", linestyle="--", linewidth=1, label=f"no-model rule {level:.3g}")
        for at, label in sorted(begins.items()):
            ax.axvline(at, color="grey", linestyle=":", linewidth=1)
            ax.text(at, 1.0, f" {label}", transform=ax.get_xaxis_transform(), fontsize=6, rotation=90, va="top")
        if fit and field == PANELS[0][0] and (line := last_run_line(points)) is not None:
            x = [p["at"] for p in points if p["run"] == points[-1]["run"]]
            ax.plot(x, [line.intercept + line.slope * v for v in x], color="tab:green", linewidth=1,
                    label=f"fit: {100 * line.slope:+.4f} / 100 epochs")
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("epoch (20 steps each)")
        ax.legend(fontsize=6, loc="best")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", type=Path, help="run folders holding checkpoints/epoch-N.pt, each continuing "
                                                           "the one before")
    parser.add_argument("--every", nargs="+", type=int, required=True, metavar="N", help="one step in epochs per run")
    parser.add_argument("--start", type=Path, default=None, help="the checkpoint the first run started from (epoch 0)")
    parser.add_argument("--data", type=Path, required=True, help="synthetic world whose held-out videos are diagnosed")
    parser.add_argument("--out", type=Path, required=True, help="folder for the JSON files and curve.png")
    parser.add_argument("--mark", nargs="+", default=[], metavar="EPOCH:LABEL",
                        help="dotted lines to name on the curve, e.g. 210:'lr x0.1'")
    parser.add_argument("--fit", action="store_true", help="draw the least-squares line through the last run's own "
                                                           "marks on the first panel, and print its slope")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    marks = {}
    for mark in args.mark:
        epoch, _, label = mark.partition(":")
        if not epoch.isdigit() or not label:
            raise SystemExit(f"--mark {mark!r}: expected EPOCH:LABEL with a whole epoch, e.g. 210:'lr x0.1'")
        marks[int(epoch)] = label
    points = curve_points(args.runs, args.every, args.data, args.out, args.start, progress=not args.no_progress)
    (args.out / "curve.json").write_text(json.dumps(points, indent=1) + "\n")
    print(f"wrote {args.out / 'curve.json'} and {draw_curve(points, args.out / 'curve.png', marks, args.fit)}")
    for p in points:
        print(f"{p['at']:>4}  " + "  ".join(f"{field} {p[field]:.3f}" for field, *_ in PANELS))
    if args.fit and (line := last_run_line(points)) is not None:
        print(f"{PANELS[0][0]} over {points[-1]['run']}'s own marks: {100 * line.slope:+.4f} per 100 epochs "
              f"(stderr {100 * line.stderr:.4f}, the marks counted as independent)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
