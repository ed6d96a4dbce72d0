"""The trainer: one step per regularizer, exact resume, config errors, DDP on CPU (gloo)."""
import copy
import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from pcutlib.config import load_config, resolve_config
from pcutlib.data.make_synthetic import make_synthetic_dataset
from pcutlib.prioritycut import mix_images, oracle_occlusion_map, prioritycut_mask
from pcutlib.training.adversaries import Mixing
from pcutlib.training.loop import continue_from, make_dataloader, train
from pcutlib.models.revealed_pixels import revealed_target
from pcutlib.training import occlusion_label
from pcutlib.training.occlusion_label import revealed_occlusion_loss
from pcutlib.training.step import generator_losses, train_step
from pcutlib.training.trainer import build_trainer

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module", autouse=True)
def _fixed_threads():
    """Runs compared number for number must compute with one thread count: training otherwise
    picks it from the CPU load (``training.device.choose_cpu_threads``), which other work on the
    machine changes between two runs (a resume compared with a run at 1 and 2 threads differed
    in the 7th digit). Module-scoped and autouse, so that it is set before the module-scoped
    reference runs are trained."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("OMP_NUM_THREADS", os.environ.get("OMP_NUM_THREADS") or str(torch.get_num_threads()))
        yield


@pytest.fixture(scope="module")
def smoke_data(tmp_path_factory):
    root = tmp_path_factory.mktemp("smoke-data")
    make_synthetic_dataset(root, videos=10, frames=6, size=32, seed=3, progress=False)
    return root


def smoke_config(root, **regularizer):
    config = load_config(REPO / "configs" / "smoke.yaml")
    config["dataset_params"]["root_dir"] = str(root)
    config["regularizer"].update(regularizer)
    return resolve_config(config)


VARIANTS = {
    "patch": dict(kind="patch", regularizer="none"),
    "unet": dict(kind="unet", regularizer="none"),
    "cutmix": dict(kind="unet", regularizer="cutmix"),
    "prioritycut": dict(kind="unet", regularizer="prioritycut"),
    "prioritycut+feature-matching": dict(kind="unet", regularizer="prioritycut", feature_matching=[10, 10, 10]),
    "oracle": dict(kind="unet", regularizer="oracle"),
}


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_one_step_updates_every_network(smoke_data, variant):
    kind, regularizer = VARIANTS[variant]["kind"], VARIANTS[variant]["regularizer"]
    config = smoke_config(smoke_data, type=regularizer)
    config["model_params"]["discriminator_params"]["kind"] = kind
    if kind == "patch":
        config["model_params"]["discriminator_params"]["num_blocks"] = 2
        config["train_params"]["loss_weights"]["feature_matching"] = [10, 10]
    if "feature_matching" in VARIANTS[variant]:
        config["train_params"]["loss_weights"]["feature_matching"] = VARIANTS[variant]["feature_matching"]
    trainer = build_trainer(config, torch.device("cpu"))
    before = {name: copy.deepcopy(m.state_dict()) for name, m in trainer.models.networks().items()}
    batch = next(iter(make_dataloader(config, trainer.group)))
    values, generated, info = train_step(trainer, batch, epoch_float=5.0)
    assert all(torch.isfinite(torch.tensor(v)) for v in values.values()), values
    assert "reconstruction" in values and "equivariance_value" in values
    if regularizer != "none":
        assert info.mixed and "consistency" in values and "disc_mix_decoder" in values
    assert ("feature_matching" in values) == (kind == "patch" or "feature_matching" in VARIANTS[variant])
    for name, module in trainer.models.networks().items():
        changed = [k for k, v in module.state_dict().items()
                   if v.dtype.is_floating_point and not torch.equal(v, before[name][k])]
        assert changed, f"{name} was not updated"


def test_head_only_the_revealed_term_trains_o_s_last_convolution_and_nothing_before_it(smoke_data):
    """occlusion_revealed_head_only: the same loss values (O recomputed from the detached features
    equals O), but the gradient of both revealed terms reaches O's convolution only."""
    config = smoke_config(smoke_data)
    config["train_params"]["loss_weights"]["occlusion_revealed"] = 1.0
    config["train_params"]["occlusion_revealed_at_rest"] = True
    batch = None
    values = {}
    for head_only in (False, True):
        config["train_params"]["occlusion_revealed_head_only"] = head_only
        torch.manual_seed(0)
        trainer = build_trainer(config, torch.device("cpu"))
        batch = batch or next(iter(make_dataloader(config, trainer.group)))
        losses, generated = generator_losses(trainer, batch["source"], batch["driving"], epoch_float=5.0)
        assert "motion_features" not in generated                        # read by the term, not kept
        network = trainer.models.generator.dense_motion_network
        values[head_only] = [float(losses[key].detach()) for key in ("occlusion_revealed", "occlusion_revealed_rest")]
        named = [(f"dense_motion.{n}", p) for n, p in network.named_parameters()] + [
            (f"kp_detector.{n}", p) for n, p in trainer.models.kp_detector.named_parameters()]
        for key in ("occlusion_revealed", "occlusion_revealed_rest"):          # each term on its own
            grads = torch.autograd.grad(losses[key], [p for _, p in named], retain_graph=True, allow_unused=True)
            reached = {n for (n, _), g in zip(named, grads) if g is not None and g.abs().sum() > 0}
            assert "dense_motion.occlusion.weight" in reached, key
            beyond = reached - {"dense_motion.occlusion.weight", "dense_motion.occlusion.bias"}
            if head_only:
                assert not beyond, (key, sorted(beyond)[:3])
            else:
                assert any(n.startswith("dense_motion.hourglass") for n in beyond), key
                assert key == "occlusion_revealed_rest" or any(n.startswith("kp_detector") for n in beyond), key
        grads = torch.autograd.grad(losses["reconstruction"], [p for _, p in named], allow_unused=True)
        assert any(g is not None and g.abs().sum() > 0 for (n, _), g in zip(named, grads)   # the rest still trains
                   if n.startswith("dense_motion.hourglass")), head_only
    assert values[True] == pytest.approx(values[False], rel=1e-5)
    with pytest.raises(ValueError, match="head_only needs the dense motion network's motion_features, got None"):
        revealed_occlusion_loss(network, batch["source"], batch["driving"], {"value": torch.zeros(1, 10, 2)},
                                {"value": torch.zeros(1, 10, 2)}, torch.ones(1, 1, 8, 8), 1.0, head_only=True)


def test_the_labelled_oracle_pulls_o_towards_the_true_visible_share(smoke_data):
    """occlusion_revealed_label truth: the batches carry their true dis-occlusion, and the term is the
    same cross-entropy with the visible share of each O pixel (1 - truth, area-averaged) as its label;
    a step without the truth is refused, and so is the key without the term."""
    from pcutlib.training.occlusion_label import balanced_occlusion_bce, visible_share

    config = smoke_config(smoke_data)
    config["train_params"]["loss_weights"]["occlusion_revealed"] = 2.0
    config["train_params"]["occlusion_revealed_weighting"] = "plain"
    config["train_params"]["occlusion_revealed_label"] = "truth"
    torch.manual_seed(0)
    trainer = build_trainer(config, torch.device("cpu"))
    batch = next(iter(make_dataloader(config, trainer.group)))
    truth = batch["driving_disocclusion"]
    assert truth.shape[1] == 1 and truth.shape[2:] == batch["driving"].shape[2:] and truth.any()
    losses, generated = generator_losses(trainer, batch["source"], batch["driving"], 5.0, truth)
    occlusion = generated["occlusion_map"]
    label = visible_share(truth, occlusion.shape[-2:])
    assert float(losses["occlusion_revealed"]) == pytest.approx(
        2.0 * float(balanced_occlusion_bce(occlusion, label, False)), rel=1e-5)
    revealed = revealed_target(trainer.models.generator.dense_motion_network, batch["source"], batch["driving"],
                               generated["kp_source"], generated["kp_driving"], occlusion.shape[-2:])
    assert not torch.allclose(revealed, label)                          # another label than the model's own
    with pytest.raises(ValueError, match="occlusion_revealed_label is truth, but the batch carries no driving_disocclusion"):
        generator_losses(trainer, batch["source"], batch["driving"], 5.0)
    with pytest.raises(ValueError, match="the label's shape"):
        revealed_occlusion_loss(trainer.models.generator.dense_motion_network, batch["source"], batch["driving"],
                                generated["kp_source"], generated["kp_driving"], occlusion, 1.0, target=label[:, :, :2])
    values, _, _ = train_step(trainer, batch, epoch_float=5.0)                  # the step hands the truth over
    assert values["occlusion_revealed"] > 0
    plain = smoke_config(smoke_data)
    assert "driving_disocclusion" not in next(iter(make_dataloader(plain, build_trainer(plain, torch.device("cpu")).group)))
    shaped = load_config(REPO / "configs" / "smoke.yaml")
    shaped["train_params"]["occlusion_revealed_label"] = "truth"
    with pytest.raises(ValueError, match="occlusion_revealed_label shapes the revealed term, but loss_weights.occlusion_revealed is 0"):
        resolve_config(shaped)
    shaped["train_params"]["occlusion_revealed_label"] = "oracle"
    with pytest.raises(ValueError, match="oracle"):
        resolve_config(shaped)


def test_the_moving_pixel_weight_reaches_the_step_and_needs_the_pixel_pyramid(smoke_data):
    """loss_weights.pixel_pyramid_moving: the step hands the source to the pixel pyramid, whose loss grows
    with the weight; without a pixel pyramid the config is refused with the key's value."""
    config = smoke_config(smoke_data)
    batch = next(iter(make_dataloader(config, build_trainer(config, torch.device("cpu")).group)))
    plain = (generator_losses(build_trainer(config, torch.device("cpu")), batch["source"], batch["driving"],
                                   epoch_float=5.0)[0]["reconstruction"]).item()
    config["train_params"]["loss_weights"]["pixel_pyramid_moving"] = 100.0
    trainer = build_trainer(config, torch.device("cpu"))
    assert trainer.reconstruction_loss[0].moving_weight == 100.0
    moving = generator_losses(trainer, batch["source"], batch["driving"], epoch_float=5.0)[0]["reconstruction"].item()
    assert moving > plain * 1.01
    refused = load_config(REPO / "configs" / "smoke.yaml")
    refused["train_params"]["loss_weights"].update(pixel_pyramid=0, perceptual=[1, 1, 1, 1, 1], pixel_pyramid_moving=5)
    with pytest.raises(ValueError, match="pixel_pyramid_moving 5 weighs .* but loss_weights.pixel_pyramid is 0"):
        resolve_config(refused)


