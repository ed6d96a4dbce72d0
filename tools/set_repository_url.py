#!/usr/bin/env python
"""Set the repository's public URL once; every badge and Colab clone cell follows it.

The URL lives in one file, ``REPOSITORY_URL`` at the repository root. A notebook opened on
Colab has no clone yet, so the notebooks cannot read that file: they carry the URL, and this
tool writes it into them (and into the README). What it rewrites:

- ``REPOSITORY_URL``: the URL itself;
- every ``notebooks/*.ipynb``: the lines between ``<!-- badges -->`` and ``<!-- /badges -->``
  in the first markdown cell (Colab and Binder badges of that notebook), and the line
  ``repository = "..."  # set by tools/set_repository_url.py`` of the Colab install cell;
- ``README.md``: the lines between ``<!-- badges -->`` and ``<!-- /badges -->`` (Binder
  opening JupyterLab at notebook 1, Colab for notebook 1), when the README has them.

    python tools/set_repository_url.py https://github.com/<owner>/<name>   # set and rewrite
    python tools/set_repository_url.py                                     # rewrite from the file
    python tools/set_repository_url.py --check                             # exit 1 if anything disagrees
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from pcutlib.teaching.common import URL_FILE_NAME, badge_links, github_slug  # noqa: E402

BRANCH = "main"
BEGIN, END = "<!-- badges -->", "<!-- /badges -->"
CLONE_LINE = re.compile(r'^(\s*)repository = "[^"]*"(\s*# set by tools/set_repository_url.py)\s*$', re.M)
FIRST_NOTEBOOK = "01_warping.ipynb"


def badge_block(url: str, notebook: str, branch: str = BRANCH) -> str:
    links = badge_links(url, notebook, branch)
    return (f"{BEGIN}\n[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
            f"({links['colab']}) [![Binder](https://mybinder.org/badge_logo.svg)]({links['binder']})\n{END}")


def replace_block(text: str, block: str) -> str:
    """Replace BEGIN...END in text by block; text without the markers is returned unchanged."""
    pattern = re.compile(re.escape(BEGIN) + r".*?" + re.escape(END), re.S)
    return pattern.sub(lambda _: block, text)


def rewrite_notebook(notebook: nbformat.NotebookNode, url: str, name: str) -> nbformat.NotebookNode:
    for cell in notebook.cells:
        if cell.cell_type == "markdown" and BEGIN in cell.source:
            cell.source = replace_block(cell.source, badge_block(url, name))
        if cell.cell_type == "code":
            cell.source = CLONE_LINE.sub(lambda m: f'{m.group(1)}repository = "{url}"{m.group(2)}', cell.source)
    return notebook


def planned_changes(url: str, root: Path = ROOT) -> dict:
    """{path: new text} for every file whose text differs from what ``url`` asks for."""
    changes = {}
    url_file = root / URL_FILE_NAME
    if not url_file.exists() or url_file.read_text().strip() != url:
        changes[url_file] = url + "\n"
    for path in sorted((root / "notebooks").glob("*.ipynb")):
        old = path.read_text()
        notebook = rewrite_notebook(nbformat.reads(old, as_version=4), url, path.name)
        new = nbformat.writes(notebook) + "\n"
        if nbformat.reads(new, as_version=4) != nbformat.reads(old, as_version=4):
            changes[path] = new
    readme = root / "README.md"
    if readme.exists():
        old = readme.read_text()
        new = replace_block(old, badge_block(url, FIRST_NOTEBOOK))
        if new != old:
            changes[readme] = new
    return changes


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", nargs="?", help="https://github.com/<owner>/<name> (default: the file's URL)")
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if a file disagrees")
    args = parser.parse_args(argv)
    url = args.url or (ROOT / URL_FILE_NAME).read_text().strip()
    github_slug(url)                                   # refuses anything but a GitHub repository URL
    url = url.strip().removesuffix("/").removesuffix(".git")
    changes = planned_changes(url)
    if args.check:
        for path in changes:
            print(f"{path.relative_to(ROOT)} does not use {url}")
        return 1 if changes else 0
    for path, text in changes.items():
        path.write_text(text)
        print(f"rewrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
