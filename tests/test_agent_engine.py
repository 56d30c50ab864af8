"""The agent engine keeps its books: nobody appears or vanishes, money adds up, levers move the right way."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import small

from sim.engines.agent import run_agent
from sim.model import acquisition, budget, money
from sim.model.kpis import compute_kpis
from sim.model.result import STAGES


@pytest.fixture(scope="module")
def runs():
    """One scaled-down run per sample, shared by the bookkeeping tests."""
    return {
        name: run_agent(small(name, months=14))
        for name in ("early_stage_d2c", "mature_marketplace", "consumables_subscription")
    }


def test_stage_counts_add_up_to_market_every_day(runs):
    for name, r in runs.items():
        totals = r.daily[STAGES].sum(axis=1).to_numpy()
        assert (totals == r.scenario.market.size).all(), name


def test_stage_changes_match_flows(runs):
    """Each day's change in every stage equals the people who moved in minus those who moved out."""
    for name, r in runs.items():
        d = r.daily
        first = d.iloc[0]
        s = r.scenario
        start_unaware = (
            s.market.size
            - s.market.initially_aware
            - (s.market.existing.customers + s.market.existing.loyal + s.market.existing.lapsed)
        )
        unaware = start_unaware + (d["forgotten"] - d["newly_aware"]).cumsum()
        assert np.array_equal(unaware.to_numpy(), d["unaware"].to_numpy()), name
        active0 = s.market.existing.customers + s.market.existing.loyal
        active = active0 + (d["new_customers"] + d["reactivations"] - d["dropouts"]).cumsum()
        assert np.array_equal(active.to_numpy(), (d["customer"] + d["loyal"]).to_numpy()), name
        lapsed = s.market.existing.lapsed + (d["dropouts"] - d["reactivations"]).cumsum()
        assert np.array_equal(lapsed.to_numpy(), d["lapsed"].to_numpy()), name
        assert first["unaware"] >= 0


def test_order_log_matches_daily_counts_and_revenue(runs):
    for name, r in runs.items():
        log = r.orders
        per_day = log.groupby("order_date").size()
        daily_orders = r.daily["orders"]
        daily_orders = daily_orders[daily_orders > 0]
        assert per_day.sum() == daily_orders.sum(), name
        assert np.array_equal(per_day.to_numpy(), daily_orders.to_numpy()), name
        # amounts are rounded to cents in the export; the daily revenue is exact
        assert abs(log["amount"].sum() - r.daily["revenue"].sum()) <= 0.005 * len(log) + 1e-6, name
        assert (log["order_number"] >= 1).all()
        assert set(log["experience"]) <= {"dissatisfied", "satisfied", "delighted"}
        first_orders = (log["order_number"] == 1).sum()
        assert first_orders == r.daily["new_customers"].sum(), name
        assert len(log) - first_orders == r.daily["repeat_orders"].sum(), name
        counts = log["experience"].value_counts()
        for outcome in ("dissatisfied", "satisfied", "delighted"):
            assert counts.get(outcome, 0) == r.daily[outcome].sum(), (name, outcome)


def test_each_customer_numbers_their_orders_without_gaps(runs):
    """Order numbers run 1, 2, 3, ... for every acquired customer (none lost, none twice, across lapses
    and comebacks); an existing customer's continue after their orders before the start."""
    for name, r in runs.items():
        log = r.orders
        dates = pd.to_datetime(log["order_date"])
        assert dates.min() >= r.daily.index[0] and dates.max() <= r.daily.index[-1], name
        acquired = log[log["acquisition_channel"] != "existing"]
        numbers = acquired.groupby("customer_id")["order_number"]
        assert (numbers.min() == 1).all(), name
        assert (numbers.max() == numbers.size()).all(), name
        assert not acquired.duplicated(["customer_id", "order_number"]).any(), name
        existing = log[log["acquisition_channel"] == "existing"].groupby("customer_id")["order_number"]
        assert ((existing.max() - existing.min() + 1) == existing.size()).all(), name
        assert (existing.min() >= 2).all(), name  # an existing customer has bought before the start


def test_money_identities(runs):
    for name, r in runs.items():
        s = r.scenario
        d = r.daily
        assert np.allclose(d["revenue"], d["revenue_new"] + d["revenue_returning"]), name
        per_order = s.economics.fulfilment_cost_per_order + money.experience_cost_per_order(s)
        # margin on the list value (paid + discounts), less what the promotions' discounts gave away
        listed = d["revenue"] + d["discounts"]
        gp = listed * s.economics.gross_margin - d["discounts"] - d["orders"] * per_order
        assert np.allclose(d["gross_profit"], gp), name
        spend = d["spend_front"] + d["spend_back"] + d["spend_winback"]
        assert np.allclose(d["contribution"], d["gross_profit"] - spend - d["event_cost"]), name
        planned = budget.monthly_budget(s).sum()
        assert spend.sum() == pytest.approx(planned, rel=1e-9), name
        kpis = compute_kpis(r)
        assert kpis["cumulative_contribution"] == pytest.approx(d["contribution"].sum())


