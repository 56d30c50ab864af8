"""The report's figures: free functions `plot_x(data, ax=None, *, lang, ...) -> Axes` (seaborn on matplotlib).

Each takes one table of `sim.report.data.ReportData`, draws on the given axes (or a new figure), and
sets a title, axis labels with units and a legend in the report's language; none shows or saves the
figure, so they serve notebooks and reports alike. `use_report_style(lang)` sets the theme and, for
Korean, the NanumGothic font that ships inside the koreanize-matplotlib package (registered from its
file, never downloaded), with DejaVu Sans as fallback for any glyph it lacks.
"""

from __future__ import annotations

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.ticker import FuncFormatter, PercentFormatter

from sim.report.i18n import (
    fmt_compact,
    fmt_count,
    fmt_money,
    fmt_number,
    fmt_percent,
    fmt_roi,
    has,
    korean_font_path,
    money_axis_label,
    t,
)
from sim.report.plans import plan_rows

PURPOSE_COLORS = {"front": "#4C72B0", "back": "#55A868", "winback": "#C44E52"}
STAGE_ORDER = ["aware", "customer", "loyal", "lapsed"]
STAGE_COLORS = {"aware": "#8DA0CB", "customer": "#66C2A5", "loyal": "#1B9E77", "lapsed": "#BDBDBD"}
FIGSIZE = (8.0, 4.2)


def register_korean_font() -> str | None:
    """Register the bundled NanumGothic (regular and bold, so bold titles need no substitute) with
    matplotlib; its family name, or None if unavailable."""
    from matplotlib import font_manager

    path = korean_font_path()
    if path is None:
        return None
    known = {f.fname for f in font_manager.fontManager.ttflist}
    for weight in ("", "Bold"):
        p = korean_font_path(weight)
        if p is not None and str(p) not in known:
            font_manager.fontManager.addfont(str(p))
    return font_manager.FontProperties(fname=str(path)).get_name()


def use_report_style(lang: str = "en", dpi: int = 96) -> None:
    """The report's look: seaborn whitegrid, and a font with Korean glyphs first when lang is 'ko'.

    Korean needs koreanize-matplotlib (a package dependency); without it Korean text would show boxes,
    so a missing package is an error with the install hint rather than a silently broken report.
    """
    sns.set_theme(style="whitegrid", context="notebook")
    korean = register_korean_font()
    if korean is None and lang == "ko":
        raise ImportError("Korean plots need the koreanize-matplotlib package: pip install koreanize-matplotlib")
    families = ["DejaVu Sans"]
    if korean:  # fallback per glyph: Korean channel names in an English report still render
        families = [korean, "DejaVu Sans"] if lang == "ko" else ["DejaVu Sans", korean]
    mpl.rcParams.update(
        {
            "font.family": families,
            "axes.unicode_minus": False,  # NanumGothic has no U+2212 minus sign
            "figure.dpi": dpi,
            "savefig.dpi": dpi,
            "figure.figsize": FIGSIZE,
            "axes.titleweight": "normal",
            "axes.titlesize": 13,
        }
    )


def _axes(ax: Axes | None, height: float = FIGSIZE[1]) -> Axes:
    """New axes `height` inches tall; every report figure has the same width, so the page shows them at one
    scale (same font size, same column width) whatever each one holds."""
    if ax is not None:
        return ax
    _, ax = plt.subplots(figsize=(FIGSIZE[0], height), layout="constrained")
    return ax


def _label(ax: Axes, title: str, x: str, y: str) -> None:
    """The figure's title and axis labels, wrapped at the figure's edge: a long label (a language's longer
    wording) takes a second line instead of widening the image beyond the others."""
    ax.set_title(title, wrap=True)
    ax.set_xlabel(x, wrap=True)
    ax.set_ylabel(y, wrap=True)


