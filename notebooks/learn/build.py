"""Build the learning notebooks of the playbook, then execute them in place so they are stored with outputs.

    python notebooks/learn/build.py            # write and execute all nine
    python notebooks/learn/build.py 03 07      # only these
    python notebooks/learn/build.py --no-run   # write without executing

Every notebook has the same shape: a Markdown "how to use this notebook" for readers who do not program
(with links to the chapter in both languages), a `parameters` cell with `lang` (None: the environment
variable SIM_LANG, which `python -m sim lab --lang ko` sets, else "en"), a setup cell, the key figures of
the chapter printed by a cell that nbval checks (`# NBVAL_CHECK_OUTPUT`), a static plot for fixed lever
values (it reads well without a kernel), the same plot behind ipywidgets sliders, and every exercise of the
chapter: its question (the chapter's own, in the notebook's language), a check cell that reads answers as
people write them, and the chapter's solution behind a button.

Texts in two languages live in code cells with hidden input, `say(en=..., ko=...)`, so that one notebook
switches language with its `lang` parameter; plot labels use `tr(en, ko)`. The stored outputs are the
English ones. The numbers come from `sim.learn.figures`, like the chapter's.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from sim.learn.exercises import chapter_exercises

HERE = Path(__file__).resolve().parent
CHECK = "# NBVAL_CHECK_OUTPUT\n"

TITLES = {
    1: ("Front-end and back-end marketing", "프론트엔드 마케팅과 백엔드 마케팅"),
    2: ("The customer lifecycle", "고객 생애주기"),
    3: ("Measure, manage, improve", "측정하고, 관리하고, 개선하기"),
    4: ("Before the sale", "판매 전"),
    5: ("After the sale", "판매 후"),
    6: ("Loyal customers", "충성고객"),
    7: ("Remarketing and win-back", "리마케팅과 윈백"),
    8: ("Channels", "채널"),
    9: ("Splitting the budget", "예산 나누기"),
}

PARAMETERS = (
    'lang = None  # "en" or "ko"; None: the SIM_LANG environment variable (python -m sim lab --lang ko), else "en"'
)

SETUP = """\
%matplotlib inline
import matplotlib.pyplot as plt
import pandas as pd

from sim.learn import exercises as ex  # noqa: F401  (the exercises' tables and grids)
from sim.learn import figures as pf
from sim.learn.exercises import check_answer, show_question, show_solution  # noqa: F401  (show_solution: for your own cells)
from sim.learn.notebook import count, figure_text, millions, money, percent, say, slider, tr, use_language  # noqa: F401

lang = use_language(lang)
try:  # the sliders need ipywidgets and a live kernel; the static plots above them do not
    import ipywidgets as widgets
    from ipywidgets import interact
except ImportError:
    widgets = interact = None
pd.set_option("display.width", 120)
pd.set_option("display.float_format", lambda x: f"{x:,.0f}" if abs(x) >= 1000 else f"{x:,.3f}")  # no 7.66e+07"""


def how_to(n: int, slug: str) -> str:
    """The opening Markdown cell, in both languages (it is read before any cell has run)."""
    en, ko = TITLES[n]
    chapter = f"../../playbook/{n:02d}_{slug}.md"
    chapter_ko = f"../../playbook/ko/{n:02d}_{slug}.md"
    return f"""\
# {n}. {en} · {ko}

Chapter: [{n}. {en}]({chapter}) · 장: [{n}. {ko}]({chapter_ko}) · [Index](../../playbook/README.md) · \
[목차](../../playbook/ko/README.md)

**How to use this notebook.** You need no programming.
1. Run everything: menu **Run → Run All Cells**. The first run takes a few seconds.
2. Under *Play*, move the sliders: the plot redraws after each move.
3. Exercises: in the cell under a question, type your answer after `answer =` (a number such as `20000`, \
`"2만"` or `"74%"`, or a word such as `"back"`) and press **Shift+Enter**. The cell tells you whether it is \
right, and **Show the solution** reveals the chapter's solution.
4. Language: `python -m sim lab --lang ko` opens the course in Korean; or set `lang = "ko"` in the first code \
cell and run all cells again.

**이 노트북 사용법.** 프로그래밍을 몰라도 됩니다.
1. 전체 실행: 메뉴 **Run → Run All Cells**를 누르세요. 처음에는 몇 초 걸립니다.
2. *직접 해 보기*에서 슬라이더를 움직이면 그래프가 다시 그려집니다.
3. 연습 문제: 문제 아래 셀의 `answer =` 뒤에 답을 적고(`20000`, `"2만"`, `"74%"` 같은 숫자나 `"백엔드"` 같은 \
말) **Shift+Enter**를 누르세요. 맞았는지 알려 주고, **풀이 보기**를 누르면 장의 풀이가 나옵니다.
4. 언어: `python -m sim lab --lang ko`로 열면 한국어로 나옵니다. 아니면 첫 코드 셀에서 `lang = "ko"`로 바꾸고 \
전체를 다시 실행하세요."""


def _literal(text: str) -> str:
    if '"""' in text or "\\" in text:
        raise ValueError(f"text cannot hold triple quotes or backslashes: {text[:60]!r}")
    return '"""' + text + '"""'


def hidden(cell):
    """Collapse a cell's input in JupyterLab: readers see only its output."""
    cell.metadata["jupyter"] = {"source_hidden": True}
    return cell


def text(en: str, ko: str):
    """A text in both languages: a code cell with hidden input that shows it in the notebook's language."""
    return hidden(new_code_cell(f"say(\n    en={_literal(en)},\n    ko={_literal(ko)},\n)"))


def figures_cells(names: list[str]) -> list:
    """Compute the chapter's figures in one cell (any warning lands there), print them in a checked one."""
    lines = ", ".join(f'"{n}"' for n in names)
    return [
        new_code_cell(f"figures = {{name: figure_text(name) for name in [{lines}]}}"),
        new_code_cell(CHECK + 'print("\\n".join(f"{name:36s} {value}" for name, value in figures.items()))'),
    ]


def exercise(key: str, placeholder: str = "None", example: str = "") -> list:
    """The chapter's question (hidden input) and the check cell with its solution button."""
    comment = f"  # your answer / 답{': ' + example if example else ''}"
    return [
        hidden(new_code_cell(f'show_question("{key}")')),
        new_code_cell(f'answer = {placeholder}{comment}\ncheck_answer("{key}", answer)'),
    ]


def widget_cell(body: str) -> str:
    return (
        "if interact is None:\n"
        '    print(tr("ipywidgets is not installed: use the static plot above.", '
        '"ipywidgets가 설치되어 있지 않습니다. 위의 정적 그래프를 보세요."))\nelse:\n'
        + "\n".join("    " + line if line else line for line in body.splitlines())
    )


def opening(n: int, slug: str, en: str, ko: str) -> list:
    """The cells every notebook starts with: how to use it, the parameters, the setup, the title."""
    params = new_code_cell(PARAMETERS)
    params.metadata["tags"] = ["parameters"]
    title_en, title_ko = TITLES[n]
    return [
        new_markdown_cell(how_to(n, slug)),
        params,
        new_code_cell(SETUP),
        text(f"## {n}. {title_en}\n\n{en}", f"## {n}. {title_ko}\n\n{ko}"),
    ]


EXERCISES_HEADING = text("## Exercises", "## 연습 문제")
PLAY = ("## Play", "## 직접 해 보기")
FIGURES = ("## The chapter's figures", "## 이 장의 숫자")


# -- the nine notebooks ------------------------------------------------------------------------------------


