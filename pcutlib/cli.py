"""The ``pcut`` console command: one subcommand per job.

    pcut make-synthetic --out data/synthetic-64          the synthetic world
    pcut train --config synthetic-64 --name my-run       train (flags override the config)
    pcut reconstruct --checkpoint runs/x/checkpoints/last.pt --data data/synthetic-64
    pcut animate --checkpoint ... --source face.png --driving video.mp4 --out result.mp4
    pcut evaluate --checkpoint ... --data ...             metrics.json + per-video CSV
    pcut diagnose --checkpoint ... --data ...             has the model learned motion?
    pcut calibrate baseline region-dropout ...           recipe variants -> results/calibration.md
    pcut occlusion-bound                                 O trained on the truth: an oracle's bound
    pcut demo                                            the README's main job
    pcut experiment                                      the PriorityCut ablation (results/)
    pcut seed-statistics results/experiment-finetune     seed-level verdicts of stored runs
"""
from __future__ import annotations

import argparse
import sys
import warnings
from contextlib import contextmanager
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import torch

from pcutlib.checkpoints.files import CheckpointError, load_models
from pcutlib.checkpoints.importing import import_checkpoint
from pcutlib.checkpoints.pretrained import export_pretrained, pretrained_summary
from pcutlib.config import load_config, resolve_config, set_by_path
from pcutlib.data.datasets import FramesDataset
from pcutlib.data.make_synthetic import add_make_synthetic_arguments, run_make_synthetic
from pcutlib.data.video_io import read_source_image, read_video, save_strip_png, save_video
from pcutlib.evaluation.diagnose_command import add_diagnose_arguments, run_diagnose
from pcutlib.evaluation.probes import add_train_probes_arguments, run_train_probes
from pcutlib.evaluation.protocols import add_evaluate_arguments, run_evaluate
from pcutlib.experiments.backbones import add_compare_backbones_arguments, run_compare_backbones
from pcutlib.experiments.calibration import add_calibrate_arguments, run_calibrate
from pcutlib.experiments.occlusion_bound import add_occlusion_bound_arguments, run_occlusion_bound
from pcutlib.experiments.comparison import run_experiment
from pcutlib.experiments.experiment_options import add_experiment_arguments
from pcutlib.experiments.demo import add_demo_arguments, run_demo
from pcutlib.experiments.recipes import parse_assignment
from pcutlib.experiments.seed_statistics import add_seed_statistics_arguments, run_seed_statistics
from pcutlib.inference import animate_video, reconstruct_video
from pcutlib.paths import refuse_to_replace
from pcutlib.training.device import choose_device, finish_distributed
from pcutlib.training.interrupt import TrainingInterrupted, ignore_stop_signals
from pcutlib.training.loop import train

# flag -> dotted config key, for the flags that override a config value
OVERRIDES = {
    "data": "dataset_params.root_dir",
    "epochs": "train_params.num_epochs",
    "batch_size": "train_params.batch_size",
    "num_repeats": "train_params.num_repeats",
    "seed": "train_params.seed",
    "num_workers": "train_params.num_workers",
    "regularizer": "regularizer.type",
    "top_k": "regularizer.top_k_percent",
    "foreground": "regularizer.foreground",
    "foreground_threshold": "regularizer.foreground_threshold",
    "mix_probability": "regularizer.mix_probability",
    "mix_warmup_epochs": "regularizer.mix_warmup_epochs",
    "discriminator": "model_params.discriminator_params.kind",
    "generator_gan": "train_params.loss_weights.generator_gan",
    "mixed_precision": "train_params.mixed_precision",
    "perceptual_weights": "train_params.perceptual_weights",
    "skip_bad_files": "dataset_params.skip_bad_files",
}


def config_from_args(args) -> dict:
    """Load --config, apply --set assignments and the override flags, validate."""
    config = load_config(args.config)
    for key, value in args.set or []:
        set_by_path(config, key, value)
    for flag, key in OVERRIDES.items():
        value = getattr(args, flag, None)
        if value is not None:
            set_by_path(config, key, value)
    if getattr(args, "channels_last", False):
        set_by_path(config, "train_params.channels_last", True)
    return resolve_config(config)


