"""Time in the model: seasons, promotions that hit capacity, and plans whose split changes over time.

Mechanisms, in both engines: a promotion that pushes daily orders beyond fulfilment capacity raises delays,
dissatisfied orders and later dropout against the same promotion with enough capacity; a flat index is the
same as no season, bit for bit; a phased plan equal in every period to a constant plan is the same plan;
a sale sells more and earns less per order. And the scenario fields refuse what cannot be meant.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest
from conftest import small

from sim.engines.agent import run_agent
from sim.engines.fast import run_fast
from sim.errors import ScenarioError
from sim.model import calendar
from sim.model.scenario import parse_scenario

SEEDS = (1, 2, 3, 4)


@pytest.fixture(scope="module")
def shop():
    """The early-stage shop at a tenth, 18 months from 2027-01-01, without the sample's own calendar (its
    seasons and promotions): each test adds the season or the sale it is about."""
    return small("early_stage_d2c", factor=0.1, months=18).with_changes({"events": [], "seasonality": None})


def _sale(s, capacity: float):
    event = {
        "name": "11.11",
        "start": date(2027, 11, 11),
        "end": date(2027, 11, 12),
        "uplift_customers": 6.0,
        "uplift_aware": 4.0,
        "extra_reach": 800.0,
        "discount": 0.2,
        "fixed_cost": 100000.0,
    }
    return s.with_changes({"events": [event], "operations.fulfilment_capacity_per_day": capacity})


def _after(daily, day: str):
    return daily.loc[day:]


def _engines(s):
    """(agent runs for a few seeds, the fast engine's expected run)."""
    return [run_agent(s, seed, keep_orders=False) for seed in SEEDS], run_fast(s)


def test_a_promotion_beyond_capacity_raises_delays_dissatisfaction_and_later_dropout(shop):
    enough_agent, enough_fast = _engines(_sale(shop, 400.0))
    tight_agent, tight_fast = _engines(_sale(shop, 14.0))

    def totals(runs, col, start, end):
        return np.mean([r.daily.loc[start:end, col].sum() for r in runs])

    sale = ("2027-11-11", "2027-11-20")
    later = ("2027-11-11", "2028-06-30")
    for label, enough, tight in (("agent", enough_agent, tight_agent), ("fast", [enough_fast], [tight_fast])):
        delay = [
            np.mean([(r.daily["fulfilment_delay_days"] * r.daily["orders"]).loc[sale[0] : sale[1]].sum() for r in runs])
            for runs in (enough, tight)
        ]
        assert delay[1] > delay[0] + 1.0, (label, delay)
        assert totals(tight, "dissatisfied", *sale) > 1.2 * totals(enough, "dissatisfied", *sale), label
        assert totals(tight, "dropouts", *later) > totals(enough, "dropouts", *later), label


def test_a_sale_sells_more_and_earns_less_per_order(shop):
    plain = run_fast(shop)
    sale = run_fast(_sale(shop, 400.0))
    window = slice("2027-11-11", "2027-11-12")
    p, s = plain.daily.loc[window], sale.daily.loc[window]
    assert s["orders"].sum() > 2 * p["orders"].sum()
    assert (s["revenue"] / s["orders"]).mean() < 0.85 * (p["revenue"] / p["orders"]).mean()  # 20% off
    np.testing.assert_allclose(s["discounts"].sum(), 0.25 * s["revenue"].sum(), rtol=1e-9)  # 20% of list = 25% of paid
    assert sale.daily["event_cost"].sum() == pytest.approx(100000.0)
    assert (sale.daily.drop(index=s.index)["discounts"] == 0).all()


def test_a_flat_index_is_no_season_bit_for_bit(shop):
    flat = shop.with_changes({"seasonality": {"index": [1.0] * 12, "reach": True}})
    for run in (lambda s: run_agent(s, 7, keep_orders=False), run_fast, lambda s: run_fast(s, 7, sampled=True)):
        assert run(flat).daily.equals(run(shop).daily)


def test_a_phased_plan_equal_in_every_period_is_the_constant_plan(shop):
    b = shop.budget
    phased = shop.with_changes(
        {
            "budget.purpose_split": [dict(b.purpose_split)] * 4,
            "budget.channel_split": [dict(b.channel_split)] * 2,
            "budget.split_period": "quarter",
        }
    )
    assert phased.budget.phased
    for run in (lambda s: run_agent(s, 7, keep_orders=False), run_fast):
        assert run(phased).daily.equals(run(shop).daily)


def test_a_phased_plan_moves_money_when_the_split_says(shop):
    phased = shop.with_changes(
        {
            "budget.purpose_split": [{"front": 1.0}, {"front": 0.5, "back": 0.5}],
            "budget.channel_split": dict(shop.budget.channel_split),
            "budget.split_period": "half",
        }
    )
    d = run_fast(phased).spend_by_channel
    first_half, second_half = d.iloc[:6], d.iloc[6:12]
    assert first_half["back"].to_numpy().sum() == 0
    np.testing.assert_allclose(second_half["back"].to_numpy().sum(), second_half["front"].to_numpy().sum())


def test_back_end_spend_per_customer_follows_the_base(shop):
    s = shop.with_changes({"budget.purpose_split": {"front": 0.95, "winback": 0.05}, "budget.back_per_customer": 300.0})
    for r in (run_agent(s, 7, keep_orders=False), run_fast(s)):
        d = r.daily
        active_morning = (d["customer"] + d["loyal"]).shift(1).to_numpy()[1:]
        per_day = d["spend_back"].to_numpy()[1:]
        days = calendar.calendar(s).days_in_month[calendar.calendar(s).month_of_day][1:]
        np.testing.assert_allclose(per_day, 300.0 * active_morning / days, rtol=1e-9)


def test_the_season_moves_orders_with_the_calendar(shop):
    index = [1.5, 0.5] + [1.0] * 10
    s = shop.with_changes({"seasonality": {"index": index}})
    base, seasonal = run_fast(shop).daily, run_fast(s).daily
    jan = slice("2027-01-01", "2027-01-31")
    feb = slice("2027-02-01", "2027-02-28")
    assert seasonal.loc[jan, "orders"].sum() > 1.2 * base.loc[jan, "orders"].sum()
    assert seasonal.loc[feb, "orders"].sum() < 0.8 * base.loc[feb, "orders"].sum()


@pytest.mark.parametrize(
    "changes,words",
    [
        ({"seasonality": {"index": [1.1] * 12}}, "mean 1"),
        ({"seasonality": {"index": [1.0] * 11}}, "12"),
        ({"events": [{"name": "x", "start": date(2027, 3, 2), "end": date(2027, 3, 1)}]}, "ends"),
        ({"events": [{"name": "x", "start": date(2020, 3, 1), "end": date(2020, 3, 2)}]}, "before the simulation"),
        ({"events": [{"name": "x", "start": date(2027, 3, 1), "end": date(2027, 3, 2), "discount": 1.0}]}, "discount"),
        ({"budget.purpose_split": [{"front": 0.5}, {"front": 1.0}]}, "purpose_split[0] adds up"),
        ({"budget.back_per_customer": 100.0}, "back_per_customer"),
        ({"repeat_purchase": {"model": "pareto", "r": 1.0, "alpha": 50.0, "s": 1.0}}, "beta"),
        ({"repeat_purchase": {"model": "bgnbd", "r": 1.0, "alpha": 50.0, "a": 1.0, "b": 3.0, "s": 2.0}}, "s"),
        ({"repeat_purchase.model": "weibull"}, "mbgnbd"),
    ],
)
def test_calendar_plan_and_family_fields_refuse_what_cannot_be_meant(shop, changes, words):
    data = shop.model_dump(mode="python")
    for dotted, value in changes.items():
        node = data
        keys = dotted.split(".")
        for key in keys[:-1]:
            node = node[key]
        node[keys[-1]] = value
    with pytest.raises(ScenarioError) as err:
        parse_scenario(data, "case.yaml")
    message = str(err.value)
    assert words in message and "case.yaml" in message
