"""Exercises the student writes: a stub cell raises NotImplementedError until it is written,
and the check cell after it compares the student's function with the library's on given
inputs, failing until they agree.

In the notebooks a stub cell carries the tag ``stub:NAME`` and its solution, at the end of the
notebook, the tag ``fills:NAME``; the tests execute each notebook with every stub replaced by
its solution (``fill_stubs``), so the checks run on a correct answer.
"""
from __future__ import annotations

from typing import Callable, Iterable

import torch


class ExerciseNotWritten(AssertionError):
    """The stub of an exercise still raises NotImplementedError."""


def check_exercise(label: str, candidate: Callable, reference: Callable, cases: Iterable[tuple],
                   compare: Callable[[torch.Tensor, torch.Tensor], bool] = torch.equal) -> int:
    """Exercise ``label``: candidate(*case) must equal reference(*case) (``compare``) on every case.

    Raises ExerciseNotWritten while the candidate is a stub, AssertionError naming the first case
    that differs; returns the number of cases checked and prints a line."""
    cases = list(cases)
    for number, case in enumerate(cases, 1):
        try:
            answer = candidate(*case)
        except NotImplementedError:
            raise ExerciseNotWritten(f"exercise {label}: not written yet; fill in the cell above "
                                     f"(the solution is at the end of the notebook)") from None
        expected = reference(*case)
        if not compare(answer, expected):
            shapes = (tuple(answer.shape), tuple(expected.shape)) if torch.is_tensor(answer) else (answer, expected)
            raise AssertionError(f"exercise {label}: case {number} of {len(cases)} differs from the library "
                                 f"({shapes[0]} vs {shapes[1]})")
    print(f"exercise {label}: agrees with the library on {len(cases)} case(s)")
    return len(cases)


def fill_stubs(notebook: dict) -> dict:
    """The notebook (nbformat JSON as a dict) with each ``stub:NAME`` cell's source replaced by
    the source of its ``fills:NAME`` cell; a stub without a solution is an error naming it."""
    def tagged(prefix):
        return {tag[len(prefix):]: cell for cell in notebook["cells"]
                for tag in cell.get("metadata", {}).get("tags", []) if tag.startswith(prefix)}
    stubs, solutions = tagged("stub:"), tagged("fills:")
    missing = sorted(set(stubs) - set(solutions))
    if missing:
        raise ValueError(f"stub cells without a fills: solution cell: {missing}")
    for name, cell in stubs.items():
        cell["source"] = solutions[name]["source"]
    return notebook
