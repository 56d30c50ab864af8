"""Rules that read a report's results and say what they mean for this client, in the report's language.

A consultant reads the numbers in a fixed order: how much of the market is still unreached (the
source texts' saturation argument), which step of the lifecycle leaks most, what the optimizer moves,
and which experience lever pays. The rules below write that reading down: the three KPIs that matter
most, the one action to take first, the meaning of the win-back numbers, and which playbook chapters
apply. Thresholds are named constants so a reviewer can argue with them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from sim.model.scenario import PURPOSES
from sim.report.data import ReportData
from sim.report.i18n import fmt_amount, fmt_count, fmt_kpi, fmt_percent, fmt_points, fmt_roi, listing, t
from sim.report.recommendation import breakeven_row

# the market's saturation is read from the people who do not know the brand at the end (never met it, or met
# it and forgot): reach lands on them, so they are the pool acquisition can still draw from
UNSATURATED_UNAWARE = 0.50  # at least half of the market does not know the brand: acquisition still pays
SATURATED_UNAWARE = 0.20  # under a fifth: the market is saturated, retention and win-back matter
LOW_LTV_CAC = 1.5  # below this a new customer barely pays for the cost of winning them
MIN_SHIFT = 0.05  # a change of split smaller than 5 points of budget is not worth an action
MIN_LEVER_GAIN = 0.02  # a lever that adds under 2% of contribution is not the first action
LEVER_TOLERANCE = 1e-9  # a lever's change in contribution under this share of the total is float noise, not a gain
LOW_CONVERSION = 0.20  # under a fifth of aware people buying: look at the landing page and the offer
HIGH_DISSATISFIED = 0.03  # more than 3% of orders disappointing: fix the experience first
LOW_FIRST_PARTY = 0.60  # less than 60% first-party data: an own store and CRM are the next step
CHAPTERS = range(1, 10)


def market_stage(data: ReportData) -> str:
    """'unsaturated', 'maturing' or 'saturated', from the share of the market that does not know the brand
    at the end (`unaware_share_end`: never met it, or forgot it)."""
    unaware = data.kpis.get("unaware_share_end")
    if unaware is None:
        return "maturing"
    if unaware >= UNSATURATED_UNAWARE:
        return "unsaturated"
    if unaware < SATURATED_UNAWARE:
        return "saturated"
    return "maturing"


@dataclass(frozen=True)
class KpiPick:
    """A KPI that matters for this client: its name, formatted value and why it matters."""

    name: str
    label: str
    value: str
    why: str


def top_kpis(data: ReportData, lang: str) -> list[KpiPick]:
    """The three KPIs that matter most, chosen by the market's saturation (and a low LTV:CAC first)."""
    k = data.kpis
    stage = market_stage(data)
    picks = {
        "unsaturated": ["cac", "first_purchase_conversion", "repeat_purchase_rate"],
        "maturing": ["ltv_cac", "repeat_purchase_rate", "retention_12m"],
        "saturated": ["retention_12m", "clv", "marginal_roi_winback"],
    }[stage]
    if data.meta.get("conversion_by_construction"):  # calibration's convention, not a finding about the client:
        # whether winning customers pays takes its place (its reading holds in any market)
        picks = list(dict.fromkeys("ltv_cac" if n == "first_purchase_conversion" else n for n in picks))
    ltv_cac = k.get("ltv_cac")
    if ltv_cac is not None and ltv_cac < LOW_LTV_CAC and "ltv_cac" not in picks:
        picks = ["ltv_cac", *picks]
    # a KPI the run cannot measure (12-month retention over a horizon of a year or less) gives its place
    # to the next one that matters
    spare = ["repeat_purchase_rate", "clv", "ltv_cac", "cac", "returning_revenue_share"]
    known = [n for n in dict.fromkeys([*picks, *spare]) if k.get(n) is not None]
    return [_pick(name, data, lang, stage) for name in known[:3]]


