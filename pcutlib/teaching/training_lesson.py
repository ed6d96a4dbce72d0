"""Notebooks 6 and 7, training and evaluation: the loss curves with their chance levels, the
notebook's training config, run summaries and tables, the pose probe and animations in HTML.
"""
from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import numpy as np
from matplotlib.animation import FuncAnimation
from matplotlib.figure import Figure

from pcutlib.checkpoints.files import safe_torch_load
from pcutlib.config import load_config, resolve_config, set_by_path
from pcutlib.evaluation.probes import load_probe, save_probe, train_pose_probe
from pcutlib.experiments.demo import finetune_config
from pcutlib.teaching.common import config_file, repository_root, shipped_model_path
from pcutlib.teaching.drawing import to_numpy_image
from pcutlib.training.visualize import LOG_FIELDS, read_log

# What a U-Net discriminator loss term is when D answers sigmoid = 1/2 everywhere (a discriminator
# at chance, weights 1): each BCE term is then ln 2; the D terms add a real and a fake BCE.
CHANCE_LOSS = {"disc_unet_encoder": (2 * math.log(2), "2 ln 2"), "disc_unet_decoder": (2 * math.log(2), "2 ln 2"),
               "disc_mix_encoder": (math.log(2), "ln 2"), "disc_mix_decoder": (math.log(2), "ln 2"),
               "gen_unet_encoder": (math.log(2), "ln 2"), "gen_unet_decoder": (math.log(2), "ln 2")}


def loss_figure(log_path: str | Path, names=None, smoothing: int = 10) -> Figure:
    """Loss curves from a run's log.jsonl (one panel per loss term, moving average in bold).

    U-Net discriminator terms carry a dashed line at their chance level (``CHANCE_LOSS``, for
    loss weight 1): a D term on that line means a discriminator that cannot tell real from fake.
    """
    rows = read_log(log_path)
    if not rows:
        raise FileNotFoundError(f"no log rows in {log_path}")
    names = names or list(dict.fromkeys(k for row in rows for k in row if k not in LOG_FIELDS))
    columns = min(4, len(names))
    figure = Figure(figsize=(3.0 * columns, 2.3 * math.ceil(len(names) / columns)))
    axes = figure.subplots(math.ceil(len(names) / columns), columns, squeeze=False)
    for ax, name in zip(axes.flat, names):
        steps, values = np.array([(r["step"], r[name]) for r in rows if name in r], dtype=float).T
        ax.plot(steps, values, alpha=0.35, linewidth=0.8)
        window = min(smoothing, len(values))
        ax.plot(steps[window - 1:], np.convolve(values, np.ones(window) / window, mode="valid"), linewidth=1.6)
        if name in CHANCE_LOSS:
            level, text = CHANCE_LOSS[name]
            ax.axhline(level, color="black", linestyle="--", linewidth=0.9)
            ax.annotate(f"chance: {text}", (0.02, level), xycoords=("axes fraction", "data"), xytext=(0, 2),
                        textcoords="offset points", fontsize=7)
        ax.set_title(name, fontsize=9)
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(names):]:
        ax.axis("off")
    figure.tight_layout()
    return figure


TRAINING_PHASES = ("finetune", "reconstruction")


def notebook_training_config(config_name: str | Path = "synthetic-64", phase: str = "finetune",
                             epochs: int | None = 6, regularizer: str | None = None,
                             top_k_percent: float | None = None, foreground_threshold: float | None = None,
                             batch_size: int | None = None, data_root: str | Path | None = None,
                             overrides: dict | None = None, root: str | Path | None = None) -> dict:
    """The config notebook 6 trains with, from its parameters.

    phase "finetune": the README's (and ``pcut demo``'s) adversarial fine-tune,
    ``pcutlib.experiments.demo.finetune_config``: U-Net discriminator, PriorityCut at the config's (or the
    given) top-k, generator_gan 1, lr 5e-5 for generator and keypoint detector, 2e-4 for the
    fresh discriminator, no learning-rate drops, region dropout off. phase "reconstruction":
    the config as it is (synthetic-64: generator_gan 0, no discriminator step).
    Then, where given (None keeps the value): ``epochs``, ``regularizer`` (none | cutmix |
    prioritycut), ``foreground_threshold``, ``batch_size``, and ``overrides``
    ({"train_params.lr_generator": 1e-4, ...}; an unknown key is an error that names it).
    ``data_root`` None keeps the config's dataset root, relative to the repository.
    """
    if phase not in TRAINING_PHASES:
        raise ValueError(f"phase must be one of {TRAINING_PHASES}, got {phase!r}")
    config = load_config(config_file(config_name, root))
    if phase == "finetune":
        config = finetune_config(config, epochs if epochs is not None else config["train_params"]["num_epochs"],
                                 top_k_percent)
    chosen = {"train_params.num_epochs": epochs, "regularizer.type": regularizer,
              "regularizer.top_k_percent": top_k_percent, "regularizer.foreground_threshold": foreground_threshold,
              "train_params.batch_size": batch_size, **(overrides or {})}
    for key, value in chosen.items():
        if value is not None:
            set_by_path(config, key, value)
    dataset_root = Path(data_root) if data_root is not None else \
        repository_root(root) / config["dataset_params"]["root_dir"]
    config["dataset_params"]["root_dir"] = str(dataset_root)
    return resolve_config(config)


