"""Configuration: FOMM's yaml layout, plus pcut's discriminator ``kind`` and ``regularizer``;
``backbone: tpsmm`` takes TPSMM's ``model_params`` and training keys instead.

``SCHEMA`` is the one source: every key with its default, its type and the values it may take
(:class:`Key`), side by side. Every key of a file is checked against it; an unknown key is an
error that names it and suggests the closest known one (a misspelt key must never be silently
ignored). Values missing from a file take the defaults, so FOMM's own config files load
unchanged. ``pcutlib.prioritycut.RegularizerConfig`` takes its defaults from here.
"""
from __future__ import annotations

import copy
import difflib
import warnings
from dataclasses import dataclass
from pathlib import Path

import yaml

from pcutlib.config_rules import check_combinations, check_feature_matching, lookup, other_backbone_keys
from pcutlib.paths import find_config
from pcutlib.yaml_files import read_yaml

REQUIRED = object()   # marks a key a config must give (no sensible default)


@dataclass(frozen=True)
class Key:
    """One config key: its default, its type, and the values it may take.

    kind: "bool", "int", "float", "text", "ints" / "floats" (lists of them) or "any" (not
    checked: FOMM keys pcut passes through); low / high: inclusive bounds of a number (of every
    element of a list); choices: the only values text may take.
    """
    default: object
    kind: str
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] | None = None


def flag(default: bool) -> Key:
    return Key(default, "bool")


def whole(default, low=None, high=None) -> Key:
    """A count: a whole number (or a list of them when the default is a list)."""
    return Key(default, "ints" if isinstance(default, list) else "int", low, high)


def number(default, low=None, high=None) -> Key:
    """A number (or a list of numbers when the default is a list)."""
    return Key(default, "floats" if isinstance(default, list) else "float", low, high)


def text(default, *choices: str) -> Key:
    return Key(default, "text", choices=choices or None)


def anything(default=None) -> Key:
    return Key(default, "any")


DISCRIMINATOR_PARAMS = {
    # patch: FOMM's multi-scale patch D; unet: PriorityCut's per-pixel U-Net D
    "kind": text("patch", "patch", "unet"),
    "scales": number([1], 1e-3, 1), "block_expansion": whole(32, 1), "max_features": whole(512, 1),
    "num_blocks": whole(4, 1), "sn": flag(False), "use_kp": flag(False), "kp_variance": number(0.01, 1e-6),
}

# model_params of backbone: tpsmm, TPSMM's yaml layout (defaults: its code's and vox-256's values),
# with pcut's discriminator_params (TPSMM trains without a discriminator)
TPSMM_MODEL_PARAMS = {
    "common_params": {"num_tps": whole(10, 1), "num_channels": whole(3, 1), "bg": flag(False),
                      "multi_mask": flag(True)},
    "generator_params": {"block_expansion": whole(64, 1), "max_features": whole(512, 1),
                         "num_down_blocks": whole(3, 1)},
    "dense_motion_params": {"block_expansion": whole(64, 1), "max_features": whole(1024, 1),
                            "num_blocks": whole(5, 1), "scale_factor": number(0.25, 1e-3, 1),
                            "kp_variance": number(0.01, 1e-6)},
    # the animation-via-disentanglement network: not built by pcut (docs/tpsmm.md, animation)
    "avd_network_params": anything(),
    "discriminator_params": DISCRIMINATOR_PARAMS,
}