def _pick(name: str, data: ReportData, lang: str, stage: str) -> KpiPick:
    k, cur = data.kpis, data.currency
    value = fmt_kpi(name, k.get(name), cur, lang)
    fmt = {
        "value": value,
        "unaware": fmt_percent(k.get("unaware_share_end"), lang, 0),
        "never_met": fmt_percent(k.get("never_met_share_end"), lang, 0),
        "reached": fmt_percent(1.0 - (k.get("unaware_share_end") or 0.0), lang, 0),
    }
    why_key = f"why.{name}"
    if name == "ltv_cac" and (k.get("ltv_cac") or 0.0) < LOW_LTV_CAC:
        why_key = "why.ltv_cac_low"
    if name == "first_purchase_conversion" and (k.get(name) or 0.0) >= LOW_CONVERSION:
        why_key = "why.first_purchase_conversion_high"
    if name == "cac" and (k.get("forgot_share_end") or 0.0) < 0.005:
        why_key = "why.cac_never_met"
    return KpiPick(name, t(f"kpi.{name}", lang), value, t(why_key, lang, **fmt))


def split_change(data: ReportData) -> dict[str, float] | None:
    """Recommended minus current share of each purpose, or None without a recommendation."""
    rec, cur = data.plan.get("recommended_split"), data.plan.get("current_split") or {}
    if not rec:
        return None
    return {p: float(rec.get(p, 0.0)) - float(cur.get(p, 0.0)) for p in PURPOSES}


def best_levers(data: ReportData) -> list[dict]:
    """For each experience lever, its best tried value and the gain over today's value (largest first).

    Today's value wins ties (a lever whose other values earn no more is best left as it is), and a lever
    none of whose values moves contribution is flagged `no_effect` with the range of disappointed orders it
    spans, so that the report says why rather than naming an arbitrary "best" value."""
    levers = data.levers
    if levers is None or levers.empty:
        return []
    scale = max(1.0, abs(float(data.kpis.get("cumulative_contribution") or 0.0)))
    tolerance = LEVER_TOLERANCE * scale
    out = []
    for name, group in levers.groupby("lever", sort=False):
        current = group[group["current"].astype(bool)]
        best = group.loc[group["gain"].idxmax()]
        if len(current) and float(best["gain"]) <= tolerance:
            best = current.iloc[0]
        bad = pd.to_numeric(group["dissatisfied_share"], errors="coerce")
        out.append(
            {
                "lever": name,
                "best_value": float(best["value"]),
                "gain": float(best["gain"]) if float(best["gain"]) > tolerance else 0.0,
                "current_value": float(current["value"].iloc[0]) if len(current) else math.nan,
                "no_effect": bool((group["gain"].abs() <= tolerance).all()),
                "worst_loss": float(min(0.0, group["gain"].min())),
                "dissatisfied_low": float(bad.min()) if bad.notna().any() else math.nan,
                "dissatisfied_high": float(bad.max()) if bad.notna().any() else math.nan,
            }
        )
    return sorted(out, key=lambda r: r["gain"], reverse=True)


def lever_item(row: dict, data: ReportData, lang: str) -> str:
    """One lever's sentence: its best tried value and gain, or that today's value is best, or that no
    tried value moves contribution (and, when the scenario's experience effects are neutral, why)."""
    lever = t(f"lever.{row['lever']}", lang)
    money = lambda v: fmt_amount(v, data.currency, lang)  # noqa: E731
    if row["no_effect"]:
        why = t("levers.why_neutral", lang) if data.meta.get("experience_neutral") else ""
        spans = row["dissatisfied_high"] - row["dissatisfied_low"] > 1e-9
        low, high = fmt_percent(row["dissatisfied_low"], lang, 1), fmt_percent(row["dissatisfied_high"], lang, 1)
        return t(
            "levers.item_none_bad" if spans else "levers.item_none", lang, lever=lever, low=low, high=high, why=why
        )
    current = fmt_percent(row["current_value"], lang, 0)
    if row["gain"] <= 0.0:
        return t("levers.item_today", lang, lever=lever, current=current, loss=money(-row["worst_loss"]))
    best = fmt_percent(row["best_value"], lang, 0)
    return t("levers.item", lang, lever=lever, best=best, current=current, gain="+" + money(row["gain"]))