def money_formatter(currency: str, lang: str) -> FuncFormatter:
    """Axis ticks as compact money: ₩3.3B / 32.8억 원, $1.2M / 120만 달러."""
    return FuncFormatter(lambda x, _pos: fmt_money(x, currency, lang, compact=True))


def count_formatter(lang: str) -> FuncFormatter:
    """Axis ticks as compact counts: 150k (en) or 15만 (ko)."""
    return FuncFormatter(lambda x, _pos: fmt_compact(x, lang))


def purpose_label(purpose: str, lang: str) -> str:
    return t(f"purpose.{purpose}", lang)


# -- executive summary ---------------------------------------------------------------------------


def plot_split(plan: dict, ax: Axes | None = None, *, lang: str = "en") -> Axes:
    """Current and recommended shares of the budget by purpose (grouped bars, labelled in %)."""
    ax = _axes(ax, 3.6)
    rows = []
    for which in ("current", "recommended"):
        split = plan.get(f"{which}_split")
        if not split:
            continue
        for purpose, share in split.items():
            rows.append(
                {"plan": t(f"plot.split.{which}", lang), "purpose": purpose_label(purpose, lang), "share": share}
            )
    frame = pd.DataFrame(rows)
    palette = ["#9E9E9E", "#DD8452"]
    sns.barplot(data=frame, x="purpose", y="share", hue="plan", ax=ax, palette=palette[: frame["plan"].nunique()])
    for container in ax.containers:
        ax.bar_label(container, labels=[fmt_percent(v, lang, 0) for v in container.datavalues], fontsize=9, padding=2)
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.set_ylim(0, max(1.0, float(frame["share"].max()) * 1.15) if len(frame) else 1.0)
    _label(ax, t("plot.split.title", lang), t("plot.split.x", lang), t("plot.split.y", lang))
    ax.legend(title=None, loc="upper right")
    return ax


# -- lifecycle -----------------------------------------------------------------------------------


def plot_funnel(funnel: pd.DataFrame, ax: Axes | None = None, *, lang: str = "en") -> Axes:
    """Lifecycle funnel: people at each step with the conversion from the step before."""
    ax = _axes(ax, 3.6)
    frame = funnel.copy()
    frame["label"] = [t(f"funnel.{s}", lang) for s in frame["step"]]
    colors = sns.color_palette("Blues_r", n_colors=len(frame) + 1)[: len(frame)]
    sns.barplot(data=frame, y="label", x="count", hue="label", palette=colors, ax=ax, legend=False, orient="h")
    top = float(frame["count"].max()) if len(frame) else 1.0
    for i, row in enumerate(frame.itertuples()):
        text = fmt_count(row.count, lang)
        if isinstance(row.rate_from_previous, float) and np.isfinite(row.rate_from_previous):
            text += "  (" + t("plot.funnel.rate", lang, rate=fmt_percent(row.rate_from_previous, lang)) + ")"
        ax.text(row.count + top * 0.01, i, text, va="center", fontsize=9)
    ax.set_xlim(0, top * 1.45)
    ax.xaxis.set_major_formatter(count_formatter(lang))
    _label(ax, t("plot.funnel.title", lang), t("plot.funnel.x", lang), t("plot.funnel.y", lang))
    handles = [mpl.patches.Patch(color=c, label=lbl) for c, lbl in zip(colors, frame["label"], strict=True)]
    # under the figure: inside the axes it covered the last bars' labels when every step keeps most people
    ax.figure.legend(
        handles=handles, loc="outside lower center", fontsize=8, ncol=2, title=t("plot.funnel.legend", lang)
    )
    return ax