def nb01() -> list:
    return [
        *opening(
            1,
            "front_back_marketing",
            "Same channels, different purposes: we move budget between front-end (strangers) and back-end "
            "(customers) and watch new customers, CLV and contribution.",
            "채널은 그대로 두고 목적만 바꿉니다. 예산을 프론트엔드(낯선 사람)와 백엔드(이미 산 고객) 사이에서 옮기며 "
            "신규고객, CLV, 공헌이익이 어떻게 변하는지 봅니다.",
        ),
        text(
            FIGURES[0]
            + "\n\nTwo purpose splits over the same four channels (fast engine, expected values, 24 months). "
            "The cells below compute and print the figures the chapter quotes.",
            FIGURES[1]
            + "\n\n같은 네 채널에 목적별 배분만 다르게 한 두 계획입니다(빠른 엔진, 기댓값, 24개월). 아래 셀이 "
            "장에 나오는 숫자를 계산해 보여 줍니다.",
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
        text(
            "## From front-heavy to back-heavy\n\nThe front-end share runs from 30% to 95%; back-end gets the rest "
            "(no win-back). Nothing else changes: the channels, their response curves, the market.",
            "## 프론트엔드 중심에서 백엔드 중심으로\n\n프론트엔드 비중을 30%에서 95%까지 바꾸고 나머지는 백엔드에 줍니다"
            "(윈백 없음). 채널, 반응 곡선, 시장은 그대로입니다.",
        ),
        new_code_cell(
            """\
table = ex.ch1_table()  # front-end shares 0.3 ... 0.95, back-end the rest


def plot_split(table, mark=None):
    fig, (ax1, ax2) = plt.subplots(1, 2)
    ax1.plot(table.index * 100, table["new_customers"], "o-", label=tr("new customers", "신규고객"))
    ax1.set(title=tr("Customers won vs what each is worth", "얻은 고객 수와 한 명의 가치"),
            xlabel=tr("front-end share of budget (%)", "예산 중 프론트엔드 비중(%)"),
            ylabel=tr("new customers (people)", "신규고객(명)"))
    ax1b = ax1.twinx()
    ax1b.plot(table.index * 100, table["clv"] / 1000, "s--", color="tab:orange", label="CLV")
    ax1b.set_ylabel(tr("CLV (thousand KRW per customer)", "CLV(고객 1명당 천 원)"))
    ax1.legend(handles=ax1.lines + ax1b.lines, loc="lower center")
    ax2.plot(table.index * 100, table["cumulative_contribution"] / 1e6, "o-", color="tab:green",
             label=tr("contribution", "공헌이익"))
    ax2.set(title=tr("Contribution over 24 months", "24개월 누적 공헌이익"),
            xlabel=tr("front-end share of budget (%)", "예산 중 프론트엔드 비중(%)"),
            ylabel=tr("contribution (million KRW)", "공헌이익(백만 원)"))
    if mark is not None:
        ax2.axvline(mark * 100, color="grey", ls=":", label=tr("slider", "슬라이더"))
    ax2.legend()
    fig.tight_layout()
    return fig


plot_split(table)
plt.show()
print(table[["new_customers", "cac", "clv", "returning_revenue_share", "cumulative_contribution"]].round(2))"""
        ),
        text(
            PLAY[0] + "\n\nMove the front-end share (back-end gets the rest) and the monthly budget. The plot compares "
            "monthly revenue from new and returning customers with the scenario's own 75/20/5 plan.",
            PLAY[1] + "\n\n프론트엔드 비중(나머지는 백엔드)과 월 예산을 움직여 보세요. 그래프는 신규고객 매출과 재구매 "
            "고객 매출을 시나리오 원래 계획(75/20/5)과 비교합니다.",
        ),
        new_code_cell(
            widget_cell(
                """\
def draw(front_share=0.75, budget_million=2.4):
    plan = {"budget.totals": budget_million * 1e6, **pf.split(front_share, round(1 - front_share, 6))}
    mine, base = pf.sweep_results("d2c", [plan, {}])
    fig, ax = plt.subplots()
    for result, name, style in ((base, tr("scenario plan 75/20/5", "원래 계획 75/20/5"), "--"),
                                (mine, tr("your plan", "내 계획"), "-")):
        monthly = result.monthly()
        ax.plot(monthly.index, monthly["revenue_new"] / 1e6, style, color="tab:blue",
                label=tr(f"new customers, {name}", f"신규고객, {name}"))
        ax.plot(monthly.index, monthly["revenue_returning"] / 1e6, style, color="tab:orange",
                label=tr(f"returning, {name}", f"재구매 고객, {name}"))
    k = pf.compute_kpis(mine)
    ax.set(title=tr(f"Monthly revenue; your plan: CAC {money(k['cac'])}, CLV {money(k['clv'])}",
                    f"월 매출. 내 계획: CAC {money(k['cac'])}, CLV {money(k['clv'])}"),
           xlabel=tr("plan month", "계획 월"), ylabel=tr("revenue (million KRW per month)", "매출(월, 백만 원)"))
    ax.legend(fontsize=8)
    plt.show()


interact(draw, front_share=slider("front-end share", "프론트엔드 비중", 0.75, 0.3, 0.95, 0.05),
         budget_million=slider("monthly budget (million KRW)", "월 예산(백만 원)", 2.4, 1.0, 5.0, 0.2))"""
            )
        ),
        EXERCISES_HEADING,
        *exercise("ch1_q1", example='"front" / "back", "프론트엔드" / "백엔드"'),
        *exercise("ch1_q2", example="402"),
        *exercise("ch1_q3", example='"CLV"'),
    ]


def nb02() -> list:
    return [
        *opening(
            2,
            "customer_lifecycle",
            "Five stages (unaware, aware, customer, loyal, lapsed) and the four steps between them (acquisition, "
            "activation, retention, referral), in one seeded run of the agent engine.",
            "다섯 단계(미인지, 인지, 고객, 충성고객, 이탈)와 그 사이의 네 걸음(신규고객 확보, 첫 구매 유도, 리텐션, "
            "추천)을 에이전트 엔진의 한 번 실행(시드 고정)으로 봅니다.",
        ),
        text(FIGURES[0], FIGURES[1]),
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
        text(
            "## Where people are, month by month\n\nThe unaware stage dwarfs the others, so the left plot shows it "
            "alone and the right plot the four stages of people who have met the brand.",
            "## 사람들이 달마다 어느 단계에 있는가\n\n미인지 단계가 다른 단계보다 훨씬 크므로 왼쪽 그래프에는 미인지만, "
            "오른쪽 그래프에는 브랜드를 만난 사람의 네 단계를 그립니다.",
        ),
        new_code_cell(
            """\
STAGES = ["unaware", "aware", "customer", "loyal", "lapsed"]
STAGE_NAMES = {"unaware": tr("unaware", "미인지"), "aware": tr("aware", "인지"), "customer": tr("customer", "고객"),
               "loyal": tr("loyal", "충성고객"), "lapsed": tr("lapsed", "이탈")}


def month_ends(result):  # people in each stage at the end of each plan month
    return result.monthly()[STAGES]


def plot_stages(result, title):
    monthly = month_ends(result)
    months = range(1, len(monthly) + 1)
    fig, (ax1, ax2) = plt.subplots(1, 2)
    ax1.plot(months, monthly["unaware"], label=STAGE_NAMES["unaware"])
    ax1.set(title=tr("Never met the brand", "브랜드를 만난 적 없음"), xlabel=tr("plan month", "계획 월"),
            ylabel=tr("people", "사람(명)"))
    ax1.legend()
    for stage in STAGES[1:]:
        ax2.plot(months, monthly[stage], label=STAGE_NAMES[stage])
    ax2.set(title=title, xlabel=tr("plan month", "계획 월"), ylabel=tr("people", "사람(명)"))
    ax2.legend()
    fig.tight_layout()


plot_stages(pf.base_run(), tr("Met the brand (agent engine, seed 7)", "브랜드를 만난 사람(에이전트 엔진, 시드 7)"))
plt.show()"""
        ),
        text(
            "## The effect of word of mouth\n\nThe unaware curve for three referral rates (contacts per loyal "
            "customer a month; fast engine).",
            "## 입소문의 효과\n\n추천 강도(충성고객 한 명이 한 달에 브랜드를 알리는 사람 수) 세 가지에 따른 미인지 "
            "곡선입니다(빠른 엔진).",
        ),
        new_code_cell(
            """\
fig, ax = plt.subplots()
for rate, result in zip(ex.REFERRAL_RATES_CH2, ex.ch2_unaware_runs(), strict=True):
    monthly = month_ends(result)["unaware"]
    ax.plot(range(1, len(monthly) + 1), monthly / 1000,
            label=tr(f"{rate} contacts per loyal customer a month", f"충성고객 1명이 한 달에 {rate}명"))
ax.set(title=tr("Word of mouth compounds", "입소문은 복리로 쌓입니다"), xlabel=tr("plan month", "계획 월"),
       ylabel=tr("unaware people (thousands)", "미인지(천 명)"))
ax.legend()
plt.show()"""
        ),
        text(
            PLAY[0] + "\n\nWord of mouth (`referral.contacts_per_loyal_per_month`), forgetting "
            "(`first_purchase.forgetting_per_month`) and the step to loyal after a satisfied order "
            "(`loyalty.step_probability_satisfied`). These runs use the fast engine (expected values).",
            PLAY[1]
            + "\n\n입소문(`referral.contacts_per_loyal_per_month`), 잊힘(`first_purchase.forgetting_per_month`), "
            "만족한 주문 뒤 충성고객이 될 확률(`loyalty.step_probability_satisfied`)을 바꿔 보세요. 빠른 엔진의 기댓값으로 "
            "계산합니다.",
        ),
        new_code_cell(
            widget_cell(
                """\
def draw(referrals=0.35, forgetting=0.08, step_loyal=0.12):
    result = pf.run("d2c", {"referral.contacts_per_loyal_per_month": referrals,
                            "first_purchase.forgetting_per_month": forgetting,
                            "loyalty.step_probability_satisfied": step_loyal})
    plot_stages(result, tr("Met the brand (fast engine, your levers)", "브랜드를 만난 사람(빠른 엔진, 내 설정)"))
    plt.show()


interact(draw,
         referrals=slider("referrals per loyal customer a month", "충성고객 1명의 월 추천 인원", 0.35, 0, 2, 0.05),
         forgetting=slider("forgetting a month", "월 잊힘 비율", 0.08, 0.01, 0.3, 0.01),
         step_loyal=slider("step to loyal after a satisfied order", "만족 주문 뒤 충성고객 전환 확률", 0.12, 0, 0.5, 0.02))"""
            )
        ),
        EXERCISES_HEADING,
        *exercise("ch2_q1", example='"activation" / "첫 구매 유도"'),
        *exercise("ch2_q2", example="2,000"),
        *exercise("ch2_q3", example='"faster" / "더 빨리"'),
    ]


def nb03() -> list:
    return [
        *opening(
            3,
            "measure_manage_improve",
            "An order log is all a consultant gets at first. We read the KPIs out of the one the agent engine "
            "writes, and check them against the simulator's own.",
            "컨설턴트가 처음 받는 것은 주문 기록 하나뿐입니다. 에이전트 엔진이 쓴 주문 기록에서 KPI를 읽어 내고, "
            "시뮬레이터가 직접 계산한 값과 맞춰 봅니다.",
        ),
        text(
            "## The order log\n\nThe same columns as `orders.csv`, as a shop exports them.",
            "## 주문 기록\n\n쇼핑몰이 내보내는 것과 같은 열(`orders.csv`)입니다.",
        ),
        new_code_cell("orders = pf.base_run().orders\norders.head(8)"),
        text(
            "## The chapter's figures: from the log, and from the simulator",
            "## 이 장의 숫자: 주문 기록에서, 그리고 시뮬레이터에서",
        ),
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
        text(
            "The log figures come from a few lines of pandas (`pf.order_log_kpis`). For example, the returning "
            "revenue share:",
            "주문 기록의 숫자는 pandas 몇 줄(`pf.order_log_kpis`)로 나옵니다. 예를 들어 재구매 고객 매출 비중은 "
            "이렇게 구합니다.",
        ),
        new_code_cell(
            """\
returning = orders["order_number"] > 1
share = orders.loc[returning, "amount"].sum() / orders["amount"].sum()
print(tr(f"returning revenue share from the log: {share:.1%}", f"주문 기록의 재구매 고객 매출 비중: {share:.1%}"))"""
        ),
        text("## New and repeat orders by month", "## 달마다 첫 주문과 재구매 주문"),
        new_code_cell(
            """\
o = orders.assign(month=pd.to_datetime(orders["order_date"]).dt.to_period("M").dt.to_timestamp())
by_month = o.groupby(["month", o["order_number"] > 1])["amount"].sum().unstack(fill_value=0) / 1e6
by_month.columns = [tr("first orders", "첫 주문"), tr("repeat orders", "재구매 주문")]
ax = by_month.plot.area(alpha=0.7)
ax.set(title=tr("Revenue by month from the order log", "주문 기록으로 본 월 매출"), xlabel=tr("month", "월"),
       ylabel=tr("revenue (million KRW)", "매출(백만 원)"))
ax.legend(title=tr("order", "주문"))
plt.show()"""
        ),
        text(
            "## Play: silent is not lapsed\n\nA common shortcut calls a customer *lapsed* after N days without an "
            "order. The simulator knows who really lapsed. Move N and compare.",
            "## 직접 해 보기: 조용하다고 떠난 것은 아닙니다\n\nN일 동안 주문이 없으면 *이탈*로 보는 지름길이 흔히 "
            "쓰입니다. 시뮬레이터는 누가 정말 떠났는지 압니다. N을 움직여 비교해 보세요.",
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
    ax.plot(range(30, 361, 30), np.array(shares) * 100, "o-", label=tr("silent longer than N days", "N일 넘게 주문 없음"))
    ax.axhline(true_share * 100, color="tab:red", ls="--", label=tr("truly lapsed (simulator)", "실제 이탈(시뮬레이터)"))
    ax.axvline(days, color="grey", ls=":", label=f"N = {days}")
    ax.set(title=tr("Customers silent for N days vs customers who have left", "N일 동안 조용한 고객과 실제로 떠난 고객"),
           xlabel=tr("N (days without an order)", "N(주문 없는 날 수)"),
           ylabel=tr("share of customers who ever bought (%)", "한 번이라도 산 고객 중 비율(%)"))
    ax.legend()
    plt.show()


plot_silent(90)"""
        ),
        new_code_cell(
            widget_cell(
                'interact(plot_silent, days=slider("N (days without an order)", "N(주문 없는 날 수)", 90, 30, 360, 30))'
            )
        ),
        text(
            "## The returning revenue share by acquisition channel\n\nWhich channel brought the customers who came "
            "back most? (Exercise 3 asks you to read this table.)",
            "## 유입 채널별 재구매 고객 매출 비중\n\n어느 채널로 온 고객이 가장 많이 다시 샀을까요? (연습 문제 3에서 이 "
            "표를 읽습니다.)",
        ),
        new_code_cell("print((ex.channel_returning_shares() * 100).round(1).rename('%').to_string())"),
        EXERCISES_HEADING,
        *exercise("ch3_q1", example="1.50"),
        *exercise("ch3_q2", example='"2만 원" / 20000'),
        *exercise("ch3_q3", example='"search_ads"'),
    ]


def nb04() -> list:
    return [
        *opening(
            4,
            "before_the_sale",
            "The landing page turns attention into first orders: `first_purchase.landing_page_quality`, "
            "`offer_strength` and `forgetting_per_month` against conversion and CAC.",
            "상세페이지는 관심을 첫 주문으로 바꿉니다. `first_purchase.landing_page_quality`, `offer_strength`, "
            "`forgetting_per_month`가 전환율과 CAC를 어떻게 바꾸는지 봅니다.",
        ),
        text(FIGURES[0], FIGURES[1]),
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
        text(
            "## Landing-page quality from 0.6 to 1.6\n\nThe same budget and reach; only the page changes.",
            "## 상세페이지 품질 0.6에서 1.6까지\n\n예산과 도달은 같고 페이지만 바뀝니다.",
        ),
        new_code_cell(
            """\
table = ex.ch4_table()  # landing_page_quality 0.6, 0.7, ..., 1.6


def plot_quality(table, mark=None):
    fig, ax = plt.subplots()
    ax.plot(table.index, table["first_purchase_conversion"] * 100, "o-",
            label=tr("first-purchase conversion", "첫 구매 전환율"))
    ax.set(title=tr("A better page converts more of the same attention", "좋은 페이지는 같은 관심을 더 많이 주문으로 바꿉니다"),
           xlabel=tr("landing_page_quality (1 = typical)", "landing_page_quality(1 = 보통)"),
           ylabel=tr("first-purchase conversion (%)", "첫 구매 전환율(%)"))
    ax2 = ax.twinx()
    ax2.plot(table.index, table["cac"] / 1000, "s--", color="tab:red", label="CAC")
    ax2.set_ylabel(tr("CAC (thousand KRW)", "CAC(천 원)"))
    if mark is not None:
        ax.axvline(mark, color="grey", ls=":")
    ax.legend(handles=ax.lines + ax2.lines, loc="upper center")
    plt.show()


plot_quality(table)
print(table[["first_purchase_conversion", "new_customers", "cac"]].round(3).to_string())"""
        ),
        text(PLAY[0], PLAY[1]),
        new_code_cell(
            widget_cell(
                """\
def draw(quality=1.0, offer=1.0, forgetting=0.08):
    k = pf.kpis("d2c", {"first_purchase.landing_page_quality": quality, "first_purchase.offer_strength": offer,
                        "first_purchase.forgetting_per_month": forgetting})
    base = pf.kpis("d2c")
    fig, axes = plt.subplots(1, 3, figsize=(10, 3.5))
    panels = [("first_purchase_conversion", tr("first-purchase conversion", "첫 구매 전환율"), "%", 100),
              ("new_customers", tr("new customers", "신규고객"), tr("people", "명"), 1),
              ("cac", "CAC", tr("KRW", "원"), 1)]
    for ax, (name, title, unit, scale) in zip(axes, panels, strict=True):
        ax.bar([tr("scenario", "시나리오"), tr("yours", "내 설정")], [base[name] * scale, k[name] * scale],
               color=["grey", "tab:blue"], label=title)
        ax.set(title=title, xlabel=tr("plan", "계획"), ylabel=unit)
        ax.legend(fontsize=7)
    fig.suptitle(tr("Your page and offer against the scenario's", "내 페이지와 제안을 시나리오와 비교"))
    fig.tight_layout()
    plt.show()


interact(draw, quality=slider("landing-page quality", "상세페이지 품질", 1.0, 0.5, 2.0, 0.05),
         offer=slider("offer strength", "제안의 매력", 1.0, 0.5, 2.0, 0.05),
         forgetting=slider("forgetting a month", "월 잊힘 비율", 0.08, 0.01, 0.3, 0.01))"""
            )
        ),
        EXERCISES_HEADING,
        *exercise("ch4_q1", example='"1.5%"'),
        *exercise("ch4_q2", example='"yes" / "예"'),
        *exercise("ch4_q3", example="1.4"),
    ]


def nb05() -> list:
    return [
        *opening(
            5,
            "after_the_sale",
            "Predictable expectations (`experience.reliability`), satisfaction (proactive messages) and delight "
            "(`experience.delight_coverage`): what each costs per order and what it returns.",
            "예측 가능한 기대(`experience.reliability`), 만족(선제 안내 메시지), 감동(`experience.delight_coverage`)이 "
            "주문마다 얼마나 들고 무엇을 돌려주는지 봅니다.",
        ),
        text(FIGURES[0], FIGURES[1]),
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
        text("## Reliability and delight, one at a time", "## 신뢰도와 감동, 하나씩"),
        new_code_cell(
            """\
REL = [0.8, 0.85, 0.9, 0.95, 0.99]
DEL = [0.0, 0.2, 0.4, 0.6, 0.8]
rel = pd.DataFrame(pf.sweep("d2c", [{"experience.reliability": r} for r in REL]), index=REL)
dlt = pd.DataFrame(pf.sweep("d2c", [{"experience.delight_coverage": d} for d in DEL]), index=DEL)

fig, (ax1, ax2) = plt.subplots(1, 2)
ax1.plot(rel.index * 100, rel["cumulative_contribution"] / 1e6, "o-", label=tr("contribution", "공헌이익"))
ax1.set(title=tr("Reliability", "신뢰도"), xlabel=tr("orders meeting expectations (%)", "기대를 채운 주문(%)"),
        ylabel=tr("contribution, 24 months (million KRW)", "24개월 공헌이익(백만 원)"))
ax1.legend()
ax2.plot(dlt.index * 100, dlt["cumulative_contribution"] / 1e6, "o-", color="tab:green", label=tr("contribution", "공헌이익"))
ax2b = ax2.twinx()
ax2b.plot(dlt.index * 100, dlt["loyal_customers_end"], "s--", color="tab:purple", label=tr("loyal at the end", "마지막 달 충성고객"))
ax2b.set_ylabel(tr("loyal customers (people)", "충성고객(명)"))
ax2.set(title=tr("Delight (surprise in the box)", "감동(상자 속 작은 선물)"), xlabel=tr("orders with a surprise (%)", "선물이 든 주문(%)"),
        ylabel=tr("contribution (million KRW)", "공헌이익(백만 원)"))
ax2.legend(handles=ax2.lines + ax2b.lines, loc="upper left")
fig.tight_layout()
plt.show()
print(rel[["dissatisfied_share", "retention_12m", "loyal_customers_end"]].round(3))"""
        ),
        text(
            "## Fulfilment capacity against dissatisfied orders\n\nThe fulfilment team ships at most so many orders "
            "a day; orders beyond it wait, and waiting orders risk their expectations. (Exercise 3 reads this table.)",
            "## 출고 처리 능력과 불만족 주문\n\n출고 팀은 하루에 정해진 수만큼만 보낼 수 있습니다. 넘치는 주문은 기다리고, "
            "기다리는 주문은 기대를 저버릴 위험이 커집니다. (연습 문제 3에서 이 표를 읽습니다.)",
        ),
        new_code_cell(
            """\
cap = ex.ch5_capacity_table()  # capacities 40, 30, 25, 20, 17, 15, 10 orders a day
print(tr("orders a day in the last month of the base run:", "기본 실행 마지막 달의 하루 주문 수:"),
      figure_text("ch5_orders_per_day_last_month"))
print((cap["dissatisfied_share"] * 100).round(1).rename(tr("dissatisfied %", "불만족 %")).to_string())"""
        ),
        text(
            PLAY[0] + "\n\nAll the experience levers and the fulfilment team's capacity (orders a day).",
            PLAY[1] + "\n\n고객 경험의 모든 레버와 출고 팀의 처리 능력(하루 주문 수)을 바꿔 보세요.",
        ),
        new_code_cell(
            widget_cell(
                """\
def draw(reliability=0.95, proactive=1.0, delight=0.2, capacity=40):
    k = pf.kpis("d2c", {"experience.reliability": reliability, "experience.proactive_coverage": proactive,
                        "experience.delight_coverage": delight, "operations.fulfilment_capacity_per_day": capacity})
    base = pf.kpis("d2c")
    panels = [("dissatisfied_share", tr("dissatisfied orders", "불만족 주문"), "%", 100),
              ("loyal_customers_end", tr("loyal customers at the end", "마지막 달 충성고객"), tr("people", "명"), 1),
              ("cumulative_contribution", tr("contribution", "공헌이익"), tr("million KRW", "백만 원"), 1e-6)]
    fig, axes = plt.subplots(1, 3, figsize=(10, 3.5))
    for ax, (name, title, unit, scale) in zip(axes, panels, strict=True):
        ax.bar([tr("scenario", "시나리오"), tr("yours", "내 설정")], [base[name] * scale, k[name] * scale],
               color=["grey", "tab:blue"], label=title)
        ax.set(title=title, xlabel=tr("plan", "계획"), ylabel=unit)
        ax.legend(fontsize=7)
    fig.suptitle(tr("Your experience levers against the scenario's", "내 고객 경험 설정을 시나리오와 비교"))
    fig.tight_layout()
    plt.show()


interact(draw, reliability=slider("reliability (orders as expected)", "신뢰도(기대대로 간 주문)", 0.95, 0.7, 1.0, 0.01),
         proactive=slider("proactive messages (share of orders)", "선제 안내(주문 중 비율)", 1.0, 0, 1, 0.1),
         delight=slider("delight (share of orders)", "감동 선물(주문 중 비율)", 0.2, 0, 1, 0.05),
         capacity=slider("fulfilment capacity (orders a day)", "출고 처리 능력(하루 주문 수)", 40, 5, 60, 1))"""
            )
        ),
        EXERCISES_HEADING,
        *exercise("ch5_q1", example='"1,000원"'),
        *exercise("ch5_q2", example='"10%"'),
        *exercise("ch5_q3", example="30"),
    ]


def nb06() -> list:
    return [
        *opening(
            6,
            "loyal_customers",
            "First-party data (`retention.first_party_data_share`) and privacy limits "
            "(`retention.targeting_precision`) decide how much of the back-end budget works; CRM segments come from "
            "the order log.",
            "자사 데이터(`retention.first_party_data_share`)와 개인정보 보호의 제약(`retention.targeting_precision`)이 "
            "백엔드 예산이 얼마나 제 몫을 하는지 정합니다. CRM 고객군은 주문 기록에서 나옵니다.",
        ),
        text(FIGURES[0], FIGURES[1]),
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
        text(
            "## Data share, at two back-end budgets\n\nThe back-end share is 20% (the scenario) or 40% (taken from "
            "front-end); win-back stays at 5%.",
            "## 두 가지 백엔드 예산에서 본 자사 데이터 비중\n\n백엔드 비중은 20%(시나리오) 또는 40%(프론트엔드에서 "
            "가져옴)이고 윈백은 5%로 둡니다.",
        ),
        new_code_cell(
            """\
curves = ex.ch6_curves()  # data shares 0.1 ... 1.0 at back-end shares 20% and 40%

fig, ax = plt.subplots()
for back, table in curves.items():
    ax.plot(table.index * 100, table["cumulative_contribution"] / 1e6, "o-",
            label=tr(f"back-end share {back:.0%}", f"백엔드 비중 {back:.0%}"))
ax.set(title=tr("What first-party data is worth", "자사 데이터의 가치"),
       xlabel=tr("customers whose data the shop holds (%)", "데이터를 가진 고객 비율(%)"),
       ylabel=tr("contribution, 24 months (million KRW)", "24개월 공헌이익(백만 원)"))
ax.legend()
plt.show()
for back, table in curves.items():
    gain = table["cumulative_contribution"].iloc[-1] - table["cumulative_contribution"].iloc[0]
    print(tr(f"gain from 10% to 100% data at back-end share {back:.0%}: {millions(gain)}",
             f"백엔드 비중 {back:.0%}에서 데이터 10%→100%의 이익 증가: {millions(gain)}"))"""
        ),
        text("## CRM segments from the order log", "## 주문 기록으로 나눈 CRM 고객군"),
        new_code_cell(
            """\
SEGMENT_NAMES = {"one-time, recent": tr("one-time, recent", "한 번 구매·최근"),
                 "one-time, hesitating": tr("one-time, hesitating", "한 번 구매·망설임"),
                 "repeat, active": tr("repeat, active", "반복 구매·활동 중"),
                 "repeat, at risk": tr("repeat, at risk", "반복 구매·이탈 우려")}
orders = pf.base_run().orders
end = str(pf.base_run().daily.index[-1].date())
seg = pf.segments(orders, end).rename(SEGMENT_NAMES)
ax = seg.plot.barh(color=["tab:blue", "tab:orange", "tab:green", "tab:red"], label=tr("customers", "고객"))
ax.set(title=tr("CRM segments at the end of month 24 (quiet = 90 days without an order)",
                "24개월째 말의 CRM 고객군(조용함 = 90일 동안 주문 없음)"),
       xlabel=tr("customers (people)", "고객(명)"), ylabel=tr("segment", "고객군"))
ax.legend()
plt.show()"""
        ),
        text(PLAY[0], PLAY[1]),
        new_code_cell(
            widget_cell(
                """\
def draw(data_share=0.9, precision=0.85, back_share=0.2):
    plan = {"retention.first_party_data_share": data_share, "retention.targeting_precision": precision,
            **pf.split(round(0.95 - back_share, 6), back_share, 0.05)}
    k, base = pf.kpis("d2c", plan), pf.kpis("d2c")
    panels = [("repeat_purchase_rate", tr("repeat-purchase rate", "재구매율"), "%", 100),
              ("clv", "CLV", tr("KRW", "원"), 1),
              ("cumulative_contribution", tr("contribution", "공헌이익"), tr("million KRW", "백만 원"), 1e-6)]
    fig, axes = plt.subplots(1, 3, figsize=(10, 3.5))
    for ax, (name, title, unit, scale) in zip(axes, panels, strict=True):
        ax.bar([tr("scenario", "시나리오"), tr("yours", "내 설정")], [base[name] * scale, k[name] * scale],
               color=["grey", "tab:blue"], label=title)
        ax.set(title=title, xlabel=tr("plan", "계획"), ylabel=unit)
        ax.legend(fontsize=7)
    fig.suptitle(tr("Data, privacy and back-end budget against the scenario's", "데이터, 개인정보 제약, 백엔드 예산을 시나리오와 비교"))
    fig.tight_layout()
    plt.show()


interact(draw, data_share=slider("first-party data share", "자사 데이터 비중", 0.9, 0, 1, 0.05),
         precision=slider("targeting precision", "타기팅 정밀도", 0.85, 0.2, 1, 0.05),
         back_share=slider("back-end share of budget", "예산 중 백엔드 비중", 0.2, 0, 0.6, 0.05))"""
            )
        ),
        EXERCISES_HEADING,
        *exercise("ch6_q1", example="0.5"),
        *exercise("ch6_q2", example='"repeat, active" / "반복 구매·활동 중"'),
        *exercise("ch6_q3", example='"grows" / "커진다"'),
    ]


def nb07() -> list:
    return [
        *opening(
            7,
            "remarketing_winback",
            "Marginal ROI of front-end, back-end and win-back spend in an early and a saturated market, and what "
            "market saturation does to each.",
            "초기 시장과 포화 시장에서 프론트엔드, 백엔드, 윈백 지출의 한계 ROI를 비교하고, 시장 포화가 각각을 어떻게 "
            "바꾸는지 봅니다.",
        ),
        text(FIGURES[0], FIGURES[1]),
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
        text(
            "## From an early to a saturated market\n\n`level` 0 is the early shop (the d2c learning scenario); 1 is "
            "the saturated one. In between, the people who already met the brand and the lapsed pile grow together. "
            "Nothing about the shop changes.",
            "## 초기 시장에서 포화 시장으로\n\n`level` 0은 초기 쇼핑몰(d2c 학습용 시나리오), 1은 포화된 쇼핑몰입니다. 그 "
            "사이에서는 브랜드를 이미 만난 사람과 이탈 고객이 함께 늘어납니다. 쇼핑몰 자체는 그대로입니다.",
        ),
        new_code_cell(
            """\
import numpy as np

market_state = pf.market_state  # level 0 = the early shop, 1 = the saturated shop
rois = pf.saturation_rois()
unaware = rois["unaware"]
PURPOSE_NAMES = {"front": tr("front-end", "프론트엔드"), "back": tr("back-end", "백엔드"), "winback": tr("win-back", "윈백")}


def plot_rois(rois, unaware, title):
    fig, ax = plt.subplots()
    for purpose, style in (("front", "o-"), ("back", "s-"), ("winback", "^-")):
        ax.plot(np.array(unaware) * 100, rois[purpose], style, label=PURPOSE_NAMES[purpose])
    ax.axhline(0, color="black", lw=0.8)
    ax.set(title=title, xlabel=tr("share of the market still unaware at the start (%)", "시작할 때 아직 미인지인 시장 비율(%)"),
           ylabel=tr("marginal ROI (extra contribution per extra KRW)", "한계 ROI(추가 1원당 추가 공헌이익)"))
    ax.invert_xaxis()
    ax.legend(title=tr("purpose of the extra spend", "추가 지출의 목적"))
    plt.show()


plot_rois(rois, unaware, tr("The next won's best use, as the market saturates", "시장이 포화될수록 다음 1원을 어디에 쓸까"))
print(rois.round(2).to_string())"""
        ),
        text(
            PLAY[0]
            + "\n\nMarket saturation, the comeback chance of a contacted lapser (`winback.base_reactivation`) and "
            "the cost of a win-back message (`channels.kakao_crm.winback_cost_per_contact`).",
            PLAY[1]
            + "\n\n시장 포화도, 연락받은 이탈 고객이 돌아올 확률(`winback.base_reactivation`), 윈백 메시지 한 통의 "
            "비용(`channels.kakao_crm.winback_cost_per_contact`)을 바꿔 보세요.",
        ),
        new_code_cell(
            widget_cell(
                """\
def draw(level=0.0, reactivation=0.04, cost=250):
    m = pf.marginal_many([pf.learning_scenario("d2c", market_state(level, reactivation, cost))])[0]
    fig, ax = plt.subplots()
    ax.bar([PURPOSE_NAMES[p] for p in m], list(m.values()), color=["tab:blue", "tab:orange", "tab:green"],
           label=tr("marginal ROI", "한계 ROI"))
    ax.axhline(0, color="black", lw=0.8)
    ax.set(title=tr(f"Marginal ROI at saturation level {level:.2f}", f"포화도 {level:.2f}에서의 한계 ROI"),
           xlabel=tr("purpose of the extra spend", "추가 지출의 목적"),
           ylabel=tr("extra contribution per extra KRW", "추가 1원당 추가 공헌이익"))
    ax.legend()
    plt.show()


interact(draw, level=slider("market saturation (0 early, 1 saturated)", "시장 포화도(0 초기, 1 포화)", 0.0, 0, 1, 0.05),
         reactivation=slider("comeback chance per contact", "연락 1회당 복귀 확률", 0.04, 0.005, 0.1, 0.005, fmt=".3f"),
         cost=slider("cost per win-back contact (KRW)", "윈백 연락 1회 비용(원)", 250, 20, 1500, 10))"""
            )
        ),
        EXERCISES_HEADING,
        *exercise("ch7_q1", example='"1만 원"'),
        *exercise("ch7_q2", example='"d2c" / "초기 시장"'),
        *exercise("ch7_q3", example='"yes" / "예"'),
    ]


def nb08() -> list:
    return [
        *opening(
            8,
            "channels",
            "Each channel has its own response curve (`channels.<id>.reach`); spreading the front-end budget over "
            "several works each on the steep part of its curve. Plus the survey figures of A4.",
            "채널마다 반응 곡선(`channels.<id>.reach`)이 다릅니다. 프론트엔드 예산을 여러 채널에 나누면 각 채널을 곡선의 "
            "가파른 구간에서 쓰게 됩니다. A4의 설문 수치도 함께 봅니다.",
        ),
        text(FIGURES[0], FIGURES[1]),
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
        text(
            "## How people shop (Ipsos survey, 16 countries, March-May 2022, cited in A4)\n\nThese are survey figures, "
            "not simulator output.",
            "## 사람들은 어떻게 쇼핑하는가(입소스 조사, 16개국, 2022년 3-5월, A4 인용)\n\n시뮬레이터의 결과가 아니라 "
            "설문 조사 수치입니다.",
        ),
        new_code_cell(
            """\
o2o = pd.Series({tr("bought online, delivered", "온라인 구매 후 배송"): 74,
                 tr("searched nearby stores online", "근처 매장을 온라인으로 검색"): 66,
                 tr("checked stock online before visiting", "방문 전 온라인으로 재고 확인"): 51,
                 tr("bought online, picked up", "온라인 구매 후 픽업"): 41})
channels_used = pd.Series({tr("online marketplace", "온라인 마켓플레이스"): 77, tr("retailer website", "소매업체 웹사이트"): 75,
                           tr("brand website", "브랜드 웹사이트"): 56, tr("social commerce", "소셜 커머스"): 39,
                           tr("quick commerce", "퀵 커머스"): 37, tr("livestream shopping", "라이브스트리밍 쇼핑"): 34,
                           tr("metaverse shopping", "메타버스 쇼핑"): 33, tr("voice shopping", "음성 쇼핑"): 32})
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
o2o.sort_values().plot.barh(ax=ax1, color="tab:blue", label=tr("last 4 weeks", "최근 4주"))
ax1.set(title=tr("Online-to-offline behaviour", "O2O 쇼핑 행동"), xlabel=tr("respondents (%)", "응답자(%)"), ylabel="")
ax1.legend()
channels_used.sort_values().plot.barh(ax=ax2, color="tab:orange", label=tr("last 6 months", "최근 6개월"))
ax2.set(title=tr("Digital commerce channels used", "이용한 디지털 커머스 채널"), xlabel=tr("respondents (%)", "응답자(%)"),
        ylabel="")
ax2.legend()
fig.tight_layout()
plt.show()"""
        ),
        text(
            "## The response curves of the learning scenario's front-end channels",
            "## 학습용 시나리오의 프론트엔드 채널 반응 곡선",
        ),
        new_code_cell(
            """\
import numpy as np

from sim.model import acquisition

scenario = pf.learning_scenario()
CHANNEL_NAMES = {"search_ads": tr("Search ads", "검색광고"), "sns_content": tr("SNS content", "SNS 콘텐츠"),
                 "influencer": tr("Influencer", "인플루언서")}
spend = np.linspace(0, 3e6, 61)
fig, ax = plt.subplots()
for name in ("search_ads", "sns_content", "influencer"):
    r = scenario.channels[name].reach
    ax.plot(spend / 1e6, acquisition.reach_per_month(spend, r.max_reach, r.half_saturation, r.shape, r.kind),
            label=CHANNEL_NAMES[name])
ax.axvline(1.8, color="grey", ls=":", label=tr("whole front-end budget", "프론트엔드 예산 전체"))
ax.set(title=tr("Diminishing returns in each channel", "채널마다 줄어드는 효과"),
       xlabel=tr("spend (million KRW per month)", "지출(월, 백만 원)"), ylabel=tr("people reached per month", "월 도달 인원(명)"))
ax.legend()
plt.show()"""
        ),
        text(
            "## Play: split the front-end budget over three channels\n\nInfluencer gets what search and SNS leave.",
            "## 직접 해 보기: 프론트엔드 예산을 세 채널에 나누기\n\n검색광고와 SNS가 쓰고 남은 몫은 인플루언서에 갑니다.",
        ),
        new_code_cell(
            widget_cell(
                """\
def draw(search=0.4, sns=0.35):
    influencer = max(0.0, 1.0 - search - sns)
    total = search + sns + influencer
    mix = {"search_ads": search / total, "sns_content": sns / total, "influencer": influencer / total}
    k = pf.kpis("d2c", {"budget.channel_split.front": {c: round(v, 6) for c, v in mix.items() if v > 0}})
    fig, ax = plt.subplots()
    ax.bar([CHANNEL_NAMES[c] for c in mix], [v * 100 for v in mix.values()], color="tab:blue",
           label=tr("share of front-end budget", "프론트엔드 예산 중 비중"))
    reach = pf.monthly_reach(mix)
    ax.set(title=tr(f"Reach {reach:,.0f} people/month, {k['new_customers']:,.0f} new customers, CAC {money(k['cac'])}",
                    f"월 도달 {reach:,.0f}명, 신규고객 {k['new_customers']:,.0f}명, CAC {money(k['cac'])}"),
           xlabel=tr("channel", "채널"), ylabel=tr("share of front-end budget (%)", "프론트엔드 예산 중 비중(%)"))
    ax.legend()
    plt.show()


interact(draw, search=slider("search ads share", "검색광고 비중", 0.4, 0, 1, 0.05),
         sns=slider("SNS content share", "SNS 콘텐츠 비중", 0.35, 0, 1, 0.05))"""
            )
        ),
        EXERCISES_HEADING,
        *exercise("ch8_q1", example='"50%"'),
        *exercise("ch8_q2", example="300"),
        *exercise("ch8_q3", example="900"),
        *(exercise("ch8_q4", example='"1, 2"') if 4 in chapter_exercises(8)[0] else []),
    ]


def nb09() -> list:
    compute, show = figures_cells(
        [
            "ch9_best_front_d2c",
            "ch9_flat_lo_d2c",
            "ch9_flat_hi_d2c",
            "ch9_best_front_saturated",
            "ch9_flat_lo_saturated",
            "ch9_flat_hi_saturated",
            "ch9_npv_current_d2c",
            "ch9_opt_npv_d2c",
            "ch9_opt_gain_d2c",
            "ch9_gain_timing_d2c",
            "ch9_npv_current_saturated",
            "ch9_opt_npv_saturated",
            "ch9_opt_gain_saturated",
            "ch9_path_d2c_q8_back",
            "ch9_path_d2c_12m_q3_front",
            "ch9_path_d2c_q3_front",
            "ch9_be_effect_high_d2c",
            "ch9_belief_majority_d2c",
        ]
    )
    return [
        *opening(
            9,
            "splitting_the_budget",
            "One split for the whole horizon, then the optimizer's plan per quarter (`sim optimize`): where its "
            "gain comes from, both plans side by side, the budget advice and what one must believe. The optimizer's "
            "runs come with the package (`sim.learn.cache`): reading them takes no time.",
            "먼저 기간 내내 같은 배분을 보고, 이어서 최적화기(`sim optimize`)의 분기별 계획을 봅니다. 증가분이 어디서 "
            "오는지, 두 계획의 비교, 예산 조언, 그리고 무엇을 믿어야 하는지까지 봅니다. 최적화기 실행 결과는 패키지에 "
            "들어 있어(`sim.learn.cache`) 바로 읽어 옵니다.",
        ),
        text(FIGURES[0], FIGURES[1]),
        compute,
        show,
        text(
            "## One split for two years\n\nThe front-end share held for all 24 months, in steps of 1% (win-back 5%, "
            "back-end the rest). The shaded band is the flat top: every share in it earns within 0.5% of the best "
            "NPV (the star); the cross is the current plan.",
            "## 2년 내내 같은 배분\n\n24개월 내내 같은 프론트엔드 비중을 1%씩 바꿔 봅니다(윈백 5%, 나머지 백엔드). 색칠한 "
            "띠가 평평한 꼭대기입니다. 그 안의 비중은 모두 최적(별표)과 NPV가 0.5%도 차이 나지 않습니다. X 표시는 현재 "
            "계획입니다.",
        ),
        new_code_cell(
            """\
from sim.learn import splitting as sp

MARKETS = {"d2c": tr("early market (d2c)", "초기 시장(d2c)"), "saturated": tr("saturated market", "포화 시장")}
PURPOSE_NAMES = {"front": tr("front-end", "프론트엔드"), "back": tr("back-end", "백엔드"), "winback": tr("win-back", "윈백")}
COLORS = {"front": "tab:blue", "back": "tab:orange", "winback": "tab:green"}


def plot_sweeps(sweeps, title):
    fig, ax = plt.subplots()
    for (label, table), color in zip(sweeps.items(), ("tab:blue", "tab:orange", "tab:green"), strict=False):
        lo, hi = sp.flat_region(table)
        best = sp.best_of(table)
        ax.plot(table["front_share"] * 100, table["npv"] / 1e6, "-", color=color, label=label)
        ax.axvspan(lo * 100, hi * 100, color=color, alpha=0.15)
        ax.plot(best["front_share"] * 100, best["npv"] / 1e6, "k*", ms=12)
        current = table.loc[(table["front_share"] - 0.75).abs().idxmin()]
        ax.plot(current["front_share"] * 100, current["npv"] / 1e6, "kx", ms=9)
    ax.set(title=title, xlabel=tr("front-end share of the budget (%), win-back 5%, back-end the rest",
                                  "예산 중 프론트엔드 비중(%), 윈백 5%, 나머지 백엔드"),
           ylabel=tr("NPV of contribution (million KRW)", "공헌이익의 NPV(백만 원)"))
    ax.legend(title=tr("band: within 0.5% of the best; star: best; x: current plan",
                       "띠: 최적과 0.5% 이내, 별표: 최적, X: 현재 계획"))
    plt.show()


sweeps = {kind: sp.split_sweep(kind) for kind in MARKETS}
plot_sweeps({MARKETS[k]: t for k, t in sweeps.items()},
            tr("One split for 24 months: a flat top, wide in the saturated market",
               "24개월 내내 같은 배분: 꼭대기가 평평하고, 포화 시장에서는 넓습니다"))
for kind, table in sweeps.items():
    print(MARKETS[kind])
    print(table.iloc[::5].assign(npv=(table["npv"] / 1e6).round(1)).to_string(index=False))"""
        ),
        text(
            "## The plan over time\n\nWhat `sim optimize --objective npv` recommends for each quarter (`sp.optimized`, "
            "the same run the chapter quotes).",
            "## 분기별 계획\n\n`sim optimize --objective npv`가 분기마다 추천하는 배분입니다(`sp.optimized`, 장에서 인용하는 "
            "것과 같은 실행).",
        ),
        new_code_cell(
            """\
plans = {kind: sp.optimized(kind) for kind in MARKETS}


def plot_path(ax, shares, title):
    bottom = 0
    for p in ("front", "back", "winback"):
        ax.bar(shares.index, shares[p] * 100, bottom=bottom, color=COLORS[p], label=PURPOSE_NAMES[p])
        bottom = bottom + shares[p] * 100
    ax.set(title=title, xlabel=tr("quarter", "분기"), ylabel=tr("share of the quarter's budget (%)", "분기 예산 중 비중(%)"))


fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
for ax, (kind, result) in zip(axes, plans.items(), strict=True):
    plot_path(ax, sp.path_shares(result), MARKETS[kind])
fig.legend(*axes[0].get_legend_handles_labels(), title=tr("purpose", "목적"), loc="center right")
fig.suptitle(tr("The recommended plan per quarter (24 months)", "분기별 추천안(24개월)"))
fig.tight_layout(rect=(0, 0, 0.88, 1))
plt.show()
for kind, result in plans.items():
    print(MARKETS[kind])
    print((sp.path_shares(result) * 100).round(1).to_string())"""
        ),
        text(
            "### The last quarters: a horizon effect\n\nThe same shop planned over 12 and over 24 months. Left: by "
            "calendar quarter. Right: by quarters left before the count stops. The tilt to back-end follows the end of "
            "the horizon, not the size of the customer base.",
            "### 마지막 분기들: 기간 효과\n\n같은 쇼핑몰을 12개월과 24개월로 계획했습니다. 왼쪽은 달력상의 분기, 오른쪽은 "
            "계산이 끝나기까지 남은 분기로 그렸습니다. 백엔드로 기우는 시점은 고객 기반의 크기가 아니라 기간의 끝을 "
            "따라갑니다.",
        ),
        new_code_cell(
            """\
horizons = {24: sp.path_shares(plans["d2c"]), 12: sp.path_shares(sp.optimized("d2c", 12, breakevens=False))}
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
for months, shares in horizons.items():
    label = tr(f"{months}-month plan", f"{months}개월 계획")
    ax1.plot(shares.index, shares["front"] * 100, "o-", label=label)
    ax2.plot(shares.index - len(shares), shares["front"] * 100, "o-", label=label)
ax1.set(title=tr("Front-end share by quarter", "분기별 프론트엔드 비중"), xlabel=tr("quarter", "분기"),
        ylabel=tr("front-end share of the quarter's budget (%)", "분기 예산 중 프론트엔드 비중(%)"))
ax2.set(title=tr("The same, by quarters left", "같은 값, 남은 분기 기준"),
        xlabel=tr("quarters before the end of the horizon", "기간 끝까지 남은 분기"), ylabel="")
ax1.legend()
ax2.legend()
fig.tight_layout()
plt.show()"""
        ),
        text(
            "## Where the gain comes from\n\nThe current plan changed one part at a time into the recommended one.",
            "## 증가분은 어디서 오는가\n\n현재 계획을 한 부분씩 추천안으로 바꿔 가며 각 부분이 보탠 만큼입니다.",
        ),
        new_code_cell(
            """\
PART_NAMES = {"budget_level": tr("budget level", "예산 규모"), "purpose_split": tr("purpose split", "목적별 배분"),
              "timing": tr("timing", "시기"), "channel_mix": tr("channel mix", "채널 구성")}
fig, axes = plt.subplots(1, 2, figsize=(11, 4))
for ax, (kind, result) in zip(axes, plans.items(), strict=True):
    parts = sp.gain_parts(result)
    start = result.current_value / 1e6
    ax.bar(0, start, color="grey", label=tr("current plan", "현재 계획"))
    level = start
    for i, value in enumerate(parts.values(), start=1):
        ax.bar(i, value / 1e6, bottom=level, color="tab:green" if value >= 0 else "tab:red")
        level += value / 1e6
    ax.bar(len(parts) + 1, result.recommended_value / 1e6, color="tab:blue", label=tr("recommended plan", "추천안"))
    ax.bar(0, 0, color="tab:green", label=tr("part that adds", "보태는 부분"))
    ax.bar(0, 0, color="tab:red", label=tr("part that takes away", "깎는 부분"))
    ax.set_xticks(range(len(parts) + 2), [tr("current", "현재"), *PART_NAMES.values(), tr("recommended", "추천안")],
                  rotation=30)
    ax.set_ylim(min(start, result.recommended_value / 1e6) * 0.9, max(start, level) * 1.03)
    ax.set(title=MARKETS[kind], xlabel=tr("part of the gain, one step at a time", "증가분의 부분(한 단계씩)"),
           ylabel=tr("NPV (million KRW)", "NPV(백만 원)"))
    ax.legend(loc="upper left")
fig.suptitle(tr("The gain over the current plan, in parts", "현재 계획 대비 증가분, 부분별로"))
fig.tight_layout()
plt.show()"""
        ),
        text(
            "## Both plans side by side\n\nKPIs of chapter 3 under each plan (fast engine, 24 months), and the "
            "marginal ROIs of chapter 7.",
            "## 두 계획을 나란히\n\n계획마다 3장의 KPI(빠른 엔진, 24개월)와 7장의 한계 ROI입니다.",
        ),
        new_code_cell(
            """\
KPI_ROWS = {"new_customers": (tr("new customers", "신규고객 수"), count), "cac": ("CAC", money), "clv": ("CLV", money),
            "ltv_cac": ("LTV:CAC", lambda x: f"{x:.2f}"), "retention_12m": (tr("12-month retention", "12개월 리텐션"), percent),
            "returning_revenue_share": (tr("returning revenue share", "재구매 고객 매출 비중"), percent),
            "customers_at_horizon": (tr("active customers at the horizon", "기간 말 활성 고객 수"), count),
            "npv": ("NPV", millions)}
PLAN_NAMES = {"current": tr("current", "현재"), "recommended": tr("recommended", "추천안")}
table = pd.DataFrame({f"{MARKETS[k]}: {PLAN_NAMES[plan]}": {label: write(r.kpis[plan][name])
                                                             for name, (label, write) in KPI_ROWS.items()}
                      for k, r in plans.items() for plan in PLAN_NAMES})
print(table.to_string())

fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
for ax, (kind, result) in zip(axes, plans.items(), strict=True):
    for i, plan in enumerate(PLAN_NAMES):
        rois = result.marginal_roi[plan]
        ax.bar([j + 0.4 * i for j in range(3)], [rois[p] for p in COLORS], width=0.4,
               color=["tab:grey", "tab:blue"][i], label=PLAN_NAMES[plan])
    ax.axhline(0, color="black", lw=0.8)
    ax.set_xticks([j + 0.2 for j in range(3)], [PURPOSE_NAMES[p] for p in COLORS])
    ax.set(title=MARKETS[kind], xlabel=tr("purpose", "목적"),
           ylabel=tr("extra contribution per extra won", "1원을 더 쓸 때 늘어나는 공헌이익(원)"))
    ax.legend(title=tr("plan", "계획"))
fig.suptitle(tr("Marginal ROI under each plan", "계획별 한계 ROI"))
fig.tight_layout()
plt.show()"""
        ),
        text(
            "## Budget advice\n\nWhere a won still earns more than the hurdle (0 here), how much more a month it can "
            "take; where it earns less, how much to cut.",
            "## 예산 조언\n\n1원이 아직 허들(여기서는 0)보다 많이 버는 곳은 한 달에 얼마를 더 써도 되는지, 덜 버는 곳은 "
            "얼마를 줄일지입니다.",
        ),
        new_code_cell(
            """\
for kind, result in plans.items():
    print(MARKETS[kind])
    for a in result.advice:
        name, change = PURPOSE_NAMES[a["purpose"]], money(a["amount_per_month"], step=10000)
        now = money(a["spend_per_month"], step=10000)
        said = {"raise": tr(f"raise by up to {change} a month", f"월 {change}까지 늘리기"),
                "cut": tr(f"cut by up to {change} a month", f"월 {change}까지 줄이기"),
                "hold": tr("hold", "그대로 두기")}[a["direction"]]
        print(tr(f"  {name}: spends {now} a month, marginal ROI {a['marginal_roi']:.2f} -> {said}",
                 f"  {name}: 월 {now} 지출, 한계 ROI {a['marginal_roi']:.2f} -> {said}"))"""
        ),
        text(
            "## What one must believe\n\nFor each input, the range of values (as multiples of the assumed one) over "
            "which the best split stays within 10 points of the recommendation; where a bar ends before the grey line "
            "does, the plan changes there (a break-even).",
            "## 무엇을 믿어야 하는가\n\n입력값마다, 최적 배분이 추천안에서 10%p 안에 머무는 범위(가정값의 몇 배인지)입니다. "
            "막대가 회색 선보다 먼저 끝나면 그 값에서 계획이 바뀝니다(분기점).",
        ),
        new_code_cell(
            """\
import numpy as np

BELIEF_NAMES = {"retention.effect": tr("back-end effects", "백엔드 효과"),
                "retention.half_saturation_per_customer": tr("back-end spend for half the effect", "효과 절반의 백엔드 지출"),
                "winback.base_reactivation": tr("win-back comeback chance", "윈백 복귀 확률"),
                "first_purchase.monthly_conversion": tr("monthly first-purchase chance", "월 첫 구매 확률"),
                "repeat_purchase.alpha": tr("alpha (lower: more orders)", "alpha(낮을수록 주문 많음)"),
                "repeat_purchase.b": tr("b (higher: customers stay longer)", "b(높을수록 오래 남음)"),
                "channels.reach.max_reach": tr("reach of ads", "광고 도달"),
                "economics.order_value_mean": tr("mean order value", "평균 주문 금액"),
                "economics.gross_margin": tr("gross margin", "매출총이익률")}
TIMES = (0.125, 0.25, 0.5, 1, 2, 4, 8)
fig, axes = plt.subplots(1, 2, figsize=(11, 4.8), sharey=True)
for ax, (kind, result) in zip(axes, plans.items(), strict=True):
    rows = result.breakevens.set_index("parameter")
    for y, (parameter, row) in enumerate(rows.iterrows()):
        base = row["base_value"]
        tried = (row["low_tried"] / base, row["high_tried"] / base)
        held = [sp.breakeven_multiple(result, parameter, side) for side in ("low", "high")]
        lo, hi = (tried[0] if np.isnan(held[0]) else held[0]), (tried[1] if np.isnan(held[1]) else held[1])
        ax.hlines(y, *tried, color="lightgrey", lw=2, label=tr("range tried", "시도한 범위") if y == 0 else None)
        ax.hlines(y, lo, hi, color="tab:blue", lw=7, label=tr("the plan holds", "계획이 유지되는 범위") if y == 0 else None)
    ax.axvline(1, color="black", ls=":", label=tr("assumed value", "가정값"))
    ax.set_xscale("log")
    ax.set_xticks(TIMES, [f"{t:g}" for t in TIMES])
    ax.minorticks_off()
    ax.set_yticks(range(len(rows)), [BELIEF_NAMES.get(p, p) for p in rows.index])
    ax.set(title=MARKETS[kind], xlabel=tr("input, times the assumed value (log scale)", "입력값, 가정값의 몇 배(로그 축)"),
           ylabel=tr("uncertain input", "불확실한 입력값") if ax is axes[0] else "")
fig.legend(*axes[0].get_legend_handles_labels(), loc="lower center", ncol=3)
fig.suptitle(tr("What one must believe for the plan to hold", "계획이 유지되려면 무엇을 믿어야 하는가"))
fig.tight_layout(rect=(0, 0.07, 1, 1))
plt.show()"""
        ),
        text(
            "### What would make back-end the larger share (source text A1)\n\nThe early shop's best single split when "
            "the back-end effects are several times the assumed ones (each capped at the largest value the scenario "
            "schema allows).",
            "### 백엔드가 더 큰 몫을 받으려면(원문 A1)\n\n백엔드 효과를 가정값의 몇 배로 키웠을 때(효과마다 시나리오 스키마가 "
            "허용하는 최댓값까지) 초기 쇼핑몰의 최적 단일 배분입니다.",
        ),
        new_code_cell(
            """\
fig, ax = plt.subplots()
belief = sp.backend_belief("d2c")  # the early shop: the one A1's advice is about
for p in ("front", "back"):
    ax.plot(belief["factor"], belief[f"{p}_share"] * 100, "o-", color=COLORS[p], label=PURPOSE_NAMES[p])
ax.axhline(50 * (1 - sp.WINBACK_SHARE), color="grey", ls=":", label=tr("back-end = front-end", "백엔드 = 프론트엔드"))
ax.set(title=tr(f"{MARKETS['d2c']}: best single split against the back-end effects",
                f"{MARKETS['d2c']}: 백엔드 효과에 따른 최적 단일 배분"),
       xlabel=tr("back-end effects, times the assumed ones", "백엔드 효과(가정값의 몇 배)"),
       ylabel=tr("share of the budget (%), win-back 5%", "예산 중 비중(%), 윈백 5%"))
ax.legend(title=tr("purpose", "목적"))
plt.show()
EFFECT_NAMES = {"purchase_rate_uplift_max": tr("purchase rate", "구매 빈도"),
                "dropout_reduction_max": tr("dropout", "이탈"), "order_value_uplift_max": tr("order value", "주문 금액")}
for factor in (1, belief.loc[belief["back_share"] > belief["front_share"], "factor"].min()):
    effects = pf.stronger_backend(factor)  # the three effects at full strength, capped by the schema
    said = ", ".join(f"{EFFECT_NAMES[k.split('.')[1]]} {'-' if 'dropout' in k else '+'}{v:.0%}" for k, v in effects.items())
    print(tr(f"back-end effects at {factor:g}x the assumed ones: {said}", f"가정값의 {factor:g}배일 때 백엔드 효과: {said}"))"""
        ),
        text(
            PLAY[0]
            + ": your own plan over time\n\nSet the early or the saturated shop's front-end share for each half-year "
            "(win-back 5%, back-end the rest) and try to come close to the optimizer. Each move is one fast-engine run.",
            PLAY[1]
            + ": 나만의 분기별 계획\n\n초기 또는 포화 쇼핑몰의 반기별 프론트엔드 비중을 정해 보세요(윈백 5%, 나머지 백엔드). "
            "최적화기에 얼마나 가까이 갈 수 있나요? 움직일 때마다 빠른 엔진을 한 번 돌립니다.",
        ),
        new_code_cell(
            widget_cell(
                """\
def draw(kind="d2c", h1=0.95, h2=0.95, h3=0.6, h4=0.1):
    mine = [h1, h2, h3, h4]
    value, result = sp.plan_value(kind, mine), plans[kind]
    months = np.arange(1, 25)
    recommended = sp.path_shares(result)["front"].to_numpy()[(months - 1) // 3]
    fig, ax = plt.subplots()
    ax.step(months, [100 * mine[(m - 1) // 6] for m in months], where="mid", label=tr("your plan", "내 계획"))
    ax.step(months, 100 * recommended, where="mid", ls="--", label=tr("recommended plan", "추천안"))
    ax.set(title=tr(f"{MARKETS[kind]}: NPV {millions(value)} (recommended {millions(result.recommended_value)}, "
                    f"current {millions(result.current_value)})",
                    f"{MARKETS[kind]}: NPV {millions(value)}(추천안 {millions(result.recommended_value)}, "
                    f"현재 {millions(result.current_value)})"),
           xlabel=tr("month", "개월"), ylabel=tr("front-end share of the budget (%)", "예산 중 프론트엔드 비중(%)"),
           ylim=(-5, 105))
    ax.legend()
    plt.show()


interact(draw, kind=widgets.Dropdown(options=[(MARKETS["d2c"], "d2c"), (MARKETS["saturated"], "saturated")],
                                     description=tr("market", "시장"), style={"description_width": "17em"},
                                     layout=widgets.Layout(width="40em")),
         h1=slider("front-end share, months 1-6", "프론트엔드 비중, 1-6개월", 0.95, 0, 0.95, 0.05),
         h2=slider("front-end share, months 7-12", "프론트엔드 비중, 7-12개월", 0.95, 0, 0.95, 0.05),
         h3=slider("front-end share, months 13-18", "프론트엔드 비중, 13-18개월", 0.6, 0, 0.95, 0.05),
         h4=slider("front-end share, months 19-24", "프론트엔드 비중, 19-24개월", 0.1, 0, 0.95, 0.05))"""
            )
        ),
        text(
            PLAY[0]
            + ": one split, your horizon and budget\n\nThe sweep of one split for the market, horizon and monthly "
            "budget you choose (about a second a move).",
            PLAY[1]
            + ": 단일 배분, 기간과 예산을 바꿔 가며\n\n고른 시장, 기간, 월 예산으로 단일 배분을 다시 탐색합니다(한 번 "
            "움직이는 데 1초 안팎).",
        ),
        new_code_cell(
            widget_cell(
                """\
def draw_sweep(kind="d2c", months=24, budget_million=2.4):
    table = sp.split_sweep(kind, months, round(budget_million * 1e6, 2))
    label = tr(f"{MARKETS[kind]}, {months} months, {budget_million:.1f}M KRW/month",
               f"{MARKETS[kind]}, {months}개월, 월 {budget_million * 100:,.0f}만 원")
    plot_sweeps({label: table}, tr("Your market, horizon and budget", "내가 고른 시장, 기간, 예산"))


interact(draw_sweep, kind=widgets.Dropdown(options=[(MARKETS["d2c"], "d2c"), (MARKETS["saturated"], "saturated")],
                                           description=tr("market", "시장"), style={"description_width": "17em"},
                                           layout=widgets.Layout(width="40em")),
         months=slider("horizon (months)", "기간(개월)", 24, 12, 36, 6),
         budget_million=slider("monthly budget (million KRW)", "월 예산(백만 원)", 2.4, 1.0, 6.0, 0.2))"""
            )
        ),
        EXERCISES_HEADING,
        *exercise("ch9_q1", example='0.45 / "45%"'),
        *exercise("ch9_q2", example="3.50"),
        text(
            "For exercise 3, move the horizon slider of the one-split sweep above to 12 months and compare the stars.",
            "연습 문제 3은 위의 단일 배분 탐색에서 기간 슬라이더를 12개월로 옮기고 별표를 비교해 보세요.",
        ),
        *exercise("ch9_q3", example='"up" / "올라간다"'),
        *exercise("ch9_q4", example='"channel mix" / "채널 구성"'),
        *exercise("ch9_q5", example='"hold" / "그대로 둔다"'),
        *exercise("ch9_q6", example="3"),
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


def write_notebook(cells: list, path: Path) -> Path:
    """Write a notebook (Python 3 kernel) and format its code cells like every other Python file."""
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    nbformat.write(nb, path)
    if shutil.which("ruff"):
        subprocess.run(["ruff", "format", "--quiet", str(path)], check=True)
    return path


def build(name: str) -> Path:
    return write_notebook(NOTEBOOKS[name](), HERE / f"{name}.ipynb")


def execute(path: Path, timeout: int = 90) -> float:
    """Run a notebook in place, in English (the stored outputs are the English ones), with widget state."""
    # timeout: no cell takes more than a few seconds; an `interact` cell sometimes leaves nbclient waiting
    # for a reply the kernel has sent (jupyter/nbclient#312), for the whole timeout, so it is kept short
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    saved = os.environ.get("SIM_LANG")
    os.environ["SIM_LANG"] = "en"
    try:
        NotebookClient(
            nb,
            timeout=timeout,
            kernel_name="python3",
            resources={"metadata": {"path": str(path.parent)}},
            shutdown_kernel="immediate",  # a graceful shutdown sometimes waits out the whole timeout
        ).execute()
    finally:
        if saved is None:
            os.environ.pop("SIM_LANG", None)
        else:
            os.environ["SIM_LANG"] = saved
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
