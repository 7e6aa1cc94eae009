r"""``games.minimax-fqi``: Minimax-FQI's algorithmic error falls geometrically, at rate
:math:`\gamma`, to the Shapley (LP-based) solution of the zero-sum Markov game.

Paper: J. Fan, Z. Wang, Y. Xie, Z. Yang, "A Theoretical Analysis of Deep Q-Learning", L4DC
2020 (arXiv:1901.00137), Sec. 6: Minimax-FQI; its error bound (Theorem 6.1 of the arXiv
version, as far as could be checked: the full text could not be retrieved while writing this
module, only the abstract, which states that "the algorithmic error converges to zero at a
geometric rate") is a statistical term plus an algorithmic term
:math:`\propto \gamma^{K}R_{\max}`.

Encoded, tabular (see :mod:`tabular_rl.games.minimax_fqi`), with :math:`Q^*` from certified
Shapley iteration (stage games solved by the HiGHS LP):

(a) *geometric rate*: with exact backups, :math:`\|Q_k - Q^*\|_\infty \le
    \gamma^k\|Q_0 - Q^*\|_\infty` for every ``k`` (tolerance: the certified error of
    :math:`Q^*` plus :math:`10^{-12}` scale), so the secant slope of
    :math:`\log\|Q_k - Q^*\|` vs ``k`` is at most :math:`\log\gamma`; the least-squares
    slope over the iterations above the floor is reported and drawn against
    :math:`\log\gamma`.
(b) *limit*: :math:`\operatorname{val}[Q_K]` matches the Shapley value :math:`v^*` within
    :math:`\gamma^K\|Q_0 - Q^*\|` + tolerance, and the Nash gap (exploitability, by exact
    best responses) of the stage-equilibrium pair of :math:`Q_k` is at most
    :math:`4\|Q_k - Q^*\|_\infty/(1-\gamma)` at every ``k``.
(c) *statistical + algorithmic split* with ``n`` generative samples per (s, a, b) and
    iteration: :math:`\|Q_K - Q^*\| \le \sum_{k<K}\gamma^{K-1-k}\varepsilon_k +
    \gamma^K\|Q_0 - Q^*\|` with the measured regression errors :math:`\varepsilon_k`.

A broken FQI (e.g. max-max instead of max-min stage values) fails (a)/(b).
"""

from __future__ import annotations

import os
from collections.abc import Callable

import numpy as np

from tabular_rl.games.markov import game_exploitability, random_markov_game, shapley_iteration
from tabular_rl.games.minimax_fqi import minimax_fqi

from ..registry import Claim, Paper, Report, register

__all__ = ["FAN_2020", "MINIMAX_FQI", "check_minimax_fqi"]

FAN_2020 = Paper(title="A Theoretical Analysis of Deep Q-Learning",
                 authors="J. Fan, Z. Wang, Y. Xie, Z. Yang", venue="L4DC", year=2020)


def _instances(seed: int, n: int):
    for i in range(n):
        rng = np.random.default_rng([seed, 2718, i])
        S = int(rng.integers(4, 13))
        A, B = int(rng.integers(2, 5)), int(rng.integers(2, 5))
        gamma = (0.8, 0.9, 0.7)[i % 3]
        game = random_markov_game(S, A, B, gamma, seed=rng, sparse=i % 2 == 1,
                                  branching=None if i % 2 == 0 else 3)
        q0 = rng.uniform(-1, 1, (S, A, B)) * game.r_absmax / (1 - gamma)
        yield game, q0, f"#{i} S={S} A={A} B={B} gamma={gamma:g} {'csr' if i % 2 else 'dense'}"


