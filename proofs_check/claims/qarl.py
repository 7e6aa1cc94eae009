r"""``games.qre``: the entropy-regularized zero-sum Markov game is solved by a logit QRE,
and the QRE tends to a Nash equilibrium as the temperature goes to zero.

Paper: A. Reddi, M. Tölle, J. Peters, G. Chalvatzaki, C. D'Eramo, "Robust Adversarial
Reinforcement Learning via Bounded Rationality Curricula", ICLR 2024 (arXiv:2311.01642).
Only the abstract could be retrieved while writing this module; it states: "the solution of
this entropy-regularized problem corresponds to a Quantal Response Equilibrium (QRE), a
generalization of Nash equilibria that accounts for bounded rationality", and that the
temperature modulates rationality (Nash as the fully rational limit).

Encoded (both players entropy-regularized with temperature :math:`\tau`, solved by soft
Shapley iteration, :func:`tabular_rl.games.markov.soft_shapley_iteration`):

(i) *QRE identity*: with :math:`Q = r + \gamma P v` at the returned :math:`v`, at every state
    :math:`\|x - \mathrm{softmax}(Qy/\tau)\|_\infty` and
    :math:`\|y - \mathrm{softmax}(-Q^\top x/\tau)\|_\infty` are at most
    :math:`10^{-10} + 4\gamma\,\mathrm{err}/\tau` (err = the solver's certified value error,
    the softmax being :math:`1/\tau`-Lipschitz in sup norm up to a factor 2), and :math:`v`
    is the *regularized value of the pair itself*, computed independently by one linear
    solve: :math:`|V^{x,y}_\tau - v| \le 2\,\mathrm{expl\_bound} + 10^{-12}\,\text{scale}`.
    So :math:`(x, y)` is a Markov logit QRE (each strategy a logit response to its own soft
    Q-function).
(ii) *QRE -> Nash*: derived bound. At the soft fixed point, for any :math:`x'`,
    :math:`x'^\top Q y \le x^\top Q y + \tau\mathcal H(x)`, so
    :math:`T^{y}v_\tau \le v_\tau + \tau\mathcal H(y) \le v_\tau + \tau\log B` and by the
    contraction :math:`V^{\dagger,y} \le v_\tau + \tau\log B/(1-\gamma)`; symmetrically
    :math:`V^{x,\dagger} \ge v_\tau - \tau\log A/(1-\gamma)`. Hence the unregularized
    exploitability obeys

    .. math::

        \max_s V^{\dagger,y}(s) - V^{x,\dagger}(s) \;\le\; \frac{\tau\log(AB)}{1-\gamma}
        \;(+\ \text{the solver's certified exploitability bound}),

    which goes to 0 linearly in :math:`\tau`. Exploitability is measured exactly by two
    best-response MDPs solved by policy iteration. The fitted log-log slope of
    exploitability vs :math:`\tau` is reported (information).

A broken solver (e.g. the wrong sign of one player's entropy in the backup) fails (i).
"""

from __future__ import annotations

import os
from collections.abc import Callable

import numpy as np

from tabular_rl.games.markov import (
    game_exploitability,
    policy_pair_value,
    random_markov_game,
    soft_shapley_iteration,
    stage_games,
)

from ..registry import Claim, Paper, Report, register

__all__ = ["QARL", "REDDI_2024", "check_qre"]

REDDI_2024 = Paper(
    title="Robust Adversarial Reinforcement Learning via Bounded Rationality Curricula",
    authors="A. Reddi, M. Tölle, J. Peters, G. Chalvatzaki, C. D'Eramo", venue="ICLR",
    year=2024)

_EPS = float(np.finfo(np.float64).eps)


def _softmax(z):
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def _instances(seed: int, n: int):
    for i in range(n):
        rng = np.random.default_rng([seed, 3141, i])
        S = int(rng.integers(3, 9))
        A, B = int(rng.integers(2, 5)), int(rng.integers(2, 5))
        gamma = (0.5, 0.8, 0.9)[i % 3]
        game = random_markov_game(S, A, B, gamma, seed=rng, sparse=i % 2 == 1,
                                  branching=None if i % 2 == 0 else 2)
        yield game, f"#{i} S={S} A={A} B={B} gamma={gamma:g} {'csr' if i % 2 else 'dense'}"


def _default_solver(game, tau, *, tol):
    return soft_shapley_iteration(game, tau, tol=tol, max_iter=20_000)