def first_action(data: ReportData, lang: str) -> str:
    """The one thing to do first: move budget, improve an experience lever, or keep the plan."""
    cur = data.currency
    months = data.meta["horizon_months"]
    change = split_change(data)
    base = abs(data.kpis.get("cumulative_contribution") or 0.0)
    if change:
        gainer = max(change, key=change.get)
        if change[gainer] >= MIN_SHIFT:
            rec, cur_split = data.plan["recommended_split"], data.plan["current_split"]
            sources = [
                t("action.source", lang, purpose=t(f"purpose_text.{p}", lang), points=fmt_points(-v, lang))
                for p, v in sorted(change.items(), key=lambda kv: kv[1])
                if v <= -0.005
            ]
            amount = change[gainer] * float(data.plan.get("monthly_budget_mean") or 0.0)
            return t(
                "action.shift",
                lang,
                target=t(f"purpose_text.{gainer}", lang),
                current=fmt_percent(cur_split.get(gainer, 0.0), lang, 0),
                recommended=fmt_percent(rec.get(gainer, 0.0), lang, 0),
                points=fmt_points(change[gainer], lang),
                sources=listing(sources, lang),
                amount=fmt_amount(amount, cur, lang),
                gain=fmt_amount(data.plan.get("uplift_mean"), cur, lang),
                months=months,
            )
    uplift, low = data.plan.get("uplift_mean"), data.plan.get("uplift_p05")
    moves = channel_moves(data)
    if change and moves and uplift is not None and low is not None and low > 0 and uplift > MIN_LEVER_GAIN * base:
        # the split by purpose barely moves, yet the recommendation gains: the gain is in the channel mix
        items = [
            t(
                "action.channel_item",
                lang,
                channel=data.meta.get("channels", {}).get(channel, channel),
                purpose=t(f"purpose_text.{purpose}", lang),
                current=fmt_percent(before, lang, 0),
                recommended=fmt_percent(after, lang, 0),
            )
            for purpose, channel, before, after in moves
        ]
        return t(
            "action.channels",
            lang,
            gain=fmt_amount(uplift, cur, lang),
            months=months,
            points=fmt_points(MIN_SHIFT, lang),
            items=listing(items, lang),
        )
    levers = best_levers(data)
    if levers and levers[0]["gain"] > MIN_LEVER_GAIN * max(base, 1.0):
        top = levers[0]
        return t(
            "action.lever",
            lang,
            lever=t(f"lever.{top['lever']}", lang),
            current=fmt_percent(top["current_value"], lang, 0),
            target=fmt_percent(top["best_value"], lang, 0),
            gain=fmt_amount(top["gain"], cur, lang),
            months=months,
        )
    if not change:
        rois = {p: data.kpis.get(f"marginal_roi_{p}") for p in PURPOSES}
        rois = {p: v for p, v in rois.items() if v is not None}
        if rois:
            best = max(rois, key=rois.get)
            return t("action.marginal", lang, target=t(f"purpose_text.{best}", lang), roi=fmt_roi(rois[best], lang))
    return t("action.keep", lang)


def channel_moves(data: ReportData, limit: int = 2) -> list[tuple[str, str, float, float]]:
    """The largest changes of a channel's share within its purpose's budget, current to recommended:
    (purpose, channel, current share, recommended share), at most `limit`, each of at least `MIN_SHIFT`."""
    now = data.plan.get("current_channel_split") or {}
    rec = data.plan.get("recommended_channel_split") or {}
    moves = []
    for purpose in PURPOSES:
        a, b = now.get(purpose) or {}, rec.get(purpose) or {}
        for channel in set(a) | set(b):
            before, after = float(a.get(channel, 0.0)), float(b.get(channel, 0.0))
            if after - before >= MIN_SHIFT:
                moves.append((purpose, channel, before, after))
    return sorted(moves, key=lambda m: m[3] - m[2], reverse=True)[:limit]


