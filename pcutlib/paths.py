"""Where pcut finds its files: the named configs, the shipped model, the repository root.

This module is the one place that decides; ``pcutlib.config`` (``config_search_path``,
``find_config``), ``pcutlib.teaching`` (``repository_root``, ``config_file``),
``pcutlib.checkpoints.pretrained`` and ``pcutlib.experiments.shipped_model`` only ask it.

The rules, first match wins:

1. **A clone.** A folder is a pcut clone when it holds ``configs/``, ``pcutlib/`` and
   ``pyproject.toml`` (site-packages holds ``pcutlib/`` too, and may hold a stray
   ``configs/`` from another wheel, but no ``pyproject.toml``). The clone is the working
   directory or the first folder above it that is one (notebooks run in ``notebooks/``;
   the Colab cell installs with ``pip install /content/pcut``, non-editable, then runs
   inside the clone), else the folder above the imported package when that is one (an
   editable install, ``pip install -e .``, used from anywhere).
2. **The copies shipped inside the installed package.** A non-editable install carries
   ``configs/*.yaml`` as ``pcutlib/configs/`` and ``pretrained/synthetic-64.pt`` as
   ``pcutlib/pretrained_model/`` (pyproject.toml maps the two top-level folders into the
   wheel; the clone keeps them where they are). They are found with ``importlib.resources``.

The repository root, where ``data/``, ``runs/`` and ``REPOSITORY_URL`` are, is the clone of
rule 1. With no clone (a non-editable install used outside any clone) it is the current
working directory: ``data/`` and ``runs/`` go under the folder you run in, never into
site-packages; ``REPOSITORY_URL`` is not shipped.

Every function looks from the working directory at the moment it is called (or from
``start``); nothing is looked up when a module is imported.
"""
from __future__ import annotations

import importlib.resources
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
PACKAGE_PARENT = PACKAGE_DIR.parent
CLONE_FOLDERS = ("configs", "pcutlib")
CLONE_FILE = "pyproject.toml"

SHIPPED_CONFIGS = "configs"                 # pcutlib/configs/ in a non-editable install
SHIPPED_PRETRAINED = "pretrained_model"     # pcutlib/pretrained_model/ in a non-editable install
PRETRAINED_NAME = "synthetic-64.pt"


# --------------------------------------------------------------------------- the clone, or not

def is_clone(folder: str | Path) -> bool:
    """Whether ``folder`` is a pcut clone: it holds configs/, pcutlib/ and pyproject.toml."""
    folder = Path(folder)
    return all((folder / name).is_dir() for name in CLONE_FOLDERS) and (folder / CLONE_FILE).is_file()


def find_clone(start: str | Path | None = None) -> Path | None:
    """The pcut clone: ``start`` (default: the working directory) or the first folder above
    it that is one, else the package's parent when it is one (editable install); None if
    there is no clone (a non-editable install used outside any clone)."""
    start = (Path.cwd() if start is None else Path(start)).resolve()
    for candidate in (start, *start.parents, PACKAGE_PARENT):
        if is_clone(candidate):
            return candidate
    return None


def repository_root(start: str | Path | None = None) -> Path:
    """Where ``data/`` and ``runs/`` go by default: the clone, else ``start`` (default: the
    working directory)."""
    clone = find_clone(start)
    if clone is not None:
        return clone
    return (Path.cwd() if start is None else Path(start)).resolve()


def shipped_folder(name: str) -> Path:
    """``pcutlib/<name>``, a data folder inside the installed package (non-editable install)."""
    folder = importlib.resources.files("pcutlib") / name
    if not isinstance(folder, Path):
        raise FileNotFoundError(f"pcutlib/{name} is not a folder on disk ({folder!r}); "
                                f"expected pcutlib installed as plain files (pip install <clone>)")
    return folder


# --------------------------------------------------------------------------- configs

def config_search_path(start: str | Path | None = None) -> list[Path]:
    """The folders named configs are looked up in: the clone's configs/, else the configs
    shipped in the package (a one-element list; a list so callers can loop over it)."""
    clone = find_clone(start)
    return [clone / "configs" if clone is not None else shipped_folder(SHIPPED_CONFIGS)]