def test_the_revealed_term_trains_the_occlusion_map_and_is_refused_where_it_cannot_act(smoke_data, monkeypatch):
    """loss_weights.occlusion_revealed > 0 adds one term, computed from the batch alone, whose gradient
    reaches O's convolution; TPSMM and a generator without O refuse it with the key's name."""
    config = smoke_config(smoke_data)
    config["train_params"]["loss_weights"]["occlusion_revealed"] = 2.0
    trainer = build_trainer(config, torch.device("cpu"))
    batch = next(iter(make_dataloader(config, trainer.group)))
    losses, generated = generator_losses(trainer, batch["source"], batch["driving"], epoch_float=5.0)
    assert float(losses["occlusion_revealed"]) > 0
    network = trainer.models.generator.dense_motion_network
    losses["occlusion_revealed"].backward()
    assert network.occlusion.weight.grad is not None and network.occlusion.weight.grad.abs().sum() > 0
    target = revealed_target(network, batch["source"], batch["driving"], generated["kp_source"],
                             generated["kp_driving"], generated["occlusion_map"].shape[-2:])
    assert not target.requires_grad                                  # the label itself is a constant
    config["train_params"]["occlusion_revealed_at_rest"] = True
    rested = generator_losses(build_trainer(config, torch.device("cpu")), batch["source"], batch["driving"],
                              epoch_float=5.0)[0]
    assert float(rested["occlusion_revealed_rest"]) > 0 and "occlusion_revealed" in rested
    labels = []                                      # occlusion_revealed_warp_error: the step hands over the
    monkeypatch.setattr(occlusion_label, "revealed_occlusion_loss",          # deformed source, the label changes
                        lambda *args, **kw: labels.append(kw.get("deformed")) or revealed_occlusion_loss(*args, **kw))
    config["train_params"]["occlusion_revealed_warp_error"] = True
    warped_losses, warped = generator_losses(build_trainer(config, torch.device("cpu")), batch["source"],
                                             batch["driving"], epoch_float=5.0)
    assert labels[-1] is warped["deformed"]
    arguments = (network, batch["source"], batch["driving"], generated["kp_source"], generated["kp_driving"],
                 generated["occlusion_map"], 1.0, "balanced", False)
    with_error = revealed_occlusion_loss(*arguments, deformed=generated["deformed"])["occlusion_revealed"]
    assert float(with_error) != pytest.approx(float(revealed_occlusion_loss(*arguments)["occlusion_revealed"]), rel=1e-4)
    for key in ("occlusion_revealed_at_rest", "occlusion_revealed_warp_error", "occlusion_revealed_head_only"):
        shaped = load_config(REPO / "configs" / "smoke.yaml")
        shaped["train_params"][key] = True
        with pytest.raises(ValueError, match=f"{key} shapes the revealed term, but loss_weights.occlusion_revealed is 0"):
            resolve_config(shaped)
    off = smoke_config(smoke_data)
    assert "occlusion_revealed" not in generator_losses(build_trainer(off, torch.device("cpu")), batch["source"],
                                                        batch["driving"], epoch_float=5.0)[0]
    without = load_config(REPO / "configs" / "smoke.yaml")
    without["train_params"]["loss_weights"]["occlusion_revealed"] = 1.0
    without["model_params"]["generator_params"]["estimate_occlusion_map"] = False
    with pytest.raises(ValueError, match="occlusion_revealed trains the occlusion map, but .*estimate_occlusion_map is false"):
        resolve_config(without)
    tpsmm = load_config(REPO / "configs" / "smoke-tpsmm.yaml")
    tpsmm["train_params"].setdefault("loss_weights", {})["occlusion_revealed"] = 1.0
    with pytest.raises(ValueError, match="occlusion_revealed is 1.0, but it does not act with backbone: tpsmm"):
        resolve_config(tpsmm)


@pytest.mark.parametrize("top_k, foreground", [(10.0, "region"), (30.0, "region"), (30.0, "all")])
def test_a_prioritycut_step_mixes_along_the_library_mask(smoke_data, top_k, foreground):
    """The mask a training step mixes with is prioritycut_mask of that same step's occlusion map and
    region masks (the library's one function), and the mixed image is M x + (1 - M) G."""
    config = smoke_config(smoke_data, type="prioritycut", top_k_percent=top_k, foreground=foreground,
                          mix_probability=1.0, mix_warmup_epochs=0.0)
    trainer = build_trainer(config, torch.device("cpu"))
    batch = next(iter(make_dataloader(config, trainer.group)))
    _, generated, mixing = train_step(trainer, batch, epoch_float=5.0)
    assert mixing.mixed
    expected = prioritycut_mask(generated["occlusion_map"].detach(), generated["region_mask"].detach(), top_k,
                                config["regularizer"]["foreground_threshold"], size=tuple(batch["driving"].shape[2:]),
                                foreground=foreground)
    assert torch.equal(mixing.mask, expected)
    assert 0 < int((expected == 0).sum()) < expected.numel()          # some pixels generated, most real
    fake = generated["prediction"].detach().float()
    assert torch.equal(mixing.mixed_image, mix_images(batch["driving"], fake, expected))


def test_an_oracle_step_mixes_along_the_true_disocclusion_of_its_batch(smoke_data):
    """The oracle regularizer's batch carries each pair's true dis-occlusion, and its step mixes
    along prioritycut_mask of oracle_occlusion_map (that truth ranked on O's grid)."""
    config = smoke_config(smoke_data, type="oracle", top_k_percent=30.0, mix_probability=1.0, mix_warmup_epochs=0.0)
    trainer = build_trainer(config, torch.device("cpu"))
    batch = next(iter(make_dataloader(config, trainer.group)))
    assert batch["driving_disocclusion"].shape == (len(batch["driving"]), 1, *batch["driving"].shape[2:])
    assert batch["driving_disocclusion"].sum() > 0
    _, generated, mixing = train_step(trainer, batch, epoch_float=5.0)
    assert mixing.mixed
    oracle = oracle_occlusion_map(batch["driving_disocclusion"], generated["occlusion_map"].detach())
    expected = prioritycut_mask(oracle, generated["region_mask"].detach(), 30.0,
                                config["regularizer"]["foreground_threshold"], size=tuple(batch["driving"].shape[2:]))
    assert torch.equal(mixing.mask, expected)


def test_unet_feature_matching_trains_a_few_steps(smoke_data, tmp_path):
    config = smoke_config(smoke_data, type="prioritycut")
    config["train_params"]["loss_weights"]["feature_matching"] = [10, 10, 10]      # smoke U-Net: 3 blocks
    config = resolve_config(config)
    train(config, tmp_path / "run", device="cpu", progress=False, stop_after_steps=3)
    rows = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert len(rows) == 3 and all(row["feature_matching"] > 0 for row in rows)


def read_losses(run_dir):
    rows = [json.loads(line) for line in (run_dir / "log.jsonl").read_text().splitlines()]
    return [(r["step"], r["reconstruction"], r.get("disc_unet_decoder")) for r in rows]


@pytest.mark.slow
@pytest.mark.parametrize("regularizer", [dict(type="prioritycut"), dict(type="cutmix", mix_probability=0.3)])
def test_resume_after_kill_continues_the_same_losses(smoke_data, tmp_path, regularizer):
    config = smoke_config(smoke_data, **regularizer)
    uninterrupted = tmp_path / "uninterrupted"
    train(config, uninterrupted, device="cpu", progress=False)
    steps_per_epoch = len(read_losses(uninterrupted)) // 2

    interrupted = tmp_path / "interrupted"
    train(config, interrupted, device="cpu", progress=False, stop_after_steps=steps_per_epoch + 2)
    assert len(read_losses(interrupted)) == steps_per_epoch + 2      # killed inside epoch 2
    with open(interrupted / "log.jsonl", "a") as log:                 # killed while writing a row
        log.write('{"step": 99, "reconstr')
    partial = interrupted / "checkpoints" / ".last.pt.abc123.tmp"     # ... or while saving last.pt
    partial.write_bytes(b"half a checkpoint")
    with pytest.warns(UserWarning, match="torn last line"):
        train(config, interrupted, device="cpu", progress=False, resume=True)
    assert not partial.exists()
    assert read_losses(interrupted) == read_losses(uninterrupted)
    for name in ("config.yaml", "loss.png", "vis/epoch-1.png", "vis/epoch-2.png",
                 "checkpoints/last.pt", "checkpoints/epoch-1.pt", "checkpoints/epoch-2.pt"):
        assert (interrupted / name).exists(), name
    row = json.loads((interrupted / "log.jsonl").read_text().splitlines()[0])
    assert {"step", "epoch", "seconds", "empty_foreground"} <= set(row)


def test_config_errors_name_the_bad_value(smoke_data, tmp_path):
    with pytest.raises(ValueError, match="'regularizer.typ'"):
        resolve_config({"regularizer": {"typ": "prioritycut"}})
    with pytest.raises(ValueError, match="'train_params.lr_gen'"):
        resolve_config({"train_params": {"lr_gen": 1e-4}})
    with pytest.raises(ValueError, match="mixcut"):
        build_trainer(smoke_config(smoke_data, type="mixcut"), torch.device("cpu"))
    with pytest.raises(ValueError, match="101"):
        smoke_config(smoke_data, top_k_percent=101)
    with pytest.raises(ValueError, match="-1"):
        smoke_config(smoke_data, top_k_percent=-1)
    missing = smoke_config(tmp_path / "nowhere")
    with pytest.raises((ValueError, FileNotFoundError), match="nowhere"):
        train(missing, tmp_path / "run", device="cpu", progress=False)


