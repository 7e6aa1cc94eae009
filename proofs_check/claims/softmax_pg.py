r"""Convergence rates of exact softmax policy gradient and natural policy gradient.

One claim, ``dp.softmax-pg-rates``: *exact softmax policy gradient converges at rate*
:math:`O(1/t)` *without entropy and linearly with entropy regularization; entropy-regularized
natural policy gradient converges linearly at rate* :math:`1-\eta\tau`.

Statements checked (rewards in :math:`[0,1]`, :math:`\mu > 0`; objective
:math:`\tilde V^\pi(\rho) = \mathbb E[\sum_t\gamma^t(r - \tau\log\pi)]`, :math:`\tau = 0`
without entropy):

0. **Gradient** (Mei et al. 2020, Lemma 1 and Lemma 10; Agarwal et al. 2021, Lemma C.1):
   :math:`\partial\tilde V^{\pi_\theta}(\mu)/\partial\theta(s,a) = \frac{1}{1-\gamma}
   d^{\pi_\theta}_\mu(s)\pi_\theta(a\mid s)\tilde A^{\pi_\theta}(s,a)`. Theorems 4 and 6
   are about gradient ascent with *this* gradient, so the check first compares the gradient
   the algorithm uses against a complex-step derivative of the value (an independent
   computation from the definition :math:`\tilde V = (I-\gamma P_\pi)^{-1}(r_\pi -
   \tau\sum_a\pi\log\pi)`), accurate to rounding.
1. **Mei et al. 2020, Thm. 4.** With :math:`\eta = (1-\gamma)^3/8` and
   :math:`\theta_1` arbitrary, for all :math:`t\ge 1`

   .. math::

       V^*(\rho) - V^{\pi_{\theta_t}}(\rho) \le \frac{16\,S}{c^2(1-\gamma)^6\,t}
       \Big\|\frac{d^{\pi^*}_\mu}{\mu}\Big\|_\infty^2\Big\|\frac1\mu\Big\|_\infty,
       \qquad c = \inf_{t\ge1}\min_s \pi_{\theta_t}(a^*(s)\mid s) > 0 \ \text{(Lemma 9)}.

   (Algorithm 1 numbers the initialization :math:`\theta_1`.) Checked at every iterate with
   :math:`\rho = \mu` and :math:`c` computed from the run itself (the minimum over the computed
   iterates, which can only make the bound smaller, i.e. the check stricter). With the lower
   bound of Thm. 10 (:math:`\Omega(1/t)` for large :math:`t`) the rate is :math:`\Theta(1/t)`:
   the fitted log-log slope of the sub-optimality over the last decade of iterations, with a 95%
   bootstrap interval over instances (:func:`tabular_rl.rates.fits.fit_slope`, geometric-mean
   center), must lie in :math:`(-1.5, -0.75)` -- closer to the stated exponent :math:`-1` than
   to its neighbours :math:`-1/2` and :math:`-2` (and far from the unbounded slope of a linear
   rate).
2. **Mei et al. 2020, Thm. 6.** With entropy and
   :math:`\eta = (1-\gamma)^3/(8 + \tau(4 + 8\log A))`, for all :math:`t \ge 1`

   .. math::

       \tilde V^{\pi^*_\tau}(\rho) - \tilde V^{\pi_{\theta_t}}(\rho) \le
       \Big\|\frac1\mu\Big\|_\infty\frac{1+\tau\log A}{(1-\gamma)^2}\, e^{-C(t-1)},
       \quad C = \frac{(1-\gamma)^4}{(8/\tau + 4 + 8\log A)\,S}\min_s\mu(s)
       \inf_{t\ge1}\min_{s,a}\pi_{\theta_t}(a\mid s)^2
       \Big\|\frac{d^{\pi^*_\tau}_\mu}{\mu}\Big\|_\infty^{-1}.

   Checked at every iterate (optimum from soft value iteration, ``tol=1e-12``; the infimum
   over the run and the limit :math:`\pi^*_\tau`), and the linear rate: the slope of
   :math:`\log` sub-optimality against :math:`t` over the second half of the iterations
   above the floating-point floor, per instance, must be at least :math:`C` (the stated
   rate), with a bootstrap interval over instances for the mean fitted rate.
3. **Cen et al. 2022, Thm. 1.** Entropy-regularized NPG with
   :math:`0<\eta\le(1-\gamma)/\tau` and any :math:`\pi^{(0)}` with full support: for all
   :math:`t\ge0`,

   .. math::

       \|Q^*_\tau - Q^{(t+1)}_\tau\|_\infty \le C_1\gamma(1-\eta\tau)^t, \qquad
       \|\log\pi^*_\tau - \log\pi^{(t+1)}\|_\infty \le 2C_1\tau^{-1}(1-\eta\tau)^t,

   :math:`C_1 = \|Q^*_\tau - Q^{(0)}_\tau\|_\infty + 2\tau(1-\frac{\eta\tau}{1-\gamma})
   \|\log\pi^*_\tau - \log\pi^{(0)}\|_\infty`. Checked at every iterate, for
   :math:`\eta = (1-\gamma)/\tau` (soft policy iteration) and half of it; the soft
   :math:`Q` of each iterate is recomputed independently with
   :func:`tabular_rl.regularized_q_function`.
4. **Agarwal et al. 2021, Thm. 16** (unregularized NPG, :math:`\pi^{(0)}` uniform, any
   :math:`\eta>0`): :math:`V^*(\rho) - V^{(T)}(\rho) \le \frac{\log A}{\eta T} +
   \frac{1}{(1-\gamma)^2 T}` for every :math:`T \ge 1`.

Every "at every iterate" inequality allows a floating-point slack
:math:`64\,S\,u\,\|\tilde V\|` plus the certified error of the optimum (:math:`u` the unit
roundoff). The check takes the gradient and the NPG update as keyword arguments, so tests
hand it a deliberately wrong algorithm (no :math:`d^\pi` weighting, a flipped entropy sign,
an NPG step beyond :math:`(1-\gamma)/\tau`) and see the verdict turn to ``"fail"``.

Source note: the search tool returned the abstracts (ar5iv/arXiv pages 2005.06392 and
2007.06558) but not the theorem pages; the statements above are transcribed from the
published papers (Mei et al., ICML 2020, PMLR 119; Cen et al., Operations Research 70(4),
2022; Agarwal et al., JMLR 22(98), 2021) as recalled, and the constants should be verified
against the PDFs.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from tabular_rl import FiniteMDP, regularized_q_function, state_occupancy
from tabular_rl.planning import policy_iteration, soft_value_iteration
from tabular_rl.planning.policy_gradient import (
    PGState,
    exact_gradient,
    log_softmax,
    natural_policy_gradient,
    npg_update,
    policy_gradient_state,
    soft_optimum_tol,
    softmax_policy_gradient_batch,
)
from tabular_rl.regularizers import Shannon

from .._instances import random_kernel, rng_for
from ..registry import Claim, Paper, Report, register

__all__ = ["SOFTMAX_PG_RATES", "check_softmax_pg_rates"]

_EPS = float(np.finfo(np.float64).eps)
_U = _EPS / 2
#: The fitted log-log exponent must be closer to -1 than to -1/2 and to -2.
SLOPE_BAND = (-1.5, -0.75)

MEI = Paper(title="On the Global Convergence Rates of Softmax Policy Gradient Methods",
            authors="J. Mei, C. Xiao, C. Szepesvári and D. Schuurmans", venue="ICML", year=2020)
CEN = Paper(title="Fast Global Convergence of Natural Policy Gradient Methods with Entropy "
                  "Regularization",
            authors="S. Cen, C. Cheng, Y. Chen, Y. Wei and Y. Chi",
            venue="Operations Research 70(4)", year=2022)
AGARWAL = Paper(title="On the Theory of Policy Gradient Methods: Optimality, Approximation, "
                      "and Distribution Shift",
                authors="A. Agarwal, S. M. Kakade, J. D. Lee and G. Mahajan",
                venue="JMLR 22(98)", year=2021)


# ----------------------------------------------------------------------------- instances


def _instances(seed: int, S: int, A: int, gamma: float, n: int, tag: int) -> list[FiniteMDP]:
    """``n`` dense MDPs with rewards spanning exactly [0, 1] and mu bounded away from 0."""
    out = []
    for i in range(n):
        rng = rng_for(seed, 10_000 * tag + i)
        P = random_kernel(rng, S, A, deterministic_frac=0.1, absorbing_frac=0.1)
        r = rng.uniform(size=(S, A))
        r = (r - r.min()) / np.ptp(r)
        mu = 0.5 * rng.dirichlet(np.ones(S)) + 0.5 / S
        out.append(FiniteMDP(P, r, gamma, mu / mu.sum()))
    return out


def _slack(mdp: FiniteMDP, tau: float, opt_err: float) -> float:
    """Floating-point allowance on a computed sub-optimality."""
    scale = (1.0 + tau * np.log(mdp.A)) / (1.0 - mdp.gamma)
    return 64.0 * mdp.S * _U * scale / (1.0 - mdp.gamma) + opt_err


# ------------------------------------------------------------------ 0. gradient identity


def _value_complex(mdp: FiniteMDP, theta: np.ndarray, tau: float) -> np.ndarray:
    r""":math:`\tilde V^{\pi_\theta}(\mu)` for a batch of complex logits ``(K, S, A)``."""
    z = theta - theta.real.max(axis=-1, keepdims=True)
    log_pi = z - np.log(np.exp(z).sum(axis=-1, keepdims=True))
    pi = np.exp(log_pi)
    b = np.einsum("ksa,sa->ks", pi, mdp.r) - tau * np.einsum("ksa,ksa->ks", pi, log_pi)
    M = np.eye(mdp.S) - mdp.gamma * np.einsum("ksa,sat->kst", pi, mdp.P)
    v = np.linalg.solve(M, b[..., None])[..., 0]
    return v @ mdp.mu


def _complex_step_gradient(mdp: FiniteMDP, theta: np.ndarray, tau: float) -> np.ndarray:
    """Complex-step derivative (Squire & Trapp 1998): exact to rounding, no cancellation."""
    h = 1e-30
    K = mdp.S * mdp.A
    pert = np.broadcast_to(theta, (K, mdp.S, mdp.A)).astype(np.complex128)
    pert = pert + 1j * h * np.eye(K).reshape(K, mdp.S, mdp.A)
    return (_value_complex(mdp, pert, tau).imag / h).reshape(mdp.S, mdp.A)


def _gradient_errors(mdps, taus, gradient, rng) -> tuple[float, str]:
    worst, where = 0.0, "-"
    for k, mdp in enumerate(mdps):
        for tau in taus:
            for scale in (0.0, 1.0, 5.0):
                theta = scale * rng.normal(size=(mdp.S, mdp.A))
                st = policy_gradient_state(mdp, theta, tau=tau)
                g = np.asarray(gradient(st), dtype=np.float64)[0]
                ref = _complex_step_gradient(mdp, theta, tau)
                gscale = (1.0 + tau * np.log(mdp.A)) / (1.0 - mdp.gamma) ** 3
                tol = 1e3 * mdp.S * mdp.A * _EPS * gscale
                err = float(np.abs(g - ref).max()) / tol
                if err > worst:
                    worst, where = err, f"instance {k}, tau={tau:g}, |theta|~{scale:g}"
    return worst, where


# ----------------------------------------------------------- 1. Thm. 4 and the O(1/t) rate


def _thm4(mdps, results):
    """Per instance: max ratio of sub-optimality to the Thm. 4 bound, c, and the bound.

    Mei et al. index iterates from :math:`\theta_1` = the initialization, so our iterate
    ``k = 0..T`` is their :math:`t = k + 1`; :math:`c` is the minimum over all of them."""
    ratios, cs, bounds = [], [], []
    for mdp, res in zip(mdps, results, strict=True):
        pistar = policy_iteration(mdp).policy
        dstar = state_occupancy(mdp, pistar, mdp.mu)
        c = float(np.min(res.min_optimal_prob))
        t = np.arange(1, res.iterations + 2)
        with np.errstate(divide="ignore"):
            bound = (16.0 * mdp.S / (c ** 2 * (1.0 - mdp.gamma) ** 6 * t)
                     * np.max(dstar / mdp.mu) ** 2 * np.max(1.0 / mdp.mu))
        e = res.suboptimality
        ratios.append(float(np.max(e / (bound + _slack(mdp, 0.0, res.optimum_error)))))
        cs.append(c)
        bounds.append(bound)
    return np.array(ratios), np.array(cs), bounds


# ---------------------------------------------------------- 2. Thm. 6, entropy, linear rate


def _thm6(mdps, results, tau: float):
    """Per instance: max bound ratio, fitted linear rate, stated rate C and the bound
    (iterate ``k`` is Mei et al.'s :math:`t = k + 1`, as in :func:`_thm4`)."""
    ratios, rates, stated, bounds = [], [], [], []
    for mdp, res in zip(mdps, results, strict=True):
        sol = soft_value_iteration(mdp, Shannon(tau), tol=soft_optimum_tol(mdp, tau))
        pistar = sol.policy
        dstar = state_occupancy(mdp, pistar, mdp.mu)
        pmin = min(float(np.min(res.min_prob)), float(pistar.min()))
        A, S, g = mdp.A, mdp.S, mdp.gamma
        C = ((1.0 - g) ** 4 / ((8.0 / tau + 4.0 + 8.0 * np.log(A)) * S) * float(mdp.mu.min())
             * pmin ** 2 / float(np.max(dstar / mdp.mu)))
        t = np.arange(1, res.iterations + 2)
        bound = (np.max(1.0 / mdp.mu) * (1.0 + tau * np.log(A)) / (1.0 - g) ** 2
                 * np.exp(-C * (t - 1)))
        e = res.suboptimality
        sl = _slack(mdp, tau, res.optimum_error)
        ratios.append(float(np.max(e / (bound + sl))))
        # Linear rate: log e against t over the second half of the iterations above the floor.
        above = np.flatnonzero(e > 100.0 * sl)
        if above.size < 4:
            rates.append(np.nan)
        else:
            t_f = int(above[-1])
            idx = above[above >= t_f // 2]
            slope = np.polyfit(t[idx], np.log(e[idx]), 1)[0] if idx.size >= 4 else np.nan
            rates.append(-float(slope))
        stated.append(C)
        bounds.append(bound)
    return np.array(ratios), np.array(rates), np.array(stated), bounds


# ------------------------------------------------------------------- 3. Cen et al. Thm. 1


def _cen(mdp: FiniteMDP, tau: float, eta: float, n_iter: int, update):
    """Max ratio over iterates of the two Thm. 1 errors to their bounds; the Q errors
    :math:`t = 0..T` and the Q bound for :math:`t = 1..T`."""
    sol = soft_value_iteration(mdp, Shannon(tau), tol=soft_optimum_tol(mdp, tau))
    q_star = sol.q
    log_star = log_softmax(q_star / tau)
    res = natural_policy_gradient(mdp, n_iter=n_iter, eta=eta, tau=tau, record_policies=True,
                                  update=update)
    reg = Shannon(tau)
    q_err = np.empty(n_iter + 1)
    l_err = np.empty(n_iter + 1)
    for t in range(n_iter + 1):
        pi = res.policies[t]
        q_err[t] = np.abs(q_star - regularized_q_function(mdp, pi, reg)).max()
        with np.errstate(divide="ignore"):
            l_err[t] = np.abs(log_star - np.log(pi)).max()
    C1 = q_err[0] + 2.0 * tau * (1.0 - eta * tau / (1.0 - mdp.gamma)) * l_err[0]
    t = np.arange(n_iter)
    rate = (1.0 - eta * tau) ** t
    fp = _slack(mdp, tau, mdp.gamma * sol.error_bound)
    rq = np.max(q_err[1:] / (C1 * mdp.gamma * rate + fp))
    # log-policy floor: a Q error of fp moves log pi by about 2 fp / tau.
    rl = np.max(l_err[1:] / (2.0 * C1 / tau * rate + 2.0 * fp / tau))
    return float(max(rq, rl)), q_err, C1 * mdp.gamma * rate


# ---------------------------------------------------------------- 4. Agarwal et al. Thm. 16


def _thm16(mdp: FiniteMDP, eta: float, n_iter: int, update) -> float:
    res = natural_policy_gradient(mdp, n_iter=n_iter, eta=eta, tau=0.0, update=update)
    T = np.arange(1, n_iter + 1)
    bound = np.log(mdp.A) / (eta * T) + 1.0 / ((1.0 - mdp.gamma) ** 2 * T)
    e = res.suboptimality[1:]
    return float(np.max(e / (bound + _slack(mdp, 0.0, res.optimum_error))))


# ------------------------------------------------------------------------------- figure


def _figure(out_dir, pg_runs, ent_runs, npg_runs) -> str:

    from pathlib import Path

    from tabular_rl.plotting import agg_subplots

    fig, axes = agg_subplots(1, 3, figsize=(16, 4.8))
    ax = axes[0]
    for k, (t, e, bound) in enumerate(pg_runs):
        ax.loglog(t, e, color=f"C{k % 10}", lw=1.2,
                  label="softmax PG, sub-optimality" if k == 0 else None)
        ax.loglog(t, bound, color=f"C{k % 10}", lw=0.8, ls="--",
                  label="Thm. 4 bound (same colour)" if k == 0 else None)
    t, e, _ = pg_runs[0]
    ax.loglog(t, 0.3 * e[-1] * (t[-1] / t), color="k", lw=1.5, ls=":", label="slope -1")
    ax.set_xlabel("iteration t")
    ax.set_ylabel(r"$V^*(\mu) - V^{\pi_{\theta_t}}(\mu)$")
    ax.set_title("no entropy: O(1/t) (log-log)")
    ax.legend(fontsize=8)
    ax = axes[1]
    for k, (t, e, bound) in enumerate(ent_runs):
        ax.semilogy(t, e, color=f"C{k % 10}", lw=1.2,
                    label="entropy PG, regularized sub-optimality" if k == 0 else None)
        ax.semilogy(t, bound, color=f"C{k % 10}", lw=0.8, ls="--",
                    label="Thm. 6 bound (same colour)" if k == 0 else None)
    ax.set_xlabel("iteration t")
    ax.set_ylabel(r"$\tilde V^*(\mu) - \tilde V^{\pi_{\theta_t}}(\mu)$")
    ax.set_title("entropy: linear (semilog)")
    ax.legend(fontsize=8)
    ax = axes[2]
    for k, (t, e, bound, lab) in enumerate(npg_runs):
        ax.semilogy(t, e, color=f"C{k % 10}", lw=1.2, label=lab)
        ax.semilogy(t, bound, color=f"C{k % 10}", lw=0.8, ls="--")
    ax.set_xlabel("iteration t")
    ax.set_ylabel(r"$\|Q^*_\tau - Q^{(t)}_\tau\|_\infty$ (dashed: Cen et al. Thm. 1)")
    ax.set_title(r"entropy-regularized NPG: rate $1-\eta\tau$ (semilog)")
    ax.set_ylim(1e-16, None)
    ax.legend(fontsize=8)
    for ax in axes:
        ax.grid(True, which="both", alpha=0.3)
    fig.suptitle("dp.softmax-pg-rates: exact softmax PG O(1/t) without entropy, "
                 "linear with entropy; NPG linear (Mei et al. 2020; Cen et al. 2022)")
    fig.tight_layout()
    path = Path(out_dir) / "dp.softmax-pg-rates.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    return str(path)


# --------------------------------------------------------------------------------- check


#: The parts of the check, in order; ``check_softmax_pg_rates(parts=...)`` runs a subset.
PARTS = ("gradient", "pg", "entropy_pg", "npg")


def _part_gradient(seed, rng, grad, tau):
    mdps = _instances(seed, 3, 3, 0.5, 2, tag=9) + _instances(seed, 4, 2, 0.9, 1, tag=8)
    err, where = _gradient_errors(mdps, (0.0, tau), grad, rng)
    notes = [f"gradient vs complex-step derivative: max error / tol = {err:.3g} ({where})"]
    if not err <= 1.0:
        notes.append("FAILED: the ascent direction is not the gradient (Lemma 1 / Lemma 10)")
    return (err <= 1.0, {"gradient_error_over_tol": float(err)},
            {"gradient_error_over_tol": 1.0}, notes, len(mdps))


def _part_pg(seed, groups, T, grad, fit_slope):
    """Thm. 4 at every iterate and the tail log-log slope."""
    ys, ratios, cs, fig = [], [], [], []
    grid = np.unique(np.geomspace(T / 10, T, 20).astype(int))
    n = 0
    for gi, (S, A, g, B) in enumerate(groups):
        mdps = _instances(seed, S, A, g, B, tag=gi)
        n += B
        res = softmax_policy_gradient_batch(mdps, n_iter=T, gradient=grad)
        r4, c, bounds = _thm4(mdps, res)
        ratios.append(r4)
        cs.append(c)
        ys.append(np.stack([r.suboptimality[grid] for r in res], axis=1))
        if gi == 0:
            t = np.unique(np.geomspace(1, T, 300).astype(int))
            fig = [(t, r.suboptimality[t], b[t]) for r, b in zip(res[:4], bounds[:4],
                                                                 strict=False)]
    y = np.concatenate(ys, axis=1)
    ratios, cs = np.concatenate(ratios), np.concatenate(cs)
    notes = []
    if np.all(np.isfinite(y)) and np.all(y > 0):
        fit = fit_slope(grid.astype(float), y, center="geomean", seed=seed)
        ok_slope = SLOPE_BAND[0] < fit.low and fit.high < SLOPE_BAND[1]
        slope, lo, hi = fit.slope, fit.low, fit.high
        notes.append(f"PG (tau=0) tail slope over t in [{grid[0]}, {grid[-1]}] (geometric "
                     f"mean over {y.shape[1]} instances): {fit}")
    else:
        ok_slope, slope, lo, hi = False, np.nan, np.nan, np.nan
        notes.append("PG sub-optimality reached 0 or a non-finite value on the fit window")
    ok4 = bool(np.all(ratios <= 1.0)) and bool(np.all(cs > 0))
    notes.append(f"Thm. 4 at every iterate: max sub-optimality / bound {ratios.max():.3g}; "
                 f"c in [{cs.min():.3g}, {cs.max():.3g}]")
    if not ok_slope:
        notes.append(f"FAILED: O(1/t) slope interval not inside {SLOPE_BAND}")
    if not ok4:
        notes.append("FAILED: Mei et al. Thm. 4 bound")
    measured = {"pg_slope": float(slope), "pg_slope_low": float(lo), "pg_slope_high": float(hi),
                "pg_thm4_bound_ratio": float(ratios.max()), "pg_c_min": float(cs.min())}
    stated = {"pg_slope": -1.0, "pg_slope_low": f"> {SLOPE_BAND[0]}",
              "pg_slope_high": f"< {SLOPE_BAND[1]}", "pg_thm4_bound_ratio": 1.0}
    return ok_slope and ok4, measured, stated, notes, n, fig


def _part_entropy_pg(seed, groups, T, grad, tau, rng):
    """Thm. 6 at every iterate and the fitted linear rate against the stated one."""
    r6, rates, Cs, fig = [], [], [], []
    n = 0
    for gi, (S, A, g, B) in enumerate(groups):
        mdps = _instances(seed, S, A, g, B, tag=gi)
        n += B
        res = softmax_policy_gradient_batch(mdps, n_iter=T, tau=tau, gradient=grad)
        a, b, c, bounds = _thm6(mdps, res, tau)
        r6.append(a)
        rates.append(b)
        Cs.append(c)
        if gi == 0:
            t = np.arange(1, T + 1)
            fig = [(t, np.maximum(r.suboptimality[1:], 1e-17), bd[1:])
                   for r, bd in zip(res[:4], bounds[:4], strict=False)]
    r6, rates, Cs = np.concatenate(r6), np.concatenate(rates), np.concatenate(Cs)
    ratio = rates / Cs
    ok_rate = bool(np.all(np.isfinite(ratio))) and bool(np.all(ratio >= 1.0))
    ok_bound = bool(np.all(r6 <= 1.0))
    if np.all(np.isfinite(rates)) and np.all(rates > 0):
        lr = np.log(rates)
        boots = np.exp(lr[rng.integers(0, lr.size, (2000, lr.size))].mean(axis=1))
        lo, hi = (float(x) for x in np.quantile(boots, [0.025, 0.975]))
        gm = float(np.exp(lr.mean()))
    else:
        lo = hi = gm = float("nan")
    worst = float(np.nanmin(ratio)) if np.any(np.isfinite(ratio)) else float("nan")
    notes = [f"Thm. 6 (tau={tau}): max bound ratio {r6.max():.3g}; fitted linear rate "
             f"(-slope of log error vs t) geometric mean {gm:.3g} [{lo:.3g}, {hi:.3g}] (95% "
             f"bootstrap over {rates.size} instances); min fitted/stated rate {worst:.3g} "
             f"(stated C in [{Cs.min():.3g}, {Cs.max():.3g}])"]
    if not ok_rate:
        notes.append("FAILED: fitted linear rate below the Thm. 6 rate C (or no decay)")
    if not ok_bound:
        notes.append("FAILED: Mei et al. Thm. 6 bound")
    measured = {"ent_pg_min_rate_over_stated": worst, "ent_pg_rate_geomean": gm,
                "ent_pg_rate_low": lo, "ent_pg_rate_high": hi,
                "ent_pg_thm6_bound_ratio": float(r6.max())}
    stated = {"ent_pg_min_rate_over_stated": ">= 1 (Thm. 6 rate C)",
              "ent_pg_thm6_bound_ratio": 1.0}
    return ok_rate and ok_bound, measured, stated, notes, n, fig


def _part_npg(seed, groups, T, step, tau, n_max):
    """Cen et al. Thm. 1 and Agarwal et al. Thm. 16 at every iterate."""
    mdps = [m for gi, (S, A, g, B) in enumerate(groups)
            for m in _instances(seed, S, A, g, B, tag=gi)][:n_max]
    cen, t16, fig = [], [], []
    for k, mdp in enumerate(mdps):
        for frac in (1.0, 0.5):
            eta = frac * (1.0 - mdp.gamma) / tau
            rc, q_err, q_bound = _cen(mdp, tau, eta, T, step)
            cen.append(rc)
            if k < 2:
                fig.append((np.arange(1, T + 1), np.maximum(q_err[1:], 1e-17), q_bound,
                            f"instance {k}, eta={frac:g}(1-gamma)/tau"))
        for eta in (0.1, 1.0):
            t16.append(_thm16(mdp, eta, 4 * T, step))
    cen, t16 = np.array(cen), np.array(t16)
    ok_cen, ok16 = bool(np.all(cen <= 1.0)), bool(np.all(t16 <= 1.0))
    notes = [f"Cen et al. Thm. 1 (tau={tau}, eta in {{1, 0.5}}(1-gamma)/tau): max error / "
             f"bound {cen.max():.3g}; Agarwal et al. Thm. 16 (eta in {{0.1, 1}}): max "
             f"sub-optimality / bound {t16.max():.3g}"]
    if not ok_cen:
        notes.append("FAILED: Cen et al. Thm. 1 bound")
    if not ok16:
        notes.append("FAILED: Agarwal et al. Thm. 16 bound")
    measured = {"npg_cen_bound_ratio": float(cen.max()),
                "npg_thm16_bound_ratio": float(t16.max())}
    stated = {"npg_cen_bound_ratio": 1.0, "npg_thm16_bound_ratio": 1.0}
    return ok_cen and ok16, measured, stated, notes, len(mdps), fig


def check_softmax_pg_rates(quick: bool = False, *, seed: int = 0, out_dir="paper_figures",
                           gradient: Callable[[PGState], np.ndarray] | None = None,
                           npg_step: Callable[..., np.ndarray] | None = None,
                           parts: tuple[str, ...] = PARTS, plot: bool = True) -> Report:
    r"""Check Mei et al. (2020) Thms. 4 and 6, Cen et al. (2022) Thm. 1 and Agarwal et al.
    (2021) Thm. 16 on random MDPs (see the module docstring for the exact statements).

    Parameters
    ----------
    quick : bool
        6 instances and :math:`2\cdot10^4` PG iterations, instead of 24 instances in two
        shape/discount groups and :math:`10^5` iterations.
    seed : int
        Fixes every instance.
    out_dir : str or path
        Where the figure goes.
    gradient : callable, optional
        ``gradient(state: PGState) -> (B, S, A)``, the ascent direction of softmax PG
        (default :func:`tabular_rl.planning.policy_gradient.exact_gradient`).
    npg_step : callable, optional
        ``npg_step(mdp, log_pi, q, eta=..., tau=...) -> log_pi'`` (default
        :func:`tabular_rl.planning.policy_gradient.npg_update`).
    parts : tuple of str
        Subset of :data:`PARTS` to run: ``"gradient"`` (Lemma 1/10), ``"pg"`` (Thm. 4 and
        the :math:`O(1/t)` slope), ``"entropy_pg"`` (Thm. 6), ``"npg"`` (Cen et al. Thm. 1,
        Agarwal et al. Thm. 16). The claim is the conjunction of all of them.
    plot : bool
        Write the figure (when the parts it shows were run).

    Returns
    -------
    Report
        ``pg_slope`` (with ``pg_slope_low``/``pg_slope_high``, the 95% bootstrap interval)
        must lie in ``SLOPE_BAND``; every ``*_bound_ratio`` must be :math:`\le 1`;
        ``ent_pg_min_rate_over_stated`` :math:`\ge 1`; ``gradient_error_over_tol``
        :math:`\le 1`.
    """
    from tabular_rl.rates.fits import fit_slope

    bad = [p for p in parts if p not in PARTS]
    if bad or not parts:
        raise ValueError(f"parts must be a non-empty subset of {PARTS}, got {parts!r}")
    grad = exact_gradient if gradient is None else gradient
    step = npg_update if npg_step is None else npg_step
    rng = np.random.default_rng([seed, 7])
    tau = 0.5
    if quick:
        groups, T_pg, T_ent, T_npg, n_npg = [(4, 3, 0.3, 6)], 20_000, 6_000, 40, 4
    else:
        groups = [(4, 3, 0.3, 12), (3, 2, 0.5, 12)]
        T_pg, T_ent, T_npg, n_npg = 100_000, 20_000, 60, 12
    ok, measured, stated, notes, n_inst = True, {}, {}, [], 0
    figs = {"pg": [], "entropy_pg": [], "npg": []}
    for part in PARTS:
        if part not in parts:
            continue
        if part == "gradient":
            out = _part_gradient(seed, rng, grad, tau)
        elif part == "pg":
            *out, figs["pg"] = _part_pg(seed, groups, T_pg, grad, fit_slope)
        elif part == "entropy_pg":
            *out, figs["entropy_pg"] = _part_entropy_pg(seed, groups, T_ent, grad, tau, rng)
        else:
            *out, figs["npg"] = _part_npg(seed, groups, T_npg, step, tau, n_npg)
        part_ok, m, st, nt, n = out
        ok = ok and part_ok
        measured.update(m)
        stated.update(st)
        notes.extend(nt)
        n_inst = max(n_inst, n) if part != "gradient" else n_inst + n
    figures = ()
    if plot and all(figs.values()):
        figures = (_figure(out_dir, figs["pg"], figs["entropy_pg"], figs["npg"]),)
    return Report(claim_id="dp.softmax-pg-rates", verdict="pass" if ok else "fail",
                  measured=measured, stated=stated, details="\n".join(notes),
                  figures=figures, n_instances=n_inst)


SOFTMAX_PG_RATES = register(Claim(
    id="dp.softmax-pg-rates",
    paper=MEI,
    statement=(
        "Mei et al. 2020, Thm. 4: exact softmax PG with eta=(1-gamma)^3/8 has "
        "V*(rho) - V^{pi_t}(rho) <= 16 S / (c^2 (1-gamma)^6 t) ||d^{pi*}_mu/mu||^2 ||1/mu|| "
        "(O(1/t); Omega(1/t) by Thm. 10); Thm. 6: with entropy and "
        "eta=(1-gamma)^3/(8+tau(4+8 log A)) the regularized sub-optimality is "
        "<= ||1/mu|| (1+tau log A)/(1-gamma)^2 exp(-C(t-1)) (linear); Cen et al. 2022, "
        "Thm. 1: entropy-regularized NPG, 0<eta<=(1-gamma)/tau, "
        "||Q*_tau - Q_tau^{(t+1)}|| <= C1 gamma (1-eta tau)^t; Agarwal et al. 2021, Thm. 16: "
        "NPG V* - V^{(T)} <= log A/(eta T) + 1/((1-gamma)^2 T)."),
    kind="rate",
    instances=("random dense MDPs, rewards spanning [0,1], mu >= 1/(2S), (S,A,gamma) in "
               "{(4,3,0.3),(3,2,0.5)}; tau=0.5; 2e4 (quick) / 1e5 PG iterations"),
    check=check_softmax_pg_rates,
))
