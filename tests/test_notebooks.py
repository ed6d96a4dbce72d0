"""The notebooks: executed once each with papermill, then checked.

How the checks share one execution per notebook:
- ``executed(name)`` (session fixture) runs a notebook with papermill (kernel python3,
  working directory notebooks/) and smoke parameters, once per session; papermill fails on
  any cell error, including the notebooks' own assertions. The model notebooks 2-5 and 7 load
  is the shipped ``pretrained/synthetic-64.pt``: their prose states what that model shows
  (keypoints spread, O near 1 at rest, ...) and a cell asserts each such claim, with its
  threshold named in the parameters cell. ``test_claims_fail_for_an_untrained_model`` runs
  the same notebooks with the seconds-long stand-in of ``pcutlib.experiments.shipped_model.tiny_pretrained`` (the
  shipped model's shapes, one training step) and expects one of those assertions to fail.
- Errors raised inside widget callbacks do not fail a cell (ipywidgets prints them into
  the widget's Output area). ``test_notebook_runs`` therefore also scans the executed
  notebook's widget state (and every stream) for error outputs and tracebacks; and
  tests/test_teaching.py moves every slider of every widget to its ends.
- The cells marked ``# NBVAL_CHECK_OUTPUT`` are checked by nbval itself
  are compared with their committed outputs in the same execution
  (``test_checked_outputs_match_the_committed_ones``, as ``pytest --nbval-lax`` would; by hand:
  ``cd notebooks && pytest --nbval-lax 01_warping.ipynb``).
- Each notebook executes once per session. The negative control
  (``test_claims_fail_for_an_untrained_model``) runs notebooks 2, 3, 5 and 7 with the stand-in
  only up to their first claim, where it must stop; tests/test_browser.py runs notebook 5 once
  more, in a real browser.

papermill/nbclient can miss the wake-up of a kernel reply while widget messages arrive
(jupyter/nbclient#312) and then wait until the cell timeout. ``_no_lost_wakeups`` makes
every channel wait in 1-second slices, so such a miss costs a second, not the timeout.
"""
from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from queue import Empty

import nbformat
import pytest

from pcutlib.teaching.common import shipped_model_path
from pcutlib.teaching.exercises import ExerciseNotWritten, check_exercise, fill_stubs

REPO = Path(__file__).resolve().parent.parent
NOTEBOOK_DIR = REPO / "notebooks"
NOTEBOOKS = sorted(p.name for p in NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))
CHECK_MARK = "# NBVAL_CHECK_OUTPUT"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
CELL_TIMEOUT = 300


def test_there_are_eight_notebooks():
    assert [n[:2] for n in NOTEBOOKS] == ["01", "02", "03", "04", "05", "06", "07", "08"], NOTEBOOKS


# --------------------------------------------------------------------------- one execution each

def smoke_parameters(name: str, world: Path, scratch: Path, pretrained: str | None = None) -> dict:
    """CPU-seconds parameters for each notebook; ``pretrained`` (default: the shipped model) is the
    model notebooks 2-5 and 7 load, ``world`` (see ``small_world``) the data of notebook 7."""
    data_root = str(world)
    common = {"pretrained_path": pretrained or str(shipped_model_path())}
    return {
        "01": {},
        "02": {**common, "num_frames": 16},
        "03": common,                          # all 32 frames: the claims are measured on the whole video
        "04": common,
        "05": common,
        "06": {"config_name": "smoke", "epochs": 1, "progress": False,     # init_from "pretrained": no fit
               "data_root": str(scratch / "smoke-data"), "synthetic_videos": 12, "synthetic_frames": 8,
               "output_dir": str(scratch / "runs"), "run_name": "smoke-prioritycut", "eval_videos": 2},
        "07": {**common, "data_root": data_root, "runs_root": str(scratch / "runs"), "max_videos": 2,
               "output_dir": str(scratch / "notebook-07"), "pose_probe_steps": 100,
               "pose_probe_cache": str(scratch / "notebook-07" / "pose_probe.pt")},
        "08": {"data_root": data_root, "stand_in_steps": 3},      # the trained TPSMM when runs/backbones holds it
    }[name[:2]]


