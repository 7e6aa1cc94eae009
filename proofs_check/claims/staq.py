r"""Finite-memory policy mirror descent (StaQ; Shilova, Davey, Driss, Akrour 2025).

``dp.finite-memory-pmd`` — PMD with entropy :math:`\tau` and KL proximity :math:`\eta`
(:func:`tabular_rl.planning.pmd.finite_memory_pmd`) whose policy is the softmax of a weighted
sum of only the last :math:`M` Q-functions,

.. math::

    \pi_{k+1} \propto \exp\Big(\beta\sum_{i=0}^{M-1}\alpha^{i}Q_{k-i}\Big), \qquad
    \alpha = \frac{\eta}{\eta+\tau},\ \beta = \frac{1}{\eta+\tau},

converges for :math:`M` large enough with no error in the policy update, and keeping all
Q-functions (:math:`M = \infty`) is exact PMD (abstract and Sec. 4 of "StaQ it! Growing neural
networks for Policy Mirror Descent", arXiv:2506.13862, 2025).

**What we could and could not read.** Only the abstract of the paper was retrievable from our
sources, not Sec. 4 or its theorem, so no theorem number is cited and the quantitative
statement checked here is derived by us (Notes of :func:`check_finite_memory_pmd`): dropping
the Q-functions older than :math:`M` rescales the limiting logits by :math:`1 - \alpha^M`, so

.. math::

    \|V^*_\tau - V^{\pi_M}_\tau\|_\infty \le
        \frac{\tau\log A}{1-\gamma}\cdot\frac{\alpha^M}{1-\alpha^M}
    \qquad\text{(fixed point } \pi_M \text{ of the } M\text{-memory update)},

the truncation error is weighted by :math:`\alpha^M`: the log-policy error falls like
:math:`\alpha^M` and, the value being stationary at the optimum, the regularized
suboptimality like :math:`\alpha^{2M}`. Below a finite threshold :math:`M` the truncation is
invisible (under the floating-point floor): the "threshold" of the claims table.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import numpy as np

from .._instances import random_mdp, rng_for
from ..registry import Claim, Paper, Report, register

__all__ = ["FINITE_MEMORY_PMD", "STAQ", "check_finite_memory_pmd"]

_EPS = float(np.finfo(np.float64).eps)

STAQ = Paper(title="StaQ it! Growing neural networks for Policy Mirror Descent",
             authors="A. Shilova, A. Davey, B. Driss, R. Akrour", venue="arXiv:2506.13862",
             year=2025)

#: Relative accuracy below which a truncated run is indistinguishable from full PMD.
_THRESHOLD_REL = 1e-9


def _default_staq(mdp, tau, **kw):
    from tabular_rl.planning.pmd import finite_memory_pmd

    return finite_memory_pmd(mdp, tau, **kw)


def _instances(seed: int, quick: bool):
    n = 4 if quick else 16
    gammas = (0.5, 0.7, 0.8)
    alphas = (0.5, 0.7)
    for i in range(n):
        rng = rng_for(seed + 104_729, i)
        g = gammas[i % 3]
        a = alphas[(i // 3) % 2] if not quick else alphas[i % 2]
        S = int(rng.integers(3, (8 if quick else 20) + 1))
        A = int(rng.integers(2, 5))
        sparse = (i // 6) % 2 == 1
        mdp = random_mdp(rng, S, A, g, sparse=sparse)
        yield mdp, a, f"#{i} S={S} A={A} gamma={g:g} alpha={a:g} " + (
            "csr" if sparse else "dense")


def _memories(alpha: float, quick: bool) -> list[int]:
    """M from 1 until alpha^M ~ 1e-9 (policy error at the floating-point floor)."""
    m_max = int(np.ceil(np.log(1e-9) / np.log(alpha)))
    grid = sorted({1, 2, 3} | {int(round(x)) for x in np.linspace(4, m_max, 6 if quick else 14)})
    return [m for m in grid if m >= 1]


def _fit(ms: np.ndarray, err: np.ndarray, floor: float, m_min: int) -> float:
    """exp(slope) of log(err) vs M over points above ``floor`` with M >= m_min (nan if < 3)."""
    keep = (err > floor) & (ms >= m_min)
    if keep.sum() < 3:
        return float("nan")
    return float(np.exp(np.polyfit(ms[keep].astype(float), np.log(err[keep]), 1)[0]))


def check_finite_memory_pmd(quick: bool = False, *, seed: int = 0, out_dir="paper_figures",
                            staq: Callable | None = None, plot: bool = True,
                            max_instances: int | None = None) -> Report:
    r"""Truncation error of finite-memory PMD vs the memory :math:`M`.

    For each instance (entropy :math:`\tau = 0.3\|r\|_\infty`, KL weight
    :math:`\eta = \tau\alpha/(1-\alpha)`, :math:`\alpha\in\{0.5, 0.7\}`) the update is run to
    convergence for a grid of :math:`M` and for :math:`M=\infty`; measured are the regularized
    suboptimality :math:`e_V(M) = \|V^*_\tau - V^{\pi_K}_\tau\|_\infty` and the log-policy
    error :math:`e_\pi(M) = \|\log\pi_K - \log\pi^*_\tau\|_\infty`.

    Verdict (all must hold):

    1. **bound**: :math:`e_V(M) \le B(M) + \text{floor}` for every converged run, with
       :math:`B(M) = \tau\log A\,\alpha^M/((1-\alpha^M)(1-\gamma))`;
    2. **no error with full memory**: :math:`e_V(\infty) \le \text{floor} + 10^{-9}\,
       \text{scale}` (the iteration cap leaves :math:`\le 10^{-13}` relative);
    3. **geometric rate**: the slope of :math:`\log e_\pi(M)` fitted over the :math:`M` with
       :math:`\alpha^M \le 0.05` above the floor is :math:`\log\alpha` within 5% on every
       instance (the expansion :math:`e_\pi = C\alpha^M(1 + O(\alpha^M))` makes the
       fitted log-slope off by at most a few :math:`\alpha^{M}` there).

    Reported besides: the fitted rate of :math:`e_V` against :math:`\alpha^2`, the smallest
    :math:`M` from which :math:`e_V \le 10^{-9}\cdot\text{scale}` (measured threshold) and the
    threshold the bound predicts.

    Parameters
    ----------
    quick : bool
        4 instances (:math:`S \le 8`) and 9 memories each, instead of 16 (:math:`S \le 20`)
        and 17.
    seed : int
    out_dir : str or path
    staq : callable, optional
        ``staq(mdp, tau, kl_coef=, memory=, n_iter=, v_star=)`` returning a
        :class:`~tabular_rl.planning.pmd.PMDResult` (``values``, ``policy``, ``log_policy``);
        default :func:`tabular_rl.planning.pmd.finite_memory_pmd`.
    plot : bool
        Write the figure.
    max_instances : int, optional
        Run only the first instances of the list (tests of broken variants).

    Notes
    -----
    **The bound.** At a fixed point of the :math:`M`-memory update every stored Q equals
    :math:`Q = Q^{\pi_M}_\tau`, so :math:`\pi_M = \mathrm{softmax}(cQ/\tau)` with
    :math:`c = \beta(1-\alpha^M)/(1-\alpha)\cdot\tau = 1 - \alpha^M`: the greedy policy of
    :math:`Q` for the temperature :math:`\tau/c`. For any :math:`p`,
    :math:`\langle p, Q\rangle - \tau\Omega(p) \le \langle \pi_M, Q\rangle - \tau\Omega(\pi_M)
    + (\tau/c - \tau)(\Omega(p) - \Omega(\pi_M))` and
    :math:`\Omega = \sum p\log p \in [-\log A, 0]`, so
    :math:`T_\tau V^{\pi_M} - V^{\pi_M} \le \tau\log A\,\alpha^M/(1-\alpha^M)`, and
    :math:`\|V^* - V^\pi\| \le \|T_\tau V^\pi - V^\pi\|/(1-\gamma)`.

    **Floor.** The final iterate is a fixed point only up to the spread of the window:
    :math:`2\gamma\max_{i<M}\|V_{K-i} - V_K\|_\infty/(1-\gamma)` is added, plus soft policy
    iteration's certified error and :math:`8(S+4)\varepsilon\,\text{scale}/(1-\gamma)` for the
    LU solves, :math:`\text{scale} = (\|r\|_\infty + \tau\log A)/(1-\gamma)`.
    """
    staq = staq or _default_staq
    from tabular_rl import Shannon
    from tabular_rl.planning import soft_policy_iteration

    worst_bound, bound_where = -np.inf, "-"
    worst_full, full_where = -np.inf, "-"
    worst_rate, rate_where = 0.0, "-"
    pol_rates, val_rates, alphas_used, thresholds = [], [], [], []
    curves = []
    n = n_runs = n_unconverged = 0
    for mdp, alpha, label in itertools.islice(_instances(seed, quick), max_instances):
        n += 1
        g, S, A = mdp.gamma, mdp.S, mdp.A
        R = float(np.abs(mdp.r).max()) or 1.0
        tau = 0.3 * R
        kl = tau * alpha / (1.0 - alpha)
        scale = (R + tau * np.log(A)) / (1.0 - g)
        sol = soft_policy_iteration(mdp, Shannon(tau))
        v_star = sol.v
        qs = sol.q - sol.q.max(axis=1, keepdims=True)
        log_pi_star = qs / tau - np.log(np.exp(qs / tau).sum(axis=1, keepdims=True))
        fp = 8 * (S + 4) * _EPS * scale / (1.0 - g) + sol.error_bound
        floor_pi = 2 * g * sol.error_bound / tau + 64 * A * _EPS * (1 + np.abs(qs).max() / tau)
        rate_full = 1.0 - (1.0 - g) * (1.0 - alpha)
        K = int(min(np.ceil(np.log(1e-13) / np.log(rate_full)) + 20, 600))
        ms = _memories(alpha, quick)
        e_v, e_pi, bounds, floors, conv = [], [], [], [], []
        for M in [*ms, None]:
            res = staq(mdp, tau, kl_coef=kl, memory=M, n_iter=K, v_star=v_star)
            vals = np.asarray(res.values)
            n_runs += 1
            logp = res.log_policy if res.log_policy is not None else np.log(res.policy)
            ev = float(np.max(np.abs(v_star - vals[-1])))
            ep = float(np.max(np.abs(logp - log_pi_star)))
            window = vals[-(M if M is not None else 1):]
            spread = float(np.max(np.abs(window - vals[-1]))) if M else 0.0
            moving = float(np.max(np.abs(vals[-1] - vals[-2])))
            floor = fp + 2 * g * spread / (1.0 - g)
            converged = moving <= 1e-9 * scale
            if M is None:
                r = (ev - floor) / (1e-9 * scale)
                if r > worst_full:
                    worst_full, full_where = r, label
                ev_full = ev
                continue
            e_v.append(ev)
            e_pi.append(ep)
            B = tau * np.log(A) * alpha**M / ((1.0 - alpha**M) * (1.0 - g))
            bounds.append(B)
            floors.append(floor)
            conv.append(converged)
            if not converged:
                n_unconverged += 1
                continue
            r = (ev - floor) / B
            if r > worst_bound:
                worst_bound, bound_where = r, f"{label}, M={M}"
        ms_a = np.asarray(ms)
        e_v, e_pi = np.asarray(e_v), np.asarray(e_pi)
        conv = np.asarray(conv)
        fit_pi = _fit(ms_a[conv], e_pi[conv], 1e3 * floor_pi,
                      int(np.ceil(np.log(0.05) / np.log(alpha))))
        fit_v = _fit(ms_a[conv], e_v[conv], 1e3 * max(fp, 1e-13 * scale),
                     int(np.ceil(np.log(0.05) / (2 * np.log(alpha)))))
        if np.isfinite(fit_pi):
            rel = abs(np.log(fit_pi) / np.log(alpha) - 1.0)
            pol_rates.append(fit_pi)
            val_rates.append(fit_v)
            alphas_used.append(alpha)
            if rel > worst_rate:
                worst_rate, rate_where = rel, label
        else:
            worst_rate, rate_where = np.inf, f"{label} (too few points above the floor)"
        thr_eps = _THRESHOLD_REL * scale
        below = e_v <= thr_eps
        measured_thr = next((int(ms_a[i]) for i in range(ms_a.size) if below[i:].all()), None)
        B_all = tau * np.log(A) * alpha ** np.arange(1, 200) / (
            (1 - alpha ** np.arange(1, 200)) * (1 - g))
        predicted_thr = int(np.argmax(B_all <= thr_eps)) + 1
        thresholds.append((measured_thr, predicted_thr))
        curves.append((label, alpha, g, ms_a, e_v, e_pi, np.asarray(bounds), ev_full))
    if n == 0:
        return Report("dp.finite-memory-pmd", "error", details="no instance")
    ok_bound = worst_bound <= 1.0
    ok_full = worst_full <= 1.0
    ok_rate = worst_rate <= 0.05
    ok = ok_bound and ok_full and ok_rate
    pol = np.asarray(pol_rates)
    al = np.asarray(alphas_used)
    lr_pi = np.log(pol) / np.log(al) if pol.size else np.array([np.nan])
    lr_v = (np.log(np.asarray(val_rates)) / (2 * np.log(al))) if pol.size else np.array([np.nan])
    lr_v = lr_v[np.isfinite(lr_v)]

    def ci(x):
        x = np.asarray(x, dtype=float)
        if x.size < 2:
            return float(np.nan)
        return float(1.96 * x.std(ddof=1) / np.sqrt(x.size))

    thr_ratio = [m / p for m, p in thresholds if m is not None]
    figures = ()
    if plot:
        figures = (_plot(curves, al, pol, np.asarray(val_rates), out_dir, ok),)
    details = (f"{n} instances, {n_runs} runs ({n_unconverged} truncated runs not stationary "
               f"at K and left out of the bound). Bound e_V(M) <= tau log A alpha^M/((1 - "
               f"alpha^M)(1 - gamma)) + floor: largest (e_V - floor)/B = {worst_bound:.3g} "
               f"at {bound_where}. Full memory: largest (e_V - floor)/(1e-9 scale) = "
               f"{worst_full:.3g} at {full_where}. Log-policy error rate: fitted "
               f"log(rate)/log(alpha) = {np.mean(lr_pi):.4g} +- {ci(lr_pi):.2g} (95% CI), worst "
               f"|.-1| = {worst_rate:.3g} at {rate_where} (tolerance 0.05). Value error rate: "
               f"log(rate)/log(alpha^2) = {np.mean(lr_v) if lr_v.size else np.nan:.4g} +- "
               f"{ci(lr_v):.2g}. Threshold (e_V <= 1e-9 scale from M on): measured / "
               f"predicted by the bound = {thresholds}.")
    return Report(
        claim_id="dp.finite-memory-pmd", verdict="pass" if ok else "fail",
        measured={"policy_rate_log_ratio_mean": float(np.mean(lr_pi)),
                  "policy_rate_log_ratio_ci95": ci(lr_pi),
                  "policy_rate_worst_rel_dev": float(worst_rate),
                  "value_rate_log_ratio_mean": float(np.mean(lr_v)) if lr_v.size else np.nan,
                  "value_rate_log_ratio_ci95": ci(lr_v),
                  "max_bound_ratio": float(worst_bound),
                  "full_memory_excess": float(worst_full),
                  "threshold_measured_over_predicted_mean":
                      float(np.mean(thr_ratio)) if thr_ratio else np.nan},
        stated={"policy_rate_log_ratio_mean": 1.0, "policy_rate_worst_rel_dev": 0.05,
                "value_rate_log_ratio_mean": 1.0, "max_bound_ratio": 1.0,
                "full_memory_excess": 1.0,
                "threshold_measured_over_predicted_mean": "<= 1"},
        details=details, figures=figures, n_instances=n)


def _plot(curves, alphas, pol_rates, val_rates, out_dir, ok) -> str:
    from pathlib import Path

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "dp.finite-memory-pmd.png"
    fig = Figure(figsize=(11.5, 4.6))
    FigureCanvasAgg(fig)
    ax1, ax2 = fig.subplots(1, 2)
    for j, (label, alpha, g, ms, e_v, e_pi, B, _) in enumerate(curves[:2]):
        c1, c2 = f"C{2 * j}", f"C{2 * j + 1}"
        tag = f"α={alpha:g}, γ={g:g}"
        ax1.semilogy(ms, np.maximum(e_pi, 1e-16), "o-", color=c1, ms=4,
                     label=f"log-policy error, {tag}")
        ax1.semilogy(ms, np.maximum(e_v, 1e-16), "s-", color=c2, ms=4,
                     label=f"regularized suboptimality, {tag}")
        ax1.semilogy(ms, B, ls=":", color=c2, label=f"bound τ log A α^M/((1-α^M)(1-γ)), {tag}")
    ax1.set_xlabel("memory M (number of Q-functions kept)")
    ax1.set_ylabel("error of the converged policy")
    ax1.set_ylim(1e-16, None)
    ax1.legend(fontsize=6.5, loc="lower left")
    ax1.set_title("truncation error vs M")
    x = np.linspace(0.4, 0.8, 20)
    ax2.scatter(alphas, pol_rates, color="C0", zorder=3, label="fitted rate of log-policy error")
    ax2.scatter(alphas, val_rates, color="C3", marker="s", zorder=3,
                label="fitted rate of suboptimality")
    ax2.plot(x, x, color="C0", lw=1, label="α (stated)")
    ax2.plot(x, x**2, color="C3", lw=1, ls="--", label="α² (stated)")
    ax2.set_xlabel("α = η/(η+τ)")
    ax2.set_ylabel("fitted per-M decay factor")
    ax2.set_title("geometric decay in M: fitted factor vs α")
    ax2.legend(fontsize=8)
    fig.suptitle(f"dp.finite-memory-pmd (StaQ, Shilova et al. 2025) — {'PASS' if ok else 'FAIL'}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return str(path)


FINITE_MEMORY_PMD = register(Claim(
    id="dp.finite-memory-pmd",
    paper=STAQ,
    statement=("Shilova et al. 2025 (abstract, Sec. 4; theorem text not retrieved): PMD that "
               "keeps only the last M Q-functions, pi_{k+1} ~ exp(beta sum_{i<M} alpha^i "
               "Q_{k-i}), converges for M large enough with no policy-update error, M = inf "
               "being exact PMD. Checked in the derived form: the converged truncated policy "
               "has regularized suboptimality <= tau log A alpha^M / ((1 - alpha^M)(1 - "
               "gamma)); its log-policy error decays like alpha^M (suboptimality like "
               "alpha^{2M}), below the floating-point floor past a threshold M."),
    kind="rate",
    instances=("random MDPs, dense and CSR, S in 3..20, A in 2..4, gamma in {0.5, 0.7, 0.8}, "
               "tau = 0.3 ||r||, alpha in {0.5, 0.7}; M from 1 to ~log(1e-9)/log(alpha) "
               "and M = inf"),
    check=check_finite_memory_pmd,
))
