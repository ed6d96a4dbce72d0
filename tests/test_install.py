"""A non-editable install (``pip install <clone>``, as the Colab cell does) used outside the clone.

One temporary venv (torch, papermill and ipykernel come from the environment that runs the
tests, through a .pth file: the same in a virtual environment as in the system Python) gets pcutlib with ``pip install --no-deps --no-build-isolation --no-index`` (no
network) from a copy of the files the build reads (the build writes build/ and *.egg-info
beside pyproject.toml: a copy keeps them out of the clone). Then, from a temporary working
directory outside the clone:

- pcutlib is imported from the venv's site-packages, not from the clone;
- ``find_config("synthetic-64")`` and the shipped model resolve to files inside the installed
  package, and data/ defaults to the working directory (pcutlib/paths.py);
- notebook 1 runs under a kernel of the venv. It needs no file of the clone; the copy run
  here has one more cell at the end that prints where its pcutlib and ``ROOT`` came from.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import nbformat
import pytest

from pcutlib.teaching.exercises import fill_stubs

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parent.parent
BUILD_INPUTS = ("pyproject.toml", "README.md", "pcutlib", "configs", "pretrained")
KERNEL_NAME = "pcut-install-test"
CELL_TIMEOUT = 300

PROBE = """
import json
import pcutlib
from pcutlib import paths, teaching
from pcutlib.config import find_config, load_config
from pcutlib.checkpoints.pretrained import load_pretrained

models, config = load_pretrained(paths.pretrained_path())
print(json.dumps({"file": pcutlib.__file__, "clone": str(paths.find_clone()),
                  "config": str(find_config("synthetic-64")), "config_loads": bool(load_config("smoke")),
                  "pretrained": str(paths.pretrained_path()), "num_kp": config["model_params"]["common_params"]["num_kp"],
                  "synthetic_root": str(paths.synthetic_root()), "root": str(teaching.repository_root())}))
"""

WHERE_CELL = 'import json, pcutlib\nprint(json.dumps({"file": pcutlib.__file__, "root": str(ROOT)}))'


def run(command: list, cwd: Path, timeout: int = 300) -> str:
    """stdout of ``command``; a failure shows the command and its output."""
    result = subprocess.run([str(part) for part in command], cwd=cwd, capture_output=True, text=True,
                            timeout=timeout, env=clean_environment())
    if result.returncode != 0:
        pytest.fail(f"{' '.join(map(str, command))} exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def clean_environment() -> dict:
    """This process's environment without PYTHONPATH (it could point at the clone)."""
    environment = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    environment.setdefault("OMP_NUM_THREADS", "1")
    return environment


def site_packages_of_this_process() -> list[str]:
    """The site-packages folders this test process imports from, in order (a virtual
    environment's own, and the base interpreter's when it was made with --system-site-packages)."""
    paths = sysconfig.get_paths()
    seen = [entry for entry in sys.path if Path(entry).name in ("site-packages", "dist-packages")]
    return list(dict.fromkeys([*seen, paths["purelib"], paths["platlib"]]))


