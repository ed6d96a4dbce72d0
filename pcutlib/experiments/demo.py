"""``pcut demo``: the README's main job, on a CPU in about a quarter of an hour.

1. make the synthetic world (``data/synthetic-64``) if it is not there;
2. train ``synthetic-64`` for reconstruction (``runs/synthetic-64-reconstruction``);
3. fine-tune it adversarially with the U-Net discriminator and PriorityCut
   (``runs/synthetic-64-prioritycut``; FOMM's ``vox-adv`` is instead adversarial from the start);
4. evaluate held-out reconstruction (test identities never seen in training): L1 of the
   model next to the copy-the-source baseline, written to ``metrics.json``;
5. diagnose motion (``pcut diagnose``) on a world made with another seed, for both demo
   models and the shipped ``pretrained/synthetic-64.pt``, side by side;
6. animate a held-out source by a held-out driving video of another figure
   (``animation.mp4`` and a PNG strip).
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from matplotlib.figure import Figure

from pcutlib.checkpoints.files import load_models
from pcutlib.coordinates import keypoints_to_pixels
from pcutlib.data.datasets import FramesDataset
from pcutlib.data.make_synthetic import make_synthetic_dataset
from pcutlib.data.splits import animation_partner
from pcutlib.data.synthetic import World
from pcutlib.data.video_io import save_strip_png, save_video
from pcutlib.evaluation.diagnose import diagnose, format_diagnoses
from pcutlib.evaluation.metrics import percent_below
from pcutlib.evaluation.targets import relative_change
from pcutlib.evaluation.protocols import evaluate_reconstruction, write_metrics
from pcutlib.experiments.recipes import parse_assignment, read_recipe, synthetic_config, variant, variant_config
from pcutlib.inference import animate_video
from pcutlib.paths import find_recipe, pretrained_path
from pcutlib.training.device import choose_device, machine_record
from pcutlib.training.loop import train

DEMO_KEYS = {"config": str, "overrides": dict, "data": str, "runs": str, "finetune_variant": str, "finetune_epochs": int,
             "check_data": str, "check_seed": int, "check_videos": int, "targets": dict}
TARGET_KEYS = ("l1_below_copy_percent", "animation_l1_below_copy_percent", "moving_distinct_keypoints",
               "silhouette_iou", "minutes")


def demo_recipe() -> dict:
    """``configs/recipes/demo.yaml``, every key present with its type (else an error naming it)."""
    recipe = read_recipe("demo")
    wrong = {key: recipe.get(key) for key, kind in DEMO_KEYS.items() if not isinstance(recipe.get(key), kind)}
    unknown = sorted(set(recipe) - set(DEMO_KEYS))
    if wrong or unknown:
        raise ValueError(f"{find_recipe('demo')}: keys with a missing or wrong value {wrong}, unknown keys {unknown}; "
                         f"expected {', '.join(f'{k} ({t.__name__})' for k, t in DEMO_KEYS.items())}")
    if sorted(recipe["targets"]) != sorted(TARGET_KEYS):
        raise ValueError(f"{find_recipe('demo')}: targets {sorted(recipe['targets'])}; expected {sorted(TARGET_KEYS)}")
    return recipe


def _one_digit(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def demo_figures(l1: float, copy_l1: float, diagnosis, minutes: float) -> dict:
    """The demo's PriorityCut model's figure for each of TARGET_KEYS."""
    return {"l1_below_copy_percent": percent_below(l1, copy_l1),
            "animation_l1_below_copy_percent": None if diagnosis.animation_l1 is None else
            percent_below(diagnosis.animation_l1, diagnosis.copy_animation_l1),
            "moving_distinct_keypoints": diagnosis.moving_distinct_keypoints,
            "silhouette_iou": diagnosis.silhouette_iou, "minutes": minutes}


def targets_met(figures: dict, targets: dict) -> dict:
    """Per target key, whether ``figures`` (demo_figures) meet it (wall time: at most; others: at least)."""
    return {key: (figures[key] <= targets[key]) if key == "minutes" else (figures[key] or 0) >= targets[key]
            for key in TARGET_KEYS}


def demo_verdict(l1: float, copy_l1: float, diagnosis, minutes: float, targets: dict) -> str:
    """One line per target of the demo's PriorityCut model: its figure, the target, met or MISSED."""
    figures = demo_figures(l1, copy_l1, diagnosis, minutes)
    met = targets_met(figures, targets)
    rows = [("held-out L1 below copying the source", f"{figures['l1_below_copy_percent']:.1f}%",
             f"at least {targets['l1_below_copy_percent']}%", met["l1_below_copy_percent"]),
            ("animation L1 below copying, check world", _one_digit(figures["animation_l1_below_copy_percent"]) + "%",
             f"at least {targets['animation_l1_below_copy_percent']}%", met["animation_l1_below_copy_percent"]),
            ("moving distinct keypoints, check world", _one_digit(diagnosis.moving_distinct_keypoints),
             f"at least {targets['moving_distinct_keypoints']}", met["moving_distinct_keypoints"]),
            ("silhouette IoU on the check world", f"{diagnosis.silhouette_iou:.3f}",
             f"at least {targets['silhouette_iou']}", met["silhouette_iou"]),
            ("wall time", f"{minutes:.1f} min", f"at most {targets['minutes']} min", met["minutes"])]
    lines = [f"demo targets: {sum(met.values())} of {len(rows)} met"]
    lines += [f"  {label:<40}{value:>10}  {goal:<18}{'met' if ok else 'MISSED'}" for label, value, goal, ok in rows]
    return "\n".join(lines)


