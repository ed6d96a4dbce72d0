"""The options of ``pcut experiment``: their defaults (the full experiment, the textured world's,
``--quick``'s), the parser, their resolution into one namespace, the design each setting runs
under in the chosen world, and the command line that makes a setting's results again.
"""
from __future__ import annotations

import argparse
import copy
from pathlib import Path

from pcutlib.evaluation.bootstrap import DEFAULT_RESAMPLES
from pcutlib.experiments.design import SETTING_SEEDS, WORLDS, design_name
from pcutlib.experiments.recipes import SETTINGS, expand_variants, experiment_recipe, variant_groups

# Defaults of the full experiment and of --quick (a tiny world and model, about a minute on a
# CPU: the whole pipeline for tests, numbers that mean nothing). Paths of --quick lie under --runs.
FULL_DEFAULTS = {"config": "synthetic-64", "data": Path("data/synthetic-64"),
                 "init_from": Path("pretrained/synthetic-64-reconstruction.pt"), "epochs": 6,
                 "warmup_epochs": 150, "seeds": None, "variants": ["main"], "runs": Path("runs/experiment"),
                 "results": Path("results"), "probe_steps": 300, "resamples": DEFAULT_RESAMPLES,
                 "quality_frames": 8, "setting": "both"}


# --world textured: its own world and start (the textured reconstruction model); the rest as above
TEXTURED_DEFAULTS = {"data": Path("data/synthetic-64-textured"), "init_from": Path("pretrained/synthetic-64-textured.pt")}


QUICK_DEFAULTS = {"config": "smoke", "data": "data", "init_from": "reconstruction/checkpoints/last.pt",
                  "epochs": 1, "warmup_epochs": 2, "seeds": [0, 1], "variants": ["unet", "prioritycut-k10", "oracle-prioritycut-k10"],
                  "runs": Path("runs/experiment-quick"), "results": "results", "probe_steps": 20, "resamples": 200,
                  "quality_frames": 3, "setting": "both"}


QUICK_WORLD = {"videos": 8, "frames": 6, "size": 32, "identities": 4, "test_fraction": 0.5, "seed": 0}


