"""Bad inputs through ``pcut``: every case of tools/fault_sweep.py must end in a clear message.

The cases and their classification are defined once, in tools/fault_sweep.py (run it for the
CLEAR/UNCLEAR/SILENT table); here each case is one test that asserts CLEAR (controls: OK).
The inputs (the synthetic world, bad files and checkpoints, the good 1-epoch run) are built
once per session. Cases that train are marked slow.

Most cases call ``pcutlib.cli.main`` in this process (a ``pcut`` subprocess spends about 5 s
importing); an uncaught exception becomes the traceback Python would print, so a traceback
still makes the case UNCLEAR. These run as a ``pcut`` subprocess, as the sweep runs them all:
the world control, the cases that train (they change threads and seeds for a whole run, and
the warning cases among them print through ``warnings``, which pytest would capture), and the
malicious pickle (``subprocess_only``: whether its payload runs must not depend on what this
process has imported or registered with torch).
"""
from __future__ import annotations

import shlex
import time
from pathlib import Path

import pytest
from conftest import load_tool

REPO = Path(__file__).resolve().parent.parent
STDERR_LINES = 12                   # lines of stderr an assertion message shows


sweep = load_tool("fault_sweep")

# The cases named against paths that are never written: their ids and marks, at collection time.
_UNBUILT = sweep.Inputs(Path("unbuilt"))
CONTROLS = [sweep.world_case(_UNBUILT)] + sweep.control_cases(_UNBUILT)
BAD_INPUTS = sweep.bad_input_cases(_UNBUILT)
WORLD_ID = CONTROLS[0].id
GOOD_RUN_ID = next(case.id for case in CONTROLS if case.name == sweep.GOOD_RUN_CONTROL)


def _params(cases: list) -> list:
    """pytest.param(case id) per case, marked slow when the case trains or must run as a subprocess
    (the malicious pickle through each command: tests/test_cli.py refuses it in-process fast)."""
    ids = [case.id for case in cases]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise ValueError(f"fault_sweep cases share ids {duplicates}: give them distinct names")
    return [pytest.param(case.id, id=case.id, marks=[pytest.mark.slow] if case.trains or case.subprocess_only else []) for case in cases]


@pytest.fixture(scope="session")
def world(tmp_path_factory):
    """(inputs, result of the world control): the synthetic world made by `pcut make-synthetic`."""
    inputs = sweep.Inputs(tmp_path_factory.mktemp("fault-sweep"))
    return inputs, sweep.run_case(sweep.world_case(inputs), inputs.work)


@pytest.fixture(scope="session")
def inputs(world):
    """The sweep's shared inputs (bad files, bad checkpoints, configs) beside the world."""
    inputs, result = world
    if result.verdict != "OK":
        pytest.fail("the world control failed, no case can run:\n" + describe(result))
    inputs.make_files()
    return inputs


@pytest.fixture(scope="session")
def cases(inputs) -> dict:
    """Every case (controls too) by id, against the session's inputs."""
    return {case.id: case for case in [sweep.world_case(inputs)] + sweep.control_cases(inputs)
            + sweep.bad_input_cases(inputs)}


@pytest.fixture(scope="session")
def good_run(inputs, cases):
    """The good 1-epoch run (a control) that each case of the run group continues a copy of."""
    return sweep.run_case(cases[GOOD_RUN_ID], inputs.work)


def in_process(case) -> bool:
    """Whether the case may call pcutlib.cli.main in the test process (see the module docstring)."""
    return not (case.trains or case.subprocess_only or case.expect == "warn")


def run_in_process(case, work: Path, capfd, monkeypatch):
    """The case through pcutlib.cli.main in ``work``, stdout and stderr read at the descriptors."""
    monkeypatch.chdir(work)
    monkeypatch.setenv("COLUMNS", "200")                 # as run_case sets it: argparse wraps its usage
    if case.setup is not None:
        case.setup()
    capfd.readouterr()
    started = time.perf_counter()
    code, exit_text = sweep.call_pcut_main(case.argv)
    out, err = capfd.readouterr()
    return sweep.classified(case, code, out, err + exit_text, time.perf_counter() - started, work)


def run(case, work: Path, capfd, monkeypatch):
    """The case's classified Result: in this process where it may, else as a subprocess."""
    if in_process(case):
        return run_in_process(case, work, capfd, monkeypatch)
    return sweep.run_case(case, work)


def describe(result) -> str:
    """The verdict and note, the command, its exit code and the first lines of its stderr."""
    lines = result.err.strip().splitlines()
    shown = "\n".join("    " + line for line in lines[:STDERR_LINES])
    more = f"\n    ... ({len(lines) - STDERR_LINES} more lines)" if len(lines) > STDERR_LINES else ""
    return (f"{result.case.id}: {result.verdict}{' (' + result.note + ')' if result.note else ''}\n"
            f"  command: pcut {shlex.join(result.case.argv)}\n"
            f"  exit code: {'timed out' if result.code is None else result.code}\n"
            f"  stderr:\n{shown or '    (empty)'}{more}")


@pytest.mark.parametrize("case_id", _params(CONTROLS))
def test_control_passes(case_id, world, request, capfd, monkeypatch):
    """Good inputs exit 0: the harness itself works."""
    if case_id == WORLD_ID:
        result = world[1]
    elif case_id == GOOD_RUN_ID:
        result = request.getfixturevalue("good_run")
    else:
        result = run(request.getfixturevalue("cases")[case_id], world[0].work, capfd, monkeypatch)
    assert result.verdict == "OK", describe(result)


@pytest.mark.parametrize("case_id", _params(BAD_INPUTS))
def test_bad_input_is_clear(case_id, inputs, cases, request, capfd, monkeypatch):
    """A bad input ends in a message naming the culprit, and the case's own check holds."""
    case = cases[case_id]
    if case.group == "run":
        good = request.getfixturevalue("good_run")
        if good.verdict != "OK":
            pytest.fail("the good 1-epoch run this case continues failed:\n" + describe(good))
    result = run(case, inputs.work, capfd, monkeypatch)
    assert result.verdict == "CLEAR", describe(result)
