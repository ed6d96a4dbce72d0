"""Fault and bad-input sweep: does each bad input end in a clear message?

Every case runs the public ``pcut`` command (``python -m pcutlib.cli``, this checkout first on
PYTHONPATH) as a subprocess in a temporary folder, with ``OMP_NUM_THREADS=1``, and is classified:

    CLEAR    non-zero exit, no Python traceback on stderr, the message names the culprit (the bad
             key, file or value) and the case's own check holds (e.g. the previous checkpoint is
             intact, no run folder was started, the pickle payload did not run)
    UNCLEAR  non-zero exit, but a traceback, a message that does not name the culprit, or a
             failed check
    SILENT   exit 0 on bad input

Cases that expect a warning and success (``--resume`` over a torn last log line, a FOMM key
pcut ignores) are CLEAR when they exit 0 with a warning naming the culprit and their check
holds, SILENT when they exit 0 without one, UNCLEAR otherwise. Control rows (good inputs that
must exit 0: the synthetic world, a good animation, a good 1-epoch run) check the harness
itself and are not counted.

Groups and cases:
  config      config values of the wrong type or out of range (booleans written as text: sn,
              channels_last, estimate_jacobian; a list given as a number or text:
              epoch_milestones, frame_shape; a fractional num_epochs; --epochs -1; counts of 0:
              checkpoint_freq, log_every, num_kp), a duplicate YAML key, an unknown key, a YAML
              syntax error, an unknown config name, an ignored FOMM key (warning),
              make-synthetic into a filled folder
  data        corrupt mp4, truncated mp4, truncated gif, zero-byte png, text saved as .png, a
              strip whose width is not a multiple of its height, a frame folder of mixed sizes
              (each through train (added to train/), evaluate --max-videos 1 (added to test/;
              it sorts last, so only the check when the dataset is built can find it) and
              animate --driving), a video with a garbage keypoint .npy, a flat folder holding
              one corrupt mp4; a bad file found only after training steps (not before the
              first) is UNCLEAR
  checkpoint  a text file, a truncated .pt, a pickle that would run code (it would only print a
              marker), weights of another architecture than the checkpoint's config (each
              through animate, evaluate, diagnose and train --init-from), a missing checkpoint,
              --perceptual-weights given the malicious pickle
  run         re-run into an existing run folder without --resume (refusal, folder unchanged),
              --resume over a torn last log line (warning, resume), NaN divergence (huge
              learning rates on resume: non-zero exit naming the step and the loss, last.pt
              unchanged); each on its own copy of the good 1-epoch run

Inputs are built as tests/test_cli.py, test_config.py, test_data.py and test_training.py build
them: configs/smoke.yaml (1 epoch) on a synthetic world of 6 videos x 6 frames at 32 px, and
the shipped pretrained/synthetic-64.pt for animate/evaluate. Not covered: read-only folders
(root ignores permissions) and a full disk.

Run (beside other CPU work, as DEVELOPERS.md asks), from the repository root:

    nice -n 19 env OMP_NUM_THREADS=1 python tools/fault_sweep.py            # all cases, a few minutes
    nice -n 19 env OMP_NUM_THREADS=1 python tools/fault_sweep.py --quick    # without the training-based cases

It prints one row per case (case, entry point, exit code, classification, first line of the
message), then the counts per group and in total. Exit status: 0 when every counted case is
CLEAR and every control passed, 1 otherwise. --keep keeps the temporary folder; --json FILE
also writes the rows.

The same cases are pytest tests (tests/test_faults.py). Listing the cases writes no file:
``Inputs`` only names the paths, ``Inputs.make_files`` writes what many cases share (after the
world control made the world), and each case's own files are written by its ``setup`` just
before it runs.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Callable

from pcutlib.config import set_by_path

REPO = Path(__file__).resolve().parent.parent
SMOKE = REPO / "configs" / "smoke.yaml"
PRETRAINED = REPO / "pretrained" / "synthetic-64.pt"
PAYLOAD_MARKER = "fault-sweep: the pickle payload ran"
TRACEBACK = "Traceback (most recent call last)"
GROUPS = ("config", "data", "checkpoint", "run")
TIMEOUT = 300                           # seconds per case
WORLD_CONTROL = "make-synthetic (tiny world)"
GOOD_RUN_CONTROL = "good 1-epoch run"
RUN_FILES = ("log.jsonl", "checkpoints/last.pt")      # what the run group compares


class Payload:
    """Unpickling this calls print(PAYLOAD_MARKER): harmless, and visible if it ever runs."""

    def __reduce__(self):
        return (print, (PAYLOAD_MARKER,))


@dataclass
class Case:
    name: str
    group: str                          # config, data, checkpoint, run, control
    argv: list[str]                     # after "pcut"
    culprit: list[str] = field(default_factory=list)    # regexes that must all match stderr
    expect: str = "error"               # error | warn | ok (control)
    check: Callable[["Result"], str | None] | None = None     # a problem, or None
    setup: Callable[[], None] | None = None                   # writes the case's own files
    trains: bool = False                # skipped by --quick
    subprocess_only: bool = False       # must not run inside the caller's process (a malicious pickle)

    @property
    def entry(self) -> str:
        """The subcommand and the option that carries the bad input."""
        flags = {"config": ("--epochs",), "data": ("--driving", "--data"),
                 "checkpoint": ("--init-from", "--perceptual-weights", "--checkpoint"),
                 "run": ("--resume",)}.get(self.group, ())
        used = [flag for flag in flags if flag in self.argv]
        return " ".join([self.argv[0]] + used[:1])

    @property
    def id(self) -> str:
        """group/name/entry in letters, digits, '.', '_' and '-', e.g. 'data/corrupt-mp4/train-data'."""
        return "/".join([self.group, slug(self.name), slug(self.entry)])


@dataclass
class Result:
    case: Case
    code: int | None
    out: str
    err: str
    seconds: float
    verdict: str = ""
    message: str = ""
    note: str = ""


def slug(text: str) -> str:
    """'sn: "False"' -> 'sn-False': every run of other characters than word ones and '.' as one '-'."""
    return re.sub(r"[^\w.]+", "-", text).strip("-")


# ----------------------------------------------------------------------------- running

def pcut_command() -> list[str]:
    return [sys.executable, "-m", "pcutlib.cli"]


def run_case(case: Case, work: Path, timeout: float = TIMEOUT) -> Result:
    """Write the case's files, run ``pcut`` as a subprocess in ``work`` and classify it."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1", "COLUMNS": "200",
           "PYTHONPATH": os.pathsep.join([str(REPO)] + [p for p in [os.environ.get("PYTHONPATH")] if p])}
    if case.setup is not None:
        case.setup()
    started = time.perf_counter()
    try:
        done = subprocess.run(pcut_command() + case.argv, cwd=work, env=env, capture_output=True, text=True,
                              timeout=timeout)
        code, out, err = done.returncode, done.stdout, done.stderr
    except subprocess.TimeoutExpired as error:
        code = None
        out = error.stdout.decode(errors="replace") if isinstance(error.stdout, bytes) else (error.stdout or "")
        err = error.stderr.decode(errors="replace") if isinstance(error.stderr, bytes) else (error.stderr or "")
    return classified(case, code, out, err, time.perf_counter() - started, work)


