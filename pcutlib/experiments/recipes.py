"""The runs of ``pcut experiment`` and ``pcut demo``: each variant's config from a base config (its
discriminator, its regularizer, the shared adversarial recipe), in the fine-tune and the
from-scratch setting.
"""
from __future__ import annotations

import argparse
import copy
from functools import lru_cache
from pathlib import Path

import yaml

from pcutlib.config import load_config, resolve_config, set_by_path
from pcutlib.yaml_files import read_yaml
from pcutlib.experiments.shipped_model import ensure_synthetic_data
from pcutlib.paths import find_recipe

SETTINGS = ("finetune", "scratch")
VARIANT_KEYS = {"kind", "regularizer", "top_k", "foreground", "all_ones_masks", "mixed_round_weights"}
RECIPE_KEYS = {"variants": dict, "main": list, "adversarial": dict, "patch_discriminator": dict,
               "finetune_learning_rates": dict, "scratch_mix_warmup_share": float}
ADVERSARIAL_KEYS = {"generator_gan", "feature_matching", "discriminator_steps_per_generator_step",
                    "discriminator_spectral_norm", "consistency_weight", "mixed_terms_warmup_epochs",
                    "mix_probability", "mixed_round_weights", "mixed_pixel_weighting", "decoder_plain_terms"}


def read_recipe(name: str = "experiment") -> dict:
    """``configs/recipes/<name>.yaml`` (``paths.find_recipe``), its keys checked: an unknown or
    missing key is an error naming it."""
    path = find_recipe(name)
    recipe = read_yaml(path)
    if not isinstance(recipe, dict):
        raise ValueError(f"{path}: a recipe is a mapping, got {type(recipe).__name__}")
    return recipe


@lru_cache(maxsize=None)
def _experiment_recipe() -> dict:
    path = find_recipe("experiment")
    recipe = read_recipe("experiment")
    for key, kind in RECIPE_KEYS.items():
        if not isinstance(recipe.get(key), kind):
            raise ValueError(f"{path}: '{key}' must be a {kind.__name__}, got {recipe.get(key)!r}")
    unknown = sorted(set(recipe) - set(RECIPE_KEYS)) + sorted(set(recipe["adversarial"]) - ADVERSARIAL_KEYS)
    missing = sorted(ADVERSARIAL_KEYS - set(recipe["adversarial"]))
    if unknown or missing:
        raise ValueError(f"{path}: unknown keys {unknown}, missing adversarial keys {missing}")
    for name, variant in recipe["variants"].items():
        if set(variant) - VARIANT_KEYS or not {"kind", "regularizer"} <= set(variant):
            raise ValueError(f"{path}: variant {name!r} has keys {sorted(variant)}; expected kind, regularizer "
                             f"and some of {sorted(VARIANT_KEYS - {'kind', 'regularizer'})}")
    stray = [name for name in recipe["main"] if name not in recipe["variants"]]
    if stray:
        raise ValueError(f"{path}: main names unknown variants {stray}")
    return recipe


def experiment_recipe() -> dict:
    """The experiment's recipe (a copy): variants, the main comparison, the shared adversarial
    settings (``configs/recipes/experiment.yaml``; why each value: results/experiment-recipe.md)."""
    return copy.deepcopy(_experiment_recipe())


def variant(name: str) -> dict:
    """One variant's keys, e.g. variant("prioritycut-k10") -> {kind: unet, regularizer: prioritycut, top_k: 10.0}."""
    variants = experiment_recipe()["variants"]
    if name not in variants:
        raise ValueError(f"unknown variant {name!r}; known: {', '.join(variants)}")
    return variants[name]


def variant_groups() -> dict[str, list[str]]:
    """{"main": the main comparison, "ablations": every other variant} (names --variants accepts)."""
    recipe = experiment_recipe()
    return {"main": recipe["main"], "ablations": [n for n in recipe["variants"] if n not in recipe["main"]]}


def k_variants() -> dict[float, str]:
    """{top_k: name} of the PriorityCut variants that differ from the main one only in k."""
    return {v["top_k"]: name for name, v in experiment_recipe()["variants"].items()
            if v["regularizer"] == "prioritycut" and set(v) == {"kind", "regularizer", "top_k"}}


def set_adversarial_parts(config: dict, variant: dict) -> None:
    """In place: the adversarial term on, and the variant's discriminator and regularizer section."""
    config["train_params"]["loss_weights"]["generator_gan"] = 1
    discriminator = config["model_params"]["discriminator_params"]
    discriminator["kind"] = variant["kind"]
    if variant["kind"] == "patch":
        patch = experiment_recipe()["patch_discriminator"]
        config["train_params"]["loss_weights"]["feature_matching"] = patch.pop("feature_matching")
        discriminator.update(patch)
    regularizer = config["regularizer"]
    regularizer["type"] = variant["regularizer"]
    if "top_k" in variant:
        regularizer["top_k_percent"] = variant["top_k"]
    regularizer["foreground"] = variant.get("foreground", "region")
    for key in ("all_ones_masks", "mixed_round_weights"):
        if key in variant:
            regularizer[key] = variant[key]


