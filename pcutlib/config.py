"""Configuration: FOMM's yaml layout, plus pcut's discriminator ``kind`` and ``regularizer``.

Every key is checked against ``SCHEMA``; an unknown key is an error that names it (a
misspelt key must never be silently ignored). Values missing from a file take the
defaults below, so FOMM's own config files load unchanged.
"""
from __future__ import annotations

import copy
import difflib
import warnings
from pathlib import Path

import yaml

from pcutlib.paths import config_search_path, find_config  # noqa: F401  (found in paths.py, kept importable here)

REQUIRED = object()   # marks a key a config must give (no sensible default)

SCHEMA = {
    "dataset_params": {
        "root_dir": REQUIRED,
        "frame_shape": [256, 256, 3],
        "image_shape": None,          # FOMM's older name for frame_shape
        "id_sampling": False,
        "pairs_list": None,
        "skip_bad_files": False,      # pcut: leave out unusable videos with one warning, else refuse them
        "cache_megabytes": 512,       # pcut: decoded video files kept in memory (per loader worker); 0: none
        "augmentation_params": {
            "flip_param": {"horizontal_flip": False, "time_flip": False},
            "jitter_param": {"brightness": 0.0, "contrast": 0.0, "saturation": 0.0, "hue": 0.0},
            "crop_param": {"size": None},
            "resize_param": {"ratio": None},
        },
    },
    "model_params": {
        "common_params": {"num_kp": 10, "num_channels": 3, "estimate_jacobian": True},
        "kp_detector_params": {
            "temperature": 0.1, "block_expansion": 32, "max_features": 1024, "num_blocks": 5,
            "scale_factor": 0.25, "single_jacobian_map": False, "pad": 0,
        },
        "generator_params": {
            "block_expansion": 64, "max_features": 512, "num_down_blocks": 2, "num_bottleneck_blocks": 6,
            "estimate_occlusion_map": True,
            "dense_motion_params": {"block_expansion": 64, "max_features": 1024, "num_blocks": 5,
                                    "scale_factor": 0.25, "kp_variance": 0.01},
        },
        "discriminator_params": {
            "kind": "patch",           # patch: FOMM's multi-scale patch D; unet: PriorityCut's U-Net D
            "scales": [1], "block_expansion": 32, "max_features": 512, "num_blocks": 4,
            "sn": False, "use_kp": False, "kp_variance": 0.01,
        },
    },
    "train_params": {
        "num_epochs": 100, "num_repeats": 1, "epoch_milestones": [],
        "lr_generator": 2.0e-4, "lr_discriminator": 2.0e-4, "lr_kp_detector": 2.0e-4,
        "batch_size": 8, "scales": [1, 0.5, 0.25, 0.125], "checkpoint_freq": 50,
        "transform_params": {"sigma_affine": 0.05, "sigma_tps": 0.005, "points_tps": 5},
        "loss_weights": {
            "generator_gan": 0, "discriminator_gan": 1, "feature_matching": [10, 10, 10, 10],
            "perceptual": [10, 10, 10, 10, 10], "equivariance_value": 10, "equivariance_jacobian": 10,
            "pixel_pyramid": 0,        # pcut: mean |gen - real| over the pyramid (cheap CPU loss)
        },
        # pcut additions
        "perceptual_weights": "imagenet",   # imagenet | random (tests only) | path to vgg19 .pth
        "seed": 0,
        "num_workers": 2,
        "mixed_precision": "none",          # none | bf16 | fp16 (CUDA only)
        "channels_last": False,
        "log_every": 1,                     # steps between log.jsonl rows
        "visualize_every": 1,               # epochs between vis/epoch-N.png and loss.png (and the last epoch)
        # Region dropout (pcutlib.models.dense_motion.region_softmax; TPSMM's remedy for unused keypoints):
        # probability `start` at epoch 0, rising linearly to `max` over `ramp_epochs`, off from
        # epoch `until_epoch` on. All zero (the default) is FOMM's training.
        "region_dropout": {"start": 0.0, "max": 0.0, "ramp_epochs": 0.0, "until_epoch": 0.0},
        # curriculum on motion size: training pairs at most `start` frames apart, growing
        # linearly to `end` over ramp_epochs, then any two frames; start 0: off (FOMM)
        "frame_gap": {"start": 0, "end": 0, "ramp_epochs": 0},
        # the generator ignores the occlusion map for the first epochs (O = 1): it cannot paint
        # over a poorly warped limb, so the limb's error drives the flow; 0: off (FOMM)
        "occlusion_warmup_epochs": 0.0,
        # equivariance weights rise linearly from 0 over these epochs (0: full weight from the start, FOMM)
        "equivariance_warmup_epochs": 0.0,
        # adversarial runs: the first epochs train only the discriminator, against the generator
        # as it is (G and keypoint detector take no step, no generator losses; in train mode,
        # so batch norm still uses and updates its batch statistics); a fresh discriminator
        # at chance teaches the generator nothing (pcut experiment); 0: off (FOMM)
        "discriminator_warmup_epochs": 0.0,
        # adversarial runs after the warm-up: the discriminator updates on every step, the
        # generator and keypoint detector on every n-th (n discriminator steps per generator
        # step, as WGAN's n_critic), so the discriminator keeps pace with a generator that
        # learns to fool it; 1: both on every step (FOMM)
        "discriminator_steps_per_generator_step": 1,
    },
    "regularizer": {
        "type": "none",                     # none | cutmix | prioritycut
        "top_k_percent": 10.0,
        "foreground": "region",             # region | all
        "foreground_threshold": 0.5,
        "mix_probability": 0.5,
        "mix_warmup_epochs": 1.0,
        "consistency_weight": 1.0,
        # the mixed terms' weight ramps 0 -> 1 over these epochs from the start of mixing (0: at once)
        "mixed_terms_warmup_epochs": 0.0,
        # a mixing mask of all ones (PriorityCut with an empty foreground or k = 0) mixes in nothing:
        # leave_out: such samples are left out of the mixed terms; fake: trained as a mixed image
        "all_ones_masks": "leave_out",
        # the discriminator's plain real/fake terms: sum (full weight on every round, mixed terms
        # added) | unetgan (U-Net GAN: x0.5 on plain rounds, left out on mixed ones)
        "mixed_round_weights": "sum",
    },
    "reconstruction_params": {"num_videos": 1000, "format": ".mp4"},
    "animate_params": {
        "num_pairs": 50, "format": ".mp4",
        "normalization_params": {"adapt_movement_scale": False, "use_relative_movement": True,
                                 "use_relative_jacobian": True},
    },
    "visualizer_params": {"kp_size": 5, "draw_border": True, "colormap": "gist_rainbow"},
}