def test_zero_front_budget_and_no_referral_means_no_new_awareness():
    s = small("early_stage_d2c").with_changes(
        {
            "budget.purpose_split": {"front": 0.0, "back": 0.8, "winback": 0.2},
            "referral.contacts_per_loyal_per_month": 0.0,
            "events": [],  # promotions reach people too: without them, only the budget's front-end could
        }
    )
    r = run_agent(s)
    assert r.daily["newly_aware"].sum() == 0
    assert r.daily["spend_front"].sum() == 0
    # unaware people only come back from forgetting; nobody is reached
    assert (r.daily["unaware"].diff().dropna() >= 0).all()


def test_more_front_budget_never_means_less_reach():
    """Reach rises with front-end budget and saturates (each doubling adds less than the last)."""
    base = small("early_stage_d2c", months=12).with_changes({"events": []})  # the budget's reach alone
    reached = []
    for factor in (0.0, 0.5, 1.0, 2.0, 4.0):
        spend = budget.spend_by_month(base)
        spend[:, :, 0] *= factor
        reached.append(
            np.mean(
                [
                    run_agent(base, seed, spend_month=spend, keep_orders=False).daily["newly_aware"].sum()
                    for seed in (1, 2)
                ]
            )
        )
    assert reached[0] == pytest.approx(base.referral.contacts_per_loyal_per_month * 0, abs=2000)
    assert all(b > a for a, b in zip(reached, reached[1:], strict=False)), reached
    gains = np.diff(reached[1:])  # 0.5->1, 1->2, 2->4 (each step doubles the budget)
    assert gains[2] < gains[1] * 2, reached


def test_reach_curve_is_monotone_and_saturating():
    spend = np.linspace(0, 1e8, 200)
    for kind in ("hill", "exponential"):
        reach = acquisition.reach_per_month(spend, 10_000, 5e6, 1.3, kind)
        assert reach[0] == 0
        assert (np.diff(reach) >= 0).all()
        assert reach[-1] < 10_000
        assert (np.diff(reach, 2)[50:] <= 1e-9).all()  # diminishing returns past the bend


def test_back_end_spend_raises_repeat_orders():
    base = small("early_stage_d2c", months=12)
    spend = budget.spend_by_month(base)
    more = spend.copy()
    more[:, :, 1] *= 4.0
    seeds = (3, 4, 5)
    low = np.mean(
        [run_agent(base, sd, spend_month=spend, keep_orders=False).daily["repeat_orders"].sum() for sd in seeds]
    )
    high = np.mean(
        [run_agent(base, sd, spend_month=more, keep_orders=False).daily["repeat_orders"].sum() for sd in seeds]
    )
    assert high > low * 1.03, (low, high)


def test_lower_reliability_lowers_12_month_retention():
    base = small("consumables_subscription", months=18)
    good = [compute_kpis(run_agent(base, sd, keep_orders=False))["retention_12m"] for sd in (1, 2, 3)]
    poor_s = base.with_changes({"experience.reliability": 0.6})
    poor = [compute_kpis(run_agent(poor_s, sd, keep_orders=False))["retention_12m"] for sd in (1, 2, 3)]
    assert np.mean(poor) < np.mean(good) - 0.03, (good, poor)


def test_order_surge_beyond_capacity_causes_delays_and_dissatisfaction():
    base = small("consumables_subscription", months=8)
    ample = run_agent(base.with_changes({"operations.fulfilment_capacity_per_day": 1000.0}), 5, keep_orders=False)
    tight = run_agent(base.with_changes({"operations.fulfilment_capacity_per_day": 25.0}), 5, keep_orders=False)

    def share(r):
        return r.daily["dissatisfied"].sum() / r.daily["orders"].sum()

    assert ample.daily["fulfilment_delay_days"].max() == 0
    assert tight.daily["fulfilment_delay_days"].mean() > 0.5
    assert share(tight) > share(ample) + 0.05


def test_same_seed_reproduces_and_different_seed_differs():
    s = small("mature_marketplace", months=6)
    a = run_agent(s, 9)
    b = run_agent(s, 9)
    c = run_agent(s, 10)
    assert a.daily.equals(b.daily)
    assert a.orders.equals(b.orders)
    assert not a.daily.equals(c.daily)


def test_delight_lowers_dropouts():
    base = small("early_stage_d2c", months=12)
    plain = base.with_changes({"experience.delight_coverage": 0.0})
    delight = base.with_changes({"experience.delight_coverage": 1.0, "experience.delight_probability": 0.8})
    seeds = (1, 2, 3)

    def dropout_rate(s):
        runs = [run_agent(s, sd, keep_orders=False).daily for sd in seeds]
        return np.mean([d["dropouts"].sum() / d["orders"].sum() for d in runs])

    assert dropout_rate(delight) < dropout_rate(plain) - 0.01
