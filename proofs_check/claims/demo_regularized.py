r"""Demonstration-regularized RL: episodes to :math:`\varepsilon` scale as
:math:`1/(\varepsilon^2 N^E)` (claim ``learn.demo-regularized``).

Paper: Tiapkin, Belomestny, Calandriello, Moulines, Munos, Naumov, Perrault, Valko,
Ménard, "Demonstration-Regularized RL", ICLR 2024 (arXiv:2310.17303). Statement (abstract
and main result for finite MDPs): with :math:`N^E` demonstrations of an
:math:`\varepsilon_E`-optimal expert, behavior cloning followed by KL-regularized
best-policy identification toward the BC policy, with :math:`\lambda \asymp
\varepsilon N^E/\mathrm{Poly}(S,A,H)`, identifies an :math:`(\varepsilon+\varepsilon_E)`-optimal
policy after :math:`\tilde O(\mathrm{Poly}(S,A,H)/(\varepsilon^2 N^E))` episodes. Only the
abstract and front matter were retrievable here, so theorem numbers are not quoted.

What is measured. The guarantee comes from the decomposition (exact, for every policy
:math:`\hat\pi`; see :mod:`tabular_rl.learners.demonstrations`)

.. math::

    V^{\pi^E} - V^{\hat\pi} \;\le\; U(\hat\pi) := \lambda\,\mathrm{KL}_{\mathrm{traj}}
    (\pi^E\,\|\,\pi^{BC}) + \big(V^\star_\lambda - V^{\hat\pi}_\lambda\big),

with :math:`\lambda = \varepsilon N^E/(2\kappa(A-1)SH)`, which makes the first term at most
:math:`\varepsilon/2` in expectation (BC bound
:func:`~tabular_rl.learners.demonstrations.bc_kl_bound`),
while the regularized gap falls as :math:`1/(\lambda n)`. Both terms are computed exactly
in the true model for each seed. :math:`n_\varepsilon(\varepsilon, N^E)` is the first
number of episodes at which the mean over seeds of :math:`U` is at most
:math:`\varepsilon` (log-log interpolated on the grid), so the stated rate predicts
slopes :math:`-1` in :math:`N^E` and :math:`-2` in :math:`\varepsilon`. The per-seed
inequality :math:`V^{\pi^E} - V^{\hat\pi} \le U` is checked as well (floating point only).

Learner: :func:`tabular_rl.learners.demonstrations.demo_regularized_plug_in` (plug-in model
from uniformly exploring episodes plus exact KL-regularized planning; *not* the paper's
UCBVI-Ent+). Instance: :func:`tilted_ladder` -- rewards spread over states, transitions
nearly uniform with action tilts so small that :math:`\lambda` exceeds the action gaps on
the whole design (otherwise :math:`e^{-\Delta/\lambda}` factors change the constant of
the :math:`1/(\lambda n)` term from instance to instance); the expert mixes the optimal
action with the uniform policy (an :math:`\varepsilon_E`-optimal stochastic expert), so
every action is cloned at a :math:`1/N^E` rate.

Intervals: seed bootstrap of the crossings (each instance's seeds resampled
independently), percentile, at level :math:`1-0.05/2` (Bonferroni over the two slopes).
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np

from tabular_rl import EpisodicMDP
from tabular_rl.learners.demonstrations import (
    bc_kl_bound,
    demo_regularized_plug_in,
    kl_regularized_optimum,
    regularized_policy_value,
    trajectory_kl,
)
from tabular_rl.planning.dp import backward_induction
from tabular_rl.plotting import save_figure
from tabular_rl.sampling import rollouts

from .._rate_helpers import (
    _batch,
    _bootstrap_slope,
    _crossings,
    _plain_ticks,
    _sweep_api,
    _sweep_executor,
    _sweep_path,
)
from ..registry import Claim, Paper, Report, register

__all__ = ["DEMO_REGULARIZED", "check_demo_regularized", "expert_policy", "tilted_ladder"]

TIAPKIN = Paper(title="Demonstration-Regularized RL",
                authors="D. Tiapkin, D. Belomestny, D. Calandriello, E. Moulines, R. Munos, "
                        "A. Naumov, P. Perrault, M. Valko and P. Ménard",
                venue="ICLR (arXiv:2310.17303)", year=2024)

FAMILY_ALPHA = 0.05


def tilted_ladder(S: int = 4, A: int = 3, H: int = 4, tilt: float = 0.02) -> EpisodicMDP:
    r"""Episodic MDP with reward :math:`r(s) = s/(S-1)` (any action) and
    :math:`P(s'\mid s, a) = (1 + c_a z_{s'})/S`, :math:`z` evenly spaced in
    :math:`[-1, 1]`, :math:`c_a` evenly spaced in :math:`[-\text{tilt}, \text{tilt}]`
    (action 0 tilts toward high states). Action gaps are :math:`O(\text{tilt})`, the
    next-state value has variance :math:`O(H^2)`; :math:`\mu` uniform."""
    if not 0.0 <= tilt < 1.0:
        raise ValueError(f"tilt must lie in [0, 1), got {tilt!r}")
    z = np.linspace(-1.0, 1.0, S)
    c = np.linspace(tilt, -tilt, A)
    P = np.broadcast_to((1.0 + c[None, :, None] * z[None, None, :]) / S, (S, A, S)).copy()
    r = np.broadcast_to(((z + 1.0) / 2.0)[:, None], (S, A)).copy()
    return EpisodicMDP(P, r, H=H)


def expert_policy(mdp: EpisodicMDP, mix: float = 0.5) -> np.ndarray:
    r"""The expert :math:`\pi^E_h = (1-\text{mix})\,\delta_{a^\star_h(s)} +
    \text{mix}\cdot\mathrm{uniform}`, ``(H, S, A)``."""
    pol = np.asarray(backward_induction(mdp).policy)
    greedy = np.eye(mdp.A)[pol] if pol.ndim == 2 else pol
    return (1.0 - mix) * greedy + mix / mdp.A


def _lam(eps: float, n_demos: int, mdp: EpisodicMDP, kappa: float) -> float:
    """The paper's choice: lambda * KL-bound = eps / 2."""
    return eps / (2.0 * bc_kl_bound(n_demos, mdp.S, mdp.A, mdp.H, kappa))


