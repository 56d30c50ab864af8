"""Build the learning notebooks of the playbook, then execute them in place so they are stored with outputs.

    python notebooks/learn/build.py            # write and execute all nine
    python notebooks/learn/build.py 03 07      # only these
    python notebooks/learn/build.py --no-run   # write without executing

Every notebook has the same shape: a link back to its chapter, a setup cell, the key figures of the chapter
printed by a cell that nbval checks (`# NBVAL_CHECK_OUTPUT`), a static plot for fixed lever values (it
reads well without a kernel), the same plot behind ipywidgets sliders, and exercises whose check cells say
whether the trainee's answer is right. The numbers come from `sim.learn.figures`, like the chapter's.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent
CHECK = "# NBVAL_CHECK_OUTPUT\n"

SETUP = """\
%matplotlib inline
import matplotlib.pyplot as plt
import pandas as pd

from sim.learn import figures as pf
from sim.learn.exercises import check_answer

try:  # the sliders need ipywidgets and a live kernel; the static plots above them do not
    import ipywidgets as widgets
    from ipywidgets import interact
except ImportError:
    widgets = interact = None

plt.rcParams.update({"figure.figsize": (9, 4.2), "axes.grid": True, "grid.alpha": 0.3})
pd.set_option("display.width", 120)"""


def header(n: int, slug: str, title: str, intro: str) -> str:
    return (
        f"# {n}. {title}\n\n"
        f"Companion notebook of the playbook chapter [{n}. {title}](../../playbook/{n:02d}_{slug}.md) "
        f"(read it first). [Index of the playbook](../../playbook/README.md)\n\n{intro}\n\n"
        "Run all cells (the heavy lifting takes a few seconds), then move the sliders. Without a live kernel, "
        "the static plots show the same thing for a few fixed positions."
    )


def figures_cells(names: list[str]) -> list:
    """Compute the chapter's figures in one cell (any warning lands there), print them in a checked one."""
    lines = ", ".join(f'"{n}"' for n in names)
    return [
        new_code_cell(f"figures = {{name: pf.compute(name) for name in [{lines}]}}"),
        new_code_cell(CHECK + 'print("\\n".join(f"{name:36s} {value}" for name, value in figures.items()))'),
    ]


def exercise(key: str, prompt: str, placeholder: str = "None") -> list:
    return [
        new_markdown_cell(prompt),
        new_code_cell(f'answer = {placeholder}  # replace with your answer\ncheck_answer("{key}", answer)'),
    ]


def widget_cell(body: str) -> str:
    return (
        'if interact is None:\n    print("ipywidgets is not installed: use the static plot above.")\nelse:\n'
        + "\n".join("    " + line if line else line for line in body.splitlines())
    )


# -- the nine notebooks ------------------------------------------------------------------------------------


def nb01() -> list:
    return [
        new_markdown_cell(
            header(
                1,
                "front_back_marketing",
                "Front-end and back-end marketing",
                "Same channels, different purposes: we move budget between front-end (strangers) and back-end "
                "(customers) and watch new customers, CLV and contribution.",
            )
        ),
        new_code_cell(SETUP),
        new_markdown_cell(
            "## The chapter's figures\n\nTwo purpose splits over the same four channels (fast engine, expected "
            "values, 24 months). The cells below compute and print the figures the chapter quotes."
        ),
        *figures_cells(
            [
                "ch1_new_front_heavy",
                "ch1_new_balanced",
                "ch1_cac_front_heavy",
                "ch1_cac_balanced",
                "ch1_clv_front_heavy",
                "ch1_clv_balanced",
                "ch1_contribution_front_heavy",
                "ch1_contribution_balanced",
            ]
        ),
        new_markdown_cell(
            "## From front-heavy to back-heavy\n\nThe front-end share runs from 30% to 95%; back-end gets the "
            "rest (no win-back). Nothing else changes: the channels, their response curves, the market."
        ),
        new_code_cell(
            """\
SHARES = [0.3, 0.45, 0.6, 0.75, 0.9, 0.95]
table = pd.DataFrame(pf.sweep("d2c", [pf.split(f, round(1 - f, 6)) for f in SHARES]), index=SHARES)


def plot_split(table, mark=None):
    fig, (ax1, ax2) = plt.subplots(1, 2)
    ax1.plot(table.index * 100, table["new_customers"], "o-", label="new customers")
    ax1.set(title="Customers won vs what each is worth", xlabel="front-end share of budget (%)", ylabel="new customers (people)")
    ax1b = ax1.twinx()
    ax1b.plot(table.index * 100, table["clv"] / 1000, "s--", color="tab:orange", label="CLV")
    ax1b.set_ylabel("CLV (thousand KRW per customer)")
    ax1.legend(handles=ax1.lines + ax1b.lines, loc="lower center")
    ax2.plot(table.index * 100, table["cumulative_contribution"] / 1e6, "o-", color="tab:green", label="contribution")
    ax2.set(title="Contribution over 24 months", xlabel="front-end share of budget (%)", ylabel="contribution (million KRW)")
    if mark is not None:
        ax2.axvline(mark * 100, color="grey", ls=":", label="slider")
    ax2.legend()
    fig.tight_layout()
    return fig


plot_split(table)
plt.show()
print(table[["new_customers", "cac", "clv", "returning_revenue_share", "cumulative_contribution"]].round(2))"""
        ),
        new_markdown_cell(
            "## Play\n\nMove the front-end share (back-end gets the rest) and the monthly budget. The left plot "
            "compares monthly revenue from new and returning customers with the scenario's own 75/20/5 plan."
        ),
        new_code_cell(
            widget_cell(
                """\
def draw(front_share=0.75, budget_million=2.4):
    plan = {"budget.totals": budget_million * 1e6, **pf.split(front_share, round(1 - front_share, 6))}
    mine, base = pf.sweep_results("d2c", [plan, {}])
    fig, ax = plt.subplots()
    for result, name, style in ((base, "scenario plan 75/20/5", "--"), (mine, "your plan", "-")):
        monthly = result.monthly()
        ax.plot(monthly.index, monthly["revenue_new"] / 1e6, style, color="tab:blue", label=f"new customers, {name}")
        ax.plot(monthly.index, monthly["revenue_returning"] / 1e6, style, color="tab:orange", label=f"returning, {name}")
    k = pf.compute_kpis(mine)
    ax.set(title=f"Monthly revenue; your plan: CAC {k['cac']:,.0f} KRW, CLV {k['clv']:,.0f} KRW",
           xlabel="month", ylabel="revenue (million KRW per month)")
    ax.legend(fontsize=8)
    plt.show()


interact(draw, front_share=widgets.FloatSlider(value=0.75, min=0.3, max=0.95, step=0.05, description="front share"),
         budget_million=widgets.FloatSlider(value=2.4, min=1.0, max=5.0, step=0.2, description="budget (M KRW)"))"""
            )
        ),
        new_markdown_cell("## Exercises"),
        *exercise(
            "ch1_q1",
            "**1.** A Kakao message offers last month's cleanser buyers a matching toner. Front or back? "
            'Answer `"front"` or `"back"`.',
        ),
        *exercise(
            "ch1_q2",
            "**2.** How many more new customers does the 90/10 plan win than the 60/40 plan? Use the figures "
            "printed at the top.",
        ),
        new_markdown_cell(
            "**3.** Move the front share from 0.3 to 0.95. Which KPI rises steadily, which falls? "
            "(The table under the static plot helps.) Solutions are in the chapter."
        ),
    ]