def _patch_channel_waits():
    from jupyter_client.channels import AsyncZMQSocketChannel

    original = AsyncZMQSocketChannel.get_msg
    if getattr(original, "sliced", False):
        return

    async def get_msg(self, timeout=None):
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = 1.0 if deadline is None else max(0.0, min(1.0, deadline - time.monotonic()))
            try:
                return await original(self, timeout=left)
            except Empty:
                if deadline is not None and time.monotonic() >= deadline:
                    raise
                await asyncio.sleep(0)

    get_msg.sliced = True
    AsyncZMQSocketChannel.get_msg = get_msg


@pytest.fixture(scope="session")
def _no_lost_wakeups():
    _patch_channel_waits()


@pytest.fixture(scope="session")
def stand_in(tmp_path_factory):
    """(pretrained path, 64x64 data root): a 1-step model with the shipped model's shapes, and
    the small synthetic world (10 videos of 8 frames) it was made on."""
    from pcutlib.experiments.shipped_model import tiny_pretrained

    return tiny_pretrained(tmp_path_factory.mktemp("stand-in"))


@pytest.fixture(scope="session")
def small_world(tmp_path_factory):
    """A synthetic world for notebook 7: 20 videos of 32 frames, 10 figures (2 in test/, with the
    ground truth of every video), made in seconds; seed 1, not the shipped model's training seed."""
    from pcutlib.data.make_synthetic import make_synthetic_dataset

    return make_synthetic_dataset(tmp_path_factory.mktemp("world") / "synthetic-64", videos=20, frames=32,
                                  size=64, identities=10, seed=1, progress=False)


@pytest.fixture(scope="session")
def executed(tmp_path_factory, small_world, _no_lost_wakeups):
    """executed(name) -> the executed notebook (papermill runs each notebook once per session)."""
    import papermill

    scratch = tmp_path_factory.mktemp("notebook-runs")
    done, seconds = {}, {}

    def run(name: str):
        if name not in done:
            if name.startswith("07"):
                run(next(n for n in NOTEBOOKS if n.startswith("06")))   # notebook 7 reads notebook 6's run
            started = time.perf_counter()
            filled = scratch / f"filled-{name}"                 # the stub exercises filled with their solutions
            filled.write_text(json.dumps(fill_stubs(json.loads((NOTEBOOK_DIR / name).read_text()))))
            done[name] = papermill.execute_notebook(
                str(filled), str(scratch / name), parameters=smoke_parameters(name, small_world, scratch),
                cwd=str(NOTEBOOK_DIR), kernel_name="python3", progress_bar=False, execution_timeout=CELL_TIMEOUT)
            seconds[name] = time.perf_counter() - started
            print(f"\n{name}: {seconds[name]:.1f} s")
        return done[name]

    run.seconds = seconds
    return run


def _error_outputs(outputs) -> list[str]:
    found = []
    for output in outputs or []:
        if output.get("output_type") == "error":
            found.append(f"{output.get('ename')}: {output.get('evalue')}")
        elif output.get("output_type") == "stream" and "Traceback (most recent call last)" in output.get("text", ""):
            found.append(output["text"][-2000:])
    return found


def widget_errors(notebook) -> list[str]:
    """Error outputs captured by Output widgets (e.g. an exception in an interact callback)."""
    state = notebook.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    errors = []
    for model_id, model in state.items():
        errors += [f"widget {model_id}: {e}" for e in _error_outputs(model.get("state", {}).get("outputs"))]
    return errors


