"""What keeps a warmed-up discriminator above chance once the generator fights back?

Continues an experiment run from its checkpoint at the end of the discriminator warm-up
(``checkpoints/epoch-E.pt``) through the adversarial epochs, once per setting named (config
changes below), and prints, on held-out frames, the discriminator's image AUC (real vs
generated, 0.5 = chance; ``discriminator_quality``) and the reconstruction L1 at the start and
at the end:

    python tools/adversarial_probe.py runs/experiment/finetune/unet-seed0 --from-epoch 60 \\
        --settings as-run d-steps-3 --out runs/adversarial-probe

Each setting runs in <out>/<run name>-<setting> (resumed from a copy of the checkpoint, so the
data order, warps and mixing draws continue exactly as in the original run) and appends one
JSON row to <out>/probe.jsonl. The figures behind ``pcut experiment``'s adversarial weights
(``adversarial.generator_gan`` and ``feature_matching`` in configs/recipes/experiment.yaml; results/experiment-recipe.md) and its U-Net warm-up
(``--unet-warmup-epochs``) came from this script.
"""
from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

import torch

from pcutlib.checkpoints.files import load_models
from pcutlib.config import load_config, save_config, set_by_path
from pcutlib.data.splits import load_split
from pcutlib.data.synthetic_truth import disocclusion_from
from pcutlib.evaluation.discriminator_quality import discriminator_quality, held_out_frames
from pcutlib.prioritycut import RegularizerConfig
from pcutlib.training.loop import continue_from, train

# config changes ("dotted.key": value) the settings combine
LR_1E5 = {"train_params.lr_generator": 1e-5, "train_params.lr_kp_detector": 1e-5}
NO_FEATURE_MATCHING = {"train_params.loss_weights.feature_matching": [0, 0, 0, 0]}
# the adversarial terms at about FOMM's share of the generator loss (its perceptual pyramid is
# about 100x the adversarial term; pcut's pixel pyramid about 0.5x it at weight 1)
FOMM_SHARE = {"train_params.loss_weights.generator_gan": 0.01, "train_params.loss_weights.feature_matching": [1, 1, 1, 1]}
# the control: the same losses and steps, the generator's adversarial terms switched off
RECONSTRUCTION_ONLY = {**NO_FEATURE_MATCHING, "train_params.loss_weights.generator_gan": 1e-9}

# name: config changes applied from the warm-up's end on
SETTINGS = {
    "as-run": {},
    "generator-gan-0.1": {"train_params.loss_weights.generator_gan": 0.1},
    "lr-generator-1e-5": LR_1E5,
    "lr-discriminator-1e-3": {"train_params.lr_discriminator": 1e-3},
    "lr-1e-5-no-feature-matching": {**LR_1E5, **NO_FEATURE_MATCHING},
    "lr-1e-5-reconstruction-only": {**LR_1E5, **RECONSTRUCTION_ONLY},
    "reconstruction-only": RECONSTRUCTION_ONLY,
    "generator-gan-0.01-fm-1": FOMM_SHARE,
    "lr-1e-5-generator-gan-0.01-fm-1": {**LR_1E5, **FOMM_SHARE},
    "lr-1e-5-generator-gan-0.1-fm-1": {**LR_1E5, **FOMM_SHARE, "train_params.loss_weights.generator_gan": 0.1},
    # a U-Net variant's adversarial epochs branched from the plain U-Net's warm-up (no mixing in it)
    "prioritycut-k10-generator-gan-0.01-fm-1": {**FOMM_SHARE, "regularizer.type": "prioritycut",
                                                "regularizer.mix_warmup_epochs": 61.0},
    "cutmix-generator-gan-0.01-fm-1": {**FOMM_SHARE, "regularizer.type": "cutmix", "regularizer.mix_warmup_epochs": 61.0},
    # a longer discriminator warm-up (run on an experiment's unet-warmup-seed<N> folder)
    "warmup-to-150": {"train_params.num_epochs": 150, "train_params.discriminator_warmup_epochs": 150.0},
    "d-steps-2": {"train_params.discriminator_steps_per_generator_step": 2},
    "d-steps-3": {"train_params.discriminator_steps_per_generator_step": 3},
    "d-steps-5": {"train_params.discriminator_steps_per_generator_step": 5},
    # how a mixed step weighs its terms (run on a cutmix or prioritycut run)
    "mixed-round-unetgan": {"regularizer.mixed_round_weights": "unetgan"},
    "no-consistency": {"regularizer.consistency_weight": 0.0},
    "consistency-0.1": {"regularizer.consistency_weight": 0.1},
    "consistency-0.01": {"regularizer.consistency_weight": 0.01},
    "mix-probability-0.2": {"regularizer.mix_probability": 0.2},
    # the mixed terms' weight ramped in over half the adversarial epochs (U-Net GAN's slow_mixup)
    "mixed-terms-ramp-3": {"regularizer.mixed_terms_warmup_epochs": 3.0},
    "consistency-1-mixed-terms-ramp-3": {"regularizer.mixed_terms_warmup_epochs": 3.0,
                                         "regularizer.consistency_weight": 1.0},
    # the pixel head's levers, each setting naming all four keys, so that it means the same on
    # any run's config: the mixing probability, the plain terms' weights, the mixed decoder
    # BCE's pixel weighting (balanced: generated and real pixels at half each; a PriorityCut mask
    # shows ~3%) and whether the decoder keeps its plain terms once mixing begins
    **{name: {"regularizer.mix_probability": p, "regularizer.mixed_round_weights": rounds,
              "regularizer.mixed_pixel_weighting": pixels, "regularizer.decoder_plain_terms": decoder}
       for name, (p, rounds, pixels, decoder) in {
           "pixels-p0.5-sum-mean": (0.5, "sum", "mean", "always"),
           "pixels-p0.5-sum-balanced": (0.5, "sum", "balanced", "always"),
           "pixels-p0.5-unetgan-balanced": (0.5, "unetgan", "balanced", "always"),
           "pixels-p1-sum-balanced": (1.0, "sum", "balanced", "always"),
           "pixels-p1-unetgan-mean": (1.0, "unetgan", "mean", "always"),
           "pixels-p1-unetgan-balanced": (1.0, "unetgan", "balanced", "always"),
           "pixels-p1-sum-balanced-decoder-until-mixing": (1.0, "sum", "balanced", "until_mixing"),
           "pixels-p1-sum-balanced-decoder-real-after-mixing": (1.0, "sum", "balanced", "real_after_mixing"),
       }.items()},
}