def nb02() -> list:
    return [
        new_markdown_cell(
            header(
                2,
                "customer_lifecycle",
                "The customer lifecycle",
                "Five stages (unaware, aware, customer, loyal, lapsed) and the AARRR steps between them, in one "
                "seeded run of the agent engine.",
            )
        ),
        new_code_cell(SETUP),
        new_markdown_cell("## The chapter's figures"),
        *figures_cells(
            [
                "ch2_unaware_m24",
                "ch2_aware_m24",
                "ch2_customer_m24",
                "ch2_loyal_m24",
                "ch2_lapsed_m24",
                "ch2_fpc",
                "ch2_repeat",
                "ch2_retention",
                "ch2_referral_share",
            ]
        ),
        new_markdown_cell(
            "## Where people are, month by month\n\nThe unaware stage dwarfs the others, so the left plot shows "
            "it alone and the right plot the four stages of people who have met the brand."
        ),
        new_code_cell(
            """\
STAGES = ["unaware", "aware", "customer", "loyal", "lapsed"]


def plot_stages(result, title):
    monthly = result.daily[STAGES].resample("MS").last()
    fig, (ax1, ax2) = plt.subplots(1, 2)
    ax1.plot(monthly.index, monthly["unaware"], label="unaware")
    ax1.set(title="Never met the brand", xlabel="month", ylabel="people")
    ax1.legend()
    for stage in STAGES[1:]:
        ax2.plot(monthly.index, monthly[stage], label=stage)
    ax2.set(title=title, xlabel="month", ylabel="people")
    ax2.legend()
    fig.autofmt_xdate()
    fig.tight_layout()


plot_stages(pf.base_run(), "Met the brand (agent engine, seed 7)")
plt.show()"""
        ),
        new_markdown_cell(
            "## Play\n\nWord of mouth (`referral.contacts_per_loyal_per_month`), forgetting "
            "(`first_purchase.forgetting_per_month`) and the step to loyal after a satisfied order "
            "(`loyalty.step_probability_satisfied`). These runs use the fast engine (expected values)."
        ),
        new_code_cell(
            widget_cell(
                """\
def draw(referrals=0.35, forgetting=0.08, step_loyal=0.12):
    result = pf.run("d2c", {"referral.contacts_per_loyal_per_month": referrals,
                            "first_purchase.forgetting_per_month": forgetting,
                            "loyalty.step_probability_satisfied": step_loyal})
    plot_stages(result, "Met the brand (fast engine, your levers)")
    plt.show()


interact(draw,
         referrals=widgets.FloatSlider(value=0.35, min=0, max=2, step=0.05, description="referrals"),
         forgetting=widgets.FloatSlider(value=0.08, min=0.01, max=0.3, step=0.01, description="forgetting"),
         step_loyal=widgets.FloatSlider(value=0.12, min=0, max=0.5, step=0.02, description="step to loyal"))"""
            )
        ),
        new_markdown_cell("## Static: the effect of word of mouth\n\nThe unaware curve for three referral rates."),
        new_code_cell(
            """\
rates = [0.0, 0.35, 2.0]
runs = pf.sweep_results("d2c", [{"referral.contacts_per_loyal_per_month": r} for r in rates])
fig, ax = plt.subplots()
for r, result in zip(rates, runs, strict=True):
    monthly = result.daily["unaware"].resample("MS").last()
    ax.plot(monthly.index, monthly / 1000, label=f"{r} contacts per loyal customer a month")
ax.set(title="Word of mouth compounds", xlabel="month", ylabel="unaware people (thousands)")
ax.legend()
plt.show()"""
        ),
        new_markdown_cell("## Exercises"),
        *exercise(
            "ch2_q1",
            '**1.** Which AARRR step does `first_purchase.monthly_conversion` set? Answer `"acquisition"`, '
            '`"activation"`, `"retention"` or `"referral"`.',
        ),
        *exercise(
            "ch2_q2",
            "**2.** At the end of the base run, how many people have ever bought (customer + loyal + lapsed)? "
            "Hint: `pf.base_run().daily.iloc[-1]`.",
        ),
        new_markdown_cell(
            "**3.** Raise the referral slider from 0.35 to 2. What happens to the unaware curve, and why does "
            "the effect grow over time? (The static plot above shows it.)"
        ),
    ]


