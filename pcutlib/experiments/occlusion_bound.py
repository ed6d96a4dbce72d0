"""``pcut occlusion-bound``: how well could the occlusion map rank the true dis-occlusion if the
truth trained it? A labelled oracle, which real data never has: what O can at least reach.

FOMM's occlusion map O is computed from the source image and the two keypoint sets alone (the
dense motion network sees the driving frame only through its keypoints and their Jacobians),
and only the reconstruction loss trains it. Where O misses part of the dis-occlusion, either
that training signal does not ask for it, or O's inputs and network cannot tell. This command
separates the two. From a trained model, its
keypoint detector frozen, it trains on the training world's true dis-occlusion (binary
cross-entropy of O against the visible share of each O pixel, the occluded pixels (share under
one half) and the others weighted half each in each batch)

    head          only O's last convolution (7x7 over the dense motion network's features):
                  do the features the model already computes rank the truth?
    dense-motion  the whole dense motion network (its hourglass and O's convolution; the region
                  masks, and so the flow, change with the hourglass): can O's inputs rank it?

and diagnoses each on held-out figures beside the model as it was, the no-model rule, the
model's own warp error and its revealed pixels (both see the driving frame: references, not scores O
could reach). The truth trains only these probes, never a model that pcut ships or compares.

``--label revealed`` trains the same parts without any truth: the target is the model's own
revealed pixels (``pcutlib.models.revealed_pixels``: where its reverse flow brings no source pixel
and the frame changed), computed from each training pair by the model as it was. A training
term could use that label (training pairs have their driving frame); this measures first what O
would learn from it. ``--label revealed-warp`` adds the model's warp error |deformed - driving| to
the label's score (what a range map cannot see: a part that comes out from behind another).

``--dense-motion-scale`` trains and diagnoses the parts with the dense motion network at another
size than the checkpoint's, starting from its trained weights (its convolutions apply at any
size): with 1, the O of a 64 px model is 64x64 instead of 32x32. Does O's resolution limit what it can rank? The
revealed label still comes from the model as it was, at its own scale.
"""
from __future__ import annotations

import argparse
import copy
import json
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from pcutlib.checkpoints.files import load_models
from pcutlib.data.splits import load_split
from pcutlib.data.synthetic_truth import disocclusion
from pcutlib.evaluation.diagnose import diagnose
from pcutlib.inference import detect_keypoints
from pcutlib.paths import between_markers, marker_pair, refuse_to_replace, replace_between_markers
from pcutlib.models.dense_motion import checked_scale_factor
from pcutlib.models.revealed_pixels import revealed_target
from pcutlib.models.warping import deform
from pcutlib.prioritycut import RegularizerConfig
from pcutlib.training.device import choose_device
from pcutlib.training.occlusion_label import balanced_occlusion_bce, visible_share

PARTS = ("head", "dense-motion")
LABELS = ("truth", "revealed", "revealed-warp")


def training_videos(root: Path, frame_shape, kp_detector, need_truth: bool = True) -> list[tuple]:
    """The training split's videos with their truth: [(frames (T,3,H,W), keypoints {"value":
    (T,K,2), "jacobian"?: (T,K,2,2)}, VideoTruth or None)], keypoints from the frozen detector;
    need_truth False (the revealed label) takes videos without truth too."""
    items = [(frames, truth) for _, frames, _, truth in load_split(Path(root), "train", frame_shape)
             if (truth is not None or not need_truth) and len(frames) >= 2]
    if not items and not need_truth:
        raise ValueError(f"{str(root)!r}/train holds no video of 2 or more frames")
    if not items:
        raise ValueError(f"{str(root)!r}/train holds no video of 2 or more frames with its X.truth.npz: the "
                         f"oracle needs the synthetic world's truth (make it with pcut make-synthetic)")
    return [(frames, detect_keypoints(kp_detector, frames), truth) for frames, truth in items]