def _demo_cell(config: dict, rng: np.random.Generator, *, learner_fn=None) -> dict:
    """One batch of seeds of one (eps, N^E) instance: U / eps and the true suboptimality
    relative to the expert, ``(batch, k)``, on the episode grid."""
    i = int(config["instance"])
    eps, n_demos = float(config["epsilons"][i]), int(config["n_demos"][i])
    mdp = tilted_ladder(*config["shape"], tilt=float(config["tilt"]))
    pi_e = expert_policy(mdp, float(config["mix"]))
    kappa = float(config["kappa"])
    lam = _lam(eps, n_demos, mdp, kappa)
    n_grid = np.asarray(config["n_grid"], dtype=np.int64)
    s = [int(x) for x in rng.integers(2**63, size=2 * int(config["batch"]))]
    demos = rollouts(mdp, pi_e, n_demos, seed=s[::2])
    fn = learner_fn or functools.partial(demo_regularized_plug_in, kappa=kappa)
    res = fn(mdp, demos, int(n_grid[-1]), lam, seed=s[1::2], record_at=n_grid)
    pols, pi_bc = np.asarray(res.policies), np.asarray(res.pi_bc)
    mu = np.asarray(mdp.mu)
    kl = trajectory_kl(mdp, pi_e, pi_bc)                                   # (B,)
    v_reg_star = kl_regularized_optimum(mdp, pi_bc, lam)[0][:, 0] @ mu     # (B,)
    v_reg = regularized_policy_value(mdp, pols, pi_bc[:, None], lam)[..., 0, :] @ mu
    gap = v_reg_star[:, None] - v_reg                                      # (B, k)
    U = lam * kl[:, None] + gap
    v_e = regularized_policy_value(mdp, pi_e, pi_e, 0.0)[0] @ mu
    v_hat = regularized_policy_value(mdp, pols, pols, 0.0)[..., 0, :] @ mu
    sub = v_e - v_hat
    scale = float(mdp.H) * (1.0 + lam * np.log(mdp.A) + np.abs(U).max())
    return {"U": U / eps, "subopt": sub / eps, "bias": lam * kl / eps,
            "violation": np.array(float(np.max(sub - U)) / scale)}