def venv_python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def see_this_environment(venv: Path) -> Path:
    """Let a new venv import what this test process imports (torch, papermill, ipykernel, pip,
    setuptools), a virtual environment or not: a .pth file puts this process's site-packages after
    the venv's own. (A --system-site-packages venv would reach the base interpreter's instead,
    which inside a user's virtual environment holds none of them.) Returns the venv's
    site-packages."""
    site_packages = Path(run([venv_python(venv), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             cwd=venv).strip())
    site_packages.mkdir(parents=True, exist_ok=True)
    (site_packages / "tested-environment.pth").write_text("\n".join(site_packages_of_this_process()) + "\n")
    return site_packages


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> dict:
    """{python, site_packages, workdir}: pcutlib installed non-editable into a fresh venv."""
    base = tmp_path_factory.mktemp("install")
    source = base / "source"
    source.mkdir()
    for name in BUILD_INPUTS:
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, source / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy(REPO / name, source / name)
    venv = base / "venv"
    run([sys.executable, "-m", "venv", "--without-pip", venv], cwd=base)
    python = venv_python(venv)
    # --ignore-installed leaves this environment's (editable) pcutlib alone and installs into the
    # venv, which comes first on sys.path
    site_packages = see_this_environment(venv)
    run([python, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "--no-index",
         "--ignore-installed", source], cwd=base)
    workdir = base / "elsewhere"
    workdir.mkdir()
    return {"python": python, "venv": venv, "site_packages": site_packages.resolve(),
            "workdir": workdir.resolve()}


def test_installed_package_finds_its_shipped_files(installed):
    probe = json.loads(run([installed["python"], "-c", PROBE], cwd=installed["workdir"]).strip().splitlines()[-1])
    package = installed["site_packages"] / "pcutlib"
    assert Path(probe["file"]).resolve() == package / "__init__.py", probe["file"]
    assert probe["clone"] == "None"
    assert Path(probe["config"]) == package / "configs" / "synthetic-64.yaml" and Path(probe["config"]).is_file()
    assert probe["config_loads"]
    assert Path(probe["pretrained"]) == package / "pretrained_model" / "synthetic-64.pt"
    assert Path(probe["pretrained"]).is_file() and probe["num_kp"] >= 1
    assert Path(probe["root"]) == installed["workdir"]
    assert Path(probe["synthetic_root"]) == installed["workdir"] / "data" / "synthetic-64"


def test_notebook_1_runs_outside_the_clone(installed, monkeypatch):
    import papermill
    from test_notebooks import _patch_channel_waits  # nbclient's lost wake-ups (see there)

    _patch_channel_waits()
    run([installed["python"], "-m", "ipykernel", "install", "--prefix", installed["venv"], "--name", KERNEL_NAME],
        cwd=installed["workdir"])
    monkeypatch.setenv("JUPYTER_PATH", str(installed["venv"] / "share" / "jupyter"))
    monkeypatch.delenv("PYTHONPATH", raising=False)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")

    source = next((REPO / "notebooks").glob("01_*.ipynb"))
    notebook = fill_stubs(nbformat.read(source, as_version=4))       # its exercise filled, as in test_notebooks
    notebook.cells.append(nbformat.v4.new_code_cell(WHERE_CELL))
    copy = installed["workdir"] / source.name
    nbformat.write(notebook, copy)

    executed = papermill.execute_notebook(str(copy), str(installed["workdir"] / f"executed-{source.name}"),
                                          kernel_name=KERNEL_NAME, cwd=str(installed["workdir"]),
                                          progress_bar=False, execution_timeout=CELL_TIMEOUT)
    where = json.loads("".join(o.get("text", "") for o in executed.cells[-1].outputs).strip())
    assert Path(where["file"]).resolve() == installed["site_packages"] / "pcutlib" / "__init__.py", where
    assert Path(where["root"]) == installed["workdir"], where
    assert not (installed["workdir"] / "data").exists() and not (installed["workdir"] / "runs").exists()


README_TEST_INSTALL = ["-m", "pip", "install", "--quiet", "torch==2.13.0", "-e", ".[test]"]


def test_the_readme_test_install_works_inside_a_virtual_environment(tmp_path):
    """The README's test command in a virtual environment: a venv (seeing this environment's
    packages, so nothing large is downloaded, whether this run is itself in a venv or not) gets
    `pip install torch==2.13.0 -e ".[test]"`, then
    this file's install tests pass inside it (they once failed there: the venv's own setuptools
    65 could not build a wheel)."""
    if os.environ.get("PCUT_INSIDE_TEST_VENV"):
        pytest.skip("already running inside the test's virtual environment")
    outer = tmp_path / "venv"
    run([sys.executable, "-m", "venv", outer], cwd=tmp_path)
    see_this_environment(outer)
    python = venv_python(outer)
    run([python, *README_TEST_INSTALL], cwd=REPO, timeout=600)
    result = subprocess.run([str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", str(Path(__file__))],
                            cwd=REPO, capture_output=True, text=True, timeout=900,
                            env={**clean_environment(), "PCUT_INSIDE_TEST_VENV": "1"})
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    tests_here = sum(name.startswith("test_") and callable(value) for name, value in globals().items())
    assert f"{tests_here - 1} passed, 1 skipped" in result.stdout.splitlines()[-1], result.stdout[-2000:]
