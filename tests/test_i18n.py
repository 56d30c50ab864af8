"""The message catalog: both languages hold the same keys and placeholders; numbers read right in each."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest

from sim.model.kpis import KPI_NAMES
from sim.model.result import STAGES
from sim.model.scenario import PURPOSES
from sim.report.data import LEVER_GRID
from sim.report.i18n import (
    LANGUAGES,
    catalog,
    check_lang,
    fmt_amount,
    fmt_compact,
    fmt_count,
    fmt_date,
    fmt_kpi,
    fmt_money,
    fmt_months,
    fmt_percent,
    fmt_points,
    fmt_ratio,
    fmt_roi,
    korean_font_path,
    placeholders,
    t,
)

ROOT = Path(__file__).resolve().parents[1]
SOURCES = sorted((ROOT / "sim" / "report").glob("*.py")) + [ROOT / "sim" / "report" / "strategy_report.ipynb"]


def test_same_keys_in_every_language():
    en = catalog("en")
    for lang in LANGUAGES:
        assert set(catalog(lang)) == set(en), set(catalog(lang)) ^ set(en)


def test_same_placeholders_in_every_language():
    en = catalog("en")
    for lang in LANGUAGES:
        for key, text in catalog(lang).items():
            assert placeholders(text) == placeholders(en[key]), (lang, key)


def test_no_empty_or_untranslated_text():
    en, ko = catalog("en"), catalog("ko")
    hangul = re.compile(r"[\uac00-\ud7a3]")
    for key, text in ko.items():
        assert text.strip(), key
        words = re.sub(r"\{[^}]*\}", "", en[key])
        if re.search(r"[A-Za-z]{4,}", words):
            # a Korean text may keep acronyms (CAC, KPI, ROI) but must contain Korean words
            assert hangul.search(text) or key in {"kpi.ltv_cac"}, (key, text)


def test_every_literal_key_used_in_the_code_exists():
    used = set()
    for path in SOURCES:
        used |= set(re.findall(r'\bt\(\s*\\?"([a-z0-9_.]+)\\?"', path.read_text(encoding="utf-8")))
    assert len(used) > 40
    missing = sorted(k for k in used if k not in catalog("en"))
    assert missing == []


def test_every_dynamic_key_family_is_complete():
    keys = set(catalog("en"))
    needed = (
        [f"kpi.{k}" for k in KPI_NAMES]
        + [f"kpi_desc.{k}" for k in KPI_NAMES]
        + [f"purpose.{p}" for p in PURPOSES]
        + [f"purpose_text.{p}" for p in PURPOSES]
        + [f"stage.{s}" for s in STAGES]
        + [f"funnel.{s}" for s in ("aware", "first_purchase", "satisfied", "loyal")]
        + [f"lever.{d.split('.')[1]}" for d in LEVER_GRID]
        + [f"chapter.{n}" for n in range(1, 10)]
        + [f"winback.{s}" for s in ("unsaturated", "maturing", "saturated")]
        + [f"rule.ch7_{s}" for s in ("unsaturated", "maturing", "saturated")]
        + [f"section.{s}" for s in ("summary", "funnel", "stages", "revenue", "cohorts", "curve", "roi")]
        + [f"section.{s}" for s in ("levers", "breakevens", "kpis", "playbook", "assumptions")]
    )
    assert sorted(set(needed) - keys) == []


def test_t_fills_placeholders_and_names_missing_ones():
    assert t("summary.kpi_item", "en", name="CAC", value="₩1", why="x") == "CAC: ₩1 – x"
    with pytest.raises(KeyError, match="needs placeholder"):
        t("summary.kpi_item", "ko", name="CAC")
    with pytest.raises(KeyError, match="not in the en catalog"):
        t("no.such.key", "en")
    with pytest.raises(ValueError, match="allowed: en, ko"):
        check_lang("fr")


def test_money_formats_follow_currency_and_language():
    assert fmt_money(19420.97, "KRW", "en") == "₩19,421"
    assert fmt_money(19420.97, "KRW", "ko") == "19,421원"
    assert fmt_money(3_276_716_592.0, "KRW", "ko", compact=True) == "32.8억 원"
    assert fmt_money(3_276_716_592.0, "KRW", "en", compact=True) == "₩3.28B"
    assert fmt_money(32_771_000.0, "KRW", "ko", compact=True) == "3,277만 원"
    assert fmt_money(54.0, "USD", "en") == "$54.00"
    assert fmt_money(12345.678, "USD", "en") == "$12,346"
    assert fmt_money(1_234_567.0, "USD", "en", compact=True) == "$1.23M"
    assert fmt_money(1_200_000.0, "USD", "ko", compact=True) == "120만 달러"
    assert fmt_money(-2500.0, "USD", "en") == "\u2212$2,500"  # the minus sign, as ROIs have it
    assert fmt_money(-250_000_000.0, "KRW", "ko", compact=True) == "\u22122.5억 원"
    assert fmt_money(9.5, "EUR", "en") == "€9.50"
    assert fmt_money(1234.5, "CHF", "en") == "CHF 1,234"
    assert fmt_money(None, "USD", "en") == "–"
    # the report's amounts: Korean counts in 만 from 10만 up, English in full below a million
    assert [fmt_amount(x, "KRW", "ko") for x in (38_000, 450_000, 578_750, 23_550_000)] == [
        "38,000원",
        "45만 원",
        "57.9만 원",
        "2,355만 원",
    ]
    assert [fmt_amount(x, "KRW", "en") for x in (450_000, 23_550_000)] == ["₩450,000", "₩23.6M"]


def test_other_formats():
    assert fmt_percent(0.1234, "en") == "12.3%"
    assert fmt_points(0.05, "en") == "5 pp" and fmt_points(-0.05, "ko", signed=True) == "\u22125%p"
    assert fmt_points(0.05, "en", signed=True) == "+5 pp"
    assert fmt_ratio(5.8, "en") == "5.8×" and fmt_ratio(5.8, "ko") == "5.8배"
    assert fmt_months(7, "en") == "7 months" and fmt_months(1, "en") == "1 month" and fmt_months(7, "ko") == "7개월"
    assert fmt_count(33366, "ko") == "33,366명" and fmt_count(33366, "en") == "33,366"
    assert fmt_roi(-0.5, "en") == "−0.50" and fmt_roi(1.2, "ko") == "+1.20"
    # a marginal ROI that rounds to zero keeps its sign and first digit: it decides raise or cut
    assert fmt_roi(0.004, "en") == "+0.004" and fmt_roi(-0.0004, "ko") == "−0.0004"
    assert fmt_roi(0.0049, "en") == "+0.005" and fmt_roi(0.006, "en") == "+0.01" and fmt_roi(0.0, "en") == "+0.00"
    assert fmt_compact(150_000, "en") == "150k" and fmt_compact(150_000, "ko") == "15만"
    assert fmt_date(date(2027, 1, 1), "ko") == "2027년 1월 1일"
    assert fmt_date(date(2027, 1, 1), "en", day=False) == "Jan 2027"
    assert fmt_kpi("payback_months", None, "KRW", "ko") == "–"
    assert fmt_kpi("ltv_cac", 2.0, "USD", "en") == "2.0×"


def test_korean_font_ships_in_a_package():
    path = korean_font_path()
    assert path is not None and path.suffix == ".ttf" and path.stat().st_size > 1_000_000


def test_korean_plot_text_has_real_glyphs():
    """Every Korean label of the catalog maps to a glyph of the bundled font (no tofu boxes)."""
    from matplotlib.ft2font import FT2Font

    font = FT2Font(str(korean_font_path()))
    charmap = font.get_charmap()
    texts = "".join(
        v for k, v in catalog("ko").items() if k.startswith(("plot.", "stage.", "funnel.", "purpose.", "lever."))
    )
    missing = sorted({ch for ch in texts if ord(ch) > 0x7F and ord(ch) not in charmap})
    assert missing == []


def test_plots_render_korean_without_missing_glyph_warnings(recwarn):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    from sim.report import plots

    plots.use_report_style("ko")
    funnel = pd.DataFrame(
        {
            "step": ["aware", "first_purchase", "satisfied", "loyal"],
            "count": [1000.0, 100.0, 95.0, 40.0],
            "rate_from_previous": [None, 0.1, 0.95, 0.42],
            "share_of_aware": [1.0, 0.1, 0.095, 0.04],
        }
    )
    ax = plots.plot_funnel(funnel, lang="ko")
    ax.figure.canvas.draw()
    assert ax.get_title() == t("plot.funnel.title", "ko")
    plt.close("all")
    glyph_warnings = [w for w in recwarn if "missing from" in str(w.message) or "Glyph" in str(w.message)]
    assert glyph_warnings == []


@pytest.mark.parametrize(
    ("template", "value", "expected"),
    [
        ("{x}이 들고", "28,696원", "28,696원이 들고"),
        ("{x}이 들고", "$25.86", "$25.86가 들고"),  # 달러가
        ("{x}을 남깁니다", "$170.51", "$170.51를 남깁니다"),
        ("{x}을 쓰기", "1.27억 원", "1.27억 원을 쓰기"),
        ("{x}을 쓰기", "120만 달러", "120만 달러를 쓰기"),
        ("{x}로 허들", "−0.84", "−0.84로 허들"),  # 사
        ("{x}로 허들", "+0.90", "+0.90으로 허들"),  # 영
        ("{x}로 허들", "+0.97", "+0.97로 허들"),  # 칠: ㄹ takes 로
        ("{x}가 구매", "23.4%", "23.4%가 구매"),  # 퍼센트
        ("{x}이 구매", "13,407명", "13,407명이 구매"),
        ("{x}로 하루", "2027년 11월", "2027년 11월로 하루"),
        ("{x}와 비교", "700", "700과 비교"),  # 칠백
        ("{x}와 비교", "1,500", "1,500과 비교"),  # 천오백
        ("{x}와 비교", "12", "12와 비교"),  # 십이
        ("{x}을 넘어", "50,000", "50,000을 넘어"),  # 오만
        ("{x}가 남음", "1.00×", "1.00×가 남음"),  # 배
        ("{x}이며", "$5", "$5이며"),  # the copula is left as written
        ("{x}가 다시", "CAC", "CAC가 다시"),  # Latin letters: as written
    ],
)
def test_korean_particles_agree_with_the_value_they_follow(template, value, expected):
    from sim.report.i18n import particles

    assert particles.resolve(particles.mark(template).format(x=value)) == expected


def test_korean_catalog_particles_follow_dollars_and_won():
    """A Korean sentence reads right in any currency: the same template after a won and a dollar amount."""
    from sim.report.i18n import fmt_amount

    won, dollars = fmt_amount(28696, "KRW", "ko"), fmt_amount(25.86, "USD", "ko")
    clv_won, clv_dollars = fmt_amount(77242, "KRW", "ko"), fmt_amount(170.51, "USD", "ko")
    assert "원이" in t("kpis.reading", "ko", cac=won, clv=clv_won, ltv_cac="2.7×")
    assert f"{dollars}이" in t("kpis.reading", "ko", cac=dollars, clv=clv_dollars, ltv_cac="6.6×")  # copula 이고
    advice = t("advice.cut", "ko", purpose="백엔드", amount=dollars, spend=dollars, roi="+0.90", hurdle="+0.00")
    assert "+0.90으로" in advice


def test_a_listing_reads_as_a_sentence_in_each_language():
    """Three items: "a, b and c" in English, "a, b, c" in Korean; one item alone; none empty."""
    from sim.report.i18n import listing

    assert listing(["a", "b", "c"], "en") == "a, b and c"
    assert listing(["a", "b"], "en") == "a and b"
    assert listing(["가", "나", "다"], "ko") == "가, 나, 다"
    assert listing(["a"], "en") == "a" and listing([], "ko") == ""


def test_english_counts_agree_with_their_noun():
    assert t("levers.reading", "en", months=1, items="x").startswith("Change in contribution over 1 month ")
    assert "over 11 months" in t("levers.reading", "en", months=11, items="x")