def check_demo_regularized(quick: bool = False, *, seed: int = 0,
                           out_dir: str = "paper_figures", scheduler=None,
                           learner: Callable | None = None, n_demos=None, epsilons=None,
                           n_grid=None, seeds: int | None = None, n_boot: int = 500,
                           figure: bool = True) -> Report:
    r"""Slopes of episodes-to-:math:`\varepsilon` in :math:`N^E` and :math:`\varepsilon`.

    Verdict (all must hold): (1) the :math:`N^E` slope interval (at level
    :math:`1-0.05/2`) contains :math:`-1`; (2) the :math:`\varepsilon` slope interval
    contains :math:`-2`; (3) on every seed and grid point :math:`V^{\pi^E} - V^{\hat\pi}
    \le U` up to :math:`10^{-9}` relative (the decomposition the theorem rests on).
    An :math:`n_\varepsilon` not reached on the grid fails.

    Parameters
    ----------
    quick : bool
        :math:`N^E \in \{512, \dots, 4096\}` at :math:`\varepsilon = 0.01`,
        :math:`\varepsilon \in \{0.01, 0.0071, 0.005\}` at :math:`N^E = 512`, episodes
        :math:`\le 8192`, 128 seeds; full: 256 seeds, :math:`\varepsilon` down to 0.0035,
        episodes :math:`\le 16384`.
    seed, out_dir, scheduler
        Root seed; figure directory (sweeps under ``out_dir/_sweeps``); dask scheduler.
    learner : callable, optional
        Replaces :func:`~tabular_rl.learners.demonstrations.demo_regularized_plug_in`:
        ``fn(mdp, demos, n_episodes, lam, *, seed, record_at) -> .policies (B, k, H, S, A),
        .pi_bc (B, H, S, A)``, batched over a list ``seed``.
    n_demos, epsilons, n_grid, seeds, n_boot, figure
        Override the design (for tests).
    """
    Sweep, run_sweep = _sweep_api()
    if n_demos is None:
        n_demos = [256, 512, 1024, 2048]
    if epsilons is None:
        epsilons = [0.01, 0.0071, 0.005] if quick else [0.01, 0.0071, 0.005, 0.0035]
    epsilons = sorted((float(e) for e in epsilons), reverse=True)
    n_demos = sorted(int(n) for n in n_demos)
    if n_grid is None:
        top = 8192 if quick else 16384
        n_grid = np.unique(np.round(np.geomspace(16, top, 16 if quick else 19)).astype(int))
    n_grid = [int(n) for n in n_grid]
    seeds = seeds or (128 if quick else 256)
    batch = _batch(seeds)
    # L-shaped design: every N^E at the largest eps, every eps at the smallest N^E.
    inst = [(n, epsilons[0]) for n in n_demos] + [(n_demos[0], e) for e in epsilons[1:]]
    shape, tilt, mix, kappa = [4, 3, 4], 0.01, 0.5, 1.0
    cell = _demo_cell if learner is None else functools.partial(_demo_cell,
                                                               learner_fn=learner)
    sweep = Sweep("learn.demo-regularized", cell, grid={"instance": list(range(len(inst)))},
                  seeds=seeds // batch, root_seed=seed,
                  fixed={"batch": batch, "n_demos": [n for n, _ in inst],
                         "epsilons": [e for _, e in inst], "n_grid": n_grid,
                         "shape": shape, "tilt": tilt, "mix": mix, "kappa": kappa})
    result = run_sweep(sweep, _sweep_path(out_dir, sweep, learner is not None),
                       progress=False, overwrite=learner is not None,
                       **_sweep_executor(scheduler))

    def table(name):
        a = result.metric(name)
        return a.reshape(a.shape[0], -1, *a.shape[3:])          # (instances, seeds, ...)

    U, sub, bias = table("U"), table("subopt"), table("bias")
    violation = float(np.max(result.metric("violation")))
    ns = np.asarray(n_grid, dtype=np.float64)
    tables = [U[i].T for i in range(len(inst))]                    # (k, seeds) of U/eps
    nd_tables = tables[:len(n_demos)]
    e_tables = [tables[0]] + tables[len(n_demos):]
    rng = np.random.default_rng(seed)
    level = 1.0 - FAMILY_ALPHA / 2
    cross = functools.partial(_crossings, ns, eps=1.0)
    nd = np.asarray(n_demos, dtype=np.float64)
    ea = np.asarray(epsilons, dtype=np.float64)
    a_n, b_n, lo_n, hi_n, y_n, un_n = _bootstrap_slope(nd, cross, nd_tables, n_boot, rng,
                                                       level)
    a_e, b_e, lo_e, hi_e, y_e, un_e = _bootstrap_slope(ea, cross, e_tables, n_boot, rng,
                                                       level)
    ok_n = bool(np.isfinite(a_n) and lo_n <= -1.0 <= hi_n)
    ok_e = bool(np.isfinite(a_e) and lo_e <= -2.0 <= hi_e)
    ok_v = bool(violation <= 1e-9)

    def text(name, a, lo, hi, ok, stated):
        if not np.isfinite(a):
            return f"{name}: n_eps not reached on the grid for every instance"
        return (f"{name} slope {a:.3g} [{lo:.3g}, {hi:.3g}] ({100 * level:g}%): "
                + (f"contains {stated:g}" if ok else f"excludes {stated:g}"))

    text_n = text("N^E", a_n, lo_n, hi_n, ok_n, -1.0)
    text_e = text("eps", a_e, lo_e, hi_e, ok_e, -2.0)
    text_v = (f"max (V^piE - V^pihat - U)/scale = {violation:.2e} "
              + ("<= 1e-9" if ok_v else "> 1e-9: the decomposition is violated"))
    figures = ()
    if figure:
        figures = (_plot(out_dir, ns, nd, ea, tables, inst, sub, bias, y_n, y_e,
                         (a_n, b_n, lo_n, hi_n, ok_n, text_n),
                         (a_e, b_e, lo_e, hi_e, ok_e, text_e), seeds, len(n_demos)),)
    measured = {"n_demos_slope": a_n, "n_demos_slope_low": lo_n, "n_demos_slope_high": hi_n,
                "eps_slope": a_e, "eps_slope_low": lo_e, "eps_slope_high": hi_e,
                "decomposition_violation": violation}
    for (n, e), y in zip(inst, list(y_n) + list(y_e[1:]), strict=True):
        measured[f"n_eps_NE_{n}_eps_{e:g}"] = float(y)
    measured["mean_bias_fraction"] = float(bias.mean())
    stated = {"n_demos_slope": -1.0, "eps_slope": -2.0, "decomposition_violation": "<= 1e-9"}
    details = (f"tilted_ladder(S, A, H = {shape}, tilt {tilt}), expert = {1 - mix:g} optimal + "
               f"{mix:g} uniform; BC add-{kappa:g}; lambda = eps N^E / (2 kappa (A-1) S H); "
               f"plug-in from uniformly exploring episodes + exact KL-regularized planning; "
               f"U = lambda KL_traj(piE||piBC) + (V*_lambda - V^pihat_lambda), exact; n_eps "
               f"= first n with mean U <= eps (log-log interpolated); {seeds} seeds; "
               f"episodes {n_grid[0]}..{n_grid[-1]}; {n_boot} bootstrap resamples (fraction "
               f"unreached {un_n:.2f} / {un_e:.2f}). {text_n}. {text_e}. {text_v}.")
    return Report(claim_id="learn.demo-regularized",
                  verdict="pass" if ok_n and ok_e and ok_v else "fail",
                  measured=measured, stated=stated, details=details, figures=figures,
                  n_instances=len(inst))