def plot_stages(stages: pd.DataFrame, ax: Axes | None = None, *, lang: str = "en") -> Axes:
    """Customers by lifecycle stage at each month's end (stacked area; the unaware are left out, and so is a
    stage nobody is ever in, such as loyal in a calibrated scenario, lest the legend name an empty band)."""
    ax = _axes(ax)
    x = pd.to_datetime(stages["month"])
    shown = [s for s in STAGE_ORDER if (stages[s].to_numpy(dtype=float) > 0).any()] or list(STAGE_ORDER)
    ys = [stages[s].to_numpy(dtype=float) for s in shown]
    labels = [t(f"stage.{s}", lang) for s in shown]
    ax.stackplot(x, ys, labels=labels, colors=[STAGE_COLORS[s] for s in shown], alpha=0.9)
    ax.yaxis.set_major_formatter(count_formatter(lang))
    _label(ax, t("plot.stages.title", lang), t("plot.month", lang), t("plot.stages.y", lang))
    ax.margins(x=0)
    ax.legend(loc="upper left", fontsize=9, title=t("plot.stages.legend", lang))
    return ax


def plot_revenue(revenue: pd.DataFrame, ax: Axes | None = None, *, lang: str = "en", currency: str = "USD") -> Axes:
    """Monthly revenue from new customers' first orders and from returning customers (stacked bars)."""
    ax = _axes(ax)
    x = pd.to_datetime(revenue["month"])
    width = 25  # days
    new = revenue["revenue_new"].to_numpy(dtype=float)
    ret = revenue["revenue_returning"].to_numpy(dtype=float)
    palette = sns.color_palette("deep")
    ax.bar(x, new, width=width, color=palette[0], label=t("plot.revenue.new", lang))
    ax.bar(x, ret, width=width, bottom=new, color=palette[2], label=t("plot.revenue.returning", lang))
    ax.yaxis.set_major_formatter(money_formatter(currency, lang))
    _label(
        ax,
        t("plot.revenue.title", lang),
        t("plot.month", lang),
        t("plot.revenue.y", lang, unit=money_axis_label(currency, lang)),
    )
    ax.legend(loc="upper left", fontsize=9)
    return ax


def plot_cohorts(cohorts: pd.DataFrame, ax: Axes | None = None, *, lang: str = "en") -> Axes:
    """Cohort retention heatmap: share of each first-purchase month's customers ordering k months later."""
    ax = _axes(ax, 5.6)
    grid = cohorts.pivot(index="cohort", columns="age", values="retention")
    grid = grid.drop(columns=[0], errors="ignore")  # month 0 is 100% by definition
    vmax = float(np.nanpercentile(grid.to_numpy(dtype=float), 99)) if grid.size else 1.0
    sns.heatmap(
        grid,
        ax=ax,
        cmap="YlGnBu",
        vmin=0.0,
        vmax=max(vmax, 0.05),
        cbar_kws={"label": t("plot.cohorts.cbar", lang), "format": PercentFormatter(1.0, decimals=0)},
        linewidths=0.0,
    )
    _label(ax, t("plot.cohorts.title", lang), t("plot.cohorts.x", lang), t("plot.cohorts.y", lang))
    ax.tick_params(axis="y", labelsize=8)
    ax.tick_params(axis="x", labelsize=8)
    return ax


# -- the existing customers ---------------------------------------------------------------------

SEGMENT_COLORS = {"active": "#1B9E77", "at_risk": "#E6AB02", "lapsed": "#BDBDBD", "one_time_hesitating": "#7570B3"}


def plot_forecast(forecast: pd.DataFrame, ax: Axes | None = None, *, lang: str = "en") -> Axes:
    """The existing customers' expected repeat orders week by week, with the 90% band of the outcomes
    given the fitted parameters' uncertainty."""
    ax = _axes(ax)
    x = pd.to_datetime(forecast["week_start"])
    palette = sns.color_palette("deep")
    ax.plot(x, forecast["base_repeat_orders"], color=palette[2], label=t("plot.forecast.mean", lang))
    ax.fill_between(
        x,
        forecast["base_repeat_orders_p05"].to_numpy(dtype=float),
        forecast["base_repeat_orders_p95"].to_numpy(dtype=float),
        color=palette[2],
        alpha=0.2,
        label=t("plot.forecast.band", lang),
    )
    ax.set_ylim(bottom=0)
    ax.yaxis.set_major_formatter(count_formatter(lang))
    ax.margins(x=0)
    _label(ax, t("plot.forecast.title", lang), t("plot.forecast.x", lang), t("plot.forecast.y", lang))
    ax.legend(loc="upper right", fontsize=9)
    return ax