def call_pcut_main(argv: list[str]) -> tuple[int, str]:
    """``pcutlib.cli.main(argv)`` in this process: (exit code, what Python would add to stderr on
    leaving: the traceback of an uncaught exception, or the text of ``SystemExit("...")``)."""
    from pcutlib import cli

    try:
        return cli.main(argv), ""
    except SystemExit as stop:
        if stop.code is None or isinstance(stop.code, int):
            return stop.code or 0, ""
        return 1, f"{stop.code}\n"
    except Exception:                                       # noqa: BLE001 - the case reports it
        return 1, traceback.format_exc()


def classified(case: Case, code: int | None, out: str, err: str, seconds: float, work: Path) -> Result:
    """The Result of one run of ``case``, classified, its message with ``work`` written <tmp>."""
    result = Result(case, code, out, err, seconds)
    classify(result)
    result.message = result.message.replace(str(work), "<tmp>")
    return result


def message_line(result: Result) -> str:
    """The line that tells the user what happened: pcut's error line, the exception of a
    traceback, the warning (warn cases), or stdout's last line (exit 0)."""
    lines = [line.strip() for line in result.err.splitlines() if line.strip()]
    out = [line.strip() for line in result.out.splitlines() if line.strip()]
    for line in lines:
        if re.match(r"pcut [\w-]+: error: ", line):
            return line
    if TRACEBACK in result.err:
        return lines[-1]
    if result.case.expect == "warn" and result.code == 0:
        for line in lines:
            if "Warning" in line or "warning" in line:
                return line
    if result.code == 0 and out:
        return f"(stdout) {out[-1]}"
    return lines[-1] if lines else ""