def add_train_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", default="synthetic-64", help="a config file or a name in configs/")
    parser.add_argument("--name", help="run name: the run folder is runs/<name> (default: the config's name)")
    parser.add_argument("--run-dir", type=Path, help="the run folder (overrides --name)")
    parser.add_argument("--device", default="auto", help="auto (CUDA when available), cpu, cuda, cuda:N")
    parser.add_argument("--resume", action="store_true", help="continue exactly from <run>/checkpoints/last.pt")
    parser.add_argument("--overwrite", action="store_true", help="clear the run folder first if it holds a run")
    parser.add_argument("--init-from", type=Path, help="start from this checkpoint's keypoint detector and generator")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.add_argument("--tensorboard", action="store_true",
                        help="also log to <run>/tensorboard (needs: pip install \"pcutlib[tensorboard]\")")
    parser.add_argument("--data", help="dataset root (dataset_params.root_dir)")
    parser.add_argument("--epochs", type=int, help="train_params.num_epochs (at least 1)")
    parser.add_argument("--batch-size", type=int, help="train_params.batch_size: pairs per step (per process)")
    parser.add_argument("--num-repeats", type=int, help="train_params.num_repeats: passes over the videos per epoch")
    parser.add_argument("--num-workers", type=int, help="DataLoader worker processes (0: load in the training process)")
    parser.add_argument("--seed", type=int, help="train_params.seed: weights, data order, augmentation, mixing")
    parser.add_argument("--regularizer", choices=["none", "cutmix", "prioritycut"],
                        help="consistency regularizer of the U-Net discriminator (regularizer.type)")
    parser.add_argument("--top-k", type=float, help="PriorityCut: top-k percent of the foreground, in [0, 100]")
    parser.add_argument("--foreground", choices=["region", "all"],
                        help="PriorityCut: rank pixels of the figure (region: keypoint regions) or of the whole frame")
    parser.add_argument("--foreground-threshold", type=float,
                        help="PriorityCut: a pixel is foreground when its keypoint-region mass exceeds this, in [0, 1]")
    parser.add_argument("--mix-probability", type=float, help="share of steps that train on mixed images, in [0, 1]")
    parser.add_argument("--mix-warmup-epochs", type=float, help="mixing probability rises from 0 over these epochs")
    parser.add_argument("--discriminator", choices=["patch", "unet"],
                        help="patch: FOMM's multi-scale patch discriminator; unet: PriorityCut's per-pixel U-Net")
    parser.add_argument("--generator-gan", type=float, help="weight of the generator's adversarial loss")
    parser.add_argument("--mixed-precision", choices=["none", "bf16", "fp16", "auto"],
                        help="autocast dtype: bf16 (CPU or CUDA), fp16 (CUDA only), none: float32, "
                             "auto: bf16 where the CPU or GPU has native bf16, else float32 (the choice is printed)")
    parser.add_argument("--channels-last", action="store_true", default=None,
                        help="NHWC memory layout for the convolutions")
    parser.add_argument("--skip-bad-files", action="store_true", default=None,
                        help="leave out unusable videos with one warning (dataset_params.skip_bad_files)")
    parser.add_argument("--perceptual-weights", help="imagenet, random (tests only) or a path to vgg19 weights")
    parser.add_argument("--set", type=parse_assignment, action="append", metavar="KEY=VALUE",
                        help="set any config value, e.g. --set train_params.lr_generator=1e-4")


def run_train(args) -> int:
    """Train; on SIGINT or SIGTERM ``train`` raises TrainingInterrupted, which gets the flags that
    its resume command must repeat (the config and the run folder come from the run folder) and
    goes on to ``main`` for the message and the exit code."""
    config = config_from_args(args)
    run_dir = args.run_dir or Path("runs") / (args.name or Path(args.config).stem)
    root = config["dataset_params"]["root_dir"]
    if root is None or not Path(root).exists():
        raise FileNotFoundError(f"dataset root {root!r} does not exist (dataset_params.root_dir / --data); "
                         f"for the synthetic world run: pcut make-synthetic --out {root or 'data/synthetic-64'}")
    try:
        last = train(config, run_dir, device=args.device, resume=args.resume, init_from=args.init_from,
                     progress=not args.no_progress, overwrite=args.overwrite, tensorboard=args.tensorboard)
    except TrainingInterrupted as stopped:
        stopped.command_options = ((["--device", args.device] if args.device != "auto" else [])
                                   + (["--no-progress"] if args.no_progress else [])
                                   + (["--tensorboard"] if args.tensorboard else [])
                                   + (["--init-from", str(args.init_from)]       # a restart (no epoch finished)
                                      if args.init_from is not None and stopped.checkpoint_epoch is None else []))
        raise
    finish_distributed()
    print(f"checkpoint: {last}")
    return 0