def add_experiment_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--quick", action="store_true",
                        help="the whole pipeline on a tiny world (8 videos of 6 frames, 32 px) and the smoke model "
                             "in about a minute, for tests: 1 epoch, seeds 0 1, variants unet prioritycut-k10, "
                             "everything under --runs (default runs/experiment-quick)")
    parser.add_argument("--setting", choices=[*SETTINGS, "both"], default=None,
                        help="finetune: adversarial fine-tune from the reconstruction checkpoint; scratch: each "
                             "variant trained from a fresh model, adversarial from the first step; both (default). "
                             "Run folders <runs>/<setting>/, results <results>/experiment-<setting>/")
    parser.add_argument("--world", choices=list(WORLDS), default="flat",
                        help="flat (default): the shipped model's world; textured: the world of "
                             "pretrained/synthetic-64-textured.pt (grain on the background and on every part), whose "
                             "defaults are --data data/synthetic-64-textured and --init-from that file. Results "
                             "<results>/experiment-<setting>-textured/, run folders <runs>/<setting>-textured/")
    parser.add_argument("--config", default=None, help=f"config file or name in configs/ (default: "
                                                       f"{FULL_DEFAULTS['config']})")
    parser.add_argument("--data", type=Path, default=None, help=f"training world (default: {FULL_DEFAULTS['data']})")
    parser.add_argument("--init-from", type=Path, default=None,
                        help=f"the shared reconstruction checkpoint (default: {FULL_DEFAULTS['init_from']}, "
                             f"committed so that every machine fine-tunes the same start; --quick: trained "
                             f"first when missing)")
    parser.add_argument("--epochs", type=int, default=None, help=f"adversarial fine-tuning epochs per run (default: {FULL_DEFAULTS['epochs']})")
    parser.add_argument("--warmup-epochs", type=int, default=None,
                        help=f"finetune: epochs before --epochs in which only the fresh discriminator trains, the same "
                             f"for every variant (one warm-up per seed shared by the U-Net variants; default: "
                             f"{FULL_DEFAULTS['warmup_epochs']})")
    parser.add_argument("--scratch-epochs", type=int, default=None,
                        help="epochs of a scratch run (default: the config's num_epochs, the reconstruction's)")
    parser.add_argument("--seeds", type=int, nargs="+", default=None,
                        help="training seeds (default: the design's, design.SETTING_SEEDS: fine-tune 0 .. 11, "
                             "scratch 0 .. 5, textured fine-tune 0 .. 9; tuning seeds in design.TUNING_SEEDS)")
    groups, variants = variant_groups(), list(experiment_recipe()["variants"])
    parser.add_argument("--variants", nargs="+", default=None, choices=[*groups, *variants],
                        help=f"which variants to run; main = {' '.join(groups['main'])} (default), "
                             f"ablations = {' '.join(groups['ablations'])}")
    parser.add_argument("--resamples", type=int, default=None,
                        help="resamples of the hierarchical bootstrap (default: 2000)")
    parser.add_argument("--quality-frames", type=int, default=None,
                        help="held-out frames per test video for the discriminator AUCs (default: 8)")
    parser.add_argument("--runs", type=Path, default=None, help=f"run folders (default: {FULL_DEFAULTS['runs']})")
    parser.add_argument("--results", type=Path, default=None, help="table and plots (default: results)")
    parser.add_argument("--readme", type=Path, nargs="+", default=None, metavar="PAGE",
                        help="also rewrite, with the results of every setting found under --results, the "
                             "results section of docs/results.md and the verdict table of README.md "
                             "(whichever markers each page holds)")
    parser.add_argument("--probe-steps", type=int, default=None, help="training steps of the pose and identity probes")
    parser.add_argument("--device", default="auto", help="auto (CUDA when available), cpu, cuda, cuda:N")
    parser.add_argument("--records-only", action="store_true",
                        help="train nothing: write the tables and verdicts from the runs recorded under "
                             "<results>/experiment-<setting>/runs/ (the others are named and left out)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    return parser


def resolve_arguments(args: argparse.Namespace) -> argparse.Namespace:
    """Fill the arguments left at None from FULL_DEFAULTS, or with --quick from QUICK_DEFAULTS
    (its relative data, init_from and results under --runs); expand the variant groups and the
    settings (a list). Returns a new namespace."""
    args = copy.copy(args)
    defaults = QUICK_DEFAULTS if args.quick else FULL_DEFAULTS
    if not args.quick and args.world == "textured":
        defaults = {**defaults, **TEXTURED_DEFAULTS}
    if args.runs is None:
        args.runs = Path(defaults["runs"])
    for key, value in defaults.items():
        if getattr(args, key) is None:
            if args.quick and key in ("data", "init_from", "results"):
                value = args.runs / value
            setattr(args, key, copy.copy(value))
    if args.warmup_epochs < 0:
        raise ValueError(f"--warmup-epochs must be >= 0, got {args.warmup_epochs}")
    for key in ("epochs", "resamples", "quality_frames", "probe_steps", "scratch_epochs"):
        if getattr(args, key) is not None and getattr(args, key) < 1:
            raise ValueError(f"--{key.replace('_', '-')} must be >= 1, got {getattr(args, key)}")
    args.variants = expand_variants(args.variants)
    args.settings = list(SETTINGS) if args.setting == "both" else [args.setting]
    if args.world != "flat" and "scratch" in args.settings and not args.quick:
        raise ValueError(f"--world {args.world}: only --setting finetune has a design there (design.GATES); got "
                         f"--setting {args.setting}")
    return args


def design_of(args, setting: str) -> str:
    """The design name of ``setting`` in --world (``design.design_name``): names the results and
    run folders and selects the seeds, gate and history."""
    return design_name(setting, args.world)


def reproducing_command(args, setting: str) -> str:
    """The ``pcut experiment`` command line that makes this setting's results again: the options
    that differ from the defaults (FULL_DEFAULTS, or QUICK_DEFAULTS with --quick)."""
    defaults = QUICK_DEFAULTS if args.quick else FULL_DEFAULTS
    parts = (["pcut experiment"] + (["--quick"] if args.quick else []) + ["--setting", setting]
             + ([] if args.world == "flat" else ["--world", args.world]))
    if not args.quick and args.world == "textured":
        defaults = {**defaults, **TEXTURED_DEFAULTS}
    keys = ["config", "data", "init_from", "epochs" if setting == "finetune" else "scratch_epochs",
            "warmup_epochs" if setting == "finetune" else None, "seeds", "variants"]
    for key in filter(None, keys):
        value, default = getattr(args, key, None), defaults.get(key)
        if key == "variants":
            default = expand_variants(default)
        if key == "seeds" and default is None:
            default = SETTING_SEEDS[design_of(args, setting)]
        if args.quick and key in ("data", "init_from"):
            default = args.runs / default
        if value is None or value == default or (isinstance(default, Path) and Path(value) == default):
            continue
        values = value if isinstance(value, list) else [value]
        parts += [f"--{key.replace('_', '-')}", *map(str, values)]
    return " ".join(parts)