def quality(path: Path, videos: list, frames_per_video: int, truths: list | None = None) -> dict:
    """Image and pixel AUCs of the checkpoint's discriminator (``discriminator_quality``; pixel AUC
    against the true dis-occlusion where ``truths`` gives it) and the held-out L1 of its
    generator, on one set of held-out frames."""
    models, state = load_models(path, with_discriminator=True)
    regularizer = RegularizerConfig.from_dict(state["config"].get("regularizer"))
    frames = held_out_frames(models, videos, frames_per_video, truths)
    result = discriminator_quality(models, videos, regularizer, frames=frames)
    result["l1"] = float((frames["real"] - frames["fake"]).abs().mean())
    return result


def prepare(run: Path, start: Path, setting: str, out: Path) -> tuple[Path, dict]:
    """<out>/<run>-<setting> holding the warm-up checkpoint ``start`` as last.pt and its log up to it,
    configured as ``run`` with the setting's changes."""
    config = load_config(run / "config.yaml")
    for key, value in SETTINGS[setting].items():
        set_by_path(config, key, value)
    dest = out / f"{run.name}-{setting}"
    if dest.exists():
        shutil.rmtree(dest)
    continue_from(start, dest)
    save_config(config, dest / "config.yaml")
    return dest, config


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=Path, help="an experiment run folder with checkpoints/epoch-E.pt")
    parser.add_argument("--from-epoch", type=int, default=60, help="the warm-up's last epoch (a saved epoch-E.pt)")
    parser.add_argument("--start", type=Path, default=None,
                        help="the warm-up checkpoint to continue (default <run>/checkpoints/epoch-E.pt); for a "
                             "U-Net variant branched from a shared warm-up, e.g. "
                             "runs/experiment/finetune/unet-warmup-seed3/checkpoints/epoch-150.pt")
    parser.add_argument("--settings", nargs="+", default=["as-run"], choices=sorted(SETTINGS))
    parser.add_argument("--data", type=Path, default=Path("data/synthetic-64"), help="world whose test split is used")
    parser.add_argument("--frames-per-video", type=int, default=8)
    parser.add_argument("--out", type=Path, default=Path("runs/adversarial-probe"))
    args = parser.parse_args(argv)
    torch.set_flush_denormal(True)
    test = load_split(args.data, "test")
    videos = [video for _, video, _, _ in test]
    truths = None if any(t is None for *_, t in test) else [disocclusion_from(t, 0) for *_, t in test]
    args.out.mkdir(parents=True, exist_ok=True)
    start_path = args.start or args.run / "checkpoints" / f"epoch-{args.from_epoch}.pt"
    if not start_path.is_file():
        raise FileNotFoundError(f"{start_path} does not exist: --from-epoch must name a saved epoch of {args.run} "
                                f"(or --start a warm-up checkpoint)")
    start = quality(start_path, videos, args.frames_per_video, truths)
    print(f"{args.run} epoch {args.from_epoch}: D image AUC {start['d_image_auc']:.3f}, held-out L1 {start['l1']:.4f}")
    for setting in args.settings:
        dest, config = prepare(args.run, start_path, setting, args.out)
        began = time.perf_counter()
        last = train(config, dest, resume=True, progress=False)
        minutes = (time.perf_counter() - began) / 60
        end = quality(Path(last), videos, args.frames_per_video, truths)
        row = {"run": str(args.run), "start": str(start_path), "from_epoch": args.from_epoch, "setting": setting,
               "changes": SETTINGS[setting], "epochs": config["train_params"]["num_epochs"],
               "minutes": round(minutes, 2), "auc_start": start["d_image_auc"], "auc_end": end["d_image_auc"],
               "pixel_auc_prioritycut_end": end["d_pixel_auc_prioritycut"],
               "pixel_auc_cutmix_end": end["d_pixel_auc_cutmix"],
               "pixel_auc_true_disocclusion_end": end["d_pixel_auc_true_disocclusion"],
               "l1_start": start["l1"], "l1_end": end["l1"]}
        with open(args.out / "probe.jsonl", "a") as f:
            f.write(json.dumps(row) + "\n")
        print(f"  {setting:24s} D image AUC {start['d_image_auc']:.3f} -> {end['d_image_auc']:.3f}   "
              f"L1 {start['l1']:.4f} -> {end['l1']:.4f}   pixel AUC on its masks {end['d_pixel_auc_prioritycut']:.3f} "
              f"(PriorityCut) {end['d_pixel_auc_cutmix']:.3f} (CutMix), against the true dis-occlusion "
              f"{end['d_pixel_auc_true_disocclusion']:.3f}   ({minutes:.1f} min)", flush=True)


if __name__ == "__main__":
    main()