def classify(result: Result) -> None:
    """Set result.verdict (CLEAR, UNCLEAR, SILENT; controls: OK, FAIL), message and note."""
    case, err = result.case, result.err
    result.message = message_line(result)
    traceback_seen = TRACEBACK in err
    missing = [pattern for pattern in case.culprit if not re.search(pattern, err)]
    notes = []
    if result.code is None:
        result.verdict, result.note = ("FAIL" if case.expect == "ok" else "UNCLEAR"), "timed out"
        return
    if PAYLOAD_MARKER in result.out + err:
        notes.append("THE PICKLE PAYLOAD RAN")
    problem = case.check(result) if case.check is not None else None
    if problem:
        notes.append(problem)
    if case.expect == "ok":
        result.verdict = "OK" if result.code == 0 and not notes else "FAIL"
        if result.code != 0:
            notes.append(err.strip().splitlines()[-1] if err.strip() else "no stderr")
    elif case.expect == "error":
        if result.code == 0:
            result.verdict = "SILENT"
        elif traceback_seen or missing or notes:
            result.verdict = "UNCLEAR"
        else:
            result.verdict = "CLEAR"
    else:                                                   # warn: success with a warning
        if result.code != 0 or traceback_seen:
            result.verdict = "UNCLEAR"
        elif missing:
            result.verdict = "SILENT"
        else:
            result.verdict = "UNCLEAR" if notes else "CLEAR"
    if traceback_seen:
        notes.append("traceback on stderr")
    if missing and result.verdict != "SILENT":
        notes.append("message does not name: " + ", ".join(missing))
    result.note = "; ".join(notes)


# ----------------------------------------------------------------------------- inputs

def write_yaml(path: Path, data: dict) -> Path:
    import yaml
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False, default_flow_style=False))
    return path