SCHEMA = {
    # fomm: FOMM (local affine motion, model_params below); tpsmm: the Thin-Plate Spline Motion
    # Model (model_params: TPSMM_MODEL_PARAMS)
    "backbone": text("fomm", "fomm", "tpsmm"),
    "dataset_params": {
        "root_dir": Key(REQUIRED, "any"),
        "frame_shape": whole([256, 256, 3], 1),
        "image_shape": anything(),          # FOMM's older name for frame_shape
        "id_sampling": flag(False),
        "pairs_list": anything(),
        "skip_bad_files": flag(False),      # pcut: leave out unusable videos with one warning, else refuse them
        "cache_megabytes": number(512, 0),  # pcut: decoded video files kept in memory (per loader worker); 0: none
        # checked by pcutlib.data.augmentation's classes; a file that gives it replaces it whole
        "augmentation_params": anything({
            "flip_param": {"horizontal_flip": False, "time_flip": False},
            "jitter_param": {"brightness": 0.0, "contrast": 0.0, "saturation": 0.0, "hue": 0.0},
            "crop_param": {"size": None},
            "resize_param": {"ratio": None},
        }),
    },
    "model_params": {
        "common_params": {"num_kp": whole(10, 1), "num_channels": whole(3, 1), "estimate_jacobian": flag(True)},
        "kp_detector_params": {
            "temperature": number(0.1, 1e-6), "block_expansion": whole(32, 1), "max_features": whole(1024, 1),
            "num_blocks": whole(5, 1), "scale_factor": number(0.25, 1e-3, 1), "single_jacobian_map": flag(False),
            "pad": whole(0, 0),
        },
        "generator_params": {
            "block_expansion": whole(64, 1), "max_features": whole(512, 1), "num_down_blocks": whole(2, 0),
            "num_bottleneck_blocks": whole(6, 0), "estimate_occlusion_map": flag(True),
            # pcut: resize the flow and O to the features with align_corners=True (TPSMM's choice,
            # an identity flow stays the identity); false: FOMM's align_corners=False
            "aligned_resize": flag(False),
            # pcut: the prediction keeps the warped source where O says it is visible (TPSMM's
            # output, D (1 - O) + warped source O); false: FOMM's, the decoder's output alone
            "keep_visible_source": flag(False),
            "dense_motion_params": {"block_expansion": whole(64, 1), "max_features": whole(1024, 1),
                                    "num_blocks": whole(5, 1), "scale_factor": number(0.25, 1e-3, 1),
                                    "kp_variance": number(0.01, 1e-6)},
        },
        "discriminator_params": DISCRIMINATOR_PARAMS,
    },
    "train_params": {
        "num_epochs": whole(100, 1), "num_repeats": whole(1, 1), "epoch_milestones": whole([], 1),
        # the learning rates over epochs: step (FOMM's: x0.1 at each of epoch_milestones) or cosine
        # (from the configured rate down towards 0 at num_epochs); either after lr_warmup_epochs of linear rise
        "lr_schedule": text("step", "step", "cosine"), "lr_warmup_epochs": whole(0, 0),
        "lr_generator": number(2.0e-4, 0), "lr_discriminator": number(2.0e-4, 0), "lr_kp_detector": number(2.0e-4, 0),
        "batch_size": whole(8, 1), "scales": number([1, 0.5, 0.25, 0.125], 1e-3, 1), "checkpoint_freq": whole(50, 1),
        "transform_params": {"sigma_affine": number(0.05, 0), "sigma_tps": number(0.005, 0), "points_tps": whole(5, 1)},
        "loss_weights": {
            "generator_gan": number(0), "discriminator_gan": number(1), "feature_matching": number([10, 10, 10, 10]),
            "perceptual": number([10, 10, 10, 10, 10]), "equivariance_value": number(10), "equivariance_jacobian": number(10),
            "pixel_pyramid": number(0),     # pcut: mean |gen - real| over the pyramid (cheap CPU loss)
            # pcut: each pixel's |gen - real| in that pyramid weighs pixel_pyramid + this x |real - source|:
            # more where the driving frame differs from the source (moved parts); 0: off
            "pixel_pyramid_moving": number(0, 0),
            # TPSMM only: its warp loss (encoder features) and background loss
            "warp_loss": number(0), "bg": number(0),
            # pcut: keypoints kept apart (losses.keypoint_separation_loss; Zhang et al. 2018); 0: off (FOMM)
            "keypoint_separation": number(0, 0),
            # pcut: O towards the model's own revealed pixels (occlusion_label.revealed_occlusion_loss; no truth); 0: off
            "occlusion_revealed": number(0, 0),
        },
        # TPSMM only (its names): TPS dropout with probability min(epoch / dropout_inc_epoch *
        # dropout_maxp + dropout_startp, dropout_maxp) before epoch dropout_epoch (0: off); the
        # background moves and its predictor trains from epoch bg_start on
        "dropout_epoch": whole(0, 0), "dropout_maxp": number(0.3, 0, 0.99), "dropout_startp": number(0.1, 0, 0.99),
        "dropout_inc_epoch": whole(10, 1), "bg_start": whole(0, 0),
        # pcut additions
        "perceptual_weights": text("imagenet"),   # imagenet | random (tests only) | path to vgg19 .pth
        "seed": whole(0, 0),
        "num_workers": whole(2, 0),
        "mixed_precision": text("none", "none", "bf16", "fp16", "auto"),  # fp16: CUDA only; auto: bf16 where native
        # weight average of every network but the discriminator (training.weight_average); 0: off
        "ema_decay": number(0.0, 0, 1),
        # Adam's first-moment decay for every optimizer (FOMM's and TPSMM's 0.5; the second is 0.999)
        "adam_beta1": number(0.5, 0, 0.999),
        "channels_last": flag(False),
        "log_every": whole(1, 1),                     # steps between log.jsonl rows
        "visualize_every": whole(1, 1),               # epochs between vis/epoch-N.png and loss.png (and the last epoch)
        # Region dropout (pcutlib.models.dense_motion.region_softmax; TPSMM's remedy for unused keypoints):
        # probability `start` at epoch 0, rising linearly to `max` over `ramp_epochs`, off from
        # epoch `until_epoch` on. All zero (the default) is FOMM's training.
        "region_dropout": {"start": number(0.0, 0, 1), "max": number(0.0, 0, 1), "ramp_epochs": number(0.0, 0),
                           "until_epoch": number(0.0, 0)},
        # curriculum on motion size: training pairs at most `start` frames apart, growing
        # linearly to `end` over ramp_epochs, then any two frames; start 0: off (FOMM)
        "frame_gap": {"start": whole(0, 0), "end": whole(0, 0), "ramp_epochs": whole(0, 0)},
        # curriculum on resolution (reconstruction only): frames area-averaged to size x size before epoch
        # until_epoch, then as they are; keypoints and flow live in [-1,1], so both carry over; size 0: off
        "resolution_curriculum": {"size": whole(0, 0), "until_epoch": number(0.0, 0)},
        # the generator ignores the occlusion map for the first epochs (O = 1): it cannot paint
        # over a poorly warped limb, so the limb's error drives the flow; 0: off (FOMM)
        "occlusion_warmup_epochs": number(0.0, 0),
        # equivariance weights rise linearly from 0 over these epochs (0: full weight from the start, FOMM)
        "equivariance_warmup_epochs": number(0.0, 0),
        # the width of loss_weights.keypoint_separation's kernel, in [-1,1] units (0.1: about 3 px at 64 px,
        # pcut diagnose's distance below which two keypoints are not distinct)
        "keypoint_separation_sigma": number(0.1, 1e-3, 2),
        # loss_weights.occlusion_revealed's pixels: balanced (revealed and visible half each) or plain (alike); at_rest: also
        # O = 1 on (source, source); warp_error: the label holds |deformed - driving| too (models.revealed_pixels); head_only:
        # its gradient trains O's last convolution only, not the dense motion network's features nor the keypoints
        "occlusion_revealed_weighting": text("balanced", "balanced", "plain"), "occlusion_revealed_at_rest": flag(False),
        "occlusion_revealed_warp_error": flag(False), "occlusion_revealed_head_only": flag(False),
        # the term's label: revealed (the model's own revealed pixels, no truth) or truth, the labelled oracle: the
        # share of each O pixel that the synthetic world's truth says is visible in the source (measures how far
        # a perfect label takes O with the reconstruction kept; real data has no such label, no shipped model uses it)
        "occlusion_revealed_label": text("revealed", "revealed", "truth"),
        # adversarial runs: the first epochs train only the discriminator against the generator as it is
        # (G and keypoint detector take no step nor loss; batch norm in train mode); a fresh discriminator
        # at chance teaches the generator nothing (pcut experiment); 0: off (FOMM)
        "discriminator_warmup_epochs": number(0.0, 0),
        # after the warm-up: the discriminator updates on every step, generator and keypoint detector on
        # every n-th (WGAN's n_critic), so it keeps pace with a generator that learns to fool it; 1: FOMM
        "discriminator_steps_per_generator_step": whole(1, 1),
    },
    # PriorityCut and CutMix (pcutlib.prioritycut.RegularizerConfig reads its defaults here)
    "regularizer": {
        # oracle: PriorityCut ranking the synthetic world's true dis-occlusion instead of O (an upper bound)
        "type": text("none", "none", "cutmix", "prioritycut", "oracle"),
        "top_k_percent": number(10.0, 0, 100),      # PriorityCut: share of the foreground shown as generated
        # region: foreground F = pixels whose background region weight < foreground_threshold; all: every pixel
        "foreground": text("region", "region", "all"),
        "foreground_threshold": number(0.5, 0, 1),
        "mix_probability": number(0.5, 0, 1),       # chance of a mixed discriminator step after the warm-up
        "mix_warmup_epochs": number(1.0, 0),        # linear ramp of that chance from 0 (O is noise at first)
        "consistency_weight": number(1.0, 0),       # weight of the decoder consistency loss on mixed steps
        # the mixed terms' weight ramps 0 -> 1 over these epochs from the start of mixing (0: at once)
        "mixed_terms_warmup_epochs": number(0.0, 0),
        # a mixing mask of all ones (PriorityCut with an empty foreground or k = 0) mixes in nothing:
        # leave_out: such samples are left out of the mixed terms; fake: trained as a mixed image
        "all_ones_masks": text("leave_out", "leave_out", "fake"),
        # the plain real/fake terms: sum (full weight every round, mixed terms added) | unetgan (x0.5, none when mixed)
        "mixed_round_weights": text("sum", "sum", "unetgan"),
        # the mixed decoder BCE: mean (over all pixels, U-Net GAN) | balanced (generated and real pixels half each)
        "mixed_pixel_weighting": text("mean", "mean", "balanced"),
        # decoder's plain terms: always (U-Net GAN) | until_mixing (none) | real_after_mixing (D_dec(x) -> 1 only)
        "decoder_plain_terms": text("always", "always", "until_mixing", "real_after_mixing"),
    },
    "reconstruction_params": {"num_videos": whole(1000, 1), "format": text(".mp4")},
    "animate_params": {
        "num_pairs": whole(50, 1), "format": text(".mp4"),
        "normalization_params": {"adapt_movement_scale": flag(False), "use_relative_movement": flag(True),
                                 "use_relative_jacobian": flag(True)},
    },
    "visualizer_params": {"kp_size": whole(5, 1), "draw_border": flag(True), "colormap": text("gist_rainbow")},
}