def check_minimax_fqi(quick: bool = False, *, seed: int = 0, out_dir="paper_figures",
                      fqi: Callable | None = None, n_samples: int = 30) -> Report:
    r"""Check Minimax-FQI's geometric algorithmic error, its limit, and the error split.

    Parameters
    ----------
    quick : bool
        3 instances, K = 30, instead of 6 and K = 80.
    fqi : callable, optional
        ``fqi(game, n_iter, *, n_samples, q0, seed, q_star) -> MinimaxFQIResult``
        (default :func:`tabular_rl.games.minimax_fqi.minimax_fqi`).
    n_samples : int
        Draws per (s, a, b) and iteration for part (c).
    """
    fqi = fqi or minimax_fqi
    n = 3 if quick else 6
    K = 30 if quick else 80
    worst = {"rate": 0.0, "limit": 0.0, "nash": 0.0, "split": 0.0}
    where = dict.fromkeys(worst, "-")
    slopes, curves = [], []
    n_seen = 0
    for game, q0, label in _instances(seed, n):
        n_seen += 1
        g = game.gamma
        scale = max(game.r_absmax, 1.0) / (1 - g)
        ref = shapley_iteration(game, tol=1e-11 * scale)
        q_star = np.asarray(ref.q)
        slack = 2 * g * ref.error_bound + 1e-12 * scale
        res = fqi(game, K, n_samples=None, q0=q0, seed=seed, q_star=q_star)
        e = np.asarray(res.q_errors)
        k = np.arange(K + 1)
        bound = g ** k * e[0] + slack
        r_rate = float((e[1:] / bound[1:]).max())
        r_lim = float(np.abs(np.asarray(res.values[-1]) - np.asarray(ref.v)).max()
                      / (g ** K * e[0] + slack + ref.error_bound))
        nash = []
        for kk in range(0, K + 1, 2 if quick else 4):
            X, Y = res.strategies[kk]
            gap = game_exploitability(game, X, Y)
            nash.append((kk, gap.sup))
            r_n = gap.sup / (4 * (e[kk] + slack) / (1 - g) + gap.error_bound + 1e-12 * scale)
            if r_n > worst["nash"] or not np.isfinite(r_n):
                worst["nash"], where["nash"] = float(r_n), f"{label}, k={kk}"
        above = e > 1e3 * slack
        if above.sum() >= 3:
            slopes.append(float(np.polyfit(k[above], np.log(e[above]), 1)[0]) / np.log(g))
        curves.append((label, g, e, np.array(nash)))
        # (c) sampled
        rs = fqi(game, K, n_samples=n_samples, q0=q0, seed=seed, q_star=q_star)
        eps = np.asarray(rs.bellman_errors)
        stat = float(sum(g ** (K - 1 - j) * eps[j] for j in range(K)))
        r_split = float(rs.q_errors[-1]) / (stat + g ** K * rs.q_errors[0] + slack
                                            + 1e-12 * scale * K)
        for key, val in (("rate", r_rate), ("limit", r_lim), ("split", r_split)):
            if val > worst[key] or not np.isfinite(val):
                worst[key], where[key] = float(val), label
    ok = all(np.isfinite(v) and v <= 1.0 for v in worst.values())
    figures = () if out_dir is None else (_figure(out_dir, curves, K),)
    slope = float(np.median(slopes)) if slopes else float("nan")
    details = (
        f"{n_seen} seeded random games (dense/CSR, S 4..12, A, B 2..4, gamma 0.7..0.9), K={K}, "
        f"random Q_0. (a) worst ||Q_k - Q*|| / (gamma^k ||Q_0 - Q*|| + slack) = "
        f"{worst['rate']:.3g} at {where['rate']}; median fitted slope / log(gamma) = "
        f"{slope:.3g}. (b) worst |val Q_K - v*_LP| over bound {worst['limit']:.3g} at "
        f"{where['limit']}; worst Nash gap / (4||Q_k - Q*||/(1-gamma)) {worst['nash']:.3g} at "
        f"{where['nash']}. (c) n={n_samples} samples per (s,a,b): worst ||Q_K - Q*|| over "
        f"statistical + algorithmic bound {worst['split']:.3g} at {where['split']}.")
    return Report(
        claim_id="games.minimax-fqi", verdict="pass" if ok else "fail",
        measured={"geometric_bound_ratio": worst["rate"], "limit_over_bound": worst["limit"],
                  "nash_gap_over_bound": worst["nash"], "split_bound_ratio": worst["split"],
                  "slope_over_log_gamma": slope},
        stated={"geometric_bound_ratio": 1.0, "limit_over_bound": 1.0,
                "nash_gap_over_bound": 1.0, "split_bound_ratio": 1.0},
        details=details, figures=figures, n_instances=n_seen)


def _figure(out_dir, curves, K) -> str:

    from tabular_rl.plotting import agg_subplots

    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(str(out_dir), "games.minimax-fqi_rate.png")
    fig, ax = agg_subplots(figsize=(6.8, 4.8))
    k = np.arange(K + 1)
    for i, (label, g, e, nash) in enumerate(curves):
        c = f"C{i}"
        ax.semilogy(k, e, "-", color=c, label=f"{label.rsplit(' ', 1)[0]}: ||Q_k - Q*||")
        keep = nash[:, 1] > 0
        ax.semilogy(nash[keep, 0], nash[keep, 1], "o", ms=3, color=c)
        ax.semilogy(k, e[0] * g ** k, ":", color=c, lw=1)
    ax.plot([], [], "ko", ms=3, label="Nash gap (exploitability) of the stage-equilibrium pair")
    ax.plot([], [], "k:", label=r"slope $\log\gamma$: $\gamma^k\,||Q_0 - Q^*||$")
    ax.set_xlabel("iteration k")
    ax.set_ylabel("error (log scale)")
    ax.set_title("games.minimax-fqi: algorithmic error falls as gamma^k")
    ax.legend(fontsize=6.5)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    return path


MINIMAX_FQI = register(Claim(
    id="games.minimax-fqi",
    paper=FAN_2020,
    statement=("Fan, Wang, Xie, Yang 2020, Sec. 6 (Minimax-FQI; abstract: the algorithmic error "
               "converges to zero at a geometric rate). Tabular: ||Q_k - Q*|| <= gamma^k "
               "||Q_0 - Q*|| with exact backups, the limit is the Shapley (LP) solution, the "
               "stage-equilibrium pair's Nash gap is <= 4||Q_k - Q*||/(1-gamma), and with "
               "samples ||Q_K - Q*|| <= sum_k gamma^(K-1-k) eps_k + gamma^K ||Q_0 - Q*||."),
    kind="rate",
    instances=("seeded random zero-sum Markov games, dense and CSR, S 4..12, A, B 2..4, "
               "gamma in {0.7, 0.8, 0.9}, random Q_0; K = 30 (quick) / 80"),
    check=check_minimax_fqi,
))
