"""``pcut calibrate``: what makes the CPU model learn motion? Named training variants, each
trained on its synthetic world and diagnosed on a world made with another seed.

A variant (a row of ``configs/recipes/calibration.yaml``) is either a training row, a world
(``pcutlib.data.synthetic.World``) plus config overrides of ``synthetic-64``; a continued row,
the same with a ``base``: the base training row's weights (keypoint detector and generator)
trained on the row's world (a curriculum over worlds: no ground truth trains it); or a fine-tune
row: a training row (its ``base``) fine-tuned with the U-Net discriminator and PriorityCut
(the demo's fine-tune config, ``finetune: {epochs, overrides}``), diagnosed with its
discriminator, so that the discriminator's figures (image AUC, pixel AUC against the true
dis-occlusion) are measured.
``pcut calibrate VARIANT...`` trains each (``runs/calibration/<variant>``; a finished run is
diagnosed again, not retrained), appends its figures to ``results/calibration.jsonl`` and
rewrites ``results/calibration.md`` from all recorded rows.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from pcutlib.checkpoints.files import load_models, safe_torch_load
from pcutlib.config import load_config, resolve_config, same_run_config, set_by_path
from pcutlib.data.make_synthetic import make_synthetic_dataset
from pcutlib.data.synthetic import World
from pcutlib.evaluation.diagnose import Diagnosis, diagnose
from pcutlib.experiments.demo import finetune_config
from pcutlib.experiments.recipes import read_recipe
from pcutlib.paths import find_recipe
from pcutlib.prioritycut import RegularizerConfig
from pcutlib.training.device import choose_device
from pcutlib.training.loop import train

ROW_KEYS = {"note", "world", "overrides"}
CONTINUED_ROW_KEYS = {"note", "base", "world", "overrides"}
STARTED_ROW_KEYS = {"note", "start", "world", "overrides"}      # start: a committed checkpoint (pretrained/...)
FINETUNE_ROW_KEYS = {"note", "base", "finetune"}
FINETUNE_KEYS = {"epochs", "overrides"}


def _check_base(path, name: str, row: dict, rows: dict) -> None:
    """A row's base must be a row above it that trains from scratch or, for a fine-tune row, a
    continued row too (never a fine-tune row)."""
    base = rows.get(row["base"])
    allowed = base is not None and "finetune" not in base and ("finetune" in row or "base" not in base)
    if not allowed:
        raise ValueError(f"{path}: row {name!r}: base {row['base']!r} is not a training row above it")


def _finetune_row(path, name: str, row: dict, rows: dict) -> dict:
    """A fine-tune row {note, base, finetune: {epochs, overrides}} with its base's world."""
    _check_base(path, name, row, rows)
    if not isinstance(row["finetune"], dict) or set(row["finetune"]) != FINETUNE_KEYS:
        raise ValueError(f"{path}: row {name!r}: finetune {row['finetune']!r}; expected keys {sorted(FINETUNE_KEYS)}")
    return {**row, "world": rows[row["base"]]["world"]}


def calibration_recipe() -> dict:
    """``configs/recipes/calibration.yaml``: seeds, the schedule and the rows {name: {note, world,
    overrides}}, {name: {note, base, world, overrides}} (continued), {name: {note, start, world,
    overrides}} (continued from a committed checkpoint) or {name: {note, base, finetune}},
    each row's world a :class:`World` (a fine-tune row's is its base's); an unknown key or world
    key is an error naming it."""
    path = find_recipe("calibration")
    recipe = read_recipe("calibration")
    rows = {}
    for name, row in recipe["rows"].items():
        if set(row) == FINETUNE_ROW_KEYS:
            rows[name] = _finetune_row(path, name, row, rows)
            continue
        if set(row) not in (ROW_KEYS, CONTINUED_ROW_KEYS, STARTED_ROW_KEYS):
            raise ValueError(f"{path}: row {name!r} has keys {sorted(row)}; expected {sorted(ROW_KEYS)} "
                             f"(a training row), {sorted(CONTINUED_ROW_KEYS)} (a continued row), "
                             f"{sorted(STARTED_ROW_KEYS)} (a row continued from a committed checkpoint) or "
                             f"{sorted(FINETUNE_ROW_KEYS)} (a fine-tune row)")
        if "base" in row:
            _check_base(path, name, row, rows)
        try:
            world = World(**row["world"])
        except TypeError as error:
            raise ValueError(f"{path}: row {name!r}: world {row['world']} ({error})") from None
        rows[name] = {**row, "world": world}
    return {**recipe, "rows": rows}