def add_animate_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", required=True, type=Path, help="a pcut checkpoint (runs/<name>/checkpoints/last.pt)")
    parser.add_argument("--source", required=True, type=Path,
                        help="source image (.png/.jpg of any size, resized to the model's frames with a note), "
                             "or a video: its first frame")
    parser.add_argument("--source-frame", type=int, default=None, metavar="N",
                        help="take frame N of --source read as a video (a .png/.jpg is then a stacked strip of "
                             "frames, as the synthetic datasets store them)")
    parser.add_argument("--driving", required=True, type=Path, help="driving video (file or folder of frames)")
    parser.add_argument("--out", required=True, type=Path, help="output .mp4 or .gif (a PNG strip is written beside it)")
    parser.add_argument("--overwrite", action="store_true", help="replace --out (and its PNG strip) if they exist")
    parser.add_argument("--panel", action="store_true",
                        help="write source | driving | animation side by side (as pcut demo does)")
    parser.add_argument("--adapt-scale", action="store_true", help="scale motion by the keypoint hull areas")
    parser.add_argument("--absolute", action="store_true", help="use the driving keypoints as they are (no relative motion)")
    parser.add_argument("--no-relative-jacobian", action="store_true",
                        help="relative motion without the jacobian ratio (keypoint positions only)")
    parser.add_argument("--fps", type=int, default=10, help="frames per second of the written video (default: %(default)s)")
    parser.add_argument("--device", default="auto", help="auto (CUDA when available), cpu, cuda, cuda:N")


def run_animate(args) -> int:
    refuse_to_replace([args.out, args.out.with_suffix(".png")], args.overwrite)
    device = choose_device(args.device)
    models, checkpoint = load_models(args.checkpoint, device=device, with_discriminator=False)
    frame_shape = checkpoint["config"]["dataset_params"]["frame_shape"]
    if args.source_frame is None:
        source = torch.from_numpy(read_source_image(args.source, frame_shape)).permute(2, 0, 1)
    else:
        frames = read_video(args.source, frame_shape)
        if not 0 <= args.source_frame < len(frames):
            raise ValueError(f"--source-frame {args.source_frame}: {args.source} has {len(frames)} frames "
                             f"(0..{len(frames) - 1})")
        source = torch.from_numpy(frames[args.source_frame]).permute(2, 0, 1)
    driving = torch.from_numpy(read_video(args.driving, frame_shape, say=say_on_stderr)).permute(0, 3, 1, 2)
    print(known_data_note(checkpoint["config"], [args.source, args.driving]), file=sys.stderr)
    result = animate_video(models.kp_detector, models.generator, source, driving,
                           adapt_movement_scale=args.adapt_scale, use_relative_movement=not args.absolute,
                           use_relative_jacobian=not args.no_relative_jacobian, progress=True)
    frames = result["prediction"]
    if args.panel:
        frames = torch.cat([source[None].expand_as(driving), driving, frames.cpu()], dim=3)
    written = save_video(frames, args.out, fps=args.fps)
    save_strip_png(frames, Path(written).with_suffix(".png"))
    print(f"animation: {written}")
    return 0


def say_on_stderr(text: str) -> None:
    print(text, file=sys.stderr)


def known_data_note(config: dict, inputs: list[Path]) -> str:
    """One line: which data the model was trained on, and whether the inputs come from it (a model
    animates only what resembles its training frames; a photo given to the synthetic model is
    animated as if it were a figure of that world)."""
    root = Path(str(config["dataset_params"].get("root_dir") or "?"))
    height, width = config["dataset_params"]["frame_shape"][:2]
    outside = [path.name for path in inputs if root.name not in Path(path).resolve().parts]
    where = (f"{', '.join(outside)} {'is' if len(outside) == 1 else 'are'} not from it: expect a poor animation "
             f"where the input is unlike those frames") if outside else "the inputs come from it"
    return f"note: the model knows {root} ({width}x{height} frames); {where}"