@pytest.mark.filterwarnings("ignore:Detected call of `lr_scheduler.step")
def test_cosine_schedule_warms_up_anneals_and_resumes_with_a_changed_rate(smoke_data, tmp_path, capsys):
    """lr_schedule cosine: (e + 1) / warmup over the warm-up epochs, then half a cosine towards 0;
    a resume whose config changed the rate applies the new rate at the same point of the schedule;
    milestones or a warm-up that reaches the first drop or the end are errors that name the values."""
    from pcutlib.training.state import load_training_checkpoint, save_training_checkpoint
    from pcutlib.training.trainer import cosine_factor

    assert [cosine_factor(e, 2, 6) for e in range(6)] == pytest.approx(
        [0.5, 1.0, 1.0, 0.5 * (1 + math.cos(math.pi / 4)), 0.5, 0.5 * (1 + math.cos(3 * math.pi / 4))])
    config = smoke_config(smoke_data)
    config["train_params"].update(num_epochs=6, epoch_milestones=[], lr_schedule="cosine", lr_warmup_epochs=2)
    config = resolve_config(config)
    trainer = build_trainer(config, torch.device("cpu"))
    base = config["train_params"]["lr_generator"]
    for epoch in range(3):
        assert trainer.optimizers["generator"].param_groups[0]["lr"] == pytest.approx(base * cosine_factor(epoch, 2, 6))
        for scheduler in trainer.schedulers.values():
            scheduler.step()
    save_training_checkpoint(trainer, tmp_path / "last.pt")
    config["train_params"]["lr_generator"] = 2 * base
    resumed = build_trainer(config, torch.device("cpu"))
    load_training_checkpoint(resumed, tmp_path / "last.pt")
    assert "lr_generator changed" in capsys.readouterr().out
    assert resumed.optimizers["generator"].param_groups[0]["lr"] == pytest.approx(2 * base * cosine_factor(3, 2, 6))
    for bad, match in ((dict(lr_schedule="cosine", epoch_milestones=[3]), r"epoch_milestones is \[3\]"),
                       (dict(lr_schedule="step", lr_warmup_epochs=3, epoch_milestones=[3]),
                        r"lr_warmup_epochs=3 must end before .* epoch_milestones \[3\]"),
                       (dict(lr_schedule="cosine", lr_warmup_epochs=6, epoch_milestones=[]), r"num_epochs \(6\)")):
        broken = smoke_config(smoke_data)
        broken["train_params"].update(num_epochs=6, **bad)
        with pytest.raises(ValueError, match=match):
            resolve_config(broken)


def test_the_step_schedule_warms_up_then_drops_as_multisteplr(smoke_data):
    """lr_warmup_epochs on the step schedule: a linear rise, then FOMM's x0.1 drops at the same
    epochs as MultiStepLR; without a warm-up the schedule is MultiStepLR itself."""
    from pcutlib.training.trainer import step_factor

    assert [step_factor(e, 2, [3, 5]) for e in range(6)] == pytest.approx([0.5, 1, 1, 0.1, 0.1, 0.01])
    assert [step_factor(e, 0, [3]) for e in range(4)] == pytest.approx([1, 1, 1, 0.1])
    config = smoke_config(smoke_data)
    config["train_params"].update(num_epochs=6, epoch_milestones=[3, 5], lr_schedule="step", lr_warmup_epochs=2)
    trainer = build_trainer(resolve_config(config), torch.device("cpu"))
    base = config["train_params"]["lr_kp_detector"]
    for epoch in range(6):
        assert trainer.optimizers["kp_detector"].param_groups[0]["lr"] == pytest.approx(base * step_factor(epoch, 2, [3, 5]))
        for scheduler in trainer.schedulers.values():
            scheduler.step()
    config["train_params"]["lr_warmup_epochs"] = 0
    plain = build_trainer(resolve_config(config), torch.device("cpu"))
    assert isinstance(plain.schedulers["generator"], torch.optim.lr_scheduler.MultiStepLR)


def test_cli_flags_override_the_config(smoke_data, tmp_path):
    from pcutlib.cli import build_parser, config_from_args

    args = build_parser().parse_args(["train", "--config", str(REPO / "configs" / "smoke.yaml"),
                                      "--regularizer", "cutmix", "--top-k", "12.5", "--data", str(smoke_data),
                                      "--set", "train_params.lr_generator=0.001"])
    config = config_from_args(args)
    assert config["regularizer"]["type"] == "cutmix"
    assert config["regularizer"]["top_k_percent"] == 12.5
    assert config["train_params"]["lr_generator"] == 0.001
    bad = build_parser().parse_args(["train", "--config", str(REPO / "configs" / "smoke.yaml"),
                                     "--set", "train_params.lr_gen=0.001"])
    with pytest.raises(ValueError, match="train_params.lr_gen"):
        config_from_args(bad)


DDP_SCRIPT = r'''
import copy, json, os, sys
import torch, torch.distributed as dist
from pcutlib.config import load_config, resolve_config
from pcutlib.training.device import init_distributed
from pcutlib.training.loop import make_dataloader
from pcutlib.training.step import train_step
from pcutlib.training.trainer import build_trainer, seed_everything

device = torch.device("cpu")
group = init_distributed(device)
seed_everything(0)
config = load_config(sys.argv[1]); config["dataset_params"]["root_dir"] = sys.argv[2]
config["train_params"]["num_repeats"] = 3
config = resolve_config(config)
trainer = build_trainer(config, device, group)
loader = make_dataloader(config, group)
batches = iter(loader)

# 1. gradients are averaged: the DDP gradient equals the mean of the per-rank gradients
batch = next(batches)
generator = trainer.models.generator
local = copy.deepcopy(trainer.network("generator"))
kp = trainer.network("kp_detector")
def loss_of(gen):
    kp_s, kp_d = kp(batch["source"]), kp(batch["driving"])
    out = gen(batch["source"], kp_source={k: v.detach() for k, v in kp_s.items()},
              kp_driving={k: v.detach() for k, v in kp_d.items()})
    return (out["prediction"] - batch["driving"]).abs().mean()
loss_of(local).backward()
loss_of(generator).backward()
max_error = rank_difference = 0.0
for (name, p_local), p_ddp in zip(local.named_parameters(), trainer.network("generator").parameters()):
    mean = p_local.grad.clone(); dist.all_reduce(mean); mean /= group.world_size
    max_error = max(max_error, (mean - p_ddp.grad).abs().max().item())
    rank_difference = max(rank_difference, (mean - p_local.grad).abs().max().item())
trainer.optimizers["generator"].zero_grad()

# 2. parameters stay identical across ranks over a few full steps
for _ in range(2):
    train_step(trainer, next(batches), epoch_float=1.0)
flat = torch.cat([p.detach().flatten() for n in ("kp_detector", "generator", "discriminator")
                  for p in trainer.network(n).parameters()])
gathered = [torch.zeros_like(flat) for _ in range(group.world_size)]
dist.all_gather(gathered, flat)
json.dump({"max_grad_error": max_error, "rank_difference": rank_difference, "param_spread": max((g - gathered[0]).abs().max().item() for g in gathered),
           "rank": group.rank, "world_size": group.world_size},
          open(os.path.join(sys.argv[3], f"rank{group.rank}.json"), "w"))
dist.barrier()
dist.destroy_process_group()
'''


@pytest.mark.slow
def test_two_process_gloo_ddp(smoke_data, tmp_path):
    script = tmp_path / "ddp_check.py"
    script.write_text(DDP_SCRIPT)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                             str(script), str(REPO / "configs" / "smoke.yaml"), str(smoke_data), str(tmp_path)],
                            capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    reports = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(2)]
    for report in reports:
        assert report["world_size"] == 2
        assert report["rank_difference"] > 1e-6, report     # the ranks saw different batches
        assert report["max_grad_error"] < 1e-6, report      # DDP's gradient is their mean
        assert report["param_spread"] == 0.0, report


def test_divergence_stops_the_run_and_keeps_the_finite_checkpoint(smoke_data, tmp_path):
    config = smoke_config(smoke_data, type="none")
    config["train_params"]["num_epochs"] = 1
    run = tmp_path / "run"
    last = train(config, run, device="cpu", progress=False)
    before = last.read_bytes()
    config["train_params"]["num_epochs"] = 3
    for name in ("lr_generator", "lr_kp_detector", "lr_discriminator"):
        config["train_params"][name] = 1e12
    with pytest.raises(FloatingPointError, match="training diverged"):
        train(config, run, device="cpu", progress=False, resume=True)
    assert last.read_bytes() == before                     # the finite checkpoint was not replaced
    state = torch.load(last, weights_only=True)
    assert all(torch.isfinite(v).all() for v in state["generator"].values() if v.is_floating_point())


@pytest.mark.slow
def test_a_run_folder_is_not_silently_reused(smoke_data, tmp_path):
    config = smoke_config(smoke_data, type="none")
    config["train_params"]["num_epochs"] = 1
    run = tmp_path / "run"
    train(config, run, device="cpu", progress=False)
    (run / "checkpoints" / "epoch-7.pt").write_bytes(b"stale")
    with pytest.raises(FileExistsError, match="--resume.*--overwrite"):
        train(config, run, device="cpu", progress=False)
    train(config, run, device="cpu", progress=False, overwrite=True)
    assert not (run / "checkpoints" / "epoch-7.pt").exists()    # the old run was cleared first
    rows = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == list(range(1, len(rows) + 1))


def test_cli_exit_codes_for_divergence_and_reuse(smoke_data, tmp_path, capsys):
    from pcutlib.cli import main

    common = ["train", "--config", str(REPO / "configs" / "smoke.yaml"), "--data", str(smoke_data),
              "--run-dir", str(tmp_path / "run"), "--epochs", "1", "--no-progress", "--regularizer", "none"]
    assert main(common) == 0
    assert main(common) == 2
    assert "already holds a run" in capsys.readouterr().err
    huge = ["--overwrite"] + [f"--set=train_params.{n}=1e12" for n in ("lr_generator", "lr_kp_detector")]
    assert main(common + huge + ["--epochs", "3"]) == 1
    assert "diverged" in capsys.readouterr().err


def test_cpus_busy_elsewhere_counts_running_threads_of_other_processes(tmp_path):
    from pcutlib.training.device import cpus_busy_elsewhere

    def task(pid, tid, state, command="python (x) y"):
        folder = tmp_path / str(pid) / "task" / str(tid)
        folder.mkdir(parents=True)
        (folder / "stat").write_text(f"{tid} ({command}) {state} 1 2 3 4\n")

    task(101, 101, "R")
    task(101, 102, "R", command="pt_main_thread")       # a second busy thread of one process
    task(202, 202, "S")                                  # sleeping
    task(os.getpid(), os.getpid(), "R")                  # this process: not "elsewhere"
    (tmp_path / "self").mkdir()                          # not a process folder
    assert cpus_busy_elsewhere(tmp_path) == 2
    assert cpus_busy_elsewhere(tmp_path / "missing") == 0
    busy = cpus_busy_elsewhere()                         # the real /proc: a count of threads
    assert busy >= 0


def test_a_timed_run_records_its_machine(tmp_path):
    """machine_record: the CPU's model name and bf16 line from cpuinfo, torch's threads; without a
    model name line, the platform's name."""
    from pcutlib.training import device as training

    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nmodel name\t: AMD EPYC 9R14\nflags\t\t: fpu avx512_bf16\n")
    record = training.machine_record("cpu", cpuinfo)
    assert record == {"device": "AMD EPYC 9R14", "bf16": "the CPU has native bf16 (avx512_bf16)",
                      "threads": torch.get_num_threads()}
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu\n")
    assert training.machine_record("cpu", cpuinfo)["device"]