FITTING_SECTIONS = ("common_params", "kp_detector_params", "generator_params")


def shipped_model_fits(config: dict, path: str | Path | None = None) -> bool:
    """Whether the shipped model's keypoint detector and generator can start a run of ``config``
    (same ``model_params`` sections for both; the discriminator always starts fresh). Compared
    with the checkpoint's own config, else, when the file is missing, with configs/synthetic-64."""
    path = Path(path) if path is not None else shipped_model_path()
    shipped = safe_torch_load(path)["config"] if path.is_file() else load_config(config_file("synthetic-64"))
    return all(shipped["model_params"][name] == config["model_params"][name] for name in FITTING_SECTIONS)


def training_summary(config: dict) -> str:
    """The settings of a training config that notebook 6's prose talks about, one line each."""
    train_params, regularizer = config["train_params"], config["regularizer"]
    return "\n".join([
        f"epochs {train_params['num_epochs']} x {train_params['num_repeats']} repeats, batch "
        f"{train_params['batch_size']}, milestones {train_params['epoch_milestones']}",
        f"lr generator {train_params['lr_generator']:g}, keypoint detector {train_params['lr_kp_detector']:g}, "
        f"discriminator {train_params['lr_discriminator']:g}",
        f"generator_gan {train_params['loss_weights']['generator_gan']}, discriminator "
        f"{config['model_params']['discriminator_params']['kind']}, region dropout max "
        f"{train_params.get('region_dropout', {}).get('max', 0)}",
        f"regularizer {regularizer['type']}, top_k_percent {regularizer['top_k_percent']:g}, foreground "
        f"{regularizer['foreground']} < {regularizer['foreground_threshold']:g}, mix probability "
        f"{regularizer['mix_probability']:g} after {regularizer['mix_warmup_epochs']:g} warm-up epoch(s)",
        f"data {config['dataset_params']['root_dir']}"])


def compare_with_copy_baseline(summary: dict, metric: str = "l1") -> float:
    """Held-out ``metric`` of a run relative to copying the source frame: model / baseline.

    Warns (``UserWarning``) when the run ends at or above the baseline, i.e. when it does worse
    than a model that learnt nothing; returns the ratio (below 1 is better than copying).
    """
    ratio = summary[metric] / summary[f"baseline_{metric}"]
    if ratio >= 1:
        warnings.warn(f"held-out {metric} {summary[metric]:.4f} is not below copying the source frame "
                      f"({summary[f'baseline_{metric}']:.4f}): this run does worse than doing nothing",
                      stacklevel=2)
    return ratio


def pose_probe_for(data_root: str | Path, cache: str | Path | None = None, steps: int = 300,
                   progress: bool = False):
    """A pose probe (``pcutlib.evaluation.probes.PoseProbe``: frames -> the 14 true joints) trained on the
    train videos of a synthetic dataset, loaded from ``cache`` when that file exists (and
    saved there after training)."""
    if cache is not None and Path(cache).is_file():
        return load_probe(cache, kind="pose")
    probe = train_pose_probe(str(data_root), steps=steps, progress=progress)
    if cache is not None:
        Path(cache).parent.mkdir(parents=True, exist_ok=True)
        save_probe(cache, probe)
    return probe


def read_run_metrics(runs_root: str | Path) -> dict:
    """{run name: summary dict} from every ``<runs_root>/<name>/metrics.json``."""
    found = {}
    for path in sorted(Path(runs_root).glob("*/metrics.json")):
        document = json.loads(path.read_text())
        found[path.parent.name] = document.get("summary", document)
    return found


def metrics_table(summaries: dict, keys=("l1", "psnr", "ssim", "akd", "akd_gt", "aed")) -> str:
    """A text table: one row per run, the chosen metrics with the copy-source baseline after '|'."""
    keys = [k for k in keys if any(k in s for s in summaries.values())]
    width = max([34] + [len(name) + 2 for name in summaries])
    header = f"{'run':<{width}}" + "".join(f"{k:>10}" for k in keys) + "  |" + "".join(f"{'base ' + k:>12}" for k in keys)
    lines = [header]
    for name, summary in summaries.items():
        cell = lambda v: f"{v:10.4f}" if isinstance(v, (int, float)) else f"{'-':>10}"      # noqa: E731
        lines.append(f"{name:<{width}}" + "".join(cell(summary.get(k)) for k in keys) + "  |"
                     + "".join("  " + cell(summary.get(f"baseline_{k}")) for k in keys))
    return "\n".join(lines)


def animation_html(videos: dict, fps: int = 8, size: float = 2.0) -> str:
    """An HTML5/JavaScript animation (no ffmpeg needed) of named (T,3,H,W) videos side by side."""
    names = list(videos)
    frames = min(len(v) for v in videos.values())
    figure = Figure(figsize=(size * len(names), size + 0.3))
    axes = figure.subplots(1, len(names), squeeze=False)[0]
    shown = []
    for ax, name in zip(axes, names):
        shown.append(ax.imshow(to_numpy_image(videos[name][0]), interpolation="nearest"))
        ax.set_title(name, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    figure.tight_layout()

    def update(t):
        for image, name in zip(shown, names):
            image.set_data(to_numpy_image(videos[name][t]))
        return shown

    return FuncAnimation(figure, update, frames=frames, interval=1000 / fps, blit=False).to_jshtml()