def variant_config(base: dict, variant: dict, epochs: int, seed: int) -> dict:
    """The fine-tuning config of one variant: adversarial term on, its discriminator and regularizer
    (also the demo's fine-tune: ``demo.finetune_config``)."""
    config = copy.deepcopy(base)
    train_params = config["train_params"]
    train_params.update(num_epochs=epochs, seed=seed, epoch_milestones=[], **experiment_recipe()["finetune_learning_rates"])
    # region dropout belongs to the reconstruction phase (keeping keypoints in use from the start)
    train_params["region_dropout"] = {"start": 0.0, "max": 0.0, "ramp_epochs": 0.0, "until_epoch": 0.0}
    # so does an occlusion warm-up: the fine-tune's epochs count from 0 again, and PriorityCut needs O
    train_params["occlusion_warmup_epochs"] = 0.0
    set_adversarial_parts(config, variant)
    return resolve_config(config)


def scratch_config(base: dict, variant: dict, epochs: int | None, seed: int) -> dict:
    """One variant trained from a fresh model, adversarial from the first step (as the paper
    trains): the base's own recipe (learning rates, milestones, region dropout) and ``epochs``
    (None: the base's num_epochs), the mixing warm-up over the recipe's scratch_mix_warmup_share of them."""
    config = copy.deepcopy(base)
    train_params = config["train_params"]
    train_params.update(seed=seed, num_epochs=epochs or train_params["num_epochs"])
    set_adversarial_parts(config, variant)
    warmup = experiment_recipe()["scratch_mix_warmup_share"] * train_params["num_epochs"]
    config["regularizer"]["mix_warmup_epochs"] = max(config["regularizer"]["mix_warmup_epochs"], warmup)
    return resolve_config(config)


def experiment_config(base: dict, variant: dict, setting: str, epochs: int | None, seed: int,
                      warmup_epochs: int = 0) -> dict:
    """A run of the experiment: ``variant_config`` (setting "finetune": ``warmup_epochs`` of
    discriminator warm-up, then ``epochs`` adversarial ones) or ``scratch_config`` ("scratch"),
    with the recipe's ``adversarial`` settings: the adversarial term's weight, feature matching on
    for every discriminator (per block), spectral norm, the consistency loss of a mixing variant
    with its mixed terms ramped in and, where the generator trains (adversarial epochs), the
    discriminator steps per generator step. A discriminator warm-up alone (epochs 0) keeps one
    step: the key changes nothing there, and the shared warm-ups stay valid."""
    adversarial = experiment_recipe()["adversarial"]
    if setting not in SETTINGS:
        raise ValueError(f"setting must be one of {SETTINGS}, got {setting!r}")
    if setting == "finetune":
        config = variant_config(base, variant, warmup_epochs + epochs, seed)
        config["train_params"]["discriminator_warmup_epochs"] = float(warmup_epochs)
    else:
        config = scratch_config(base, variant, epochs, seed)
    discriminator = config["model_params"]["discriminator_params"]
    discriminator["sn"] = adversarial["discriminator_spectral_norm"]
    weights = config["train_params"]["loss_weights"]
    weights["generator_gan"] = adversarial["generator_gan"]
    weights["feature_matching"] = [adversarial["feature_matching"]] * discriminator["num_blocks"]
    if config["regularizer"]["type"] != "none":
        for key in ("consistency_weight", "mixed_terms_warmup_epochs", "mix_probability", "mixed_pixel_weighting",
                    "decoder_plain_terms"):
            config["regularizer"][key] = adversarial[key]
        # an ablation's own mixed_round_weights wins over the recipe's
        config["regularizer"]["mixed_round_weights"] = variant.get("mixed_round_weights",
                                                                   adversarial["mixed_round_weights"])
    if setting == "scratch" or epochs > 0:
        steps = adversarial["discriminator_steps_per_generator_step"]
        config["train_params"]["discriminator_steps_per_generator_step"] = steps
    return resolve_config(config)


def expand_variants(names: list[str]) -> list[str]:
    """--variants' names with the groups (main, ablations) expanded, in order, without repeats."""
    variants, groups = experiment_recipe()["variants"], variant_groups()
    unknown = [n for n in names if n not in variants and n not in groups]
    if unknown:
        raise ValueError(f"unknown variants {unknown}; known: {', '.join([*groups, *variants])}")
    return list(dict.fromkeys(v for n in names for v in groups.get(n, [n])))


def parse_assignment(text: str) -> tuple[str, object]:
    """'train_params.batch_size=4' -> ('train_params.batch_size', 4): one ``--set`` of a command
    line (the value is read as YAML)."""
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"--set expects key=value, got {text!r}")
    key, value = text.split("=", 1)
    parsed = yaml.safe_load(value)
    if isinstance(parsed, str):
        try:
            parsed = float(parsed)      # YAML 1.1 reads 1e-3 as text
        except ValueError:
            pass
    return key.strip(), parsed


def apply_overrides(config: dict, overrides: dict) -> dict:
    """Set a recipe's dotted-key overrides ({"train_params.lr_generator": 5e-4, ...}) in an
    unresolved ``config``, in place; a key outside the config's schema is an error naming it."""
    for key, value in overrides.items():
        set_by_path(config, key, value)
    return config


def synthetic_config(config_name: str, data: Path, progress: bool = True, overrides: dict | None = None,
                     world=None, **train_params) -> dict:
    """``config_name`` resolved, reading the synthetic world at ``data`` (generated when missing, in
    ``world``, a ``World``; given, an existing dataset must be of it), with a recipe's dotted-key
    ``overrides`` ({"train_params.lr_generator": 5e-4, ...}) and then ``train_params`` applied."""
    config = load_config(config_name)
    config["dataset_params"]["root_dir"] = str(ensure_synthetic_data(data, progress=progress, world=world))
    apply_overrides(config, overrides or {})
    config["train_params"].update(train_params)
    return resolve_config(config)
