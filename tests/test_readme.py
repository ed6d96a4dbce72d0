"""Every command block of the README runs as written.

Each ```bash block in README.md is preceded by a marker comment that says how this test
treats it:

    <!-- readme-test: run -->            run each command as written
    <!-- readme-test: run-short -->      run it, with `--epochs 1` added to the training
                                         commands (`pcut train`, `pcut calibrate`) and
                                         `pcut export-pretrained` writing to a temporary file
    <!-- readme-test: skip REASON -->    not run here (REASON says why: a GPU, a real dataset,
                                         the two set-up commands CI itself runs)

Commands run in one temporary working directory, in README order, so a block may use what an
earlier block made (data/, runs/).
"""
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
MARKER = re.compile(r"<!-- readme-test: (run-short|run|skip)\s*(.*?)\s*-->\s*\n```bash\n(.*?)```", re.S)


def readme_blocks() -> list[tuple[str, str, str]]:
    """(mode, reason, block text) of every marked ```bash block, in README order."""
    return MARKER.findall((REPO / "README.md").read_text())


def commands(block: str) -> list[str]:
    """A block's commands: continuation lines joined, comments dropped."""
    joined = re.sub(r"\\\n\s*", " ", block)
    lines = [re.sub(r"\s+#.*$", "", line).strip() for line in joined.splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


def shortened(command: str, scratch: Path) -> str:
    words = shlex.split(command)
    if words[:2] in (["pcut", "train"], ["pcut", "calibrate"]):
        return f"{command} --epochs 1 --no-progress"
    if words[:2] == ["pcut", "export-pretrained"]:
        return f"{command} --out {shlex.quote(str(scratch / 'exported.pt'))}"
    return command


def test_every_bash_block_is_marked():
    text = (REPO / "README.md").read_text()
    assert text.count("```bash") == len(readme_blocks()), "a ```bash block has no readme-test marker"
    for mode, reason, _ in readme_blocks():
        assert mode != "skip" or reason, "a skipped block must say why"


@pytest.mark.slow
def test_readme_commands_run_as_written(tmp_path):
    blocks = [(mode, block) for mode, _, block in readme_blocks() if mode != "skip"]
    assert len(blocks) >= 2
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    work = tmp_path / "work"                   # not a clone: named configs come from pcutlib.paths
    work.mkdir()
    for mode, block in blocks:
        for command in commands(block):
            if mode == "run-short":
                command = shortened(command, scratch)
            if command.startswith("python "):
                command = f"{shlex.quote(sys.executable)} {command[len('python '):]}"
            done = subprocess.run(command, shell=True, cwd=work, env=env, capture_output=True, text=True,
                                  timeout=900)
            assert done.returncode == 0, f"README command failed: {command}\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