def world_name(world: World) -> str:
    """e.g. h62, h75-textured, h70-w130-m60, h62-m60-grain20, h62-m60-grain20x3 (height, limb width
    and limb motion in percent, the background grain's sd and, when not 1, its size factor)."""
    name = f"h{round(100 * world.figure_height)}"
    if world.limb_width != 1.0:
        name += f"-w{round(100 * world.limb_width)}"
    if world.limb_motion != 1.0:
        name += f"-m{round(100 * world.limb_motion)}"
    if world.background_texture:
        name += f"-grain{world.background_texture:g}"
        if world.background_grain_scale != 1.0:
            name += f"x{world.background_grain_scale:g}"
    return name + ("-textured" if world.texture else "") + ("-partgrain" if world.part_grain else "")


def world_data(world: World, seed: int, videos: int, data_dir: Path, progress: bool) -> Path:
    """The synthetic dataset of ``world`` with ``seed`` under data_dir (made when missing)."""
    root = data_dir / f"calibration-{world_name(world)}-seed{seed}"
    if not (root / "synthetic.json").is_file():
        make_synthetic_dataset(root, videos=videos, seed=seed, world=world, progress=progress, overwrite=True)
    return root


def variant_worlds(name: str, data_dir: Path, progress: bool) -> tuple[Path, Path]:
    """The training and check worlds of variant ``name`` under data_dir (made when missing)."""
    recipe = calibration_recipe()
    world = recipe["rows"][name]["world"]
    return (world_data(world, recipe["train_seed"], recipe["train_videos"], data_dir, progress),
            world_data(world, recipe["check_seed"], recipe["check_videos"], data_dir, progress))


def variant_config(name: str, data: Path, epochs: int | None, seed: int | None = None) -> dict:
    """synthetic-64 with the calibration's schedule and row ``name``'s overrides, reading ``data``;
    for a fine-tune row, its base's config turned into the demo's PriorityCut fine-tune for
    ``finetune.epochs`` (or ``epochs``) with the row's overrides. ``seed``: the training seed
    (train_params.seed; None: the config's). The world is the same for every training seed."""
    recipe = calibration_recipe()
    row = recipe["rows"][name]
    if "finetune" in row:
        config = finetune_config(variant_config(row["base"], data, None, seed), row["finetune"]["epochs"], None)
        for key, value in row["finetune"]["overrides"].items():
            set_by_path(config, key, value)
        if epochs is not None:
            config["train_params"]["num_epochs"] = epochs
        return resolve_config(config)
    config = load_config("synthetic-64")
    config["dataset_params"]["root_dir"] = str(data)
    config["train_params"]["num_workers"] = 0        # 2 cores: workers slow the step (benchmarks/)
    for key, value in {**recipe["schedule"], **recipe["rows"][name]["overrides"]}.items():
        set_by_path(config, key, value)
    if seed is not None:
        config["train_params"]["seed"] = seed
    if epochs is not None:
        config["train_params"]["num_epochs"] = epochs
    return resolve_config(config)


def run_dir_of(runs: Path, name: str, seed: int) -> Path:
    """A variant's run folder: ``runs/<name>`` for training seed 0 (every row before seeds were a
    choice), ``runs/<name>-seed<S>`` for another."""
    return runs / (name if seed == 0 else f"{name}-seed{seed}")