MODEL_SCHEMAS = {"fomm": SCHEMA["model_params"], "tpsmm": TPSMM_MODEL_PARAMS}


def resolve_model_params(model_params: dict, backbone: str = "fomm") -> dict:
    """A ``model_params`` dict checked against its backbone's schema (an unknown or mistyped key
    is an error naming it) and completed with the defaults."""
    check_value("backbone", backbone, SCHEMA["backbone"])
    if not isinstance(model_params, dict):
        raise ValueError(f"model_params must be a mapping, got {type(model_params).__name__}")
    check_keys(model_params, MODEL_SCHEMAS[backbone], "model_params")
    return merge_defaults(model_params, MODEL_SCHEMAS[backbone], "model_params")


def schema_for(backbone: str) -> dict:
    """The whole schema of a backbone: SCHEMA with that backbone's model_params."""
    check_value("backbone", backbone, SCHEMA["backbone"])
    return {**SCHEMA, "model_params": MODEL_SCHEMAS[backbone]}


def key_at(dotted: str, backbone: str = "fomm") -> Key:
    """The schema entry of a dotted key, e.g. key_at("regularizer.top_k_percent")."""
    entry = schema_for(backbone)
    for i, part in enumerate(dotted.split(".")):
        if not isinstance(entry, dict) or part not in entry:
            close = difflib.get_close_matches(part, list(entry), n=1) if isinstance(entry, dict) else []
            hint = f"; did you mean '{'.'.join([*dotted.split('.')[:i], close[0]])}'?" if close else ""
            raise ValueError(f"unknown config key '{'.'.join(dotted.split('.')[:i + 1])}'{hint}")
        entry = entry[part]
    return entry


