"""HTML pieces the report notebook writes: every user string passes `html_text`, so it never becomes markup.

Also the page's embedded Korean font (`embedded_font_css`), so the report shows Korean on any machine.
"""

from __future__ import annotations

import html
import json
from typing import Any

# Hangul jamo, CJK punctuation, compatibility jamo, syllables: what the embedded Korean font covers
HANGUL_RANGES = ((0x1100, 0x11FF), (0x3000, 0x303F), (0x3130, 0x318F), (0xAC00, 0xD7AF))


def html_text(value: Any) -> str:
    """Any text as HTML-safe text (quotes too): user strings can never become markup."""
    return html.escape(str(value), quote=True)


def heading(text: str, section: str, level: int = 2) -> str:
    """A section heading with a stable id (`sec-<section>`) the tests and the table of contents use."""
    return f'<h{level} id="sec-{html_text(section)}" data-section="{html_text(section)}">{html_text(text)}</h{level}>'


def paragraph(*texts: str, cls: str = "reading") -> str:
    """One paragraph of plain sentences."""
    return f'<p class="{cls}">' + " ".join(html_text(x) for x in texts if x) + "</p>"


def bullets(items: list[str], ordered: bool = False) -> str:
    tag = "ol" if ordered else "ul"
    return f"<{tag}>" + "".join(f"<li>{html_text(x)}</li>" for x in items) + f"</{tag}>"


def table(
    header: list[str], rows: list[list[Any]], *, cls: str = "report-table", attrs: list[dict] | None = None
) -> str:
    """A simple table; `attrs` gives each row's `data-*` attributes (values escaped)."""
    head = "".join(f"<th>{html_text(h)}</th>" for h in header)
    body = []
    for i, row in enumerate(rows):
        extra = ""
        if attrs and attrs[i]:
            extra = "".join(f' data-{html_text(k)}="{html_text(v)}"' for k, v in attrs[i].items())
        body.append(f"<tr{extra}>" + "".join(f"<td>{html_text(c)}</td>" for c in row) + "</tr>")
    return f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'


def kpi_table(kpis: dict, names: list[str], *, lang: str, currency: str) -> str:
    """The KPI table: name, value, meaning; each row carries the raw value (`data-value`) for checks."""
    from sim.report.i18n import fmt_kpi, t

    rows, attrs = [], []
    for name in names:
        value = kpis.get(name)
        rows.append([t(f"kpi.{name}", lang), fmt_kpi(name, value, currency, lang), t(f"kpi_desc.{name}", lang)])
        attrs.append({"kpi": name, "value": json.dumps(value)})
    header = [t("kpis.col.name", lang), t("kpis.col.value", lang), t("kpis.col.meaning", lang)]
    return table(header, rows, cls="report-table kpi-table", attrs=attrs)


def plans_kpi_table(plans: dict, names: list[str], *, lang: str, currency: str, front_spend: dict | None = None) -> str:
    """The KPI table of both plans: name, the current plan's value, the recommended plan's, meaning. Each row
    carries the raw values (`data-value` current, `data-recommended`); CAC, LTV:CAC and payback of a plan
    without front-end spend read "not defined" (never 0)."""
    from sim.report.i18n import fmt_kpi, t
    from sim.report.recommendation import kpi_undefined

    front_spend = front_spend or {}

    def cell(plan: str, name: str) -> str:
        value = (plans.get(plan) or {}).get(name)
        if kpi_undefined(name, front_spend.get(plan)):
            return t("kpis.not_defined_front", lang)
        return fmt_kpi(name, value, currency, lang)

    rows, attrs = [], []
    for name in names:
        rows.append(
            [t(f"kpi.{name}", lang), cell("current", name), cell("recommended", name), t(f"kpi_desc.{name}", lang)]
        )
        attrs.append(
            {
                "kpi": name,
                "value": json.dumps((plans.get("current") or {}).get(name)),
                "recommended": json.dumps((plans.get("recommended") or {}).get(name)),
            }
        )
    header = [t("kpis.col.name", lang), t("plan.current_col", lang), t("plan.recommended_col", lang)]
    header.append(t("kpis.col.meaning", lang))
    return table(header, rows, cls="report-table kpi-table", attrs=attrs)


def embedded_font_css(text: str) -> str:
    """An @font-face with NanumGothic cut down to the Korean glyphs of `text`, as base64 WOFF.

    The page then shows Korean on any machine, with or without a Korean system font, and stays small
    (a subset is tens of kB; the whole font is 4.7 MB). The font comes from the koreanize-matplotlib
    package; nothing is downloaded. Its unicode-range limits it to Hangul, so it can come first in the
    font stack (Korean text looks like the plots everywhere) while Latin text keeps the system font.
    Empty when the text has no Korean character.
    """
    import base64
    import io
    import logging

    from sim.report.i18n import korean_font_path

    wide = sorted({ch for ch in text if any(lo <= ord(ch) <= hi for lo, hi in HANGUL_RANGES)})
    path = korean_font_path()
    if not wide or path is None:
        return ""
    from fontTools import subset
    from fontTools.ttLib import TTFont

    logging.getLogger("fontTools").setLevel(logging.ERROR)
    options = subset.Options()
    options.flavor = "woff"
    options.notdef_outline = True
    font = TTFont(str(path), lazy=True)
    subsetter = subset.Subsetter(options)
    subsetter.populate(text="".join(wide))
    subsetter.subset(font)
    buffer = io.BytesIO()
    font.flavor = "woff"
    font.save(buffer)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    ranges = ", ".join(f"U+{lo:04X}-{hi:04X}" for lo, hi in HANGUL_RANGES)
    return (
        '<style type="text/css">@font-face { font-family: "NanumGothic Report"; font-style: normal; '
        f"font-weight: 100 900; font-display: block; unicode-range: {ranges}; "
        f'src: url(data:font/woff;base64,{data}) format("woff"); }}</style>'
    )