def run_variant(name: str, runs: Path, data_dir: Path, epochs: int | None = None, progress: bool = True,
                diagnose_it: bool = True, device: str = "cpu", seed: int | None = None,
                max_videos: int | None = None) -> dict:
    """Train (unless finished; a fine-tune row trains its base first, with the same seed) on
    ``device`` with training seed ``seed`` (None: the config's) and diagnose one variant (on the
    CPU; ``max_videos``: only that many of the check world's test videos, which the row records);
    returns its table row ({} when diagnose_it is False). The row names the training seed and the
    device its minutes were measured on."""
    recipe = calibration_recipe()
    if name not in recipe["rows"]:
        raise ValueError(f"unknown calibration variant {name!r}; known: {sorted(recipe['rows'])}")
    data, check = variant_worlds(name, data_dir, progress)
    row = recipe["rows"][name]
    init_from = None
    finetune = "finetune" in row
    if "base" in row:                                                # its base first (trained once)
        run_variant(row["base"], runs, data_dir, None, progress, diagnose_it=False, device=device, seed=seed)
    config = variant_config(name, data, epochs, seed)
    seed = config["train_params"]["seed"]
    if "base" in row:
        init_from = run_dir_of(runs, row["base"], seed) / "checkpoints" / "last.pt"
    if "start" in row:
        init_from = Path(row["start"])
        if not init_from.is_file():
            raise ValueError(f"calibration row {name!r}: start {row['start']!r} is not a file (run pcut calibrate "
                             f"from the repository root, where pretrained/ holds the committed checkpoints)")
    run_dir = run_dir_of(runs, name, seed)
    last = run_dir / "checkpoints" / "last.pt"
    stored = safe_torch_load(last) if last.is_file() else {}
    finished = stored.get("epoch") == config["train_params"]["num_epochs"]
    resume = bool(stored) and not finished and same_run_config(stored.get("config"), config)
    if stored and not finished and not resume:
        print(f"{run_dir} holds a run of another config: training {name} from the start there")
    started = time.perf_counter()
    if not finished:
        if resume:
            print(f"resuming {name} from epoch {stored['epoch']} of {config['train_params']['num_epochs']} "
                  f"({run_dir}); its minutes will count only this part")
        train(config, run_dir, device=device, progress=progress, resume=resume, overwrite=not resume,
              init_from=None if resume else init_from)
        minutes = (time.perf_counter() - started) / 60
        (run_dir / "minutes.txt").write_text((f"{minutes:.2f}" if not resume else "nan") + f" {device}\n")
    minutes, trained_on = minutes_of(run_dir)
    if not diagnose_it:
        return {}
    models, checkpoint = load_models(last, with_discriminator=finetune)
    result: Diagnosis = diagnose(models, check, progress=progress, max_videos=max_videos,
                                 regularizer=RegularizerConfig.from_dict(config["regularizer"]) if finetune else None)
    steps = checkpoint["step"]
    return {"variant": name, "note": row["note"], "world": world_name(row["world"]), "base": row.get("base", row.get("start")),
            "seed": seed, "epochs": checkpoint["epoch"], "steps": steps, "minutes": round(minutes, 1), "device": trained_on,
            **({"max_videos": max_videos} if max_videos is not None else {}), **result.to_dict()}


def minutes_of(run_dir: Path) -> tuple[float, str]:
    """(training minutes, device) from a run's minutes.txt ("12.30 cpu"; older files hold the
    minutes alone, measured on the CPU); (nan, "cpu") when there is none."""
    path = run_dir / "minutes.txt"
    if not path.is_file():
        return float("nan"), "cpu"
    fields = path.read_text().split()
    return float(fields[0]), fields[1] if len(fields) > 1 else "cpu"


def _cell(value, digits):
    return "-" if value is None or value != value else f"{value:.{digits}f}"     # None or nan


def _row_name(row: dict) -> str:
    """The variant, with its training seed when that is not 0 ("motion-64 seed 2") and the count of
    test videos diagnosed when --max-videos limited it ("motion-64 (8 test videos)")."""
    seed = row.get("seed", 0)
    name = row["variant"] if seed == 0 else f"{row['variant']} seed {seed}"
    return name if row.get("max_videos") is None else f"{name} ({row['videos']} test videos)"


SPREAD_COLUMNS = [("distinct_keypoints", "distinct kp", 1), ("moving_distinct_keypoints", "moving kp", 1),
                  ("probe_px", "probe px", 2), ("silhouette_iou", "silhouette IoU", 3),
                  ("occlusion_auc_foreground", "O AUC in F", 3), ("occlusion_auc_figure", "O AUC figure", 3),
                  ("occlusion_auc_warp_failure_foreground", "O AUC vs warp failures in F", 3),
                  ("mask_lift", "mask lift", 2)]