def add_reconstruct_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", required=True, type=Path, help="a pcut checkpoint or pretrained file")
    parser.add_argument("--data", type=Path, help="dataset root (default: the checkpoint's dataset_params.root_dir)")
    parser.add_argument("--out", type=Path, help="output folder (default: <run>/reconstruction)")
    parser.add_argument("--overwrite", action="store_true", help="replace reconstructions already in --out")
    parser.add_argument("--max-videos", type=int, default=4, help="test videos to reconstruct (default: %(default)s)")
    parser.add_argument("--fps", type=int, default=10, help="frames per second of the written videos (default: %(default)s)")
    parser.add_argument("--device", default="auto", help="auto (CUDA when available), cpu, cuda, cuda:N")


def run_reconstruct(args) -> int:
    """Each test video driven from its own first frame: video and PNG strip (real over generated)."""
    device = choose_device(args.device)
    models, checkpoint = load_models(args.checkpoint, device=device, with_discriminator=False)
    dataset_params = dict(checkpoint["config"]["dataset_params"])
    if args.data is not None:
        dataset_params["root_dir"] = str(args.data)
    dataset = FramesDataset.from_config({k: v for k, v in dataset_params.items() if k != "augmentation_params"},
                                        is_train=False)
    out = args.out or Path(args.checkpoint).parent.parent / "reconstruction"
    count = min(args.max_videos, len(dataset))
    names = [Path(dataset.videos[index]).stem for index in range(count)]
    refuse_to_replace([out / f"{name}{suffix}" for name in names for suffix in (".mp4", ".png")], args.overwrite)
    out.mkdir(parents=True, exist_ok=True)
    print(f"reconstructing {count} of the {len(dataset)} test videos (--max-videos {args.max_videos}) into {out}")
    for index in range(count):
        item = dataset[index]
        result = reconstruct_video(models, item["video"])
        prediction = result["prediction"] if isinstance(result, dict) else result
        name = Path(item["name"]).stem
        written = save_video(torch.cat([item["video"], prediction], dim=3), out / f"{name}.mp4", fps=args.fps)
        save_strip_png(torch.cat([item["video"], prediction], dim=2), out / f"{name}.png")
        print(f"reconstruction: {written}")
    return 0


def run_import(args) -> int:
    out = import_checkpoint(args.checkpoint, load_config(args.config), args.out, args.overwrite)
    print(f"imported {args.checkpoint} as {out} (backbone: {load_config(args.config)['backbone']})")
    return 0


def run_export(args) -> int:

    out = export_pretrained(args.checkpoint, args.out)          # None: pretrained/ of the clone
    print(f"exported: {pretrained_summary(out)}")
    return 0


def _version() -> str:
    try:
        return version("pcutlib")
    except PackageNotFoundError:
        return "unknown (not installed)"