# Sections whose sub-dicts are complete in themselves: a file that gives them replaces the
# default wholesale instead of merging key by key.
REPLACED_WHOLE = {"augmentation_params"}


# Keys whose values count something: whole numbers only (a default of 0 or 10 elsewhere may
# be a weight, so integer-ness is listed, not guessed from the default).
INTEGER_KEYS = {
    "model_params.common_params.num_kp", "model_params.common_params.num_channels",
    "model_params.kp_detector_params.block_expansion", "model_params.kp_detector_params.max_features",
    "model_params.kp_detector_params.num_blocks", "model_params.kp_detector_params.pad",
    "model_params.generator_params.block_expansion", "model_params.generator_params.max_features",
    "model_params.generator_params.num_down_blocks", "model_params.generator_params.num_bottleneck_blocks",
    "model_params.generator_params.dense_motion_params.block_expansion",
    "model_params.generator_params.dense_motion_params.max_features",
    "model_params.generator_params.dense_motion_params.num_blocks",
    "model_params.discriminator_params.block_expansion", "model_params.discriminator_params.max_features",
    "model_params.discriminator_params.num_blocks",
    "train_params.num_epochs", "train_params.num_repeats", "train_params.batch_size",
    "train_params.checkpoint_freq", "train_params.transform_params.points_tps", "train_params.seed",
    "train_params.num_workers", "train_params.log_every", "train_params.visualize_every", "train_params.frame_gap.start",
    "train_params.frame_gap.end", "train_params.frame_gap.ramp_epochs",
    "reconstruction_params.num_videos", "animate_params.num_pairs", "visualizer_params.kp_size",
}
# Inclusive ranges (None: open) of numeric keys; list elements are checked too.
RANGES = {
    "dataset_params.frame_shape": (1, None),
    "dataset_params.cache_megabytes": (0, None),
    "model_params.common_params.num_kp": (1, None), "model_params.common_params.num_channels": (1, None),
    "model_params.kp_detector_params.temperature": (1e-6, None),
    "model_params.kp_detector_params.scale_factor": (1e-3, 1),
    "model_params.kp_detector_params.num_blocks": (1, None), "model_params.kp_detector_params.pad": (0, None),
    "model_params.generator_params.num_down_blocks": (0, None),
    "model_params.generator_params.num_bottleneck_blocks": (0, None),
    "model_params.generator_params.dense_motion_params.num_blocks": (1, None),
    "model_params.generator_params.dense_motion_params.scale_factor": (1e-3, 1),
    "model_params.generator_params.dense_motion_params.kp_variance": (1e-6, None),
    "model_params.discriminator_params.num_blocks": (1, None),
    "model_params.discriminator_params.scales": (1e-3, 1),
    "model_params.discriminator_params.kp_variance": (1e-6, None),
    "train_params.num_epochs": (1, None), "train_params.num_repeats": (1, None),
    "train_params.epoch_milestones": (1, None), "train_params.lr_generator": (0, None),
    "train_params.lr_discriminator": (0, None), "train_params.lr_kp_detector": (0, None),
    "train_params.batch_size": (1, None), "train_params.scales": (1e-3, 1),
    "train_params.checkpoint_freq": (1, None), "train_params.transform_params.points_tps": (1, None),
    "train_params.transform_params.sigma_affine": (0, None), "train_params.transform_params.sigma_tps": (0, None),
    "train_params.num_workers": (0, None), "train_params.log_every": (1, None),
    "train_params.visualize_every": (1, None),
    "train_params.frame_gap.start": (0, None), "train_params.frame_gap.end": (0, None),
    "train_params.frame_gap.ramp_epochs": (0, None), "train_params.occlusion_warmup_epochs": (0, None),
    "train_params.equivariance_warmup_epochs": (0, None), "train_params.discriminator_warmup_epochs": (0, None),
    "train_params.discriminator_steps_per_generator_step": (1, None),
    "regularizer.top_k_percent": (0, 100), "regularizer.foreground_threshold": (0, 1),
    "regularizer.mix_probability": (0, 1), "regularizer.mix_warmup_epochs": (0, None),
    "regularizer.consistency_weight": (0, None), "regularizer.mixed_terms_warmup_epochs": (0, None),
    "animate_params.num_pairs": (1, None), "reconstruction_params.num_videos": (1, None),
}