def add_demo_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    recipe = demo_recipe()
    parser.add_argument("--config", default=recipe["config"], help="config file or name in configs/ (default: %(default)s)")
    parser.add_argument("--data", type=Path, default=Path(recipe["data"]),
                        help="training world (made when missing; default: %(default)s)")
    parser.add_argument("--runs", type=Path, default=Path(recipe["runs"]),
                        help="where the two run folders go (default: %(default)s)")
    parser.add_argument("--reconstruction-epochs", type=int, default=None,
                        help="default: the config's train_params.num_epochs")
    parser.add_argument("--finetune-epochs", type=int, default=recipe["finetune_epochs"],
                        help="PriorityCut fine-tuning epochs (default: %(default)s)")
    parser.add_argument("--top-k", type=float, default=None, help="default: the config's regularizer.top_k_percent")
    parser.add_argument("--check-data", type=Path, default=Path(recipe["check_data"]),
                        help="held-out world for the motion diagnosis (made with --check-seed when missing)")
    parser.add_argument("--check-seed", type=int, default=recipe["check_seed"],
                        help="seed of that world (not the training seed; default: %(default)s)")
    parser.add_argument("--seed", type=int, default=None,
                        help="train_params.seed of both trainings (default: the config's); the worlds keep theirs")
    parser.add_argument("--set", type=parse_assignment, action="append", default=[], metavar="KEY=VALUE",
                        help="a config key for both trainings, after the recipe's overrides (repeatable)")
    parser.add_argument("--device", default="auto", help="auto (CUDA when available), cpu, cuda, cuda:N")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    return parser


def demo_overrides(config_name: str, say=print, assignments=()) -> dict:
    """The demo recipe's ``overrides`` when the demo trains the recipe's own ``config`` (none, said,
    for another ``--config``, which is trained as it is), then the ``--set`` ``assignments``
    ((key, value) pairs, replacing a recipe key of the same name); each said in one line."""
    recipe = demo_recipe()
    overrides = {}
    if recipe["overrides"] and config_name != recipe["config"]:
        say(f"demo recipe overrides {recipe['overrides']} belong to {recipe['config']}; {config_name} is trained as it is")
    elif recipe["overrides"]:
        say(f"demo recipe overrides of {recipe['config']}: {recipe['overrides']}")
        overrides = dict(recipe["overrides"])
    for key, value in assignments:
        replaced = f" (the recipe's {overrides[key]!r} replaced)" if key in overrides else ""
        say(f"--set {key}={value!r}{replaced}")
        overrides[key] = value
    return overrides


