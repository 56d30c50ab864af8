"""A real browser drives the course in JupyterLab: `python -m sim lab` serves the repository on 127.0.0.1 (a
free port, a token, no browser of its own), Debian's chromium (driven by playwright, never downloaded) opens
a learning notebook and the what-if notebook, runs all cells, moves a slider and checks that the figure or
the printed numbers change, that no cell errors, that a chapter link opens and a solution shows on request,
and that the what-if notebook saves a valid scenario.

The server runs with SIM_LANG=ko, so the kernels run the Korean course (nbval runs the English one).
JupyterLab's autosave is off (its settings live in a temporary folder), so the stored notebooks never
change; the server, its kernels and the browser are stopped in the fixtures' teardown.
Needs the Debian package `chromium` (installed by `.ci/run`); skipped with a reason when it is absent.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from sim.model.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed (apt-get install chromium)"
    ),
]

SETTINGS = {  # JupyterLab user settings for the test: never write the notebooks, never call out
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false", "checkForUpdates": False},
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read()
    except OSError as exc:
        return getattr(exc, "code", 0) or 0, b""


class Lab:
    """A JupyterLab server started by `python -m sim lab`, with its address and token."""

    def __init__(self, tmp: Path, lang: str) -> None:
        self.port, self.token = _free_port(), os.urandom(16).hex()
        settings = tmp / "settings"
        for name, values in SETTINGS.items():
            path = settings / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(values))
        env = dict(os.environ)
        env.update(
            JUPYTER_TOKEN=self.token,
            JUPYTER_CONFIG_DIR=str(tmp / "config"),
            JUPYTER_RUNTIME_DIR=str(tmp / "runtime"),
            JUPYTERLAB_SETTINGS_DIR=str(settings),
            JUPYTERLAB_WORKSPACES_DIR=str(tmp / "workspaces"),
            PYTHONPATH=os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]),
        )
        self.log = (tmp / "lab.log").open("w")
        command = [sys.executable, "-m", "sim", "lab", "--no-browser", "--port", str(self.port), "--lang", lang]
        self.process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        self.log_path = tmp / "lab.log"
        deadline = time.monotonic() + 120
        while _get(self.api("status"))[0] != 200:
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("JupyterLab did not start:\n" + self.log_path.read_text()[-3000:])
            time.sleep(0.5)

    def api(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}/api/{path}?token={self.token}"

    def url(self, path: str) -> str:
        # a workspace of its own, reset: only this document is open (not the tabs of an earlier page)
        return f"http://127.0.0.1:{self.port}/lab/workspaces/{Path(path).stem}/tree/{path}?reset&token={self.token}"

    def stop(self) -> None:
        """Shut the kernels down through the server, then the server itself (SIGTERM, then SIGKILL)."""
        try:
            status, body = _get(self.api("kernels"))
            for kernel in json.loads(body or b"[]") if status == 200 else []:
                request = urllib.request.Request(self.api(f"kernels/{kernel['id']}"), method="DELETE")
                urllib.request.urlopen(request, timeout=10).close()
        except OSError:
            pass
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.log.close()


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    server = Lab(tmp_path_factory.mktemp("lab"), "ko")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    from playwright.sync_api import sync_playwright  # a dev dependency: pip install -e '.[dev]'

    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),
            executable_path=CHROMIUM,
            headless=True,
            args=FLAGS,
            viewport={"width": 1400, "height": 1000},
        )
        try:
            yield context
        finally:
            context.close()


def _menu(page, menu: str, item: str) -> None:
    page.locator(".lm-MenuBar-itemLabel", has_text=menu).first.click()
    page.locator(".lm-Menu-itemLabel", has_text=item).first.click()


def _open_and_run_all(page, lab: Lab, notebook: str) -> None:
    """Open a notebook, clear the stored outputs, run all cells from the Run menu, and wait until every cell
    has run again (cells with hidden input show no prompt) and the kernel is idle."""
    page.goto(lab.url(notebook))
    page.wait_for_selector(".jp-NotebookPanel .jp-MarkdownCell", timeout=120_000)  # the file's cells, loaded
    idle = "document.querySelector('.jp-Notebook-ExecutionIndicator')?.getAttribute('data-status') === 'idle'"
    kernel = "(document.querySelector('.jp-NotebookPanel .jp-KernelName')?.textContent || '').includes('Python')"
    page.wait_for_function(f"() => {kernel} && {idle}", timeout=120_000)
    prompts = "[...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')].map(p => p.textContent)"
    visible = page.evaluate(f"() => {prompts}.filter(t => /\\d/.test(t)).length")  # stored execution counts
    _menu(page, "Edit", "Clear Outputs of All Cells")
    page.wait_for_function(f"() => !{prompts}.some(t => /\\d/.test(t))", timeout=30_000)
    _menu(page, "Run", "Run All Cells")
    try:
        page.wait_for_function(
            f"(n) => {prompts}.filter(t => /\\[\\d+\\]/.test(t)).length === n && {idle}", arg=visible, timeout=300_000
        )
    except Exception:
        page.screenshot(path=str(lab.log_path.with_name("timeout.png")))
        raise


def _errors(page) -> list[str]:
    """Error and stderr outputs of the open notebook."""
    return page.eval_on_selector_all(
        ".jp-NotebookPanel [data-mime-type='application/vnd.jupyter.stderr']", "els => els.map(e => e.innerText)"
    )


def test_a_learning_notebook_runs_and_answers_its_slider_in_the_browser(lab, browser):
    page = browser.new_page()
    messages: list[str] = []
    page.on("pageerror", lambda exc: messages.append(str(exc)))
    _open_and_run_all(page, lab, "notebooks/learn/01_front_back_marketing.ipynb")
    assert _errors(page) == []
    assert messages == [], messages
    text = page.locator(".jp-NotebookPanel").inner_text()
    assert "프론트엔드 중심에서 백엔드 중심으로" in text, "the kernel did not run the Korean course"

    interact = page.locator(".widget-interact").first
    label = interact.locator(".widget-label").first
    assert label.inner_text() == "프론트엔드 비중"
    assert label.evaluate("e => e.scrollWidth <= e.clientWidth"), "the slider's label is cut off"
    image = interact.locator(".jp-OutputArea-output img").first
    image.wait_for(timeout=60_000)
    before = image.get_attribute("src")
    handle = interact.locator(".noUi-handle").first
    handle.focus()
    handle.press("ArrowRight")
    page.wait_for_function(
        "(src) => { const i = document.querySelector('.widget-interact .jp-OutputArea-output img'); "
        "return i && i.getAttribute('src') !== src; }",
        arg=before,
        timeout=60_000,
    )
    assert "0.80" in interact.locator(".widget-readout").first.inner_text()
    assert _errors(page) == []

    button = page.locator(".sim-solution-button", has_text="풀이 보기").first
    button.click()
    page.locator(".sim-solution").first.get_by_text("백엔드").first.wait_for(timeout=30_000)

    links = page.locator(".jp-MarkdownCell a[href*='/files/playbook/']")  # JupyterLab resolves them in its root
    assert links.count() == 4  # the chapter and the index, in both languages
    for href in links.evaluate_all("els => els.map(e => e.href)"):
        assert _get(href.split("?")[0] + f"?token={lab.token}")[0] == 200, href
    page.locator(".jp-MarkdownCell a[href*='playbook/ko/01_front_back_marketing.md']").first.click()
    page.locator(".lm-TabBar-tabLabel", has_text="01_front_back_marketing.md").first.wait_for(timeout=30_000)
    page.close()


def test_the_what_if_notebook_answers_and_saves_a_valid_scenario_in_the_browser(lab, browser, tmp_path):
    page = browser.new_page()
    _open_and_run_all(page, lab, "notebooks/what_if.ipynb")
    assert _errors(page) == []
    table = page.locator(".sim-whatif-answer table.sim-whatif-kpis")
    table.wait_for(timeout=60_000)
    before = table.inner_text()
    handle = page.locator(".sim-whatif-lever-front .noUi-handle")
    handle.focus()
    handle.press("ArrowRight")
    page.wait_for_function(
        "(t) => { const e = document.querySelector('.sim-whatif-answer table.sim-whatif-kpis'); "
        "return e && e.innerText !== t; }",
        arg=before,
        timeout=60_000,
    )
    page.locator(".sim-whatif-status", has_text="초 만에 계산").wait_for(timeout=30_000)  # the answer's time
    target = tmp_path / "edited.yaml"
    page.locator(".sim-whatif-save-path input").fill(str(target))
    page.locator(".sim-whatif-save-path input").press("Enter")
    page.locator(".sim-whatif-save").click()
    page.locator(".sim-whatif-saved", has_text="저장했습니다").wait_for(timeout=30_000)
    assert _errors(page) == []
    saved = load_scenario(target)
    assert saved.budget.purpose_split["front"] == pytest.approx(0.76)
    page.close()