def test_mixed_precision_auto_takes_bf16_only_where_the_cpu_has_it(tmp_path, smoke_data, monkeypatch):
    """mixed_precision auto: bf16 on a CPU whose flags name amx_bf16 or avx512_bf16, float32 on
    one without them or whose flags cannot be read; the other values pass through; the trainer
    takes the resolved dtype and says why."""
    from pcutlib.training import device as training

    def cpuinfo(flags: str) -> Path:
        path = tmp_path / f"cpuinfo-{len(flags)}"
        path.write_text(f"processor\t: 0\nflags\t\t: {flags}\n")
        return path

    cpu = torch.device("cpu")
    assert training.native_bf16(cpu, cpuinfo("fpu sse avx2 amx_bf16 amx_tile"))[0] is True
    assert training.native_bf16(cpu, cpuinfo("fpu sse avx512f avx512_bf16"))[0] is True
    native, why = training.native_bf16(cpu, cpuinfo("fpu sse avx2 avx512f"))
    assert native is False and "no AMX or AVX512-BF16" in why
    native, why = training.native_bf16(cpu, tmp_path / "missing")
    assert native is False and "missing" in why
    for requested in ("none", "bf16", "fp16"):
        assert training.resolve_mixed_precision(requested, cpu)[0] == requested
    for has_bf16, expected, dtype in ((True, "bf16", torch.bfloat16), (False, "none", None)):
        monkeypatch.setattr(training, "native_bf16", lambda device, has=has_bf16: (has, f"has: {has}"))
        precision, note = training.resolve_mixed_precision("auto", cpu)
        assert precision == expected and note == f"mixed_precision auto -> {'bf16' if has_bf16 else 'none (float32)'}: has: {has_bf16}"
        config = smoke_config(smoke_data)
        config["train_params"]["mixed_precision"] = "auto"
        trainer = build_trainer(config, cpu)
        assert trainer.autocast_dtype == dtype and trainer.precision_note == note


def test_cpu_settings_flush_denormals_inside_and_restore_them_after():
    """Training and the benchmarks that time it run inside cpu_settings: on the CPU a denormal
    float (below 1.2e-38) becomes 0 inside the block, as in `pcut train`, and is kept after it."""
    from pcutlib.training.loop import cpu_settings

    tiny = torch.tensor([1e-39])
    if not torch.set_flush_denormal(False):
        pytest.skip("this CPU cannot flush denormals (torch.set_flush_denormal returned False)")
    with cpu_settings(torch.device("cpu")):
        assert float(tiny * 1.0) == 0.0
    assert float(tiny * 1.0) > 0.0