def nb03() -> list:
    return [
        new_markdown_cell(
            header(
                3,
                "measure_manage_improve",
                "Measure, manage, improve",
                "An order log is all a consultant gets at first. We read the KPIs out of the one the agent engine "
                "writes, and check them against the simulator's own.",
            )
        ),
        new_code_cell(SETUP),
        new_markdown_cell("## The order log\n\nThe same columns as `orders.csv`."),
        new_code_cell("orders = pf.base_run().orders\norders.head(8)"),
        new_markdown_cell("## The chapter's figures: from the log, and from the simulator"),
        *figures_cells(
            [
                "ch3_log_customers",
                "ch3_log_orders",
                "ch3_log_orders_per_customer",
                "ch3_log_average_order_value",
                "ch3_log_new_customers",
                "ch3_log_repeat_purchase_rate",
                "ch3_log_returning_revenue_share",
                "ch3_kpi_repeat",
                "ch3_kpi_returning",
                "ch3_cac",
                "ch3_clv",
                "ch3_ltv_cac",
                "ch3_payback",
            ]
        ),
        new_markdown_cell(
            "The log figures come from a few lines of pandas (`pf.order_log_kpis`). For example, the returning "
            "revenue share:"
        ),
        new_code_cell(
            """\
returning = orders["order_number"] > 1
share = orders.loc[returning, "amount"].sum() / orders["amount"].sum()
print(f"returning revenue share from the log: {share:.1%}")"""
        ),
        new_markdown_cell("## New and repeat orders by month"),
        new_code_cell(
            """\
o = orders.assign(month=pd.to_datetime(orders["order_date"]).dt.to_period("M").dt.to_timestamp())
by_month = o.groupby(["month", o["order_number"] > 1])["amount"].sum().unstack(fill_value=0) / 1e6
by_month.columns = ["first orders", "repeat orders"]
ax = by_month.plot.area(alpha=0.7)
ax.set(title="Revenue by month from the order log", xlabel="month", ylabel="revenue (million KRW)")
ax.legend(title="order")
plt.show()"""
        ),
        new_markdown_cell(
            "## Play: silent is not lapsed\n\nA common shortcut calls a customer *lapsed* after N days without "
            "an order. The simulator knows who really lapsed. Move N and compare."
        ),
        new_code_cell(
            """\
import numpy as np

end = pf.base_run().daily.index[-1]
last = pd.to_datetime(orders["order_date"]).groupby(orders["customer_id"]).max()
truth = pf.base_run().daily.iloc[-1]
true_share = truth["lapsed"] / (truth["customer"] + truth["loyal"] + truth["lapsed"])


def plot_silent(days):
    shares = [((end - last).dt.days > d).mean() for d in range(30, 361, 30)]
    fig, ax = plt.subplots()
    ax.plot(range(30, 361, 30), np.array(shares) * 100, "o-", label="silent longer than N days")
    ax.axhline(true_share * 100, color="tab:red", ls="--", label="truly lapsed (simulator)")
    ax.axvline(days, color="grey", ls=":", label=f"N = {days}")
    ax.set(title="Customers silent for N days vs customers who have left", xlabel="N (days without an order)",
           ylabel="share of customers who ever bought (%)")
    ax.legend()
    plt.show()


plot_silent(90)"""
        ),
        new_code_cell(
            widget_cell(
                'interact(plot_silent, days=widgets.IntSlider(value=90, min=30, max=360, step=30, description="N days"))'
            )
        ),
        new_markdown_cell("## Exercises"),
        *exercise(
            "ch3_q1",
            "**1.** How many orders did a new customer (one with an `order_number` 1 in the log) place on average? "
            "Two decimals.",
        ),
        *exercise("ch3_q2", "**2.** A shop spent 21,600,000 KRW on acquisition and won 900 new customers. CAC in KRW?"),
        new_markdown_cell("**3.** The returning revenue share by acquisition channel:"),
        new_code_cell(
            """\
by_channel = orders.groupby("acquisition_channel").apply(
    lambda g: g.loc[g["order_number"] > 1, "amount"].sum() / g["amount"].sum(), include_groups=False
)
print((by_channel * 100).round(1).sort_values(ascending=False).to_string())"""
        ),
    ]