@pytest.mark.slow
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs(executed, name):
    notebook = executed(name)
    errors = [f"cell {i}: {e}" for i, cell in enumerate(notebook.cells) if cell.cell_type == "code"
              for e in _error_outputs(cell.get("outputs"))]
    errors += widget_errors(notebook)
    assert not errors, "\n".join(errors)


@pytest.mark.slow
def test_widgets_rendered_their_first_figure(executed):
    """Every slider widget of notebooks 1, 2 and 5 drew a PNG into its Output area at once."""
    for name in NOTEBOOKS:
        if name[:2] not in ("01", "02", "05"):
            continue
        state = executed(name).metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
        outputs = [m["state"].get("outputs", []) for m in state.values() if m.get("model_name") == "OutputModel"]
        assert outputs and all(any("image/png" in o.get("data", {}) for o in out) for out in outputs), name


def _normalise(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _text_of(outputs) -> list[str]:
    texts = []
    for output in outputs:
        if output.get("output_type") == "stream":
            texts.append(output["text"])
        elif "data" in output and "text/plain" in output["data"]:
            texts.append(output["data"]["text/plain"])
    return [_normalise(t) for t in texts]


def checked_cells(notebook) -> list:
    return [c for c in notebook.cells if c.cell_type == "code" and c.source.lstrip().startswith(CHECK_MARK)]


NOTEBOOKS_WITH_CHECKS = [n for n in NOTEBOOKS if checked_cells(nbformat.read(NOTEBOOK_DIR / n, as_version=4))]


def test_some_outputs_are_checked():
    assert len(NOTEBOOKS_WITH_CHECKS) >= 2, NOTEBOOKS_WITH_CHECKS


@pytest.mark.slow
@pytest.mark.parametrize("name", NOTEBOOKS_WITH_CHECKS)
def test_checked_outputs_match_the_committed_ones(executed, name):
    """The cells marked NBVAL_CHECK_OUTPUT print, in the session's one execution of the notebook,
    what their committed outputs say (streams and text/plain, compared as nbval --nbval-lax
    would; those notebooks run with their default parameters, so the outputs are the ones a
    reader gets). By hand: ``cd notebooks && pytest --nbval-lax 01_warping.ipynb``."""
    defaults = ({}, {"pretrained_path": str(shipped_model_path())})
    assert smoke_parameters(name, Path("unused"), Path("unused")) in defaults, \
        f"{name} runs with other than its default parameters here: its checked outputs would differ"
    fresh = {cell.source: cell for cell in executed(name).cells if cell.cell_type == "code"}
    for cell in checked_cells(nbformat.read(NOTEBOOK_DIR / name, as_version=4)):
        committed = _text_of(cell.outputs)
        assert committed, f"{name}: a {CHECK_MARK} cell has no committed output"
        assert _text_of(fresh[cell.source].outputs) == committed, f"{name}: {cell.source.splitlines()[1][:80]}"


# Notebooks whose prose makes claims about the trained model, each asserted by a cell. Notebook 4
# asserts exact equalities only: the shipped discriminator ranks held-out real frames above
# generated ones no better than chance, so it claims nothing about it (it prints the AUCs).
NOTEBOOKS_WITH_CLAIMS = [n for n in NOTEBOOKS if n[:2] in ("02", "03", "05", "07")]


@pytest.mark.parametrize("name", NOTEBOOKS_WITH_CLAIMS)
def test_claim_thresholds_are_named_parameters(name):
    """Every assertion about the trained model compares with a min_/max_ threshold set in the
    parameters cell, below the line '# What the prose below relies on' (so that a new model means
    changing numbers in one visible place), and every threshold there is asserted."""
    notebook = nbformat.read(NOTEBOOK_DIR / name, as_version=4)
    parameters = next(c.source for c in notebook.cells if "parameters" in c.metadata.get("tags", []))
    marker = "# What the prose below relies on"
    assert marker in parameters, f"{name}: the parameters cell has no '{marker}' block of thresholds"
    named = set(re.findall(r"^((?:min|max)_\w+)\s*=", parameters.split(marker, 1)[1], re.M))
    used = {t for c in notebook.cells if c.cell_type == "code" and "solution" not in c.metadata.get("tags", [])
            for line in c.source.splitlines() if line.lstrip().startswith("assert ")
            for t in re.findall(r"\b((?:min|max)_\w+)\b", line)}
    assert named and named == used, f"{name}: thresholds in the parameters cell {named}, used by asserts {used}"


def claim_asserts(cell) -> list[str]:
    """The assertions of a code cell that compare with a min_/max_ threshold (a claim)."""
    return [line for line in cell.source.splitlines() if line.lstrip().startswith("assert ")
            and re.search(r"\b(min|max)_\w+", line)] if cell.cell_type == "code" else []


def until_first_claim(notebook):
    """The notebook's cells up to and including the first that asserts a claim (the rest would
    not run after a failed claim anyway; so the untrained stand-in runs only as far as needed)."""
    cut = next(i for i, cell in enumerate(notebook.cells)
               if claim_asserts(cell) and "solution" not in cell.metadata.get("tags", []))
    shortened = nbformat.from_dict(notebook)
    shortened.cells = notebook.cells[:cut + 1]
    return shortened


@pytest.mark.slow
@pytest.mark.parametrize("name", NOTEBOOKS_WITH_CLAIMS)
def test_claims_fail_for_an_untrained_model(stand_in, small_world, tmp_path, _no_lost_wakeups, name):
    """Run with the 1-step stand-in instead of the shipped model, a notebook stops at one of
    its assertions about what the trained model shows."""
    import papermill

    parameters = smoke_parameters(name, small_world, tmp_path, pretrained=str(stand_in[0]))
    shortened = until_first_claim(nbformat.read(NOTEBOOK_DIR / name, as_version=4))
    nbformat.write(shortened, tmp_path / f"until-claim-{name}")
    with pytest.raises(papermill.PapermillExecutionError) as failure:
        papermill.execute_notebook(str(tmp_path / f"until-claim-{name}"), str(tmp_path / name), parameters=parameters,
                                   cwd=str(NOTEBOOK_DIR), kernel_name="python3", progress_bar=False,
                                   execution_timeout=CELL_TIMEOUT)
    assert failure.value.ename == "AssertionError", f"{failure.value.ename}: {failure.value.evalue}"


# --------------------------------------------------------------------------- the committed files

@pytest.mark.parametrize("name", NOTEBOOKS)
def test_committed_notebook_layout(name):
    """No outputs except in NBVAL_CHECK_OUTPUT cells; parameters cell right after the imports."""
    notebook = nbformat.read(NOTEBOOK_DIR / name, as_version=4)
    nbformat.validate(notebook)
    code = [c for c in notebook.cells if c.cell_type == "code"]
    for cell in code:
        if not cell.source.lstrip().startswith(CHECK_MARK):
            assert not cell.outputs, f"{name}: committed outputs in cell\n{cell.source[:200]}"
            assert cell.execution_count is None, f"{name}: execution count in cell\n{cell.source[:200]}"
    assert "widgets" not in notebook.metadata, f"{name}: committed widget state"
    imports = next(i for i, c in enumerate(code) if re.search(r"^(from pcutlib|import pcutlib)", c.source, re.M))
    assert "parameters" in code[imports + 1].metadata.get("tags", []), \
        f"{name}: the code cell after the imports must be tagged 'parameters'"
    assert sum("parameters" in c.metadata.get("tags", []) for c in code) == 1
    assert "google.colab" in code[0].source and "%pip install -q /content/pcut" in code[0].source
    first = notebook.cells[0]
    assert first.cell_type == "markdown" and first.source.startswith("# "), f"{name}: no title"
    text = "\n".join(c.source for c in notebook.cells if c.cell_type == "markdown")
    for heading in ("What you will learn", "## Summary", "## Exercises"):
        assert heading in text, f"{name}: no '{heading}'"
    long_cells = [c.source for c in code if len(c.source.splitlines()) > 18
                  and "parameters" not in c.metadata.get("tags", [])]   # all knobs in one place
    assert not long_cells, f"{name}: code cells over 18 lines:\n" + "\n---\n".join(long_cells)


def _publishing():
    sys.path.insert(0, str(REPO / "tools"))
    import publish_notebooks

    return publish_notebooks


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_the_published_copy_shows_this_notebook_executed(name):
    """notebooks/executed/NAME (``python tools/publish_notebooks.py``) was executed from the
    notebook as it is now: its stamp is the digest of the notebook's cells, it holds the same
    cells, its outputs hold no error and at least one figure, and it keeps no widget state."""
    publishing = _publishing()
    source = json.loads((NOTEBOOK_DIR / name).read_text())
    path = NOTEBOOK_DIR / "executed" / name
    assert path.is_file(), f"{name} has no published copy: run {publishing.COMMAND} {name[:2]}"
    published = json.loads(path.read_text())
    stamp = published["metadata"].get("pcut_published", {})
    assert stamp.get("source_sha256") == publishing.source_digest(source), \
        f"{name} changed after its published copy was made: run {publishing.COMMAND} {name[:2]}"
    assert [(c["cell_type"], publishing._text(c["source"])) for c in published["cells"]] == \
        [(c["cell_type"], publishing._text(c["source"])) for c in source["cells"]]
    code = [c for c in published["cells"] if c["cell_type"] == "code"]
    errors = [e for c in code for e in _error_outputs(c.get("outputs"))]
    assert not errors, errors
    assert any("image/png" in o.get("data", {}) for c in code for o in c.get("outputs", [])), f"{name}: no figure"
    assert all(c.get("execution_count") for c in code if c.get("outputs")), f"{name}: outputs without a run"
    assert "widgets" not in published["metadata"]


def test_the_published_copy_restores_the_exercise_and_keeps_no_machine_detail():
    publishing = _publishing()
    stub = {"cell_type": "code", "id": "s", "metadata": {"tags": ["stub:f"]}, "source": "def f(): raise NotImplementedError",
            "outputs": [], "execution_count": None}
    check = {"cell_type": "code", "id": "c", "metadata": {}, "source": "teaching.check_exercise('1', f, g, [])",
             "outputs": [], "execution_count": None}
    source = {"cells": [stub, check], "metadata": {}}
    ran = json.loads(json.dumps(source))
    ran["cells"][0].update(source="def f(): return 1", execution_count=1,
                           outputs=[{"output_type": "stream", "name": "stdout", "text": "solution output"}])
    ran["cells"][1].update(execution_count=2, outputs=[
        {"output_type": "stream", "name": "stdout", "text": f"exercise 1: agrees ({publishing.REPO}/runs/x)"},
        {"output_type": "display_data", "metadata": {},
         "data": {"application/vnd.jupyter.widget-view+json": {"model_id": "m"}, "text/plain": "0%| 0/20"}}])
    ran["metadata"].update(widgets={"state": {}}, pcut_name="01_x.ipynb")
    copy = publishing.published_copy(source, ran)
    assert copy["cells"][0]["source"] == stub["source"] and copy["cells"][0]["outputs"] == []
    assert [o["text"] for o in copy["cells"][1]["outputs"]] == [publishing.CHECK_NOTE]
    assert "widgets" not in copy["metadata"]
    assert copy["metadata"]["pcut_published"]["source_sha256"] == publishing.source_digest(source)
    assert publishing._relative(f"saved {publishing.REPO}/runs/a.pt") == "saved runs/a.pt"


def test_the_published_stamp_covers_the_results_files_a_notebook_reads(tmp_path, monkeypatch):
    """A notebook whose metadata ``pcut_reads`` names a results file gets another stamp when that
    file changes (new experiment records make its published copy stale); a named file that is
    missing is an error naming it."""
    publishing = _publishing()
    monkeypatch.setattr(publishing, "REPO", tmp_path)
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "runs.csv").write_text("variant,seed\nunet,2\n")
    notebook = {"cells": [{"cell_type": "code", "source": "x = 1", "metadata": {}}],
                "metadata": {"pcut_reads": ["results/runs.csv"]}}
    before = publishing.source_digest(notebook)
    assert before != publishing.source_digest({**notebook, "metadata": {}})
    (tmp_path / "results" / "runs.csv").write_text("variant,seed\nunet,2\nunet,3\n")
    assert publishing.source_digest(notebook) != before
    notebook["metadata"]["pcut_reads"].append("results/missing.csv")
    with pytest.raises(FileNotFoundError, match="results/missing.csv"):
        publishing.source_digest(notebook)


