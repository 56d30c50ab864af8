"""Maximum likelihood for the "buy till you die" repeat-purchase families, written once for all of them.

Each family module (`bgnbd`, `mbgnbd`, `paretonbd`) owns its mathematics: a `log_likelihood` of one
customer's history (x repeat transactions, recency t_x, age T, in days), the closed forms of its
expectations and the posterior of each customer. Its fitter subclasses `RepeatPurchaseFitter`, which only
maximizes the sum of that same `log_likelihood` (the function the tests check), derives standard errors
from its Hessian and draws parameter sets from their sampling distribution (for honest forecast bands);
a variant overrides only what differs, as lifetimes' `ModifiedBetaGeoFitter` does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np
from scipy import optimize

from sim.errors import DataError

MAX_EXP = 30.0  # log-parameters are bounded to exp(+-30): beyond that a fit has run away, not converged


class RepeatPurchaseFitter:
    """Fit a repeat-purchase family by maximum likelihood; `fit()` returns self, fitted values end in `_`.

    Subclasses set `family`, `label`, `param_names`, `log_likelihood` (a pure function of the parameters
    followed by x, t_x, T) and `_starts`. The objective is the mean negative log-likelihood over customers in
    log-parameters (BFGS from several starts, then a restart from the best); customers with equal
    (x, t_x, T) are weighted once (a speed trick: day-resolution histories repeat a lot). Standard errors come
    from the inverse of the finite-difference Hessian in log-parameters, mapped back by the delta method
    (se(theta) = theta * se(log theta)).
    """

    family: ClassVar[str] = ""
    label: ClassVar[str] = ""
    param_names: ClassVar[tuple[str, ...]] = ()
    citation: ClassVar[str] = ""
    log_likelihood: ClassVar[Callable[..., np.ndarray]]
    # the family's closed forms and posterior, each taking the parameters first (set by each family)
    p_alive_fn: ClassVar[Callable[..., np.ndarray]]
    expected_fn: ClassVar[Callable[..., np.ndarray]]
    conditional_fn: ClassVar[Callable[..., np.ndarray]]
    posterior_fn: ClassVar[Callable[..., tuple[np.ndarray, np.ndarray, np.ndarray]]]
    after_fn: ClassVar[Callable[..., tuple[np.ndarray, np.ndarray]]]  # purchases after the cut-off

    def __init__(self) -> None:
        self.params_: dict[str, float] = {}
        self.standard_errors_: dict[str, float] = {}
        self.log_covariance_: np.ndarray | None = None  # covariance of the log-parameters
        self.log_likelihood_: float = float("nan")
        self.converged_: bool = False
        self.iterations_: int = 0  # every iteration of every start and restart
        self.message_: str = ""
        self.n_customers_: int = 0

    # -- the fit ---------------------------------------------------------------------------------------
    def _starts(self, mean_x: float, mean_T: float) -> list[np.ndarray]:
        raise NotImplementedError

    gradient_fn: ClassVar[Callable[..., np.ndarray] | None] = None  # d log L / d params, (n, k), if analytic

    def objective(self, x: np.ndarray, t_x: np.ndarray, T: np.ndarray, weights: np.ndarray | None = None):
        """(f, g, n): mean negative log-likelihood in log-parameters over unique histories, its gradient
        (analytic when the family has one, else None: the optimizer then differentiates numerically), count."""
        x, t_x, T, w = _unique_histories(x, t_x, T, weights)
        n = float(w.sum())
        ll = type(self).log_likelihood
        grad = type(self).gradient_fn

        def f(logp: np.ndarray) -> float:
            logp = np.clip(logp, -MAX_EXP, MAX_EXP)
            with np.errstate(all="ignore"):
                v = -float((w * ll(*np.exp(logp), x, t_x, T)).sum()) / n
            return v if np.isfinite(v) else 1e10

        if grad is None:
            return f, None, n

        def g(logp: np.ndarray) -> np.ndarray:
            theta = np.exp(np.clip(logp, -MAX_EXP, MAX_EXP))
            with np.errstate(all="ignore"):
                d = (w[:, None] * grad(*theta, x, t_x, T)).sum(axis=0)
            out = -d * theta / n
            return out if np.all(np.isfinite(out)) else np.zeros_like(out)

        return f, g, n

    def fit(
        self,
        x: np.ndarray,
        t_x: np.ndarray,
        T: np.ndarray,
        weights: np.ndarray | None = None,
        source: str = "order log",
    ) -> RepeatPurchaseFitter:
        """Maximum-likelihood estimates, their standard errors and covariance; raises DataError if none exists."""
        f, g, n = self.objective(x, t_x, T, weights)
        self.n_customers_ = int(round(n))
        mean_x = max(float(np.average(x, weights=weights)), 0.05)
        mean_T = max(float(np.average(T, weights=weights)), 1.0)
        # BFGS, not L-BFGS-B: the latter's BLAS calls wake OpenBLAS threads, ten times slower on a busy machine
        opts = {"maxiter": 2000, "gtol": 1e-9}
        best = None
        self.iterations_ = 0
        for start in self._starts(mean_x, mean_T):
            res = optimize.minimize(f, start, jac=g, method="BFGS", options=opts)
            self.iterations_ += int(res.nit)
            if best is None or res.fun < best.fun:
                best = res
        assert best is not None
        # restart from the best point: a stale curvature estimate can stop the search early in a flat valley
        again = optimize.minimize(f, best.x, jac=g, method="BFGS", options=opts)
        self.iterations_ += int(again.nit)
        if again.fun <= best.fun:
            best = again
        xopt = best.x
        self.message_ = str(best.message)
        found = f"{int(n)} customers, {int(np.sum(np.asarray(x) > 0))} repeat buyers"
        allowed = "a longer history (a later --until or an export covering more months) or more customers"
        at_bound = [self.param_names[i] for i in range(len(xopt)) if not abs(xopt[i]) < MAX_EXP - 0.5]
        if at_bound or best.fun >= 1e10:
            raise DataError(
                f"the {self.label} repeat-purchase fit did not converge"
                + (f" (parameter {', '.join(at_bound)} ran to its limit)" if at_bound else ""),
                file=source,
                found=found,
                allowed=allowed,
            )
        hess = (hessian(f, xopt) if g is None else hessian_from_gradient(g, xopt)) * n
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
        self.log_covariance_ = np.linalg.inv(hess)
        grad = optimize.approx_fprime(xopt, f, 1e-7) if g is None else g(xopt)
        self.converged_ = bool(best.success or np.max(np.abs(grad)) < 1e-5)
        self.params_ = dict(zip(self.param_names, (float(v) for v in theta), strict=True))
        self.standard_errors_ = dict(
            zip(self.param_names, (float(v) for v in theta * np.sqrt(np.diag(self.log_covariance_))), strict=True)
        )
        self.log_likelihood_ = float(-best.fun * n)
        return self

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
        }


def _unique_histories(x, t_x, T, weights=None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Distinct (x, t_x, T) with their weights (summed)."""
    triples = np.stack([np.asarray(x), np.asarray(t_x), np.asarray(T)], axis=1).astype(float)
    w = np.ones(len(triples)) if weights is None else np.asarray(weights, dtype=float)
    uniq, inverse = np.unique(triples, axis=0, return_inverse=True)
    wsum = np.bincount(inverse.ravel(), weights=w, minlength=len(uniq))
    return uniq[:, 0], uniq[:, 1], uniq[:, 2], wsum


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


def hessian_from_gradient(g: Callable[[np.ndarray], np.ndarray], x0: np.ndarray, step: float = 1e-5) -> np.ndarray:
    """Hessian by central differences of an analytic gradient, symmetrized."""
    k = len(x0)
    h = np.zeros((k, k))
    e = np.eye(k) * step
    for i in range(k):
        h[i] = (g(x0 + e[i]) - g(x0 - e[i])) / (2.0 * step)
    return 0.5 * (h + h.T)
