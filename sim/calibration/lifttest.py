"""Retention effects from a CRM holdout test: how much back-end spend raised buying, cut dropout, lifted value.

A lift test splits customers who were active at its start into a treated group (CRM messages, offers: a
spend per treated customer) and a control group, and counts each customer's orders and revenue over the
test window of W days. The fitted repeat-purchase model supplies the heterogeneity of purchase rates
(lambda ~ Gamma(r, alpha)) and of the dropout chance per order (q ~ Beta(a, b), or for Pareto/NBD the mean
dropout per order mu/lambda as a point mass). Within the window a customer buys at c * lambda (c scales the
rates to the tested customers, fitted on the control group), times (1 + u) if treated, and drops out right
after each order with q, times (1 - d) if treated. So

    P(N >= n) = E[(1 - q')^(n-1)] * P(NBD(r, alpha / c') >= n),    P(NBD >= n) = I_{W/(alpha/c' + W)}(n, r)

(the NBD tail as a regularized incomplete beta; the Beta expectation by Gauss-Jacobi quadrature). The
purchase-rate uplift u and the dropout reduction d are fitted by maximum likelihood with standard errors
from the Hessian; the order-value uplift is the ratio of revenue per order, treated over control, minus 1
(delta-method standard error). A per-group summary (customers, buyers, orders, revenue) uses the binomial
likelihood of buyers and a Poisson likelihood of the orders beyond each buyer's first.

The scenario's retention block turns an effect at the tested spend into a maximum: effect = max x
(1 - 2^(-S/K)) x effectiveness; one tested spend level cannot show the curve's bend, so K is set at the
tested spend (an assumption, said so) and max = effect / (0.5 x effectiveness).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize, special

from sim.calibration.btyd import RepeatPurchaseFitter, hessian
from sim.errors import DataError
from sim.model.scenario import Retention, upper_bound

GROUP_NAMES = ("group", "arm", "variant", "그룹", "집단")
SPEND_NAMES = ("spend", "spendpercustomer", "cost", "비용", "광고비", "지출")
ORDER_NAMES = ("orders", "ordercount", "transactions", "주문수", "주문건수", "구매수")
REVENUE_NAMES = ("revenue", "sales", "amount", "매출", "매출액", "금액")
DAYS_NAMES = ("days", "windowdays", "window", "기간", "일수")
CUSTOMERS_NAMES = ("customers", "n", "count", "고객수")
BUYERS_NAMES = ("buyers", "purchasers", "구매고객수", "구매자수")
TREATED = ("treated", "treatment", "test", "t", "1", "처치", "실험", "실험군")
CONTROL = ("control", "holdout", "c", "0", "대조", "대조군")
MAX_ORDERS = 60
NODES = 24  # Gauss-Jacobi nodes for the dropout chance
# the most a fitted effect may be: the scenario schema's bounds on the retention block's maxima
EFFECT_CAPS = {
    name: upper_bound(Retention, name)
    for name in ("purchase_rate_uplift_max", "dropout_reduction_max", "order_value_uplift_max")
}


@dataclass
class LiftTestFit:
    """Effects at the tested spend with standard errors, and the retention values they imply."""

    source: str
    days: float
    spend_per_customer: float  # per treated customer over the window
    treated: int
    control: int
    purchase_rate_uplift: tuple[float, float]
    dropout_reduction: tuple[float, float]
    order_value_uplift: tuple[float, float]
    rate_scale: float
    effectiveness: float = 0.65
    notes: list[str] = field(default_factory=list)

    @property
    def source_name(self) -> str:
        return Path(self.source).name

    @property
    def spend_per_customer_month(self) -> float:
        return self.spend_per_customer * (365.25 / 12.0) / self.days

    def retention_values(self, effectiveness: float | None = None) -> dict[str, tuple[float, float]]:
        """(value, se) of the retention fields: maxima implied by the effects (K at the tested spend)."""
        eff = self.effectiveness if effectiveness is None else effectiveness
        scale = 1.0 / (0.5 * eff)
        out = {}
        for key, (v, se) in (
            ("purchase_rate_uplift_max", self.purchase_rate_uplift),
            ("dropout_reduction_max", self.dropout_reduction),
            ("order_value_uplift_max", self.order_value_uplift),
        ):
            out[key] = (min(max(v * scale, 0.0), EFFECT_CAPS[key]), se * scale)
        out["half_saturation_per_customer"] = (self.spend_per_customer_month, 0.0)
        return out

    def summary(self) -> dict[str, Any]:
        at_spend = {
            "purchase_rate_uplift": self.purchase_rate_uplift[0],
            "purchase_rate_uplift_se": self.purchase_rate_uplift[1],
            "dropout_reduction": self.dropout_reduction[0],
            "dropout_reduction_se": self.dropout_reduction[1],
            "order_value_uplift": self.order_value_uplift[0],
            "order_value_uplift_se": self.order_value_uplift[1],
        }
        se = effect_multiplier_se(at_spend)
        return {
            "source": self.source_name,
            "method": "maximum likelihood of window counts under the fitted model (see sim.calibration.lifttest)",
            "window_days": self.days,
            "treated_customers": self.treated,
            "control_customers": self.control,
            "spend_per_treated_customer": self.spend_per_customer,
            "at_tested_spend": at_spend,
            "standard_errors": {} if se is None else {"effect_multiplier": se},
            "rate_scale_of_tested_customers": self.rate_scale,
            "notes": self.notes,
        }


def effect_multiplier_se(at_tested_spend: dict[str, Any]) -> float | None:
    """Standard error of the one factor that scales the three measured back-end effects together (the
    break-even search's "back-end effect sizes, times the scenario's", 1 as fitted): the largest relative
    standard error of the three, so that its range of k standard errors covers each effect's own; None when
    no effect was measured above zero."""
    relative = []
    for name in ("purchase_rate_uplift", "dropout_reduction", "order_value_uplift"):
        value, se = at_tested_spend.get(name), at_tested_spend.get(f"{name}_se")
        if isinstance(value, int | float) and isinstance(se, int | float) and value > 0 and math.isfinite(se):
            relative.append(float(se) / float(value))
    return max(relative) if relative else None


def _dropout_nodes(fitter: RepeatPurchaseFitter) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights of the dropout chance per order q under the fitted family."""
    p = fitter.params_
    if "a" in p:
        x, w = special.roots_jacobi(NODES, p["b"] - 1.0, p["a"] - 1.0)  # weight (1-x)^(b-1) (1+x)^(a-1)
        return (x + 1.0) / 2.0, w / w.sum()
    # Pareto/NBD: dropout per order ~ mean hazard / mean rate (a point mass)
    q = (p["s"] / p["beta"]) / (p["r"] / p["alpha"])
    return np.array([min(q, 0.99)]), np.array([1.0])


def count_probabilities(r, alpha_scaled, days, q_nodes, q_weights, max_n: int = MAX_ORDERS) -> np.ndarray:
    """P(N = n), n = 0..max_n, of window counts (see the module docstring)."""
    n = np.arange(1, max_n + 2, dtype=float)
    tail = special.betainc(n, r, days / (alpha_scaled + days))  # P(NBD >= n)
    survive = (q_weights[None, :] * (1.0 - q_nodes[None, :]) ** (n[:, None] - 1.0)).sum(axis=1)
    ge = np.concatenate([[1.0], survive * tail])  # P(N >= n), n = 0..max_n+1
    return np.maximum(ge[:-1] - ge[1:], 1e-300)


def read_lift_test(path: str | Path) -> tuple[pd.DataFrame, bool]:
    """The lift test as one row per customer, or one row per group (True)."""
    from sim.calibration.orderlog import find_column, parse_amounts, read_table

    source = str(path)
    frame, _ = read_table(path, "lift test")
    if frame.empty:
        raise DataError("has a header but no rows", file=source, location="row 2")
    gcol = find_column(frame, GROUP_NAMES, None, "group", "a 'group' header (treated/control)", source)
    ocol = find_column(frame, ORDER_NAMES, None, "orders", "an 'orders' header", source)
    rcol = find_column(frame, REVENUE_NAMES, None, "revenue", "a 'revenue' header", source)
    scol = find_column(frame, SPEND_NAMES, None, "spend", "a 'spend' header (per treated customer)", source)
    dcol = find_column(frame, DAYS_NAMES, None, "days", "a 'days' header (the test window)", source)
    norm = {c.lower().replace("_", "").replace(" ", ""): c for c in frame.columns}
    ccol = next((norm[k] for k in CUSTOMERS_NAMES if k in norm), None)
    bcol = next((norm[k] for k in BUYERS_NAMES if k in norm), None)
    groups = frame[gcol].astype(str).str.strip().str.lower()
    treated = groups.isin(TREATED)
    bad = ~(treated | groups.isin(CONTROL))
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise DataError(
            "group is neither treated nor control",
            file=source,
            location=f"row {int(frame.index[i]) + 2}, column {gcol!r}",
            found=repr(frame[gcol].iloc[i]),
            allowed="treated or control",
        )
    out = pd.DataFrame(
        {
            "treated": treated.to_numpy(),
            "orders": parse_amounts(frame[ocol], source, ocol),
            "revenue": parse_amounts(frame[rcol], source, rcol),
            "spend": parse_amounts(frame[scol], source, scol),
            "days": parse_amounts(frame[dcol], source, dcol),
        }
    )
    summary = ccol is not None and bcol is not None
    if summary:
        out["customers"] = parse_amounts(frame[ccol], source, ccol)
        out["buyers"] = parse_amounts(frame[bcol], source, bcol)
    if not out["treated"].any() or out["treated"].all():
        raise DataError("needs both a treated and a control group", file=source, location=f"column {gcol!r}")
    if out["days"].nunique() != 1 or not out["days"].iloc[0] > 0:
        raise DataError("the test window must be one number of days > 0", file=source, location=f"column {dcol!r}")
    if not summary and (out["orders"] != np.round(out["orders"])).any():
        raise DataError("orders must be whole numbers", file=source, location=f"column {ocol!r}")
    return out, summary


def fit_lift_test(path: str | Path, fitter: RepeatPurchaseFitter, summary: pd.DataFrame | None = None) -> LiftTestFit:
    """Fit the effects of a lift test under the fitted repeat-purchase family."""
    source = str(path)
    data, is_summary = read_lift_test(path)
    days = float(data["days"].iloc[0])
    r, alpha = fitter.params_["r"], fitter.params_["alpha"]
    q_nodes, q_weights = _dropout_nodes(fitter)
    t, c = data[data["treated"]], data[~data["treated"]]
    if is_summary:
        stats_t = (t["customers"].sum(), t["buyers"].sum(), t["orders"].sum())
        stats_c = (c["customers"].sum(), c["buyers"].sum(), c["orders"].sum())

        def group_ll(rr, alpha_g, qn, qw, stats):
            n, buyers, orders = stats
            probs = count_probabilities(rr, alpha_g, days, qn, qw)
            p0 = probs[0]
            extra_mean = (np.arange(len(probs)) * probs).sum() / max(1 - p0, 1e-12) - 1.0
            lam = buyers * extra_mean
            k = orders - buyers
            return buyers * math.log(1 - p0) + (n - buyers) * math.log(p0) + k * math.log(max(lam, 1e-300)) - lam

        n_t, n_c = int(stats_t[0]), int(stats_c[0])
    else:
        hist_t = np.bincount(np.minimum(t["orders"].astype(int), MAX_ORDERS), minlength=MAX_ORDERS + 1)
        hist_c = np.bincount(np.minimum(c["orders"].astype(int), MAX_ORDERS), minlength=MAX_ORDERS + 1)

        def group_ll(rr, alpha_g, qn, qw, hist):
            probs = count_probabilities(rr, alpha_g, days, qn, qw)
            return float(hist @ np.log(probs))

        stats_t, stats_c = hist_t, hist_c
        n_t, n_c = len(t), len(c)

    # the tested customers' own heterogeneity: rate shape r and mean dropout are refitted on both groups (the
    # calibrated values start the search; the Beta's concentration a + b is kept), so the effects do not rest
    # on the order log's fit of a different population
    conc = fitter.params_["a"] + fitter.params_["b"] if "a" in fitter.params_ else None
    q_mean0 = float((q_nodes * q_weights).sum())

    def nodes(q_mean: float) -> tuple[np.ndarray, np.ndarray]:
        if conc is None:
            return np.array([q_mean]), np.array([1.0])
        a_, b_ = q_mean * conc, (1.0 - q_mean) * conc
        x, w = special.roots_jacobi(NODES, b_ - 1.0, a_ - 1.0)
        return (x + 1.0) / 2.0, w / w.sum()

    def nll(theta: np.ndarray) -> float:
        log_c, log_up, logit_d, log_r, logit_q = theta
        d = 1.0 / (1.0 + math.exp(-logit_d))
        q_mean = 1.0 / (1.0 + math.exp(-logit_q))
        qn, qw = nodes(q_mean)
        rr = math.exp(log_r)
        a_c = alpha / math.exp(log_c)
        a_t = a_c / math.exp(log_up)
        v = group_ll(rr, a_c, qn, qw, stats_c) + group_ll(rr, a_t, qn * (1.0 - d), qw, stats_t)
        return -v if np.isfinite(v) else 1e300

    start = np.array([0.0, 0.0, -1.0, math.log(r), math.log(q_mean0 / (1.0 - q_mean0))])
    res = optimize.minimize(nll, start, method="Nelder-Mead", options={"xatol": 1e-8, "fatol": 1e-10, "maxiter": 8000})
    res = optimize.minimize(nll, res.x, method="BFGS")
    theta = res.x
    cov = np.linalg.pinv(hessian(nll, theta, step=1e-4))
    up = math.exp(theta[1]) - 1.0
    up_se = math.exp(theta[1]) * math.sqrt(max(cov[1, 1], 0.0))
    d = 1.0 / (1.0 + math.exp(-theta[2]))
    d_se = d * (1.0 - d) * math.sqrt(max(cov[2, 2], 0.0))
    ov = _value_uplift(t, c, is_summary)
    spend = float(t["spend"].sum() / max(n_t if not is_summary else t["customers"].sum(), 1))
    if is_summary:
        spend = float((t["spend"] * t["customers"]).sum() / t["customers"].sum())
    notes = []
    if d_se > 0.5:
        notes.append("the window is short for dropout: its reduction is poorly determined (large standard error)")
    return LiftTestFit(source, days, spend, n_t, n_c, (up, up_se), (d, d_se), ov, math.exp(theta[0]), notes=notes)


def _value_uplift(t: pd.DataFrame, c: pd.DataFrame, is_summary: bool) -> tuple[float, float]:
    """Revenue per order, treated over control, minus 1, with a delta-method standard error (ratio estimators)."""

    def ratio(g: pd.DataFrame) -> tuple[float, float]:
        o, rev = g["orders"].to_numpy(float), g["revenue"].to_numpy(float)
        m = rev.sum() / o.sum()
        if is_summary or len(g) < 2:
            return m, m * 0.6 / math.sqrt(o.sum())  # per-group totals: a typical order-value spread (cv 0.6)
        resid = rev - m * o  # linearization of a ratio estimator
        return m, math.sqrt((resid**2).sum()) / o.sum()

    mt, st = ratio(t)
    mc, sc = ratio(c)
    u = mt / mc - 1.0
    return u, (mt / mc) * math.sqrt((st / mt) ** 2 + (sc / mc) ** 2)


def simulate_lift_test(
    n_per_group: int,
    r: float,
    alpha: float,
    a: float,
    b: float,
    days: float,
    uplift: float,
    dropout_reduction: float,
    value_uplift: float,
    spend: float,
    rng: np.random.Generator,
    value_mean: float = 40_000.0,
    value_cv: float = 0.6,
) -> pd.DataFrame:
    """A per-customer lift test drawn from the model of this module (vectorized, explicit Generator)."""
    rows = []
    for treated in (False, True):
        lam = rng.gamma(r, 1.0 / alpha, size=n_per_group) * (1.0 + uplift if treated else 1.0)
        q = rng.beta(a, b, size=n_per_group) * (1.0 - dropout_reduction if treated else 1.0)
        t = np.zeros(n_per_group)
        orders = np.zeros(n_per_group, dtype=int)
        alive = np.ones(n_per_group, dtype=bool)
        while alive.any():
            t = t + rng.exponential(1.0, size=n_per_group) / lam
            alive &= t < days
            orders += alive
            alive &= rng.random(n_per_group) >= q
        k = 1.0 / value_cv**2
        mean = value_mean * (1.0 + value_uplift if treated else 1.0)
        revenue = np.array([rng.gamma(k, mean / k, size=o).sum() if o else 0.0 for o in orders])
        rows.append(
            pd.DataFrame(
                {
                    "customer_id": [f"{'T' if treated else 'C'}{i:06d}" for i in range(n_per_group)],
                    "group": "treated" if treated else "control",
                    "spend": spend if treated else 0.0,
                    "orders": orders,
                    "revenue": np.round(revenue),
                    "days": days,
                }
            )
        )
    return pd.concat(rows, ignore_index=True)
