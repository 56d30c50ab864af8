"""The strategy report: one HTML file per sample scenario and language, complete, self-contained, consistent.

Each sample scenario is rendered once per language into a clean temporary folder (cached for the whole
session, so the browser tests reuse the same files); the checks then read the files.
"""

from __future__ import annotations

import atexit
import json
import re
import shutil
import tempfile
from functools import cache
from pathlib import Path

import nbformat
import pytest
from conftest import SAMPLE_FILES

from sim.model.kpis import KPI_NAMES
from sim.report import recommendation as reco
from sim.report.data import FRAME_FILES, JSON_FILES, TABLE_KPIS
from sim.report.i18n import LANGUAGES, fmt_kpi, fmt_percent, t
from sim.report.render import ReportOutput, render_report

REPLICATIONS = 20  # enough for bands in a test; the default of 100 is for clients
SECTIONS = [
    "summary",
    "gain",
    "funnel",
    "stages",
    "revenue",
    "calendar",
    "cohorts",
    "curve",
    "roi",
    "advice",
    "levers",
    "breakevens",
    "beliefs",
    "kpis",
    "plans",
    "playbook",
    "assumptions",
]
TABLE = [*TABLE_KPIS, "returning_revenue_share", "cumulative_contribution", "npv"]
_ROOT = Path(tempfile.mkdtemp(prefix="sim-report-tests-"))
atexit.register(shutil.rmtree, _ROOT, ignore_errors=True)  # the browser tests reuse these files


@cache
def rendered(stem: str, lang: str) -> ReportOutput:
    """Render a sample scenario's report once per session, into its own clean folder."""
    folder = _ROOT / f"{stem}-{lang}"
    assert not folder.exists()
    return render_report(SAMPLES[stem], folder, lang, replications=REPLICATIONS)


SAMPLES = {p.stem: p for p in SAMPLE_FILES}
CASES = [(stem, lang) for stem in SAMPLES for lang in LANGUAGES]


@pytest.fixture(scope="module", params=CASES, ids=[f"{s}-{lang}" for s, lang in CASES])
def report(request) -> tuple[str, str, ReportOutput]:
    stem, lang = request.param
    return stem, lang, rendered(stem, lang)


def test_every_sample_is_covered():
    assert {"early_stage_d2c"} <= set(SAMPLES), "the early-stage sample must be among the tested scenarios"


def test_files_are_written_and_named_after_the_scenario_and_language(report):
    _, lang, out = report
    folder = out.html.parent
    slug = out.summary["slug"]
    stem = slug if lang == "en" else f"{slug}.{lang}"
    assert out.html == folder / f"{stem}.html" and out.html.is_file()
    assert out.notebook == folder / f"{stem}.ipynb" and out.notebook.is_file()
    assert out.data_dir == folder / f"{stem}_data" and out.data_dir.is_dir()
    for name in [*FRAME_FILES.values(), *JSON_FILES.values()]:
        assert (out.data_dir / name).is_file(), name
    leftovers = [p.name for p in folder.iterdir() if p.name.startswith(".")]
    assert leftovers == [], f"staging files left behind: {leftovers}"


def test_html_is_self_contained(report):
    _, _, out = report
    page = out.html.read_text(encoding="utf-8")
    assert not re.search(r"<script[^>]+src=", page, re.I), "external script"
    assert not re.search(r"<link[^>]+href=[\"']?https?:", page, re.I), "external stylesheet"
    assert not re.search(r"<img[^>]+src=[\"'](?!data:)", page, re.I), "image not embedded"
    images = re.findall(r"<img[^>]+src=[\"']data:image/png;base64,", page)
    assert len(images) >= 9, f"expected a plot per section, found {len(images)} images"
    assert "Traceback" not in page


def test_every_figure_has_the_report_width(report):
    """The page shows every chart at one scale: no title, label, tick or legend widens an image beyond the
    figure (a long label wraps instead), in either language."""
    import base64
    import struct

    _, _, out = report
    notebook = nbformat.read(out.notebook, as_version=4)
    widths = {}
    for i, cell in enumerate(notebook.cells):
        for output in cell.get("outputs", []):
            png = output.get("data", {}).get("image/png")
            if png:
                widths[f"cell {i}: {cell.source.splitlines()[0][:60]}"] = struct.unpack(
                    ">I", base64.b64decode(png)[16:20]
                )[0]
    assert len(widths) >= 9
    common = max(set(widths.values()), key=list(widths.values()).count)
    assert {k: w for k, w in widths.items() if abs(w - common) > 2} == {}, f"common width {common}px"


def test_html_has_every_section_and_no_code(report):
    _, lang, out = report
    page = out.html.read_text(encoding="utf-8")
    for section in SECTIONS:
        assert f'id="sec-{section}"' in page, section
        assert t(f"section.{section}", lang) in page, section
    assert "prepare_report_data" not in page and "plt.show()" not in page, "code leaked into the report"
    assert f'lang="{lang}"' in page


def test_kpi_table_matches_kpis_json(report):
    _, lang, out = report
    page = out.html.read_text(encoding="utf-8")
    written = json.loads((out.data_dir / "kpis.json").read_text(encoding="utf-8"))
    assert out.kpis == written
    currency = json.loads((out.data_dir / "meta.json").read_text(encoding="utf-8"))["currency"]
    rows = dict(re.findall(r'<tr data-kpi="([a-z_0-9]+)"[^>]*? data-value="([^"]*)"[^>]*>', page))
    assert list(rows) == TABLE
    for name in TABLE:
        assert json.loads(rows[name]) == written[name], name
        shown = fmt_kpi(name, written[name], currency, lang)
        assert re.search(rf'<tr data-kpi="{name}"[^>]*><td>[^<]*</td><td>{re.escape(shown)}</td>', page), (name, shown)


