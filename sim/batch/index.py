"""The ledger of a batch: `summary.csv`, `failures.csv` and `index.html` in the output folder.

`summary.csv` has one row per scenario whose report exists (rendered now or reused): the report's own
summary row (KPIs and the recommendation, as `sim.report.render` returns it), after four columns that say
where it came from: `scenario_file`, `slug`, `report` (`<slug>.html` or `<slug>.ko.html`) and `lang`. Failures are not in it; they go to
`failures.csv` (`scenario_file, slug, error_type, error, attempts`), which is always written, so a tool
can tell "no failures" from "not run". `index.html` is one self-contained page: a table of every client
with its key figures and a link to its report, sortable by clicking a column header, and the failures
with their error; a client whose report exists in other languages too (an earlier batch in another language
into the same folder) gets a link to each. Every text that comes from a user is HTML-escaped.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pandas as pd

from sim.io import write_csv, write_text

SOURCE_COLUMNS = ("scenario_file", "slug", "report", "lang")
LANGUAGE_NAMES = {"en": "English", "ko": "한국어"}
FAILURE_COLUMNS = ("scenario_file", "slug", "error_type", "error", "attempts")

# Key figures shown in index.html when a report's summary has them: (column, label, format).
KEY_FIGURES: tuple[tuple[str, str, str], ...] = (
    ("cac", "CAC", "money"),
    ("first_purchase_conversion", "First-purchase conversion", "share"),
    ("retention_12m", "12-month retention", "share"),
    ("returning_revenue_share", "Returning revenue", "share"),
    ("clv", "CLV", "money"),
    ("ltv_cac", "LTV:CAC", "ratio"),
    ("payback_months", "Payback (months)", "ratio"),
    ("cumulative_contribution", "Cumulative contribution", "money"),
    ("npv", "NPV", "money"),
)
PURPOSE_LABELS = {"front": "front", "back": "back", "winback": "win-back"}
EXTRA_FIGURES: tuple[tuple[str, str, str], ...] = (("uplift_mean", "Expected gain", "money"),)
LABELS_KO = {
    "currency": "통화",
    "uplift_mean": "기대 이익 증가",
    "client": "고객사",
    "report": "보고서",
    "recommendation": "권고",
    "first_purchase_conversion": "첫 구매 전환율",
    "retention_12m": "12개월 유지율",
    "returning_revenue_share": "재구매 매출 비중",
    "payback_months": "회수 기간(개월)",
    "cumulative_contribution": "누적 공헌이익",
}


def summary_rows(outcomes: Sequence[Any], lang: str = "en") -> list[dict[str, Any]]:
    """One flat row per scenario with a report, in input order."""
    rows = []
    for o in outcomes:
        if not o.ok:
            continue
        row: dict[str, Any] = {"scenario_file": o.scenario, "slug": o.slug, "report": o.report, "lang": lang}
        for key, value in (o.summary or o.kpis).items():
            if key in SOURCE_COLUMNS:
                if value == row[key]:
                    continue
                key = f"summary_{key}"
            row[key] = json.dumps(value, ensure_ascii=False) if isinstance(value, dict | list) else value
        rows.append(row)
    return rows


def write_tables(out_dir: Path, outcomes: Sequence[Any], lang: str = "en") -> tuple[Path, Path]:
    """Write `summary.csv` and `failures.csv` atomically (numbers at full precision); return their paths."""
    rows = summary_rows(outcomes, lang)
    columns: dict[str, None] = dict.fromkeys(SOURCE_COLUMNS)
    for row in rows:
        columns.update(dict.fromkeys(row))
    summary = pd.DataFrame(rows, columns=list(columns))
    failures = pd.DataFrame(
        [
            {
                "scenario_file": o.scenario,
                "slug": o.slug,
                "error_type": o.error_type,
                "error": " ".join((o.error or "").split()),
                "attempts": o.attempts,
            }
            for o in outcomes
            if not o.ok
        ],
        columns=list(FAILURE_COLUMNS),
    )
    return write_csv(out_dir / "summary.csv", summary), write_csv(out_dir / "failures.csv", failures)


# -- index.html -----------------------------------------------------------------------------------


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def _format(value: Any, kind: str) -> str:
    x = _number(value)
    if x is None:
        return "" if value is None else str(value)
    if kind == "share":
        return f"{x:.1%}"
    if kind == "money":
        return f"{x:,.0f}"
    return f"{x:,.2f}"


def _recommendation(rows: Sequence[dict[str, Any]]) -> Callable[[dict[str, Any]], tuple[str, float | None]] | None:
    """How to show a report's recommendation: the recommended budget split, or a `recommendation` text."""
    split_keys = [f"recommended_share_{p}" for p in PURPOSE_LABELS]
    if any(k in r for r in rows for k in split_keys):

        def split(row: dict[str, Any]) -> tuple[str, float | None]:
            parts = []
            for purpose, label in PURPOSE_LABELS.items():
                x = _number(row.get(f"recommended_share_{purpose}"))
                if x is not None:
                    parts.append(f"{label} {x:.0%}")
            return " / ".join(parts), _number(row.get("recommended_share_front"))

        return split
    for r in rows:
        for key in r:
            if key == "recommendation" or key.startswith("recommend"):
                return lambda row, key=key: (str(row.get(key, "") or ""), None)
    return None


_STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI","Noto Sans KR",sans-serif;margin:2rem;color:#222}
h1{font-size:1.4rem} h2{font-size:1.1rem;margin-top:2rem}
p.meta{color:#666;font-size:.9rem}
table{border-collapse:collapse;font-size:.9rem}
th,td{padding:.35rem .6rem;border-bottom:1px solid #ddd;text-align:left;vertical-align:top}
th{background:#f4f4f4;cursor:pointer;user-select:none;white-space:nowrap}
th[aria-sort=ascending]::after{content:" \\25B2"} th[aria-sort=descending]::after{content:" \\25BC"}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
table.failures td{color:#8a1c1c} td.error{font-family:ui-monospace,monospace;font-size:.8rem}
"""

# Sort a table by the clicked column: numbers by data-value, text by locale; click again to reverse.
_SCRIPT = """
document.querySelectorAll("table.sortable th").forEach(function (th, col) {
  th.addEventListener("click", function () {
    var table = th.closest("table"), body = table.tBodies[0];
    var dir = th.getAttribute("aria-sort") === "ascending" ? -1 : 1;
    table.querySelectorAll("th").forEach(function (h) { h.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", dir === 1 ? "ascending" : "descending");
    var key = function (row) {
      var cell = row.cells[col], v = cell.getAttribute("data-value");
      if (v !== null && v !== "") { return [0, parseFloat(v)]; }
      return [1, cell.textContent.trim().toLowerCase()];
    };
    Array.from(body.rows).sort(function (a, b) {
      var x = key(a), y = key(b);
      if (x[0] !== y[0]) { return x[0] - y[0]; }
      if (x[0] === 0) { return dir * (x[1] - y[1]); }
      return dir * x[1].localeCompare(y[1]);
    }).forEach(function (row) { body.appendChild(row); });
  });
});
"""


def _figure_cell(value: Any, kind: str) -> str:
    x = _number(value)
    data = "" if x is None else repr(x)
    return f'<td class="num" data-value="{html.escape(data)}">{html.escape(_format(value, kind))}</td>'


def _report_links(o: Any, lang: str, others: dict[str, str]) -> str:
    """The report's link, then one link per other language it exists in."""
    e = html.escape
    links = [f'<a href="{e(quote(o.report or ""))}">{e(o.report or "")}</a>']
    for other, name in sorted(others.items()):
        links.append(f'<a href="{e(quote(name))}" hreflang="{e(other)}">{e(LANGUAGE_NAMES.get(other, other))}</a>')
    return " · ".join(links)


def render_index(
    outcomes: Sequence[Any],
    *,
    lang: str = "en",
    title: str = "Strategy reports",
    others: dict[str, dict[str, str]] | None = None,
) -> str:
    """The HTML of index.html; `others` maps a slug to its reports in other languages ({lang: file})."""
    others = others or {}
    e = html.escape
    ok = [o for o in outcomes if o.ok]
    failed = [o for o in outcomes if not o.ok]
    rows = [o.summary or o.kpis for o in ok]
    figures = [(k, label, kind) for k, label, kind in KEY_FIGURES if any(k in r for r in rows)]
    extras = [(k, label, kind) for k, label, kind in EXTRA_FIGURES if any(k in r for r in rows)]
    rec = _recommendation(rows)
    currency = any("currency" in r for r in rows)
    label = (lambda key, default: LABELS_KO.get(key, default)) if lang == "ko" else (lambda key, default: default)

    head = [label("client", "Client"), "Scenario"]
    head += [label("currency", "Currency")] if currency else []
    head += [label(k, lbl) for k, lbl, _ in figures]
    if rec:
        head.append(label("recommendation", "Recommended split"))
    head += [label(k, lbl) for k, lbl, _ in extras]
    head.append(label("report", "Report"))
    lines = [
        "<!DOCTYPE html>",
        f'<html lang="{e(lang)}"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{e(title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{e(title)}</h1>",
        f'<p class="meta">{len(ok)} report{"s" if len(ok) != 1 else ""}, {len(failed)} failed; '
        f"written {e(datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC'))}. "
        'Click a column header to sort. Figures: <a href="summary.csv">summary.csv</a>.</p>',
    ]
    if ok:
        lines.append('<table class="sortable reports"><thead><tr>')
        lines.extend(f"<th>{e(h)}</th>" for h in head)
        lines.append("</tr></thead><tbody>")
        for o, row in zip(ok, rows, strict=True):
            href = quote(o.report or "")
            cells = [
                f'<td><a href="{e(href)}">{e(o.display_name)}</a></td>',
                f"<td>{e(Path(o.scenario).name)}</td>",
            ]
            if currency:
                cells.append(f"<td>{e(str(row.get('currency') or ''))}</td>")
            cells += [_figure_cell(row.get(key), kind) for key, _, kind in figures]
            if rec:
                text, sort_value = rec(row)
                data = "" if sort_value is None else repr(sort_value)
                cells.append(f'<td data-value="{e(data)}">{e(text)}</td>')
            cells += [_figure_cell(row.get(key), kind) for key, _, kind in extras]
            cells.append(f"<td>{_report_links(o, lang, others.get(o.slug or '', {}))}</td>")
            lines.append("<tr>" + "".join(cells) + "</tr>")
        lines.append("</tbody></table>")
    if failed:
        lines.append(f"<h2>Failed ({len(failed)})</h2>")
        lines.append('<table class="sortable failures"><thead><tr><th>Scenario</th><th>Error</th></tr></thead><tbody>')
        for o in failed:
            error = " ".join((o.error or "").split())
            lines.append(f'<tr><td>{e(o.scenario)}</td><td class="error">{e(error)}</td></tr>')
        lines.append("</tbody></table>")
    lines.append(f"<script>{_SCRIPT}</script></body></html>")
    return "\n".join(lines) + "\n"


def write_index(
    out_dir: Path, outcomes: Sequence[Any], *, lang: str = "en", others: dict[str, dict[str, str]] | None = None
) -> Path:
    """Write `index.html` atomically; return its path."""
    title = "전략 보고서" if lang == "ko" else "Strategy reports"
    return write_text(out_dir / "index.html", render_index(outcomes, lang=lang, title=title, others=others))