def test_cpu_threads_leave_room_for_other_work(monkeypatch):
    from pcutlib.training import device as training

    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(training.os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    monkeypatch.setattr(training, "cpus_busy_elsewhere", lambda: 0)
    assert training.choose_cpu_threads() == 2
    monkeypatch.setattr(training, "cpus_busy_elsewhere", lambda: 1)
    assert training.choose_cpu_threads() == 1
    monkeypatch.setattr(training, "cpus_busy_elsewhere", lambda: 5)
    assert training.choose_cpu_threads() == 1
    before, said = torch.get_num_threads(), []
    monkeypatch.setattr(training, "choose_cpu_threads", lambda: before + 1)
    with training.threads_for_free_cpus("cpu", say=said.append) as chosen:
        assert chosen == before + 1 == torch.get_num_threads()
    assert torch.get_num_threads() == before and "thread(s) instead of" in said[0]


def test_epoch_figure_leaves_the_global_rng_alone():
    """The per-epoch figure draws a CutMix box for unmixed batches; the run's RNG must not move."""
    from pcutlib.prioritycut import RegularizerConfig
    from pcutlib.training.visualize import training_panels

    batch = {"source": torch.rand(2, 3, 16, 16), "driving": torch.rand(2, 3, 16, 16)}
    generated = {"prediction": torch.rand(2, 3, 16, 16), "occlusion_map": torch.rand(2, 1, 8, 8),
                 "region_mask": torch.softmax(torch.rand(2, 4, 8, 8), 1)}
    state = torch.get_rng_state()
    panels = training_panels(batch, generated, Mixing(), RegularizerConfig.from_dict({"type": "cutmix"}))
    assert torch.equal(state, torch.get_rng_state())
    assert any("mask" in name for name in panels)


def test_frame_gap_curriculum_draws_close_pairs():
    import numpy as np

    from pcutlib.data.datasets import choose_frame_pair
    from pcutlib.training.step import max_frame_gap

    rng = np.random.default_rng(0)
    gaps = [np.diff(choose_frame_pair(32, rng, max_gap=2))[0] for _ in range(400)]
    assert set(gaps) == {1, 2}
    anywhere = [np.diff(choose_frame_pair(32, rng))[0] for _ in range(400)]
    assert max(anywhere) > 20 and min(anywhere) >= 1
    schedule = {"start": 2, "end": 10, "ramp_epochs": 4}
    assert [max_frame_gap(schedule, e) for e in range(6)] == [2, 4, 6, 8, None, None]
    assert max_frame_gap({"start": 0, "end": 0, "ramp_epochs": 0}, 0) is None
    with pytest.raises(ValueError, match="2 frames"):
        choose_frame_pair(1, rng)


def test_the_resolution_curriculum_shows_smaller_frames_until_its_epoch(smoke_data):
    """train_params.resolution_curriculum: the networks see area-averaged size x size frames before
    until_epoch and the frames as they are after; every network learns at both sizes."""
    import torch.nn.functional as F

    from pcutlib.training.step import shown_size, shrink

    schedule = {"size": 16, "until_epoch": 2.0}
    assert [shown_size(schedule, e) for e in (0.0, 1.99, 2.0, 5.0)] == [16, 16, None, None]
    assert shown_size({"size": 0, "until_epoch": 0.0}, 0.0) is None
    frames = torch.rand(2, 3, 32, 32)
    assert shrink(frames, None) is frames
    assert torch.allclose(shrink(frames, 16), F.avg_pool2d(frames, 2), atol=1e-6)   # each pixel the mean of 2x2
    config = smoke_config(smoke_data, type="none")
    config["train_params"]["loss_weights"]["generator_gan"] = 0
    config["train_params"]["resolution_curriculum"] = schedule
    config = resolve_config(config)
    trainer = build_trainer(config, torch.device("cpu"))
    batch = next(iter(make_dataloader(config, trainer.group)))
    for epoch_float, side in ((0.5, 16), (2.5, 32)):
        before = {name: copy.deepcopy(m.state_dict()) for name, m in trainer.models.networks().items()
                  if name != "discriminator"}
        values, generated, _ = train_step(trainer, batch, epoch_float)
        assert generated["prediction"].shape[-2:] == (side, side), (epoch_float, generated["prediction"].shape)
        assert all(math.isfinite(v) for v in values.values()), values
        for name, state in before.items():
            module = trainer.models.networks()[name]
            assert any(not torch.equal(v, state[k]) for k, v in module.state_dict().items()
                       if v.dtype.is_floating_point), f"{name} did not learn at {side}x{side}"


@pytest.mark.parametrize("curriculum, gan, words", [
    ({"size": 32, "until_epoch": 5.0}, 0, "size below the frames' 32x32"),
    ({"size": 16, "until_epoch": 0.0}, 0, "until_epoch > 0"),
    ({"size": 16, "until_epoch": 5.0}, 1, "is for reconstruction; generator_gan is 1"),
])
def test_a_resolution_curriculum_that_cannot_work_is_refused_by_name(smoke_data, curriculum, gan, words):
    config = smoke_config(smoke_data, type="none")
    config["train_params"]["loss_weights"]["generator_gan"] = gan
    config["train_params"]["resolution_curriculum"] = curriculum
    with pytest.raises(ValueError, match=re.escape(words)):
        resolve_config(config)


@pytest.mark.slow
def test_tensorboard_mirrors_the_log(smoke_data, tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    config = smoke_config(smoke_data, type="prioritycut", mix_probability=1.0, mix_warmup_epochs=0.0)
    run = tmp_path / "run"
    train(config, run, device="cpu", progress=False, tensorboard=True)
    events = EventAccumulator(str(run / "tensorboard"), size_guidance={"images": 0, "scalars": 0}).Reload()
    steps = len(read_losses(run))
    assert len(events.Scalars("loss/reconstruction")) == steps
    assert {"lr/generator", "lr/kp_detector", "loss/disc_mix_decoder"} <= set(events.Tags()["scalars"])
    assert {"epoch/occlusion_map", "epoch/mask", "epoch/mixed_image"} <= set(events.Tags()["images"])


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_optimized_step_equals_the_baseline_step(smoke_data, variant):
    """pcut's shortcuts (e.g. no discriminator weight gradients in the generator step) give the
    same losses and the same parameter updates as the straightforward step."""
    kind, regularizer = VARIANTS[variant]["kind"], VARIANTS[variant]["regularizer"]
    config = smoke_config(smoke_data, type=regularizer, mix_probability=1.0, mix_warmup_epochs=0.0)
    config["model_params"]["discriminator_params"]["kind"] = kind
    config["train_params"]["loss_weights"]["generator_gan"] = 1
    if kind == "patch":
        config["model_params"]["discriminator_params"]["num_blocks"] = 2
        config["train_params"]["loss_weights"]["feature_matching"] = [10, 10]
    if "feature_matching" in VARIANTS[variant]:
        config["train_params"]["loss_weights"]["feature_matching"] = VARIANTS[variant]["feature_matching"]
    batch = next(iter(make_dataloader(config, build_trainer(config, torch.device("cpu")).group)))
    results = []
    for baseline in (True, False):
        torch.manual_seed(0)
        trainer = build_trainer(config, torch.device("cpu"), baseline_step=baseline)
        assert trainer.baseline_step == baseline
        torch.manual_seed(1)
        values, _, _ = train_step(trainer, batch, epoch_float=5.0)
        results.append((values, {n: copy.deepcopy(m.state_dict()) for n, m in trainer.models.networks().items()}))
    (base_values, base_state), (fast_values, fast_state) = results
    assert base_values.keys() == fast_values.keys()
    for name in base_values:
        assert fast_values[name] == pytest.approx(base_values[name], rel=1e-4, abs=1e-6), name
    for network, state in base_state.items():
        for key, value in state.items():
            if value.is_floating_point():
                scale = float(value.abs().max()) + 1e-12
                assert (fast_state[network][key] - value).abs().max() <= 1e-4 * scale, f"{network}.{key}"


def test_the_optimized_step_keeps_fused_adam_when_resuming_a_baseline_checkpoint(smoke_data, tmp_path):
    """The optimized step's Adam is the fused kernel, the baseline's updates one tensor at a time;
    a checkpoint written by either resumes with this run's kernel and the same optimizer state."""
    from pcutlib.training.state import load_training_checkpoint, save_training_checkpoint

    config = smoke_config(smoke_data)
    baseline = build_trainer(config, torch.device("cpu"), baseline_step=True)
    batch = next(iter(make_dataloader(config, baseline.group)))
    train_step(baseline, batch, epoch_float=0.0)
    save_training_checkpoint(baseline, tmp_path / "baseline.pt")
    optimized = build_trainer(config, torch.device("cpu"))
    assert [g["fused"] for g in baseline.optimizers["generator"].param_groups] == [None]
    load_training_checkpoint(optimized, tmp_path / "baseline.pt")
    for name, optimizer in optimized.optimizers.items():
        assert [g["fused"] for g in optimizer.param_groups] == [True], name
        before = baseline.optimizers[name].state_dict()["state"]
        after = optimizer.state_dict()["state"]
        assert before.keys() == after.keys()
        for index, entry in before.items():
            assert torch.equal(entry["exp_avg"], after[index]["exp_avg"]) and float(entry["step"]) == float(after[index]["step"])
    values, _, _ = train_step(optimized, batch, epoch_float=0.5)
    assert all(torch.isfinite(torch.tensor(v)) for v in values.values())


def test_warmups_of_equivariance_and_occlusion(smoke_data):
    from pcutlib.training.step import equivariance_ramp, generator_losses

    assert [equivariance_ramp(20, e) for e in (0, 10, 20, 30)] == [0.0, 0.5, 1.0, 1.0]
    assert equivariance_ramp(0, 0.0) == 1.0
    config = smoke_config(smoke_data)
    config["train_params"].update(equivariance_warmup_epochs=2.0, occlusion_warmup_epochs=1.0)
    trainer = build_trainer(config, torch.device("cpu"))
    batch = next(iter(make_dataloader(config, trainer.group)))
    early, _ = generator_losses(trainer, batch["source"], batch["driving"], epoch_float=0.0)
    assert float(early.get("equivariance_value", 0.0)) == 0.0          # weight 0: the term is left out
    torch.manual_seed(0)
    on, generated_on = generator_losses(trainer, batch["source"], batch["driving"], epoch_float=1.5)
    torch.manual_seed(0)
    off, generated_off = generator_losses(trainer, batch["source"], batch["driving"], epoch_float=0.5)
    assert float(on["equivariance_value"]) > 0
    # the same occlusion map, applied only after the warm-up
    assert torch.equal(generated_on["occlusion_map"], generated_off["occlusion_map"])
    assert not torch.equal(generated_on["prediction"], generated_off["prediction"])


def test_keypoint_separation_enters_the_generator_losses_only_with_its_weight(smoke_data):
    from pcutlib.training.losses import keypoint_separation_loss
    from pcutlib.training.step import generator_losses

    config = smoke_config(smoke_data)
    trainer = build_trainer(config, torch.device("cpu"))
    batch = next(iter(make_dataloader(config, trainer.group)))
    off, _ = generator_losses(trainer, batch["source"], batch["driving"])
    assert "keypoint_separation" not in off                          # weight 0 (the default, FOMM): no term
    config["train_params"]["loss_weights"]["keypoint_separation"] = 3.0
    config["train_params"]["keypoint_separation_sigma"] = 0.2
    on, generated = generator_losses(trainer, batch["source"], batch["driving"])
    keypoints = torch.cat([generated["kp_source"]["value"], generated["kp_driving"]["value"]])
    expected = keypoint_separation_loss(keypoints, 0.2, 3.0)["keypoint_separation"]
    assert float(on["keypoint_separation"]) == pytest.approx(float(expected), rel=1e-6)
    assert on["keypoint_separation"].requires_grad
    with pytest.raises(ValueError, match="keypoint_separation_sigma"):
        resolve_config({**config, "train_params": {**config["train_params"], "keypoint_separation_sigma": 0}})


def record_each_step(monkeypatch):
    """What every training step saw, in order: its batch (source, driving), its equivariance warp
    (theta, control_params), the regions region dropout kept, and the networks it started from."""
    from pcutlib.models import dense_motion
    from pcutlib.models.warping import RandomTPS
    from pcutlib.training import loop

    seen = []
    step, random_warp, keep_mask = loop.train_step, RandomTPS.random.__func__, dense_motion.region_keep_mask

    def recording_step(trainer, batch, epoch_float):
        networks = {n: copy.deepcopy(trainer.network(n).state_dict()) for n in trainer.models.networks()} if not seen else {}
        seen.append({"source": batch["source"].clone(), "driving": batch["driving"].clone(), "networks": networks})
        return step(trainer, batch, epoch_float)

    def recording_warp(cls, *args, **kwargs):
        tps = random_warp(cls, *args, **kwargs)
        seen[-1].update(theta=tps.theta.clone(), control_params=tps.control_params.clone())
        return tps

    def recording_keep_mask(*args, **kwargs):
        keep = keep_mask(*args, **kwargs)
        seen[-1].setdefault("kept_regions", []).append(keep.clone())
        return keep

    monkeypatch.setattr(loop, "train_step", recording_step)
    monkeypatch.setattr(RandomTPS, "random", classmethod(recording_warp))
    monkeypatch.setattr(dense_motion, "region_keep_mask", recording_keep_mask)
    return seen


@pytest.mark.slow
def test_regularizer_variants_with_one_seed_see_the_same_batches_and_warps(smoke_data, tmp_path, monkeypatch):
    """Fairness: runs that differ only in the regularizer draw the same batches, equivariance
    warps and region dropouts at every step (each concern has its own random stream), and
    PriorityCut and CutMix mix at the same steps; another seed draws other batches."""
    seen, mixed = {}, {}
    for name, regularizer, seed in [("prioritycut", "prioritycut", 0), ("cutmix", "cutmix", 0),
                                    ("none", "none", 0), ("none-seed1", "none", 1)]:
        config = smoke_config(smoke_data, type=regularizer, mix_probability=0.5)
        config["train_params"].update(seed=seed, num_repeats=2)
        config["train_params"]["region_dropout"] = {"start": 0.3, "max": 0.3, "ramp_epochs": 0.0, "until_epoch": 10.0}
        seen[name] = record_each_step(monkeypatch)
        train(config, tmp_path / name, device="cpu", progress=False)
        mixed[name] = [row["mixed"] for row in map(json.loads, (tmp_path / name / "log.jsonl").read_text().splitlines())]
        monkeypatch.undo()

    reference = seen["prioritycut"]
    steps_per_epoch = len(reference) // 2                                  # 2 epochs
    assert steps_per_epoch >= 2
    for name in ("cutmix", "none"):
        assert len(seen[name]) == len(reference)
        for step, (ours, theirs) in enumerate(zip(seen[name], reference)):
            for key in ("source", "driving", "theta", "control_params"):
                assert torch.equal(ours[key], theirs[key]), f"{name} step {step + 1}: {key}"
            assert len(ours["kept_regions"]) == len(theirs["kept_regions"]) == 1
            assert torch.equal(ours["kept_regions"][0], theirs["kept_regions"][0]), f"{name} step {step + 1}"
    assert mixed["cutmix"] == mixed["prioritycut"] and True in mixed["cutmix"] and False in mixed["cutmix"]
    # the draws do change: from step to step, from epoch to epoch, and with the seed
    assert not torch.equal(reference[0]["theta"], reference[1]["theta"])
    assert not torch.equal(reference[0]["driving"], reference[steps_per_epoch]["driving"])
    assert not all(torch.equal(a["driving"], b["driving"]) for a, b in zip(seen["none-seed1"], seen["none"]))


def test_a_fine_tune_starts_its_own_seeds_discriminator(smoke_data, tmp_path, monkeypatch):
    """init_from takes the keypoint detector and generator only: the discriminator starts fresh
    from the fine-tune's seed (not the checkpoint's, which every variant and seed would share)."""
    config = smoke_config(smoke_data, type="none")                          # a reconstruction run (D never trained)
    config["train_params"].update(num_epochs=1, seed=7)
    config["train_params"]["loss_weights"]["generator_gan"] = 0
    source = train(config, tmp_path / "reconstruction", device="cpu", progress=False)
    checkpoint = torch.load(source, weights_only=True)

    def starting_networks(seed, name):
        tune = smoke_config(smoke_data, type="prioritycut")
        tune["train_params"]["seed"] = seed
        seen = record_each_step(monkeypatch)
        train(tune, tmp_path / name, device="cpu", progress=False, init_from=source, stop_after_steps=1)
        monkeypatch.undo()
        return seen[0]["networks"]

    def same(a, b):
        return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)

    first, again, other = starting_networks(0, "seed0"), starting_networks(0, "seed0-again"), starting_networks(1, "seed1")
    for networks in (first, again, other):
        assert same(networks["kp_detector"], checkpoint["kp_detector"])
        assert same(networks["generator"], checkpoint["generator"])
        assert not same(networks["discriminator"], checkpoint["discriminator"])
    assert same(first["discriminator"], again["discriminator"])
    assert not same(first["discriminator"], other["discriminator"])


def discriminator_step_losses(config):
    """The discriminator losses of one step of ``config`` on the first batch (weights seeded alike)."""
    from pcutlib.training.step import generator_losses

    torch.manual_seed(0)
    trainer = build_trainer(config, torch.device("cpu"))
    batch = next(iter(make_dataloader(config, trainer.group, generator=torch.Generator().manual_seed(0))))
    _, generated = generator_losses(trainer, batch["source"], batch["driving"], epoch_float=5.0)
    losses, info = trainer.adversary.discriminator_losses(batch["driving"], generated, epoch_float=5.0)
    return {name: float(value.detach()) for name, value in losses.items()}, info


def test_unet_gan_weights_skip_the_plain_terms_on_mixed_steps_and_halve_them_otherwise(smoke_data):
    steps = {}
    for scheme in ("sum", "unetgan"):
        for regularizer in ("prioritycut", "none"):
            config = smoke_config(smoke_data, type=regularizer, mix_probability=1.0, mix_warmup_epochs=0.0,
                                  mixed_round_weights=scheme)
            steps[scheme, regularizer] = discriminator_step_losses(config)
    (pcut_mixed, info), (unetgan_mixed, _) = steps["sum", "prioritycut"], steps["unetgan", "prioritycut"]
    assert info.mixed
    assert set(pcut_mixed) == {"disc_unet_encoder", "disc_unet_decoder", "disc_mix_encoder", "disc_mix_decoder",
                               "consistency"}
    assert set(unetgan_mixed) == {"disc_mix_encoder", "disc_mix_decoder", "consistency"}
    for name, value in unetgan_mixed.items():
        assert value == pytest.approx(pcut_mixed[name], rel=1e-5), name
    pcut_plain, unetgan_plain = steps["sum", "none"][0], steps["unetgan", "none"][0]
    assert set(pcut_plain) == set(unetgan_plain) == {"disc_unet_encoder", "disc_unet_decoder"}
    for name, value in unetgan_plain.items():
        assert value == pytest.approx(0.5 * pcut_plain[name], rel=1e-5), name


def test_decoder_plain_terms_until_mixing_drop_only_the_plain_decoder_term(smoke_data):
    steps = {}
    for terms in ("always", "until_mixing"):
        for probability in (1.0, 0.0):
            config = smoke_config(smoke_data, type="prioritycut", mix_probability=probability, mix_warmup_epochs=0.0,
                                  decoder_plain_terms=terms, mixed_pixel_weighting="balanced")
            steps[terms, probability] = discriminator_step_losses(config)[0]
    always, until = steps["always", 1.0], steps["until_mixing", 1.0]
    assert set(until) == set(always) - {"disc_unet_decoder"}
    for name, value in until.items():
        assert value == pytest.approx(always[name], rel=1e-5), name
    # a step that happens not to mix trains the encoder alone; before mixing may begin, both heads
    assert set(steps["until_mixing", 0.0]) == {"disc_unet_encoder"}
    config = smoke_config(smoke_data, type="prioritycut", decoder_plain_terms="until_mixing")
    config["train_params"]["discriminator_warmup_epochs"] = 10.0
    assert set(discriminator_step_losses(config)[0]) == {"disc_unet_encoder", "disc_unet_decoder"}
    # real_after_mixing keeps the decoder's real term, BCE(D_dec(x), 1), and drops only "every generated pixel is fake"
    config = smoke_config(smoke_data, type="prioritycut", mix_probability=1.0, mix_warmup_epochs=0.0,
                          decoder_plain_terms="real_after_mixing", mixed_pixel_weighting="balanced")
    real_only = discriminator_step_losses(config)[0]
    assert set(real_only) == set(always) and 0 < real_only["disc_unet_decoder"] < always["disc_unet_decoder"]
    for name in set(always) - {"disc_unet_decoder"}:
        assert real_only[name] == pytest.approx(always[name], rel=1e-5), name
    # without a regularizer there is no mixing to wait for: the key changes nothing
    config = smoke_config(smoke_data, type="none", decoder_plain_terms="until_mixing")
    assert set(discriminator_step_losses(config)[0]) == {"disc_unet_encoder", "disc_unet_decoder"}


def test_new_regularizer_keys_are_validated(smoke_data):
    with pytest.raises(ValueError, match="all_ones_masks.*'real'"):
        build_trainer(smoke_config(smoke_data, all_ones_masks="real"), torch.device("cpu"))
    with pytest.raises(ValueError, match="decoder_plain_terms.*'never'"):
        build_trainer(smoke_config(smoke_data, decoder_plain_terms="never"), torch.device("cpu"))
    with pytest.raises(ValueError, match="mixed_pixel_weighting.*'sum'"):
        build_trainer(smoke_config(smoke_data, mixed_pixel_weighting="sum"), torch.device("cpu"))
    with pytest.raises(ValueError, match="mixed_round_weights.*'half'"):
        build_trainer(smoke_config(smoke_data, mixed_round_weights="half"), torch.device("cpu"))
    with pytest.raises(ValueError, match="'regularizer.all_ones_mask'"):
        smoke_config(smoke_data, all_ones_mask="fake")


def test_discriminator_warmup_trains_only_the_discriminator_first(smoke_data):
    config = smoke_config(smoke_data, type="prioritycut", mix_probability=1.0, mix_warmup_epochs=0.0)
    config["train_params"]["discriminator_warmup_epochs"] = 1.0
    trainer = build_trainer(config, torch.device("cpu"))
    batch = next(iter(make_dataloader(config, trainer.group, generator=torch.Generator().manual_seed(0))))

    def states():   # parameters (batch-norm running statistics update in any train-mode forward)
        return {name: {k: p.detach().clone() for k, p in trainer.network(name).named_parameters()}
                for name in trainer.models.networks()}

    def changed(before, after):
        return {name for name in before if any(not torch.equal(before[name][k], after[name][k]) for k in before[name])}

    for step in range(3):
        before = states()
        values, _, mixing = train_step(trainer, batch, epoch_float=0.5 * step)
        if step < 2:      # epochs 0 and 0.5: the generator as it is, only the discriminator learns, unmixed
            assert changed(before, states()) == {"discriminator"}
            assert set(values) == {"disc_unet_encoder", "disc_unet_decoder"}
            assert not mixing.mixed
        else:             # mixing (p = 1) starts with the generator
            assert changed(before, states()) == {"generator", "kp_detector", "discriminator"}
            assert "reconstruction" in values and "gen_unet_encoder" in values
            assert mixing.mixed and mixing.mask is not None and "consistency" in values


def test_discriminator_steps_per_generator_step_updates_the_generator_every_nth_step(smoke_data):
    config = smoke_config(smoke_data)
    config["train_params"]["discriminator_steps_per_generator_step"] = 3
    trainer = build_trainer(config, torch.device("cpu"))
    batch = next(iter(make_dataloader(config, trainer.group, generator=torch.Generator().manual_seed(0))))
    updated = []
    for _ in range(6):
        before = {k: p.detach().clone() for k, p in trainer.network("generator").named_parameters()}
        values, _, _ = train_step(trainer, batch, epoch_float=0.0)
        trainer.step += 1
        after = dict(trainer.network("generator").named_parameters())
        updated.append(any(not torch.equal(before[k], after[k]) for k in before))
        assert ("reconstruction" in values) == updated[-1] and "disc_unet_encoder" in values
    assert updated == [True, False, False, True, False, False]
    with pytest.raises(ValueError, match="discriminator_steps_per_generator_step"):
        config["train_params"]["discriminator_steps_per_generator_step"] = 0
        build_trainer(resolve_config(config), torch.device("cpu"))


@pytest.mark.slow
def test_a_variant_continued_from_a_shared_warmup_equals_its_own_run(smoke_data, tmp_path):
    """Mixing waits for the discriminator warm-up, so the warm-up is the same for every
    regularizer: pcut experiment trains it once per seed (with regularizer none) and continues
    each U-Net variant from it. That must give the numbers the variant's own run gives."""
    config = smoke_config(smoke_data, type="prioritycut", mix_probability=1.0, mix_warmup_epochs=0.0)
    config["train_params"]["discriminator_warmup_epochs"] = 1.0
    own = train(config, tmp_path / "own", device="cpu", progress=False)

    warmup = copy.deepcopy(config)
    warmup["regularizer"]["type"] = "none"
    warmup["train_params"]["num_epochs"] = 1
    shared = Path(train(warmup, tmp_path / "warmup", device="cpu", progress=False))
    continue_from(shared, tmp_path / "branch")
    branch = train(config, tmp_path / "branch", device="cpu", progress=False, resume=True)

    own_state, branch_state = torch.load(own, weights_only=False), torch.load(branch, weights_only=False)
    for name in ("generator", "kp_detector", "discriminator"):
        for key, value in own_state[name].items():
            assert torch.equal(value, branch_state[name][key]), (name, key)
    rows = [json.loads(line) for line in (tmp_path / "branch" / "log.jsonl").read_text().splitlines()]
    assert [row["mixed"] for row in rows] == [json.loads(line)["mixed"] for line in
                                              (tmp_path / "own" / "log.jsonl").read_text().splitlines()]
    assert any(row["mixed"] for row in rows) and not any(row["mixed"] for row in rows if row["epoch"] == 1)


@pytest.mark.parametrize("regularizer", ["cutmix", "prioritycut"])
def test_mixed_terms_ramp_in_over_their_warmup(smoke_data, regularizer):
    """regularizer.mixed_terms_warmup_epochs scales every mixed term by min(1, epochs mixing /
    warm-up) and nothing else: the same step at a quarter of the ramp gives a quarter of each
    mixed term and the same plain terms."""
    config = smoke_config(smoke_data, type=regularizer, mix_probability=1.0, mix_warmup_epochs=0.0)
    config["train_params"]["loss_weights"]["generator_gan"] = 1
    config["train_params"]["discriminator_warmup_epochs"] = 1.0
    batch = next(iter(make_dataloader(config, build_trainer(config, torch.device("cpu")).group)))
    results = {}
    for ramp in (0.0, 2.0):                 # at epoch 1.5 (0.5 epochs of mixing): weight 1 and 0.25
        config["regularizer"]["mixed_terms_warmup_epochs"] = ramp
        torch.manual_seed(0)
        trainer = build_trainer(config, torch.device("cpu"))
        torch.manual_seed(1)
        results[ramp], _, mixing = train_step(trainer, batch, epoch_float=1.5)
        assert mixing.mixed
    mixed_names = {"disc_mix_encoder", "disc_mix_decoder", "consistency"}
    assert mixed_names <= set(results[0.0])
    for name, value in results[0.0].items():
        expected = 0.25 * value if name in mixed_names else value
        assert results[2.0][name] == pytest.approx(expected, rel=1e-4, abs=1e-7), name


@pytest.mark.parametrize("regularizer", ["none", "prioritycut"])
def test_bf16_autocast_step_runs_on_the_cpu_close_to_float32(smoke_data, regularizer):
    """train_params.mixed_precision=bf16 on the CPU: the generator computes under bf16 autocast,
    the keypoints, weights, optimizer states and losses stay float32, and the losses agree with
    the float32 step to bf16's precision (8 bits of mantissa: a few in a thousand)."""
    config = smoke_config(smoke_data, type=regularizer, mix_probability=1.0, mix_warmup_epochs=0.0)
    config["model_params"]["discriminator_params"]["kind"] = "unet"
    config["train_params"]["loss_weights"]["generator_gan"] = 1
    batch = next(iter(make_dataloader(config, build_trainer(config, torch.device("cpu")).group)))
    results = {}
    for precision in ("none", "bf16"):
        config["train_params"]["mixed_precision"] = precision
        torch.manual_seed(0)
        trainer = build_trainer(config, torch.device("cpu"))
        assert trainer.autocast_dtype == (torch.bfloat16 if precision == "bf16" else None)
        values, generated, _ = train_step(trainer, batch, epoch_float=5.0)
        assert generated["prediction"].dtype in (torch.float32, torch.bfloat16)
        assert generated["kp_driving"]["value"].dtype == torch.float32
        assert all(p.dtype == torch.float32 for m in trainer.models.networks().values() for p in m.parameters())
        results[precision] = values
    assert results["none"].keys() == results["bf16"].keys()
    assert results["bf16"] != results["none"]                   # the autocast did compute in bf16
    for name, value in results["none"].items():
        assert torch.isfinite(torch.tensor(results["bf16"][name])), name
        assert results["bf16"][name] == pytest.approx(value, rel=0.05, abs=1e-3), name
    config["train_params"]["mixed_precision"] = "fp16"
    with pytest.raises(ValueError, match="fp16 needs CUDA"):
        build_trainer(config, torch.device("cpu"))


# --------------------------------------------------------------------------- SIGINT / SIGTERM during training

import re  # noqa: E402
import shlex  # noqa: E402
import signal  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402

from pcutlib.training import loop as training_loop  # noqa: E402
from pcutlib.training.interrupt import StopSignals, TrainingInterrupted  # noqa: E402


def stop_config(root, epochs=2):
    """The smoke run with 5 steps per epoch and figures only at the end (fast)."""
    config = smoke_config(root, type="prioritycut")
    config["train_params"].update(num_epochs=epochs, num_repeats=2, visualize_every=100)
    return resolve_config(config)


class SignalReachedTheTest(Exception):
    pass


@pytest.fixture
def guarded_signals():
    """SIGINT and SIGTERM raise SignalReachedTheTest while the test runs (so a signal that train
    did not catch fails the test instead of ending pytest); the handlers before are put back after."""
    def reached(number, frame):
        raise SignalReachedTheTest(signal.Signals(number).name)

    before = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)}
    for number in before:
        signal.signal(number, reached)
    yield reached
    for number, handler in before.items():
        signal.signal(number, handler)


