r"""``irl.mce``: maximum causal entropy IRL (and its constrained variant) by exact dual ascent
converges in the tabular setting.

Papers: B. D. Ziebart, J. A. Bagnell, A. K. Dey, "Modeling Interaction via the Principle of
Maximum Causal Entropy", ICML 2010 (the MCE IRL dual and its gradient, the difference of
feature expectations); M. Baert, P. Mazzaglia, S. Leroux, P. Simoens, "Maximum Causal Entropy
Inverse Constrained Reinforcement Learning", arXiv:2305.02857, 2023 (abstract: "We prove
convergence in a tabular setting"). Only the abstracts could be retrieved with the tools
available here; no theorem number is quoted, and the dual implemented in
:mod:`tabular_rl.irl.mce` is derived in its docstring.

Checks (each can fail), on experts that are soft-optimal (Shannon, temperature
:math:`\tau`) for a random reward:

(i) *Feature matching*: the learner stops with :math:`\|\mu_E - \mu_\theta\|_1 \le` ``tol``
    (recomputed here from an exact occupancy of the returned policy), for one-hot features,
    for a linear reward class containing the true reward, for an episodic model, and for
    MCE-ICRL (projected-gradient residual).
(ii) *Soft optimality*: the returned policy is the soft-optimal policy of the returned
    reward: an independent certified solve agrees within the greedy map's Lipschitz constant
    :math:`2/\tau` times :math:`\gamma` times the sum of both certified value errors (plus
    rounding).
(iii) *Reward up to shaping* (tabular features): the learned reward equals the expert's
    reward up to potential shaping
    (:func:`~tabular_rl.irl.identifiability.shaping_distance`): with :math:`\varepsilon` the
    residual and :math:`m = \min d_E(s,a)`, the exact identity
    :math:`r_\theta - r_E = \tau(\log\pi^*_\theta - \log\pi^*_E) + B(\cdot)` and
    :math:`|\log\pi_\theta - \log\pi_E| \le \log\frac{1+\varepsilon/m}{1-\varepsilon/m}`
    give :math:`\operatorname{dist} \le \tau\sqrt{SA}\,(\log\frac{1+\varepsilon/m}
    {1-\varepsilon/m} + \delta)` with :math:`\delta` the (certified) solver errors in log
    space; checked, together with the bound being below ``sqrt(tol)``.
(iv) *MCE-ICRL*: with a cost feature equal to the true cost, the learned cost weight is the
    expert's multiplier :math:`\lambda_0` (within the residual divided by the dual's
    curvature, measured by a finite difference), and the learned policy's occupancy
    matches the expert's within the residual.

Figure: residual against iteration (log scale), one curve per instance.

Injectable parts: ``learner`` (default :func:`~tabular_rl.irl.mce.mce_irl`) and
``icrl_learner`` (default :func:`~tabular_rl.irl.mce.mce_icrl`).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable

import numpy as np

from tabular_rl import EpisodicMDP, Shannon
from tabular_rl.irl.identifiability import shaping_distance, soft_optimal_policy
from tabular_rl.irl.mce import mce_icrl, mce_irl
from tabular_rl.occupancy.polytope import policy_to_occupancy

from .._instances import random_episodic_mdp, random_mdp, rng_for
from ..registry import Claim, Paper, Report, register

__all__ = ["MCE", "check_mce"]

_EPS = float(np.finfo(np.float64).eps)
_U = _EPS / 2

PAPER = Paper(title="Modeling Interaction via the Principle of Maximum Causal Entropy",
              authors="B. D. Ziebart, J. A. Bagnell and A. K. Dey", venue="ICML", year=2010)


def _run(fn, *args, **kw):
    """Call a learner, recording (not raising) its warnings."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = fn(*args, **kw)
    return res, len(caught)


