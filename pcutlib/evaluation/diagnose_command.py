"""``pcut diagnose``: diagnose a checkpoint on held-out synthetic videos and print, write or draw
the diagnosis (``diagnose``'s figures, its table, the ingredients table and the figure).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from pcutlib.checkpoints.files import load_models
from pcutlib.evaluation.diagnose import diagnose, format_diagnosis, ingredients_markers, ingredients_table
from pcutlib.evaluation.diagnosis_figure import diagnosis_figure
from pcutlib.paths import refuse_to_replace, replace_between_markers
from pcutlib.prioritycut import RegularizerConfig
from pcutlib.training.device import choose_device


def add_diagnose_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.description = ("Has the model learned motion, and do the occlusion map, the PriorityCut mask and the "
                          "discriminator point at what must be invented? Keypoints (distinct and moving), probes, "
                          "silhouette IoU, O at rest and by stratum against the true dis-occlusion, the mask's "
                          "lift, the discriminator's pixel AUC, and L1 against the true animation, each next to "
                          "its baseline, on held-out synthetic videos.")
    parser.add_argument("--checkpoint", required=True, type=Path, help="a pcut checkpoint (or pretrained/synthetic-64.pt)")
    parser.add_argument("--data", required=True, type=Path,
                        help="synthetic dataset root with train/ and test/ (pcut make-synthetic)")
    parser.add_argument("--max-videos", type=int, default=None, metavar="N", help="diagnose only N test videos")
    parser.add_argument("--json", type=Path, default=None, metavar="FILE", help="also write the figures as JSON")
    parser.add_argument("--figure", type=Path, default=None, metavar="PNG",
                        help="also draw one held-out video: keypoints, prediction, O, the PriorityCut mask, the true "
                             "dis-occlusion (background and figure) and a U-Net discriminator's map")
    parser.add_argument("--readme", type=Path, default=None, metavar="PAGE",
                        help="also write the table of PriorityCut's ingredients into PAGE, between its "
                             "<!-- SECTION:start/end --> markers")
    parser.add_argument("--readme-section", default="ingredients", metavar="SECTION",
                        help="the markers' name in --readme's PAGE (default: ingredients); a page may hold "
                             "one table per model, each under its own name")
    parser.add_argument("--overwrite", action="store_true", help="replace --json and --figure files if they exist")
    parser.add_argument("--device", default="auto", help="auto (CUDA when available), cpu, cuda")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    return parser


def diagnose_checkpoint(checkpoint_path: Path, data: Path, max_videos: int | None = None, progress: bool = True,
                        device: str = "cpu"):
    """Load a pcut checkpoint on ``device`` and diagnose it on ``data``'s held-out videos at the frame
    size and with the PriorityCut settings its config names -> (Diagnosis, models, the checkpoint dict)."""
    models, checkpoint = load_models(checkpoint_path, device=device)
    diagnosis = diagnose(models, data, checkpoint["config"]["dataset_params"]["frame_shape"], max_videos,
                         progress=progress, regularizer=RegularizerConfig.from_dict(checkpoint["config"].get("regularizer")))
    return diagnosis, models, checkpoint


def run_diagnose(args: argparse.Namespace) -> int:
    refuse_to_replace([path for path in (args.json, args.figure) if path is not None], args.overwrite)
    diagnosis, models, checkpoint = diagnose_checkpoint(args.checkpoint, args.data, args.max_videos,
                                                        not args.no_progress, choose_device(args.device))
    print(f"diagnosis of {args.checkpoint} on {diagnosis.videos} held-out videos of {args.data}/test:")
    print(format_diagnosis(diagnosis))
    if args.json is not None:
        args.json.write_text(json.dumps(diagnosis.to_dict(), indent=2) + "\n")
    if args.figure is not None:                      # the frame size and PriorityCut settings diagnose used
        config = checkpoint["config"]
        figure = diagnosis_figure(models, args.data, args.figure, frame_shape=config["dataset_params"]["frame_shape"],
                                  regularizer=RegularizerConfig.from_dict(config.get("regularizer")))
        print(f"figure: {figure}")
    if args.readme is not None:
        replace_between_markers(args.readme, ingredients_table(diagnosis, Path(args.checkpoint).name),
                                *ingredients_markers(args.readme_section))
        print(f"PriorityCut's ingredients written into {args.readme} ({args.readme_section})")
    return 0