def default(dotted: str):
    """The default value of a dotted key (a copy)."""
    return copy.deepcopy(key_at(dotted).default)


def is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


KIND_WORDS = {"bool": "true or false", "int": "a whole number", "float": "a number", "text": "text",
              "ints": "a list of whole numbers", "floats": "a list of numbers"}


def check_value(path: str, value, key: Key) -> None:
    """Raise a ValueError naming ``path`` when ``value`` has not ``key``'s type, lies outside
    its bounds or is not one of its choices."""
    if key.kind == "any" or (value is None and key.default is None):
        return
    if value is None:
        raise ValueError(f"config key '{path}' must be {KIND_WORDS[key.kind]}, got null")
    if key.kind == "bool":
        if not isinstance(value, bool):
            hint = " (write true or false without quotes)" if isinstance(value, str) else ""
            raise ValueError(f"config key '{path}' must be true or false, got {value!r}{hint}")
        return
    if key.kind == "text":
        if not isinstance(value, str):
            raise ValueError(f"config key '{path}' must be text, got {value!r}")
        if key.choices and value not in key.choices:
            close = difflib.get_close_matches(value, key.choices, n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            raise ValueError(f"config key '{path}' must be one of {', '.join(key.choices)}, got {value!r}{hint}")
        return
    is_list = key.kind in ("ints", "floats")
    integer = key.kind in ("int", "ints")
    if is_list and not isinstance(value, (list, tuple)):
        raise ValueError(f"config key '{path}' must be a list (e.g. {key.default!r}), got {value!r}")
    for element in value if is_list else [value]:
        if not is_number(element) or (integer and not isinstance(element, int)):
            what = "a whole number" if integer else "a number"
            hint = " (YAML reads 2e-4 as text: write 2.0e-4)" if isinstance(element, str) else ""
            where = f"'{path}' (a list of numbers)" if is_list else f"'{path}'"
            raise ValueError(f"config key {where} must be {what}, got {element!r}{hint}")
        if (key.low is not None and element < key.low) or (key.high is not None and element > key.high):
            bounds = f"at least {key.low}" if key.high is None else f"between {key.low} and {key.high}"
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
        entry = schema[key]
        if isinstance(entry, dict):
            if value is None:
                continue
            if not isinstance(value, dict):
                raise ValueError(f"config key '{path}' must be a mapping, got {value!r}")
            check_keys(value, entry, path)
        else:
            check_value(path, value, entry)


def merge_defaults(config: dict, schema: dict, where: str = "") -> dict:
    """Fill missing keys from the schema's defaults; complain about missing required keys."""
    merged = {}
    for key, entry in schema.items():
        path = f"{where}.{key}" if where else key
        if isinstance(entry, dict):
            merged[key] = merge_defaults(config.get(key) or {}, entry, path)
        elif key in config:
            merged[key] = copy.deepcopy(config[key])
        elif key == "augmentation_params":
            merged[key] = {}     # a file without it augments nothing (the default shows the layout)
        elif entry.default is REQUIRED:
            merged[key] = None   # checked where it is used (e.g. the dataset needs root_dir)
        else:
            merged[key] = copy.deepcopy(entry.default)
    return merged


# FOMM keys pcut reads but does not act on: a value other than the default gets a warning.
IGNORED_KEYS = ("visualizer_params.kp_size", "visualizer_params.draw_border", "visualizer_params.colormap",
                "reconstruction_params.num_videos", "reconstruction_params.format", "animate_params.format")
# Keys of FOMM's patch discriminator that the U-Net discriminator has no use for.
PATCH_ONLY_KEYS = ("model_params.discriminator_params.scales", "model_params.discriminator_params.use_kp",
                   "model_params.discriminator_params.kp_variance")


def ignored_settings(resolved: dict) -> list[str]:
    """Dotted keys whose (non-default) value pcut accepts for FOMM compatibility but ignores."""
    keys = list(IGNORED_KEYS)
    if resolved["backbone"] == "tpsmm":     # TPSMM trains its keypoint detector with lr_generator
        keys += ["model_params.avd_network_params", "train_params.lr_kp_detector"]
    if resolved["model_params"]["discriminator_params"]["kind"] == "unet":
        keys += PATCH_ONLY_KEYS
    return [key for key in keys if lookup(resolved, key) != key_at(key, resolved["backbone"]).default]


def turn_off_other_backbone_keys(raw: dict, resolved: dict) -> None:
    """The other backbone's keys absent from ``raw`` take their "off" value (FOMM's equivariance_jacobian: 10)."""
    for key, off in other_backbone_keys(resolved["backbone"]).items():
        if lookup(raw.get("train_params") or {}, key) is None:
            set_by_path(resolved, f"train_params.{key}", copy.deepcopy(off))


def resolve_stored(stored) -> dict | None:
    """A stored config resolved against today's schema (new keys at their defaults); None if it fails."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return resolve_config(copy.deepcopy(stored)) if isinstance(stored, dict) else None
    except (ValueError, TypeError, KeyError):
        return None


def same_run_config(stored, config: dict) -> bool:
    """Whether a config stored with a run is ``config`` once both are ``resolve_stored``."""
    return (resolved := resolve_stored(stored)) is not None and resolved == resolve_stored(config)


def resolve_config(config: dict) -> dict:
    """Validate a config dict (FOMM layout + pcut sections) and fill in defaults."""
    if not isinstance(config, dict):
        raise ValueError(f"a config must be a mapping, got {type(config).__name__}")
    schema = schema_for(config.get("backbone", "fomm"))
    check_keys(config, schema)
    resolved = merge_defaults(config, schema)
    dataset = resolved["dataset_params"]
    if dataset["image_shape"] is not None and "frame_shape" not in config.get("dataset_params", {}):
        dataset["frame_shape"] = list(dataset["image_shape"])
    dataset.pop("image_shape")
    turn_off_other_backbone_keys(config, resolved)
    check_feature_matching(resolved)
    check_combinations(resolved)
    if ignored := ignored_settings(resolved):
        warnings.warn(f"config keys accepted for FOMM compatibility but ignored by pcut: {', '.join(ignored)}",
                      stacklevel=2)
    return resolved


def load_config(name_or_path: str | Path) -> dict:
    """Read a yaml config (safe loader), validate it and fill in defaults."""
    path = find_config(name_or_path)
    raw = read_yaml(path)
    try:
        return resolve_config(raw or {})
    except ValueError as error:
        raise ValueError(f"{path}: {error}") from None


def set_by_path(config: dict, dotted_key: str, value) -> None:
    """config['a']['b'] = value for dotted_key 'a.b'; the key must exist in the config's backbone's schema."""
    key_at(dotted_key, config.get("backbone", "fomm"))      # an unknown key is an error naming it
    keys = dotted_key.split(".")
    target = config
    for key in keys[:-1]:
        target = target.setdefault(key, {})
    target[keys[-1]] = value


def save_config(config: dict, path: str | Path) -> None:
    with open(path, "w") as f:
        yaml.safe_dump(config, f, sort_keys=False)