def nb04() -> list:
    return [
        new_markdown_cell(
            header(
                4,
                "before_the_sale",
                "Before the sale",
                "The landing page turns attention into first orders: `first_purchase.landing_page_quality`, "
                "`offer_strength` and `forgetting_per_month` against conversion and CAC.",
            )
        ),
        new_code_cell(SETUP),
        new_markdown_cell("## The chapter's figures"),
        *figures_cells(
            [
                "ch4_fpc_lpq08",
                "ch4_fpc_lpq10",
                "ch4_fpc_lpq13",
                "ch4_cac_lpq08",
                "ch4_cac_lpq10",
                "ch4_cac_lpq13",
                "ch4_new_lpq13",
            ]
        ),
        new_markdown_cell("## Landing-page quality from 0.6 to 1.6"),
        new_code_cell(
            """\
QUALITY = [round(0.6 + 0.1 * i, 1) for i in range(11)]
table = pd.DataFrame(pf.sweep("d2c", [{"first_purchase.landing_page_quality": q} for q in QUALITY]), index=QUALITY)


def plot_quality(table, mark=None):
    fig, ax = plt.subplots()
    ax.plot(table.index, table["first_purchase_conversion"] * 100, "o-", label="first-purchase conversion")
    ax.set(title="A better page converts more of the same attention", xlabel="landing_page_quality (1 = typical)",
           ylabel="first-purchase conversion (%)")
    ax2 = ax.twinx()
    ax2.plot(table.index, table["cac"] / 1000, "s--", color="tab:red", label="CAC")
    ax2.set_ylabel("CAC (thousand KRW)")
    if mark is not None:
        ax.axvline(mark, color="grey", ls=":")
    ax.legend(handles=ax.lines + ax2.lines, loc="upper center")
    plt.show()


plot_quality(table)"""
        ),
        new_markdown_cell("## Play"),
        new_code_cell(
            widget_cell(
                """\
def draw(quality=1.0, offer=1.0, forgetting=0.08):
    k = pf.kpis("d2c", {"first_purchase.landing_page_quality": quality, "first_purchase.offer_strength": offer,
                        "first_purchase.forgetting_per_month": forgetting})
    base = pf.kpis("d2c")
    fig, axes = plt.subplots(1, 3, figsize=(10, 3.5))
    for ax, (name, unit, scale) in zip(axes, [("first_purchase_conversion", "%", 100), ("new_customers", "people", 1),
                                              ("cac", "KRW", 1)], strict=True):
        ax.bar(["scenario", "yours"], [base[name] * scale, k[name] * scale], color=["grey", "tab:blue"], label=name)
        ax.set(title=name, xlabel="plan", ylabel=unit)
        ax.legend(fontsize=7)
    fig.suptitle("Your page and offer against the scenario's")
    fig.tight_layout()
    plt.show()


interact(draw, quality=widgets.FloatSlider(value=1.0, min=0.5, max=2.0, step=0.05, description="page quality"),
         offer=widgets.FloatSlider(value=1.0, min=0.5, max=2.0, step=0.05, description="offer"),
         forgetting=widgets.FloatSlider(value=0.08, min=0.01, max=0.3, step=0.01, description="forgetting"))"""
            )
        ),
        new_markdown_cell("## Exercises"),
        *exercise(
            "ch4_q1", "**1.** 1.5% × quality 1.2 × offer 1.1: the effective monthly first-purchase chance, in %?"
        ),
        *exercise(
            "ch4_q2", '**2.** Does a better landing page, by itself, make more people aware? Answer `"yes"` or `"no"`.'
        ),
        new_markdown_cell("**3.** The first quality on the grid with a CAC below 20,000 KRW:"),
        new_code_cell(
            """\
below = table[table["cac"] < 20000]
print(f"first quality with CAC < 20,000 KRW: {below.index[0]:.1f}" if len(below) else "none on this grid")"""
        ),
    ]


