"""A segment that never drops out, mixed with a repeat-purchase family: a candidate `calibrate` tries, and keeps
only if it forecasts better out of sample.

Some shops have a core of customers who keep buying for as long as anyone watches (a subscription habit, a
favourite store). A two-segment latent-class mixture expresses that: a share pi of the customers never drops
out (p = 0, or mu = 0) and buys at a Gamma(r, alpha) rate like everyone else, so that their histories follow the
NBD (Ehrenberg 1959; Morrison & Schmittlein 1988); the others follow the family. One customer's likelihood is

    L = pi * NBD(x, T) + (1 - pi) * L_family(x, t_x, T),
    NBD(x, T) = G(r+x) / G(r) * alpha^r / (alpha+T)^(r+x)      (the t_x-free "still active at T" term),

in the spirit of the "hard-core never-dropouts" extensions of the BTYD models (e.g. Jerath, Fader & Hardie
2011 on the periodic death opportunity model, and Batislam et al. 2007 on how a zero-dropout class shifts
forecasts). The share is fitted as its odds pi / (1 - pi) (a positive parameter, like the others). Each
customer's posterior share of the never-dropout segment, w = pi NBD / L, mixes the two segments' closed forms:
P(alive) = w + (1 - w) P_family(alive), and E[X(T, T+t)] = w (r+x) t / (alpha+T) + (1 - w) E_family.

`calibrate` compares it out of sample with the family it extends and keeps it when it forecasts better; the
scenario then carries it as `repeat_purchase.never_dropout_share`, which both engines simulate (the agent draws
each new person's dropout as 0 with that chance, the fast engine puts that share of each rate class into a
dropout class at zero), and the snapshot's customers and the closed-form forecasts use the mixture's posterior
(`Mixture`, the module-like counterpart of `bgnbd`, `mbgnbd` and `paretonbd`).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from types import ModuleType

import numpy as np
from scipy.special import digamma, gammaln

from sim.calibration.btyd import RepeatPurchaseFitter, if_active_of

SUFFIX = "+stayers"


def log_nbd(r, alpha, x, T) -> np.ndarray:
    """log NBD(x, T): x purchases in (0, T] of a customer who never drops out, lambda ~ Gamma(r, alpha),
    without the x! and T^x of the exact times (the families' likelihoods leave them out alike)."""
    x = np.asarray(x, dtype=float)
    return gammaln(r + x) - gammaln(r) + r * np.log(alpha) - (r + x) * np.log(alpha + T)


def _mix(odds: float, r: float, alpha: float, x, T, ll_family) -> tuple[np.ndarray, np.ndarray]:
    """(log L of the mixture, w = each customer's posterior share of the never-dropout segment) from the
    family's log L: L = pi NBD + (1 - pi) L_family with pi = odds / (1 + odds), w = pi NBD / L."""
    a = np.log(odds) - np.log1p(odds) + log_nbd(r, alpha, x, T)
    ll = np.logaddexp(a, -np.log1p(odds) + ll_family)
    return ll, np.exp(a - ll)


def _posterior_share(base: type[RepeatPurchaseFitter], theta, x, t_x, T):
    """(log L of the mixture, w = each customer's posterior share of the never-dropout segment, the family's
    (log L, d log L / d params, d log L / d times))."""
    *params, odds = theta
    x, t_x, T = (np.ravel(np.asarray(v, dtype=float)) for v in np.broadcast_arrays(x, t_x, T))
    ll_f, d_f, dt_f = base.gradients_fn(*params, x, t_x, T)
    ll, w = _mix(odds, params[0], params[1], x, T, ll_f)
    return ll, w, (ll_f, d_f, dt_f)


BOUNDARY_5PCT = 2.71  # 5% point of the score statistic of a share at its boundary 0 (half chi-square(0), half (1))


def score_test(base: RepeatPurchaseFitter, x, t_x, T) -> float:
    """The score (Lagrange multiplier) statistic for a never-dropout share at 0, at `base`'s fit: no refit.

    At odds 0 each customer's score for the odds is NBD / L_family - 1; the statistic is S' I^-1 S with the
    outer product of all the scores (the family's, in log-parameters, and the odds') as the information, so that
    the family's parameters are allowed to adjust. A negative score (the data pull the share below 0) is 0."""
    from sim.calibration.btyd import _unique_histories

    ux, ut, uT, w = _unique_histories(x, t_x, T)
    with np.errstate(all="ignore"):
        ll_f, d_f, _ = base.gradients_fn(*base.values, ux, ut, uT)
        odds_score = np.exp(log_nbd(base.values[0], base.values[1], ux, uT) - ll_f) - 1.0
    scores = np.column_stack([d_f * np.asarray(base.values), odds_score])
    total = float(w @ odds_score)
    if not np.all(np.isfinite(scores)) or total <= 0.0:
        return 0.0
    info = (scores * w[:, None]).T @ scores
    g = np.zeros(scores.shape[1])
    g[-1] = total
    try:
        return float(g @ np.linalg.solve(info, g))
    except np.linalg.LinAlgError:
        return 0.0


@cache
def with_stayers(base: type[RepeatPurchaseFitter]) -> type[RepeatPurchaseFitter]:
    """The fitter of `base`'s family with a never-dropout segment (one more parameter: `stayer_odds`)."""

    def _log_likelihood(*args):
        theta, (x, t_x, T) = args[:-3], args[-3:]
        return _posterior_share(base, theta, x, t_x, T)[0]

    def _gradients(*args):
        """Analytic: d log L = w d log NBD + (1 - w) d log L_family; d / d odds = w / odds - 1 / (1 + odds)."""
        theta, (x, t_x, T) = args[:-3], args[-3:]
        r, alpha, odds = theta[0], theta[1], theta[-1]
        ll, w, (_, d_f, dt_f) = _posterior_share(base, theta, x, t_x, T)
        x, T = np.ravel(np.asarray(x, dtype=float)), np.ravel(np.asarray(T, dtype=float))
        d = (1.0 - w)[:, None] * d_f
        d[:, 0] += w * (digamma(r + x) - digamma(r) + np.log(alpha) - np.log(alpha + T))
        d[:, 1] += w * (r / alpha - (r + x) / (alpha + T))
        d_odds = w / odds - 1.0 / (1.0 + odds)
        dt = (1.0 - w)[:, None] * dt_f
        dt[:, 1] += w * (-(r + x) / (alpha + T))
        return ll, np.column_stack([d, d_odds]), dt

    def _p_alive(*args):
        theta, (x, t_x, T) = args[:-3], args[-3:]
        shape = np.broadcast(x, t_x, T).shape
        _, w, _ = _posterior_share(base, theta, x, t_x, T)
        pa = base.p_alive_fn(*theta[:-1], *(np.ravel(v) for v in np.broadcast_arrays(x, t_x, T)))
        return (w + (1.0 - w) * pa).reshape(shape)

    def _conditional(t, *args):
        """E[X(T, T+t) | x, t_x, T]: customers' shape for a scalar t, (customers, times) for an array of times
        (customers given as 1-d arrays or as a column)."""
        (x, t_x, T), theta = args[:3], args[3:]
        shape = np.broadcast(x, t_x, T).shape
        x1, tx1, T1 = (np.ravel(v).astype(float) for v in np.broadcast_arrays(x, t_x, T))
        _, w, _ = _posterior_share(base, theta, x1, tx1, T1)
        times = np.ravel(np.asarray(t, dtype=float))[None, :]
        family = base.conditional_fn(times, x1[:, None], tx1[:, None], T1[:, None], *theta[:-1])
        stay = ((theta[0] + x1) / (theta[1] + T1))[:, None] * times
        out = w[:, None] * stay + (1.0 - w)[:, None] * family
        return out[:, 0].reshape(shape) if np.ndim(t) == 0 else out

    def _expected(t, *theta):
        r, alpha, odds = theta[0], theta[1], theta[-1]
        share = odds / (1.0 + odds)
        return share * r / alpha * np.asarray(t, dtype=float) + (1.0 - share) * base.expected_fn(t, *theta[:-1])

    def _time_hessian(*args):
        """Second derivatives of each customer's log L in its times (n, 3: d t_x^2, d t_x d T, d T^2), for the
        seasonal fit. With log L = log(e^A + e^B), A = log pi + log NBD (no t_x; dA/dT = -(r+x)/(alpha+T),
        d2A/dT2 = (r+x)/(alpha+T)^2) and B the family's: d2 log L = w d2A + (1-w) d2B + w(1-w) (dA - dB)(dA - dB)'."""
        theta, (x, t_x, T) = args[:-3], args[-3:]
        r, alpha = theta[0], theta[1]
        _, w, (_, _, dt_f) = _posterior_share(base, theta, x, t_x, T)
        h_f = base.time_hessian_fn(*theta[:-1], x, t_x, T)
        x, T = np.ravel(np.asarray(x, dtype=float)), np.ravel(np.asarray(T, dtype=float))
        gap_tx, gap_T = -dt_f[:, 0], -(r + x) / (alpha + T) - dt_f[:, 1]
        ww = w * (1.0 - w)
        return np.stack(
            [
                (1.0 - w) * h_f[:, 0] + ww * gap_tx**2,
                (1.0 - w) * h_f[:, 1] + ww * gap_tx * gap_T,
                w * (r + x) / (alpha + T) ** 2 + (1.0 - w) * h_f[:, 2] + ww * gap_T**2,
            ],
            axis=1,
        )

    class Fitter(base):  # type: ignore[misc, valid-type]
        family = base.family + SUFFIX
        label = f"{base.label} with a never-dropout segment"
        citation = f"{base.citation}; plus a never-dropout (NBD) segment, see sim.calibration.stayers"
        param_names = (*base.param_names, "stayer_odds")
        log_likelihood = staticmethod(_log_likelihood)
        gradients_fn = staticmethod(_gradients)
        time_hessian_fn = staticmethod(_time_hessian)
        p_alive_fn = staticmethod(_p_alive)
        expected_fn = staticmethod(_expected)
        conditional_fn = staticmethod(_conditional)

        def _starts(self, mean_x: float, mean_T: float) -> list[np.ndarray]:
            return [np.append(p, np.log(0.1)) for p in base._starts(self, mean_x, mean_T)]

        @property
        def stayer_share(self) -> float:
            """The fitted share of customers who never drop out."""
            odds = self.params_["stayer_odds"]
            return odds / (1.0 + odds)

    Fitter.__name__ = Fitter.__qualname__ = f"{base.__name__}WithStayers"
    return Fitter


class Mixture:
    """The closed forms and posterior of a family mixed with a never-dropout segment, called like the family's
    module (`families.module("pareto+stayers")`): parameters are the family's followed by `stayer_odds`."""

    def __init__(self, base: ModuleType):
        self.base = base

    def posterior_share(self, *args) -> np.ndarray:
        """w: each customer's posterior share of the never-dropout segment given (x, t_x, T)."""
        theta, (x, t_x, T) = args[:-3], args[-3:]
        ll_f = self.base.log_likelihood(*theta[:-1], x, t_x, T)
        return _mix(theta[-1], theta[0], theta[1], x, T, ll_f)[1]

    def p_alive(self, *args) -> np.ndarray:
        """P(active at T | x, t_x, T) = w + (1 - w) P_family(active)."""
        theta, hist = args[:-3], args[-3:]
        w = self.posterior_share(*theta, *hist)
        return w + (1.0 - w) * self.base.p_alive(*theta[:-1], *hist)

    def alive_parts(self, theta, x, t_x, T) -> list[tuple[np.ndarray, Callable]]:
        """Each segment's P(active in it at T | history) and E[purchases in (T, T+t] | active in it] as a function
        of (t, x, T): the never-dropout segment's NBD, (r+x) t / (alpha+T), and the family's."""
        r, alpha = theta[0], theta[1]
        w = self.posterior_share(*theta, x, t_x, T)
        family = theta[:-1]
        return [
            (w, lambda t, x, T: (r + x) / (alpha + T) * t),
            ((1.0 - w) * self.base.p_alive(*family, x, t_x, T), if_active_of(self.base, family)),
        ]

    def draw_posterior(self, *args, dead: bool = True):
        """(active, lambda, dropout) of each customer: in the never-dropout segment with its posterior share w,
        then active with lambda ~ Gamma(r+x, rate alpha+T) and dropout 0; otherwise drawn from the family's
        posterior (`dead=False`: NaN for the family's customers who have left, as the families do)."""
        theta, (x, t_x, T, rng) = args[:-4], args[-4:]
        x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
        stay = rng.random(len(x)) < self.posterior_share(*theta, x, t_x, T)
        active, lam, drop = self.base.draw_posterior(*theta[:-1], x, t_x, T, rng, dead=dead)
        lam_stay = rng.gamma(theta[0] + x[stay], 1.0 / (theta[1] + T[stay]))
        lam[stay], drop[stay] = lam_stay, 0.0  # the family's draws are fresh arrays: filled in place
        return active | stay, lam, drop

    def simulate_after(self, *args, **kwargs):
        """Purchases after the cut-off: the family's, a dropout of 0 never ending (`simulate_after`)."""
        return self.base.simulate_after(*args, **kwargs)
