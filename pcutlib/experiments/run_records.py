"""Each experiment run's record, committed under ``results/``: how the run was made and what it
scored, so that ``pcut experiment`` resumes from the records on any machine and trains only the
runs that have none (the checkpoints stay in ``runs/``, outside the repository).

``<results>/experiment-<setting>/runs/<variant>-seed<seed>.json`` holds:

    made_from     ``runs.run_record`` of the run (its resolved config, the checkpoint it started
                  from, its warm-up), compared with today's run on resume without this
                  machine's paths (the checkpoint paths and the data folder: ``_comparable``)
    start         the first 16 hex digits of the SHA-256 of that starting checkpoint's file, or
                  null from scratch: two runs of a seed are compared only from the same start,
                  and a record whose start differs from the checkpoint here is made again
    test_videos   the held-out videos it was scored on, compared on resume
    scoring       what else the figures depend on (discriminator frames per video, probe
                  steps), compared on resume
    evaluation    ``runs.EVALUATION_VERSION``, compared on resume
    minutes       wall minutes of its training and scoring (its share of a shared warm-up included)
    summary       the pooled figures (``runs.evaluate_checkpoint``), per_video its rows

A record that differs from today's run in any compared field is not used: the run trains again,
and the command says why in one line. The references (the reconstruction checkpoint and copying
the source frame) are recorded the same way as ``reference-<key>.json``.
"""
from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

from pcutlib.config import resolve_stored
from pcutlib.experiments.runs import EVALUATION_VERSION

RECORD_VERSION = 1
# the scoring of records written before they kept it: the command's defaults then (a field added
# later reads back at the value that was in force, as a config key does)
SCORING_BEFORE_THE_FIELD = {"quality_frames": 8, "probe_steps": 300}
SIGNIFICANT_DIGITS = 7     # the figures are kept to 7 significant digits (float32 training noise is larger)


def records_folder(results: Path, setting: str) -> Path:
    return Path(results) / f"experiment-{setting}" / "runs"


def run_record_path(results: Path, setting: str, variant: str, seed: int) -> Path:
    return records_folder(results, setting) / f"{variant}-seed{seed}.json"


def reference_record_path(results: Path, setting: str, key: str) -> Path:
    return records_folder(results, setting) / f"reference-{key}.json"


def file_digest(path: Path | None) -> str | None:
    """The first 16 hex digits of the SHA-256 of a file (a checkpoint), or None for no file."""
    if path is None:
        return None
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:16]


def _compact(value):
    """Floats to SIGNIFICANT_DIGITS, non-finite ones to None, through lists and dicts."""
    if isinstance(value, float):
        return None if not math.isfinite(value) else float(f"{value:.{SIGNIFICANT_DIGITS}g}")
    if isinstance(value, dict):
        return {key: _compact(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_compact(item) for item in value]
    return value


def _numbers(value):
    """The inverse of _compact's None for NaN, for the figures read back."""
    if value is None:
        return math.nan
    if isinstance(value, dict):
        return {key: _numbers(item) if key not in ("name", "source") else item for key, item in value.items()}
    if isinstance(value, list):
        return [_numbers(item) for item in value]
    return value


def _comparable(made_from: dict) -> dict:
    """A run_record as compared on resume: its config resolved against today's schema (as
    ``runs.read_run_record``: a key added later reads back at its default), without the paths that
    name this machine's files (the start checkpoint and the warm-up: ``start`` compares the
    checkpoint's content instead; the data folder: ``test_videos`` names the videos)."""
    made_from = json.loads(json.dumps(made_from))
    made_from.pop("init_from", None)
    made_from.pop("warm_start", None)
    config = resolve_stored(made_from.get("config")) or made_from.get("config")
    if isinstance(config, dict):
        config = json.loads(json.dumps(config, sort_keys=True, default=str))
        config.get("dataset_params", {}).pop("root_dir", None)
        made_from["config"] = config
    return made_from


def write_record(path: Path, made_from: dict | None, start: str | None, test_videos: list[str],
                 minutes: float, summary: dict, per_video: list[dict], scoring: dict | None = None) -> Path:
    """Write one run's (or reference's) record (module doc). Returns the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {"record_version": RECORD_VERSION, "made_from": made_from, "start": start,
                "test_videos": list(test_videos), "scoring": scoring or {}, "evaluation": EVALUATION_VERSION,
                "minutes": _compact(float(minutes)), "summary": _compact(summary), "per_video": _compact(per_video)}
    path.write_text(json.dumps(document, separators=(",", ":"), sort_keys=True) + "\n")
    return path


def read_record(path: Path, made_from: dict | None, test_videos: list[str], say=print, start: str | None = None,
                scoring: dict | None = None) -> dict | None:
    """The record at ``path`` when it was made as ``made_from`` says (``_comparable``; None: not
    compared), from the checkpoint whose digest is ``start`` (None: not compared, e.g. no
    checkpoint here), scored on ``test_videos`` with ``scoring`` by today's evaluation; else None,
    with one line saying why (nothing for a missing file). Figures come back with NaN for the nulls."""
    if not path.is_file():
        return None
    try:
        document = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        say(f"{path}: not a readable record ({error}); the run trains again")
        return None
    reasons = []
    if document.get("record_version") != RECORD_VERSION:
        reasons.append(f"record version {document.get('record_version')} (today {RECORD_VERSION})")
    if document.get("evaluation") != EVALUATION_VERSION:
        reasons.append(f"evaluation version {document.get('evaluation')} (today {EVALUATION_VERSION})")
    if document.get("test_videos") != list(test_videos):
        reasons.append("other held-out videos")
    if made_from is not None and _comparable(document.get("made_from") or {}) != _comparable(made_from):
        reasons.append("another config")
    if start is not None and document.get("start") != start:
        reasons.append(f"another starting checkpoint ({document.get('start')}; here {start})")
    stored_scoring = document["scoring"] if "scoring" in document else SCORING_BEFORE_THE_FIELD
    if scoring is not None and stored_scoring != scoring:
        reasons.append(f"other scoring settings {document.get('scoring')} (today {scoring or {}})")
    if reasons:
        say(f"{path.name}: recorded with {', '.join(reasons)}; made again")
        return None
    return {**document, "summary": _numbers(document["summary"]), "per_video": _numbers(document["per_video"]),
            "minutes": _numbers(document["minutes"])}