def _instances(seed: int, quick: bool):
    """``(label, kind, mdp, rng)``: kind in tabular / linear / episodic / icrl."""
    if quick:
        plan = [("tabular", 3, 2, 0.5), ("tabular", 4, 3, 0.8), ("linear", 4, 3, 0.7),
                ("episodic", 3, 2, 3), ("icrl", 4, 3, 0.7)]
    else:
        plan = [("tabular", 3, 2, 0.5), ("tabular", 4, 3, 0.8), ("tabular", 6, 3, 0.9),
                ("tabular", 8, 2, 0.9), ("linear", 5, 3, 0.7), ("linear", 8, 3, 0.9),
                ("episodic", 4, 2, 4), ("episodic", 6, 3, 6), ("icrl", 4, 3, 0.7),
                ("icrl", 6, 3, 0.9)]
    for i, (kind, S, A, g) in enumerate(plan):
        rng = rng_for(seed, 5000 + i)
        if kind == "episodic":
            mdp = random_episodic_mdp(rng, S, A, int(g), time_varying=False)
            label = f"{kind} S={S},A={A},H={int(g)}"
        else:
            mdp = random_mdp(rng, S, A, g, sparse=(i % 3 == 2))
            label = f"{kind} S={S},A={A},gamma={g}"
        yield label, kind, mdp, rng


def _soft_policy_error(reg, sol, gamma: float) -> float:
    """Certified sup-distance of ``sol.policy`` (greedy at the certified q) to the optimum."""
    return 2.0 / reg.tau * gamma * float(sol.error_bound)


