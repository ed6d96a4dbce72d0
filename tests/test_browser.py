"""A real browser: JupyterLab on loopback, notebook 5 in headless Chromium, the top-k slider moved.

Starts JupyterLab on 127.0.0.1 at a free port with a known token, serving a temporary
folder that holds a copy of notebooks/05_prioritycut.ipynb whose parameters cell points at
the shipped model (an untrained stand-in would stop Run All at the notebook's assertion about
what the trained model shows, before the widget). Playwright (Python API) drives Debian's Chromium
(/usr/bin/chromium, never a downloaded browser): Run > Run All Cells, wait for the
PriorityCut widget's figure, move the top_k_percent slider with the keyboard, and assert
that the figure (the <img> data of the widget's output) changed. Screenshots before and
after land in the test's tmp_path.

Without Chromium or Playwright the test skips with the reason; with PCUT_REQUIRE_BROWSER=1
(set by CI) that skip is a failure. JupyterLab is always shut down (terminate, then kill,
with bounded waits).
"""
from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
NOTEBOOK = "05_prioritycut.ipynb"
SERVER_START_S = 90
RUN_ALL_S = 240
CHANGE_S = 90


def skip_or_fail(reason: str):
    if os.environ.get("PCUT_REQUIRE_BROWSER") == "1":
        pytest.fail(f"PCUT_REQUIRE_BROWSER=1 but: {reason}")
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def prepare_folder(folder: Path, pretrained: Path) -> Path:
    """Copy notebook 5 with pretrained_path set in its parameters cell (what papermill -p would do)
    and its stub exercise filled with the solution (as the notebook tests do): Run All then ends
    without the check's deliberate error."""
    from pcutlib.teaching.exercises import fill_stubs

    notebook = fill_stubs(nbformat.read(REPO / "notebooks" / NOTEBOOK, as_version=4))
    cell = next(c for c in notebook.cells if "parameters" in c.metadata.get("tags", []))
    cell.source += f"\npretrained_path = {str(pretrained)!r}   # the shipped model, by absolute path"
    nbformat.write(notebook, folder / NOTEBOOK)
    # Quiet, offline JupyterLab: no news/update checks, fresh settings and workspaces.
    config = folder / ".jupyter-config"
    (config / "labconfig").mkdir(parents=True)
    (config / "labconfig" / "page_config.json").write_text(json.dumps(
        {"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}}))
    # Every cell stays in the page (no virtual scrolling), so the widget can be found below.
    tracker = folder / ".settings" / "@jupyterlab" / "notebook-extension" / "tracker.jupyterlab-settings"
    tracker.parent.mkdir(parents=True)
    tracker.write_text(json.dumps({"windowingMode": "none"}))
    return config


def start_lab(folder: Path, config: Path, port: int, token: str, log: Path) -> subprocess.Popen:
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(config), "JUPYTERLAB_SETTINGS_DIR": str(folder / ".settings"),
           "JUPYTERLAB_WORKSPACES_DIR": str(folder / ".workspaces"), "JUPYTER_RUNTIME_DIR": str(folder / ".runtime")}
    command = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1",
               f"--ServerApp.port={port}", "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
               f"--ServerApp.root_dir={folder}", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
               "--LabApp.extension_manager=readonly"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")             # containers and CI machines run as root
    return subprocess.Popen(command, cwd=folder, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT,
                            start_new_session=True)


def wait_for_server(process: subprocess.Popen, url: str, log: Path) -> None:
    deadline = time.monotonic() + SERVER_START_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"JupyterLab exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    pytest.fail(f"JupyterLab did not answer within {SERVER_START_S} s:\n{log.read_text()[-3000:]}")


def stop_lab(process: subprocess.Popen) -> None:
    """SIGTERM (the server shuts its kernels down), then SIGKILL of its process group if needed."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(process.pid, signal.SIGKILL)          # the group this test started (kernels included)
    except ProcessLookupError:
        pass
    process.wait(timeout=10)


def widget_image(page) -> str:
    """The data URL of the PriorityCut widget's figure ('' while there is none)."""
    images = page.locator(".widget-interact img, .jupyter-widgets-output-area img, .widget-output img")
    return images.first.get_attribute("src") if images.count() else ""


@pytest.mark.slow
@pytest.mark.browser
def test_prioritycut_slider_changes_the_mask(tmp_path):
    if not CHROMIUM.exists():
        skip_or_fail(f"{CHROMIUM} not found (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        skip_or_fail("the playwright Python package is not installed (pip install playwright)")
    from pcutlib.teaching.common import shipped_model_path

    pretrained = shipped_model_path()
    folder = tmp_path / "lab"
    folder.mkdir()
    config = prepare_folder(folder, pretrained)
    port, token = free_port(), secrets.token_hex(16)
    log = tmp_path / "jupyterlab.log"
    process = start_lab(folder, config, port, token, log)
    try:
        wait_for_server(process, f"http://127.0.0.1:{port}/api/status?token={token}", log)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
            try:
                drive_notebook(browser.new_page(viewport={"width": 1400, "height": 1000}),
                               f"http://127.0.0.1:{port}/lab/tree/{NOTEBOOK}?token={token}&reset", tmp_path)
            finally:
                browser.close()
    finally:
        stop_lab(process)
        shutil.rmtree(folder / ".runtime", ignore_errors=True)


def drive_notebook(page, url: str, out: Path) -> None:
    page.set_default_timeout(60_000)
    page.goto(url)
    page.locator(".jp-Notebook .jp-Cell").first.wait_for()
    page.locator(".jp-NotebookPanel-toolbar .jp-Notebook-ExecutionIndicator, #jp-main-statusbar").first.wait_for()
    page.wait_for_function("() => document.body.innerText.includes('Idle')", timeout=60_000)
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.locator('[data-command="runmenu:run-all"]').click()

    slider = page.locator(".widget-slider", has=page.get_by_text("top_k_percent", exact=True))
    slider.first.wait_for(timeout=RUN_ALL_S * 1000)
    deadline = time.monotonic() + RUN_ALL_S
    while not widget_image(page) and time.monotonic() < deadline:
        page.wait_for_timeout(500)
    before = widget_image(page)
    assert before.startswith("data:image/png"), "the PriorityCut widget drew no figure"
    slider.first.scroll_into_view_if_needed()
    page.screenshot(path=str(out / "before.png"), full_page=False)

    handle = slider.first.locator(".noUi-handle, .ui-slider-handle").first
    handle.click()
    for _ in range(40):                           # top_k_percent 10 -> 50, step 1
        handle.press("ArrowRight")
    after = wait_for_change(page, before)
    if after == before:                           # keyboard not honoured: type into the readout instead
        readout = slider.first.locator(".widget-readout").first
        readout.click()
        page.keyboard.press("Control+A")
        page.keyboard.type("60")
        page.keyboard.press("Enter")
        after = wait_for_change(page, before)
    page.screenshot(path=str(out / "after.png"), full_page=False)
    assert after and after != before, "moving the top_k_percent slider did not change the mask figure"
    errors = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
    tracebacks = [t for t in errors.all_inner_texts() if "Traceback" in t or "Error" in t]
    assert not tracebacks, tracebacks


def wait_for_change(page, before: str) -> str:
    deadline = time.monotonic() + CHANGE_S
    current = widget_image(page)
    while (not current or current == before) and time.monotonic() < deadline:
        page.wait_for_timeout(500)
        current = widget_image(page)
    return current