def is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _kind(default) -> str:
    if isinstance(default, bool):
        return "true or false"
    if is_number(default):
        return "a number"
    if isinstance(default, str):
        return "text"
    return "a list"


def check_value(path: str, value, default) -> None:
    """Raise a ValueError naming ``path`` when ``value`` has not the type of its default
    (bool, number, whole number, text or list of numbers) or lies outside RANGES[path]."""
    if default is None or default is REQUIRED:
        return
    if value is None:
        raise ValueError(f"config key '{path}' must be {_kind(default)}, got null")
    integer = path in INTEGER_KEYS
    if isinstance(default, bool):
        if not isinstance(value, bool):
            hint = " (write true or false without quotes)" if isinstance(value, str) else ""
            raise ValueError(f"config key '{path}' must be true or false, got {value!r}{hint}")
        return
    if isinstance(default, str):
        if not isinstance(value, str):
            raise ValueError(f"config key '{path}' must be text, got {value!r}")
        return
    is_list = isinstance(default, list)
    if is_list:
        if not isinstance(value, (list, tuple)):
            raise ValueError(f"config key '{path}' must be a list (e.g. {default!r}), got {value!r}")
        integer = integer or path in ("dataset_params.frame_shape", "train_params.epoch_milestones")
    elements = value if is_list else [value]
    for element in elements:
        if not is_number(element) or (integer and not isinstance(element, int)):
            what = "a whole number" if integer else "a number"
            hint = " (YAML reads 2e-4 as text: write 2.0e-4)" if isinstance(element, str) else ""
            where = f"'{path}' (a list of numbers)" if is_list else f"'{path}'"
            raise ValueError(f"config key {where} must be {what}, got {element!r}{hint}")
        low, high = RANGES.get(path, (None, None))
        if (low is not None and element < low) or (high is not None and element > high):
            bounds = f"at least {low}" if high is None else f"between {low} and {high}"
            raise ValueError(f"config key '{path}' must be {bounds}, got {element!r}")