def seed_spread(rows: list[dict]) -> str:
    """Markdown: per variant trained with two or more training seeds (at the same epochs), each
    figure's mean (min-max) over its seeds; empty when no variant has two."""
    groups: dict[tuple, list[dict]] = {}
    for row in rows:
        groups.setdefault((row["variant"], row["epochs"]), []).append(row)
    groups = {key: group for key, group in groups.items() if len(group) > 1}
    if not groups:
        return ""
    lines = ["| variant | epochs | seeds | " + " | ".join(f"{label} mean (min-max)" for _, label, _ in SPREAD_COLUMNS)
             + " |", "|---|---|---|" + "---|" * len(SPREAD_COLUMNS)]
    for (variant, epochs), group in groups.items():
        cells = []
        for key, _, digits in SPREAD_COLUMNS:
            values = [row[key] for row in group if row.get(key) is not None and row[key] == row[key]]
            cells.append("-" if not values else f"{sum(values) / len(values):.{digits}f} "
                                                f"({min(values):.{digits}f}-{max(values):.{digits}f})")
        seeds = ", ".join(str(row.get("seed", 0)) for row in group)
        lines.append(f"| {variant} | {epochs} | {seeds} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


OCCLUSION_COLUMNS = [("moving_distinct_keypoints", "moving kp", 1), ("silhouette_iou", "IoU", 3),
                     ("occlusion_auc_foreground", "O AUC in F", 3), ("occlusion_auc_figure", "O AUC figure", 3),
                     ("occlusion_auc_warp_failure_foreground", "O AUC vs warp failures in F", 3),
                     ("disocclusion_warp_failure_share", "dis-occlusion the warp gets wrong", 3),
                     ("mask_lift", "mask lift", 2)]
# the revealed term's rows: what it must raise beside what it must not break
REVEALED_COLUMNS = [("moving_distinct_keypoints", "moving kp", 1), ("probe_px", "probe px", 3),
                    ("silhouette_iou", "IoU", 3), ("occlusion_at_rest", "O at rest", 3),
                    ("occlusion_auc", "O AUC pooled", 3), ("occlusion_auc_foreground", "O AUC in F", 3),
                    ("occlusion_auc_figure", "O AUC figure", 3), ("mask_lift", "mask lift", 2),
                    ("d_pixel_auc_true_disocclusion", "D pixel AUC vs truth", 3),
                    ("reconstruction_l1", "reconstruction L1", 4)]
# where the silhouette IoU is lost: the prediction in motion, at rest (driving = source) and the
# warped source alone, beside the keypoints and O ("-": recorded before it was measured)
SILHOUETTE_COLUMNS = [("moving_distinct_keypoints", "moving kp", 2), ("probe_px", "probe px", 3),
                      ("silhouette_iou", "IoU", 3), ("silhouette_iou_at_rest", "IoU at rest", 3),
                      ("warped_source_silhouette_iou", "warped source IoU", 3), ("occlusion_at_rest", "O at rest", 3),
                      ("occlusion_auc_foreground", "O AUC in F", 3), ("occlusion_auc_figure", "O AUC figure", 3),
                      ("mask_lift", "mask lift", 2), ("d_pixel_auc_true_disocclusion", "D pixel AUC vs truth", 3),
                      ("reconstruction_l1", "reconstruction L1", 4)]
# the label beside what O learned from it: the revealed score, the warp error and their sum (pcut
# diagnose's references on the same held-out figures; "-": recorded before it was measured)
LABEL_COLUMNS = [("moving_distinct_keypoints", "moving kp", 1), ("silhouette_iou", "IoU", 3),
                 ("occlusion_at_rest", "O at rest", 3), ("occlusion_auc_foreground", "O AUC in F", 3),
                 ("occlusion_auc_figure", "O AUC figure", 3), ("mask_lift", "mask lift", 2),
                 ("revealed_auc_foreground", "revealed in F", 3), ("revealed_auc_figure", "revealed figure", 3),
                 ("revealed_mask_lift", "revealed lift", 2), ("warp_error_auc_foreground", "warp error in F", 3),
                 ("warp_error_auc_figure", "warp error figure", 3), ("revealed_warp_auc_foreground", "sum in F", 3),
                 ("revealed_warp_auc_figure", "sum figure", 3), ("revealed_warp_mask_lift", "sum lift", 2)]


def occlusion_levers(rows: list[dict], variants: list[str], columns=None) -> str:
    """Markdown: the occlusion map's figures of ``variants`` (training seed 0, the latest record
    of each), one row each in the order given, in ``columns`` [(field, label, digits)] (default
    OCCLUSION_COLUMNS); a ValueError names a variant with no record."""
    columns = OCCLUSION_COLUMNS if columns is None else columns
    latest = {row["variant"]: row for row in rows if row.get("seed", 0) == 0}
    missing = [name for name in variants if name not in latest]
    if missing:
        raise ValueError(f"no calibration record of {missing}; recorded: {sorted(latest)}")
    lines = ["| variant | world | " + " | ".join(label for _, label, _ in columns) + " |",
             "|---|---|" + "---|" * len(columns)]
    for name in variants:
        row = latest[name]
        lines.append(f"| {name} | {row['world']} | "
                     + " | ".join(_cell(row.get(key), digits) for key, _, digits in columns) + " |")
    return "\n".join(lines)


def _minutes_cell(row: dict) -> str:
    """Training minutes, with the device when it was not the CPU ("1.4 on cuda")."""
    device = row.get("device", "cpu")
    return _cell(row["minutes"], 1) + ("" if device == "cpu" else f" on {device}")


def markdown(rows: list[dict]) -> str:
    """The calibration table, one row per recorded run (latest record of each variant and epochs)."""
    latest = {}
    for row in rows:
        latest[(row["variant"], row["epochs"], row.get("seed", 0))] = row
    recipe = calibration_recipe()
    lines = [
        "# Calibration runs: what makes the CPU model learn motion",
        "",
        "Written by `pcut calibrate` (pcutlib/experiments/calibration.py); each row trains `synthetic-64` (on the "
        "calibration's 90-epoch schedule: learning-rate drops at 54 and 76, unless the row says otherwise) with the "
        f"variant's changes on its world (seed {recipe['train_seed']}, {recipe['train_videos']} videos) and diagnoses it with "
        f"`pcut diagnose` on held-out figures of the same world made with seed {recipe['check_seed']} "
        f"({recipe['check_videos']} videos; test split). Baselines in brackets: mean pose for the probe, copying "
        "the source for IoU and L1. O AUC in F / figure: inside PriorityCut's foreground / on figure pixels; mask "
        "lift: the top-10% mask's precision over random foreground pixels' (rows before these columns: -). "
        "O AUC vs warp failures: against the pixels where the source warped by the model's own flow shows the "
        "wrong colour (pcut diagnose; rows before this column: -). "
        "D: the U-Net discriminator's image AUC (real vs generated) and its pixel AUC against the true "
        "dis-occlusion, measured only on fine-tune rows (a base row plus the PriorityCut fine-tune; steps and "
        "minutes are the fine-tune's): the reconstruction runs train no discriminator. A continued row starts "
        "from its base row's weights (the same training seed) and trains on its own world; its steps and minutes "
        "are the continuation's. "
        "Minutes: training wall time on 2 CPU cores (on a GPU where the cell names it).",
        "",
        "| variant | world | steps | min | distinct kp | probe px (mean pose) | silhouette IoU (copy) "
        "| O at rest | O AUC | O AUC in F / figure | O AUC vs warp failures / in F | mask lift "
        "| D image / pixel vs truth | recon L1 (copy) | anim L1 (copy) | change |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in latest.values():
        lines.append(
            f"| {_row_name(row)} | {row['world']} | {row['steps']} | {_minutes_cell(row)} "
            f"| {row['distinct_keypoints']:.1f} of {row['num_keypoints']} "
            f"| {_cell(row['probe_px'], 2)} ({_cell(row['mean_pose_px'], 2)}) "
            f"| {row['silhouette_iou']:.3f} ({row['copy_silhouette_iou']:.3f}) "
            f"| {_cell(row['occlusion_at_rest'], 3)} | {_cell(row['occlusion_auc'], 3)} "
            f"| {_cell(row.get('occlusion_auc_foreground'), 3)} / {_cell(row.get('occlusion_auc_figure'), 3)} "
            f"| {_cell(row.get('occlusion_auc_warp_failure'), 3)} / "
            f"{_cell(row.get('occlusion_auc_warp_failure_foreground'), 3)} "
            f"| {_cell(row.get('mask_lift'), 2)} "
            f"| {_cell(row.get('d_image_auc') if row.get('base') else None, 3)} / "
            f"{_cell(row.get('d_pixel_auc_true_disocclusion') if row.get('base') else None, 3)} "
            f"| {row['reconstruction_l1']:.4f} ({row['copy_reconstruction_l1']:.4f}) "
            f"| {_cell(row['animation_l1'], 4)} ({_cell(row['copy_animation_l1'], 4)}) | {row['note']} |")
    spread = seed_spread(list(latest.values()))
    if spread:
        lines += ["", "## Over training seeds", "",
                  "Variants trained with several training seeds (`pcut calibrate VARIANT --seeds ...`: "
                  "train_params.seed, which draws the initial weights, the batches and the augmentations; "
                  "the world is the same): each figure's mean and range over the seeds. A difference between "
                  "two variants smaller than their ranges is not shown by one seed each.", "", spread]
    return "\n".join(lines) + "\n"


def rewrite_page(results: Path = Path("results")) -> Path:
    """Rewrite ``results/calibration.md`` from every row of ``results/calibration.jsonl`` (after
    rows measured elsewhere, e.g. on a GPU, were appended to it); returns the page's path."""
    rows = [json.loads(line) for line in (results / "calibration.jsonl").read_text().splitlines() if line.strip()]
    page = results / "calibration.md"
    page.write_text(markdown(rows))
    return page


def add_calibrate_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.description = ("Train named variants of synthetic-64 (world and recipe changes) and record their "
                          "pcut diagnose figures in results/calibration.md.")
    rows = calibration_recipe()["rows"]
    parser.add_argument("variants", nargs="+", metavar="VARIANT", help=f"any of: {', '.join(rows)}")
    parser.add_argument("--epochs", type=int, default=None, help="override train_params.num_epochs")
    parser.add_argument("--runs", type=Path, default=Path("runs/calibration"), help="run folders (default: %(default)s)")
    parser.add_argument("--data-dir", type=Path, default=Path("data"), help="where the worlds are made (default: %(default)s)")
    parser.add_argument("--results", type=Path, default=Path("results"), help="calibration.jsonl and .md go here")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.add_argument("--seeds", type=int, nargs="+", default=None, metavar="S",
                        help="train each variant once per training seed (train_params.seed; runs/<variant>-seed<S>, "
                             "seed 0 in runs/<variant>); default: the config's seed, 0")
    parser.add_argument("--worlds-only", action="store_true",
                        help="make the variants' worlds (training and check) and stop: before several processes "
                             "train rows of the same world at once")
    parser.add_argument("--max-videos", type=int, default=None, metavar="N",
                        help="diagnose only N of the check world's test videos (a quick look; the row says so)")
    parser.add_argument("--device", default="cpu",
                        help="train on cpu (default; the table's minutes are 2-core CPU minutes), cuda or auto; "
                             "diagnosing runs on the CPU")
    return parser


def run_calibrate(args: argparse.Namespace) -> int:
    known = calibration_recipe()["rows"]
    unknown = [v for v in args.variants if v not in known]
    if unknown:
        raise ValueError(f"unknown calibration variants {unknown}; known: {sorted(known)}")
    if getattr(args, "worlds_only", False):
        for name in args.variants:
            print(f"{name}: {', '.join(map(str, variant_worlds(name, args.data_dir, not args.no_progress)))}")
        return 0
    args.results.mkdir(parents=True, exist_ok=True)
    record = args.results / "calibration.jsonl"
    seeds = getattr(args, "seeds", None) or [None]
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"--seeds repeats a seed: {seeds}")
    for name, seed in [(name, seed) for name in args.variants for seed in seeds]:
        row = run_variant(name, args.runs, args.data_dir, args.epochs, progress=not args.no_progress,
                          device=str(choose_device(args.device)), seed=seed,
                          max_videos=getattr(args, "max_videos", None))
        with open(record, "a") as f:
            f.write(json.dumps(row) + "\n")
        rewrite_page(args.results)
        print(f"{_row_name(row)}: distinct {row['distinct_keypoints']:.1f}, probe {row['probe_px']} px, "
              f"IoU {row['silhouette_iou']:.3f}, {row['steps']} steps in {row['minutes']} min")
    return 0