def check_qre(quick: bool = False, *, seed: int = 0, out_dir="paper_figures",
              solver: Callable | None = None) -> Report:
    r"""Check the QRE identity and the QRE -> Nash bound (module docstring).

    Parameters
    ----------
    quick : bool
        3 instances and 5 temperatures instead of 6 and 8.
    solver : callable, optional
        ``solver(game, tau, *, tol) -> GameSolution`` (fields ``v``, ``x``, ``y``,
        ``error_bound``, ``exploitability_bound``); default soft Shapley iteration.
    """
    solver = solver or _default_solver
    n = 3 if quick else 6
    taus = np.array([1.0, 0.3, 0.1, 0.03, 0.01] if quick else
                    [1.0, 0.3, 0.1, 0.03, 0.01, 3e-3, 1e-3, 3e-4])
    worst = {"qre": 0.0, "consistency": 0.0, "nash": 0.0}
    where = dict.fromkeys(worst, "-")
    curves = []
    n_seen = 0
    slopes = []
    for game, label in _instances(seed, n):
        n_seen += 1
        g = game.gamma
        R = game.r_absmax
        scale = max(R, 1.0) / (1 - g)
        expl = []
        for t in taus * R:
            sol = solver(game, float(t), tol=1e-12 * scale)
            Q = stage_games(game, np.asarray(sol.v))
            x, y = np.asarray(sol.x), np.asarray(sol.y)
            res = max(float(np.abs(x - _softmax(np.einsum("sab,sb->sa", Q, y) / t)).max()),
                      float(np.abs(y - _softmax(-np.einsum("sab,sa->sb", Q, x) / t)).max()))
            r_qre = res / (1e-10 + 4 * g * sol.error_bound / t)
            v_pair = policy_pair_value(game, x, y, tau=float(t))
            cons = float(np.abs(v_pair - np.asarray(sol.v)).max())
            r_cons = cons / (2 * sol.exploitability_bound + 1e-12 * scale)
            e = game_exploitability(game, x, y)
            bound = t * np.log(game.A * game.B) / (1 - g)
            r_nash = e.sup / (bound + sol.exploitability_bound + e.error_bound)
            for key, val in (("qre", r_qre), ("consistency", r_cons), ("nash", r_nash)):
                if val > worst[key] or not np.isfinite(val):
                    worst[key], where[key] = float(val), f"{label}, tau={t:.3g}"
            expl.append(e.sup / scale)
        expl = np.array(expl)
        curves.append((label, expl, np.log(game.A * game.B) / (1 - g) / scale))
        pos = expl > 1e-13
        if pos.sum() >= 3:
            slopes.append(float(np.polyfit(np.log(taus[pos]), np.log(expl[pos]), 1)[0]))
    ok = all(np.isfinite(v) and v <= 1.0 for v in worst.values())
    figures = () if out_dir is None else (_figure(out_dir, taus, curves),)
    slope = float(np.median(slopes)) if slopes else float("nan")
    details = (
        f"{n_seen} seeded random games (dense/CSR, S 3..8, A, B 2..4, gamma 0.5/0.8/0.9), tau "
        f"in {taus.tolist()} x max|r|. (i) worst QRE residual over tolerance "
        f"{worst['qre']:.3g} at {where['qre']}; worst |V^(x,y)_tau - v| over tolerance "
        f"{worst['consistency']:.3g} at {where['consistency']}. (ii) worst unregularized "
        f"exploitability over tau log(AB)/(1-gamma) + certified slack {worst['nash']:.3g} at "
        f"{where['nash']}. Median log-log slope of exploitability vs tau: {slope:.3g} "
        f"(information; the bound is linear).")
    return Report(
        claim_id="games.qre", verdict="pass" if ok else "fail",
        measured={"qre_residual_over_tol": worst["qre"],
                  "pair_value_gap_over_tol": worst["consistency"],
                  "exploitability_over_bound": worst["nash"],
                  "exploitability_tau_slope": slope},
        stated={"qre_residual_over_tol": 1.0, "pair_value_gap_over_tol": 1.0,
                "exploitability_over_bound": 1.0},
        details=details, figures=figures, n_instances=n_seen)


def _figure(out_dir, taus, curves) -> str:

    from tabular_rl.plotting import agg_subplots

    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(str(out_dir), "games.qre_exploitability.png")
    fig, ax = agg_subplots(figsize=(6.6, 4.8))
    for i, (label, expl, c) in enumerate(curves):
        color = f"C{i}"
        keep = expl > 0
        ax.loglog(taus[keep], expl[keep], "o-", color=color, label=label.split(" csr")[0]
                  .split(" dense")[0])
        ax.loglog(taus, c * taus, "--", color=color, alpha=0.5, lw=1)
    ax.plot([], [], "k--", alpha=0.5, label=r"bound $\tau\log(AB)/(1-\gamma)$")
    ax.set_xlabel(r"temperature $\tau$ / max|r|")
    ax.set_ylabel(r"exploitability of the QRE pair / (max|r|/(1-$\gamma$))")
    ax.set_title("games.qre: QRE -> Nash as the temperature -> 0")
    ax.legend(fontsize=7)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    return path


QARL = register(Claim(
    id="games.qre",
    paper=REDDI_2024,
    statement=("Reddi et al. 2024 (abstract; full text not retrieved): the solution of the "
               "entropy-regularized zero-sum Markov game is a quantal response equilibrium; the "
               "temperature modulates rationality. Encoded: the soft Shapley fixed point (x, y) "
               "satisfies x = softmax(Q y/tau), y = softmax(-Q^T x/tau) with Q the pair's own "
               "soft Q-function, and its Nash exploitability is at most tau log(AB)/(1-gamma) "
               "(derived), so QRE -> Nash as tau -> 0."),
    kind="identity",
    instances=("seeded random zero-sum Markov games, dense and CSR, S 3..8, A, B 2..4, "
               "gamma in {0.5, 0.8, 0.9}; tau from max|r| down to 1e-2 (quick) / 3e-4 max|r|"),
    check=check_qre,
))
