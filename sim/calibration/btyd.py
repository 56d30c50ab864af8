"""Maximum likelihood for the "buy till you die" repeat-purchase families, written once for all of them.

Each family module (`bgnbd`, `mbgnbd`, `paretonbd`) owns its mathematics: a `log_likelihood` of one
customer's history (x repeat transactions, recency t_x, age T, in days), the closed forms of its
expectations and the posterior of each customer. Its fitter subclasses `RepeatPurchaseFitter`, which only
maximizes the sum of that same log-likelihood with its analytic gradient (`gradients_fn`, which the tests
check against `log_likelihood`), derives standard errors from its Hessian and draws parameter sets from their sampling distribution (for honest forecast bands);
a variant overrides only what differs, as lifetimes' `ModifiedBetaGeoFitter` does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np
from scipy import optimize

from sim.errors import DataError

MAX_EXP = 30.0  # log-parameters are bounded to exp(+-30): beyond that a fit has run away, not converged
# A mixing distribution whose spread the data cannot see runs off along a ridge where both of its parameters grow at
# a fixed mean (the limit: every customer alike). Beyond these concentrations it is pinned (see `_pin_collapsed`):
# a Gamma's shape 150 (coefficient of variation 8%), a Beta's a + b 1000 (the model's quadrature of the mixing
# distributions, `sim.model.repeat`, overflows beyond about 170 and 1020)
COLLAPSED = {"gamma": 150.0, "beta": 1000.0}
GTOL = 1e-9  # BFGS stops when every gradient component of the mean negative log-likelihood is below this
# a decrease of the mean negative log-likelihood below this share of it is lost in its rounding (its last few bits: a
# sum over thousands of histories is exact to about that): no line search can see it
ROUNDING = 1e-15
FUTILE = 4  # trial points of a line search within the objective's rounding before the Newton test (`BfgsSearch`)
PRECISION_LOSS = "Desired error not necessarily achieved due to precision loss."  # scipy's BFGS message


class RepeatPurchaseFitter:
    """Fit a repeat-purchase family by maximum likelihood; `fit()` returns self, fitted values end in `_`.

    Subclasses set `family`, `label`, `param_names`, `log_likelihood` (a pure function of the parameters
    followed by x, t_x, T), `gradients_fn` (its value and analytic derivatives) and `_starts`. The objective
    is the mean negative log-likelihood over customers in log-parameters (BFGS from the first starting point
    that converges, then a restart from it); customers with equal (x, t_x, T) are weighted once (a speed
    trick: day-resolution histories repeat a lot). Standard errors come from the inverse of the Hessian in
    log-parameters (central differences of the analytic gradient), mapped back by the delta method
    (se(theta) = theta * se(log theta)).
    """

    family: ClassVar[str] = ""
    label: ClassVar[str] = ""
    param_names: ClassVar[tuple[str, ...]] = ()
    # each mixing distribution: its two parameters by index in param_names (Gamma shape and rate, Beta a and b),
    # its kind and what it mixes
    mixing: ClassVar[tuple[tuple[int, int, str, str], ...]] = (
        (0, 1, "gamma", "purchase rate"),
        (2, 3, "beta", "dropout"),
    )
    citation: ClassVar[str] = ""
    log_likelihood: ClassVar[Callable[..., np.ndarray]]
    # the family's closed forms, each taking the parameters first (set by each family; the posterior draws and
    # simulation live in the family's module, `families.module`)
    p_alive_fn: ClassVar[Callable[..., np.ndarray]]
    expected_fn: ClassVar[Callable[..., np.ndarray]]
    conditional_fn: ClassVar[Callable[..., np.ndarray]]

    def __init__(self) -> None:
        self.params_: dict[str, float] = {}
        self.standard_errors_: dict[str, float] = {}
        self.log_covariance_: np.ndarray | None = None  # covariance of the log-parameters
        self.log_likelihood_: float = float("nan")
        self.converged_: bool = False
        self.iterations_: int = 0  # every iteration of every start and restart
        self.message_: str = ""
        self.n_customers_: int = 0
        self.collapsed_: list[str] = []  # mixing distributions at their every-customer-alike limit

    # -- the fit ---------------------------------------------------------------------------------------
    def _starts(self, mean_x: float, mean_T: float) -> list[np.ndarray]:
        raise NotImplementedError

    # (log L, d log L / d params (n, k), d log L / d (t_x, T) (n, 2)) of each customer, analytic (each family)
    gradients_fn: ClassVar[Callable[..., tuple[np.ndarray, np.ndarray, np.ndarray]]]
    # d2 log L / d (t_x, T)^2 of each customer, (n, 3): t_x t_x, t_x T, T T (for the seasonal fit's Hessian)
    time_hessian_fn: ClassVar[Callable[..., np.ndarray]]

    def objective(self, x: np.ndarray, t_x: np.ndarray, T: np.ndarray, weights: np.ndarray | None = None):
        """(fun, n, curvature): fun(log-parameters) -> (mean negative log-likelihood over customers, its gradient),
        from the family's analytic derivatives; customers with equal (x, t_x, T) are computed once
        (`_unique_histories`); curvature(log-parameters) -> a starting inverse Hessian for BFGS."""
        x, t_x, T, w = _unique_histories(x, t_x, T, weights)
        n = float(w.sum())
        both = type(self).gradients_fn

        def fun(logp: np.ndarray) -> tuple[float, np.ndarray]:
            theta = np.exp(np.clip(logp, -MAX_EXP, MAX_EXP))
            with np.errstate(all="ignore"):
                ll, d, _ = both(*theta, x, t_x, T)
                v = -float(w @ ll) / n
                g = -(w @ d) * theta / n
            if not np.isfinite(v) or not np.all(np.isfinite(g)):
                return 1e10, np.zeros_like(logp)
            return v, g

        def curvature(logp: np.ndarray) -> np.ndarray:
            """BHHH: the weighted outer product of the histories' scores (BFGS's first curvature estimate)."""
            theta = np.exp(np.clip(logp, -MAX_EXP, MAX_EXP))
            with np.errstate(all="ignore"):
                d = both(*theta, x, t_x, T)[1] * theta
            return inverse_curvature((d * w[:, None]).T @ d / n)

        return fun, n, curvature

    def fit(
        self,
        x: np.ndarray,
        t_x: np.ndarray,
        T: np.ndarray,
        weights: np.ndarray | None = None,
        source: str = "order log",
        start: dict[str, float] | None = None,
    ) -> RepeatPurchaseFitter:
        """Maximum-likelihood estimates, their standard errors and covariance; raises DataError if none exists.

        BFGS runs from the family's starting points in turn until one converges inside the bounds; `start`
        (parameters of a nearby fit, e.g. the same family on a shorter window) is tried first. Every starting
        point reaches the same maximum on CDNOW and on the sample export (the likelihoods are unimodal there),
        so the others are a fallback, not a search."""
        fun, n, curvature = self.objective(x, t_x, T, weights)
        self.n_customers_ = int(round(n))
        mean_x = max(float(np.average(x, weights=weights)), 0.05)
        mean_T = max(float(np.average(T, weights=weights)), 1.0)
        # BFGS, not L-BFGS-B: the latter's BLAS calls wake OpenBLAS threads, ten times slower on a busy machine
        opts = {"maxiter": 2000, "gtol": GTOL}
        starts = self._starts(mean_x, mean_T)
        if start is not None:
            starts = [np.log([start[k] for k in self.param_names]), *starts]
        best = None
        self.iterations_ = 0
        search = BfgsSearch(fun)
        for point in starts:  # the first start that converges inside the bounds; the others only if it fails
            # speed: started from the BHHH curvature, BFGS needs a fraction of the iterations it needs from I
            res = search.minimize(point, opts, hess_inv0=curvature(point))
            self.iterations_ += int(res.nit)
            if best is None or res.fun < best.fun:
                best = res
            if (res.success or np.max(np.abs(res.jac)) < 1e-6) and np.all(np.abs(res.x) < MAX_EXP - 0.5):
                break
        assert best is not None
        # restart from the best point: a stale curvature estimate can stop the search early in a flat valley. Not
        # when the gradient meets GTOL there (the restart would stop at once: BFGS's own test), nor where a Newton
        # step would gain less than the objective's rounding (the restart's line search cannot see it fall: on
        # CDNOW it spent 40-80 evaluations to stay put)
        if np.max(np.abs(best.jac)) > GTOL and not search.flat(best.x, best.fun):
            again = search.minimize(best.x, opts)
            self.iterations_ += int(again.nit)
            if again.fun <= best.fun:
                best = again
        self.message_ = str(best.message)
        xopt, basis, best_fun = self._pin_collapsed(fun, best.x, best.fun, opts)
        found = f"{int(n)} customers, {int(np.sum(np.asarray(x) > 0))} repeat buyers"
        allowed = "a longer history (a later --until or an export covering more months) or more customers"
        at_bound = [self.param_names[i] for i in range(len(xopt)) if not abs(xopt[i]) < MAX_EXP - 0.5]
        if at_bound or best_fun >= 1e10:
            raise DataError(
                f"the {self.label} repeat-purchase fit did not converge"
                + (f" (parameter {', '.join(at_bound)} ran to its limit)" if at_bound else ""),
                file=source,
                found=found,
                allowed=allowed,
            )
        g0, h0 = search.gradient_and_hessian(xopt)  # the mean's, at hand when the Newton test was made there
        hess = basis.T @ (h0 * n) @ basis  # the Hessian in the directions left free (all, unless one collapsed)
        eig = np.linalg.eigvalsh(hess) if np.all(np.isfinite(hess)) else np.array([np.nan])
        if not np.all(eig > 1e-9 * max(float(np.max(np.abs(eig))), 1.0)):
            # a flat direction: the maximum is not a point, the data cannot pin the parameters
            raise DataError(
                f"the {self.label} repeat-purchase fit did not converge (the likelihood is flat: no unique maximum)",
                file=source,
                found=found,
                allowed=allowed,
            )
        theta = np.exp(xopt)
        self.log_covariance_ = basis @ np.linalg.inv(hess) @ basis.T
        self.converged_ = bool(best.success or np.max(np.abs(basis.T @ g0)) < 1e-5)
        self.params_ = dict(zip(self.param_names, (float(v) for v in theta), strict=True))
        self.standard_errors_ = dict(
            zip(self.param_names, (float(v) for v in theta * np.sqrt(np.diag(self.log_covariance_))), strict=True)
        )
        self.log_likelihood_ = float(-best_fun * n)
        return self

    def _pin_collapsed(self, fun, xopt: np.ndarray, value: float, opts: dict) -> tuple[np.ndarray, np.ndarray, float]:
        """(point, basis of the free directions, objective there), with every collapsed mixing distribution pinned.

        When the data show no heterogeneity in a rate or in the dropout, the likelihood rises towards the limit
        where both parameters of its Gamma or Beta grow without end at a fixed mean (a point mass: every customer
        alike): a flat ridge, not a failure to fit. The pair is pinned on that ridge at the concentration
        `COLLAPSED` (the same mean, a spread under 8%, a likelihood within a hair of the limit's), the other
        directions refitted, and the covariance is that of the free directions (none along the ridge, where
        forecasts do not move). When the refit shows the likelihood does not keep rising along the ridge (the
        search had only stalled far out on a flat slope), the full search resumes from there instead."""
        k = len(xopt)
        pinned = self._collapsed_pairs(xopt)
        self.collapsed_ = []
        if not pinned:
            return xopt, np.eye(k), value
        x0 = xopt.copy()
        ridges = []
        for i, j, log_conc in pinned:
            x0[[i, j]] -= log_conc - np.log(COLLAPSED[self._kind(i)])
            u = np.zeros(k)
            u[[i, j]] = 1.0 / np.sqrt(2.0)
            ridges.append(u)
        q, _ = np.linalg.qr(np.column_stack([*ridges, np.eye(k)]))
        basis = q[:, len(ridges) : k]  # orthonormal, orthogonal to the pinned ridges

        def reduced(z: np.ndarray) -> tuple[float, np.ndarray]:
            v, g = fun(x0 + basis @ z)
            return v, basis.T @ g

        res = optimize.minimize(reduced, np.zeros(k - len(ridges)), jac=True, method="BFGS", options=opts)
        self.iterations_ += int(res.nit)
        point = x0 + basis @ res.x
        grad = fun(point)[1]
        rising = all(float(u @ grad) <= 0.0 for u in ridges)  # the likelihood still rises outwards
        if not rising or len(self._collapsed_pairs(point, 0.5)) < len(ridges):
            again = optimize.minimize(fun, point, jac=True, method="BFGS", options=opts)
            self.iterations_ += int(again.nit)
            return again.x, np.eye(k), float(again.fun)
        self.collapsed_ = [label for i, _, _, label in type(self).mixing if any(i == p[0] for p in pinned)]
        self.message_ += f"; {', '.join(self.collapsed_)} alike for every customer (mixing distribution pinned)"
        return point, basis, float(res.fun)

    def _kind(self, i: int) -> str:
        return next(kind for a, _, kind, _ in type(self).mixing if a == i)

    def _collapsed_pairs(self, logp: np.ndarray, scale: float = 1.0) -> list[tuple[int, int, float]]:
        """(i, j, log concentration) of the mixing distributions beyond `scale` x `COLLAPSED`: a Gamma's shape, a
        Beta's a + b, with the pair's second parameter grown too (the ridge, not a lone large shape)."""
        out = []
        for i, j, kind, _ in type(self).mixing:
            log_conc = logp[i] if kind == "gamma" else float(np.logaddexp(logp[i], logp[j]))
            if log_conc > np.log(scale * COLLAPSED[kind]) and logp[j] > np.log(scale * COLLAPSED[kind]) / 2.0:
                out.append((i, j, float(log_conc)))
        return out

    # -- uses of the fit --------------------------------------------------------------------------------
    @property
    def values(self) -> tuple[float, ...]:
        """The fitted parameters in the order of `param_names` (the family's functions take them so)."""
        return tuple(self.params_[k] for k in self.param_names)

    def p_alive(self, x, t_x, T, params=None) -> np.ndarray:
        """P(active at T | x, t_x, T) at the fitted (or the given) parameters."""
        return type(self).p_alive_fn(*(self.values if params is None else params), x, t_x, T)

    def expected_repeat_purchases(self, t, params=None) -> np.ndarray:
        """E[repeat transactions in (0, t]] of a customer who has just bought for the first time."""
        return type(self).expected_fn(t, *(self.values if params is None else params))

    def conditional_expected_purchases(self, t, x, t_x, T, params=None) -> np.ndarray:
        """E[transactions in (T, T+t] | x, t_x, T]."""
        return type(self).conditional_fn(t, x, t_x, T, *(self.values if params is None else params))

    def draw_params(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """n parameter sets from the estimates' sampling distribution (normal in log-parameters), shape (n, k)."""
        assert self.log_covariance_ is not None, "fit first"
        mean = np.log(np.array(self.values))
        return np.exp(rng.multivariate_normal(mean, self.log_covariance_, size=n))

    def summary(self) -> dict[str, Any]:
        """Estimates, standard errors and fit facts for the calibration block."""
        return {
            "family": self.family,
            "params": dict(self.params_),
            "standard_errors": dict(self.standard_errors_),
            "log_likelihood": self.log_likelihood_,
            "converged": self.converged_,
            "iterations": self.iterations_,
            **({"alike_for_every_customer": list(self.collapsed_)} if self.collapsed_ else {}),
        }


class _Futile(Exception):
    """A line search that can no longer see the objective change, at a point a Newton step cannot improve."""


class BfgsSearch:
    """BFGS on `fun` (value and gradient), with the Hessians of the points it stops at, each computed once.

    Speed: where a Newton step would gain less than the objective's rounding, BFGS's line search cannot see the
    objective fall; it spent 20-40 evaluations there before giving up ("precision loss") at the point it had
    started from. Once `FUTILE` trial points of one line search have left the objective within its rounding, the
    Newton test is made (a Hessian by differences of the gradient) and, when it says so, the search ends there as
    BFGS would have ended it: the same point, value, gradient and message. That Hessian is the one the standard
    errors need at that point, kept for them.
    """

    def __init__(self, fun: Callable[[np.ndarray], tuple[float, np.ndarray]]) -> None:
        self.fun = fun
        self._recent: list[tuple[np.ndarray, float, np.ndarray]] = []  # evaluations since the latest iterate
        self._tested: dict[bytes, tuple[np.ndarray, np.ndarray]] = {}  # point -> (gradient, Hessian)

    def _gradient(self, point: np.ndarray) -> np.ndarray:
        for p, _, g in reversed(self._recent):
            if np.array_equal(p, point):
                return g
        return self.fun(point)[1]

    def gradient_and_hessian(self, point: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The gradient and the Hessian (by differences of the gradient) at `point`, each computed once."""
        key = np.asarray(point, dtype=float).tobytes()
        if key not in self._tested:
            g0 = self._gradient(point)
            self._tested[key] = (g0, hessian_from_gradient(lambda p: self.fun(p)[1], point, g0=g0))
        return self._tested[key]

    def flat(self, point: np.ndarray, value: float) -> bool:
        """Whether a Newton step from `point` would lower the objective by less than its rounding."""
        g0, h0 = self.gradient_and_hessian(point)
        return newton_decrease(h0, g0) < ROUNDING * max(1.0, abs(value))

    def minimize(self, point: np.ndarray, opts: dict, hess_inv0: np.ndarray | None = None) -> optimize.OptimizeResult:
        """scipy's BFGS from `point`, ended early only where it would have ended with precision loss."""
        current: list = []  # the latest iterate: point, value, gradient, iterations
        invisible = [0]  # trial points since then that left the objective within its rounding
        self._recent = []

        def value_and_gradient(logp: np.ndarray) -> tuple[float, np.ndarray]:
            v, g = self.fun(logp)
            self._recent.append((np.array(logp, dtype=float), v, g))
            if not current:
                current[:] = [self._recent[-1][0], v, g, 0]
            elif abs(v - current[1]) <= ROUNDING * max(1.0, abs(current[1])):
                invisible[0] += 1
                if invisible[0] == FUTILE and self.flat(current[0], current[1]):
                    raise _Futile
            return v, g

        def iterate(intermediate_result: optimize.OptimizeResult) -> None:
            x = np.array(intermediate_result.x, dtype=float)
            current[:] = [x, float(intermediate_result.fun), self._gradient(x), current[3] + 1]
            invisible[0] = 0
            self._recent = [(x, current[1], current[2])]

        options = opts if hess_inv0 is None else opts | {"hess_inv0": hess_inv0}
        try:
            return optimize.minimize(
                value_and_gradient, point, jac=True, method="BFGS", options=options, callback=iterate
            )
        except _Futile:
            x, v, g, nit = current
            return optimize.OptimizeResult(x=x, fun=v, jac=g, nit=nit, status=2, success=False, message=PRECISION_LOSS)


def _unique_histories(x, t_x, T, weights=None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Distinct (x, t_x, T) with their weights (summed)."""
    triples = np.stack([np.asarray(x), np.asarray(t_x), np.asarray(T)], axis=1).astype(float)
    w = np.ones(len(triples)) if weights is None else np.asarray(weights, dtype=float)
    uniq, inverse = unique_rows(triples)
    wsum = np.bincount(inverse, weights=w, minlength=len(uniq))
    return uniq[:, 0], uniq[:, 1], uniq[:, 2], wsum


def at_counts(fn: Callable[[np.ndarray], np.ndarray], counts: np.ndarray, scale: float = 1.0, shift: float = 0.0):
    """fn(counts * scale + shift), elementwise. Speed: counts (repeat purchases, transactions) take few values, so
    when they are whole numbers under 100,000 fn is evaluated once per value (a table: the same numbers)."""
    counts = np.asarray(counts, dtype=float)
    if counts.size and np.all(counts >= 0) and np.max(counts) < 100_000 and np.array_equal(np.floor(counts), counts):
        return fn(np.arange(int(np.max(counts)) + 1, dtype=float) * scale + shift)[counts.astype(np.int64)]
    return fn(counts * scale + shift)


def unique_rows(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(the distinct rows in lexicographic order, the index of each row's distinct row), as
    `np.unique(rows, axis=0, return_inverse=True)` gives them. Speed: each column is coded by a 1-d unique and
    the codes combined into one integer key, ten times faster than the row sort of `np.unique(axis=0)`."""
    rows = np.asarray(rows)
    if len(rows) == 0:
        return rows.copy(), np.zeros(0, dtype=np.int64)
    key = np.zeros(len(rows), dtype=np.int64)
    for j in range(rows.shape[1]):
        values, codes = np.unique(rows[:, j], return_inverse=True)
        key = key * len(values) + codes.ravel()
    _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    return rows[first], inverse.ravel()


def hessian(f: Callable[[np.ndarray], float], x0: np.ndarray, step: float = 1e-4) -> np.ndarray:
    """Hessian of a scalar function by central second differences (symmetric by construction)."""
    k = len(x0)
    h = np.zeros((k, k))
    f0 = f(x0)
    e = np.eye(k) * step
    for i in range(k):
        h[i, i] = (f(x0 + e[i]) - 2.0 * f0 + f(x0 - e[i])) / step**2
        for j in range(i):
            v = (f(x0 + e[i] + e[j]) - f(x0 + e[i] - e[j]) - f(x0 - e[i] + e[j]) + f(x0 - e[i] - e[j])) / (4 * step**2)
            h[i, j] = h[j, i] = v
    return h


def hessian_from_gradient(
    g: Callable[[np.ndarray], np.ndarray], x0: np.ndarray, step: float = 1e-5, g0: np.ndarray | None = None
) -> np.ndarray:
    """Hessian by differences of an analytic gradient, symmetrized: central, or forward from `g0` = g(x0) when
    given (half the gradient evaluations, for the large joint fits; an O(step) error far below the sampling
    error of the standard errors it gives)."""
    k = len(x0)
    h = np.zeros((k, k))
    e = np.eye(k) * step
    for i in range(k):
        h[i] = (g(x0 + e[i]) - g(x0 - e[i])) / (2.0 * step) if g0 is None else (g(x0 + e[i]) - g0) / step
    return 0.5 * (h + h.T)


def newton_decrease(h: np.ndarray, g: np.ndarray) -> float:
    """How much a Newton step would lower a function with gradient `g` and Hessian `h`: g' h^-1 g / 2 (infinite
    when `h` is not positive definite: no step to trust)."""
    if not (np.all(np.isfinite(h)) and np.all(np.isfinite(g))):
        return float("inf")
    try:
        low = np.linalg.cholesky(h)
    except np.linalg.LinAlgError:
        return float("inf")
    z = np.linalg.solve(low, g)
    return 0.5 * float(z @ z)


def inverse_curvature(h: np.ndarray, floor: float = 1e-6) -> np.ndarray:
    """A positive definite inverse of a curvature estimate (e.g. BHHH), its eigenvalues floored at `floor` times
    the largest: a starting inverse Hessian for BFGS; the identity when the estimate is unusable."""
    h = 0.5 * (h + h.T)
    if not np.all(np.isfinite(h)):
        return np.eye(len(h))
    vals, vecs = np.linalg.eigh(h)
    top = float(vals.max()) if len(vals) else 0.0
    if top <= 0:
        return np.eye(len(h))
    vals = np.maximum(vals, floor * top)
    inv = (vecs / vals) @ vecs.T
    return 0.5 * (inv + inv.T)  # exactly symmetric (scipy checks)


def alive_parts(module, params, x, t_x, T) -> list[tuple[np.ndarray, Callable[..., np.ndarray]]]:
    """The conditional expectation E[transactions in (T, T+t] | x, t_x, T] as a sum over segments of
    P(active in the segment at T | history) times a part that does not depend on t_x, given as a function of
    (t, x, T): one segment for a family (`p_alive`, `conditional_expected_if_active`), two for a family with a
    never-dropout segment (`sim.calibration.stayers.Mixture.alive_parts`)."""
    if hasattr(module, "alive_parts"):
        return module.alive_parts(params, x, t_x, T)
    return [(module.p_alive(*params, x, t_x, T), if_active_of(module, params))]


def if_active_of(module, params) -> Callable[..., np.ndarray]:
    """A family's E[transactions in (T, T+t] | active at T] as a function of (t, x, T)."""
    return lambda t, x, T: module.conditional_expected_if_active(t, x, T, *params)


def expected_total(module, params, x, t_x, T, t, weights=None) -> np.ndarray:
    """Sum over customers of E[transactions in (T, T+t] | x, t_x, T] at each time of `t` (a 1-d array).

    Speed: the part that does not depend on t_x (`alive_parts`) is evaluated once per distinct (x, T) and
    time, P(active) once per distinct history, instead of once per customer and time.
    """
    x, t_x, T, w = _unique_histories(x, t_x, T, weights)
    xT, group = unique_rows(np.stack([x, T], axis=1))
    t = np.asarray(t, dtype=float)
    total = np.zeros(len(t))
    for alive, if_active in alive_parts(module, params, x, t_x, T):
        per_group = np.bincount(group, weights=alive * w, minlength=len(xT))
        total += per_group @ if_active(t[None, :], xT[:, :1], xT[:, 1:])
    return total


def days_of(times: np.ndarray, clock: np.ndarray | None = None) -> np.ndarray:
    """The day (0, 1, ...) of each time: its whole part, or, on a seasonal clock given as its value at the end
    of each day (the cumulative day multipliers), the day in which the clock reaches the time."""
    times = np.asarray(times, dtype=float)
    if clock is None:
        return np.floor(times).astype(np.int64)
    return np.searchsorted(clock, times, side="right").astype(np.int64)