def check_mce(quick: bool = False, *, seed: int = 0, out_dir="paper_figures",
              learner: Callable | None = None, icrl_learner: Callable | None = None,
              tol: float = 1e-8) -> Report:
    r"""Check ``irl.mce`` (module docstring, parts (i)-(iv)).

    Parameters
    ----------
    quick : bool
        5 small instances (``S <= 5``, ``gamma <= 0.8``) instead of 10 (``S <= 8``,
        ``gamma <= 0.9``).
    seed : int
    out_dir : str or None
        Where the residual figure goes (``None``: no figure).
    learner : callable, optional
        ``learner(mdp, expert_occupancy, features, *, reg, tol, max_iter) -> MCEResult``
        (default :func:`~tabular_rl.irl.mce.mce_irl`).
    icrl_learner : callable, optional
        ``icrl_learner(mdp, expert_occupancy, cost_features, *, reg, tol, max_iter)``
        (default :func:`~tabular_rl.irl.mce.mce_icrl`).
    tol : float
        Feature-matching tolerance handed to the learners.
    """
    learner = learner or mce_irl
    icrl_learner = icrl_learner or mce_icrl
    max_iter = 20_000 if quick else 60_000
    fails: list[str] = []
    curves: list[tuple[str, np.ndarray]] = []
    worst = {"residual": 0.0, "soft_opt": 0.0, "shaping_over_bound": 0.0, "shaping_dist": 0.0,
             "icrl_lambda_over_tol": 0.0, "icrl_occ": 0.0}
    iters: list[int] = []
    n_warn = 0
    n = 0
    for label, kind, mdp, rng in _instances(seed, quick):
        n += 1
        S, A = mdp.S, mdp.A
        r_E = np.asarray(mdp.r, dtype=np.float64)
        reg = Shannon(float(np.abs(r_E).max()))
        if kind == "icrl":
            _icrl(label, mdp, rng, reg, icrl_learner, tol, max_iter, worst, fails, curves,
                  iters)
            continue
        if kind == "linear":
            d = 3
            Phi = rng.normal(0.0, 1.0, (S, A, d))
            theta_true = rng.normal(0.0, 1.0, d)
            r_E = Phi @ theta_true
            reg = Shannon(float(np.abs(r_E).max()))
            features = Phi
        else:
            features = None
        exp_sol = soft_optimal_policy(mdp, r_E, reg)
        pi_E = np.asarray(exp_sol.policy)
        d_E = policy_to_occupancy(mdp, pi_E)
        res, w = _run(learner, mdp, d_E, features, reg=reg, tol=tol, max_iter=max_iter)
        n_warn += w
        iters.append(int(res.iterations))
        curves.append((label, np.asarray(res.history)))
        # (i) residual recomputed from an exact occupancy of the returned policy
        d_L = policy_to_occupancy(mdp, np.asarray(res.policy))
        Phi_ = np.eye(S * A).reshape(S, A, S * A) if features is None else features
        if isinstance(mdp, EpisodicMDP):
            mu_E = np.einsum("sak,sa->k", Phi_, d_E.sum(axis=0))
            mu_L = np.einsum("sak,sa->k", Phi_, d_L.sum(axis=0))
        else:
            mu_E = np.einsum("sak,sa->k", Phi_, d_E)
            mu_L = np.einsum("sak,sa->k", Phi_, d_L)
        resid = float(np.abs(mu_E - mu_L).sum())
        worst["residual"] = max(worst["residual"], resid)
        if not resid <= tol:
            fails.append(f"{label}: residual {resid:.3g} > tol {tol:g}")
        # (ii) the returned policy is soft-optimal for the returned reward
        ind = soft_optimal_policy(mdp, np.asarray(res.reward), reg)
        gap = float(np.abs(np.asarray(ind.policy) - np.asarray(res.policy)).max())
        g = 1.0 if isinstance(mdp, EpisodicMDP) else mdp.gamma
        err_res = float(getattr(res.solution, "error_bound", 0.0))
        tol_pol = (2.0 / reg.tau * g * (err_res + float(ind.error_bound))
                   + 16 * (S + A + 8) * _U * (1.0 + float(np.abs(res.reward).max()) / reg.tau))
        worst["soft_opt"] = max(worst["soft_opt"], gap / tol_pol)
        if gap > tol_pol:
            fails.append(f"{label}: policy differs from the soft-optimal one of the learned "
                         f"reward by {gap:.3g} > {tol_pol:.3g}")
        # (iii) tabular: the learned reward is the expert's up to shaping
        if kind == "tabular":
            eps = resid
            m = float(d_E.min())
            if eps < m:
                lam = np.log1p(eps / m) - np.log1p(-eps / m)
                pi_min = min(float(pi_E.min()), float(np.asarray(res.policy).min()))
                delta = (2 * _soft_policy_error(reg, exp_sol, mdp.gamma)
                         + 2 * _soft_policy_error(reg, res.solution, mdp.gamma)) / pi_min
                bound = reg.tau * np.sqrt(S * A) * (lam + delta) + 64 * S * A * _U * (
                    float(np.abs(r_E).max()) + float(np.abs(res.reward).max()))
            else:
                bound = np.inf
            dist, _ = shaping_distance(mdp, r_E, np.asarray(res.reward))
            worst["shaping_dist"] = max(worst["shaping_dist"], dist / np.linalg.norm(r_E))
            worst["shaping_over_bound"] = max(worst["shaping_over_bound"],
                                              dist / bound if bound > 0 else np.inf)
            if not (dist <= bound and bound <= np.sqrt(tol) * np.linalg.norm(r_E)):
                fails.append(f"{label}: shaping distance {dist:.3g} vs bound {bound:.3g}")
    details = (f"{n} instances (tabular, linear-feature, episodic, MCE-ICRL); tol={tol:g}. "
               f"Iterations {iters}; worst exact feature-matching residual "
               f"{worst['residual']:.3g}; learned policy vs soft-optimal policy of the learned "
               f"reward: worst gap/certified tol {worst['soft_opt']:.3g}; tabular: worst "
               f"relative shaping distance of the learned reward from the expert's "
               f"{worst['shaping_dist']:.3g} (dist/bound {worst['shaping_over_bound']:.3g}); "
               f"ICRL: |omega - lambda0| / tol {worst['icrl_lambda_over_tol']:.3g}, occupancy "
               f"L1 gap {worst['icrl_occ']:.3g}. {n_warn} learner warnings. "
               + ("Failures: " + "; ".join(fails) if fails else "No failures."))
    figures = () if out_dir is None else (_figure(out_dir, curves, tol),)
    return Report(
        claim_id="irl.mce",
        verdict="pass" if not fails else "fail",
        measured={"max_residual": worst["residual"],
                  "max_iterations": float(max(iters) if iters else 0),
                  "soft_optimality_gap_over_tol": worst["soft_opt"],
                  "shaping_distance_over_bound": worst["shaping_over_bound"],
                  "icrl_multiplier_error_over_tol": worst["icrl_lambda_over_tol"]},
        stated={"max_residual": tol, "soft_optimality_gap_over_tol": 1.0,
                "shaping_distance_over_bound": 1.0, "icrl_multiplier_error_over_tol": 1.0},
        details=details, figures=figures, n_instances=n)