def sample_pairs(videos: list[tuple], batch_size: int, rng: np.random.Generator) -> tuple:
    """``batch_size`` (source, driving) pairs of two different frames of one training video each.
    Returns source, driving (B,3,H,W), kp_source, kp_driving ({"value": (B,K,2), ...}), truth
    (B,H,W) bool (None when a video has no truth)."""
    sources, drivings, truths, kp_rows = [], [], [], []
    for _ in range(batch_size):
        frames, keypoints, truth = videos[rng.integers(len(videos))]
        s, d = rng.choice(len(frames), size=2, replace=False)
        sources.append(frames[s])
        drivings.append(frames[d])
        kp_rows.append((keypoints, s, d))
        truths.append(None if truth is None else torch.from_numpy(
            disocclusion(truth.labels[s], truth.part_frames[s], truth.labels[d], truth.part_frames[d])))
    kp_source = {key: torch.stack([kp[key][s] for kp, s, _ in kp_rows]) for key in kp_rows[0][0]}
    kp_driving = {key: torch.stack([kp[key][d] for kp, _, d in kp_rows]) for key in kp_rows[0][0]}
    truth = None if any(t is None for t in truths) else torch.stack(truths)
    return torch.stack(sources), torch.stack(drivings), kp_source, kp_driving, truth


def trainable_parameters(models, part: str) -> list[torch.nn.Parameter]:
    """The parameters ``part`` trains (module doc); every other one is frozen."""
    network = getattr(models.generator, "dense_motion_network", None)
    if network is None or getattr(network, "occlusion", None) is None:
        raise ValueError("the model estimates no occlusion map (FOMM's dense motion network with "
                         "estimate_occlusion_map: true is required)")
    if part not in PARTS:
        raise ValueError(f"part {part!r}: expected one of {', '.join(PARTS)}")
    for module in models.networks().values():
        module.requires_grad_(False)
    chosen = list((network.occlusion if part == "head" else network).parameters())
    for parameter in chosen:
        parameter.requires_grad_(True)
    return chosen


@torch.no_grad()
def warped_source(network, source: torch.Tensor, kp_source: dict, kp_driving: dict,
                  aligned_resize: bool = False) -> torch.Tensor:
    """The source warped by ``network``'s flow (FOMM's ``deform``, resized as the generator's
    ``aligned_resize``): source (B,3,H,W) and B rows of keypoints -> (B,3,H,W) on the network's device."""
    device = next(network.parameters()).device
    moved = lambda kp: {key: value.to(device) for key, value in kp.items()}   # noqa: E731
    motion = network(source.to(device), kp_driving=moved(kp_driving), kp_source=moved(kp_source))
    return deform(source.to(device), motion["deformation"], aligned_resize=aligned_resize)


def train_occlusion(models, videos: list[tuple], part: str, steps: int, batch_size: int = 8,
                    lr: float = 1e-3, seed: int = 0, progress: bool = True, label: str = "truth",
                    dense_motion_scale: float | None = None) -> list[float]:
    """Train ``part`` of ``models`` (in place) on ``label``: the true dis-occlusion, or the revealed
    pixels of the model as it was before this training (module doc), at the scale it was trained
    at; ``dense_motion_scale`` (None: unchanged) first moves the trained network to another scale.
    Returns the losses."""
    if steps < 1 or batch_size < 1 or not lr > 0:
        raise ValueError(f"steps {steps}, batch size {batch_size}, lr {lr}: expected positive values")
    if label not in LABELS:
        raise ValueError(f"label {label!r}: expected one of {', '.join(LABELS)}")
    network = models.generator.dense_motion_network
    labeller = copy.deepcopy(network).eval() if label != "truth" else None    # before any change of scale
    if dense_motion_scale is not None:
        network.set_scale_factor(dense_motion_scale)
    optimizer = torch.optim.Adam(trainable_parameters(models, part), lr=lr)
    models.eval()
    if part == "dense-motion":
        network.train()                     # its batch statistics learn with it, as in training
    device = next(network.parameters()).device
    rng, losses = np.random.default_rng(seed), []
    to_device = lambda kp: {key: value.to(device) for key, value in kp.items()}   # noqa: E731
    for _ in tqdm(range(steps), desc=f"occlusion-bound: {part}", disable=not progress, leave=False):
        source, driving, kp_source, kp_driving, truth = sample_pairs(videos, batch_size, rng)
        occlusion_map = network(source.to(device), to_device(kp_driving), to_device(kp_source))["occlusion_map"]
        size = occlusion_map.shape[-2:]
        if labeller is None:
            target = visible_share(truth, size)
        else:
            deformed = (warped_source(labeller, source, kp_source, kp_driving, models.generator.aligned_resize)
                        if label == "revealed-warp" else None)
            target = revealed_target(labeller, source, driving, kp_source, kp_driving, size, deformed=deformed)
        loss = balanced_occlusion_bce(occlusion_map, target.to(device))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    models.eval()
    return losses


