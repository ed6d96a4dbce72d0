"""Exercises the student writes: a stub cell raises NotImplementedError until it is written,
and the check cell after it compares the student's function with the library's on given
inputs, failing until they agree.

In the notebooks a stub cell carries the tag ``stub:NAME`` and its solution, at the end of the
notebook, the tag ``fills:NAME``; the tests execute each notebook with every stub replaced by
its solution (``fill_stubs``), so the checks run on a correct answer.
"""
from __future__ import annotations

import inspect
from typing import Callable, Iterable

import torch


class ExerciseNotWritten(AssertionError):
    """The stub of an exercise still raises NotImplementedError."""


def library_objects(reference: Callable) -> list:
    """What an answer may not call: the reference, and where the reference is a wrapper written in
    the notebook, the pcutlib objects it calls."""
    found = [reference]
    if inspect.isfunction(reference) and not reference.__module__.startswith("pcutlib"):
        named = inspect.getclosurevars(reference)
        found += [value for value in {**named.globals, **named.nonlocals}.values()
                  if getattr(value, "__module__", "").startswith("pcutlib")]
    return found


def names_used(function: Callable, seen: set | None = None) -> tuple[dict, set]:
    """The objects ``function`` refers to (its globals and closure, and theirs where they are
    functions written in the notebook) and every attribute or global name in its code."""
    seen = set() if seen is None else seen
    if not inspect.isfunction(function) or function in seen:
        return {}, set()
    seen.add(function)
    named = inspect.getclosurevars(function)
    objects, words = {**named.globals, **named.nonlocals}, set(named.unbound)
    codes = [function.__code__]
    while codes:
        code = codes.pop()
        words |= set(code.co_names)
        codes += [const for const in code.co_consts if inspect.iscode(const)]
    for value in list(objects.values()):
        if inspect.isfunction(value) and not value.__module__.startswith("pcutlib"):
            more, more_words = names_used(value, seen)
            objects.update(more)
            words |= more_words
    return objects, words


def check_exercise(label: str, candidate: Callable, reference: Callable, cases: Iterable[tuple],
                   compare: Callable[[torch.Tensor, torch.Tensor], bool] = torch.equal,
                   must_use: tuple[str, ...] = ()) -> int:
    """Exercise ``label``: candidate(*case) must equal reference(*case) (``compare``) on every case,
    without calling the reference (or, for a wrapper written in the notebook, the library code it
    calls), and mentioning each name of ``must_use`` (e.g. "topk" where the exercise asks for it).

    Raises ExerciseNotWritten while the candidate is a stub, AssertionError naming the first case
    that differs or the library object the answer calls; returns the number of cases checked and
    prints a line."""
    cases = list(cases)
    objects, words = names_used(candidate)
    for library in library_objects(reference):
        name = getattr(library, "__name__", repr(library))
        if candidate is library or any(value is library for value in objects.values()) or (
                name in words and name not in objects):
            raise AssertionError(f"exercise {label}: the answer calls the library's {name}; write it yourself")
    missing = [name for name in must_use if name not in words]
    if missing:
        raise AssertionError(f"exercise {label}: the exercise asks for {', '.join(missing)}, which the answer does not use")
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