def test_kpis_json_has_the_contract_kpis(report):
    _, _, out = report
    written = json.loads((out.data_dir / "kpis.json").read_text(encoding="utf-8"))
    assert list(written)[: len(KPI_NAMES)] == KPI_NAMES
    for name in ("cac", "clv", "ltv_cac", "cumulative_contribution", "marginal_roi_front", "marginal_roi_winback"):
        assert isinstance(written[name], float), name


def test_summary_row_is_flat_and_complete(report):
    _, _, out = report
    s = out.summary
    assert all(not isinstance(v, dict | list) for v in s.values())
    for key in ("scenario", "client", "slug", *KPI_NAMES, "uplift_mean", "uplift_p05", "uplift_p95"):
        assert key in s, key
    for p in ("front", "back", "winback"):
        assert f"recommended_share_{p}" in s
    assert out.html.name in (f"{s['slug']}.html", f"{s['slug']}.ko.html")
    assert s == json.loads((out.data_dir / "summary.json").read_text(encoding="utf-8")) | {"client": s["client"]}


def test_executed_notebook_is_clean(report):
    """No error, no warning on stderr (e.g. a missing glyph) in any cell of the executed notebook."""
    _, _, out = report
    nb = nbformat.read(str(out.notebook), as_version=4)
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            assert output["output_type"] != "error", output
            assert output.get("name") != "stderr", "".join(output.get("text", ""))
    params = next(c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", []))
    assert str(out.html.parent) in params.source, "the executed notebook names its final folder"


def test_korean_report_is_korean(report):
    _, lang, out = report
    page = out.html.read_text(encoding="utf-8")
    if lang == "ko":
        assert "핵심 요약" in page and "고객 생애주기 퍼널" in page
        assert "@font-face" in page, "Korean glyphs are embedded for machines without a Korean font"
    else:
        assert "Executive summary" in page and "핵심 요약" not in page


def test_currency_formats_follow_the_scenario(report):
    _, lang, out = report
    page = out.html.read_text(encoding="utf-8")
    currency = json.loads((out.data_dir / "meta.json").read_text(encoding="utf-8"))["currency"]
    if currency == "KRW":
        assert ("원" if lang == "ko" else "₩") in page
    elif currency == "USD":
        assert "$" in page


def page_text(page: str) -> str:
    """The words a reader sees: the page without its styles, images and tags."""
    body = re.sub(r"<style.*?</style>|<script.*?</script>|<img[^>]*>", "", page, flags=re.S)
    return re.sub(r"<[^>]+>", " ", body)


def test_no_nan_inf_or_none_reaches_the_page(report):
    _, _, out = report
    words = set(page_text(out.html.read_text(encoding="utf-8")).split())
    assert not words & {"nan", "NaN", "inf", "-inf", "None", "null"}, words & {"nan", "NaN", "inf", "None", "null"}


def test_summary_answers_on_one_screen(report):
    """The executive summary holds the gain with its band and its parts, the first actions by month, the
    assumption the plan hinges on, and the plan over time as a chart; the KPI table shows both plans."""
    _, lang, out = report
    page = out.html.read_text(encoding="utf-8")
    summary = page[page.index('id="sec-summary"') : page.index('id="sec-gain"')]
    text = page_text(summary)
    intro = t("summary.actions_intro", lang, share=fmt_percent(reco.MIN_ACTION_SHARE, lang, 0))
    assert intro in text and t("summary.hinge_intro", lang) in text
    assert t("gain.part.timing", lang) in text or t("gain.part.channel_mix", lang) in text
    actions = summary.count("<li>")
    assert 1 <= actions <= 3 or (actions == 0 and t("summary.no_actions", lang) in text), actions
    assert re.search(r"<img[^>]+src=[\"']data:image/png", summary), "the plan over time is a chart"
    assert t("beliefs.assumed", lang) in text or t("beliefs.measured", lang) in text
    for column in ("plan.current_col", "plan.recommended_col"):
        assert f"<th>{t(column, lang)}</th>" in page
    row = re.search(r'<tr data-kpi="cac"[^>]*>', page).group(0)
    assert 'data-value="' in row and 'data-recommended="' in row, row


def test_a_promotions_delay_reads_as_it_moved(report):
    """Each promotion's delay (with and without it) is shown with two decimals, as the calendar's is, so a rise
    of a few hundredths of a day never reads "0.0 (0.0)"; every promotion's figures are on the page."""
    import pandas as pd

    from sim.report.i18n import fmt_number

    _, lang, out = report
    events = pd.read_csv(out.data_dir / FRAME_FILES["events"])
    text = " ".join(page_text(out.html.read_text(encoding="utf-8")).split())
    for row in events.to_dict("records"):
        shown = f"{fmt_number(row['delay_days'], lang, 2)} ({fmt_number(row['delay_days_without'], lang, 2)})"
        assert shown in text, shown
        if row["delay_days"] - row["delay_days_without"] >= 0.01:
            assert fmt_number(row["delay_days"], lang, 2) != fmt_number(row["delay_days_without"], lang, 2)


def test_korean_particles_agree_with_the_amounts_they_follow(report):
    """In a Korean report a particle after an amount agrees with how it is read: 원 takes 이/을/은/과, a dollar
    amount (달러) takes 가/를/는/와, whatever the template was written for."""
    _, lang, out = report
    if lang != "ko":
        pytest.skip("Korean reports only")
    text = " ".join(page_text(out.html.read_text(encoding="utf-8")).split())
    assert not re.findall(r"\$[0-9][0-9,.]*(?:이|을|은|과|으로) ", text)
    assert not re.findall(r"[0-9]원(?:가|를|는|와) ", text)