TITLES = {"truth": "The occlusion map trained on the truth (a labelled oracle)",
          "revealed": "The occlusion map trained on its own revealed pixels (no truth)",
          "revealed-warp": "The occlusion map trained on its own revealed pixels and warp error (no truth)"}
ROW_NAMES = {"truth": "{part} trained on the truth (oracle)",
             "revealed": "{part} trained on its revealed pixels (no truth)",
             "revealed-warp": "{part} trained on its revealed pixels + warp error (no truth)"}
COLUMNS = [("O AUC pooled", "occlusion_auc"), ("in the foreground", "occlusion_auc_foreground"),
           ("on figure pixels", "occlusion_auc_figure"), ("cores", "occlusion_auc_core"),
           ("mask lift", "mask_lift"), ("O at rest", "occlusion_at_rest"), ("silhouette IoU", "silhouette_iou")]
REFERENCES = [("no-model rule (driving vs source)", ("rule_auc", "rule_auc_foreground", "rule_auc_figure", None,
                                                     "rule_mask_lift", None, None)),
              ("the model's warp error (sees the driving frame)", ("warp_error_auc", "warp_error_auc_foreground",
                                                                   "warp_error_auc_figure", None, None, None, None)),
              ("the model's revealed pixels (sees the driving frame)", ("revealed_auc", "revealed_auc_foreground",
                                                                       "revealed_auc_figure", None,
                                                                       "revealed_mask_lift", None, None)),
              ("the model's revealed pixels + warp error (sees the driving frame)",
               ("revealed_warp_auc", "revealed_warp_auc_foreground", "revealed_warp_auc_figure", None,
                "revealed_warp_mask_lift", None, None))]


def bound_table(rows: dict) -> str:
    """rows {label: Diagnosis.to_dict()}, the first the model as it was -> a markdown table with
    the references (no-model rule, warp error, revealed pixels) of the first row under it; a
    reference the record does not hold (stored before it was measured) is left out."""
    cell = lambda value: "-" if value is None else f"{value:.3f}"   # noqa: E731
    lines = ["| O | " + " | ".join(name for name, _ in COLUMNS) + " |", "|---" * (len(COLUMNS) + 1) + "|"]
    lines += [f"| {label} | " + " | ".join(cell(row.get(key)) for _, key in COLUMNS) + " |"
              for label, row in rows.items()]
    first = next(iter(rows.values()))
    lines += [f"| {label} | " + " | ".join(cell(None if key is None else first.get(key)) for key in keys) + " |"
              for label, keys in REFERENCES if any(key and first.get(key) is not None for key in keys)]
    return "\n".join(lines)


def add_occlusion_bound_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.description = __doc__.split("\n\n")[0].replace("``pcut occlusion-bound``: ", "").replace("\n", " ")
    parser.add_argument("--checkpoint", type=Path, default=Path("pretrained/synthetic-64.pt"),
                        help="a FOMM pcut checkpoint with an occlusion map (default: pretrained/synthetic-64.pt)")
    parser.add_argument("--data", type=Path, default=Path("data/synthetic-64"),
                        help="the training world whose truth trains the probes (default: data/synthetic-64)")
    parser.add_argument("--check-data", type=Path, default=Path("data/synthetic-64-check"),
                        help="the held-out world diagnosed (default: data/synthetic-64-check, seed 1)")
    parser.add_argument("--parts", nargs="+", choices=PARTS, default=list(PARTS), help="what the truth trains")
    parser.add_argument("--label", choices=LABELS, default="truth",
                        help="what trains O: the true dis-occlusion (an oracle), the model's own revealed pixels "
                             "or those plus its warp error (no truth; module doc) (default: truth)")
    parser.add_argument("--dense-motion-scale", type=float, default=None, metavar="S",
                        help="train and diagnose the parts with the dense motion network (its flow, region masks "
                             "and O) at S times the frame size, starting from its trained weights: 1 puts O at "
                             "64x64 for a 64 px model (default: the checkpoint's, 0.5 for synthetic-64)")
    parser.add_argument("--steps", type=int, default=1500, help="training steps per part (default: 1500)")
    parser.add_argument("--batch-size", type=int, default=8, help="(source, driving) pairs per step (default: 8)")
    parser.add_argument("--lr", type=float, default=1e-3, help="Adam's learning rate (default: 1e-3)")
    parser.add_argument("--seed", type=int, default=0, help="the pairs' random stream")
    parser.add_argument("--max-videos", type=int, default=None, metavar="N", help="diagnose only N test videos")
    parser.add_argument("--out", type=Path, default=Path("results/occlusion-bound"),
                        help="folder for occlusion_bound.json and occlusion_bound.md")
    parser.add_argument("--readme", type=Path, default=None, metavar="PAGE",
                        help="also write the table into PAGE between <!-- MARKER:start/end --> lines")
    parser.add_argument("--marker", default="occlusion-bound", help="--readme's marker name (default: occlusion-bound)")
    parser.add_argument("--from-json", type=Path, default=None, metavar="JSON",
                        help="train nothing: write the table (and --readme) from a stored occlusion_bound.json")
    parser.add_argument("--overwrite", action="store_true", help="replace the files in --out if they exist")
    parser.add_argument("--device", default="auto", help="auto (CUDA when available), cpu, cuda")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    return parser