def frames_of_strip(path: Path):
    """(T,H,H,3) uint8 frames of a stacked PNG strip (as the synthetic world stores videos)."""
    import imageio.v3 as iio
    import numpy as np
    strip = iio.imread(path)[..., :3]
    height = strip.shape[0]
    return np.stack(np.split(strip, strip.shape[1] // height, axis=1))


class Inputs:
    """The paths of the temporary folder: the synthetic world, configs, bad files, bad
    checkpoints, runs. Naming them writes nothing; ``make_files`` writes the shared files."""

    def __init__(self, work: Path):
        self.work = work
        self.world = work / "world"
        self.configs = work / "configs"
        self.bad = work / "bad"
        self.worlds = work / "worlds"
        self.checkpoints = work / "checkpoints"
        self.runs = work / "runs"
        self.out = work / "out"
        self.base = self.configs / "base.yaml"
        self.source = work / "source.png"               # the first frame of the first train video
        self.driving = work / "driving.png"             # a copy of the first test video
        self.bad_files = {kind: self.bad / name for kind, name in [
            ("corrupt-mp4", "zz-corrupt.mp4"), ("truncated-mp4", "zz-truncated.mp4"),
            ("truncated-gif", "zz-truncated.gif"), ("zero-byte-png", "zz-zero.png"),
            ("text-as-png", "zz-text.png"), ("bad-strip-width", "zz-strip.png"), ("mixed-size-folder", "zz-mixed")]}
        self.bad_checkpoints = {kind: self.checkpoints / f"{kind}.pt"
                                for kind in ("text", "truncated", "malicious", "other-architecture")}

    def make_files(self) -> None:
        """Write the files many cases share; the world (the world control's output) must exist."""
        import imageio.v3 as iio

        for folder in (self.configs, self.bad, self.worlds, self.checkpoints, self.runs, self.out):
            folder.mkdir(parents=True, exist_ok=True)
        frames = frames_of_strip(sorted((self.world / "train").glob("*.png"))[0])
        iio.imwrite(self.source, frames[0])
        shutil.copy(sorted((self.world / "test").glob("*.png"))[0], self.driving)
        write_yaml(self.base, self.base_config())
        self.make_bad_files(frames)
        self.make_bad_checkpoints()

    def base_config(self) -> dict:
        """configs/smoke.yaml reading the world, 1 epoch."""
        import yaml
        base = yaml.safe_load(SMOKE.read_text())
        base["dataset_params"]["root_dir"] = str(self.world)
        base["train_params"]["num_epochs"] = 1
        return base

    def write_config(self, path: Path, dotted: str, value) -> None:
        """The base config with the (known) key ``dotted`` set to ``value``."""
        config = self.base_config()
        set_by_path(config, dotted, value)
        write_yaml(path, config)

    def write_unknown_key_config(self, path: Path) -> None:
        """The base config with train_params.lr_gen, a key pcut does not know (a typo of lr_generator)."""
        config = self.base_config()
        config["train_params"]["lr_gen"] = 1.0e-4
        write_yaml(path, config)

    def write_duplicate_key_config(self, path: Path) -> None:
        """The base config file with a second num_epochs under train_params."""
        text = self.base.read_text()
        if "\ntrain_params:\n" not in text:
            raise ValueError(f"{self.base} has no 'train_params:' line to add a duplicate key under")
        path.write_text(text.replace("\ntrain_params:\n", "\ntrain_params:\n  num_epochs: 3\n", 1))

    def make_bad_files(self, frames) -> None:
        """One bad video per kind, named zz-<kind>.<ext> so the message can be checked for it.
        frames: (T,H,H,3) uint8, a good video to spoil."""
        import imageio.v3 as iio
        import numpy as np

        bad = self.bad_files
        mp4, gif = self.bad / "good.mp4", self.bad / "good.gif"
        iio.imwrite(mp4, frames, fps=10)
        iio.imwrite(gif, frames, loop=0)
        rng = np.random.default_rng(0)
        bad["corrupt-mp4"].write_bytes(rng.integers(0, 256, 4096, dtype=np.uint8).tobytes())
        whole = mp4.read_bytes()
        bad["truncated-mp4"].write_bytes(whole[: len(whole) // 2])
        whole = gif.read_bytes()
        bad["truncated-gif"].write_bytes(whole[: len(whole) // 2])
        bad["zero-byte-png"].write_bytes(b"")
        bad["text-as-png"].write_text("this is text saved as .png\n")
        height = frames.shape[1]
        strip = np.concatenate(list(frames[:3]), axis=1)
        iio.imwrite(bad["bad-strip-width"], np.concatenate([strip, strip[:, :5]], axis=1))
        mixed = bad["mixed-size-folder"]
        mixed.mkdir()
        for i, size in enumerate([height, height, height + 4]):
            iio.imwrite(mixed / f"{i:03d}.png", np.zeros((size, size, 3), np.uint8))

    def world_with(self, root: Path, split: str, bad: Path) -> None:
        """A copy of the world at ``root`` with ``bad`` (a file or folder) added to ``split``."""
        shutil.copytree(self.world, root)
        target = root / split / bad.name
        if bad.is_dir():
            shutil.copytree(bad, target)
        else:
            shutil.copy(bad, target)

    def world_with_garbage_keypoints(self, root: Path, video: str) -> None:
        """A copy of the world at ``root`` with train/<video>.png, a good video, whose
        <video>.keypoints.npy is garbage."""
        shutil.copytree(self.world, root)
        shutil.copy(sorted((root / "train").glob("*.png"))[0], root / "train" / f"{video}.png")
        (root / "train" / f"{video}.keypoints.npy").write_bytes(b"garbage, not a numpy file" * 10)

    def flat_folder(self, flat: Path) -> None:
        """A folder holding one corrupt mp4 and nothing else."""
        flat.mkdir()
        shutil.copy(self.bad_files["corrupt-mp4"], flat / "clip.mp4")

    def make_bad_checkpoints(self) -> None:
        import torch

        from pcutlib.config import load_config, resolve_config

        c = self.bad_checkpoints
        torch.save({"kp_detector": Payload(), "generator": Payload()}, c["malicious"])
        c["text"].write_text("just text, not a checkpoint\n")
        whole = PRETRAINED.read_bytes()
        c["truncated"].write_bytes(whole[: len(whole) // 2])
        other = torch.load(PRETRAINED, weights_only=True)           # synthetic-64's weights ...
        config = load_config(SMOKE)
        other["config"]["model_params"] = resolve_config(config)["model_params"]     # ... under smoke's model
        torch.save(other, c["other-architecture"])


# ----------------------------------------------------------------------------- cases

def name_of(path: Path) -> str:
    return re.escape(path.name)


def no_run_folder(run: Path) -> Callable[[Result], str | None]:
    def check(result: Result) -> str | None:
        log = run / "log.jsonl"
        if log.exists() and log.read_text().strip():
            steps = len(log.read_text().strip().splitlines())
            return f"found only after {steps} logged training step(s), not when the dataset was built"
        if (run / "checkpoints").exists() or log.exists():
            return f"training started: {run.name}/ holds a run"
        return None
    return check


def world_case(inputs: Inputs) -> Case:
    """The control that makes the synthetic world every other case reads."""
    return Case(WORLD_CONTROL, "control",
                ["make-synthetic", "--out", str(inputs.world), "--videos", "6", "--frames", "6", "--size", "32",
                 "--no-progress"], expect="ok")


def run_options(inputs: Inputs) -> list[str]:
    """The options of the good run and the run group: 3 videos, batch 2, 3 repeats: 3 steps an epoch."""
    return ["--config", str(inputs.base), "--no-progress", "--device", "cpu", "--regularizer", "none",
            "--num-repeats", "3"]


def control_cases(inputs: Inputs) -> list[Case]:
    """The controls after the world: a good animation and the good 1-epoch run the run group continues."""
    animation = Case("good animation (pretrained)", "control",
                     ["animate", "--checkpoint", str(PRETRAINED), "--source", str(inputs.source), "--driving",
                      str(inputs.driving), "--out", str(inputs.out / "good.gif"), "--device", "cpu"], expect="ok")
    good_run = Case(GOOD_RUN_CONTROL, "control", ["train", "--run-dir", str(inputs.runs / "good")]
                    + run_options(inputs), expect="ok", trains=True)
    return [animation, good_run]


def config_cases(inputs: Inputs) -> list[Case]:
    common = ["--no-progress", "--device", "cpu"]
    values = [   # (case, dotted key, bad value)
        ("sn: \"False\"", "model_params.discriminator_params.sn", "False"),
        ("channels_last: \"false\"", "train_params.channels_last", "false"),
        ("estimate_jacobian: \"no\"", "model_params.common_params.estimate_jacobian", "no"),
        ("epoch_milestones: 60", "train_params.epoch_milestones", 60),
        ("epoch_milestones: \"1\"", "train_params.epoch_milestones", "1"),
        ("frame_shape: \"big\"", "dataset_params.frame_shape", "big"),
        ("num_epochs: 1.5", "train_params.num_epochs", 1.5),
        ("checkpoint_freq: 0", "train_params.checkpoint_freq", 0),
        ("log_every: 0", "train_params.log_every", 0),
        ("num_kp: 0", "model_params.common_params.num_kp", 0),
    ]
    cases = []
    for i, (label, key, value) in enumerate(values):
        path = inputs.configs / f"value-{i}.yaml"
        run = inputs.runs / f"config-value-{i}"
        cases.append(Case(label, "config", ["train", "--config", str(path), "--run-dir", str(run)] + common,
                          [re.escape(key)], check=no_run_folder(run),
                          setup=partial(inputs.write_config, path, key, value)))
    run = inputs.runs / "config-epochs-flag"
    cases.append(Case("--epochs -1", "config", ["train", "--config", str(inputs.base), "--run-dir", str(run),
                                                "--epochs", "-1"] + common,
                      [r"num_epochs|--epochs", r"-1"], check=no_run_folder(run)))
    duplicate = inputs.configs / "duplicate-key.yaml"
    run = inputs.runs / "config-duplicate"
    cases.append(Case("duplicate YAML key", "config", ["train", "--config", str(duplicate), "--run-dir", str(run)]
                      + common, [r"num_epochs", r"line \d+"], check=no_run_folder(run),
                      setup=partial(inputs.write_duplicate_key_config, duplicate)))
    unknown = inputs.configs / "unknown-key.yaml"
    run = inputs.runs / "config-unknown"
    cases.append(Case("unknown key train_params.lr_gen", "config",
                      ["train", "--config", str(unknown), "--run-dir", str(run)] + common, [r"lr_gen"],
                      check=no_run_folder(run), setup=partial(inputs.write_unknown_key_config, unknown)))
    broken = inputs.configs / "broken.yaml"
    run = inputs.runs / "config-broken"
    cases.append(Case("YAML syntax error", "config", ["train", "--config", str(broken), "--run-dir", str(run)]
                      + common, [r"broken\.yaml"], check=no_run_folder(run),
                      setup=partial(broken.write_text, "train_params: {num_epochs: 3\n")))
    run = inputs.runs / "config-missing"
    cases.append(Case("unknown config name", "config", ["train", "--config", "no-such-config", "--run-dir", str(run)]
                      + common, [r"no-such-config"], check=no_run_folder(run)))
    ignored = inputs.configs / "ignored-key.yaml"
    run = inputs.runs / "config-ignored"
    cases.append(Case("ignored FOMM key visualizer_params.kp_size", "config",
                      ["train", "--config", str(ignored), "--run-dir", str(run)] + common,
                      [r"visualizer_params\.kp_size"], expect="warn", trains=True,
                      setup=partial(inputs.write_config, ignored, "visualizer_params.kp_size", 9)))
    cases.append(Case("make-synthetic into a filled folder", "config",
                      ["make-synthetic", "--out", str(inputs.world), "--videos", "6", "--frames", "6", "--size", "32",
                       "--no-progress"], [re.escape(inputs.world.name), r"--overwrite"]))
    return cases


def data_cases(inputs: Inputs) -> list[Case]:
    common = ["--no-progress", "--device", "cpu"]
    cases = []
    for kind, bad in inputs.bad_files.items():
        culprit = [name_of(bad)]
        train_world, test_world = inputs.worlds / f"train-{kind}", inputs.worlds / f"test-{kind}"
        run = inputs.runs / f"data-{kind}"
        cases.append(Case(kind, "data", ["train", "--config", str(inputs.base), "--data", str(train_world),
                                         "--run-dir", str(run)] + common, culprit,
                          setup=partial(inputs.world_with, train_world, "train", bad), check=no_run_folder(run)))
        cases.append(Case(kind, "data", ["evaluate", "--checkpoint", str(PRETRAINED), "--data", str(test_world),
                                         "--out", str(inputs.out / f"eval-{kind}"), "--max-videos", "1"] + common,
                          culprit, setup=partial(inputs.world_with, test_world, "test", bad)))
        cases.append(Case(kind, "data", ["animate", "--checkpoint", str(PRETRAINED), "--source", str(inputs.source),
                                         "--driving", str(bad), "--out", str(inputs.out / f"animate-{kind}.gif"),
                                         "--device", "cpu"], culprit))
    root, video = inputs.worlds / "garbage-keypoints", "zz-garbage-keypoints"
    run = inputs.runs / "data-keypoints"
    cases.append(Case("garbage keypoint .npy", "data", ["train", "--config", str(inputs.base), "--data", str(root),
                                                        "--run-dir", str(run)] + common,
                      [re.escape(f"{video}.keypoints.npy")], check=no_run_folder(run),
                      setup=partial(inputs.world_with_garbage_keypoints, root, video)))
    flat = inputs.worlds / "flat"
    run = inputs.runs / "data-flat"
    cases.append(Case("flat folder, one corrupt mp4", "data", ["train", "--config", str(inputs.base), "--data",
                                                               str(flat), "--run-dir", str(run)] + common,
                      [r"clip\.mp4"], check=no_run_folder(run), setup=partial(inputs.flat_folder, flat)))
    return cases


def checkpoint_cases(inputs: Inputs) -> list[Case]:
    labels = {"text": "text file as checkpoint", "truncated": "truncated .pt",
              "malicious": "pickle that would run code", "other-architecture": "weights of another architecture"}
    common = ["--no-progress", "--device", "cpu"]
    cases = []
    for kind, path in inputs.bad_checkpoints.items():
        culprit, isolated = [name_of(path)], kind == "malicious"
        run = inputs.runs / f"init-{kind}"
        readers = [["animate", "--checkpoint", str(path), "--source", str(inputs.source), "--driving",
                    str(inputs.driving), "--out", str(inputs.out / f"ckpt-{kind}.gif"), "--device", "cpu"],
                   ["evaluate", "--checkpoint", str(path), "--data", str(inputs.world), "--out",
                    str(inputs.out / f"ckpt-eval-{kind}"), "--max-videos", "1"] + common,
                   ["diagnose", "--checkpoint", str(path), "--data", str(inputs.world), "--max-videos", "1"] + common]
        for argv in readers:
            cases.append(Case(labels[kind], "checkpoint", argv, culprit, subprocess_only=isolated))
        cases.append(Case(labels[kind], "checkpoint", ["train", "--config", str(inputs.base), "--run-dir", str(run),
                                                       "--init-from", str(path)] + common,
                          culprit, check=no_run_folder(run), subprocess_only=isolated))
    missing = inputs.checkpoints / "missing.pt"
    cases.append(Case("missing checkpoint", "checkpoint", ["animate", "--checkpoint", str(missing), "--source",
                                                           str(inputs.source), "--driving", str(inputs.driving),
                                                           "--out", str(inputs.out / "missing.gif"), "--device", "cpu"],
                      [name_of(missing)]))
    malicious = inputs.bad_checkpoints["malicious"]
    config = inputs.configs / "perceptual.yaml"
    run = inputs.runs / "perceptual-malicious"
    cases.append(Case(labels["malicious"], "checkpoint",
                      ["train", "--config", str(config), "--run-dir", str(run), "--perceptual-weights",
                       str(malicious)] + common, [name_of(malicious)], check=no_run_folder(run),
                      setup=partial(inputs.write_config, config, "train_params.loss_weights.perceptual", [1] * 5),
                      subprocess_only=True))
    return cases


class RunCopies:
    """Copies of the good 1-epoch run, one per run-group case, and their RUN_FILES as copied."""

    def __init__(self, good: Path):
        self.good = good
        self.copied: dict[Path, dict[str, bytes]] = {}

    def copy(self, target: Path) -> None:
        shutil.copytree(self.good, target)
        self.copied[target] = {name: (target / name).read_bytes() for name in RUN_FILES}

    def copy_and_tear(self, target: Path) -> None:
        """A copy whose log.jsonl ends in a half-written line."""
        self.copy(target)
        with open(target / "log.jsonl", "a") as log:
            log.write('{"step": 99, "reconstr')

    def unchanged(self, target: Path, result: Result) -> str | None:
        changed = [name for name, data in self.copied[target].items() if (target / name).read_bytes() != data]
        return f"changed: {', '.join(changed)}" if changed else None

    def resumed(self, target: Path, result: Result) -> str | None:
        """None when log.jsonl is whole again, counts its steps from 1 on past the copy's, and epoch 2 was saved."""
        logged = len(self.copied[target]["log.jsonl"].decode().splitlines())
        rows = [json.loads(line) for line in (target / "log.jsonl").read_text().splitlines()]   # fails if still torn
        steps = [row["step"] for row in rows]
        if steps != list(range(1, len(steps) + 1)) or len(steps) <= logged:
            return f"log steps after resume: {steps}"
        return None if (target / "checkpoints" / "epoch-2.pt").exists() else "no epoch-2.pt after the resume"

    def last_kept(self, target: Path, result: Result) -> str | None:
        """None when checkpoints/last.pt is still the copy's."""
        import torch
        last = target / "checkpoints" / "last.pt"
        if last.read_bytes() != self.copied[target]["checkpoints/last.pt"]:
            state = torch.load(last, weights_only=True)
            finite = all(torch.isfinite(v).all() for v in state["generator"].values() if v.is_floating_point())
            return "last.pt was replaced" + ("" if finite else " by non-finite weights")
        return None


def run_cases(inputs: Inputs) -> list[Case]:
    """The run group: each case continues its own copy of the good 1-epoch run (a control)."""
    copies = RunCopies(inputs.runs / "good")
    common = run_options(inputs)
    rerun, torn, nan = inputs.runs / "rerun", inputs.runs / "torn", inputs.runs / "nan"
    huge = [f"--set=train_params.{name}=1.0e+12" for name in ("lr_generator", "lr_kp_detector", "lr_discriminator")]
    return [
        Case("re-run into an existing run folder", "run", ["train", "--run-dir", str(rerun)] + common,
             [re.escape(rerun.name), r"--resume"], setup=partial(copies.copy, rerun),
             check=partial(copies.unchanged, rerun), trains=True),
        Case("--resume with a torn last log line", "run", ["train", "--run-dir", str(torn), "--resume",
                                                          "--epochs", "2"] + common,
             [r"log\.jsonl", r"torn"], expect="warn", setup=partial(copies.copy_and_tear, torn),
             check=partial(copies.resumed, torn), trains=True),
        Case("NaN divergence (lr 1e12, on resume)", "run", ["train", "--run-dir", str(nan), "--resume",
                                                           "--epochs", "3"] + common + huge,
             # a non-finite loss, or (losses still finite) the weight that went non-finite
             [r"step \d+", r"(\w+ = (nan|inf|-inf)\b|[\w.]+ holds non-finite values)"],
             setup=partial(copies.copy, nan), check=partial(copies.last_kept, nan), trains=True),
    ]


def bad_input_cases(inputs: Inputs) -> list[Case]:
    """Every counted case, group by group (the run group needs the good-run control first)."""
    return config_cases(inputs) + data_cases(inputs) + checkpoint_cases(inputs) + run_cases(inputs)


# ----------------------------------------------------------------------------- report

def shorten(text: str, width: int) -> str:
    return text if width <= 0 or len(text) <= width else text[: width - 3] + "..."


def print_row(result: Result, width: int) -> None:
    code = "T/O" if result.code is None else str(result.code)
    print(f"{result.case.group:<10}  {shorten(result.case.name, 42):<42}  {result.case.entry:<26}  {code:>4}  "
          f"{result.verdict:<7}  {shorten(result.message, width)}", flush=True)
    if result.note:
        print(f"{'':<10}  {'':<42}  {'':<26}  {'':>4}  {'':<7}  ^ {result.note}", flush=True)


def print_counts(results: list[Result]) -> bool:
    counted = [r for r in results if r.case.group != "control"]
    print("\ncounts (controls not counted)")
    print(f"{'group':<12}{'cases':>6}{'CLEAR':>7}{'UNCLEAR':>9}{'SILENT':>8}")
    for group in GROUPS + ("total",):
        rows = counted if group == "total" else [r for r in counted if r.case.group == group]
        if not rows:
            continue
        n = {v: sum(r.verdict == v for r in rows) for v in ("CLEAR", "UNCLEAR", "SILENT")}
        print(f"{group:<12}{len(rows):>6}{n['CLEAR']:>7}{n['UNCLEAR']:>9}{n['SILENT']:>8}")
    controls = [r for r in results if r.case.group == "control"]
    failed = [r for r in controls if r.verdict != "OK"]
    print(f"controls: {len(controls) - len(failed)} of {len(controls)} OK")
    return not failed and all(r.verdict == "CLEAR" for r in counted)


def write_json(path: Path, results: list[Result]) -> None:
    path.write_text(json.dumps([{"group": r.case.group, "case": r.case.name, "entry": r.case.entry,
                                 "argv": r.case.argv, "exit": r.code, "class": r.verdict, "message": r.message,
                                 "note": r.note, "seconds": round(r.seconds, 1)} for r in results], indent=1))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="skip the cases that train (run folder, resume, NaN)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder and print its path")
    parser.add_argument("--width", type=int, default=110, help="cut messages to this many characters (0: never)")
    parser.add_argument("--timeout", type=float, default=TIMEOUT, help="seconds per case (default: %(default)s)")
    parser.add_argument("--only", help="run only the cases whose name or entry holds this text (controls always)")
    parser.add_argument("--json", type=Path, help="also write the rows here")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="pcut-fault-sweep-"))
    inputs = Inputs(work)
    results: list[Result] = []
    print(f"{'group':<10}  {'case':<42}  {'entry point':<26}  {'exit':>4}  {'class':<7}  message")
    try:
        results.append(run_case(world_case(inputs), work, args.timeout))
        print_row(results[-1], args.width)
        if results[-1].verdict != "OK":
            print(results[-1].err[-3000:], file=sys.stderr)
            return 1
        inputs.make_files()
        for case in control_cases(inputs) + bad_input_cases(inputs):
            if args.quick and case.trains:
                continue
            if args.only and case.group != "control" and args.only not in case.name + " " + case.entry:
                continue
            results.append(run_case(case, work, args.timeout))
            print_row(results[-1], args.width)
        all_clear = print_counts(results)
        print(f"wall time: {time.perf_counter() - started:.0f} s ({len(results)} pcut runs"
              f"{', --quick' if args.quick else ''})")
        if args.json:
            write_json(args.json, results)
        return 0 if all_clear else 1
    finally:
        if args.keep:
            print(f"kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