# Commands whose flags their own module adds: (name, one-line help, add_arguments, run).
COMMANDS = [
    ("evaluate", "metrics.json and per-video CSV of a checkpoint", add_evaluate_arguments, run_evaluate),
    ("train-probes", "pose and identity probes for the synthetic world", add_train_probes_arguments, run_train_probes),
    ("diagnose", "has the model learned motion? figures with baselines", add_diagnose_arguments, run_diagnose),
    ("calibrate", "train and diagnose recipe variants (results/calibration.md)", add_calibrate_arguments, run_calibrate),
    ("occlusion-bound", "O trained on the true dis-occlusion: an oracle's upper bound (results/occlusion-bound/)",
     add_occlusion_bound_arguments, run_occlusion_bound),
    ("demo", "the README's main job: train on the CPU, evaluate, animate", add_demo_arguments, run_demo),
    ("experiment", "the PriorityCut ablation: table and plots in results/", add_experiment_arguments, run_experiment),
    ("seed-statistics", "seed-level verdicts of a stored experiment setting", add_seed_statistics_arguments,
     run_seed_statistics),
    ("compare-backbones", "FOMM and TPSMM at one wall-clock budget (results/backbones.md)",
     add_compare_backbones_arguments, run_compare_backbones),
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pcut", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"pcut {_version()}")
    parser.add_argument("--debug", action="store_true", help="on an error, show the full traceback")
    commands = parser.add_subparsers(dest="command", required=True)
    _add_parser = commands.add_parser

    def add_parser(name, **kwargs):          # every subcommand's --help starts with its purpose
        kwargs.setdefault("description", kwargs.get("help"))
        return _add_parser(name, **kwargs)

    commands.add_parser = add_parser

    add_make_synthetic_arguments(commands.add_parser("make-synthetic", help="write the synthetic dataset"))\
        .set_defaults(run=run_make_synthetic)

    train_parser = commands.add_parser("train", help="train a model")
    add_train_arguments(train_parser)
    train_parser.set_defaults(run=run_train)

    animate_parser = commands.add_parser("animate", help="drive a source image by a video")
    add_animate_arguments(animate_parser)
    animate_parser.set_defaults(run=run_animate)

    for name, help_text, add_arguments, run in COMMANDS:
        add_arguments(commands.add_parser(name, help=help_text)).set_defaults(run=run)

    export_parser = commands.add_parser("export-pretrained", help="ship a run's networks as pretrained/synthetic-64.pt")
    export_parser.add_argument("--checkpoint", required=True, type=Path, help="a training checkpoint (last.pt)")
    export_parser.add_argument("--out", type=Path, default=None, help="default: pretrained/synthetic-64.pt in the clone "
                               "(else in the working directory)")
    export_parser.set_defaults(run=run_export)

    import_parser = commands.add_parser("import-checkpoint",
                                        help="turn FOMM's or TPSMM's published checkpoint into a pcut checkpoint")
    import_parser.add_argument("--config", required=True,
                               help="the config the checkpoint was trained with (its backbone and model_params), "
                                    "e.g. vox-256 or tpsmm-vox-256")
    import_parser.add_argument("--checkpoint", required=True, type=Path, help="FOMM's or TPSMM's .pth.tar")
    import_parser.add_argument("--out", required=True, type=Path, help="the pcut checkpoint to write (.pt)")
    import_parser.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    import_parser.set_defaults(run=run_import)

    reconstruct_parser = commands.add_parser("reconstruct", help="reconstruct test videos (first frame = source)")
    add_reconstruct_arguments(reconstruct_parser)
    reconstruct_parser.set_defaults(run=run_reconstruct)
    return parser


@contextmanager
def one_line_warnings(command: str, debug: bool):
    """Inside the block, a warning prints as one line, ``pcut <command>: warning: <message>``
    (Python's default adds the file, line and a source line); ``--debug`` keeps the default."""
    if debug:
        yield
        return
    shown = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None):
        text = " ".join(part.strip() for part in str(message).splitlines() if part.strip())
        print(f"pcut {command}: warning: {text}", file=sys.stderr if file is None else file)

    warnings.showwarning = show
    try:
        yield
    finally:
        warnings.showwarning = shown


def main(argv=None) -> int:
    """Run a subcommand. Errors are one line on stderr (``--debug``: the traceback too):
    exit 2 for usage errors (bad config value, missing input, existing run), 1 for runtime
    errors (divergence, unreadable checkpoint or data, read-only folder, full disk).
    A training stopped by SIGINT or SIGTERM prints where it stopped and (pcut train) the command
    that resumes it, from the first process only, and exits 128 + the signal (130, 143); another
    Ctrl-C exits 130 with one line."""
    args = build_parser().parse_args(argv)
    try:
        with one_line_warnings(args.command, args.debug):
            return args.run(args) or 0
    except TrainingInterrupted as stopped:
        if args.debug:
            raise
        ignore_stop_signals()           # on the way out: a second Ctrl-C must not end in a traceback
        if stopped.rank == 0:
            print(f"pcut {args.command}: {stopped.message(with_command=args.command == 'train')}", file=sys.stderr)
        return stopped.exit_code
    except KeyboardInterrupt:
        if args.debug:
            raise
        ignore_stop_signals()
        print(f"pcut {args.command}: interrupted (SIGINT)", file=sys.stderr)
        return 130
    except (CheckpointError, FloatingPointError, OSError, RuntimeError) as error:
        if args.debug:
            raise
        code = 2 if isinstance(error, (FileNotFoundError, FileExistsError)) else 1
        hint = " (pcut --debug shows the traceback)" if type(error) is RuntimeError else ""
        print(f"pcut {args.command}: error: {_one_line(error)}{hint}", file=sys.stderr)
        return code
    except ValueError as error:
        if args.debug:
            raise
        print(f"pcut {args.command}: error: {_one_line(error)}", file=sys.stderr)
        return 2


def _one_line(error: BaseException) -> str:
    """An exception as one line that names the path and the cause (OSError: strerror + filename)."""
    if isinstance(error, OSError) and error.filename is not None and error.strerror:
        return f"{error.strerror}: {error.filename}"
    text = " ".join(line.strip() for line in str(error).splitlines() if line.strip())
    return text or type(error).__name__


if __name__ == "__main__":
    sys.exit(main())