@pytest.fixture(scope="module")
def uninterrupted_run(smoke_data, tmp_path_factory):
    """stop_config's run, never interrupted: the losses a resumed run must reproduce."""
    run = tmp_path_factory.mktemp("uninterrupted") / "run"
    train(stop_config(smoke_data), run, device="cpu", progress=False)
    return run


def send_signal_in_step(monkeypatch, number, at_step, times=1):
    """The training step numbered ``at_step`` (1-based, over the whole run) sends ``number`` to
    this process ``times`` times before it computes."""
    real_step = training_loop.train_step

    def step(trainer, batch, epoch_float):
        if trainer.step + 1 == at_step:
            for _ in range(times):
                signal.raise_signal(number)
        return real_step(trainer, batch, epoch_float)

    monkeypatch.setattr(training_loop, "train_step", step)


def test_sigint_in_a_step_stops_after_it_and_the_resume_is_exact(smoke_data, tmp_path, monkeypatch,
                                                                 guarded_signals, uninterrupted_run):
    config, run = stop_config(smoke_data), tmp_path / "run"
    steps = len(read_losses(uninterrupted_run)) // 2
    send_signal_in_step(monkeypatch, signal.SIGINT, at_step=steps + 2)          # step 2 of epoch 2
    with pytest.raises(TrainingInterrupted) as caught:
        train(config, run, device="cpu", progress=False)
    stopped = caught.value
    assert isinstance(stopped, KeyboardInterrupt) and stopped.signal_number == signal.SIGINT
    assert (stopped.epoch, stopped.steps_in_epoch, stopped.step, stopped.checkpoint_epoch) == (2, 2, steps + 2, 1)
    assert stopped.run_dir == run and stopped.exit_code == 130
    assert f"{run / 'checkpoints' / 'last.pt'} holds epoch 1 of 2" in str(stopped)
    assert "the 2 steps of epoch 2 will be repeated" in str(stopped)
    assert signal.getsignal(signal.SIGINT) is guarded_signals                     # handlers restored
    assert signal.getsignal(signal.SIGTERM) is guarded_signals
    state = torch.load(run / "checkpoints" / "last.pt", weights_only=True)
    assert (state["epoch"], state["step"]) == (1, steps)                       # the last finished epoch
    assert not list((run / "checkpoints").glob(".*.tmp"))
    assert len(read_losses(run)) == steps + 2                                  # the stopping step finished

    monkeypatch.setattr(training_loop, "train_step", train_step)
    train(config, run, device="cpu", progress=False, resume=True)
    assert read_losses(run) == read_losses(uninterrupted_run)


