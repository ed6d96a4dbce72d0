"""pcutlib.paths: a clone from the working directory or beside the package, else the shipped copies.

The installed package itself is tested in tests/test_install.py; here fake clones in a
temporary folder, and ``PACKAGE_PARENT`` pointed away from the clone to play a non-editable
install.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from pcutlib import paths

REPO = Path(__file__).resolve().parent.parent


def make_clone(folder: Path) -> Path:
    for name in ("configs", "pcutlib", "pretrained"):
        (folder / name).mkdir(parents=True)
    (folder / "pyproject.toml").write_text("")
    (folder / "configs" / "mine.yaml").write_text("dataset_params:\n  root_dir: data/x\n")
    return folder


def test_editable_install_finds_this_clone(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)                                # no clone above the working directory
    assert paths.find_clone() == REPO
    assert paths.find_config("smoke") == REPO / "configs" / "smoke.yaml"
    assert paths.pretrained_path() == REPO / "pretrained" / "synthetic-64.pt"
    assert paths.repository_root() == REPO and paths.runs_folder() == REPO / "runs"


def test_a_clone_above_the_working_directory_comes_first(tmp_path, monkeypatch):
    clone = make_clone(tmp_path / "other")
    (clone / "notebooks").mkdir()
    monkeypatch.chdir(clone / "notebooks")
    assert paths.find_clone() == clone
    assert paths.find_config("mine") == clone / "configs" / "mine.yaml"
    assert paths.find_config("mine.yaml") == clone / "configs" / "mine.yaml"
    assert paths.synthetic_root() == clone / "data" / "synthetic-64"
    assert paths.pretrained_output_path() == clone / "pretrained" / "synthetic-64.pt"


def test_site_packages_is_not_a_clone(tmp_path):
    (tmp_path / "configs").mkdir()                 # a stray top-level configs/ from another wheel
    (tmp_path / "pcutlib").mkdir()
    assert not paths.is_clone(tmp_path)
    (tmp_path / "pyproject.toml").write_text("")
    assert paths.is_clone(tmp_path)


def test_without_a_clone_the_shipped_copies_and_the_working_directory(tmp_path, monkeypatch):
    package = tmp_path / "site-packages" / "pcutlib"
    (package / "configs").mkdir(parents=True)
    (package / "configs" / "shipped.yaml").write_text("dataset_params:\n  root_dir: data/x\n")
    monkeypatch.setattr(paths, "PACKAGE_PARENT", package.parent)
    monkeypatch.setattr(paths, "shipped_folder", lambda name: package / name)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    assert paths.find_clone() is None
    assert paths.config_search_path() == [package / "configs"]
    assert paths.find_config("shipped") == package / "configs" / "shipped.yaml"
    assert paths.pretrained_path() == package / "pretrained_model" / "synthetic-64.pt"
    assert paths.repository_root() == work and paths.synthetic_root() == work / "data" / "synthetic-64"
    assert paths.pretrained_output_path() == work / "pretrained" / "synthetic-64.pt"
    with pytest.raises(FileNotFoundError, match=r"'nope' not found .*configs.*known configs: \['shipped'\]"):
        paths.find_config("nope")


def test_a_path_to_a_file_is_used_as_it_is(tmp_path):
    path = tmp_path / "anything.yaml"
    path.write_text("")
    assert paths.find_config(path) == path