def plot_segments(
    segments: pd.DataFrame, ax: Axes | None = None, *, lang: str = "en", currency: str = "USD", value: bool = True
) -> Axes:
    """Existing customers by segment (horizontal bars), each labelled with its share and, with `value`, its
    CLV per customer."""
    from sim.report.i18n import fmt_amount

    ax = _axes(ax, 3.4)
    frame = segments.copy()
    labels = [t(f"segment.{k}", lang) for k in frame["key"]]
    colors = [SEGMENT_COLORS.get(k, "#999999") for k in frame["key"]]
    y = np.arange(len(frame))
    counts = frame["customers"].to_numpy(dtype=float)
    ax.barh(y, counts, color=colors, height=0.6)
    top = float(counts.max()) if len(counts) else 1.0
    for i, row in enumerate(frame.itertuples()):
        text = fmt_percent(row.share, lang, 0)
        if value:
            text = t("plot.segments.label", lang, share=text, clv=fmt_amount(row.clv_mean, currency, lang))
        ax.text(row.customers + top * 0.01, i, fmt_count(row.customers, lang) + "  " + text, va="center", fontsize=9)
    ax.set_yticks(y, labels)
    ax.invert_yaxis()
    ax.set_xlim(0, top * 1.6)
    ax.xaxis.set_major_formatter(count_formatter(lang))
    _label(ax, t("plot.segments.title", lang), t("plot.segments.x", lang), t("plot.segments.y", lang))
    handles = [mpl.patches.Patch(color=c, label=lbl) for c, lbl in zip(colors, labels, strict=True)]
    ax.legend(handles=handles, loc="lower right", fontsize=8, title=t("plot.segments.legend", lang))
    return ax


# -- strategy ------------------------------------------------------------------------------------


def plot_curve(
    curve: pd.DataFrame, plan: dict, ax: Axes | None = None, *, lang: str = "en", currency: str = "USD"
) -> Axes:
    """Contribution over the horizon against the back-end (retention) share of the budget, with its 90%
    band; the current plan and the recommendation are marked."""
    ax = _axes(ax)
    x = curve["retention_share"].to_numpy(dtype=float)
    palette = sns.color_palette("deep")
    sns.lineplot(
        x=x, y=curve["value_mean"].to_numpy(dtype=float), ax=ax, color=palette[0], label=t("plot.curve.mean", lang)
    )
    if {"value_p05", "value_p95"} <= set(curve.columns):
        ax.fill_between(
            x,
            curve["value_p05"].to_numpy(dtype=float),
            curve["value_p95"].to_numpy(dtype=float),
            color=palette[0],
            alpha=0.2,
            label=t("plot.curve.band", lang),
        )
    for which, color, style in (("current", "#616161", "--"), ("recommended", "#DD8452", "-")):
        share = retention_share(plan.get(f"{which}_split"))
        if share is None:
            continue
        ax.axvline(
            share,
            color=color,
            linestyle=style,
            linewidth=1.6,
            label=t(f"plot.curve.{which}", lang, share=fmt_percent(share, lang, 0)),
        )
    ax.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.yaxis.set_major_formatter(money_formatter(currency, lang))
    _label(
        ax,
        t("plot.curve.title", lang),
        t("plot.curve.x", lang),
        t("plot.curve.y", lang, unit=money_axis_label(currency, lang)),
    )
    ax.legend(loc="best", fontsize=9)
    return ax


def retention_share(split: dict | None) -> float | None:
    """The back-end (retention) share of the budget, the x axis of the optimizer's curve."""
    if not split:
        return None
    return float(split.get("back", 0.0))