def find_config(name_or_path: str | Path, start: str | Path | None = None) -> Path:
    """A config file: ``name_or_path`` itself when it is a file, else ``<name>.yaml`` (the
    ``.yaml`` may be given) in the folders of :func:`config_search_path`."""
    path = Path(name_or_path)
    if path.is_file():
        return path
    folders = config_search_path(start)
    file_name = path.name if path.suffix == ".yaml" else f"{path.name}.yaml"
    for folder in folders:
        if (folder / file_name).is_file():
            return folder / file_name
    known = sorted({p.stem for folder in folders if folder.is_dir() for p in folder.glob("*.yaml")})
    raise FileNotFoundError(f"config {str(name_or_path)!r} not found as a file nor in "
                            f"{', '.join(str(f) for f in folders)}; known configs: {known}")


def find_recipe(name: str, start: str | Path | None = None) -> Path:
    """``configs/recipes/<name>.yaml``: the recipe a command reads (the experiment's variants,
    the demo's phases, the calibration rows)."""
    folders = [folder / "recipes" for folder in config_search_path(start)]
    for folder in folders:
        if (folder / f"{name}.yaml").is_file():
            return folder / f"{name}.yaml"
    known = sorted({p.stem for folder in folders if folder.is_dir() for p in folder.glob("*.yaml")})
    raise FileNotFoundError(f"recipe {name!r} not found in {', '.join(str(f) for f in folders)}; known: {known}")


# --------------------------------------------------------------------------- the shipped model and data

def pretrained_path(start: str | Path | None = None) -> Path:
    """The shipped model to read: the clone's pretrained/synthetic-64.pt, else the copy
    shipped in the package."""
    clone = find_clone(start)
    if clone is not None:
        return clone / "pretrained" / PRETRAINED_NAME
    return shipped_folder(SHIPPED_PRETRAINED) / PRETRAINED_NAME


def pretrained_output_path(start: str | Path | None = None) -> Path:
    """Where ``pcut export-pretrained`` writes by default: pretrained/synthetic-64.pt under
    the repository root (in a clone the file :func:`pretrained_path` reads; never
    site-packages)."""
    return repository_root(start) / "pretrained" / PRETRAINED_NAME


def synthetic_root(start: str | Path | None = None) -> Path:
    """The default synthetic dataset folder: data/synthetic-64 under the repository root."""
    return repository_root(start) / "data" / "synthetic-64"


def runs_folder(start: str | Path | None = None) -> Path:
    """The default folder of run folders: runs/ under the repository root."""
    return repository_root(start) / "runs"


# --------------------------------------------------------------------------- results on disk

def refuse_to_replace(paths, overwrite: bool, hint: str = "choose another --out") -> None:
    """A command's outputs never replace earlier results silently: with ``overwrite`` False, an
    existing file among ``paths`` is a FileExistsError naming it (and how many others exist)."""
    existing = [Path(path) for path in paths if Path(path).exists()]
    if existing and not overwrite:
        more = f" (and {len(existing) - 1} more)" if len(existing) > 1 else ""
        raise FileExistsError(f"{existing[0]}{more} already exists; pass --overwrite to replace it, or {hint}")


def between_markers(content: str, text: str, start: str, end: str, where: str = "the text") -> str:
    """``content`` with what stands between the markers ``start`` and ``end`` replaced by ``text``."""
    if content.count(start) != 1 or content.count(end) != 1:
        raise ValueError(f"{where} must hold the markers {start} and {end} once each")
    before, rest = content.split(start, 1)
    _, after = rest.split(end, 1)
    return f"{before}{start}\n{text}\n{end}{after}"


def marker_pair(name: str) -> tuple[str, str]:
    """The marker lines ``<!-- name:start -->``, ``<!-- name:end -->`` of a page's block."""
    return f"<!-- {name}:start -->", f"<!-- {name}:end -->"


def replace_between_markers(page: str | Path, text: str, start: str, end: str) -> None:
    """Replace what stands between the marker lines ``start`` and ``end`` of the file ``page`` by
    ``text`` (how commands write their part of the README and docs/ pages)."""
    Path(page).write_text(between_markers(Path(page).read_text(), text, start, end, str(page)))