def nb05() -> list:
    return [
        new_markdown_cell(
            header(
                5,
                "after_the_sale",
                "After the sale",
                "Predictable expectations (`experience.reliability`), satisfaction (proactive messages) and "
                "delight (`experience.delight_coverage`): what each costs per order and what it returns.",
            )
        ),
        new_code_cell(SETUP),
        new_markdown_cell("## The chapter's figures"),
        *figures_cells(
            [
                "ch5_dissatisfied_rel85",
                "ch5_dissatisfied_rel99",
                "ch5_contribution_rel85",
                "ch5_contribution_rel99",
                "ch5_delighted_del0",
                "ch5_delighted_del60",
                "ch5_loyal_del0",
                "ch5_loyal_del60",
                "ch5_contribution_del0",
                "ch5_contribution_del60",
            ]
        ),
        new_markdown_cell("## Reliability and delight, one at a time"),
        new_code_cell(
            """\
REL = [0.8, 0.85, 0.9, 0.95, 0.99]
DEL = [0.0, 0.2, 0.4, 0.6, 0.8]
rel = pd.DataFrame(pf.sweep("d2c", [{"experience.reliability": r} for r in REL]), index=REL)
dlt = pd.DataFrame(pf.sweep("d2c", [{"experience.delight_coverage": d} for d in DEL]), index=DEL)

fig, (ax1, ax2) = plt.subplots(1, 2)
ax1.plot(rel.index * 100, rel["cumulative_contribution"] / 1e6, "o-", label="contribution")
ax1.set(title="Reliability", xlabel="orders meeting expectations (%)", ylabel="contribution, 24 months (million KRW)")
ax1.legend()
ax2.plot(dlt.index * 100, dlt["cumulative_contribution"] / 1e6, "o-", color="tab:green", label="contribution")
ax2b = ax2.twinx()
ax2b.plot(dlt.index * 100, dlt["loyal_customers_end"], "s--", color="tab:purple", label="loyal at the end")
ax2b.set_ylabel("loyal customers (people)")
ax2.set(title="Delight (surprise in the box)", xlabel="orders with a surprise (%)", ylabel="contribution (million KRW)")
ax2.legend(handles=ax2.lines + ax2b.lines, loc="upper left")
fig.tight_layout()
plt.show()
print(rel[["dissatisfied_share", "retention_12m", "loyal_customers_end"]].round(3))"""
        ),
        new_markdown_cell("## Play\n\nAll the experience levers and the fulfilment team's capacity (orders a day)."),
        new_code_cell(
            widget_cell(
                """\
def draw(reliability=0.95, proactive=1.0, delight=0.2, capacity=40):
    k = pf.kpis("d2c", {"experience.reliability": reliability, "experience.proactive_coverage": proactive,
                        "experience.delight_coverage": delight, "operations.fulfilment_capacity_per_day": capacity})
    base = pf.kpis("d2c")
    names = [("dissatisfied_share", "dissatisfied orders (%)", 100), ("loyal_customers_end", "loyal (people)", 1),
             ("cumulative_contribution", "contribution (M KRW)", 1e-6)]
    fig, axes = plt.subplots(1, 3, figsize=(10, 3.5))
    for ax, (name, label, scale) in zip(axes, names, strict=True):
        ax.bar(["scenario", "yours"], [base[name] * scale, k[name] * scale], color=["grey", "tab:blue"], label=label)
        ax.set(title=label, xlabel="plan", ylabel=label.split("(")[-1].rstrip(")"))
        ax.legend(fontsize=7)
    fig.suptitle("Your experience levers against the scenario's")
    fig.tight_layout()
    plt.show()


interact(draw, reliability=widgets.FloatSlider(value=0.95, min=0.7, max=1.0, step=0.01, description="reliability"),
         proactive=widgets.FloatSlider(value=1.0, min=0, max=1, step=0.1, description="proactive"),
         delight=widgets.FloatSlider(value=0.2, min=0, max=1, step=0.05, description="delight"),
         capacity=widgets.IntSlider(value=40, min=5, max=60, step=1, description="capacity/day"))"""
            )
        ),
        new_markdown_cell("## Exercises"),
        *exercise(
            "ch5_q1", "**1.** Proactive 1.0 at 60 KRW, delight 0.5 at 1,500 KRW: experience cost per order in KRW?"
        ),
        *exercise("ch5_q2", "**2.** Reliability 0.9, proactive coverage 1.0, rescue 0.5: dissatisfied orders, in %?"),
        new_markdown_cell("**3.** Fulfilment capacity against dissatisfied orders:"),
        new_code_cell(
            """\
CAP = [40, 30, 25, 20, 17, 15, 10]
cap = pd.DataFrame(pf.sweep("d2c", [{"operations.fulfilment_capacity_per_day": c} for c in CAP]), index=CAP)
print("orders a day, last month:", pf.compute("ch5_orders_per_day_last_month"))
print((cap["dissatisfied_share"] * 100).round(1).rename("dissatisfied %").to_string())"""
        ),
    ]


def nb06() -> list:
    return [
        new_markdown_cell(
            header(
                6,
                "loyal_customers",
                "Loyal customers",
                "First-party data (`retention.first_party_data_share`) and privacy limits "
                "(`retention.targeting_precision`) decide how much of the back-end budget works; CRM segments come "
                "from the order log.",
            )
        ),
        new_code_cell(SETUP),
        new_markdown_cell("## The chapter's figures"),
        *figures_cells(
            [
                "ch6_effectiveness_marketplace",
                "ch6_effectiveness_own_store",
                "ch6_effectiveness_own_store_privacy",
                "ch6_clv_marketplace",
                "ch6_clv_own_store",
                "ch6_contribution_marketplace",
                "ch6_contribution_own_store",
                "ch6_segment_one_hesitating",
                "ch6_segment_repeat_at_risk",
            ]
        ),
        new_markdown_cell(
            "## Data share, at two back-end budgets\n\nThe back-end share is 20% (the scenario) or 40% (taken "
            "from front-end); win-back stays at 5%."
        ),
        new_code_cell(
            """\
DATA = [0.1, 0.3, 0.5, 0.7, 0.9, 1.0]
curves = {}
for back in (0.2, 0.4):
    plans = [{"retention.first_party_data_share": x, **pf.split(round(0.95 - back, 6), back, 0.05)} for x in DATA]
    curves[back] = pd.DataFrame(pf.sweep("d2c", plans), index=DATA)

fig, ax = plt.subplots()
for back, table in curves.items():
    ax.plot(table.index * 100, table["cumulative_contribution"] / 1e6, "o-", label=f"back-end share {back:.0%}")
ax.set(title="What first-party data is worth", xlabel="customers whose data the shop holds (%)",
       ylabel="contribution, 24 months (million KRW)")
ax.legend()
plt.show()
gain = {b: t["cumulative_contribution"].iloc[-1] - t["cumulative_contribution"].iloc[0] for b, t in curves.items()}
for b, g in gain.items():
    print(f"gain from 10% to 100% data at back-end share {b:.0%}: {g / 1e6:.1f} million KRW")"""
        ),
        new_markdown_cell("## CRM segments from the order log"),
        new_code_cell(
            """\
orders = pf.base_run().orders
end = str(pf.base_run().daily.index[-1].date())
seg = pf.segments(orders, end)
ax = seg.plot.barh(color=["tab:blue", "tab:orange", "tab:green", "tab:red"], label="customers")
ax.set(title="CRM segments at the end of month 24 (quiet = 90 days without an order)", xlabel="customers (people)",
       ylabel="segment")
ax.legend()
plt.show()"""
        ),
        new_markdown_cell("## Play"),
        new_code_cell(
            widget_cell(
                """\
def draw(data_share=0.9, precision=0.85, back_share=0.2):
    plan = {"retention.first_party_data_share": data_share, "retention.targeting_precision": precision,
            **pf.split(round(0.95 - back_share, 6), back_share, 0.05)}
    k, base = pf.kpis("d2c", plan), pf.kpis("d2c")
    names = [("repeat_purchase_rate", "repeat-purchase rate (%)", 100), ("clv", "CLV (KRW)", 1),
             ("cumulative_contribution", "contribution (M KRW)", 1e-6)]
    fig, axes = plt.subplots(1, 3, figsize=(10, 3.5))
    for ax, (name, label, scale) in zip(axes, names, strict=True):
        ax.bar(["scenario", "yours"], [base[name] * scale, k[name] * scale], color=["grey", "tab:blue"], label=label)
        ax.set(title=label, xlabel="plan", ylabel=label.split("(")[-1].rstrip(")"))
        ax.legend(fontsize=7)
    fig.suptitle("Data, privacy and back-end budget against the scenario's")
    fig.tight_layout()
    plt.show()


interact(draw, data_share=widgets.FloatSlider(value=0.9, min=0, max=1, step=0.05, description="data share"),
         precision=widgets.FloatSlider(value=0.85, min=0.2, max=1, step=0.05, description="precision"),
         back_share=widgets.FloatSlider(value=0.2, min=0, max=0.6, step=0.05, description="back share"))"""
            )
        ),
        new_markdown_cell("## Exercises"),
        *exercise(
            "ch6_q1", "**1.** Data share 0.5, marketplace effectiveness 0.3, precision 0.8: back-end effectiveness?"
        ),
        *exercise(
            "ch6_q2",
            '**2.** Which segment gets the "come back for a second try" coupon? Answer with its label, e.g. '
            '`"repeat, active"`.',
        ),
        new_markdown_cell(
            "**3.** Does the gain from more data grow or shrink with a bigger back-end share? The static plot and "
            "the two printed gains answer it."
        ),
    ]