def plot_levers(levers: pd.DataFrame, ax: Axes | None = None, *, lang: str = "en", currency: str = "USD") -> Axes:
    """Change in contribution over the horizon as each experience lever moves (costs included); the
    scenario's current value of each lever is marked."""
    ax = _axes(ax)
    frame = levers.copy()
    frame["lever_label"] = [t(f"lever.{name}", lang) for name in frame["lever"]]
    sns.lineplot(data=frame, x="value", y="gain", hue="lever_label", marker="o", ax=ax, palette="deep")
    current = frame[frame["current"].astype(bool)]
    ax.scatter(
        current["value"],
        current["gain"],
        s=120,
        facecolors="none",
        edgecolors="black",
        zorder=5,
        label=t("plot.levers.current", lang),
    )
    ax.axhline(0.0, color="black", linewidth=0.8)
    ax.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.yaxis.set_major_formatter(money_formatter(currency, lang))
    _label(
        ax,
        t("plot.levers.title", lang),
        t("plot.levers.x", lang),
        t("plot.levers.y", lang, unit=money_axis_label(currency, lang)),
    )
    ax.legend(title=None, fontsize=9, loc="best")
    return ax


def input_label(parameter: str, label: str | None, lang: str) -> str:
    """The catalog's name of an uncertain input (a scenario field), else the optimizer's own label."""
    key = f"param.{parameter}"
    return t(key, lang) if has(key, lang) else str(label or parameter)


# -- the recommendation ----------------------------------------------------------------------------


def _period_label(start: str, lang: str) -> str:
    """A period's tick label: its first month ('Jan 2027' / '2027년 1월')."""
    from datetime import date

    from sim.report.i18n import fmt_date

    return fmt_date(date.fromisoformat(str(start)), lang, day=False)


def plot_plan_path(
    path: pd.DataFrame, ax: Axes | None = None, *, lang: str = "en", currency: str = "USD", period: str = "quarter"
) -> Axes:
    """The recommended plan over time: spend a month by purpose in each period (stacked bars), and the current
    plan's spend by purpose as dashed steps over the same periods."""
    ax = _axes(ax, 5.0)
    rec = plan_rows(path, "recommended")
    cur = plan_rows(path, "current")
    x = np.arange(len(rec))
    bottom = np.zeros(len(rec))
    for p in PURPOSES_ORDER:
        values = rec[f"{p}_per_month"].to_numpy(dtype=float)
        ax.bar(
            x,
            values,
            bottom=bottom,
            width=0.7,
            color=PURPOSE_COLORS[p],
            label=t("plot.path.recommended", lang, purpose=purpose_label(p, lang)),
        )
        bottom += values
    for p in PURPOSES_ORDER:
        values = cur[f"{p}_per_month"].to_numpy(dtype=float)
        if not np.any(values > 0):
            continue
        ax.step(
            np.append(x - 0.5, x[-1] + 0.5),
            np.append(values, values[-1]),
            where="post",
            color=PURPOSE_COLORS[p],
            linestyle="--",
            linewidth=1.6,
            label=t("plot.path.current", lang, purpose=purpose_label(p, lang)),
        )
    ax.set_xticks(x, [_period_label(s, lang) for s in rec["start"]], rotation=45, ha="right", fontsize=8)
    ax.yaxis.set_major_formatter(money_formatter(currency, lang))
    _label(
        ax,
        t("plot.path.title", lang, period=t(f"period.{period}", lang)),
        t("plot.path.x", lang, period=t(f"period.{period}", lang)),
        t("plot.path.y", lang, unit=money_axis_label(currency, lang)),
    )
    ax.figure.legend(fontsize=8, loc="outside lower center", ncol=2)  # under the rotated period labels
    return ax


PURPOSES_ORDER = ("front", "back", "winback")


