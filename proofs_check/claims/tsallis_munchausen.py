r"""``dp.tsallis-munchausen``: MVI(q), Munchausen VI with the Tsallis KL / q-logarithm.

Paper: L. Zhu, Z. Chen, M. Schlegel, M. White, "General Munchausen Reinforcement Learning
with Tsallis Kullback-Leibler Divergence", NeurIPS 2023 (the published title; the arXiv
version, arXiv:2301.11476, is titled "Generalized Munchausen Reinforcement Learning using
Tsallis KL Divergence"). The full text could not be retrieved (only the abstract, on
OpenReview and the NeurIPS proceedings page); the check encodes what the abstract states
(q = 1 is MVI, q > 1 gives sparse policies) and the fixed-point characterization *derived
here* in :mod:`tabular_rl.planning.mdvi` (module docstring), not a statement of the paper.

**q-logarithm convention (unverified).** This module uses the convention of
:class:`tabular_rl.regularizers.Tsallis` (Lee et al.'s sparse/Tsallis-MDP line):
:math:`\ln_q x = (x^{q-1} - 1)/(q-1)`, :math:`\Omega_q(\pi) = \langle\pi,
\ln_q\pi\rangle`, so that :math:`q = 2` is sparsemax. Tsallis' original convention is
:math:`\ln_q x = (x^{1-q} - 1)/(1-q)`, i.e. the index map :math:`q \mapsto 2 - q`; the two
give the same Tsallis entropy but *different* Munchausen bonuses :math:`\tau\ln_q\pi` (at
index 2: :math:`\tau(\pi - 1)` here, :math:`\tau(1 - 1/\pi)` in Tsallis' convention). We
could not verify which convention the paper's MVI(q) uses, so ``tsallis_munchausen_vi(q)``
is not claimed to be the paper's MVI(q) for the same numeric q. (As far as we recall, the
paper also states that MVI(q) implements Tsallis-KL regularization only approximately,
dropping the cross term of the pseudo-additivity
:math:`\ln_q(xy) = \ln_q x + \ln_q y + (1-q)\ln_q x\ln_q y`; consistent with check (ii)
below, which finds that the fixed point is not a regularized optimum for
:math:`q \ne 1, \alpha > 0`.)

Checks (each can fail):

(i) *q -> 1*: the MVI(q) fixed point tends to the MVI fixed point (computed by the independent
    :func:`~tabular_rl.planning.mdvi.munchausen_vi`). At :math:`q = 1 + \delta`,
    :math:`|\ln_q x - \ln x| \le \delta\ln^2 x/2` and the Tsallis and Shannon conjugates
    differ by at most :math:`\tau\delta L^2/2` (:math:`L = \max|\ln\pi|` at the MVI fixed
    point plus one); propagated through the MVI fixed point (MD-VI with
    :math:`\beta = \alpha`, a :math:`\gamma`-contraction in :math:`q'` followed by
    :math:`\alpha\tau\ln\pi`, whose sensitivity is at most
    :math:`(1+\alpha)/((1-\alpha)(1-\gamma))`), the stated tolerance is
    :math:`\delta\,\tau L^2 (1+\alpha)^2/(2(1-\alpha)(1-\gamma))` plus both runs' convergence
    errors; :math:`\delta \in \{10^{-3}, 10^{-4}, 10^{-5}, 10^{-7}\}` (the last takes the
    Shannon branch of ``Tsallis``).
(ii) *fixed point = regularized optimum*: for :math:`\alpha = 0` the MVI(q) fixed point is
    the Tsallis(:math:`\tau`, q) optimum, for :math:`q = 1` it is
    :math:`q'_* + \alpha\tau\ln\pi_*` with :math:`q'_*` the Shannon(:math:`(1-\alpha)\tau`)
    optimum (Munchausen RL, Thm. 1), both from certified soft value iteration; for
    :math:`q > 1, \alpha > 0`, :math:`q' = \bar q - \alpha\tau\ln_q\bar\pi` is the
    Tsallis(:math:`(1-\alpha)\tau`, q) regularized q-function of :math:`\bar\pi` (exact
    linear solve) to within the fixed-point residual :math:`/(1-\gamma)`, and
    :math:`\bar\pi = \mathcal G_{\tau(1-\alpha/q), q}(q')` to floating point. (That is
    *not* a regularized optimum unless q = 1 or alpha = 0: the greedy and the evaluation
    temperatures differ; the report gives the distance to the Tsallis((1-alpha)tau, q)
    optimal policy as information.)
(iii) *sparsity*: the number of nonzero actions of the fixed-point policy is non-increasing
    in q on every instance, q in {1, 1.5, 2, 3, 5}.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable

import numpy as np

from tabular_rl.planning.mdvi import munchausen_vi, q_log, tsallis_munchausen_vi
from tabular_rl.regularizers import Shannon, Tsallis
from tabular_rl.soft_bellman import regularized_q_function

from .._instances import random_mdp, rng_for
from ..registry import Claim, Paper, Report, register

__all__ = ["TSALLIS_MUNCHAUSEN", "ZHU_2023", "check_tsallis_munchausen"]

_EPS = float(np.finfo(np.float64).eps)

ZHU_2023 = Paper(
    title="General Munchausen Reinforcement Learning with Tsallis Kullback-Leibler Divergence",
    authors="L. Zhu, Z. Chen, M. Schlegel, M. White",
    venue="NeurIPS (arXiv:2301.11476, 'Generalized Munchausen Reinforcement Learning using "
          "Tsallis KL Divergence')", year=2023)

Q_GRID = (1.0, 1.5, 2.0, 3.0, 5.0)
DELTAS = (1e-3, 1e-4, 1e-5, 1e-7)


def _instances(seed: int, n: int):
    for i in range(n):
        rng = rng_for(seed + 77, i)
        S = int(rng.choice([3, 5, 8, 12]))
        A = int(rng.integers(3, 7))
        gamma = (0.5, 0.8, 0.9)[i % 3]
        mdp = random_mdp(rng, S, A, gamma, sparse=i % 2 == 1)
        yield mdp, rng, f"#{i} S={S} A={A} gamma={gamma:g} {'csr' if i % 2 else 'dense'}"


def _soft_opt_q(mdp, reg, scale):
    from tabular_rl.planning import soft_value_iteration

    sol = soft_value_iteration(mdp, reg, tol=1e-11 * scale, max_iter=200_000)
    return sol.q, mdp.gamma * sol.error_bound


def _fp(algorithm, mdp, tau, qi, alpha, scale):
    tol = 1e-12 * scale
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = algorithm(mdp, tau=tau, q_index=qi, alpha=alpha, n_iter=20_000, tol=tol)
    # one more step gives the residual at the returned iterate
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        nxt = algorithm(mdp, tau=tau, q_index=qi, alpha=alpha, n_iter=1, tol=None, q0=res.q)
    rho = float(np.abs(nxt.q - res.q).max())
    return res.q, nxt.policy, rho


def check_tsallis_munchausen(quick: bool = False, *, seed: int = 0, out_dir="paper_figures",
                             algorithm: Callable | None = None, alpha: float = 0.5) -> Report:
    r"""Check MVI(q): the q -> 1 limit, the fixed point, and sparsity growing with q.

    Parameters
    ----------
    quick : bool
        4 instances instead of 12.
    seed : int
    out_dir : str or None
        Where the support-vs-q figure goes.
    algorithm : callable, optional
        ``algorithm(mdp, tau=, q_index=, alpha=, n_iter=, tol=, q0=) -> MDVIResult``;
        default :func:`~tabular_rl.planning.mdvi.tsallis_munchausen_vi`.
    alpha : float
        Munchausen coefficient used throughout.

    Returns
    -------
    Report
        ``limit_gap_over_tol``, ``fixed_point_gap_over_tol``, ``greedy_identity_over_tol``
        (all :math:`\le 1`), ``support_increase_count`` (0), ``policy_gap_to_tsallis_opt``
        (information).
    """
    algorithm = algorithm or tsallis_munchausen_vi
    n = 4 if quick else 12
    lim_worst = fp_worst = greedy_worst = 0.0
    where = {"lim": "-", "fp": "-", "greedy": "-"}
    increases = 0
    supports = []
    info_gap = 0.0
    n_seen = 0
    for mdp, rng, label in _instances(seed, n):
        n_seen += 1
        g = mdp.gamma
        R = float(np.abs(mdp.r).max())
        tau = float(rng.uniform(0.2, 1.0)) * R
        scale = (R + tau * np.log(mdp.A) + tau) / (1 - g)
        sens = (1 + alpha) / ((1 - alpha) * (1 - g))
        # MVI reference (independent implementation)
        mvi = munchausen_vi(mdp, tau=tau, alpha=alpha, n_iter=50_000, tol=1e-12 * scale,
                            record="none")
        mvi_rho = float(mvi.residuals[-1])
        L = float(np.abs(np.log(np.maximum(mvi.policy, 1e-300))).max()) + 1.0
        # (i) q -> 1
        for d in DELTAS:
            qd, _, rho = _fp(algorithm, mdp, tau, 1.0 + d, alpha, scale)
            gap = float(np.abs(qd - mvi.q).max())
            tol = (d * tau * L * L * (1 + alpha) ** 2 / (2 * (1 - alpha) * (1 - g))
                   + sens * (rho + mvi_rho) + 64 * _EPS * scale)
            r = gap / tol
            if r > lim_worst:
                lim_worst, where["lim"] = r, f"{label}, q=1+{d:g}"
        # (ii) fixed points
        sup_row = []
        for qi in Q_GRID:
            for a in ((0.0, alpha) if qi in (1.0, 2.0) else (alpha,)):
                qbar, pibar, rho = _fp(algorithm, mdp, tau, qi, a, scale)
                fp_tol = rho / (1 - g) + 64 * _EPS * scale
                if a == 0.0:
                    ref, err = _soft_opt_q(mdp, Tsallis(tau, qi), scale)
                    gap = float(np.abs(qbar - ref).max())
                    fp_tol += err + rho * sens
                elif qi == 1.0:
                    ref, err = _soft_opt_q(mdp, Shannon((1 - a) * tau), scale)
                    logpi = ref / ((1 - a) * tau)
                    logpi = logpi - logpi.max(axis=1, keepdims=True)
                    logpi -= np.log(np.exp(logpi).sum(axis=1, keepdims=True))
                    gap = float(np.abs(qbar - (ref + a * tau * logpi)).max())
                    fp_tol += err * (1 + 2 * a / (1 - a)) + rho * sens
                else:
                    qp = qbar - a * tau * q_log(pibar, qi)
                    qpi = regularized_q_function(mdp, pibar, Tsallis((1 - a) * tau, qi))
                    gap = float(np.abs(qp - qpi).max())
                    fp_tol += 4 * (mdp.S + 8) * _EPS * scale / (1 - g)
                    pi2 = Tsallis(tau * (1 - a / qi), qi).greedy(qp)
                    gr = float(np.abs(pi2 - pibar).max()) / (1e-9)
                    if gr > greedy_worst:
                        greedy_worst, where["greedy"] = gr, f"{label}, q={qi:g}"
                    ref, _ = _soft_opt_q(mdp, Tsallis((1 - a) * tau, qi), scale)
                    popt = Tsallis((1 - a) * tau, qi).greedy(ref)
                    info_gap = max(info_gap, float(np.abs(popt - pibar).max()))
                r = gap / fp_tol
                if r > fp_worst:
                    fp_worst, where["fp"] = r, f"{label}, q={qi:g}, alpha={a:g}"
                if a == alpha:
                    sup_row.append(int((pibar > 0).sum()))
        supports.append(sup_row)
        increases += int(np.sum(np.diff(sup_row) > 0))
    supports = np.array(supports)
    ok = lim_worst <= 1.0 and fp_worst <= 1.0 and greedy_worst <= 1.0 and increases == 0
    figures = () if out_dir is None else (_figure(out_dir, supports),)
    details = (
        f"{n_seen} seeded instances (dense/CSR, S<=12, A in 3..6, gamma in 0.5..0.9), tau "
        f"in [0.2, 1] r_max, alpha={alpha}. (i) worst |Q_(1+d) - Q_MVI| over the derived "
        f"tolerance {lim_worst:.3g} at {where['lim']}; (ii) worst fixed-point gap over "
        f"tolerance {fp_worst:.3g} at {where['fp']}; greedy identity pi = G_(tau(1-alpha/q))"
        f"(q') max deviation / 1e-9: {greedy_worst:.3g} at {where['greedy']}; "
        f"(iii) supports (nonzero actions, summed over states) per instance for q in "
        f"{Q_GRID}: {supports.tolist()}, {increases} increases. Information: largest "
        f"|pi_bar - pi*_Tsallis((1-alpha)tau, q)| = {info_gap:.3g} (q > 1: not an optimum).")
    return Report(
        claim_id="dp.tsallis-munchausen", verdict="pass" if ok else "fail",
        measured={"limit_gap_over_tol": lim_worst, "fixed_point_gap_over_tol": fp_worst,
                  "greedy_identity_over_tol": greedy_worst,
                  "support_increase_count": float(increases),
                  "policy_gap_to_tsallis_opt": info_gap},
        stated={"limit_gap_over_tol": 1.0, "fixed_point_gap_over_tol": 1.0,
                "greedy_identity_over_tol": 1.0, "support_increase_count": 0.0},
        details=details, figures=figures, n_instances=n_seen)


def _figure(out_dir, supports) -> str:

    from tabular_rl.plotting import agg_subplots

    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, "dp.tsallis-munchausen_support.png")
    fig, ax = agg_subplots(figsize=(6.4, 4.6))
    for i, row in enumerate(supports):
        ax.plot(Q_GRID, row, "o-", label=f"instance {i}")
    ax.set_xlabel("entropic index q")
    ax.set_ylabel("nonzero actions of the MVI(q) fixed-point policy (all states)")
    ax.set_title("dp.tsallis-munchausen: support shrinks as q grows")
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    return path


TSALLIS_MUNCHAUSEN = register(Claim(
    id="dp.tsallis-munchausen",
    paper=ZHU_2023,
    statement=("Zhu, Chen, Schlegel, White, 'General Munchausen Reinforcement Learning with "
               "Tsallis Kullback-Leibler Divergence', NeurIPS 2023 (abstract; full text not "
               "retrieved): MVI(q) replaces ln by the q-logarithm in Munchausen VI; q = 1 is "
               "MVI, q > 1 gives sparse policies. q-log convention used here: ln_q x = "
               "(x^(q-1) - 1)/(q-1) (q = 2 sparsemax); the paper's convention is unverified "
               "(Tsallis' own is q -> 2 - q). Derived here: the MVI(q) fixed point q_bar has "
               "pi_bar = G_(tau(1-alpha/q), q)(q') and q' = q_bar - alpha tau ln_q pi_bar is the "
               "Tsallis((1-alpha)tau, q) regularized q-function of pi_bar (the Tsallis(tau, "
               "q) optimum for alpha = 0, the Shannon((1-alpha)tau) optimum for q = 1)."),
    kind="identity",
    instances=("seeded random MDPs, dense and CSR, S <= 12, A in 3..6, gamma in 0.5..0.9; "
               "q in {1, 1.5, 2, 3, 5} and 1 + {1e-3, 1e-4, 1e-5, 1e-7}"),
    check=check_tsallis_munchausen,
))
