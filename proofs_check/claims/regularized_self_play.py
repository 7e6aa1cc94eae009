r"""``games.regularized-self-play``: regularized self-play converges in the last iterate,
unregularized multiplicative weights cycles.

Papers:

* X. Tang, S. Yoon, S. Son, H. Yuan, Q. Gu, I. Bogunovic, "Game-Theoretic Regularized
  Self-Play Alignment of Large Language Models" (RSPO), arXiv:2503.00030 (v1, 2025; v2
  retitled "RSPO: Regularized Self-Play Alignment of Large Language Models"). Abstract: RSPO
  "regularizes the self-play by simply adding a chosen regularization term into the loss while
  maintaining provable last-iterate convergence to the Nash Equilibrium of the corresponding
  regularized game"; regularizers: reverse KL, forward KL and their linear combination.
  The search tool only returned the abstract and first page, so the theorem number and its
  step-size condition could not be read.
* Y. Zhang, D. Yu, B. Peng, L. Song, Y. Tian, M. Huo, N. Jiang, H. Mi, D. Yu, "Iterative
  Nash Policy Optimization: Aligning LLMs with General Preferences via No-Regret Learning"
  (INPO), arXiv:2406.16564 (ICLR 2025): online mirror descent
  :math:`\pi_{t+1}\propto\pi_t^{1-\eta\tau}\pi_{\rm ref}^{\eta\tau}e^{\eta P(\cdot\succ\pi_t)}`
  on the KL-regularized game converges in the last iterate to its equilibrium.
* Contrast (unregularized): J. P. Bailey, G. Piliouras, "Multiplicative Weights Update in
  Zero-Sum Games", EC 2018 (main theorem): with a fully mixed Nash equilibrium :math:`z^\star`,
  simultaneous MWU increases :math:`\mathrm{KL}(z^\star\|z_t)` at every step (the last iterate
  spirals out), while the average of the iterates has exploitability at most the players'
  average regrets, :math:`\sum_{p}\big(\frac{\log n_p}{\eta T} + \frac{\eta R^2}{8}\big)`
  (Freund & Schapire, GEB 1999, Hedge bound; :math:`R` the payoff range).

Checks (all on the preference-game form :math:`M = P - 1/2`, self-play from a common
:math:`x_0 = y_0`):

1. *Regularized last-iterate convergence*: for RSPO with reverse KL, forward KL and the
   50/50 mixture, INPO, magnetic mirror descent and Nash-MP (all :math:`\tau = 0.1`, uniform
   reference), the duality gap of the regularized game
   (:func:`tabular_rl.games.regularized_gap`, zero exactly at its equilibrium, no reference
   solution needed) of the *last* iterate falls by at least :math:`10^{8}` over the run,
   on weighted rock-paper-scissors games and random preference matrices.
2. *Unregularized MWU cycles*: on games with a unique fully mixed equilibrium (weighted
   rock-paper-scissors, the 5-action regular tournament "rock-paper-scissors-lizard-Spock";
   equilibrium from the LP), :math:`\mathrm{KL}(z^\star\|z_t)` never decreases (up to
   :math:`10^{-12}`) and ends above its start, while the exploitability of the running
   average is below the Hedge regret bound above.

Optimistic MWU's last iterate is shown in the figure and reported (it converges on these
games), but is not part of the verdict.

Injectables: ``regularized`` (a dict name -> algorithm, or one algorithm) and ``mwu_algorithm``.
Handing the regularized run ``tau = 0`` (regularization removed) makes check 1 fail;
handing ``mwu_algorithm`` a convergent method (optimistic MWU) makes check 2 fail.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from tabular_rl.games.dynamics import (
    inpo,
    magnetic_mirror_descent,
    mirror_prox,
    mwu,
    optimistic_mwu,
    regularized_gap,
    regularized_self_play,
)
from tabular_rl.games.matrix import solve_matrix_game
from tabular_rl.games.preference import random_preference_matrix, rock_paper_scissors

from ..registry import Claim, Paper, Report, register

__all__ = ["REGULARIZED_SELF_PLAY", "check_regularized_self_play"]

TANG = Paper(title="Game-Theoretic Regularized Self-Play Alignment of Large Language Models",
             authors="X. Tang, S. Yoon, S. Son, H. Yuan, Q. Gu and I. Bogunovic",
             venue="arXiv:2503.00030", year=2025)

TAU = 0.1
ETA_REG = 0.1
ETA_MWU = 0.1
ETA_OMWU = 1.0
#: Required reduction of the last-iterate regularized gap over the run.
GAP_REDUCTION = 1e-8
#: Floating-point slack on the monotone increase of KL(z* || z_t).
KL_SLACK = 1e-12


def _algorithms() -> dict[str, Callable]:
    def rspo(div):
        return lambda M, *, tau, n_iter, x0: regularized_self_play(
            M, tau=tau, eta=ETA_REG, n_iter=n_iter, divergence=div, x0=x0, y0=x0)

    return {
        "rspo_reverse_kl": rspo("reverse_kl"),
        "rspo_forward_kl": rspo("forward_kl"),
        "rspo_mixed": rspo("mixed"),
        "inpo": lambda M, *, tau, n_iter, x0: inpo(M, tau=tau, eta=ETA_REG, n_iter=n_iter,
                                                   x0=x0, y0=x0),
        "mmd": lambda M, *, tau, n_iter, x0: magnetic_mirror_descent(
            M, eta=ETA_REG, alpha=tau, n_iter=n_iter, x0=x0, y0=x0),
        "nash_mp": lambda M, *, tau, n_iter, x0: mirror_prox(M, eta=2.0, beta=tau,
                                                             n_iter=n_iter, x0=x0, y0=x0),
    }


#: The regularizer each algorithm's game uses (for the gap).
_DIVERGENCE = {"rspo_forward_kl": "forward_kl", "rspo_mixed": "mixed"}


def _weighted_rps(rng) -> np.ndarray:
    a, b, c = rng.uniform(0.1, 0.5, 3)
    return np.array([[0.0, a, -c], [-a, 0.0, b], [c, -b, 0.0]])


def _rpsls() -> np.ndarray:
    A = 5
    M = np.zeros((A, A))
    for i in range(A):
        for d in (1, 2):
            M[i, (i + d) % A] = 0.5
            M[(i + d) % A, i] = -0.5
    return M


def _instances(seed: int, quick: bool):
    rng = np.random.default_rng([seed, 2503])
    n_rps, n_rand, sizes = (4, 3, (10,)) if quick else (12, 6, (10, 30))
    cyclic = [("rps", rock_paper_scissors(0.5) - 0.5), ("rpsls", _rpsls())]
    cyclic += [(f"weighted_rps_{k}", _weighted_rps(rng)) for k in range(n_rps)]
    rand = [(f"random_A{A}_{k}", random_preference_matrix(A, seed=rng) - 0.5)
            for A in sizes for k in range(n_rand)]
    return cyclic, rand


def _start(A: int) -> np.ndarray:
    x0 = np.linspace(2.0, 1.0, A)
    return x0 / x0.sum()


def _kl(p, Q):
    d = np.log(p) - np.log(Q)
    return np.sum(p * (d + np.expm1(-d)), axis=-1)


_PER_ITERATION = ("t", "mwu_last", "mwu_avg", "omwu_last", "mwu_kl", "omwu_kl")


def _figure(out_dir, fig_data) -> str:

    from tabular_rl.plotting import agg_subplots

    fig, axes = agg_subplots(1, 3, figsize=(18, 4.8))
    stride = max(1, len(fig_data["t"]) // 600)  # thin long curves: draw time, not content
    fig_data = {k: (v[::stride] if isinstance(v, np.ndarray) and k in _PER_ITERATION else v)
                for k, v in fig_data.items()}
    t = fig_data["t"]
    ax = axes[0]
    ax.semilogy(t, fig_data["mwu_last"], color="C3", lw=1.2, label="MWU, last iterate")
    ax.semilogy(t, fig_data["mwu_avg"], color="C3", ls="--", lw=1.5, label="MWU, average")
    ax.semilogy(t, fig_data["omwu_last"], color="C0", lw=1.5,
                label=rf"optimistic MWU ($\eta$={ETA_OMWU:g}), last iterate")
    ax.axhline(fig_data["hedge_bound"], color="grey", ls=":", label="Hedge regret bound (avg)")
    ax.set_ylim(1e-16, 2)
    ax.set_xlabel("iteration t")
    ax.set_ylabel("exploitability (Nash gap) of the unregularized game")
    ax.set_title("rock-paper-scissors preference game, unregularized")
    ax.legend(fontsize=8)
    ax = axes[1]
    ax.plot(fig_data["t"], fig_data["mwu_kl"], color="C3", lw=1.5,
            label="MWU: KL(z* || z_t) grows (cycling outwards)")
    ax.plot(fig_data["t"], fig_data["omwu_kl"], color="C0", lw=1.5,
            label="optimistic MWU: KL(z* || z_t) -> 0")
    ax.set_ylim(0, None)
    ax.set_xlabel("iteration t")
    ax.set_ylabel(r"$\mathrm{KL}(z^\star\|z_t)$ to the Nash equilibrium")
    ax.set_title("distance of the last iterate to the equilibrium (linear scale)")
    ax.legend(fontsize=8)
    ax = axes[2]
    for k, (name, g) in enumerate(fig_data["reg"].items()):
        ax.semilogy(fig_data["t_reg"], np.maximum(g, 1e-17), color=f"C{k}", lw=1.4, label=name)
    ax.semilogy(fig_data["t_reg"], fig_data["unreg_in_reg"], color="k", ls="--", lw=1.2,
                label=r"MWU ($\tau$ = 0) measured in the regularized game")
    ax.set_ylim(1e-17, 2)
    ax.set_xlabel("iteration t")
    ax.set_ylabel(rf"last-iterate gap of the $\tau$={TAU:g}-regularized game")
    ax.set_title("regularized self-play: last iterate converges")
    ax.legend(fontsize=8, loc="center right")
    for ax in axes:
        ax.grid(True, which="both", alpha=0.3)
    fig.suptitle("games.regularized-self-play: MWU cycles, regularized self-play (RSPO, INPO, "
                 "MMD, Nash-MP) converges in the last iterate")
    fig.tight_layout()
    path = Path(out_dir) / "games.regularized-self-play.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    return str(path)


def check_regularized_self_play(quick: bool = False, *, seed: int = 0,
                                out_dir="paper_figures",
                                regularized: dict[str, Callable] | Callable | None = None,
                                mwu_algorithm: Callable | None = None,
                                plot: bool = True) -> Report:
    r"""Check last-iterate convergence of regularized self-play and cycling of MWU (see the
    module docstring).

    Parameters
    ----------
    quick : bool
        2000 iterations on 6 cyclic games and 3 random 10-action preference games; otherwise
        6000 iterations, 14 cyclic and 12 random games (10 and 30 actions).
    seed : int
        Fixes every instance.
    out_dir : str or path
        Where the figure goes.
    regularized : dict or callable, optional
        ``name -> algorithm(M, *, tau, n_iter, x0) -> (X, Y)`` (a single callable is used for
        every entry); ``M`` is a batch ``(n_games, A, A)`` and ``X``, ``Y`` have shapes
        ``(n_iter + 1, n_games, A)``; default RSPO (reverse/forward/mixed KL), INPO, MMD and
        Nash-MP. The gap is measured in the game each entry regularizes (forward or mixed KL
        for the RSPO variants of that name, reverse KL otherwise).
    mwu_algorithm : callable, optional
        ``mwu_algorithm(M, *, n_iter, x0) -> (X, Y)``, default MWU with
        :math:`\eta = 0.1`.
    plot : bool
        Write the figure.
    """
    algos = _algorithms()
    if callable(regularized):
        algos = {name: regularized for name in algos}
    elif regularized is not None:
        algos = dict(regularized)
    if mwu_algorithm is None:
        def mwu_algorithm(M, *, n_iter, x0):
            return mwu(M, eta=ETA_MWU, n_iter=n_iter, x0=x0, y0=x0)
    T = 2000 if quick else 6000
    cyclic, rand = _instances(seed, quick)
    ok, notes, measured, stated = True, [], {}, {}
    fig_data = {}
    idx = np.unique(np.linspace(0, T, 41).astype(int))
    # ---- 1. regularized runs: last-iterate regularized gap (games of one size run batched)
    groups: dict[int, list] = {}
    for label, M in cyclic + rand:
        groups.setdefault(M.shape[0], []).append((label, M))
    worst_red = 0.0
    for name, algo in algos.items():
        div = _DIVERGENCE.get(name, "reverse_kl")
        worst = 0.0
        for A, members in groups.items():
            Ms = np.stack([M for _, M in members])
            X, Y = algo(Ms, tau=TAU, n_iter=T, x0=_start(A))
            X, Y = np.asarray(X), np.asarray(Y)
            for j, (label, M) in enumerate(members):
                sel = idx if label == "rps" else np.array([0, T])
                g = regularized_gap(M, X[sel, j], Y[sel, j], tau=TAU, divergence=div)
                red = float(g[-1] / g[0]) if np.isfinite(g[-1]) else np.inf
                worst = max(worst, red)
                if not red <= GAP_REDUCTION:
                    ok = False
                    notes.append(f"{name} on {label}: last-iterate regularized gap {g[0]:.3e} "
                                 f"-> {g[-1]:.3e} (ratio {red:.3e} > {GAP_REDUCTION:g})")
                if label == "rps":
                    fig_data.setdefault("reg", {})[name] = g
        measured[f"gap_reduction[{name}]"] = worst
        stated[f"gap_reduction[{name}]"] = f"<= {GAP_REDUCTION:g}"
        worst_red = max(worst_red, worst)
        notes.append(f"{name}: worst last-iterate regularized gap ratio g_T/g_0 = {worst:.3e}")
    fig_data["t_reg"] = idx
    # ---- 2. MWU cycles; its average converges
    worst_kl_drop, min_kl_growth, worst_avg_over_bound, omwu_worst = -np.inf, np.inf, 0.0, 0.0
    for label, M in cyclic:
        A = M.shape[0]
        x0 = _start(A)
        sol = solve_matrix_game(M)
        X, Y = (np.asarray(a) for a in mwu_algorithm(M, n_iter=T, x0=x0))
        kl = _kl(sol.x, X) + _kl(sol.y, Y)
        drop = float(np.max(kl[:-1] - kl[1:]))
        worst_kl_drop = max(worst_kl_drop, drop)
        growth = float(kl[-1] - kl[0])
        min_kl_growth = min(min_kl_growth, growth)
        if not (drop <= KL_SLACK and growth > 0):
            ok = False
            notes.append(f"MWU on {label}: KL(z*||z_t) decreased by up to {drop:.3e} "
                         f"(net change {growth:+.3e}); the last iterate does not cycle outwards")
        Xa = np.cumsum(X, axis=0) / np.arange(1, T + 2)[:, None]
        Ya = np.cumsum(Y, axis=0) / np.arange(1, T + 2)[:, None]
        e_last = regularized_gap(M, X, Y, tau=0.0)
        e_avg = regularized_gap(M, Xa, Ya, tau=0.0)
        R = float(M.max() - M.min())
        bound = 2 * (np.log(A) / (ETA_MWU * T) + ETA_MWU * R**2 / 8)
        worst_avg_over_bound = max(worst_avg_over_bound, float(e_avg[-1] / bound))
        if not e_avg[-1] <= bound:
            ok = False
            notes.append(f"MWU on {label}: average exploitability {e_avg[-1]:.3e} above the "
                         f"Hedge bound {bound:.3e}")
        Xo, Yo = optimistic_mwu(M, eta=ETA_OMWU, n_iter=T, x0=x0, y0=x0)
        e_o = regularized_gap(M, Xo, Yo, tau=0.0)
        omwu_worst = max(omwu_worst, float(e_o[-1]))
        notes.append(f"{label}: MWU last-iterate gap {e_last[0]:.3f} -> {e_last[-1]:.3f}, KL "
                     f"{kl[0]:.3f} -> {kl[-1]:.3f}; average gap {e_avg[-1]:.2e} (bound "
                     f"{bound:.2e}); OMWU last-iterate gap {e_o[-1]:.2e}")
        if label == "rps":
            fig_data.update(t=np.arange(T + 1), mwu_last=e_last, mwu_avg=e_avg, omwu_last=e_o,
                            hedge_bound=bound, mwu_kl=kl,
                            omwu_kl=_kl(sol.x, Xo) + _kl(sol.y, Yo))
            fig_data["unreg_in_reg"] = regularized_gap(M, X[idx], Y[idx], tau=TAU)
    measured = {"worst_regularized_gap_reduction": worst_red,
                "mwu_max_kl_decrease": worst_kl_drop, "mwu_min_kl_growth": min_kl_growth,
                "mwu_avg_gap_over_hedge_bound": worst_avg_over_bound,
                "omwu_worst_last_gap": omwu_worst, **measured}
    stated = {"worst_regularized_gap_reduction": f"<= {GAP_REDUCTION:g}",
              "mwu_max_kl_decrease": f"<= {KL_SLACK:g} (Bailey & Piliouras 2018)",
              "mwu_min_kl_growth": "> 0", "mwu_avg_gap_over_hedge_bound": "<= 1", **stated}
    figures = (_figure(out_dir, fig_data),) if plot and "reg" in fig_data else ()
    return Report(claim_id="games.regularized-self-play", verdict="pass" if ok else "fail",
                  measured=measured, stated=stated, details="\n".join(notes), figures=figures,
                  n_instances=len(cyclic) + len(rand))


REGULARIZED_SELF_PLAY = register(Claim(
    id="games.regularized-self-play",
    paper=TANG,
    statement=(
        "Tang et al. 2025 (RSPO, arXiv:2503.00030) and Zhang et al. 2024 (INPO, "
        "arXiv:2406.16564): self-play regularized by reverse KL, forward KL or their mixture "
        "(RSPO) and KL-regularized online mirror descent (INPO) converge in the last iterate "
        "to the equilibrium of the regularized preference game; without regularization MWU "
        "self-play cycles (Bailey & Piliouras 2018: KL to the interior equilibrium "
        "increases) while its average converges (Hedge regret bound)."),
    kind="qualitative",
    instances=("rock-paper-scissors, RPSLS and weighted RPS preference games; random "
               "preference matrices with 10 (quick) / 10 and 30 actions; tau = 0.1, uniform "
               "reference; 2000 / 6000 iterations"),
    check=check_regularized_self_play,
))