def plot_gain_parts(
    gain: pd.DataFrame,
    ax: Axes | None = None,
    *,
    lang: str = "en",
    currency: str = "USD",
    months: int = 0,
    total_band: tuple[float | None, float | None] | None = None,
) -> Axes:
    """Where the gain comes from (a waterfall): the recommended plan's gain over the current one built up part
    by part (budget level, purpose split on average, its timing, channel mix), each part's 90% band as a line
    across its bar, and the total with its own band."""
    ax = _axes(ax)
    parts = gain.reset_index(drop=True)
    values = parts["value"].to_numpy(dtype=float)
    before = np.concatenate([[0.0], np.cumsum(values)[:-1]])
    labels = [t(f"gain.part.{p}", lang) for p in parts["part"]]
    colors = ["#55A868" if v >= 0 else "#C44E52" for v in values]
    x = np.arange(len(parts))
    ax.bar(x, values, bottom=before, color=colors, width=0.6)
    ax.vlines(
        x, before + parts["p05"].to_numpy(dtype=float), before + parts["p95"].to_numpy(dtype=float), color="black"
    )
    ax.scatter(x, before + values, color="black", s=10, zorder=4)
    total = float(values.sum())
    ax.bar([len(parts)], [total], color="#DD8452", width=0.6)
    if total_band is not None and None not in total_band:
        ax.vlines([len(parts)], [total_band[0]], [total_band[1]], color="black")
    for i, v in enumerate([*values, total]):
        top = (before[i] if i < len(values) else 0.0) + v
        ax.annotate(
            ("+" if v >= 0 else "") + fmt_money(v, currency, lang, compact=True),
            (i, top),
            textcoords="offset points",
            xytext=(0, 4 if v >= 0 else -12),
            ha="center",
            fontsize=8,
        )
    ax.axhline(0.0, color="black", linewidth=0.8)
    ax.set_xticks(np.arange(len(parts) + 1), [*labels, t("gain.total", lang)], fontsize=9)
    ax.yaxis.set_major_formatter(money_formatter(currency, lang))
    _label(
        ax,
        t("plot.gain.title", lang, months=months),
        t("plot.gain.x", lang),
        t("plot.gain.y", lang, unit=money_axis_label(currency, lang)),
    )
    handles = [
        mpl.patches.Patch(color="#55A868", label=t("plot.gain.up", lang)),
        mpl.patches.Patch(color="#C44E52", label=t("plot.gain.down", lang)),
        mpl.patches.Patch(color="#DD8452", label=t("plot.gain.total", lang)),
        mpl.lines.Line2D([], [], color="black", label=t("plot.gain.band", lang)),
    ]
    ax.legend(handles=handles, fontsize=8, loc="best")
    return ax


def plot_marginal_roi(
    marginal: pd.DataFrame, ax: Axes | None = None, *, lang: str = "en", hurdle: float = 0.0, months: int = 0
) -> Axes:
    """Marginal ROI of front-end, back-end and win-back spend under the current and the recommended plan
    (extra contribution over the horizon per extra unit of spend), against the hurdle rate."""
    ax = _axes(ax, 3.8)
    frame = marginal.dropna(subset=["roi"]).copy()
    if "plan" not in frame.columns:
        frame["plan"] = "current"
    frame["purpose_label"] = [purpose_label(p, lang) for p in frame["purpose"]]
    frame["plan_label"] = [t(f"plot.split.{p}", lang) for p in frame["plan"]]
    palette = ["#9E9E9E", "#DD8452"][: frame["plan"].nunique()]
    sns.barplot(data=frame, x="purpose_label", y="roi", hue="plan_label", palette=palette, ax=ax)
    for container in ax.containers:
        ax.bar_label(container, labels=[fmt_roi(v, lang) for v in container.datavalues], fontsize=8, padding=2)
    ax.axhline(hurdle, color="black", linewidth=1.0, label=t("plot.roi.hurdle", lang, hurdle=fmt_roi(hurdle, lang)))
    lo, hi = ax.get_ylim()
    pad = 0.12 * (hi - lo)
    ax.set_ylim(lo - (pad if lo < 0 else 0), hi + pad)
    _label(ax, t("plot.roi.title_both", lang, months=months), t("plot.roi.x", lang), t("plot.roi.y", lang))
    ax.legend(fontsize=8, loc="best", title=None)
    return ax