def nb07() -> list:
    return [
        new_markdown_cell(
            header(
                7,
                "remarketing_winback",
                "Remarketing and win-back",
                "Marginal ROI of front-end, back-end and win-back spend in an early and a saturated market, and "
                "what market saturation does to each.",
            )
        ),
        new_code_cell(SETUP),
        new_markdown_cell("## The chapter's figures"),
        *figures_cells(
            [
                "ch7_mroi_front_d2c",
                "ch7_mroi_back_d2c",
                "ch7_mroi_winback_d2c",
                "ch7_mroi_front_saturated",
                "ch7_mroi_back_saturated",
                "ch7_mroi_winback_saturated",
                "ch7_mroi_winback_saturated_r01",
                "ch7_reactivations_d2c",
                "ch7_reactivations_saturated",
                "ch7_l25_unaware",
                "ch7_l25_front",
                "ch7_l25_winback",
            ]
        ),
        new_markdown_cell(
            "## From an early to a saturated market\n\n`level` 0 is the early shop (the d2c learning scenario); "
            "1 is the saturated one. In between, the people who already met the brand and the lapsed pile grow "
            "together. Nothing about the shop changes."
        ),
        new_code_cell(
            """\
import numpy as np

market_state = pf.market_state  # level 0 = the early shop, 1 = the saturated shop
rois = pf.saturation_rois()
unaware = rois["unaware"]


def plot_rois(rois, unaware, title):
    fig, ax = plt.subplots()
    for purpose, style in (("front", "o-"), ("back", "s-"), ("winback", "^-")):
        ax.plot(np.array(unaware) * 100, rois[purpose], style, label=purpose)
    ax.axhline(0, color="black", lw=0.8)
    ax.set(title=title, xlabel="share of the market still unaware at the start (%)",
           ylabel="marginal ROI (extra contribution per extra KRW)")
    ax.invert_xaxis()
    ax.legend(title="purpose of the extra spend")
    plt.show()


plot_rois(rois, unaware, "The next won's best use, as the market saturates")
print(rois.round(2).to_string())"""
        ),
        new_markdown_cell(
            "## Play\n\nMarket saturation, the comeback chance of a contacted lapser (`winback.base_reactivation`) "
            "and the cost of a win-back message (`channels.kakao_crm.winback_cost_per_contact`)."
        ),
        new_code_cell(
            widget_cell(
                """\
def draw(level=0.0, reactivation=0.04, cost=250):
    m = pf.marginal_many([pf.learning_scenario("d2c", market_state(level, reactivation, cost))])[0]
    fig, ax = plt.subplots()
    ax.bar(list(m), list(m.values()), color=["tab:blue", "tab:orange", "tab:green"], label="marginal ROI")
    ax.axhline(0, color="black", lw=0.8)
    ax.set(title=f"Marginal ROI at saturation level {level:.2f}", xlabel="purpose of the extra spend",
           ylabel="extra contribution per extra KRW")
    ax.legend()
    plt.show()


interact(draw, level=widgets.FloatSlider(value=0.0, min=0, max=1, step=0.05, description="saturation"),
         reactivation=widgets.FloatSlider(value=0.04, min=0.005, max=0.1, step=0.005, description="comeback chance",
                                          readout_format=".3f"),
         cost=widgets.IntSlider(value=250, min=20, max=1500, step=10, description="KRW/contact"))"""
            )
        ),
        new_markdown_cell("## Exercises"),
        *exercise("ch7_q1", "**1.** A message costs 400 KRW and brings back 2%. Cost per comeback in KRW?"),
        *exercise(
            "ch7_q2",
            '**2.** In which market does extra front-end spend have the lower marginal ROI? Answer `"d2c"` or '
            '`"saturated"`.',
        ),
        new_markdown_cell("**3.** The saturated shop with a comeback chance of 0.01 instead of 0.04:"),
        new_code_cell(
            """\
low = pf.marginal_many([pf.learning_scenario("saturated", {"winback.base_reactivation": 0.01})])[0]
print({purpose: round(value, 2) for purpose, value in low.items()})"""
        ),
    ]