def test_a_notebook_with_a_progress_parameter_is_published_without_progress_bars():
    publishing = _publishing()
    cell = {"cell_type": "code", "metadata": {"tags": ["parameters"]}, "source": "epochs = 6\nprogress = True   # bars\n"}
    assert publishing.quiet_parameters({"cells": [cell]}) == {"progress": False}
    injected = {"cell_type": "code", "id": "i", "metadata": {"tags": ["injected-parameters"]},
                "source": "progress = False\n", "outputs": [], "execution_count": 1}
    source = {"cells": [dict(cell, id="p", outputs=[], execution_count=None)], "metadata": {}}
    ran = {"cells": [dict(source["cells"][0], execution_count=1), injected], "metadata": {"pcut_name": "06_x.ipynb"}}
    copy = publishing.published_copy(source, ran, {"progress": False})
    assert [c["id"] for c in copy["cells"]] == ["p"]                      # the reader's cells only
    assert copy["metadata"]["pcut_published"]["parameters"] == {"progress": False}
    cell["source"] = "epochs = 6\n"
    assert publishing.quiet_parameters({"cells": [cell]}) == {}


REFERENCES = ("2003.00196", "2002.12655", "1905.04899", "2103.11600", "2203.14367")   # FOMM, U-Net GAN, CutMix,
LIBRARY_LINK = re.compile(r"\[`(pcutlib(?:\.\w+)+)`\]\(\.\./(pcutlib/[\w/]+\.py)\)")       # PriorityCut, TPSMM


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_solutions_and_references(name):
    """Exercises come with solutions the tests run (code cells tagged 'solution', collapsed), and a
    references cell cites the five papers and links the pcutlib functions the notebook uses; every
    such link names an attribute that exists, in the file it points to."""
    import importlib

    notebook = nbformat.read(NOTEBOOK_DIR / name, as_version=4)
    markdown = "\n".join(c.source for c in notebook.cells if c.cell_type == "markdown")
    assert "## Solutions" in markdown and markdown.index("## Exercises") < markdown.index("## Solutions")
    solutions = [c for c in notebook.cells if "solution" in c.metadata.get("tags", [])]
    assert solutions and all(c.cell_type == "code" and c.metadata.get("jupyter", {}).get("source_hidden")
                             for c in solutions), f"{name}: solutions must be hidden code cells"
    assert "(implement)" in markdown or "(measure)" in markdown, f"{name}: no implementation exercise"
    assert "(why)" in markdown, f"{name}: no 'why' question"
    references = next(c.source for c in notebook.cells if c.cell_type == "markdown" and "## References" in c.source)
    for arxiv in REFERENCES:
        assert f"https://arxiv.org/abs/{arxiv}" in references, f"{name}: no link to arXiv:{arxiv}"
    links = LIBRARY_LINK.findall(references)
    assert len(links) >= 4, f"{name}: the references link {len(links)} pcutlib functions"
    for dotted, path in links:
        module_name, attribute = dotted.rsplit(".", 1)
        assert hasattr(importlib.import_module(module_name), attribute), f"{name}: {dotted} does not exist"
        linked = importlib.import_module(path[:-len(".py")].replace("/", "."))
        assert attribute in vars(linked), f"{name}: {dotted} links {path}, which does not define {attribute}"
    assert "What this notebook shows, and what it does not" in markdown, f"{name}: no honesty box"


