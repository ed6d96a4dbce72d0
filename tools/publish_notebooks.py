"""Execute the notebooks and commit the executed copies, so that a reader on GitHub or in a Colab
preview sees every figure and printout without running anything.

    python tools/publish_notebooks.py [NN ...] [--timeout 900]

Each ``notebooks/NN_*.ipynb`` runs with papermill (kernel python3, working directory notebooks/,
its default parameters: the shipped model, the synthetic world, generated when missing; progress
bars off where the notebook has a ``progress`` parameter) with its
stub exercises filled by their solutions (``teaching.exercises.fill_stubs``), so that every
later cell runs. The executed copy, ``notebooks/executed/NN_*.ipynb``, then gets the stub cells'
own source back (the exercise stays the student's to write) and, below each exercise check, a
line saying that the published run checked the solution; widget state and widget views
(sliders, progress bars) are dropped (GitHub cannot show widgets; every slider figure has a
static twin); this checkout's absolute path is removed from printed paths. Its metadata ``pcut_published`` holds the
SHA-256 of the source notebook's cells and of the results files it reads (``source_digest``):
tests/test_notebooks.py fails when a notebook or those files changed and its executed copy was not
made again.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
NOTEBOOK_DIR = REPO / "notebooks"
PUBLISHED_DIR = NOTEBOOK_DIR / "executed"
COMMAND = "python tools/publish_notebooks.py"
CHECK_NOTE = ("(published run: this check passed with the solution at the end of the notebook; write the cell "
              "above, then run it)\n")


def _text(source) -> str:
    return "".join(source) if isinstance(source, list) else source


def source_digest(notebook: dict) -> str:
    """SHA-256 of what a reader's run depends on: each cell's type, source and tags, in order, and
    the content of the committed files the notebook reads its figures from (its metadata
    ``pcut_reads``: paths relative to the repository, e.g. an experiment's run table), so that new
    records make the published copy stale too."""
    cells = [[cell["cell_type"], _text(cell["source"]), sorted(cell.get("metadata", {}).get("tags", []))]
             for cell in notebook["cells"]]
    digest = hashlib.sha256(json.dumps(cells, sort_keys=True).encode())
    for name in notebook.get("metadata", {}).get("pcut_reads", []):
        path = REPO / name
        if not path.is_file():
            raise FileNotFoundError(f"the notebook's metadata pcut_reads names {name}, which is not in {REPO}")
        digest.update(name.encode() + hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def _relative(text):
    """Text (or nbformat's list of lines) with this checkout's absolute path removed."""
    if isinstance(text, list):
        return [_relative(line) for line in text]
    return text.replace(f"{REPO}/", "").replace(str(REPO), ".")


def published_copy(source: dict, executed: dict, parameters: dict | None = None) -> dict:
    """The executed notebook with the source's stub cells restored, a note under each exercise
    check, no widget state, no cell papermill injected for ``parameters`` (they are kept in the
    ``pcut_published`` stamp instead), and that stamp."""
    executed["cells"] = [cell for cell in executed["cells"]
                         if "injected-parameters" not in cell.get("metadata", {}).get("tags", [])]
    stubs = {cell["id"]: cell for cell in source["cells"]
             if any(tag.startswith("stub:") for tag in cell.get("metadata", {}).get("tags", []))}
    for cell in executed["cells"]:
        if cell["id"] in stubs:                                # the student's cell again, without the solution's output
            cell["source"], cell["outputs"], cell["execution_count"] = stubs[cell["id"]]["source"], [], None
        elif cell["cell_type"] == "code" and "check_exercise(" in _text(cell["source"]) \
                and "solution" not in cell.get("metadata", {}).get("tags", []):
            cell["outputs"] = [{"output_type": "stream", "name": "stdout", "text": CHECK_NOTE}]
        cell.get("metadata", {}).pop("papermill", None)
        cell.get("metadata", {}).pop("execution", None)
        # widget views (sliders, progress bars) cannot show without the widget state: their text
        # fallback would be a frozen bar; every slider figure has a static twin
        cell["outputs"] = [o for o in cell.get("outputs", [])
                           if "application/vnd.jupyter.widget-view+json" not in o.get("data", {})] \
            if cell["cell_type"] == "code" else cell.get("outputs")
        if cell["outputs"] is None:
            del cell["outputs"]
        for output in cell.get("outputs", []):                 # paths relative to the repository, not this machine's
            if "text" in output:
                output["text"] = _relative(output["text"])
            if "text/plain" in output.get("data", {}):
                output["data"]["text/plain"] = _relative(output["data"]["text/plain"])
    executed["metadata"].pop("widgets", None)
    executed["metadata"].pop("papermill", None)
    executed["metadata"]["pcut_published"] = {"source": f"../{executed['metadata'].get('pcut_name', '')}",
                                              "source_sha256": source_digest(source), "command": COMMAND,
                                              **({"parameters": parameters} if parameters else {})}
    executed["metadata"].pop("pcut_name", None)
    return executed


def quiet_parameters(notebook: dict) -> dict:
    """{"progress": False} where the notebook's parameters cell has a ``progress`` parameter: a
    published copy shows no frozen progress bars (hundreds of text lines on GitHub); else {}."""
    cells = [c for c in notebook["cells"] if "parameters" in c.get("metadata", {}).get("tags", [])]
    names = {line.split("=")[0].strip() for c in cells for line in _text(c["source"]).splitlines() if "=" in line}
    return {"progress": False} if "progress" in names else {}


def publish(path: Path, timeout: int) -> Path:
    """Execute one notebook and write its published copy; returns the copy's path."""
    import papermill

    from pcutlib.teaching.exercises import fill_stubs

    source = json.loads(path.read_text())
    PUBLISHED_DIR.mkdir(exist_ok=True)
    parameters = quiet_parameters(source)
    filled = PUBLISHED_DIR / f".filled-{path.name}"
    out = PUBLISHED_DIR / f".executed-{path.name}"
    filled.write_text(json.dumps(fill_stubs(json.loads(path.read_text()))))
    try:
        papermill.execute_notebook(str(filled), str(out), cwd=str(NOTEBOOK_DIR), kernel_name="python3",
                                   progress_bar=False, execution_timeout=timeout, parameters=parameters)
        executed = json.loads(out.read_text())
    finally:
        filled.unlink(missing_ok=True)
        out.unlink(missing_ok=True)
    executed["metadata"]["pcut_name"] = path.name
    target = PUBLISHED_DIR / path.name
    target.write_text(json.dumps(published_copy(source, executed, parameters), indent=1, ensure_ascii=False) + "\n")
    return target


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("numbers", nargs="*", help="notebook numbers to publish (default: all), e.g. 02 05")
    parser.add_argument("--timeout", type=int, default=900, help="seconds a cell may run")
    args = parser.parse_args(argv)
    notebooks = sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))
    unknown = sorted(set(args.numbers) - {p.name[:2] for p in notebooks})
    if unknown:
        parser.error(f"no notebook numbered {unknown}; known: {[p.name[:2] for p in notebooks]}")
    for path in notebooks:
        if args.numbers and path.name[:2] not in args.numbers:
            continue
        started = time.perf_counter()
        target = publish(path, args.timeout)
        print(f"{path.name}: {time.perf_counter() - started:.0f} s -> {target.relative_to(REPO)} "
              f"({target.stat().st_size / 2**20:.1f} MB)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
