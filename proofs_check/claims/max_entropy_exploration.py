r"""``occ.max-entropy-exploration`` (exact optima): visitation and trajectory entropy.

Paper: D. Tiapkin, D. Belomestny, D. Calandriello, É. Moulines, R. Munos, A. Naumov,
P. Perrault, Y. Tang, M. Valko, P. Ménard, "Fast Rates for Maximum Entropy Exploration",
ICML 2023 (arXiv:2303.08059). Only the abstract and the opening of the paper could be read
while writing this module; the definitions below follow its §2 as far as it could be
retrieved, and the identity of (ii) is derived in full here (it is the chain rule of
entropy). This module checks the *exact-optimum* part of the claim only; the sample
complexities (:math:`\tilde O(H^3S^2A/\varepsilon^2)` visitation,
:math:`\tilde O(\mathrm{poly}(S,A,H)/\varepsilon)` trajectory) are not checked here.

(i) **Visitation entropy.** :math:`\mathrm{VE}(d^\pi) = \sum_{h} \mathcal H(d^\pi_h)` with
    :math:`d^\pi_h(s,a)` the step-:math:`h` state-action visitation (episodic), and the
    discounted analogue :math:`\mathcal H(d^\pi)` of the normalized occupancy (states or
    state-action pairs; Hazan et al., ICML 2019). Its maximum over policies is a concave
    program over the occupancy polytope. The check solves it twice, independently: by
    cvxpy (:func:`tabular_rl.occupancy.convex.max_entropy_occupancy`, Clarabel, an
    exponential-cone program) and by Frank-Wolfe with exact MDP solves as the oracle
    (:func:`tabular_rl.occupancy.frank_wolfe.frank_wolfe`), whose duality gap is a proven
    bound :math:`F^* - F(d_K) \le g`. Stated: the convex program's value and Frank-Wolfe's
    agree within Frank-Wolfe's certified gap plus the conic solver's tolerance,

    .. math::

        |F_{\mathrm{cvx}} - F_{\mathrm{FW}}| \le g_{\mathrm{FW}} + \epsilon_{\mathrm{cvx}},
        \qquad \epsilon_{\mathrm{cvx}} = 10^{-6}\max(1, |F|)

    (Clarabel stops at a relative duality gap of :math:`10^{-8}`; the factor 100 covers
    its feasibility tolerance), and the entropy of the *exact* occupancy of the convex
    program's policy never exceeds Frank-Wolfe's certified upper bound (to
    :math:`10^{-12}`).

(ii) **Trajectory entropy.** For :math:`\tau = (s_0, a_0, \dots, s_{H-1}, a_{H-1})` drawn
    from :math:`\mu` and :math:`\pi`, the chain rule of entropy gives

    .. math::

        \mathcal H(q^\pi) = \mathcal H(\mu) + \mathbb E^\pi\Big[\sum_{h=0}^{H-1}
        \mathcal H(\pi_h(\cdot\mid s_h)) + \sum_{h=0}^{H-2}
        \mathcal H(P_h(\cdot\mid s_h, a_h))\Big],

    i.e. :math:`\mathcal H(\mu) + \mu^\top V^\pi_0` for the Shannon(:math:`\tau = 1`)
    regularized MDP with reward :math:`r_h(s,a) = \mathcal H(P_h(\cdot\mid s,a))`
    (:math:`h \le H-2`; 0 at the last step) — Tiapkin et al.'s reduction of trajectory
    entropy to an entropy-regularized MDP. Hence :math:`\max_\pi \mathcal H(q^\pi) =
    \mathcal H(\mu) + \mu^\top V^*_0` by soft backward induction
    (:func:`tabular_rl.planning.soft_dp.soft_backward_induction`). (With zero reward, as in
    "soft backward induction on the zero-reward MDP", the identity holds only for
    deterministic transitions; the report gives that difference as information.) Stated,
    against brute-force enumeration of all :math:`(SA)^H` trajectories on tiny models: the
    soft optimum equals the enumerated trajectory entropy of the soft-optimal policy (to
    :math:`10^{-12}` relative), and no random policy's enumerated entropy exceeds it.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable

import numpy as np

from tabular_rl import EpisodicMDP
from tabular_rl.occupancy.convex import max_entropy_occupancy, occupancy_entropy
from tabular_rl.occupancy.frank_wolfe import entropy_utility, frank_wolfe
from tabular_rl.occupancy.polytope import policy_to_occupancy

from .._instances import random_mdp, rng_for
from ..registry import Claim, Paper, Report, register

__all__ = ["MAX_ENTROPY_EXPLORATION", "TIAPKIN_2023", "check_max_entropy_exploration",
           "trajectory_entropy_bruteforce", "transition_entropy_reward"]

TIAPKIN_2023 = Paper(
    title="Fast Rates for Maximum Entropy Exploration",
    authors=("D. Tiapkin, D. Belomestny, D. Calandriello, E. Moulines, R. Munos, A. Naumov, "
             "P. Perrault, Y. Tang, M. Valko, P. Menard"),
    venue="ICML", year=2023)

CVX_REL_TOL = 1e-6
FP_REL_TOL = 1e-12


def _entropy_rows(p: np.ndarray) -> np.ndarray:
    return -np.sum(np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0), axis=-1)


def _dense_P(mdp: EpisodicMDP, h: int) -> np.ndarray:
    Pf = mdp.P_flat(h)
    Pf = Pf.toarray() if hasattr(Pf, "toarray") else np.asarray(Pf)
    return Pf.reshape(mdp.S, mdp.A, mdp.S)


def transition_entropy_reward(mdp: EpisodicMDP) -> np.ndarray:
    r"""``(H, S, A)`` reward :math:`r_h(s,a) = \mathcal H(P_h(\cdot\mid s,a))` for
    :math:`h \le H-2` and 0 at :math:`h = H-1`, whose Shannon(1)-regularized value plus
    :math:`\mathcal H(\mu)` is the trajectory entropy."""
    r = np.zeros((mdp.H, mdp.S, mdp.A))
    for h in range(mdp.H - 1):
        r[h] = _entropy_rows(_dense_P(mdp, h))
    return r


def trajectory_entropy_bruteforce(mdp: EpisodicMDP, pi: np.ndarray) -> float:
    r""":math:`\mathcal H(q^\pi)` by enumerating all :math:`(SA)^H` trajectories
    :math:`(s_0, a_0, \dots, s_{H-1}, a_{H-1})` (tiny models only)."""
    S, A, H = mdp.S, mdp.A, mdp.H
    pi = np.asarray(pi, dtype=np.float64)
    if pi.ndim == 2:
        pi = np.broadcast_to(pi, (H, S, A))
    if (S * A) ** H > 2_000_000:
        raise ValueError(f"(S*A)^H = {(S * A) ** H} trajectories is too many to enumerate")
    T = (mdp.mu[:, None] * pi[0])[None]                      # (N=1, S, A)
    for h in range(H - 1):
        P = _dense_P(mdp, h)
        nxt = T[:, :, :, None, None] * P[None, :, :, :, None] * pi[h + 1][None, None, None]
        T = nxt.reshape(-1, S, A)
    t = T.ravel()
    t = t[t > 0]
    return float(-np.sum(t * np.log(t)))


# ----------------------------------------------------------------------------- instances


def _visitation_instances(seed: int, quick: bool):
    n = 4 if quick else 10
    for i in range(n):
        rng = rng_for(seed + 7321, i)
        if i % 2 == 0:
            S = int(rng.choice([5, 8] if quick else [5, 8, 12, 20]))
            A = int(rng.integers(2, 4))
            gamma = (0.8, 0.9)[(i // 2) % 2]
            mdp = random_mdp(rng, S, A, gamma, sparse=(i // 2) % 2 == 1)
            over = ("state", "state_action")[(i // 2) % 2]
            yield mdp, over, f"#{i} discounted S={S} A={A} gamma={gamma:g} over={over}"
        else:
            S = int(rng.choice([4, 6] if quick else [4, 6, 10]))
            A = int(rng.integers(2, 4))
            H = int(rng.integers(3, 6))
            P = random_mdp(rng, S, A, 0.5).P
            mu = np.zeros(S)
            mu[0] = 1.0  # a fixed initial state, as in the paper
            mdp = EpisodicMDP(P, np.zeros((S, A)), H, mu)
            over = ("state_action", "state")[(i // 2) % 2]
            yield mdp, over, f"#{i} episodic S={S} A={A} H={H} over={over} (VE: sum over h)"


def _trajectory_instances(seed: int, quick: bool):
    n = 3 if quick else 8
    for i in range(n):
        rng = rng_for(seed + 9157, i)
        S, A = 3, 2
        H = int(rng.integers(2, 5) if quick else rng.integers(2, 6))
        deterministic = i % 3 == 2
        if deterministic:
            P = np.zeros((H, S, A, S))
            tgt = rng.integers(0, S, size=(H, S, A))
            np.put_along_axis(P, tgt[..., None], 1.0, axis=-1)
        else:
            P = rng.dirichlet(np.full(S, 0.7), size=(H, S, A))
        mu = rng.dirichlet(np.ones(S)) if i % 2 else np.eye(S)[0]
        mdp = EpisodicMDP(P, np.zeros((S, A)), H, mu)
        yield mdp, rng, (f"#{i} S={S} A={A} H={H} "
                         f"{'deterministic' if deterministic else 'stochastic'} P, "
                         f"{'random' if i % 2 else 'fixed'} s0")


def _default_soft_solver(mdp, reg):
    from tabular_rl.planning.soft_dp import soft_backward_induction

    return soft_backward_induction(mdp, reg)


# ----------------------------------------------------------------------------- the check


def check_max_entropy_exploration(quick: bool = False, *, seed: int = 0,
                                  out_dir="paper_figures",
                                  convex_solver: Callable | None = None,
                                  lmo: Callable | None = None,
                                  soft_solver: Callable | None = None,
                                  parts: tuple[str, ...] = ("visitation", "trajectory")
                                  ) -> Report:
    r"""Check the exact maximum-entropy optima: visitation entropy (cvxpy vs certified
    Frank-Wolfe) and trajectory entropy (soft backward induction vs enumeration).

    Parameters
    ----------
    quick : bool
        4 visitation instances (away-step Frank-Wolfe capped at 250 iterations) and 3 trajectory
        instances; full: 10 (2000 iterations) and 8.
    seed : int
    out_dir : str or None
        Where the Frank-Wolfe gap figure goes.
    convex_solver : callable, optional
        ``convex_solver(mdp, over=...) -> result`` with ``.objective`` and ``.policy``;
        default :func:`~tabular_rl.occupancy.convex.max_entropy_occupancy`.
    lmo : callable, optional
        Frank-Wolfe's linear oracle ``lmo(mdp, g, mu, warm) -> (policy, upper, warm)``;
        default :func:`~tabular_rl.occupancy.frank_wolfe.exact_lmo`.
    soft_solver : callable, optional
        ``soft_solver(mdp, reg) -> Solution`` (episodic ``v`` of shape ``(H+1, S)``);
        default :func:`~tabular_rl.planning.soft_dp.soft_backward_induction`.
    parts : tuple of {"visitation", "trajectory"}
        Which parts to run (both by default; the verdict covers the parts run).

    Returns
    -------
    Report
        ``visitation_disagreement_over_tol`` (:math:`\le 1`), ``cvx_exact_over_fw_upper``
        (:math:`\le 1`: excess of the convex policy's exact entropy over Frank-Wolfe's
        certified bound, over :math:`10^{-12}` scale), ``trajectory_identity_over_tol``
        (:math:`\le 1`), ``random_policy_excess_over_tol`` (:math:`\le 1`); information:
        the largest Frank-Wolfe gap and the zero-reward discrepancy.
    """
    from tabular_rl.regularizers import Shannon
    from tabular_rl.soft_bellman import evaluate_regularized_policy

    convex_solver = convex_solver or (lambda m, over: max_entropy_occupancy(m, over=over))
    soft_solver = soft_solver or _default_soft_solver
    n_fw = 250 if quick else 2000
    vis_worst, vis_where = 0.0, "-"
    cert_worst, cert_where = -np.inf, "-"
    max_gap = 0.0
    fig_data = None
    n_vis = 0
    unknown = set(parts) - {"visitation", "trajectory"}
    if unknown or not parts:
        raise ValueError(f"parts must be a non-empty subset of ('visitation', 'trajectory'), "
                         f"got {parts!r}")
    vis_items = _visitation_instances(seed, quick) if "visitation" in parts else ()
    traj_items = _trajectory_instances(seed, quick) if "trajectory" in parts else ()
    for mdp, over, label in vis_items:
        n_vis += 1
        cvx = convex_solver(mdp, over=over)
        U = entropy_utility(over=over)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fw = frank_wolfe(mdp, U, tol=1e-6, n_iter=n_fw, step="away", lmo=lmo)
        F_cvx = float(cvx.objective)
        F_cvx_exact = occupancy_entropy(policy_to_occupancy(mdp, cvx.policy), over=over)
        eps = CVX_REL_TOL * max(1.0, abs(F_cvx))
        r = abs(F_cvx - fw.value) / (max(fw.gap, 0.0) + eps)
        if not r <= vis_worst:
            vis_worst, vis_where = r, label
        c = (F_cvx_exact - fw.upper_bound) / (FP_REL_TOL * max(1.0, abs(F_cvx_exact)))
        if not c <= cert_worst:
            cert_worst, cert_where = c, label
        max_gap = max(max_gap, fw.gap)
        if fig_data is None or fw.iterations > fig_data[1].iterations:
            fig_data = (label, fw, F_cvx, mdp, over)

    traj_worst, traj_where = 0.0, "-"
    rand_worst, rand_where = -np.inf, "-"
    zero_reward_diff = 0.0
    n_traj = 0
    for mdp, rng, label in traj_items:
        n_traj += 1
        reward = transition_entropy_reward(mdp)
        m_r = EpisodicMDP(mdp.P, reward, mdp.H, mdp.mu)
        sol = soft_solver(m_r, Shannon(1.0))
        h_mu = float(_entropy_rows(mdp.mu))
        opt = h_mu + float(mdp.mu @ sol.v[0])
        enum = trajectory_entropy_bruteforce(mdp, sol.policy)
        tol = FP_REL_TOL * max(1.0, opt)
        r = abs(opt - enum) / tol
        if not r <= traj_worst:
            traj_worst, traj_where = r, f"{label} (soft optimum vs enumeration)"
        zero = soft_solver(mdp, Shannon(1.0))
        zero_reward_diff = max(zero_reward_diff, abs(h_mu + float(mdp.mu @ zero.v[0]) - opt))
        for j in range(6):
            pi = rng.dirichlet(np.full(mdp.A, (0.2, 1.0, 5.0)[j % 3]), size=(mdp.H, mdp.S))
            te = trajectory_entropy_bruteforce(mdp, pi)
            lemma = h_mu + float(mdp.mu @ evaluate_regularized_policy(m_r, pi, Shannon(1.0))[0])
            r = abs(te - lemma) / tol
            if not r <= traj_worst:
                traj_worst, traj_where = r, f"{label} (identity, random policy {j})"
            e = (te - opt) / tol
            if not e <= rand_worst:
                rand_worst, rand_where = e, f"{label}, random policy {j}"
    ok = (vis_worst <= 1.0 and cert_worst <= 1.0 and traj_worst <= 1.0 and rand_worst <= 1.0)
    figures = ()
    if out_dir is not None and fig_data is not None:
        label, fw, F_cvx, mdp, over = fig_data
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            plain = frank_wolfe(mdp, entropy_utility(over=over), tol=1e-6, n_iter=n_fw,
                                step="line_search", lmo=lmo)
        figures = (_figure(out_dir, label, fw, plain, F_cvx),)
    details = (
        f"(i) visitation entropy on {n_vis} seeded instances (discounted dense/CSR, episodic "
        f"with a fixed s0; state and state-action entropy): worst |F_cvx - F_FW| / (FW gap + "
        f"{CVX_REL_TOL:g} max(1,|F|)) = {vis_worst:.3g} at {vis_where}; worst (H(exact "
        f"occupancy of the cvx policy) - FW certified upper bound) / ({FP_REL_TOL:g} scale) = "
        f"{cert_worst:.3g} at {cert_where}; largest FW gap {max_gap:.3g} (away steps, "
        f"<= {n_fw} iterations). (ii) trajectory entropy on {n_traj} tiny episodic models "
        f"(S=3, A=2, H<=5): worst |soft optimum - enumeration| (and chain-rule identity on "
        f"random policies) over tol = {traj_worst:.3g} at {traj_where}; worst (random "
        f"policy entropy - optimum)/tol = {rand_worst:.3g} at {rand_where}. Information: "
        f"the zero-reward soft value differs from the maximal trajectory entropy by up to "
        f"{zero_reward_diff:.3g} (0 only for deterministic transitions).")
    measured, stated = {}, {}
    if "visitation" in parts:
        measured.update(visitation_disagreement_over_tol=float(vis_worst),
                        cvx_exact_over_fw_upper=float(cert_worst), max_fw_gap=float(max_gap))
        stated.update(visitation_disagreement_over_tol=1.0, cvx_exact_over_fw_upper=1.0)
    if "trajectory" in parts:
        measured.update(trajectory_identity_over_tol=float(traj_worst),
                        random_policy_excess_over_tol=float(rand_worst),
                        zero_reward_discrepancy=float(zero_reward_diff))
        stated.update(trajectory_identity_over_tol=1.0, random_policy_excess_over_tol=1.0)
    return Report(
        claim_id="occ.max-entropy-exploration", verdict="pass" if ok else "fail",
        measured=measured, stated=stated, details=details, figures=figures,
        n_instances=n_vis + n_traj)


def _figure(out_dir, label, fw, plain, F_cvx) -> str:

    from tabular_rl.plotting import agg_subplots

    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, "occ.max-entropy-exploration_fw_gap.png")
    eps = CVX_REL_TOL * max(1.0, abs(F_cvx))
    fig, ax = agg_subplots(figsize=(7.4, 5.0))
    for res, color, name in ((fw, "C0", "away-step FW"), (plain, "C2", "plain FW (line search)")):
        k = np.arange(1, len(res.values) + 1)
        upper = np.minimum.accumulate(res.values + res.gaps)
        ax.loglog(k, np.maximum(upper - res.values, 1e-16), color=color, lw=2,
                  label=f"{name}: certified gap min_j(F(d_j)+g_j) − F(d_k)")
        ax.loglog(k, np.maximum(F_cvx - res.values, 1e-16), color=color, lw=1.2, ls="--",
                  label=f"{name}: F*(cvxpy) − F(d_k)")
    kk = np.arange(1, max(len(fw.values), len(plain.values)) + 1)
    ax.loglog(kk, 1.0 / kk, "k:", lw=1, label="1/k reference")
    ax.axhline(eps, color="gray", lw=0.8, ls="-.", label="cvxpy tolerance")
    ax.set_xlabel("Frank-Wolfe iteration k (one exact MDP solve each)")
    ax.set_ylabel("entropy gap (nats)")
    ax.set_ylim(bottom=1e-10)
    ax.set_title(f"occ.max-entropy-exploration: Frank-Wolfe vs cvxpy optimum\n{label}",
                 fontsize=10)
    ax.legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    return path


MAX_ENTROPY_EXPLORATION = register(Claim(
    id="occ.max-entropy-exploration",
    paper=TIAPKIN_2023,
    statement=("Tiapkin et al. 2023 (exact-optimum part; sample complexities not checked): "
               "the maximal visitation entropy VE = sum_h H(d_h) (and the discounted H(d)) is "
               "the optimum of a concave program over the occupancy polytope — cvxpy and "
               "certified Frank-Wolfe agree within the Frank-Wolfe gap; the maximal "
               "trajectory entropy equals H(mu) + mu^T V*_0 of the Shannon(1)-regularized "
               "MDP with reward H(P_h(.|s,a)) (soft backward induction), verified by "
               "enumerating trajectories."),
    kind="identity",
    instances=("seeded discounted (S<=20, dense/CSR) and episodic (S<=10, H<=5) MDPs for the "
               "visitation entropy; tiny episodic MDPs (S=3, A=2, H<=5, stochastic and "
               "deterministic) for the trajectory entropy"),
    check=check_max_entropy_exploration,
))