def nb08() -> list:
    return [
        new_markdown_cell(
            header(
                8,
                "channels",
                "Channels",
                "Each channel has its own response curve (`channels.<id>.reach`); spreading the front-end budget "
                "over several works each on the steep part of its curve. Plus the survey figures of A4.",
            )
        ),
        new_code_cell(SETUP),
        new_markdown_cell("## The chapter's figures"),
        *figures_cells(
            [
                "ch8_reach_one_channel",
                "ch8_reach_three_channels",
                "ch8_new_one_channel",
                "ch8_new_three_channels",
                "ch8_cac_one_channel",
                "ch8_cac_three_channels",
            ]
        ),
        new_markdown_cell(
            "## How people shop (Ipsos survey, 16 countries, March-May 2022, cited in A4)\n\nThese are survey "
            "figures, not simulator output."
        ),
        new_code_cell(
            """\
o2o = pd.Series({"bought online, delivered": 74, "searched nearby stores online": 66,
                 "checked stock online before visiting": 51, "bought online, picked up": 41})
channels_used = pd.Series({"online marketplace": 77, "retailer website": 75, "brand website": 56, "social commerce": 39,
                           "quick commerce": 37, "livestream shopping": 34, "metaverse shopping": 33, "voice shopping": 32})
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
o2o.sort_values().plot.barh(ax=ax1, color="tab:blue", label="last 4 weeks")
ax1.set(title="Online-to-offline behaviour", xlabel="respondents (%)", ylabel="")
ax1.legend()
channels_used.sort_values().plot.barh(ax=ax2, color="tab:orange", label="last 6 months")
ax2.set(title="Digital commerce channels used", xlabel="respondents (%)", ylabel="")
ax2.legend()
fig.tight_layout()
plt.show()"""
        ),
        new_markdown_cell("## The response curves of the learning scenario's front-end channels"),
        new_code_cell(
            """\
import numpy as np

from sim.model import acquisition

scenario = pf.learning_scenario()
spend = np.linspace(0, 3e6, 61)
fig, ax = plt.subplots()
for name in ("search_ads", "sns_content", "influencer"):
    r = scenario.channels[name].reach
    ax.plot(spend / 1e6, acquisition.reach_per_month(spend, r.max_reach, r.half_saturation, r.shape, r.kind),
            label=scenario.channels[name].label)
ax.axvline(1.8, color="grey", ls=":", label="whole front-end budget")
ax.set(title="Diminishing returns in each channel", xlabel="spend (million KRW per month)",
       ylabel="people reached per month")
ax.legend()
plt.show()"""
        ),
        new_markdown_cell("## Play: split the front-end budget over three channels"),
        new_code_cell(
            widget_cell(
                """\
def draw(search=0.4, sns=0.35):
    influencer = max(0.0, 1.0 - search - sns)
    total = search + sns + influencer
    mix = {"search_ads": search / total, "sns_content": sns / total, "influencer": influencer / total}
    k = pf.kpis("d2c", {"budget.channel_split.front": {c: round(v, 6) for c, v in mix.items() if v > 0}})
    fig, ax = plt.subplots()
    ax.bar(list(mix), [v * 100 for v in mix.values()], color="tab:blue", label="share of front-end budget")
    ax.set(title=f"Reach {pf.monthly_reach(mix):,.0f} people/month, {k['new_customers']:,.0f} new customers, "
                 f"CAC {k['cac']:,.0f} KRW", xlabel="channel", ylabel="share of front-end budget (%)")
    ax.legend()
    plt.show()


interact(draw, search=widgets.FloatSlider(value=0.4, min=0, max=1, step=0.05, description="search"),
         sns=widgets.FloatSlider(value=0.35, min=0, max=1, step=0.05, description="SNS content"))"""
            )
        ),
        new_markdown_cell("## Exercises"),
        *exercise(
            "ch8_q1", "**1.** What percentage had bought online and had it delivered in the last four weeks (A4)?"
        ),
        *exercise(
            "ch8_q2",
            "**2.** With the whole front-end budget on search ads, how many people a month are reached? "
            "Try `pf.monthly_reach({'search_ads': 1.0})`.",
        ),
        new_markdown_cell("**3.** The split that reaches the most people a month, on a 5% grid:"),
        new_code_cell(
            """\
grid = [(a / 20, b / 20) for a in range(21) for b in range(21 - a)]
best = max(grid, key=lambda ab: pf.monthly_reach({"search_ads": ab[0], "sns_content": ab[1], "influencer": 1 - ab[0] - ab[1]}))
best_mix = {"search_ads": best[0], "sns_content": best[1], "influencer": round(1 - best[0] - best[1], 2)}
print("best split:", best_mix, f"reach {pf.monthly_reach(best_mix):,.0f} people/month")
print(f"scenario split 40/35/25: reach {pf.monthly_reach(scenario.budget.channel_split['front']):,.0f} people/month")"""
        ),
    ]


