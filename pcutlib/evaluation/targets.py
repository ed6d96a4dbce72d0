"""The targets of ``pcut diagnose``: what the shipped model must reach, each printed beside its figure.

A :class:`Target` reads one field of a ``Diagnosis`` (``pcutlib.evaluation.diagnose``); TARGETS names
them all (the issue's targets for motion, occlusion map, PriorityCut mask and discriminator).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from pcutlib.evaluation.metrics import percent_below


# What the shipped model must reach; printed beside each figure.
@dataclass(frozen=True)
class Target:
    """A figure's target: ``field`` ``at_least`` (or at most) ``threshold``, times the baseline
    ``relative_to`` where given (e.g. animation L1 at most 0.6 x copying the source); ``name``
    tells apart two targets on one field."""
    field: str
    at_least: bool
    threshold: float
    text: str
    relative_to: str | None = None
    name: str | None = None

    def bound(self, diagnosis) -> float | None:
        if self.relative_to is None:
            return self.threshold
        base = getattr(diagnosis, self.relative_to)
        return None if base is None or math.isnan(base) else self.threshold * base

    def met(self, diagnosis) -> bool | None:
        """True or False; None where the figure (or its baseline) could not be computed."""
        value, bound = getattr(diagnosis, self.field), self.bound(diagnosis)
        if value is None or bound is None or (isinstance(value, float) and math.isnan(value)):
            return None
        return value >= bound if self.at_least else value <= bound


TARGETS = {target.name or target.field: target for target in [
    Target("moving_distinct_keypoints", True, 8, ">= 8 of 10"),
    Target("probe_px", False, 2.5, "<= 2.5"),
    Target("probe_px", False, 1.0, "<= silhouette probe", relative_to="silhouette_probe_px",
           name="probe_px_vs_silhouette"),
    Target("silhouette_iou", True, 0.85, ">= 0.85"),
    Target("occlusion_at_rest", True, 0.95, ">= 0.95"),
    Target("occlusion_auc_foreground", True, 0.8, ">= 0.8"),
    Target("occlusion_auc_figure", True, 0.75, ">= 0.75"),
    Target("mask_lift", True, 2.5, ">= 2.5"),
    Target("d_pixel_auc_true_disocclusion", True, 0.75, ">= 0.75"),
    Target("animation_l1", False, 0.6, "<= 0.6 x copy", relative_to="copy_animation_l1"),
]}


def target_verdicts(diagnosis) -> dict:
    """{target name: True (met), False (missed) or None (not measured)} for every target in TARGETS."""
    return {name: target.met(diagnosis) for name, target in TARGETS.items()}


def count_met(diagnosis) -> tuple[int, int]:
    """(targets met, targets measured) of a diagnosis."""
    measured = [met for met in target_verdicts(diagnosis).values() if met is not None]
    return sum(measured), len(measured)


def targets_line(title: str, diagnosis) -> str:
    """One line: how many targets the diagnosis meets, and each missed one with its figure."""
    verdicts = target_verdicts(diagnosis)
    measured = {name: met for name, met in verdicts.items() if met is not None}
    missed = [f"{TARGETS[name].field} {shown(getattr(diagnosis, TARGETS[name].field), TARGETS[name].bound(diagnosis))} "
              f"(target {TARGETS[name].text})" for name, met in measured.items() if not met]
    line = f"{title}: targets met {len(measured) - len(missed)} of {len(measured)}"
    line += f"; missed: {', '.join(missed)}" if missed else " (all met)"
    unmeasured = sorted(set(verdicts) - set(measured))
    return line + (f"; not measured: {', '.join(unmeasured)}" if unmeasured else "")


def shown(value: float, bound: float) -> str:
    """``value`` at 3 significant digits, more where 3 would round a miss onto its bound (0.8498, not 0.85)."""
    for digits in range(3, 8):
        text = f"{value:.{digits}g}"
        if float(text) != bound:
            break
    return text


def relative_change(value: float, baseline: float) -> str:
    """'36.4% below' or '12.0% above': value against baseline, in words that read naturally."""
    below = percent_below(value, baseline)
    return f"{abs(below):.1f}% {'below' if below > 0 else 'above'}"