def plot_capacity(capacity: pd.DataFrame, ax: Axes | None = None, *, lang: str = "en") -> Axes:
    """Orders a day in each plan month, on average and on the busiest day, against the fulfilment team's
    capacity a day; months with a promotion are marked."""
    ax = _axes(ax, 4.0)
    x = pd.to_datetime(capacity["month"])
    palette = sns.color_palette("deep")
    ax.bar(x, capacity["peak_day_orders"], width=20, color=palette[0], alpha=0.45, label=t("plot.capacity.peak", lang))
    ax.plot(
        x, capacity["orders_per_day"], color=palette[0], marker="o", markersize=3, label=t("plot.capacity.mean", lang)
    )
    ax.plot(
        x,
        capacity["capacity_per_day"],
        color="#C44E52",
        linestyle="--",
        linewidth=1.6,
        label=t("plot.capacity.capacity", lang),
    )
    events = capacity["events"].fillna("").astype(str).str.len() > 0
    if events.any():
        ax.scatter(
            x[events],
            capacity.loc[events, "peak_day_orders"],
            marker="v",
            color="black",
            zorder=5,
            label=t("plot.capacity.event", lang),
        )
    ax.set_ylim(bottom=0)
    ax.yaxis.set_major_formatter(count_formatter(lang))
    _label(ax, t("plot.capacity.title", lang), t("plot.month", lang), t("plot.capacity.y", lang))
    ax.legend(fontsize=8, loc="upper left")
    return ax


def plot_events(events: pd.DataFrame, ax: Axes | None = None, *, lang: str = "en", currency: str = "USD") -> Axes:
    """What each promotion earned over the horizon after its discount, its cost and the customers it lost
    (the plan with it minus the plan without it); promotions that pushed orders past capacity in red."""
    from datetime import date

    from sim.report.i18n import fmt_date

    ax = _axes(ax, max(2.6, 0.45 * len(events) + 1.4))
    y = np.arange(len(events))
    values = events["contribution_effect"].to_numpy(dtype=float)
    over = events["over_capacity"].astype(bool).to_numpy()
    colors = np.where(over, "#C44E52", "#4C72B0")
    ax.barh(y, values, color=colors, height=0.6)
    for i, v in enumerate(values):
        ax.annotate(
            ("+" if v >= 0 else "") + fmt_money(v, currency, lang, compact=True),
            (v, i),
            textcoords="offset points",
            xytext=(4 if v >= 0 else -4, 0),
            ha="left" if v >= 0 else "right",
            va="center",
            fontsize=8,
        )
    labels = [
        t("events.label", lang, name=n, month=fmt_date(date.fromisoformat(str(s)), lang, day=False))
        for n, s in zip(events["name"], events["start"], strict=True)
    ]
    ax.set_yticks(y, labels, fontsize=8)
    ax.invert_yaxis()
    ax.axvline(0.0, color="black", linewidth=0.8)
    lo, hi = ax.get_xlim()
    ax.set_xlim(min(lo, 0) - 0.15 * (hi - lo) * (lo < 0), hi + 0.18 * (hi - lo))
    ax.xaxis.set_major_formatter(money_formatter(currency, lang))
    ax.xaxis.set_major_locator(mpl.ticker.MaxNLocator(nbins=5))  # compact money ticks, wider in Korean
    _label(
        ax,
        t("plot.events.title", lang),
        t("plot.events.x", lang, unit=money_axis_label(currency, lang)),
        t("plot.events.y", lang),
    )
    handles = [
        mpl.patches.Patch(color="#4C72B0", label=t("plot.events.held", lang)),
        mpl.patches.Patch(color="#C44E52", label=t("plot.events.over", lang)),
    ]
    ax.legend(handles=handles, fontsize=8, loc="lower right")
    return ax