def nb09() -> list:
    return [
        new_markdown_cell(
            header(
                9,
                "splitting_the_budget",
                "Splitting the budget",
                "The split of `budget.purpose_split` that maximizes NPV, in an early and a saturated market; "
                "the horizon and the budget as sliders.",
            )
        ),
        new_code_cell(SETUP),
        new_markdown_cell("## The chapter's figures"),
        *figures_cells(
            [
                "ch9_npv_front30_d2c",
                "ch9_best_front_d2c",
                "ch9_best_npv_d2c",
                "ch9_npv_front30_saturated",
                "ch9_best_front_saturated",
                "ch9_best_npv_saturated",
                "ch9_npv_front90_saturated",
            ]
        ),
        new_markdown_cell("## NPV against the front-end share"),
        new_code_cell(
            """\
def plot_sweeps(sweeps, title):
    fig, ax = plt.subplots()
    for label, table in sweeps.items():
        ax.plot(table["front_share"] * 100, table["npv"] / 1e6, "o-", label=label)
        best = table.loc[table["npv"].idxmax()]
        ax.plot(best["front_share"] * 100, best["npv"] / 1e6, "k*", ms=12)
    ax.set(title=title, xlabel="front-end share of budget (%), win-back 5%, back-end the rest",
           ylabel="NPV of contribution (million KRW)")
    ax.legend(title="market (star = best)")
    plt.show()


sweeps = {kind: pf.split_sweep(kind) for kind in ("d2c", "saturated")}
plot_sweeps(sweeps, "The best split depends on the market")
for kind, table in sweeps.items():
    print(kind)
    print(table.assign(npv=(table["npv"] / 1e6).round(1)).round(3).to_string(index=False))"""
        ),
        new_markdown_cell(
            "## Play\n\nThe market, the horizon and the monthly budget. Each move runs five plans with the fast engine."
        ),
        new_code_cell(
            widget_cell(
                """\
def draw(kind="d2c", months=24, budget_million=2.4):
    extra = {"simulation.horizon_months": months, "budget.totals": budget_million * 1e6}
    shares = pf.FRONT_SHARES
    rows = pf.sweep(kind, [{**extra, **pf.split(f, round(0.95 - f, 6), 0.05)} for f in shares])
    table = pd.DataFrame({"front_share": shares, "npv": [r["npv"] for r in rows]})
    plot_sweeps({f"{kind}, {months} months, {budget_million:.1f}M KRW/month": table}, "Your market, horizon and budget")


interact(draw, kind=widgets.Dropdown(options=["d2c", "saturated"], description="market"),
         months=widgets.IntSlider(value=24, min=12, max=36, step=6, description="months"),
         budget_million=widgets.FloatSlider(value=2.4, min=1.0, max=6.0, step=0.2, description="budget (M KRW)"))"""
            )
        ),
        new_markdown_cell("## Exercises"),
        *exercise(
            "ch9_q1", "**1.** In the saturated market, which front-end share gave the highest NPV? Answer as a share."
        ),
        *exercise("ch9_q2", "**2.** CLV 91,300 KRW and CAC 22,100 KRW: LTV:CAC, two decimals?"),
        new_markdown_cell("**3.** The early shop's sweep with a 12-month horizon:"),
        new_code_cell(
            """\
short = pf.sweep("d2c", [{"simulation.horizon_months": 12, **pf.split(f, round(0.95 - f, 6), 0.05)} for f in pf.FRONT_SHARES])
table12 = pd.DataFrame({"front_share": pf.FRONT_SHARES, "npv_12m": [r["npv"] / 1e6 for r in short]})
print(table12.round(2).to_string(index=False))
print("best front share, 12 months:", table12.loc[table12["npv_12m"].idxmax(), "front_share"])
print("best front share, 24 months:", sweeps["d2c"].loc[sweeps["d2c"]["npv"].idxmax(), "front_share"])"""
        ),
    ]


NOTEBOOKS = {
    "01_front_back_marketing": nb01,
    "02_customer_lifecycle": nb02,
    "03_measure_manage_improve": nb03,
    "04_before_the_sale": nb04,
    "05_after_the_sale": nb05,
    "06_loyal_customers": nb06,
    "07_remarketing_winback": nb07,
    "08_channels": nb08,
    "09_splitting_the_budget": nb09,
}


def build(name: str) -> Path:
    nb = new_notebook(cells=NOTEBOOKS[name]())
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    path = HERE / f"{name}.ipynb"
    nbformat.write(nb, path)
    if shutil.which("ruff"):  # the cells follow the repository's style, like every other Python file
        subprocess.run(["ruff", "format", "--quiet", str(path)], check=True)
    return path


def execute(path: Path, timeout: int = 180) -> float:
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    NotebookClient(nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(HERE)}}).execute()
    nbformat.write(nb, path)
    return time.perf_counter() - start


def main(argv: list[str]) -> int:
    run = "--no-run" not in argv
    wanted = [a for a in argv if not a.startswith("--")]
    names = [n for n in NOTEBOOKS if not wanted or any(n.startswith(w) for w in wanted)]
    for name in names:
        path = build(name)
        if run:
            print(f"{path.name}: executed in {execute(path):.1f} s", flush=True)
        else:
            print(f"{path.name}: written")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