def write_table(rows: dict, readme: Path | None, marker: str) -> str:
    """Print ``bound_table(rows)`` and write it between ``readme``'s markers when given."""
    table = bound_table(rows)
    print(table)
    if readme is not None:
        replace_between_markers(readme, table, *marker_pair(marker))
        print(f"table written into {readme} ({marker})")
    return table


def run_occlusion_bound(args: argparse.Namespace) -> int:
    if args.readme is not None:      # a page without the markers is refused before any training
        between_markers(args.readme.read_text(), "", *marker_pair(args.marker), str(args.readme))
    if args.from_json is not None:
        write_table(json.loads(args.from_json.read_text())["rows"], args.readme, args.marker)
        return 0
    refuse_to_replace([args.out / "occlusion_bound.json", args.out / "occlusion_bound.md"], args.overwrite)
    models, checkpoint = load_models(args.checkpoint, device=choose_device(args.device), with_discriminator=False)
    trainable_parameters(models, args.parts[0])          # refuses a model without O before any work
    if args.dense_motion_scale is not None:               # refuses a scale outside (0, 1] before any work
        checked_scale_factor(args.dense_motion_scale)
    frame_shape = checkpoint["config"]["dataset_params"]["frame_shape"]
    regularizer = RegularizerConfig.from_dict(checkpoint["config"].get("regularizer"))
    check = lambda trained: diagnose(trained, args.check_data, frame_shape, args.max_videos,   # noqa: E731
                                     progress=not args.no_progress, regularizer=regularizer).to_dict()
    rows = {"as trained (the reconstruction loss alone)": check(models)}
    videos = training_videos(args.data, frame_shape, models.kp_detector, need_truth=args.label == "truth")
    record = {"checkpoint": str(args.checkpoint), "data": str(args.data), "check_data": str(args.check_data),
              "label": args.label, "steps": args.steps, "batch_size": args.batch_size, "lr": args.lr, "seed": args.seed,
              "dense_motion_scale": args.dense_motion_scale, "losses": {}}
    scale = args.dense_motion_scale
    at = "" if scale is None else " at {0}x{1}".format(*(int(side * scale) for side in frame_shape[:2]))
    for part in args.parts:
        trained = copy.deepcopy(models)
        losses = train_occlusion(trained, videos, part, args.steps, args.batch_size, args.lr, args.seed,
                                 progress=not args.no_progress, label=args.label, dense_motion_scale=scale)
        record["losses"][part] = [float(np.mean(losses[:50])), float(np.mean(losses[-50:]))]
        rows[ROW_NAMES[args.label].format(part=part + at)] = check(trained)
    table = write_table(rows, args.readme, args.marker)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "occlusion_bound.json").write_text(json.dumps({**record, "rows": rows}, indent=2) + "\n")
    command = (f"pcut occlusion-bound --checkpoint {args.checkpoint} --data {args.data} --check-data "
               f"{args.check_data} --parts {' '.join(args.parts)} --steps {args.steps} --out {args.out}"
               + (f" --label {args.label}" if args.label != "truth" else "")
               + (f" --dense-motion-scale {scale:g}" if scale is not None else ""))
    (args.out / "occlusion_bound.md").write_text(
        f"# {TITLES[args.label]}\n\nWritten by `{command}` on "
        f"{rows[next(iter(rows))]['videos']} held-out videos of {args.check_data}.\n\n{table}\n")
    for part, (first, last) in record["losses"].items():
        print(f"{part} ({args.label}): balanced cross-entropy {first:.3f} over the first 50 steps, {last:.3f} over the last 50")
    print(f"written: {args.out / 'occlusion_bound.md'}, {args.out / 'occlusion_bound.json'}")
    return 0