def finetune_config(config: dict, epochs: int, top_k: float | None) -> dict:
    """The reconstruction config with the U-Net discriminator and PriorityCut switched on
    (the demo recipe's ``finetune_variant`` of the experiment, at the config's or the given top-k)."""
    chosen = dict(variant(demo_recipe()["finetune_variant"]), top_k=top_k if top_k is not None else
                   config["regularizer"]["top_k_percent"])
    return variant_config(config, chosen, epochs, config["train_params"]["seed"])


def animate_held_out(models, dataset, out_dir: Path, fps: int = 10) -> Path:
    """Drive the first test video's first frame by the test video of another identity: the
    animation (source | driving | result) as ``animation.mp4`` and ``animation.png``, and
    ``animation_keypoints.png`` with the detected keypoints drawn on source and driving."""
    source_item = dataset[0]
    partner = animation_partner(dataset.videos, 0)
    driving_item = dataset[partner if partner is not None else min(1, len(dataset) - 1)]
    result = animate_video(models.kp_detector, models.generator, source_item["video"][0], driving_item["video"])
    source = source_item["video"][:1].expand_as(driving_item["video"])
    panel = torch.cat([source, driving_item["video"], result["prediction"]], dim=3)   # side by side
    written = save_video(panel, out_dir / "animation.mp4", fps=fps)
    save_strip_png(panel[::4], out_dir / "animation.png")
    keypoint_figure(source_item["video"][0], driving_item["video"], result, out_dir / "animation_keypoints.png")
    return Path(written)


def keypoint_figure(source: torch.Tensor, driving: torch.Tensor, result: dict, path: Path, columns: int = 4) -> Path:
    """Rows source, driving, result for ``columns`` frames spread over the video, the keypoints
    (numbered) on source and driving: which point moves where, and what the model made of it.
    source (3,H,W), driving (T,3,H,W), result: ``animate_video``'s dict."""
    frames = np.linspace(0, len(driving) - 1, columns).round().astype(int)
    size = driving.shape[-1]
    figure = Figure(figsize=(1.6 * columns, 1.7 * 3), layout="constrained")
    axes = figure.subplots(3, columns, squeeze=False)
    rows = [("source", lambda t: source, lambda t: result["kp_source"]),
            ("driving", lambda t: driving[t], lambda t: result["kp_driving"][t]),
            ("result", lambda t: result["prediction"][t], None)]
    for row, (label, image, keypoints) in enumerate(rows):
        for column, t in enumerate(frames):
            ax = axes[row, column]
            ax.imshow(image(t).clamp(0, 1).permute(1, 2, 0).numpy(), interpolation="nearest")
            if keypoints is not None:
                xy = keypoints_to_pixels(keypoints(t).float().numpy(), size, size)
                ax.scatter(xy[:, 0], xy[:, 1], s=14, c=[f"C{k % 10}" for k in range(len(xy))],
                           edgecolors="white", linewidths=0.5)
                for k, (x, y) in enumerate(xy):
                    ax.annotate(str(k), (x, y), xytext=(2, -2), textcoords="offset points", fontsize=6, color="white")
            ax.set_xticks([])
            ax.set_yticks([])
            if row == 0:
                ax.set_title(f"frame {t}", fontsize=8)
        axes[row, 0].set_ylabel(label, fontsize=8)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    return path


def ensure_check_data(root: Path, training_data: Path, seed: int, progress: bool) -> Path:
    """A held-out world like the training one (same size, frames, world) but another seed."""

    if (root / "synthetic.json").is_file():
        return root
    meta = json.loads((training_data / "synthetic.json").read_text())
    if meta["seed"] == seed:
        raise ValueError(f"--check-seed {seed} is the training world's seed; choose another")
    world = World.from_record(meta)
    return make_synthetic_dataset(root, videos=demo_recipe()["check_videos"], frames=meta["frames"], size=meta["size"], seed=seed,
                                  stripes=meta["stripes"], world=world, progress=progress, overwrite=True)


def reconstruction_dir(runs: Path, config: str) -> Path:
    """The run folder of the demo's first step, reconstruction training: <runs>/<config's stem>-reconstruction."""
    return Path(runs) / f"{Path(config).stem}-reconstruction"


