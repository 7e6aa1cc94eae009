r"""Claim ``irl.feasible-set``: the explicit feasible reward set and its US-IRL estimate.

Metelli, Lazzati, Restelli, "Towards Theoretical Understanding of Inverse Reinforcement
Learning", ICML 2023 (arXiv:2304.12966); the explicit form as in Metelli, Ramponi, Concetti,
Restelli, ICML 2021, Lemma 3.1. Only the abstract and first page of the 2023 paper could be
retrieved, so its theorem numbers are not given. Stated:

* the feasible set is :math:`\{-B^{\pi^E}\zeta + V_h - p_hV_{h+1}\}` (:math:`\zeta\ge 0`):
  every member makes the expert optimal, and nothing else does;
* estimating it to Hausdorff accuracy :math:`\varepsilon` (sup norm, rewards in
  :math:`[-1,1]`) w.p. :math:`1-\delta` needs :math:`\Omega(\tfrac{H^3SA}{\varepsilon^2}
  (\log\tfrac1\delta + S))` samples, matched by US-IRL (uniform sampling, ``n`` per
  :math:`(s,a,h)`) up to logs: an error :math:`\tilde O(H\sqrt{(S+\log(1/\delta))/n})`.

Checks (all must hold):

1. membership -- on seeded episodic and discounted instances (deterministic and stochastic
   experts), every sampled bounded member makes the expert optimal by an *independent*
   exact solver (backward induction / policy iteration: :math:`V^* - V^{\pi^E} \le`
   the solver's certified bound + rounding), and the same member moved just outside
   (:meth:`~tabular_rl.irl.FeasibleRewardSet.outside`, margin :math:`10^{-3}`) leaves the
   expert suboptimal by at least the margin at the named :math:`(h, s)`. Exact, no
   statistics: one failure fails the claim.
2. rate in ``n`` -- the Hausdorff distance between the US-IRL estimate and the true set
   (its certified *lower* bound, an attained distance; the certified upper bound is
   reported) against ``n``: the seed-bootstrap slope interval contains :math:`-1/2`.
3. scaling at fixed ``n`` -- slopes of the error against :math:`H` and :math:`S` are not
   significantly above the bound's :math:`1` and :math:`1/2` plus the secant slope of
   :math:`\sqrt{\log(SAH)}` over the grid (the union bound's log).

Intervals 2-3 are made at level :math:`1 - 0.05/3` (Bonferroni). Sweeps are stored under
``out_dir/_sweeps/`` (resumable). ``feasible_set=`` and ``estimator=`` replace the set
class and the estimator, so tests can hand in broken ones.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np

from tabular_rl import EpisodicMDP, FiniteMDP
from tabular_rl.irl import FeasibleRewardSet, us_irl_errors

from .._rate_helpers import _batch, _sweep_api, _sweep_executor, _sweep_path
from ..registry import Claim, Paper, Report, register

__all__ = ["FEASIBLE_SET", "check_feasible_set", "irl_instance"]

MLR = Paper(title="Towards Theoretical Understanding of Inverse Reinforcement Learning",
            authors="A. M. Metelli, F. Lazzati and M. Restelli",
            venue="ICML (arXiv:2304.12966)", year=2023)

FAMILY_ALPHA = 0.05
MARGIN = 1e-3


def irl_instance(S: int, A: int, H: int, seed: int, *, gamma: float | None = None,
                 stochastic: bool = False):
    """A seeded random model (Dirichlet rows, time-varying when episodic) and expert."""
    rng = np.random.default_rng([seed, S, A, H])
    if gamma is None:
        P = rng.dirichlet(np.ones(S), (H, S, A))
        mdp = EpisodicMDP(P, np.zeros((S, A)), H)
        shape = (H, S, A)
    else:
        mdp = FiniteMDP(rng.dirichlet(np.ones(S), (S, A)), np.zeros((S, A)), gamma)
        shape = (S, A)
    pi = np.zeros(shape)
    idx = rng.integers(0, A, shape[:-1])
    np.put_along_axis(pi, idx[..., None], 1.0, axis=-1)
    if stochastic:   # a second action in half of the states
        second = (idx + 1) % A
        mix = rng.random(shape[:-1]) < 0.5
        w = np.where(mix, 0.5, 0.0)[..., None]
        pi = pi * (1 - w)
        np.put_along_axis(pi, second[..., None],
                          np.take_along_axis(pi, second[..., None], -1) + w, axis=-1)
    return mdp, pi


def _suboptimality(F, r) -> tuple[np.ndarray, float]:
    """``V* - V^{pi_E}`` under ``r`` by an exact solver, and its certified slack."""
    from tabular_rl.planning import backward_induction, policy_iteration

    model = F._model(r)
    v_e, _ = F.expert_values(r)
    if F.episodic:
        sol = backward_induction(model)
        gap = sol.v - v_e
    else:
        sol = policy_iteration(model)
        gap = sol.v - v_e
    slack = sol.error_bound + F.default_tol(r)
    return gap, slack


def _membership(quick: bool, seed: int, feasible_set) -> tuple[bool, dict, str]:
    specs = [(3, 2, 3, None, False), (5, 3, 4, None, True), (4, 2, 5, None, False),
             (4, 2, 1, 0.9, False), (6, 3, 1, 0.7, True)]
    k = 8 if quick else 30
    worst_in, worst_out, n_checked, fails = -np.inf, np.inf, 0, []
    for i, (S, A, H, g, stoch) in enumerate(specs):
        mdp, pi = irl_instance(S, A, H, seed + i, gamma=g, stochastic=stoch)
        F = feasible_set(mdp, pi)
        for j, r in enumerate(F.sample(k, seed=[seed, i])):
            gap, slack = _suboptimality(F, r)
            excess = float(gap.max() - slack)
            worst_in = max(worst_in, excess)
            if excess > 0:
                fails.append(f"instance {i} member {j}: V*-V^E = {gap.max():.3g} > {slack:.3g}")
            r_out, idx = F.outside(r, MARGIN, seed=[seed, i, j])
            gap, slack = _suboptimality(F, r_out)
            h, s = (idx[0], idx[1]) if F.episodic else (None, idx[0])
            g_here = float(gap[h, s] if F.episodic else gap[s])
            short = g_here - (MARGIN - slack)
            worst_out = min(worst_out, short)
            if short < 0:
                fails.append(f"instance {i} member {j} moved at {idx}: V*-V^E = {g_here:.3g} "
                             f"< margin {MARGIN:g}")
            n_checked += 1
    ok = not fails
    text = (f"{n_checked} members on {len(specs)} instances: "
            + ("all make the expert optimal, all moved ones do not" if ok
               else f"{len(fails)} failures, e.g. {fails[0]}"))
    return ok, {"members_checked": n_checked, "member_worst_excess": worst_in,
                "outside_worst_shortfall": worst_out}, text


def _rate_cell(config: dict, rng: np.random.Generator, *, estimator=None) -> dict:
    mdp, pi = irl_instance(int(config["S"]), int(config["A"]), int(config["H"]),
                           int(config["instance_seed"]))
    seeds = [int(x) for x in rng.integers(2**31, size=int(config["batch"]))]
    res = us_irl_errors(mdp, pi, config["n_grid"], seed=seeds, estimator=estimator,
                        starts=int(config["starts"]), max_iter=int(config["max_iter"]))
    return {"lower": res.lower.T, "upper": res.upper.T}           # (batch, k)


def _log_allowance(sizes) -> float:
    x0, x1 = float(min(sizes)), float(max(sizes))
    if x1 <= x0:
        return 0.0
    return 0.5 * (np.log(np.log(x1)) - np.log(np.log(x0))) / np.log(x1 / x0)


def check_feasible_set(quick: bool = False, *, seed: int = 0, out_dir: str = "paper_figures",
                       scheduler=None, feasible_set: Callable | None = None,
                       estimator: Callable | None = None, n_grid=None, seeds: int | None = None,
                       Hs=None, Ss=None, n_fixed: int | None = None, n_boot: int = 1000,
                       figure: bool = True) -> Report:
    r"""Membership, the ``n^{-1/2}`` rate and the :math:`H`, :math:`S` scaling of US-IRL.

    Parameters
    ----------
    quick : bool
        ``n`` in 100..6400 (4 points), 16 seeds, :math:`H\in\{2,4,8\}`,
        :math:`S\in\{3,6,12\}`; else 6 points to 25600, 48 seeds.
    feasible_set : callable, optional
        ``(mdp, expert) -> FeasibleRewardSet``-like (``sample``, ``outside``,
        ``expert_values``, ``_model``, ``default_tol``, ``episodic``): replaces the set in
        check 1.
    estimator : callable, optional
        ``(mdp, expert, n, *, seed=list) -> list of sets``: replaces :func:`us_irl`.
    n_grid, seeds, Hs, Ss, n_fixed, n_boot, figure
        Override the sweeps (for tests).
    """
    from tabular_rl.rates.fits import fit_slope
    from tabular_rl.rates.verdicts import verdict_exponent, verdict_upper_bound

    Sweep, run_sweep = _sweep_api()
    ok1, m1, text1 = _membership(quick, seed, feasible_set or FeasibleRewardSet)
    if n_grid is None:
        n_grid = [100, 400, 1600, 6400] if quick else [100, 400, 1600, 6400, 12800, 25600]
    n_grid = [int(n) for n in n_grid]
    seeds = seeds or (16 if quick else 48)
    Hs = [int(h) for h in (Hs or [2, 4, 8])]
    Ss = [int(s) for s in (Ss or [3, 6, 12])]
    n_fixed = int(n_fixed or 1000)
    batch = _batch(seeds, 16)
    base = {"S": 4, "A": 2, "H": 3}
    cell = _rate_cell if estimator is None else functools.partial(_rate_cell,
                                                                  estimator=estimator)
    common = {"instance_seed": int(seed), "batch": batch, "starts": 2, "max_iter": 6}
    sw_n = Sweep("irl.feasible-set-n", cell, grid={"S": [base["S"]]}, seeds=seeds // batch,
                 root_seed=seed, fixed={**common, "A": base["A"], "H": base["H"],
                                        "n_grid": n_grid})
    settings = [(base["S"], h) for h in Hs] + [(s, base["H"]) for s in Ss]
    sw_hs = Sweep("irl.feasible-set-HS", cell,
                  grid={"S": [s for s, _ in settings], "H": [h for _, h in settings]},
                  seeds=seeds // batch, root_seed=seed,
                  fixed={**common, "A": base["A"], "n_grid": [n_fixed]})
    custom = estimator is not None
    kw = dict(progress=False, overwrite=custom, **_sweep_executor(scheduler))
    res_n = run_sweep(sw_n, _sweep_path(out_dir, sw_n, custom), **kw)
    res_hs = run_sweep(sw_hs, _sweep_path(out_dir, sw_hs, custom), **kw)
    lo_n = res_n.metric("lower").reshape(-1, len(n_grid)).T       # (k, seeds)
    up_n = res_n.metric("upper").reshape(-1, len(n_grid)).T
    lo_hs = res_hs.metric("lower")                                  # (S, H, cells, batch, 1)
    level = 1.0 - FAMILY_ALPHA / 3
    ns = np.asarray(n_grid, dtype=np.float64)
    fit_n = fit_slope(ns, np.maximum(lo_n, 1e-300), n_boot=n_boot, seed=seed, level=level,
                      interval="expanded")
    fit_up = fit_slope(ns, np.maximum(up_n, 1e-300), n_boot=n_boot, seed=seed, level=level)
    v_n = verdict_exponent(fit_n, -0.5)
    S_axis, H_axis = sw_hs.grid["S"], sw_hs.grid["H"]

    def table(pairs):
        return np.stack([lo_hs[S_axis.index(s), H_axis.index(h)].reshape(-1)
                         for s, h in pairs])

    tab_H = table([(base["S"], h) for h in Hs])
    tab_S = table([(s, base["H"]) for s in Ss])
    fit_H = fit_slope(np.asarray(Hs, float), np.maximum(tab_H, 1e-300), n_boot=n_boot,
                      seed=seed, level=level, interval="expanded")
    fit_S = fit_slope(np.asarray(Ss, float), np.maximum(tab_S, 1e-300), n_boot=n_boot,
                      seed=seed, level=level, interval="expanded")
    A = base["A"]
    allow_H = _log_allowance([base["S"] * A * h for h in Hs])
    allow_S = _log_allowance([s * A * base["H"] for s in Ss])
    v_H = verdict_upper_bound(fit_H, 1.0 + allow_H)
    v_S = verdict_upper_bound(fit_S, 0.5 + allow_S)
    ok = ok1 and bool(v_n) and bool(v_H) and bool(v_S)
    figures = ()
    if figure:
        figures = (_plot(out_dir, ns, lo_n, up_n, fit_n, v_n, Hs, tab_H, fit_H, v_H, Ss, tab_S,
                         fit_S, v_S, allow_H, allow_S, n_fixed, seeds, text1, ok1),)
    measured = {"n_slope": fit_n.slope, "n_slope_low": fit_n.low, "n_slope_high": fit_n.high,
                "upper_bound_n_slope": fit_up.slope,
                "H_slope": fit_H.slope, "H_slope_low": fit_H.low, "H_slope_high": fit_H.high,
                "S_slope": fit_S.slope, "S_slope_low": fit_S.low, "S_slope_high": fit_S.high,
                "lower_over_upper_median": float(np.median(lo_n / up_n)), **m1}
    stated = {"n_slope": -0.5, "H_slope": f"<= 1 + {allow_H:.3g}",
              "S_slope": f"<= 0.5 + {allow_S:.3g}", "member_worst_excess": "<= 0",
              "outside_worst_shortfall": ">= 0"}
    details = (f"1. {'PASS' if ok1 else 'FAIL'}: {text1}. 2. {v_n.label} (error = certified "
               f"lower bound of the Hausdorff distance, S=4 A=2 H=3, n in {n_grid}, {seeds} "
               f"seeds; certified upper bound slope {fit_up.slope:.3g}). 3. H at n={n_fixed}: "
               f"{v_H.label}; S: {v_S.label}.")
    return Report(claim_id="irl.feasible-set", verdict="pass" if ok else "fail",
                  measured=measured, stated=stated, details=details, figures=figures,
                  n_instances=5 + 1 + len(settings))


def _plot(out_dir, ns, lo_n, up_n, fit_n, v_n, Hs, tab_H, fit_H, v_H, Ss, tab_S, fit_S, v_S,
          allow_H, allow_S, n_fixed, seeds, text1, ok1) -> str:
    from tabular_rl.plotting import agg_subplots, plot_rate, save_figure

    fig, axes = agg_subplots(1, 3, figsize=(17, 5.6))
    ax = plot_rate(ns, lo_n, fit=fit_n, stated_slope=-0.5, verdict=v_n, ax=axes[0],
                   xlabel="samples per (s, a, h)  n", ylabel="Hausdorff distance",
                   label="lower bound")
    up = up_n.mean(axis=1)
    ax.plot(ns, up, "s--", color="0.4", ms=4, label="certified upper bound (mean)")
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.13), frameon=False)
    ax.set_title("error of US-IRL vs n (S=4, A=2, H=3)")
    plot_rate(np.asarray(Hs, float), tab_H, fit=fit_H, stated_slope=1.0 + allow_H,
              verdict=v_H, ax=axes[1], xlabel="horizon H", ylabel="Hausdorff distance (lower)",
              title=f"scaling in H at n={n_fixed} (bound: slope <= {1 + allow_H:.3g})")
    plot_rate(np.asarray(Ss, float), tab_S, fit=fit_S, stated_slope=0.5 + allow_S,
              verdict=v_S, ax=axes[2], xlabel="states S", ylabel="Hausdorff distance (lower)",
              title=f"scaling in S at n={n_fixed} (bound: slope <= {0.5 + allow_S:.3g})")
    fig.suptitle(f"irl.feasible-set (Metelli, Lazzati, Restelli 2023): US-IRL error "
                 f"~ H sqrt(S/n); {seeds} seeds. Membership: {'PASS' if ok1 else 'FAIL'} "
                 f"({text1})", fontsize=10)
    path = save_figure(fig, out_dir, "irl.feasible-set.png", tight=True)
    return path


FEASIBLE_SET = register(Claim(
    id="irl.feasible-set",
    paper=MLR,
    statement=("Metelli, Lazzati, Restelli (ICML 2023): the feasible reward set is "
               "{-B zeta + V_h - p_h V_{h+1}, zeta >= 0}; estimating it to Hausdorff accuracy "
               "eps (sup norm, rewards in [-1,1]) needs Omega(H^3 S A (log(1/delta) + S) / "
               "eps^2) samples, matched by US-IRL up to logs. Measured: members make the "
               "expert optimal and moved ones do not; US-IRL error slope -1/2 in n, at most "
               "H^1 and S^1/2 at fixed n per (s,a,h)."),
    kind="rate",
    instances="random Dirichlet episodic (S 3-12, H 1-8) and discounted models, "
              "deterministic and stochastic experts",
    check=check_feasible_set,
))
