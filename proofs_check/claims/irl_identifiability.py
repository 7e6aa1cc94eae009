r"""``irl.shaping-identifiability``: with entropy regularization, rewards are identified from the
regularized-optimal policy exactly up to potential shaping; not so for Tsallis regularization
or with an active constraint.

Paper: A. Schlaginhaufen, M. Kamgarpour, "Identifiability and Generalizability in
Constrained Inverse Reinforcement Learning", ICML 2023 (arXiv:2306.00629). Only the abstract
could be retrieved with the tools available here, so no theorem number is quoted; the check
encodes the abstract's statements ("identifiability up to potential shaping (Cao et al.,
2021) is a consequence of entropy regularization and may generally no longer hold for other
regularizations or in the presence of safety constraints"), with the exact characterization
re-derived in :mod:`tabular_rl.irl.identifiability` (and Cao, Cohen, Szpruch, NeurIPS 2021,
Thm. 1, for the entropy-regularized discounted case).

Checks (each can fail):

(i) *Shaping invariance* (Ng, Harada, Russell 1999, Thm. 1, regularized form): for
    :math:`r' = r + \gamma P\phi - \phi`, the identity :math:`q_{r'}(v - \phi) = q_r(v) -
    \phi` holds to floating point at the computed soft-optimal :math:`v` (tolerance
    :math:`4(n + A + 8)u` times the sum of the magnitudes involved; :math:`u` the unit
    roundoff, :math:`n` the row nonzeros), the greedy policies at both agree to the greedy
    map's Lipschitz constant times that, and independent soft-optimal solves for :math:`r`
    and :math:`r'` agree within their certified error bounds. Shannon and Tsallis(2)
    regularizers, discounted; Shannon episodic with time-indexed potentials.
(ii) *Rank test* (Shannon): the numerical null space of the consistency Jacobian
    (:func:`~tabular_rl.irl.identifiability.consistent_reward_set`) has dimension exactly
    :math:`S`, coincides with the range of the shaping matrix :math:`\gamma P - E` (sine of
    the largest principal angle below the Wedin-type bound
    :math:`8\,SA\,\varepsilon\,\kappa(I - \gamma P\Pi)\,\sigma_{\max}/\sigma_{\min>0}`,
    the rounding error of the computed Jacobian over its smallest nonzero singular value),
    and moving the particular
    reward along a random null-space direction leaves the soft-optimal policy unchanged
    (within the certified bounds). For sparse Tsallis policies the same computation gives
    :math:`S + \#\text{unplayed}` (reported and checked: the consistent set is larger).
(iii) *Tsallis counterexample* (:func:`~tabular_rl.irl.identifiability.tsallis_counterexample`):
    two rewards with the same Tsallis-optimal policy (independent solves agree within their
    certified bounds) whose difference is not a shaping (relative least-squares distance from
    the shaping space above :math:`10^{-6}`, while a shaping gives :math:`O(\varepsilon)`).
(iv) *Active-constraint counterexample*
    (:func:`~tabular_rl.irl.identifiability.constraint_counterexample`): an entropy-regularized
    CMDP built with a known multiplier :math:`\lambda_0 > 0` (threshold = the cost of the
    soft-optimal policy of :math:`r - \lambda_0 c`, so the constraint is active); the solver
    recovers :math:`\lambda_0`; :math:`r_2 = r + t c` has the same constrained optimum (KKT
    residual of :math:`(\pi_1, \lambda_1 + t)` for :math:`r_2` at floating point; an
    independent solve agrees to the CMDP solver's tolerance), its unconstrained soft-optimal
    policy differs, and :math:`t c` is not a shaping.

Injectable parts: ``shaper`` (default :func:`~tabular_rl.irl.identifiability.shape`),
``rank_fn`` and ``rank_rtol`` (the rank test), ``solver`` (soft-optimal solve),
``cmdp_solver``.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable

import numpy as np

from tabular_rl import EpisodicMDP, Shannon, Tsallis, q_values
from tabular_rl.irl.identifiability import (
    consistent_reward_set,
    constraint_counterexample,
    shape,
    shaping_matrix,
    soft_optimal_policy,
    tsallis_counterexample,
)
from tabular_rl.irl.mce import solve_soft_cmdp
from tabular_rl.occupancy import ConstrainedMDP
from tabular_rl.occupancy.polytope import policy_to_occupancy

from .._instances import random_episodic_mdp, random_mdp, rng_for
from ..registry import Claim, Paper, Report, register

__all__ = ["SHAPING_IDENTIFIABILITY", "check_shaping_identifiability"]

_EPS = float(np.finfo(np.float64).eps)
_U = _EPS / 2

PAPER = Paper(title="Identifiability and Generalizability in Constrained Inverse "
                    "Reinforcement Learning",
              authors="A. Schlaginhaufen and M. Kamgarpour", venue="ICML", year=2023)

#: Relative distance from the shaping space above which a reward change is "not a shaping"
#: (a shaping's least-squares residual is O(eps) relative).
NOT_SHAPING = 1e-6
#: Agreement required between two independent solves of the regularized CMDP (the solver's
#: root tolerance on lambda is 1e-12; propagated to the policy it is far below this).
CMDP_AGREEMENT = 1e-8


def _lip(reg, A: int) -> float:
    r"""Lipschitz constant of the greedy map, :math:`\ell_\infty \to \ell_\infty`:
    softmax :math:`2/\tau`; sparsemax of :math:`q/(2\tau)` is 1-Lipschitz in
    :math:`\ell_2`, so :math:`\sqrt A/(2\tau)`."""
    return max(2.0, np.sqrt(A)) / reg.tau


def _nnz(mdp) -> int:
    if isinstance(mdp, EpisodicMDP):
        return mdp.S
    return mdp.max_row_nnz


def _mdps(seed: int, n: int, offset: int, max_states: int, gammas, sparse_every: int = 3):
    for i in range(n):
        rng = rng_for(seed, offset + i)
        S = int(rng.integers(2, max_states + 1))
        A = int(rng.integers(2, 5))
        g = gammas[i % len(gammas)]
        mdp = random_mdp(rng, S, A, g, sparse=(i % sparse_every == sparse_every - 1))
        # continuous rewards (no ties: a tie can put an action exactly on the Tsallis threshold)
        scale = 10.0 ** rng.uniform(-1.0, 1.0)
        mdp = mdp.with_reward(rng.uniform(-scale, scale, (S, A)))
        yield f"S={S},A={A},gamma={g},{'csr' if mdp.is_sparse else 'dense'}", mdp, rng


# ------------------------------------------------------------------- (i) shaping invariance


def _shaping_discounted(label, mdp, rng, reg, shaper, solver, worst):
    S, A = mdp.S, mdp.A
    sol = solver(mdp, mdp.r, reg)
    v, q = np.asarray(sol.v), np.asarray(sol.q)
    phi = rng.normal(0.0, 1.0, S) * (1.0 + float(np.abs(v).max()))
    r2 = np.asarray(shaper(mdp, mdp.r, phi))
    m2 = mdp.with_reward(r2)
    v2 = v - phi
    q2 = q_values(m2, v2)
    # identity q_{r'}(v - phi) = q_r(v) - phi, to floating point
    mag = (mdp.r_absmax + float(np.abs(r2).max()) + 2 * float(np.abs(phi).max())
           + float(np.abs(v).max()) + float(np.abs(v2).max()))
    tol_q = 4 * (_nnz(mdp) + A + 8) * _U * mag
    err_q = float(np.abs(q2 - (q - phi[:, None])).max())
    worst["q_identity"] = max(worst["q_identity"], err_q / tol_q)
    # greedy policies at both
    _, p1 = reg.max_omega(q)
    _, p2 = reg.max_omega(q2)
    tol_p = _lip(reg, A) * tol_q + 8 * (A + 8) * _U
    err_p = float(np.abs(p1 - p2).max())
    worst["policy_identity"] = max(worst["policy_identity"], err_p / tol_p)
    # independent solves
    sol2 = solver(mdp, r2, reg)
    tol_s = _lip(reg, A) * mdp.gamma * (sol.error_bound + sol2.error_bound) + tol_p
    gap = float(np.abs(np.asarray(sol.policy) - np.asarray(sol2.policy)).max())
    worst["policy_solves"] = max(worst["policy_solves"], gap / tol_s)
    worst["max_policy_gap"] = max(worst["max_policy_gap"], gap)
    if max(err_q / tol_q, err_p / tol_p, gap / tol_s) > 1:
        worst["where"] = f"{label}, {type(reg).__name__}"


def _shaping_episodic(label, mdp, rng, reg, shaper, solver, worst):
    S, A, H = mdp.S, mdp.A, mdp.H
    sol = solver(mdp, mdp.r, reg)
    V = np.asarray(sol.v)
    phi = rng.normal(0.0, 1.0, (H, S)) * (1.0 + float(np.abs(V).max()))
    r2 = np.asarray(shaper(mdp, mdp.r, phi))
    sol2 = solver(mdp, r2, reg)
    mag = 4 * (float(np.abs(V).max()) + float(np.abs(phi).max()) + float(np.abs(r2).max())
               + float(np.abs(mdp.r).max()))
    tol_v = 4 * H * (S + A + 8) * _U * mag + sol.error_bound + sol2.error_bound
    err_v = float(np.abs(np.asarray(sol2.v)[:H] - (V[:H] - phi)).max())
    tol_s = _lip(reg, A) * tol_v + 8 * (A + 8) * _U
    gap = float(np.abs(np.asarray(sol.policy) - np.asarray(sol2.policy)).max())
    worst["q_identity"] = max(worst["q_identity"], err_v / tol_v)
    worst["policy_solves"] = max(worst["policy_solves"], gap / tol_s)
    worst["max_policy_gap"] = max(worst["max_policy_gap"], gap)
    if max(err_v / tol_v, gap / tol_s) > 1:
        worst["where"] = f"{label} (episodic)"


# ------------------------------------------------------------------------- (ii) rank test


def _rank(label, mdp, rng, reg, rank_fn, rank_rtol, solver, out):
    S, A = mdp.S, mdp.A
    sol = solver(mdp, mdp.r, reg)
    pi = np.asarray(sol.policy)
    cs = rank_fn(mdp, pi, reg, rtol=rank_rtol)
    n_unplayed = int((pi == 0).sum())
    stated = S + n_unplayed
    ok_dim = cs.dim == stated
    sv = np.asarray(cs.singular_values)
    entry = {"label": label, "reg": type(reg).__name__, "dim": cs.dim, "stated": stated,
             "sv": sv, "tol": cs.tol}
    if isinstance(reg, Shannon):
        out["shannon_dims"].append((cs.dim, S))
        B = shaping_matrix(mdp)
        Qb, _ = np.linalg.qr(B)
        basis = np.asarray(cs.basis)
        if basis.shape[1]:
            sin = float(np.linalg.norm(basis - Qb @ (Qb.T @ basis), 2))
        else:
            sin = np.inf
        rank = sv.size - cs.dim
        smin = float(sv[rank - 1]) if rank > 0 else float(sv[0])
        # Wedin: sin(angle) <= |dK| / sigma_min(>0); the computed K = C inv(M) carries a
        # relative error O(cond(M) * S*A * eps) (Higham 2002, Sec. 14.1), M = I - gamma P Pi
        Pi = np.zeros((S, S * A))
        Pi[np.repeat(np.arange(S), A), np.arange(S * A)] = pi.reshape(-1)
        P_flat = mdp.P_flat.toarray() if mdp.is_sparse else np.asarray(mdp.P_flat)
        cond = float(np.linalg.cond(np.eye(S * A) - mdp.gamma * P_flat @ Pi))
        tol_sin = 8 * S * A * _EPS * cond * float(sv[0]) / smin
        out["subspace"] = max(out["subspace"], sin / tol_sin if np.isfinite(sin) else np.inf)
        # move along a random null direction: the soft-optimal policy must not change
        if basis.shape[1]:
            z = rng.normal(0.0, 1.0, basis.shape[1]) * (1.0 + float(np.abs(cs.particular).max()))
            r_new = np.asarray(cs.particular) + (basis @ z).reshape(S, A)
            sol_new = solver(mdp, r_new, reg)
            sol_par = solver(mdp, cs.particular, reg)
            gap = float(np.abs(np.asarray(sol_new.policy) - pi).max())
            tol = (_lip(reg, A) * mdp.gamma
                   * (sol.error_bound + sol_new.error_bound + 2 * sol_par.error_bound)
                   + _lip(reg, A) * 8 * (S + A + 8) * _U * float(np.abs(r_new).max()))
            out["null_move"] = max(out["null_move"], gap / tol)
        if not ok_dim or out["subspace"] > 1:
            out["where"] = label
    else:
        out["tsallis_dims"].append((cs.dim, stated))
        if not ok_dim:
            out["where"] = f"{label} (Tsallis)"
    out["dim_ok"] &= ok_dim
    out["examples"].append(entry)


# ---------------------------------------------------------------------- (iv) constraint


def _constraint(label, mdp, rng, reg, cmdp_solver, solver, out):
    S, A = mdp.S, mdp.A
    c = rng.uniform(0.0, 1.0, (S, A)) * (1.0 + mdp.r_absmax)
    lam0 = float(rng.uniform(0.2, 1.0))
    sol0 = solver(mdp, mdp.r - lam0 * c, reg)
    d0 = policy_to_occupancy(mdp, np.asarray(sol0.policy))
    b = float(np.sum(d0 * c))
    cmdp = ConstrainedMDP(mdp, c[None], [b])
    ce = constraint_counterexample(cmdp, reg, t=1.0, cmdp_solver=cmdp_solver)
    s1 = cmdp_solver(cmdp, reg)
    lam1 = float(np.asarray(s1.multipliers)[0])
    # recovered multiplier vs the constructed one
    out["lambda_err"] = max(out["lambda_err"], abs(lam1 - lam0) / lam0)
    if ce is None:
        out["found"] = False
        out["where"] = f"{label}: no active constraint found"
        return
    # exact KKT of (pi_1, lam_1 + t) for r_2 = r_1 + t c: the Lagrangian rewards coincide
    t = 1.0
    lag1 = mdp.r - lam1 * c
    lag2 = ce.r2 - (lam1 + t) * c
    mag = float(np.abs(ce.r2).max()) + (lam1 + t) * float(np.abs(c).max())
    kkt = float(np.abs(lag1 - lag2).max()) / (4 * _U * mag)
    out["kkt"] = max(out["kkt"], kkt)
    out["policy_gap"] = max(out["policy_gap"], ce.policy_gap)
    out["unconstrained_gap"] = min(out["unconstrained_gap"], ce.unconstrained_policy_gap)
    out["shaping_distance"] = min(out["shaping_distance"], ce.shaping_distance)
    out["n"] += 1


# ----------------------------------------------------------------------------- the check


def check_shaping_identifiability(quick: bool = False, *, seed: int = 0,
                                  out_dir="paper_figures", shaper: Callable | None = None,
                                  rank_fn: Callable | None = None,
                                  rank_rtol: float | None = None,
                                  solver: Callable | None = None,
                                  cmdp_solver: Callable | None = None) -> Report:
    r"""Check ``irl.shaping-identifiability`` (module docstring, parts (i)-(iv)).

    Parameters
    ----------
    quick : bool
        6 discounted + 2 episodic shaping instances, 4 rank tests, 3 counterexamples of
        each kind (``S <= 6``) instead of 18 / 6 / 10 / 8 (``S <= 12``).
    seed : int
    out_dir : str or None
        Where the singular-value figure goes (``None``: no figure).
    shaper : callable, optional
        ``shaper(mdp, r, phi) -> r'``; default :func:`~tabular_rl.irl.identifiability.shape`.
    rank_fn : callable, optional
        ``rank_fn(mdp, pi, reg, rtol=...) -> ConsistentRewardSet``; default
        :func:`~tabular_rl.irl.identifiability.consistent_reward_set`.
    rank_rtol : float, optional
        Passed to ``rank_fn`` (default ``None``: its documented default).
    solver : callable, optional
        ``solver(mdp, r, reg) -> Solution``; default
        :func:`~tabular_rl.irl.identifiability.soft_optimal_policy`.
    cmdp_solver : callable, optional
        ``cmdp_solver(cmdp, reg) -> SoftCMDPSolution``; default
        :func:`~tabular_rl.irl.mce.solve_soft_cmdp`.
    """
    shaper = shaper or shape
    rank_fn = rank_fn or consistent_reward_set
    solver = solver or soft_optimal_policy
    cmdp_solver = cmdp_solver or (lambda c, g: solve_soft_cmdp(c, g))
    n_shape, n_epi, n_rank, n_ce, max_S = (6, 2, 4, 3, 6) if quick else (18, 6, 10, 8, 12)
    gammas = (0.3, 0.5, 0.9, 0.99)
    n_warn = 0
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        # (i) shaping invariance
        w1 = {"q_identity": 0.0, "policy_identity": 0.0, "policy_solves": 0.0,
              "max_policy_gap": 0.0, "where": "-"}
        n_i = 0
        for label, mdp, rng in _mdps(seed, n_shape, 0, max_S, gammas):
            scale = float(np.abs(mdp.r).max())
            for reg in (Shannon(0.5 * scale), Tsallis(0.5 * scale, 2.0)):
                _shaping_discounted(label, mdp, rng, reg, shaper, solver, w1)
                n_i += 1
        for i in range(n_epi):
            rng = rng_for(seed, 1000 + i)
            S, A, H = int(rng.integers(2, max_S + 1)), int(rng.integers(2, 4)), int(
                rng.integers(2, 6))
            mdp = random_episodic_mdp(rng, S, A, H, time_varying=bool(i % 2))
            reg = Shannon(0.5 * float(np.abs(mdp.r).max()))
            _shaping_episodic(f"S={S},A={A},H={H}", mdp, rng, reg, shaper, solver, w1)
            n_i += 1
        # (ii) rank test
        w2 = {"shannon_dims": [], "tsallis_dims": [], "subspace": 0.0, "null_move": 0.0,
              "dim_ok": True, "examples": [], "where": "-"}
        for label, mdp, rng in _mdps(seed, n_rank, 2000, max_S, gammas):
            scale = float(np.abs(mdp.r).max())
            _rank(label, mdp, rng, Shannon(0.5 * scale), rank_fn, rank_rtol, solver, w2)
            _rank(label, mdp, rng, Tsallis(0.3 * scale, 2.0), rank_fn, rank_rtol, solver, w2)
        # (iii) Tsallis counterexamples
        w3 = {"policy_gap": 0.0, "gap_over_tol": 0.0, "shaping_distance": np.inf, "n": 0,
              "where": "-"}
        for label, mdp, _rng in _mdps(seed, n_ce, 3000, max_S, gammas):
            reg = Tsallis(0.1 * float(np.abs(mdp.r).max()), 2.0)
            ce = tsallis_counterexample(mdp, reg, solver=solver)
            if ce is None:
                continue
            e1 = solver(mdp, ce.r1, reg).error_bound
            e2 = solver(mdp, ce.r2, reg).error_bound
            tol = _lip(reg, mdp.A) * (mdp.gamma * (e1 + e2) + 8 * (mdp.S + mdp.A + 8) * _U
                                      * float(np.abs(ce.r1).max()))
            w3["policy_gap"] = max(w3["policy_gap"], ce.policy_gap)
            w3["gap_over_tol"] = max(w3["gap_over_tol"], ce.policy_gap / tol)
            w3["shaping_distance"] = min(w3["shaping_distance"], ce.shaping_distance)
            if ce.policy_gap > tol or ce.shaping_distance <= NOT_SHAPING:
                w3["where"] = label
            w3["n"] += 1
        # (iv) active-constraint counterexamples
        w4 = {"lambda_err": 0.0, "kkt": 0.0, "policy_gap": 0.0, "unconstrained_gap": np.inf,
              "shaping_distance": np.inf, "found": True, "n": 0, "where": "-"}
        for label, mdp, rng in _mdps(seed, n_ce, 4000, max_S, (0.5, 0.9)):
            reg = Shannon(0.5 * float(np.abs(mdp.r).max()))
            _constraint(label, mdp, rng, reg, cmdp_solver, solver, w4)
        n_warn = len(caught)

    shannon_ok = all(d == s for d, s in w2["shannon_dims"])
    ok = {
        "shaping": (w1["q_identity"] <= 1 and w1["policy_identity"] <= 1
                    and w1["policy_solves"] <= 1),
        "rank": w2["dim_ok"] and shannon_ok and w2["subspace"] <= 1 and w2["null_move"] <= 1,
        "tsallis": w3["n"] > 0 and w3["gap_over_tol"] <= 1
        and w3["shaping_distance"] > NOT_SHAPING,
        "constraint": (w4["found"] and w4["n"] > 0 and w4["kkt"] <= 1
                       and w4["policy_gap"] <= CMDP_AGREEMENT
                       and w4["lambda_err"] <= CMDP_AGREEMENT
                       and w4["unconstrained_gap"] > NOT_SHAPING
                       and w4["shaping_distance"] > NOT_SHAPING),
    }
    sh_dims = ", ".join(f"{d}/{s}" for d, s in w2["shannon_dims"])
    ts_dims = ", ".join(f"{d}/{s}" for d, s in w2["tsallis_dims"])
    details = (
        f"(i) shaping invariance on {n_i} (instance, regularizer) pairs: worst q-identity "
        f"error / fp tolerance {w1['q_identity']:.3g}, greedy-policy identity "
        f"{w1['policy_identity']:.3g}, independent solves {w1['policy_solves']:.3g} (max "
        f"policy gap {w1['max_policy_gap']:.3g}); worst at {w1['where']}. "
        f"(ii) rank test, consistent-set dimension found/stated: Shannon [{sh_dims}] "
        f"(stated S), Tsallis(2) [{ts_dims}] (stated S + #unplayed); null space vs shaping "
        f"space sin(angle)/bound {w2['subspace']:.3g}; random null-space move policy gap / "
        f"certified tol {w2['null_move']:.3g}; rank tolerance "
        f"{'default max(SA)*eps*cond(M)*sigma_max' if rank_rtol is None else f'rtol={rank_rtol:g}'}"
        f"; worst at {w2['where']}. (iii) Tsallis counterexamples on {w3['n']} instances: "
        f"policy gap {w3['policy_gap']:.3g} (gap/certified tol {w3['gap_over_tol']:.3g}), "
        f"smallest relative distance of r2 - r1 from the shaping space "
        f"{w3['shaping_distance']:.3g} (needs > {NOT_SHAPING:g}). (iv) active-constraint "
        f"counterexamples on {w4['n']} instances: multiplier recovery rel. error "
        f"{w4['lambda_err']:.3g}, KKT of (pi1, lambda1 + t) for r2 / fp tol {w4['kkt']:.3g}, "
        f"independent constrained solves policy gap {w4['policy_gap']:.3g} (needs <= "
        f"{CMDP_AGREEMENT:g}), smallest unconstrained policy gap "
        f"{w4['unconstrained_gap']:.3g}, smallest distance from shaping "
        f"{w4['shaping_distance']:.3g}; {w4['where']}. {n_warn} warnings. Verdicts: "
        + ", ".join(f"{k}={'ok' if v else 'FAIL'}" for k, v in ok.items()))
    figures = ()
    if out_dir is not None and w2["examples"]:
        figures = (_figure(out_dir, w2["examples"]),)
    min_sh = w3["shaping_distance"] if np.isfinite(w3["shaping_distance"]) else 0.0
    return Report(
        claim_id="irl.shaping-identifiability",
        verdict="pass" if all(ok.values()) else "fail",
        measured={
            "shaping_policy_gap_over_tol": max(w1["q_identity"], w1["policy_identity"],
                                               w1["policy_solves"]),
            "shannon_dim_mismatches": float(sum(d != s for d, s in w2["shannon_dims"])),
            "null_space_angle_over_tol": float(w2["subspace"]),
            "tsallis_counterexample_shaping_distance": float(min_sh),
            "constraint_counterexample_shaping_distance": float(
                w4["shaping_distance"] if np.isfinite(w4["shaping_distance"]) else 0.0),
            "constraint_policy_gap": float(w4["policy_gap"]),
        },
        stated={
            "shaping_policy_gap_over_tol": 1.0,
            "shannon_dim_mismatches": 0.0,
            "null_space_angle_over_tol": 1.0,
            "tsallis_counterexample_shaping_distance": f"> {NOT_SHAPING:g}",
            "constraint_counterexample_shaping_distance": f"> {NOT_SHAPING:g}",
            "constraint_policy_gap": CMDP_AGREEMENT,
        },
        details=details, figures=figures,
        n_instances=n_i + len(w2["examples"]) + w3["n"] + w4["n"])


def _figure(out_dir, examples) -> str:
    from tabular_rl.plotting import agg_subplots

    os.makedirs(out_dir, exist_ok=True)
    fig, axes = agg_subplots(1, 2, figsize=(11, 4.4), layout="constrained")
    for ax, name in zip(axes, ("Shannon", "Tsallis"), strict=True):
        ex = [e for e in examples if e["reg"] == name][:4]
        for j, e in enumerate(ex):
            sv = np.maximum(e["sv"], 1e-18)
            ax.semilogy(np.arange(1, sv.size + 1), sv, "o-", ms=3, color=f"C{j}",
                        label=f"{e['label']}: null dim {e['dim']} (stated {e['stated']})")
            ax.axhline(e["tol"], color=f"C{j}", ls=":", lw=0.8)
        ax.set_xlabel("index of singular value (decreasing)")
        ax.set_ylabel("singular value of consistency Jacobian K")
        ax.set_title(f"{name}: {'stated S' if name == 'Shannon' else 'stated S + #unplayed'}")
        ax.legend(fontsize=7, loc="center right")
    fig.suptitle("irl.shaping-identifiability: rank test (dotted: zero tolerance)")
    path = os.path.join(out_dir, "irl.shaping-identifiability_rank.png")
    fig.savefig(path, dpi=120)
    return path


SHAPING_IDENTIFIABILITY = register(Claim(
    id="irl.shaping-identifiability",
    paper=PAPER,
    statement=("Schlaginhaufen & Kamgarpour, ICML 2023 (abstract; full text not retrieved): "
               "identifiability up to potential shaping (Cao et al. 2021, Thm. 1) is a "
               "consequence of entropy regularization -- the rewards whose soft-optimal "
               "policy is pi are exactly tau log pi + {gamma P phi - phi}, an affine space of "
               "dimension S -- and may no longer hold for other regularizations (Tsallis) or "
               "in the presence of active safety constraints; shaping r + gamma P phi - phi "
               "leaves (soft-)optimal policies unchanged (Ng, Harada, Russell 1999, Thm. 1)."),
    kind="identity",
    instances=("random discounted MDPs (dense and CSR, S <= 12, gamma in {0.3, 0.5, 0.9, "
               "0.99}), random episodic MDPs; Shannon and Tsallis(2) regularizers; CMDPs "
               "with a constructed active constraint"),
    check=check_shaping_identifiability,
))