def run_demo(args) -> int:

    started = time.perf_counter()
    progress = not args.no_progress
    epochs = {} if args.reconstruction_epochs is None else {"num_epochs": args.reconstruction_epochs}
    seed = {} if args.seed is None else {"seed": args.seed}
    overrides = demo_overrides(args.config, assignments=args.set)
    config = synthetic_config(args.config, args.data, progress, overrides, **epochs, **seed)
    data = Path(config["dataset_params"]["root_dir"])

    first_run = reconstruction_dir(args.runs, args.config)
    print(f"[1/3] reconstruction training -> {first_run}")
    reconstruction_last = train(config, first_run, device=args.device, progress=progress, overwrite=True)

    prioritycut_dir = args.runs / f"{Path(args.config).stem}-prioritycut"
    print(f"[2/3] PriorityCut fine-tune -> {prioritycut_dir}")
    last = train(finetune_config(config, args.finetune_epochs, args.top_k), prioritycut_dir, device=args.device,
                 init_from=reconstruction_last, progress=progress, overwrite=True)

    print("[3/3] held-out evaluation and animation")
    test_set = FramesDataset(data, frame_shape=config["dataset_params"]["frame_shape"], is_train=False)
    rows = {}
    for name, checkpoint in (("reconstruction", reconstruction_last), ("prioritycut", last)):
        models, _ = load_models(checkpoint, with_discriminator=False)
        summary, per_video = evaluate_reconstruction(models, test_set, progress=False)
        write_metrics(checkpoint.parent.parent, summary, per_video)
        rows[name] = summary
    animation = animate_held_out(models, test_set, prioritycut_dir)

    check = ensure_check_data(args.check_data, data, args.check_seed, progress)
    diagnoses = {}
    for name, checkpoint in (("demo recon", reconstruction_last), ("demo pcut", last), ("shipped", pretrained_path())):
        if Path(checkpoint).is_file():          # the reconstruction phase never trains its discriminator
            models, _ = load_models(checkpoint, with_discriminator=name != "demo recon")
            diagnoses[name] = diagnose(models, check, progress=progress)
    minutes = (time.perf_counter() - started) / 60

    baseline = rows["prioritycut"]["baseline_l1"]
    print(f"\nheld-out reconstruction on {len(test_set)} test videos of unseen figures:")
    print(f"  {'':<28}{'L1':>8}{'PSNR':>8}{'SSIM':>8}")
    print(f"  {'copy the source frame':<28}{baseline:>8.4f}{rows['prioritycut']['baseline_psnr']:>8.2f}"
          f"{rows['prioritycut']['baseline_ssim']:>8.3f}")
    for name, summary in rows.items():
        print(f"  {name:<28}{summary['l1']:>8.4f}{summary['psnr']:>8.2f}{summary['ssim']:>8.3f}")
    print(f"PriorityCut model L1 is {relative_change(rows['prioritycut']['l1'], baseline)} the copy baseline.")
    print(f"\nmotion diagnosis (pcut diagnose) on {diagnoses['demo recon'].videos} held-out videos of {check} "
          f"(seed {args.check_seed}); shipped = {pretrained_path().name}:")
    print(format_diagnoses(diagnoses))
    print(f"animation: {animation}\nwall time: {minutes:.1f} min")
    targets = demo_recipe()["targets"]
    print(demo_verdict(rows["prioritycut"]["l1"], baseline, diagnoses["demo pcut"], minutes, targets))
    figures = demo_figures(rows["prioritycut"]["l1"], baseline, diagnoses["demo pcut"], minutes)
    summary = {"seed": config["train_params"]["seed"], "overrides": overrides,
               "machine": machine_record(choose_device(args.device)), "figures": figures, "targets": targets,
               "met": targets_met(figures, targets), "diagnoses": {k: d.to_dict() for k, d in diagnoses.items()}}
    (args.runs / "demo.json").write_text(json.dumps(summary, indent=1) + "\n")
    print(f"wrote {args.runs / 'demo.json'}")
    return 0