def _plot(out_dir, ns, nd, ea, tables, inst, sub, bias, y_n, y_e, fit_n, fit_e, seeds,
          n_nd) -> str:
    import matplotlib
    from matplotlib.figure import Figure

    fig = Figure(figsize=(16, 5.6))
    ax0, ax1, ax2 = fig.subplots(1, 3, gridspec_kw={"wspace": 0.3})
    colors = matplotlib.colormaps["viridis"](np.linspace(0, 0.85, len(inst)))
    for (n, e), tab, c in zip(inst, tables, colors, strict=True):
        ax0.plot(ns, tab.mean(axis=1), "o-", ms=3, color=c, label=f"N^E = {n}, ε = {e:g}")
    true_gap = sub.mean(axis=1)[0]
    pos = true_gap > 0
    ax0.plot(ns[pos], true_gap[pos], "k--", lw=1,
             label=f"true V^πE − V^π̂ (/ε; where > 0), N^E = {inst[0][0]}, ε = {inst[0][1]:g}")
    ax0.axhline(1.0, color="C3", ls=":", lw=1.5, label="U = ε")
    ax0.axhline(float(bias.mean()), color="0.5", ls="-.", lw=1,
                label=f"λ·KL_traj / ε (mean {float(bias.mean()):.2f})")
    ax0.set(xscale="log", yscale="log", xlabel="exploration episodes n",
            ylabel="mean over seeds of U / ε",
            title="certified gap U = λ·KL(πE‖πBC) + regularized gap")
    ax0.legend(fontsize=7.5, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2,
               frameon=False)
    ax0.grid(True, which="both", alpha=0.3)
    for ax, x, y, (a, b, lo, hi, ok, text), stated, xl in (
            (ax1, nd, y_n, fit_n, -1.0, "expert demonstrations N^E"),
            (ax2, ea, y_e, fit_e, -2.0, "accuracy ε")):
        finite = np.isfinite(y)
        ax.plot(x[finite], y[finite], "o", ms=7, color="C0", label="n_ε (mean U ≤ ε)")
        if np.isfinite(a):
            xx = np.geomspace(x.min(), x.max(), 32)
            x0 = x[np.argmin(np.abs(np.log(x) - np.log(x).mean()))]
            y0 = np.exp(b) * x0 ** a
            ax.plot(xx, np.exp(b) * xx ** a, "--", color="C0",
                    label=f"fit slope {a:.3g} [{lo:.3g}, {hi:.3g}]")
            ax.plot(xx, y0 * (xx / x0) ** stated, ":", lw=2.2, color="C3",
                    label=f"stated slope {stated:g}")
        ax.plot([], [], " ", label=("PASS: " if ok else "FAIL: ") + text)
        ax.set(xscale="log", yscale="log", xlabel=xl, ylabel="episodes to certify ε")
        ax.legend(fontsize=7.5, loc="upper center", bbox_to_anchor=(0.5, -0.14),
                  frameon=False)
        ax.grid(True, which="both", alpha=0.3)
    _plain_ticks(ax1, nd)
    _plain_ticks(ax2, ea)
    ax1.set_title(f"n_ε vs N^E at ε = {ea[0]:g}")
    ax2.set_title(f"n_ε vs ε at N^E = {int(nd[0])}")
    fig.suptitle("learn.demo-regularized: BC + KL-regularized plug-in (Tiapkin et al. 2024), "
                 f"stated n ∝ 1/(ε² N^E); tilted ladder S=4, A=3, H=4; {seeds} seeds",
                 fontsize=11)
    path = save_figure(fig, out_dir, "learn.demo-regularized.png", tight=True)
    return path


DEMO_REGULARIZED = register(Claim(
    id="learn.demo-regularized",
    paper=TIAPKIN,
    statement=("Tiapkin et al. (ICLR 2024), main result for finite MDPs: behavior cloning "
               "from N^E expert demonstrations followed by KL-regularized best-policy "
               "identification toward the BC policy (lambda ~ eps N^E / Poly(S,A,H)) finds "
               "an (eps + eps_E)-optimal policy after O~(Poly(S,A,H)/(eps^2 N^E)) episodes. "
               "Measured: episodes to certify eps (lambda KL_traj + regularized gap <= eps) "
               "have slope -1 in N^E and -2 in eps."),
    kind="rate",
    instances="tilted ladder MDP (S=4, A=3, H=4), stochastic near-optimal expert, "
              "N^E 512..4096, eps 0.01..0.005",
    check=check_demo_regularized,
))