def winback_reading(data: ReportData, lang: str) -> list[str]:
    """What the win-back numbers mean for this client: the source texts' market-saturation argument."""
    k, cur = data.kpis, data.currency
    stage = market_stage(data)
    roi = {p: k.get(f"marginal_roi_{p}") for p in PURPOSES}
    fmt = {
        "unaware_start": fmt_percent(k.get("unaware_share_start"), lang, 0),
        "unaware_end": fmt_percent(k.get("unaware_share_end"), lang, 0),
        "never_met_end": fmt_percent(k.get("never_met_share_end"), lang, 0),
        "reached": fmt_percent(1.0 - (k.get("unaware_share_end") or 0.0), lang, 0),
        "months": data.meta["horizon_months"],
        "front": fmt_roi(roi["front"], lang),
        "back": fmt_roi(roi["back"], lang),
        "winback": fmt_roi(roi["winback"], lang),
        "lapsed": fmt_kpi("lapsed_customers_end", k.get("lapsed_customers_end"), cur, lang),
    }
    texts = [t(f"winback.{stage}", lang, **fmt)]
    others = [v for p, v in roi.items() if p != "winback" and v is not None]
    if roi["winback"] is not None and others:
        if roi["winback"] < max(others):
            key = "winback.compare_low"
        else:
            key = "winback.compare_high" if roi["winback"] >= 0 else "winback.compare_least_bad"
        texts.append(t(key, lang, **fmt))
        chance = breakeven_row(data, "winback.base_reactivation")
        if key != "winback.compare_low" and chance is not None and chance["kind"] == "assumed":
            # the claim rests on an unmeasured response
            texts.append(t("winback.assumed", lang, chance=fmt_percent(float(chance["base_value"]), lang, 1)))
    return texts


@dataclass(frozen=True)
class ChapterAdvice:
    """A playbook chapter that applies: its title and idea (from the catalog, so the report stands alone),
    why it applies, and where to read it on this machine (None where no playbook is at hand)."""

    number: int
    title: str
    idea: str
    reason: str
    path: str | None


def playbook_chapters(data: ReportData, lang: str, playbook_dir: Path | None = None) -> list[ChapterAdvice]:
    """The playbook chapters this client should read, each with the result that makes it relevant."""
    k, cur = data.kpis, data.currency
    stage = market_stage(data)
    picked: list[tuple[int, str, dict]] = []
    cur_split = data.plan.get("current_split") or {}
    picked.append(
        (
            1,
            "rule.ch1",
            {
                "front": fmt_percent(cur_split.get("front"), lang, 0),
                "back": fmt_percent(cur_split.get("back"), lang, 0),
            },
        )
    )
    funnel = data.funnel
    if not funnel.empty:
        rates = funnel.dropna(subset=["rate_from_previous"])
        if len(rates):
            weakest = rates.loc[rates["rate_from_previous"].idxmin()]
            picked.append(
                (
                    2,
                    "rule.ch2",
                    {
                        "step": t(f"funnel.{weakest['step']}", lang),
                        "rate": fmt_percent(weakest["rate_from_previous"], lang),
                    },
                )
            )
    picked.append((3, "rule.ch3", {"cac": fmt_kpi("cac", k.get("cac"), cur, lang)}))
    conv = k.get("first_purchase_conversion")
    if conv is not None and conv < LOW_CONVERSION:
        picked.append((4, "rule.ch4", {"rate": fmt_percent(conv, lang)}))
    dis = k.get("dissatisfied_share")
    levers = best_levers(data)
    lever_gain = levers[0]["gain"] if levers else 0.0
    if (dis is not None and dis > HIGH_DISSATISFIED) or lever_gain > 0:
        picked.append((5, "rule.ch5", {"rate": fmt_percent(dis, lang), "gain": fmt_amount(lever_gain, cur, lang)}))
    fpd = data.meta.get("first_party_data_share")
    ret_share = k.get("returning_revenue_share")
    if (fpd is not None and fpd < LOW_FIRST_PARTY) or (ret_share is not None and ret_share > 0.5):
        key = "rule.ch6_marketplace" if fpd is not None and fpd < LOW_FIRST_PARTY else "rule.ch6"
        picked.append((6, key, {"share": fmt_percent(ret_share, lang, 0), "data": fmt_percent(fpd, lang, 0)}))
    roi = {p: k.get(f"marginal_roi_{p}") for p in PURPOSES}
    others = [v for p, v in roi.items() if p != "winback" and v is not None]
    if roi["winback"] is not None and others and roi["winback"] >= max(others):
        key = "rule.ch7_pays" if roi["winback"] >= 0 else "rule.ch7_least_bad"  # the most is a loss: say so
        picked.append((7, key, {"roi": fmt_roi(roi["winback"], lang)}))
    else:
        picked.append((7, f"rule.ch7_{stage}", {"never_met": fmt_percent(k.get("never_met_share_end"), lang, 0)}))
    if len(data.meta.get("channels", {})) >= 3:
        picked.append((8, "rule.ch8", {"n": len(data.meta["channels"])}))
    change = split_change(data)
    if change and max(abs(v) for v in change.values()) >= MIN_SHIFT:
        gainer = max(change, key=change.get)
        picked.append(
            (9, "rule.ch9", {"target": t(f"purpose_text.{gainer}", lang), "points": fmt_points(change[gainer], lang)})
        )
    files = chapter_files(playbook_dir)
    return [
        ChapterAdvice(n, t(f"chapter.{n}", lang), t(f"chapter_idea.{n}", lang), t(key, lang, **fmt), files.get(n))
        for n, key, fmt in picked
    ]