@pytest.mark.slow
def test_signals_while_last_pt_is_written_wait_for_it(smoke_data, tmp_path, monkeypatch, guarded_signals,
                                                      uninterrupted_run):
    """Two SIGTERMs while epoch 1's last.pt is being saved: the save finishes, then the run stops
    (after epoch 1, nothing to repeat) and resumes to the uninterrupted losses."""
    config, run = stop_config(smoke_data), tmp_path / "run"
    real_save = training_loop.save_training_checkpoint

    def save(trainer, path, rank_rngs=None):
        if Path(path).name == "last.pt" and trainer.epoch == 1:
            signal.raise_signal(signal.SIGTERM)
            signal.raise_signal(signal.SIGTERM)
        real_save(trainer, path, rank_rngs)

    monkeypatch.setattr(training_loop, "save_training_checkpoint", save)
    with pytest.raises(TrainingInterrupted) as caught:
        train(config, run, device="cpu", progress=False)
    stopped = caught.value
    assert (stopped.signal_number, stopped.exit_code) == (signal.SIGTERM, 143)
    assert (stopped.epoch, stopped.steps_in_epoch, stopped.checkpoint_epoch) == (2, 0, 1)
    assert "stopped by SIGTERM after epoch 1 of 2" in str(stopped) and "repeated" not in str(stopped)
    assert torch.load(run / "checkpoints" / "last.pt", weights_only=True)["epoch"] == 1
    assert signal.getsignal(signal.SIGTERM) is guarded_signals
    monkeypatch.setattr(training_loop, "save_training_checkpoint", real_save)
    train(config, run, device="cpu", progress=False, resume=True)
    assert read_losses(run) == read_losses(uninterrupted_run)


def test_a_second_sigint_in_a_step_stops_at_once(smoke_data, tmp_path, monkeypatch, guarded_signals):
    """The first signal waits for the step to finish, a second one in the same epoch does not;
    in the first epoch there is no checkpoint, so the command starts the run again."""
    run = tmp_path / "run"
    send_signal_in_step(monkeypatch, signal.SIGINT, at_step=2, times=2)
    with pytest.raises(TrainingInterrupted) as caught:
        train(stop_config(smoke_data), run, device="cpu", progress=False)
    stopped = caught.value
    assert (stopped.epoch, stopped.steps_in_epoch, stopped.step, stopped.checkpoint_epoch) == (1, 1, 1, None)
    assert len(read_losses(run)) == 1 and not (run / "checkpoints" / "last.pt").exists()
    assert "no epoch finished" in str(stopped)
    assert stopped.command().endswith("--overwrite") and "Start it again with" in stopped.message()
    assert signal.getsignal(signal.SIGINT) is guarded_signals


def test_training_interrupted_messages_and_the_signal_handlers_it_leaves(guarded_signals):
    def stopped(**where):
        return TrainingInterrupted(signal.SIGTERM, Path("runs/my run"), **{
            "epoch": 4, "steps_in_epoch": 17, "step": 167, "checkpoint_epoch": 3, "num_epochs": 10,
            "steps_per_epoch": 50, **where})

    middle = stopped()
    assert str(middle) == ("training stopped by SIGTERM in epoch 4 of 10 after 17 of its 50 steps (step 167 in all); "
                           "runs/my run/checkpoints/last.pt holds epoch 3 of 10; the 17 steps of epoch 4 will be "
                           "repeated on resume")
    middle.command_options = ["--device", "cuda:1"]
    assert middle.message().endswith("Resume with:\n  pcut train --config 'runs/my run/config.yaml' "
                                     "--run-dir 'runs/my run' --resume --device cuda:1")
    assert "torchrun as before, 4 processes" in stopped(world_size=4, rank=0).message()
    finished = stopped(epoch=11, steps_in_epoch=0, step=500, checkpoint_epoch=10)
    assert finished.message() == ("training stopped by SIGTERM after epoch 10 of 10 (step 500); runs/my run/"
                                  "checkpoints/last.pt holds epoch 10 of 10. The run is complete.")
    with pytest.raises(ValueError, match="99"):
        TrainingInterrupted(99, "runs/x", epoch=1, steps_in_epoch=0, step=0, checkpoint_epoch=None, num_epochs=1,
                            steps_per_epoch=1)

    elsewhere = StopSignals()
    thread = threading.Thread(target=elsewhere.install)                        # not the main thread: nothing
    thread.start()
    thread.join()
    assert signal.getsignal(signal.SIGINT) is guarded_signals
    with training_loop.stop_on_signals() as stop:
        assert signal.getsignal(signal.SIGINT) == stop.handle
        assert signal.getsignal(signal.SIGTERM) == stop.handle
    assert signal.getsignal(signal.SIGINT) is signal.getsignal(signal.SIGTERM) is guarded_signals


def without_ignored_stop_signals():
    """The child's SIGINT and SIGTERM as in an interactive shell (a test runner in the background
    may ignore SIGINT, and a child would inherit that)."""
    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, signal.SIG_DFL)


