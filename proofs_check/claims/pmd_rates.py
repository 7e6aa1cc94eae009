r"""Convergence rates of exact policy mirror descent (Xiao, JMLR 2022).

``dp.pmd-linear-rate`` — exact PMD with KL proximity (natural policy gradient / multiplicative
weights, :func:`tabular_rl.planning.pmd.policy_mirror_descent`) converges *linearly* when the
step sizes grow geometrically, :math:`\eta_k = \eta_0\gamma^{-k}`, and *sublinearly*,
:math:`O(1/k)`, with a constant step — without any regularization of the objective.

Paper: L. Xiao, "On the Convergence Rates of Policy Gradient Methods", JMLR 23(282), 2022
(arXiv:2201.07443), Sec. 4: **Thm. 8** (Sec. 4.1, constant step), **Prop. 9** and
**Thm. 10** (Sec. 4.2, steps with :math:`\eta_{k+1}(\vartheta_\rho - 1) \ge
\eta_k\vartheta_\rho`, Eq. (52), implied by :math:`\eta_{k+1} \ge \eta_k/\gamma`, Eq. (55)).
Theorem numbers, hypotheses and step-size conditions were read in a full-text conversion;
the displays of (53) and of Thm. 8's bound were not decoded there and are reconstructed from
the proof text (flagged below).

**Sign convention.** The paper *minimizes costs* :math:`c \in [0,1]`; this library
*maximizes rewards*. Take :math:`c = (r_{\max} - r)/\mathrm{sp}(r)`, :math:`\mathrm{sp}(r)
= r_{\max} - r_{\min}` (an affine map into :math:`[0,1]`): the cost Q-function is
:math:`(r_{\max}/(1-\gamma) - Q)/\mathrm{sp}(r)`, so the KL-PMD iterates with reward step
:math:`\eta` are the paper's iterates with cost step :math:`\eta'=\eta\,\mathrm{sp}(r)`
(a per-state constant shift of Q does not change the mirror step), and the cost gap is
:math:`\delta^c_k = \delta_k/\mathrm{sp}(r)` with the reward gap
:math:`\delta_k = V^*(\rho) - V^{\pi_k}(\rho) \ge 0`. With :math:`d^\star = d^{\pi^*}_\rho`
the normalized discounted occupancy of an optimal policy, the distribution mismatch
:math:`\vartheta_\rho = \|d^\star/\rho\|_\infty/(1-\gamma) \ge 1/(1-\gamma)` (Eq. (51)) and
:math:`D^\star_0 = \mathbb E_{s\sim d^\star}\mathrm{KL}(\pi^*(s)\,\|\,\pi_0(s))`, the checked
inequalities, translated to rewards, are:

.. math::

    \text{Thm. 10, (53) as printed (reconstructed):}\quad \delta_k &\le
        \Big(1 - \frac1{\vartheta_\rho}\Big)^k\Big(\delta_0 + \frac{D^\star_0}{\gamma\,\eta_0}
        \Big), \\
    \text{proof of Thm. 10, before the final simplification:}\quad \delta_k &\le
        \Big(1 - \frac1{\vartheta_\rho}\Big)^k
        \Big(\delta_0 + \frac{D^\star_0}{(1-\gamma)(\vartheta_\rho - 1)\,\eta_0}\Big), \\
    \text{Thm. 8 as printed (reconstructed, } c\in[0,1]\text{):}\quad \delta_k &\le
        \frac1{k+1}\Big(\frac{D^\star_0}{(1-\gamma)\eta} + \frac{\mathrm{sp}(r)}{(1-\gamma)^2}
        \Big)\quad (k \ge 0), \\
    \text{consequence of Prop. 9 (derived here):}\quad \delta_k &\le
        \frac1k\Big(\frac{D^\star_0}{(1-\gamma)\eta} + \vartheta_\rho\,\delta_0\Big)
        \quad (k \ge 1).

The second line implies the first ("using the fact :math:`\vartheta_\rho \ge 1/(1-\gamma)`",
i.e. :math:`(1-\gamma)(\vartheta_\rho - 1) \ge \gamma`); the fourth is the module's own
summation of the per-step inequality (Notes of :func:`check_pmd_linear_rate`), not the printed
Thm. 8. All four are checked.

With :math:`\rho` a stationary distribution of :math:`P_{\pi^*}`, :math:`d^\star = \rho`,
:math:`\vartheta_\rho = 1/(1-\gamma)` and the linear rate is exactly :math:`\gamma`; the
check takes :math:`\rho` = the Cesàro average of :math:`\mu P_{\pi^*}^n`, :math:`n < 4000`
(nearly stationary, full support) and computes :math:`\vartheta_\rho` exactly for it.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import numpy as np

from .._instances import random_mdp, rng_for
from ..registry import Claim, Paper, Report, register

__all__ = ["PMD_LINEAR_RATE", "XIAO", "check_pmd_linear_rate"]

_EPS = float(np.finfo(np.float64).eps)

XIAO = Paper(title="On the Convergence Rates of Policy Gradient Methods", authors="L. Xiao",
             venue="JMLR 23(282)", year=2022)


def _default_pmd(mdp, **kw):
    from tabular_rl.planning.pmd import policy_mirror_descent

    return policy_mirror_descent(mdp, **kw)


def _near_stationary(Ppi, mu: np.ndarray, n: int = 4000) -> np.ndarray:
    """Cesàro average of :math:`\\mu P^t`, :math:`t < n` (full support when ``mu`` has it)."""
    x = np.array(mu, dtype=np.float64)
    acc = np.zeros_like(x)
    PT = Ppi.T
    for _ in range(n):
        acc += x
        x = PT @ x
    return acc / acc.sum()


def _instances(seed: int, quick: bool):
    gammas = (0.5, 0.7, 0.8, 0.9) if quick else (0.5, 0.7, 0.8, 0.9, 0.95)
    n = 8 if quick else 30
    max_s = 12 if quick else 40
    for i in range(n):
        rng = rng_for(seed + 7_919, i)
        g = gammas[i % len(gammas)]
        S = int(rng.integers(3, max_s + 1))
        A = int(rng.integers(2, 5))
        sparse = (i // len(gammas)) % 2 == 1
        yield random_mdp(rng, S, A, g, sparse=sparse), f"#{i} S={S} A={A} gamma={g:g} " + (
            "csr" if sparse else "dense")


def _fit_rate(sub: np.ndarray, floor: float) -> float:
    """exp(slope) of log(sub_k) vs k over the iterates above ``floor`` (nan if < 3 points)."""
    k = np.flatnonzero(sub > floor)
    k = k[k >= 1]
    if k.size < 3:
        return float("nan")
    slope = np.polyfit(k.astype(float), np.log(sub[k]), 1)[0]
    return float(np.exp(slope))


def check_pmd_linear_rate(quick: bool = False, *, seed: int = 0, out_dir="paper_figures",
                          pmd: Callable | None = None, plot: bool = True,
                          max_instances: int | None = None) -> Report:
    r"""Check Xiao's linear (Thm. 10) and sublinear (Thm. 8) PMD bounds, printed and derived.

    Parameters
    ----------
    quick : bool
        8 instances (:math:`S \le 12`, :math:`\gamma \le 0.9`) instead of 30
        (:math:`S \le 40`, :math:`\gamma \le 0.95`).
    seed : int
    out_dir : str or path
        Where the figure goes.
    pmd : callable, optional
        ``pmd(mdp, n_iter=..., step_size=..., schedule="geometric" | "constant")`` returning a
        :class:`~tabular_rl.planning.pmd.PMDResult` (its ``values`` and ``v_star`` are used);
        default :func:`tabular_rl.planning.pmd.policy_mirror_descent` (KL mirror, uniform
        :math:`\pi_0`).
    plot : bool
        Write the figure.
    max_instances : int, optional
        Run only the first instances of the list (tests of broken variants).

    Returns
    -------
    Report
        ``max_linear_bound_ratio`` and ``max_sublinear_bound_ratio`` are the largest
        :math:`(\delta_k - \mathrm{tol})/\mathrm{bound}_k` over all instances and iterations
        (stated: :math:`\le 1`); ``fitted_rate_over_gamma_*`` summarize the empirical linear
        rate of :math:`\|V^* - V^{\pi_k}\|_\infty` under geometric steps, divided by
        :math:`\gamma` (reported, not part of the verdict: the theorem bounds, it does not
        predict equality).

    Notes
    -----
    **Derivation** (any Bregman :math:`D`; KL here). The mirror step with :math:`p = \pi^*(s)`
    gives the three-point inequality :math:`\eta_k\langle Q_k, \pi^* - \pi_{k+1}\rangle \le
    D_k - D_{k+1}` per state, :math:`D_k(s) = D(\pi^*(s), \pi_k(s))`. Monotone improvement
    (:math:`\langle Q_k,\pi_{k+1}\rangle \ge V^{\pi_k}` hence :math:`V^{\pi_{k+1}} \ge
    V^{\pi_k}`) and the performance-difference lemma give
    :math:`\mathbb E_{d^\star}\langle Q_k, \pi_{k+1} - \pi_k\rangle \le (V^{\pi_{k+1}} -
    V^{\pi_k})(d^\star) \le (1-\gamma)\vartheta_\rho(\delta_k - \delta_{k+1})`, so

    .. math::

        (1-\gamma)\delta_k \le \frac{D^\star_k - D^\star_{k+1}}{\eta_k}
            + (1-\gamma)\vartheta_\rho(\delta_k - \delta_{k+1}).

    With :math:`\Phi_k = \delta_k + D^\star_k/((1-\gamma)(\vartheta_\rho-1)\eta_k)` and
    :math:`\eta_{k+1}(\vartheta_\rho - 1) \ge \vartheta_\rho\eta_k` this is
    :math:`\Phi_{k+1} \le (1 - 1/\vartheta_\rho)\Phi_k`; summing it with a constant step and
    using :math:`\delta_k` nonincreasing gives the :math:`1/k` bound.

    **Tolerance.** Values come from LU solves: forward error at most
    :math:`2(S+4)u\,\kappa\,\|v\|` with :math:`\kappa \le (1+\gamma)/(1-\gamma)`; the
    difference :math:`\delta_k` of two of them is off by at most
    :math:`\mathrm{tol} = 8(S+4)\varepsilon\,\|r\|_\infty/(1-\gamma)^2` (foundation claims).

    **Step size.** :math:`\eta_0 = 0.1/\|r\|_\infty`, small on purpose: the constant-step run
    then visibly follows :math:`1/k`, and PMD that ignores the growing schedule violates the
    linear bound.
    """
    pmd = pmd or _default_pmd
    from tabular_rl import evaluate_policy, state_occupancy
    from tabular_rl.bellman import policy_transition
    from tabular_rl.planning import policy_iteration

    lin_ratio, sub_ratio = -np.inf, -np.inf
    lin_p_ratio, sub_p_ratio = -np.inf, -np.inf
    lin_where = sub_where = "-"
    rates, gammas, curves = [], [], []
    n = 0
    for mdp, label in itertools.islice(_instances(seed, quick), max_instances):
        n += 1
        g, S, A = mdp.gamma, mdp.S, mdp.A
        R = float(np.abs(mdp.r).max()) or 1.0
        eta0 = 0.1 / R
        K = int(min(np.ceil(np.log(1e-12) / np.log(g)), 150 if quick else 400))
        pi_star = policy_iteration(mdp).policy
        v_star = evaluate_policy(mdp, pi_star)
        Pstar = policy_transition(mdp, pi_star)
        rho = _near_stationary(Pstar, np.asarray(mdp.mu))
        d_star = state_occupancy(mdp, pi_star, mu=rho)
        theta = float(np.max(d_star / rho)) / (1.0 - g)
        theta = max(theta, 1.0 / (1.0 - g))  # rounding: theta >= 1/(1-gamma) always
        safe = np.where(pi_star > 0, pi_star, 1.0)
        kl0 = np.sum(np.where(pi_star > 0, pi_star * np.log(safe * A), 0.0), axis=1)
        D0 = float(d_star @ kl0)
        tol = 8 * (S + 4) * _EPS * R / (1.0 - g) ** 2
        runs = {}
        for sched in ("geometric", "constant"):
            res = pmd(mdp, n_iter=K, step_size=eta0, schedule=sched)
            vals = np.asarray(res.values)
            gap = v_star[None, :] - vals
            runs[sched] = (gap @ rho, np.max(np.abs(gap), axis=1))
        delta_g, sup_g = runs["geometric"]
        delta_c, sup_c = runs["constant"]
        k = np.arange(delta_g.size)
        bound_lin = (1.0 - 1.0 / theta) ** k * (
            delta_g[0] + D0 / ((1.0 - g) * (theta - 1.0) * eta0))
        r = float(np.max((delta_g - tol) / bound_lin))
        if r > lin_ratio:
            lin_ratio, lin_where = r, f"{label}, k={int(np.argmax((delta_g - tol) / bound_lin))}"
        bound_lin_p = (1.0 - 1.0 / theta) ** k * (delta_g[0] + D0 / (g * eta0))
        lin_p_ratio = max(lin_p_ratio, float(np.max((delta_g - tol) / bound_lin_p)))
        kc = np.arange(1, delta_c.size)
        bound_sub = (D0 / ((1.0 - g) * eta0) + theta * delta_c[0]) / kc
        r = float(np.max((delta_c[1:] - tol) / bound_sub))
        if r > sub_ratio:
            k_worst = int(np.argmax((delta_c[1:] - tol) / bound_sub)) + 1
            sub_ratio, sub_where = r, f"{label}, k={k_worst}"
        span = float(mdp.r.max() - mdp.r.min())
        bound_sub_p = (D0 / ((1.0 - g) * eta0) + span / (1.0 - g) ** 2) / (k + 1)
        sub_p_ratio = max(sub_p_ratio, float(np.max((delta_c - tol) / bound_sub_p)))
        rate = _fit_rate(sup_g, 1e3 * tol)
        if np.isfinite(rate):
            rates.append(rate)
            gammas.append(g)
        curves.append((label, g, sup_g, sup_c))
    if n == 0:
        return Report("dp.pmd-linear-rate", "error", details="no instance")
    rates_a, gam_a = np.asarray(rates), np.asarray(gammas)
    ratio = rates_a / gam_a
    if ratio.size >= 2:
        m, sd = float(ratio.mean()), float(ratio.std(ddof=1))
        half = float(1.96 * sd / np.sqrt(ratio.size))
    else:
        m, half = (float(ratio[0]) if ratio.size else float("nan")), float("nan")
    ok = lin_ratio <= 1.0 and sub_ratio <= 1.0 and lin_p_ratio <= 1.0 and sub_p_ratio <= 1.0
    figures = ()
    if plot:
        figures = (_plot(curves, gam_a, rates_a, out_dir, ok),)
    details = (f"{n} instances. Geometric steps eta_k = eta_0 gamma^-k, eta_0 = 0.1/||r||: "
               f"largest (delta_k - tol)/bound_k = {lin_ratio:.3g} at {lin_where} for the "
               f"proof-of-Thm.-10 form (D*_0/((1-gamma)(theta-1)eta_0)), {lin_p_ratio:.3g} for "
               f"Thm. 10's printed (53) (D*_0/(gamma eta_0), reconstructed). Constant step: "
               f"largest ratio {sub_ratio:.3g} at {sub_where} for the Prop.-9 consequence "
               f"(theta delta_0/k), {sub_p_ratio:.3g} for Thm. 8 as printed "
               f"(sp(r)/(1-gamma)^2/(k+1), costs (r_max - r)/sp(r) in [0,1]). Verdict: all "
               f"four <= 1. Fitted sup-norm linear "
               f"rate / gamma under geometric steps: mean {m:.3g} +- {half:.2g} (95% CI over "
               f"{ratio.size} instances), range [{np.nanmin(ratio) if ratio.size else np.nan:.3g}, "
               f"{np.nanmax(ratio) if ratio.size else np.nan:.3g}]; the theorem's rate for the "
               f"near-stationary rho is 1 - 1/theta_rho ~ gamma.")
    return Report(
        claim_id="dp.pmd-linear-rate", verdict="pass" if ok else "fail",
        measured={"max_linear_bound_ratio": lin_ratio, "max_sublinear_bound_ratio": sub_ratio,
                  "max_thm10_printed_ratio": lin_p_ratio, "max_thm8_printed_ratio": sub_p_ratio,
                  "fitted_rate_over_gamma_mean": m, "fitted_rate_over_gamma_ci95": half,
                  "fitted_rate_over_gamma_max": float(np.max(ratio)) if ratio.size else np.nan},
        stated={"max_linear_bound_ratio": 1.0, "max_sublinear_bound_ratio": 1.0,
                "max_thm10_printed_ratio": 1.0, "max_thm8_printed_ratio": 1.0,
                "fitted_rate_over_gamma_max": "<= 1 - 1/theta_rho over gamma (asymptotically)"},
        details=details, figures=figures, n_instances=n)


def _plot(curves, gammas, rates, out_dir, ok) -> str:
    from pathlib import Path

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "dp.pmd-linear-rate.png"
    fig = Figure(figsize=(11, 4.4))
    FigureCanvasAgg(fig)
    ax1, ax2 = fig.subplots(1, 2)
    shown = {}
    for label, g, sup_g, sup_c in curves:
        if g in shown or len(shown) >= 3:
            continue
        c = f"C{len(shown)}"
        shown[g] = c
        k = np.arange(sup_g.size)
        ax1.semilogy(k, np.maximum(sup_g, 1e-16), color=c, lw=1.8,
                     label=f"geometric steps, γ={g:g}")
        ax1.semilogy(k, np.maximum(sup_c, 1e-16), color=c, lw=1.4, ls="--",
                     label=f"constant step, γ={g:g}")
        ax1.semilogy(k, sup_g[0] * g ** k, color=c, lw=0.8, ls=":", label=f"γ^k, γ={g:g}")
    ax1.set_xlabel("iteration k")
    ax1.set_ylabel(r"$\|V^* - V^{\pi_k}\|_\infty$")
    ax1.set_ylim(1e-14, None)
    ax1.legend(fontsize=7, ncol=1, loc="lower left")
    ax1.set_title("PMD (KL): suboptimality vs iteration")
    ax2.scatter(gammas, rates, color="C3", zorder=3, label="fitted linear rate")
    x = np.linspace(0.4, 1.0, 50)
    ax2.plot(x, x, color="k", lw=1, label="rate = γ")
    ax2.set_xlabel("discount γ")
    ax2.set_ylabel("fitted rate (geometric steps)")
    ax2.set_title("empirical linear rate vs γ")
    ax2.legend(fontsize=8)
    fig.suptitle(f"dp.pmd-linear-rate (Xiao 2022) — {'PASS' if ok else 'FAIL'}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return str(path)


PMD_LINEAR_RATE = register(Claim(
    id="dp.pmd-linear-rate",
    paper=XIAO,
    statement=("Xiao 2022, Thm. 10 (Sec. 4.2; (53) reconstructed, costs translated to "
               "rewards): exact KL policy mirror descent with eta_{k+1}(theta_rho - 1) >= "
               "eta_k theta_rho (e.g. eta_{k+1} = eta_k / gamma) has delta_k = V*(rho) - "
               "V^{pi_k}(rho) <= (1 - 1/theta_rho)^k (delta_0 + D*_0/(gamma eta_0)), and the "
               "tighter form from its proof with D*_0/((1-gamma)(theta_rho - 1) eta_0); rate "
               "gamma when rho is stationary for pi*. Thm. 8 (Sec. 4.1; reconstructed, costs "
               "(r_max - r)/sp(r) in [0,1]): constant step eta gives delta_k <= (D*_0/((1-gamma)"
               " eta) + sp(r)/(1-gamma)^2)/(k+1); also checked: the Prop.-9 consequence "
               "delta_k <= (D*_0/((1-gamma) eta) + theta_rho delta_0)/k (derived here)."),
    kind="rate",
    instances=("random MDPs, dense and CSR, S in 3..40, A in 2..4, gamma in {0.5,...,0.95}; "
               "KL-PMD from the uniform policy, eta_0 = 0.1/||r||"),
    check=check_pmd_linear_rate,
))