def _icrl(label, mdp, rng, reg, icrl_learner, tol, max_iter, worst, fails, curves, iters):
    """Constrained expert with a known multiplier; learn the cost weight from its occupancy."""
    S, A = mdp.S, mdp.A
    c = rng.uniform(0.0, 1.0, (S, A)) * float(np.abs(mdp.r).max())
    lam0 = float(rng.uniform(0.3, 1.0))
    pi_E = np.asarray(soft_optimal_policy(mdp, mdp.r - lam0 * c, reg).policy)
    d_E = policy_to_occupancy(mdp, pi_E)
    res, _ = _run(icrl_learner, mdp, d_E, c, reg=reg, tol=tol, max_iter=max_iter)
    iters.append(int(res.iterations))
    curves.append((label, np.asarray(res.history)))
    omega = float(np.asarray(res.theta)[0])
    # projected-gradient residual recomputed exactly
    d_L = policy_to_occupancy(mdp, np.asarray(res.policy))
    g = float(np.sum(d_L * c) - np.sum(d_E * c))
    resid = abs(omega - max(omega + g, 0.0))
    worst["residual"] = max(worst["residual"], resid)
    if not resid <= tol:
        fails.append(f"{label}: ICRL residual {resid:.3g} > tol {tol:g}")

    # dual curvature kappa = -d<d_lambda, c>/d lambda at lam0, by a central difference
    def cost(lam):
        pol = np.asarray(soft_optimal_policy(mdp, mdp.r - lam * c, reg).policy)
        return float(np.sum(policy_to_occupancy(mdp, pol) * c))

    h = 1e-4 * lam0
    kappa = (cost(lam0 - h) - cost(lam0 + h)) / (2 * h)
    tol_lam = 2.0 * (resid + 1e-12) / max(kappa, 1e-300) + 1e-9 * lam0
    err = abs(omega - lam0)
    worst["icrl_lambda_over_tol"] = max(worst["icrl_lambda_over_tol"], err / tol_lam)
    if err > tol_lam:
        fails.append(f"{label}: learned cost weight {omega:.10g} vs expert multiplier "
                     f"{lam0:.10g} (tol {tol_lam:.3g})")
    occ = float(np.abs(d_L - d_E).sum())
    worst["icrl_occ"] = max(worst["icrl_occ"], occ)


def _figure(out_dir, curves, tol) -> str:
    from tabular_rl.plotting import agg_subplots

    os.makedirs(out_dir, exist_ok=True)
    fig, ax = agg_subplots(figsize=(7.2, 4.6), layout="constrained")
    for j, (label, h) in enumerate(curves):
        h = np.maximum(np.asarray(h, dtype=np.float64), 1e-18)
        ax.semilogy(np.arange(1, h.size + 1), h, color=f"C{j % 10}", lw=1.2, label=label)
    ax.axhline(tol, color="k", ls="--", lw=0.8, label=f"tol = {tol:g}")
    ax.set_xlabel("dual-ascent iteration")
    ax.set_ylabel(r"feature-matching residual $\|\mu_E - \mu_\theta\|_1$")
    ax.set_title("irl.mce: MCE IRL / MCE-ICRL residual (accelerated dual ascent)")
    ax.legend(fontsize=7, loc="upper right")
    path = os.path.join(out_dir, "irl.mce_residual.png")
    fig.savefig(path, dpi=120)
    return path


MCE = register(Claim(
    id="irl.mce",
    paper=PAPER,
    statement=("Ziebart, Bagnell & Dey, ICML 2010 (MCE IRL; full text not retrieved): the "
               "maximum causal entropy policy matching the expert's feature expectations is "
               "the soft-optimal policy of r_theta = theta.phi, theta maximizing a concave "
               "dual whose gradient is mu_E - mu_theta; dual ascent converges in the tabular "
               "setting (feature-matching residual -> 0), the learned policy is soft-optimal "
               "for the learned reward, and with one-hot features the learned reward equals "
               "the expert's up to potential shaping. Constrained variant: Baert et al., "
               "arXiv:2305.02857, 2023 (abstract: convergence in a tabular setting)."),
    kind="qualitative",
    instances=("random discounted MDPs (S <= 8, gamma <= 0.9, dense and CSR) with Shannon "
               "experts (tau = max|r|); one-hot and 3-dimensional linear features; a random "
               "episodic MDP; constrained experts with a known multiplier (MCE-ICRL)"),
    check=check_mce,
))