@pytest.mark.slow
@pytest.mark.parametrize("number, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_pcut_train_stopped_by_a_signal_exits_cleanly_and_says_how_to_resume(smoke_data, tmp_path, number, code):
    """A pcut train process signalled after its first checkpoint: exit 128 + signal, no traceback,
    the epoch last.pt holds and the command that resumes it, which then finishes the run."""
    run, env = tmp_path / "run", {**os.environ, "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "pcutlib.cli", "train", "--config", str(REPO / "configs" / "smoke.yaml"),
         "--data", str(smoke_data), "--run-dir", str(run), "--epochs", "3", "--num-repeats", "4", "--no-progress",
         "--set", "train_params.visualize_every=100"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, preexec_fn=without_ignored_stop_signals)
    deadline = time.monotonic() + 120
    while not (run / "checkpoints" / "last.pt").exists():                      # written atomically: complete
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()[1][-3000:]
        time.sleep(0.02)
    process.send_signal(number)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == code, stderr[-3000:]
    assert "Traceback" not in stderr, stderr
    held = re.search(r"training stopped by (\w+) .*checkpoints/last\.pt holds epoch (\d) of 3", stderr)
    assert held and held[1] == number.name and held[2] in "12", stderr
    resume = shlex.join(["pcut", "train", "--config", str(run / "config.yaml"), "--run-dir", str(run),
                         "--resume", "--no-progress"])
    assert stderr.rstrip().endswith(f"Resume with:\n  {resume}"), stderr
    if number == signal.SIGTERM:              # the command as the console script runs it (pcut = cli.main)
        from pcutlib.cli import main

        assert main(shlex.split(resume)[1:]) == 0
        assert torch.load(run / "checkpoints" / "last.pt", weights_only=True)["epoch"] == 3


@pytest.mark.slow
def test_torchrun_stopped_by_sigterm_stops_every_rank_at_one_step(smoke_data, tmp_path):
    """torchrun passes SIGTERM on to each rank: the ranks agree on the step to stop after (no rank
    waits in a collective), rank 0 alone prints the message, none prints a traceback (torchrun
    itself still reports the signal with its own), and the resume under torchrun finishes."""
    run, env = tmp_path / "run", {**os.environ, "OMP_NUM_THREADS": "1"}
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                "-m", "pcutlib.cli", "train"]
    process = subprocess.Popen(
        torchrun + ["--config", str(REPO / "configs" / "smoke.yaml"), "--data", str(smoke_data), "--run-dir", str(run),
                    "--epochs", "3", "--num-repeats", "8", "--device", "cpu", "--no-progress",
                    "--set", "train_params.visualize_every=100"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, preexec_fn=without_ignored_stop_signals)
    deadline = time.monotonic() + 300
    while not (run / "checkpoints" / "last.pt").exists():
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()[1][-3000:]
        time.sleep(0.02)
    process.send_signal(signal.SIGTERM)
    sent = time.monotonic()
    _, stderr = process.communicate(timeout=300)
    assert time.monotonic() - sent < 25, stderr[-3000:]        # before torchrun's SIGKILL (30 s): no rank hung
    assert stderr.count("pcut train: training stopped by SIGTERM") == 1, stderr[-3000:]
    assert "TrainingInterrupted" not in stderr and "KeyboardInterrupt" not in stderr, stderr[-3000:]
    assert f'File "{REPO / "pcutlib"}' not in stderr, stderr[-3000:]          # no traceback through pcutlib
    assert "torchrun as before, 2 processes" in stderr
    resume = stderr[stderr.index("Resume with"):].splitlines()[1].strip()
    finished = subprocess.run(torchrun + shlex.split(resume)[2:], capture_output=True, text=True, env=env, timeout=300)
    assert finished.returncode == 0, finished.stderr[-3000:]
    assert torch.load(run / "checkpoints" / "last.pt", weights_only=True)["epoch"] == 3


def test_the_weight_average_follows_the_generator_and_stands_for_the_checkpoint(smoke_data, tmp_path, capsys):
    """ema_decay: after each generator step theta_avg <- d theta_avg + (1 - d) theta (buffers
    copied); checkpoints keep the averages, load_models and a fine-tune's start take them, and a
    resumed run continues the average exactly."""
    from pcutlib.checkpoints.files import load_models, safe_torch_load
    from pcutlib.training.weight_average import WeightAverage

    config = smoke_config(smoke_data, type="none")
    config["train_params"]["ema_decay"] = 0.9
    trainer = build_trainer(config, torch.device("cpu"))
    average = trainer.weight_average
    assert set(average.averages) == {"kp_detector", "generator"}
    batch = next(iter(make_dataloader(config, trainer.group)))
    for step in range(3):
        before = {n: copy.deepcopy(m.state_dict()) for n, m in average.averages.items()}
        weights = copy.deepcopy(trainer.network("generator").state_dict())
        decay = min(0.9, (1 + step) / (10 + step))                  # the ramp: 0.1, 0.18, 0.25
        assert average.current_decay() == pytest.approx(decay)
        train_step(trainer, batch, epoch_float=0.0)
        moved = trainer.network("generator").state_dict()
        assert any(not torch.equal(moved[k], v) for k, v in weights.items() if v.is_floating_point())
        for name, module in average.averages.items():
            trained, parameters = trainer.network(name).state_dict(), dict(module.named_parameters())
            for key, value in module.state_dict().items():
                if key in parameters:
                    expected = decay * before[name][key] + (1 - decay) * trained[key]
                    assert torch.allclose(value, expected, rtol=1e-6, atol=1e-7), (name, key)
                else:
                    assert torch.equal(value, trained[key]), (name, key)     # buffers: copied
    assert average.updates == 3
    with pytest.raises(ValueError, match="ema_decay must be in"):
        WeightAverage({}, 1.0)

    config["train_params"]["num_epochs"] = 2
    last = train(config, tmp_path / "run", device="cpu", progress=False)
    state = safe_torch_load(last)
    assert set(state["weight_average"]) == {"kp_detector", "generator", "updates"}
    assert int(state["weight_average"]["updates"]) == state["step"]
    models, _ = load_models(last)
    for name in ("kp_detector", "generator"):
        loaded = getattr(models, name).state_dict()
        assert all(torch.equal(loaded[k], v) for k, v in state["weight_average"][name].items()), name
        assert any(not torch.equal(loaded[k], v) for k, v in state[name].items() if v.is_floating_point())
    from pcutlib.training.state import initialise_from
    tuned = build_trainer(config, torch.device("cpu"))
    initialise_from(tuned, last)                                     # a fine-tune starts from the averages
    for name in ("kp_detector", "generator"):
        own = tuned.network(name).state_dict()
        assert all(torch.equal(own[k], v) for k, v in state["weight_average"][name].items()), name
        kept = tuned.weight_average.averages[name].state_dict()
        assert all(torch.equal(kept[k], v) for k, v in state["weight_average"][name].items()), name
    # resume: one epoch, stopped, continued, equals the two epochs straight
    config["train_params"]["num_epochs"] = 1
    train(config, tmp_path / "resumed", device="cpu", progress=False)
    config["train_params"]["num_epochs"] = 2
    resumed = safe_torch_load(train(config, tmp_path / "resumed", device="cpu", progress=False, resume=True))
    assert int(resumed["weight_average"]["updates"]) == int(state["weight_average"]["updates"])
    for name in ("kp_detector", "generator"):
        for key, value in state["weight_average"][name].items():
            assert torch.allclose(resumed["weight_average"][name][key], value, rtol=1e-5, atol=1e-6), (name, key)
    # resumed with ema_decay 0: the average is dropped, and the command says so
    config["train_params"]["ema_decay"], config["train_params"]["num_epochs"] = 0.0, 3
    train(config, tmp_path / "resumed", device="cpu", progress=False, resume=True)
    assert "keeps a weight average, but train_params.ema_decay is 0" in capsys.readouterr().out


def test_a_start_trained_at_another_dense_motion_scale_loads_and_runs_at_this_configs(tmp_path, capsys):
    from pcutlib.checkpoints.files import save_models
    from pcutlib.models.build import build_models
    from pcutlib.training.state import initialise_from
    config = resolve_config(load_config(REPO / "configs" / "smoke.yaml"))
    saved = build_models(config["model_params"])
    save_models(tmp_path / "half.pt", saved, config)
    full = copy.deepcopy(config)
    full["model_params"]["generator_params"]["dense_motion_params"]["scale_factor"] = 1
    trainer = build_trainer(full, torch.device("cpu"))
    initialise_from(trainer, tmp_path / "half.pt")
    network = trainer.models.generator.dense_motion_network
    assert network.scale_factor == 1 and not hasattr(network, "down")
    theirs = dict(saved.generator.dense_motion_network.named_parameters())
    assert all(torch.equal(value, theirs[name]) for name, value in network.named_parameters())
    assert ("was trained at scale_factor 0.5: it runs at 1 here (this config's), its weights kept"
            in capsys.readouterr().out)
    initialise_from(build_trainer(config, torch.device("cpu")), tmp_path / "half.pt")     # the same scale: silent
    assert "scale_factor" not in capsys.readouterr().out


def test_a_start_trained_with_the_other_flow_resize_says_so(tmp_path, capsys):
    """generator_params.aligned_resize changes no weight: the start loads, and one line says the
    resize differs from the checkpoint's; the same resize loads silently."""
    from pcutlib.checkpoints.files import save_models
    from pcutlib.models.build import build_models
    from pcutlib.training.state import initialise_from
    config = resolve_config(load_config(REPO / "configs" / "smoke.yaml"))
    save_models(tmp_path / "fomm.pt", build_models(config["model_params"]), config)
    aligned = copy.deepcopy(config)
    aligned["model_params"]["generator_params"]["aligned_resize"] = True
    trainer = build_trainer(aligned, torch.device("cpu"))
    initialise_from(trainer, tmp_path / "fomm.pt")
    assert trainer.models.generator.aligned_resize
    assert "was trained with aligned_resize false: it resizes its flow and occlusion map with true here" in (
        capsys.readouterr().out)
    initialise_from(build_trainer(config, torch.device("cpu")), tmp_path / "fomm.pt")
    assert "aligned_resize" not in capsys.readouterr().out
    aligned["model_params"]["generator_params"]["keep_visible_source"] = True
    initialise_from(build_trainer(aligned, torch.device("cpu")), tmp_path / "fomm.pt")
    assert "was trained with keep_visible_source false: it keeps the warped source where O is high: true here" in (
        capsys.readouterr().out)


def test_adam_beta1_reaches_every_optimizer(smoke_data):
    """train_params.adam_beta1 sets the first-moment decay of every Adam, FOMM's and TPSMM's
    (default 0.5, FOMM's); the second stays 0.999; a value of 1 or more is refused by name."""
    default = build_trainer(smoke_config(smoke_data, type="prioritycut"), torch.device("cpu"))
    assert {opt.param_groups[0]["betas"] for opt in default.optimizers.values()} == {(0.5, 0.999)}
    config = smoke_config(smoke_data, type="prioritycut")
    config["train_params"]["adam_beta1"] = 0.9
    trainer = build_trainer(config, torch.device("cpu"))
    assert {opt.param_groups[0]["betas"] for opt in trainer.optimizers.values()} == {(0.9, 0.999)}
    tpsmm = load_config(REPO / "configs" / "smoke-tpsmm.yaml")
    tpsmm["dataset_params"]["root_dir"] = str(smoke_data)
    tpsmm["train_params"]["adam_beta1"] = 0.9
    tpsmm_trainer = build_trainer(tpsmm, torch.device("cpu"))
    assert {opt.param_groups[0]["betas"] for opt in tpsmm_trainer.optimizers.values()} == {(0.9, 0.999)}
    config["train_params"]["adam_beta1"] = 1.0
    with pytest.raises(ValueError, match="'train_params.adam_beta1' must be between 0 and 0.999, got 1.0"):
        resolve_config(config)
