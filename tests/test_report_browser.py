"""A real browser renders the report: headless Chromium loads the page, decodes every image, logs no error.

No extra Python dependency: a copy of the report gets a small script at the top of <head> that records
script errors, failed resource loads and console.error calls, and on `load` writes them, with every
image's decoded width, into the DOM, which `--dump-dom` prints. Chromium's own console log (stderr with
`--enable-logging=stderr`) must hold no console message at all, since the report has no scripts.
Needs the Debian package `chromium` (installed by `.ci/run`); skipped with a reason when it is absent.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from test_report import rendered

CHROMIUM = next((p for p in ("/usr/bin/chromium", shutil.which("chromium") or "") if p and Path(p).exists()), None)
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium not installed (Debian package: chromium)")

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-extensions",
    "--hide-scrollbars",
    "--enable-logging=stderr",
    "--v=0",
]

PROBE = """<script>
window.__probe = {errors: []};
window.addEventListener("error", function (e) {
  var t = e.target || {};
  window.__probe.errors.push(e.message || ("failed to load " + (t.src || t.href || t.tagName)));
}, true);
(function () {
  var original = console.error;
  console.error = function () { window.__probe.errors.push(Array.from(arguments).join(" ")); original.apply(console, arguments); };
})();
window.addEventListener("load", function () {
  var imgs = Array.from(document.images).map(function (i) { return [i.complete, i.naturalWidth, i.naturalHeight]; });
  var pre = document.createElement("pre");
  pre.id = "__probe_result";
  pre.textContent = JSON.stringify({images: imgs, errors: window.__probe.errors,
                                    sections: document.querySelectorAll("[data-section]").length});
  document.body.appendChild(pre);
});
</script>"""


def chromium(args: list[str], profile: Path, timeout: int = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def console_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if ":CONSOLE" in line]


@pytest.mark.parametrize("lang", ["en", "ko"])
def test_chromium_renders_the_report(lang, tmp_path):
    out = rendered("early_stage_d2c", lang)
    page = out.html.read_text(encoding="utf-8")
    probed = tmp_path / "probed.html"
    probed.write_text(re.sub(r"<head>", "<head>" + PROBE, page, count=1), encoding="utf-8")

    dom = chromium(["--virtual-time-budget=10000", "--dump-dom", probed.as_uri()], tmp_path / "profile-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    found = re.search(r'<pre id="__probe_result">(.*?)</pre>', dom.stdout, re.S)
    assert found, "the page did not finish loading"
    probe = json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&"))
    assert probe["errors"] == [], probe["errors"]
    assert len(probe["images"]) >= 9
    for complete, width, height in probe["images"]:
        assert complete and width > 100 and height > 100, probe["images"]
    assert probe["sections"] >= 12

    shot = tmp_path / f"report-{lang}.png"
    run = chromium(["--window-size=1100,3000", f"--screenshot={shot}", out.html.as_uri()], tmp_path / "profile-shot")
    assert run.returncode == 0, run.stderr[-2000:]
    assert console_lines(run.stderr) == [], console_lines(run.stderr)
    assert shot.is_file() and shot.stat().st_size > 50_000

    from PIL import Image

    with Image.open(shot) as im:
        colors = im.convert("RGB").resize((110, 300)).getcolors(maxcolors=1_000_000)
    assert colors is not None and len(colors) > 50, "the screenshot is blank"