@pytest.mark.slow
def test_every_link_uses_the_repository_url():
    """Badges and Colab clone cells in the notebooks (and the README's badge block) follow REPOSITORY_URL."""
    result = subprocess.run([sys.executable, str(REPO / "tools" / "set_repository_url.py"), "--check"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    url = (REPO / "REPOSITORY_URL").read_text().strip()
    slug = url.removeprefix("https://github.com/")
    for name in NOTEBOOKS:
        text = (NOTEBOOK_DIR / name).read_text()
        assert f'repository = \\"{url}\\"' in text, name
        assert f"colab.research.google.com/github/{slug}/blob/main/notebooks/{name}" in text, name
        assert f"mybinder.org/v2/gh/{slug}/main?urlpath=lab/tree/notebooks/{name}" in text, name
        other = set(re.findall(r"github\.com/([\w.-]+/[\w.-]+?)(?:\.git|/|\"|\))", text)) - {slug}
        assert not other, f"{name} links other repositories: {other}"


def test_readme_badges_use_the_repository_url():
    readme = (REPO / "README.md").read_text()
    if "<!-- badges -->" not in readme:
        pytest.skip("README.md has no <!-- badges --> block yet; tools/set_repository_url.py fills it once added")
    url = (REPO / "REPOSITORY_URL").read_text().strip()
    slug = url.removeprefix("https://github.com/")
    block = readme.split("<!-- badges -->", 1)[1].split("<!-- /badges -->", 1)[0]
    assert f"mybinder.org/v2/gh/{slug}/main?urlpath=lab/tree/notebooks/01_warping.ipynb" in block
    assert f"colab.research.google.com/github/{slug}/blob/main/notebooks/01_warping.ipynb" in block


def test_binder_files():
    environment = (REPO / "binder" / "environment.yml").read_text()
    assert "pytorch-cpu" in environment and "conda-forge" in environment
    assert not re.search(r"^\s*-\s*(jupyterlab|ipywidgets)\s*[=<>]", environment, re.M), \
        "do not pin JupyterLab/ipywidgets against the Binder base image"
    post_build = REPO / "binder" / "postBuild"
    assert os.access(post_build, os.X_OK) and "pip install" in post_build.read_text()


def test_conda_environment_uses_conda_forge_builds():
    import yaml
    environment = yaml.safe_load((REPO / "environment.yml").read_text())
    assert environment["channels"] == ["conda-forge"], "the pytorch channel stopped publishing at 2.5"
    names = [d.split(">")[0].split("=")[0] for d in environment["dependencies"] if isinstance(d, str)]
    assert "pytorch-gpu" in names and "pytorch-cuda" not in names and "pytorch" not in names


STUB_NOTEBOOKS = ("01", "02", "03", "04", "05", "06", "07", "08")      # notebooks with an exercise the student writes (a stub: cell)


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_stub_exercises_have_a_check_and_a_solution(name):
    """A stub cell (tag stub:NAME) raises NotImplementedError, the next code cell checks it with
    teaching.check_exercise, and a hidden solution cell (tags solution, fills:NAME) fills it."""
    notebook = json.loads((NOTEBOOK_DIR / name).read_text())
    code = [c for c in notebook["cells"] if c["cell_type"] == "code"]
    stubs = [(i, c) for i, c in enumerate(code) if any(t.startswith("stub:") for t in c["metadata"].get("tags", []))]
    if name[:2] in STUB_NOTEBOOKS:
        assert stubs, f"{name}: no stub exercise"
    for i, cell in stubs:
        assert "raise NotImplementedError" in "".join(cell["source"]), f"{name}: a stub must raise NotImplementedError"
        assert "teaching.check_exercise(" in "".join(code[i + 1]["source"]), f"{name}: no check cell after a stub"
    filled = fill_stubs(json.loads(json.dumps(notebook)))
    assert not any("raise NotImplementedError" in "".join(c["source"]) for c in filled["cells"]
                   if any(t.startswith("stub:") for t in c["metadata"].get("tags", [])))


def test_check_exercise_fails_until_the_stub_is_written():
    import torch

    def stub(x):
        raise NotImplementedError

    with pytest.raises(ExerciseNotWritten, match="exercise 9: not written yet"):
        check_exercise("9", stub, torch.neg, [(torch.ones(2),)])
    with pytest.raises(AssertionError, match="exercise 9: case 2 of 2 differs"):
        check_exercise("9", lambda x: -x if x.sum() < 3 else x, torch.neg, [(torch.ones(2),), (torch.ones(4),)])
    assert check_exercise("9", lambda x: -x, torch.neg, [(torch.ones(2),)]) == 1


def test_check_exercise_refuses_answers_that_call_the_library():
    """An answer that is, wraps or calls the reference (directly, through a helper written in the
    notebook, or as a module attribute) fails; so does one that skips a name the exercise asks for;
    where the reference is a notebook wrapper, the library code it calls is refused as well."""
    import torch
    from pcutlib.evaluation import metrics
    from pcutlib.evaluation.metrics import psnr

    real = torch.rand(2, 3, 4, 4, generator=torch.Generator().manual_seed(0))
    cases = [(real * 0.9, real)]

    def helper(a, b):
        return psnr(a, b)

    def own(a, b):
        return float(10 * torch.log10(1 / ((a - b) ** 2).mean()))

    for cheat in (psnr, lambda a, b: psnr(a, b), lambda a, b: helper(a, b), lambda a, b: metrics.psnr(a, b)):
        with pytest.raises(AssertionError, match="calls the library's psnr; write it yourself"):
            check_exercise("9", cheat, psnr, cases, compare=lambda a, b: abs(a - b) < 1e-3)
    assert check_exercise("9", own, psnr, cases, compare=lambda a, b: abs(a - b) < 1e-3) == 1

    def wrapper(a, b):                          # a reference written in the notebook around the library
        return psnr(a, b)

    with pytest.raises(AssertionError, match="calls the library's psnr"):
        check_exercise("9", lambda a, b: psnr(a, b) + 0, wrapper, cases, compare=lambda a, b: abs(a - b) < 1e-3)
    with pytest.raises(AssertionError, match="asks for topk, which the answer does not use"):
        check_exercise("9", own, psnr, cases, compare=lambda a, b: abs(a - b) < 1e-3, must_use=("topk",))
    assert check_exercise("9", lambda x: -x.topk(1).values, lambda x: -x.max(-1, keepdim=True).values,
                          [(real[0, 0],)], must_use=("topk",)) == 1
    with pytest.raises(ValueError, match=r"stub cells without a fills: solution cell: \['lonely'\]"):
        fill_stubs({"cells": [{"cell_type": "code", "source": "", "metadata": {"tags": ["stub:lonely"]}}]})


def test_notebook_5_states_the_schema_defaults_of_its_choices():
    """Notebook 5's table of the paper's steps and pcut's choices quotes the config schema's defaults."""
    from pcutlib.config import default

    text = (NOTEBOOK_DIR / "05_prioritycut.ipynb").read_text()
    for key in ("top_k_percent", "foreground_threshold", "mix_probability", "mix_warmup_epochs"):
        assert f"`{key}` {default('regularizer.' + key):g}" in text, key
    assert f"`all_ones_masks: {default('regularizer.all_ones_masks')}`" in text
