"""Which config values go together: checks across keys, run on a config once each key has passed
its own check against ``pcutlib.config.SCHEMA``.

``check_combinations`` refuses values that are each valid but do not work together (a
regularizer without the U-Net discriminator, a key of the other backbone, a schedule that ends
before its warm-up, ...), naming the keys and what to set instead. ``pcutlib.config`` runs it
in ``resolve_config``; ``training.trainer`` runs it again on a config dict changed after loading.
"""
from __future__ import annotations


def lookup(config: dict, dotted: str):
    """config['a']['b'] for dotted 'a.b'; None where a key is missing."""
    for key in dotted.split("."):
        config = config.get(key) if isinstance(config, dict) else None
    return config


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


# train_params keys that act on one backbone only, with the value that means "off"
FOMM_ONLY = {"loss_weights.equivariance_jacobian": 0, "occlusion_warmup_epochs": 0, "loss_weights.occlusion_revealed": 0,
             "region_dropout": {"start": 0.0, "max": 0.0, "ramp_epochs": 0.0, "until_epoch": 0.0}}
TPSMM_ONLY = {"loss_weights.warp_loss": 0, "loss_weights.bg": 0, "dropout_epoch": 0, "bg_start": 0}
INSTEAD = {"loss_weights.equivariance_jacobian": "TPSMM has no jacobians",
           "occlusion_warmup_epochs": "TPSMM's generator always applies its occlusion masks",
           "loss_weights.occlusion_revealed": "the revealed label needs FOMM's dense motion network",
           "region_dropout": "TPSMM drops transformations with dropout_epoch, dropout_maxp, dropout_startp and "
                             "dropout_inc_epoch",
           "loss_weights.warp_loss": "FOMM has no warp loss", "loss_weights.bg": "FOMM's background does not move",
           "dropout_epoch": "FOMM drops regions with train_params.region_dropout",
           "bg_start": "FOMM's background does not move"}


def other_backbone_keys(backbone: str) -> dict:
    """{train_params key: its "off" value} of the keys that act on the other backbone only."""
    return TPSMM_ONLY if backbone == "fomm" else FOMM_ONLY


def check_backbone_keys(resolved: dict) -> None:
    """A training key of the other backbone with a value that is not "off" is an error naming it."""
    backbone = resolved["backbone"]
    for key, off in other_backbone_keys(backbone).items():
        value = lookup(resolved["train_params"], key)
        if value != off:
            raise ValueError(f"train_params.{key} is {value!r}, but it does not act with backbone: {backbone} "
                             f"({INSTEAD[key]}); remove it or set it to {off!r}")


def check_combinations(resolved: dict) -> None:
    """Values that are each valid but do not work together."""
    check_backbone_keys(resolved)
    train_params, regularizer = resolved["train_params"], resolved["regularizer"]["type"]
    kind = resolved["model_params"]["discriminator_params"]["kind"]
    if regularizer != "none" and kind != "unet":
        raise ValueError(f"regularizer.type={regularizer!r} needs the U-Net discriminator: set "
                         f"model_params.discriminator_params.kind: unet (got {kind!r})")
    if regularizer != "none" and train_params["loss_weights"]["generator_gan"] == 0:
        raise ValueError(f"regularizer.type={regularizer!r} acts on the discriminator, which only trains "
                         f"when train_params.loss_weights.generator_gan != 0")
    schedule, warmup, milestones = (train_params[k] for k in ("lr_schedule", "lr_warmup_epochs", "epoch_milestones"))
    if schedule == "cosine" and milestones:
        raise ValueError(f"train_params.lr_schedule=cosine has no drops, but epoch_milestones is {milestones}: "
                         f"set epoch_milestones: [] (or lr_schedule: step)")
    if warmup and warmup >= min([train_params["num_epochs"], *milestones]):
        raise ValueError(f"train_params.lr_warmup_epochs={warmup} must end before num_epochs "
                         f"({train_params['num_epochs']}) and the first of epoch_milestones {milestones}")
    dropout = train_params["region_dropout"]
    if dropout["start"] >= 1 or dropout["max"] >= 1:
        raise ValueError(f"train_params.region_dropout needs start and max below 1 (1 drops every region), "
                         f"got {dropout}")
    if train_params["loss_weights"]["occlusion_revealed"] and not resolved["model_params"].get(
            "generator_params", {}).get("estimate_occlusion_map", True):
        raise ValueError("train_params.loss_weights.occlusion_revealed trains the occlusion map, but "
                         "model_params.generator_params.estimate_occlusion_map is false")
    shaping = [key for key in ("occlusion_revealed_at_rest", "occlusion_revealed_warp_error",
                               "occlusion_revealed_head_only") if train_params[key]]
    shaping += ["occlusion_revealed_label"] if train_params["occlusion_revealed_label"] != "revealed" else []
    if shaping and not train_params["loss_weights"]["occlusion_revealed"]:
        raise ValueError(f"train_params.{shaping[0]} shapes the revealed term, but loss_weights.occlusion_revealed is 0")
    weights = train_params["loss_weights"]
    if weights["pixel_pyramid_moving"] and not weights["pixel_pyramid"]:
        raise ValueError(f"train_params.loss_weights.pixel_pyramid_moving {weights['pixel_pyramid_moving']} weighs "
                         "the pixel pyramid's moving pixels, but loss_weights.pixel_pyramid is 0: set it above 0, or this to 0")
    gap = train_params["frame_gap"]
    if gap["start"] != 0 and not (gap["start"] <= gap["end"] and gap["ramp_epochs"] >= 1):
        raise ValueError(f"train_params.frame_gap needs 1 <= start <= end and ramp_epochs >= 1 (or start 0: off), got {gap}")
    curriculum, frame = train_params["resolution_curriculum"], resolved["dataset_params"]["frame_shape"]
    if curriculum["size"] and not (curriculum["size"] < min(frame[:2]) and curriculum["until_epoch"] > 0):
        raise ValueError(f"train_params.resolution_curriculum needs size below the frames' {frame[0]}x{frame[1]} and "
                         f"until_epoch > 0 (or size 0: off), got {curriculum}")
    if curriculum["size"] and train_params["loss_weights"]["generator_gan"]:
        raise ValueError(f"train_params.resolution_curriculum {curriculum} is for reconstruction; generator_gan is "
                         f"{train_params['loss_weights']['generator_gan']}: the discriminator sees frames at one size")