def check_keys(config: dict, schema: dict, where: str = "") -> None:
    """Raise a ValueError naming the first key of ``config`` that ``schema`` does not know, or
    whose value has the wrong type or range (``check_value``)."""
    for key, value in config.items():
        path = f"{where}.{key}" if where else key
        if key not in schema:
            close = difflib.get_close_matches(key, list(schema), n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            raise ValueError(f"unknown config key '{path}'{hint} (known here: {', '.join(schema)})")
        default = schema[key]
        if isinstance(default, dict):
            if value is None:
                continue
            if not isinstance(value, dict):
                raise ValueError(f"config key '{path}' must be a mapping, got {value!r}")
            if key in REPLACED_WHOLE:
                continue          # augmentation sections are checked by their classes
            check_keys(value, default, path)
        else:
            check_value(path, value, default)


def merge_defaults(config: dict, schema: dict, where: str = "") -> dict:
    """Fill missing keys from the schema's defaults; complain about missing required keys."""
    merged = {}
    for key, default in schema.items():
        path = f"{where}.{key}" if where else key
        if isinstance(default, dict):
            given = config.get(key)
            if key in REPLACED_WHOLE:
                merged[key] = copy.deepcopy(given) if key in config else {}
            else:
                merged[key] = merge_defaults(given or {}, default, path)
        elif key in config:
            merged[key] = copy.deepcopy(config[key])
        elif default is REQUIRED:
            merged[key] = None   # checked where it is used (e.g. the dataset needs root_dir)
        else:
            merged[key] = copy.deepcopy(default)
    return merged


# FOMM keys pcut reads but does not act on: a value other than the default gets a warning.
IGNORED_KEYS = ("visualizer_params.kp_size", "visualizer_params.draw_border", "visualizer_params.colormap",
                "reconstruction_params.num_videos", "reconstruction_params.format", "animate_params.format")
# Keys of FOMM's patch discriminator that the U-Net discriminator has no use for.
PATCH_ONLY_KEYS = ("model_params.discriminator_params.scales", "model_params.discriminator_params.use_kp",
                   "model_params.discriminator_params.kp_variance")


def _get(config: dict, dotted: str):
    for key in dotted.split("."):
        config = config.get(key) if isinstance(config, dict) else None
    return config


def _schema_default(dotted: str):
    value = SCHEMA
    for key in dotted.split("."):
        value = value[key]
    return value


def ignored_settings(resolved: dict) -> list[str]:
    """Dotted keys whose (non-default) value pcut accepts for FOMM compatibility but ignores."""
    keys = list(IGNORED_KEYS)
    if resolved["model_params"]["discriminator_params"]["kind"] == "unet":
        keys += PATCH_ONLY_KEYS
    return [key for key in keys if _get(resolved, key) != _schema_default(key)]


def check_feature_matching(resolved: dict) -> None:
    """Feature matching that is on (a nonzero weight) needs one weight per discriminator block:
    per encoder block of the U-Net discriminator (its "features"), per block of each scale of
    the patch discriminator (its feature maps). All-zero weights (off) may have any length."""
    matching = resolved["train_params"]["loss_weights"]["feature_matching"]
    discriminator = resolved["model_params"]["discriminator_params"]
    if any(weight != 0 for weight in matching) and len(matching) != discriminator["num_blocks"]:
        what = "encoder block of the U-Net" if discriminator["kind"] == "unet" else "block of the patch"
        raise ValueError(f"train_params.loss_weights.feature_matching is {matching} ({len(matching)} weights), but "
                         f"feature matching takes one weight per {what} discriminator: "
                         f"model_params.discriminator_params.num_blocks is {discriminator['num_blocks']}")


def resolve_config(config: dict) -> dict:
    """Validate a config dict (FOMM layout + pcut sections) and fill in defaults."""
    if not isinstance(config, dict):
        raise ValueError(f"a config must be a mapping, got {type(config).__name__}")
    check_keys(config, SCHEMA)
    resolved = merge_defaults(config, SCHEMA)
    dataset = resolved["dataset_params"]
    if dataset["image_shape"] is not None and "frame_shape" not in config.get("dataset_params", {}):
        dataset["frame_shape"] = list(dataset["image_shape"])
    dataset.pop("image_shape")
    kind = resolved["model_params"]["discriminator_params"]["kind"]
    if kind not in ("patch", "unet"):
        raise ValueError(f"model_params.discriminator_params.kind must be 'patch' or 'unet', got {kind!r}")
    check_feature_matching(resolved)
    ignored = ignored_settings(resolved)
    if ignored:
        warnings.warn(f"config keys accepted for FOMM compatibility but ignored by pcut: {', '.join(ignored)}",
                      stacklevel=2)
    return resolved


class UniqueKeyLoader(yaml.SafeLoader):
    """yaml's safe loader, refusing a mapping that gives the same key twice (plain yaml keeps
    the last one silently)."""

    def construct_mapping(self, node, deep=False):
        seen = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            line = key_node.start_mark.line + 1
            if key in seen:
                raise ValueError(f"duplicate key {key!r} on line {line} (first given on line {seen[key]})")
            seen[key] = line
        return super().construct_mapping(node, deep=deep)


def read_yaml(path: str | Path):
    """The content of a yaml file (safe loader; duplicate keys are an error naming key and line)."""
    with open(path) as f:
        try:
            return yaml.load(f, Loader=UniqueKeyLoader)
        except yaml.YAMLError as error:
            raise ValueError(f"{path}: not valid YAML: {error}".replace("\n", " ")) from None
        except ValueError as error:
            raise ValueError(f"{path}: {error}") from None


def load_config(name_or_path: str | Path) -> dict:
    """Read a yaml config (safe loader), validate it and fill in defaults."""
    path = find_config(name_or_path)
    raw = read_yaml(path)
    try:
        return resolve_config(raw or {})
    except ValueError as error:
        raise ValueError(f"{path}: {error}") from None


def set_by_path(config: dict, dotted_key: str, value) -> None:
    """config['a']['b'] = value for dotted_key 'a.b'; the key must exist in SCHEMA."""
    keys = dotted_key.split(".")
    schema = SCHEMA
    target = config
    for i, key in enumerate(keys):
        if not isinstance(schema, dict) or key not in schema:
            raise ValueError(f"unknown config key '{'.'.join(keys[:i + 1])}'")
        schema = schema[key]
        if i < len(keys) - 1:
            target = target.setdefault(key, {})
    target[keys[-1]] = value


def save_config(config: dict, path: str | Path) -> None:
    with open(path, "w") as f:
        yaml.safe_dump(config, f, sort_keys=False)