def chapter_files(playbook_dir: Path | None) -> dict[int, str]:
    """Chapter number -> 'playbook/NN_name.md' (or 'playbook/ko/...') for the chapters present in
    `playbook_dir`, named from the folder called `playbook`; empty without a playbook folder."""
    if playbook_dir is None or not playbook_dir.is_dir():
        return {}
    parts = playbook_dir.resolve().parts
    last = len(parts) - 1 - parts[::-1].index("playbook") if "playbook" in parts else len(parts) - 1
    base = Path(*parts[last:])
    out = {}
    for n in CHAPTERS:
        found = sorted(playbook_dir.glob(f"{n:02d}_*.md"))
        if found:
            out[n] = (base / found[0].name).as_posix()
    return out


def base_chapters(data: ReportData, lang: str, playbook_dir: Path | None = None) -> list[ChapterAdvice]:
    """The chapters for a report on the existing customers alone (no plan to split yet), each with the
    figure of the order log that makes it relevant."""
    base = data.base
    counts = {row["key"]: row for row in data.segments.to_dict("records")} if not data.segments.empty else {}
    picked: list[tuple[int, str, dict]] = []
    if base:
        picked.append(
            (
                3,
                "rule.base_ch3",
                {"customers": fmt_count(base["customers"], lang), "active": fmt_count(base["expected_active"], lang)},
            )
        )
    if counts.get("one_time_hesitating", {}).get("customers"):
        picked.append((5, "rule.base_ch5", {"count": fmt_count(counts["one_time_hesitating"]["customers"], lang)}))
    active = counts.get("active", {})
    if active.get("customers") and base.get("clv_total"):
        share = active["clv_total"] / base["clv_total"]
        picked.append(
            (6, "rule.base_ch6", {"count": fmt_count(active["customers"], lang), "share": fmt_percent(share, lang, 0)})
        )
    if counts.get("lapsed", {}).get("customers"):
        picked.append((7, "rule.base_ch7", {"count": fmt_count(counts["lapsed"]["customers"], lang)}))
    picked.append((9, "rule.base_ch9", {}))
    files = chapter_files(playbook_dir)
    return [
        ChapterAdvice(n, t(f"chapter.{n}", lang), t(f"chapter_idea.{n}", lang), t(key, lang, **fmt), files.get(n))
        for n, key, fmt in picked
    ]