def plot_breakevens(breakevens: pd.DataFrame, ax: Axes | None = None, *, lang: str = "en") -> Axes:
    """What one must believe: for each uncertain input, how far below or above the scenario's value it can go
    before the recommended plan changes (as a multiple of the scenario's value, log scale). A fitted input's
    90% range (±1.645 standard errors) is shaded, so a break-even inside it is a real risk; an assumed input
    has no range, only the distance the consultant must be sure of."""
    frame = breakevens.reset_index(drop=True)
    ax = _axes(ax, max(3.0, 0.5 * len(frame) + 2.0))
    palette = sns.color_palette("deep")
    y = np.arange(len(frame))
    for i, r in enumerate(frame.itertuples()):
        base = _finite(r.base_value)
        if not base > 0:
            continue
        se = _finite(r.standard_error)
        if se > 0:
            lo, hi = max(base - 1.645 * se, base * 1e-3) / base, (base + 1.645 * se) / base
            ax.fill_betweenx([i - 0.3, i + 0.3], lo, hi, color=palette[7], alpha=0.35, lw=0)
        for side in ("low", "high"):
            edge, tried = _finite(getattr(r, f"{side}_breakeven")), _finite(getattr(r, f"{side}_tried"))
            if edge > 0:
                ax.plot([1.0, edge / base], [i, i], color=palette[3], lw=2)
                ax.plot([edge / base], [i], marker="|", ms=16, mew=2.5, color=palette[3])
            elif tried > 0:
                ax.plot([1.0, tried / base], [i, i], color=palette[2], lw=2, ls=":")
                ax.plot([tried / base], [i], marker="<" if side == "low" else ">", ms=7, color=palette[2])
    ax.plot(np.ones(len(frame)), y, "o", color=palette[0], ms=7, zorder=3)
    ax.axvline(1.0, color=palette[0], lw=0.8, alpha=0.5)
    ax.set_xscale("log")
    lo, hi = ax.get_xlim()
    ticks = [2.0**k for k in range(-10, 11) if lo <= 2.0**k <= hi]  # powers of two: an eighth ... 8 times
    ax.set_xticks(ticks, [fmt_number(v, lang, 3 if v < 0.2 else (2 if v < 1 else 0)) + "×" for v in ticks])
    ax.xaxis.set_minor_formatter(mpl.ticker.NullFormatter())  # the minor ticks' labels crowd the log axis
    labels = [input_label(r.parameter, r.label, lang) for r in frame.itertuples()]
    ax.set_yticks(y, labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_ylim(len(frame) - 0.4, -0.6)
    _label(ax, t("plot.breakevens.title", lang), t("plot.breakevens.x", lang), t("plot.breakevens.y", lang))
    handles = [
        mpl.lines.Line2D([], [], marker="o", ls="", color=palette[0], label=t("plot.breakevens.base", lang)),
        mpl.lines.Line2D([], [], marker="|", ms=12, mew=2.5, color=palette[3], label=t("plot.breakevens.edge", lang)),
        mpl.lines.Line2D([], [], ls=":", lw=2, color=palette[2], label=t("plot.breakevens.never", lang)),
        mpl.patches.Patch(color=palette[7], alpha=0.35, label=t("plot.breakevens.band", lang)),
    ]
    # under the figure, centred on it (not on the axes, which the inputs' names push right), so it fits
    ax.figure.legend(handles=handles, fontsize=8, loc="outside lower center", ncol=2)
    return ax


def _finite(value) -> float:
    """A table cell as a number: missing (None, NaN, a blank read back from CSV) and infinite values are 0."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        return 0.0
    return x if np.isfinite(x) else 0.0
