r"""``games.mirror-prox-nlhf``: last-iterate linear convergence of Nash Mirror Prox.

Paper: D. Tiapkin, D. Calandriello, D. Belomestny, É. Moulines, A. Naumov, K. Rasul,
M. Valko, P. Ménard, "Accelerating Nash Learning from Human Feedback via Mirror Prox",
arXiv:2505.19731, **version 1** (May 2025). (A later version was retitled "Proximal Point
Nash Learning from Human Feedback" and analyses a different, parametrized method; this module
checks v1.)

Setting (v1, Sec. 3-4): a preference matrix :math:`P` (:math:`P_{ij} + P_{ji} = 1`), a
full-support reference policy :math:`\pi_{\rm ref}` and :math:`\beta > 0`; the
:math:`\beta`-regularized preference game

.. math::

    \max_\pi\min_{\pi'}\; \Pr(\pi\succ\pi') - \beta\,\mathrm{KL}(\pi\|\pi_{\rm ref})
    + \beta\,\mathrm{KL}(\pi'\|\pi_{\rm ref})

has a unique (symmetric) equilibrium :math:`\pi^\star_\beta`, the fixed point
:math:`\pi^\star_\beta \propto \pi_{\rm ref}\exp(P\pi^\star_\beta/\beta)`. Nash-MP
(Algorithm 1, exact prox steps) makes two mirror steps per iteration, each costing one
preference query (:math:`N = 2k` after :math:`k` iterations):

.. math::

    \pi_{k+1/2} &= \arg\max_\pi\; \eta\Pr(\pi\succ\pi_k) - \eta\beta\mathrm{KL}(\pi\|\pi_{\rm ref})
                   - \mathrm{KL}(\pi\|\pi_k),\\
    \pi_{k+1} &= \arg\max_\pi\; \eta\Pr(\pi\succ\pi_{k+1/2})
                 - \eta\beta\mathrm{KL}(\pi\|\pi_{\rm ref}) - \mathrm{KL}(\pi\|\pi_k).

Statement checked (v1 abstract and main theorem on the exact method): the last iterate
converges linearly, :math:`\mathrm{KL}(\pi^\star_\beta\|\pi_k) \le (1+2\beta)^{-N/2}\,
\mathrm{KL}(\pi^\star_\beta\|\pi_0)` with :math:`N = 2k` (step :math:`\eta = 2`, the inverse
of the :math:`\ell_1\to\ell_\infty` Lipschitz constant :math:`1/2` of
:math:`\pi'\mapsto P\pi'`; :math:`\pi_0 = \pi_{\rm ref}`), a rate independent of the number
of actions :math:`A`. **Caveat:** the search tool only returned the abstract and the first
page of v1, so the theorem number and the exact constant could not be read; the rate
:math:`(1+2\beta)^{-N/2}` is from the abstract, the constant
:math:`c = \mathrm{KL}(\pi^\star_\beta\|\pi_0)` and :math:`\eta = 2` are the standard
one-step mirror-prox contraction :math:`(1+\eta\beta)\mathrm{KL}(\pi^\star\|\pi_{k+1}) \le
\mathrm{KL}(\pi^\star\|\pi_k)` for :math:`\eta L \le 1`, which reproduces that rate.

Checks, on seeded random preference matrices (:math:`P_{ij}\sim U[0,1]` above the diagonal)
with a random full-support reference :math:`\pi_{\rm ref} = \pi_0`, for several :math:`\beta`
and :math:`A \in \{3, 30, 300\}` (quick) or :math:`\{3, 10, 100, 1000\}` (full):

1. *Bound*: :math:`\mathrm{KL}(\pi^\star\|\pi_k) \le (1+2\beta)^{-k}\mathrm{KL}(\pi^\star\|\pi_0)
   \,(1 + 10^{-9})` at every :math:`k` where the bound is above :math:`10^{-11}` (below that
   the KL is at the floating-point floor of the log-probabilities).
2. *Rate*: the least-squares slope of :math:`\log\mathrm{KL}` against :math:`N` (window: KL
   above :math:`10^{-11}`) is at most :math:`-\tfrac12\log(1+2\beta)` for *every* instance,
   i.e. the upper end of the range over seeds is below the stated slope, for every :math:`A`.

The reference :math:`\pi^\star_\beta` comes from an independent solver,
:func:`tabular_rl.games.solve_qre` (damped Newton on the fixed-point equations, residual
:math:`\le 10^{-12}` required). The KL is evaluated as
:math:`\sum_a \pi^\star_a(d_a + e^{-d_a} - 1)`, :math:`d = \log\pi^\star - \log\pi_k`, which
avoids the cancellation of :math:`\sum_a \pi^\star_a d_a` near zero.

The algorithm is injectable (``algorithm=``); a broken one (plain MWU without the
extragradient step or the regularization, or Nash-MP with :math:`\beta` left out of the
update) makes the check fail. Note that the *regularized* mirror-descent step without the
extragradient half step (magnetic mirror descent with :math:`\eta = 2`) happens to meet the
bound on these random instances (the coupling :math:`P\pi` is weak relative to
:math:`\beta`), so it is not used as a broken variant.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from scipy import stats

from tabular_rl.games.dynamics import nash_mirror_prox
from tabular_rl.games.preference import random_preference_matrix
from tabular_rl.games.qre import solve_qre

from ..registry import Claim, Paper, Report, register

__all__ = ["NASH_MIRROR_PROX", "check_nash_mirror_prox", "kl_divergence"]

TIAPKIN = Paper(title="Accelerating Nash Learning from Human Feedback via Mirror Prox "
                      "(arXiv:2505.19731v1)",
                authors="D. Tiapkin, D. Calandriello, D. Belomestny, E. Moulines, A. Naumov, "
                        "K. Rasul, M. Valko and P. Ménard",
                venue="arXiv preprint", year=2025)

#: KL values below this are at the floating-point floor and are left out of bound and fit.
KL_FLOOR = 1e-11
#: Relative slack of the pointwise bound: floating point of the KL evaluation only.
BOUND_RTOL = 1e-9
#: Residual the reference equilibrium must reach.
REFERENCE_TOL = 1e-12


def kl_divergence(p: np.ndarray, Q: np.ndarray) -> np.ndarray:
    r""":math:`\mathrm{KL}(p\|q)` for each row ``q`` of ``Q``, as
    :math:`\sum_a p_a(d_a + e^{-d_a} - 1)`, :math:`d = \log p - \log q` (exact for
    distributions, accurate near zero)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        d = np.log(p) - np.log(Q)
        return np.sum(p * (d + np.expm1(-d)), axis=-1)


def _default_algorithm(P, *, beta, n_iter, ref):
    return nash_mirror_prox(P, beta=beta, n_iter=n_iter, eta=2.0, ref=ref, pi0=ref)


def _instances(seed: int, A: int, n_seeds: int):
    for s in range(n_seeds):
        rng = np.random.default_rng([seed, A, s, 2505])
        P = random_preference_matrix(A, seed=rng)
        ref = 0.5 / A + 0.5 * rng.dirichlet(np.ones(A))
        yield s, P, ref / ref.sum()


def _figure(out_dir, curves, betas) -> str:

    from tabular_rl.plotting import agg_subplots

    fig, axes = agg_subplots(1, len(betas), figsize=(6.2 * len(betas), 4.6), squeeze=False)
    for ax, beta in zip(axes[0], betas, strict=True):
        for k, (A, N, K) in enumerate(c[1:] for c in curves if c[0] == beta):
            ax.semilogy(N, K, color=f"C{k}", lw=1.8, label=f"Nash-MP, A = {A}")
            ax.semilogy(N, K[0] * (1 + 2 * beta) ** (-N / 2), color=f"C{k}", ls="--", lw=1.0,
                        label=(r"stated bound $\mathrm{KL}_0\,(1+2\beta)^{-N/2}$ (dashed)"
                               if k == 0 else None))
        ax.axhline(KL_FLOOR, color="grey", lw=0.8, ls=":", label="floating-point floor")
        ax.set_ylim(1e-16, None)
        ax.set_xlabel("preference queries N = 2k")
        ax.set_ylabel(r"$\mathrm{KL}(\pi^\star_\beta \,\|\, \pi_k)$")
        ax.set_title(rf"$\beta = {beta:g}$ (seed 0 per A)")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle("games.mirror-prox-nlhf: Nash-MP last iterate, KL to the regularized "
                 "equilibrium vs N (Tiapkin et al. 2025, v1)")
    fig.tight_layout()
    path = Path(out_dir) / "games.mirror-prox-nlhf.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    return str(path)


def check_nash_mirror_prox(quick: bool = False, *, seed: int = 0, out_dir="paper_figures",
                           algorithm: Callable | None = None, plot: bool = True) -> Report:
    r"""Check Nash-MP's last-iterate rate :math:`\mathrm{KL}(\pi^\star\|\pi_k) \le
    (1+2\beta)^{-N/2}\mathrm{KL}(\pi^\star\|\pi_0)` (see the module docstring).

    Parameters
    ----------
    quick : bool
        :math:`A\in\{3, 30, 300\}`, :math:`\beta\in\{0.1, 1\}`, 4 seeds; otherwise
        :math:`A\in\{3, 10, 100, 1000\}`, :math:`\beta\in\{0.05, 0.2, 1\}`, 8 seeds.
    seed : int
        Fixes every instance.
    out_dir : str or path
        Where the figure goes.
    algorithm : callable, optional
        ``algorithm(P, *, beta, n_iter, ref) -> (X, Y)`` with ``X[k]`` the policy after
        ``k`` iterations (two queries each); default Nash-MP with :math:`\eta = 2` from
        :math:`\pi_0 = \pi_{\rm ref}`.
    plot : bool
        Write the figure.

    Returns
    -------
    Report
        ``worst_slope_over_stated`` (the smallest ratio fitted/stated slope over instances,
        must be :math:`\ge 1`), ``worst_bound_ratio`` (max over instances and iterations of
        KL / bound, must be :math:`\le 1 + 10^{-9}`), and per :math:`(\beta, A)` the mean
        fitted slope per query with its 95% t-interval over seeds and the range.
    """
    algo = _default_algorithm if algorithm is None else algorithm
    if quick:
        As, betas, n_seeds = (3, 30, 300), (0.1, 1.0), 4
    else:
        As, betas, n_seeds = (3, 10, 100, 1000), (0.05, 0.2, 1.0), 8
    measured, stated, notes = {}, {}, []
    ok = True
    worst_ratio, worst_bound, n_inst = np.inf, 0.0, 0
    curves = []
    for beta in betas:
        s_stated = -0.5 * np.log1p(2 * beta)
        # iterations for the stated bound to fall from KL_0 (<= ~10) to below the floor
        n_iter = int(np.ceil(np.log(10.0 / KL_FLOOR) / np.log1p(2 * beta))) + 5
        for A in As:
            slopes = []
            for s, P, ref in _instances(seed, A, n_seeds):
                n_inst += 1
                sol = solve_qre(P - 0.5, beta, ref_x=ref, ref_y=ref, tol=REFERENCE_TOL)
                if not sol.residual <= REFERENCE_TOL:
                    ok = False
                    notes.append(f"beta={beta:g} A={A} seed {s}: reference residual "
                                 f"{sol.residual:.2e} > {REFERENCE_TOL:g}")
                X, _ = algo(P, beta=beta, n_iter=n_iter, ref=ref)
                K = kl_divergence(sol.x, np.asarray(X))
                k = np.arange(len(K))
                N = 2.0 * k
                if not np.all(np.isfinite(K)):
                    ok = False
                    notes.append(f"beta={beta:g} A={A} seed {s}: non-finite KL")
                    K = np.where(np.isfinite(K), K, np.inf)
                bound = K[0] * (1 + 2 * beta) ** (-k)
                live = bound >= KL_FLOOR
                ratio = float(np.max(K[live] / bound[live]))
                worst_bound = max(worst_bound, ratio)
                if not ratio <= 1 + BOUND_RTOL:
                    ok = False
                    kk = int(np.argmax(np.where(live, K / bound, -np.inf)))
                    notes.append(f"beta={beta:g} A={A} seed {s}: KL_{kk} = {K[kk]:.3e} > bound "
                                 f"{bound[kk]:.3e} (ratio {ratio:.4g})")
                above = np.isfinite(K) & (K >= KL_FLOOR)
                # window: the leading run of iterates above the floor
                end = int(np.argmin(above)) if not above.all() else len(K)
                if end < 3:
                    end = 3
                with np.errstate(divide="ignore"):
                    slope = float(np.polyfit(N[:end], np.log(np.maximum(K[:end], 1e-300)),
                                             1)[0])
                if not np.isfinite(slope):
                    slope = np.inf
                slopes.append(slope)
                worst_ratio = min(worst_ratio, slope / s_stated)
                if s == 0:
                    curves.append((beta, A, N, K))
            sl = np.array(slopes)
            mean = float(np.mean(sl))
            half = (float(stats.t.ppf(0.975, len(sl) - 1) * np.std(sl, ddof=1) / np.sqrt(len(sl)))
                    if len(sl) > 1 and np.all(np.isfinite(sl)) else np.nan)
            key = f"beta={beta:g},A={A}"
            measured[f"slope_per_query[{key}]"] = mean
            measured[f"slope_ci95_low[{key}]"] = mean - half
            measured[f"slope_ci95_high[{key}]"] = mean + half
            measured[f"slope_max_over_seeds[{key}]"] = float(np.max(sl))
            stated[f"slope_per_query[{key}]"] = f"<= {s_stated:.6g}"
            stated[f"slope_max_over_seeds[{key}]"] = f"<= {s_stated:.6g}"
            if not np.max(sl) <= s_stated:
                ok = False
                notes.append(f"{key}: fitted slope {np.max(sl):.4g} per query > stated "
                             f"{s_stated:.4g}")
            notes.append(f"{key}: slope per query {mean:.4f} (95% CI [{mean - half:.4f}, "
                         f"{mean + half:.4f}], range [{sl.min():.4f}, {sl.max():.4f}]), "
                         f"stated <= {s_stated:.4f}")
    measured = {"worst_slope_over_stated": worst_ratio, "worst_bound_ratio": worst_bound,
                **measured}
    stated = {"worst_slope_over_stated": ">= 1", "worst_bound_ratio": f"<= 1 + {BOUND_RTOL:g}",
              **stated}
    figures = (_figure(out_dir, curves, betas),) if plot else ()
    return Report(claim_id="games.mirror-prox-nlhf", verdict="pass" if ok else "fail",
                  measured=measured, stated=stated, details="\n".join(notes), figures=figures,
                  n_instances=n_inst)


NASH_MIRROR_PROX = register(Claim(
    id="games.mirror-prox-nlhf",
    paper=TIAPKIN,
    statement=(
        "Tiapkin et al. 2025 (arXiv:2505.19731v1), main theorem on exact Nash-MP: on the "
        "beta-regularized preference game, with eta = 2 and pi_0 = pi_ref, the last iterate "
        "satisfies KL(pi*_beta || pi_k) <= (1+2 beta)^(-N/2) KL(pi*_beta || pi_0) after N = 2k "
        "preference queries, independently of the number of actions (log KL vs N slope at "
        "most -1/2 log(1+2 beta))."),
    kind="rate",
    instances=("seeded random preference matrices P_ij ~ U[0,1] (i<j), random full-support "
               "pi_ref; A in {3,30,300} (quick) / {3,10,100,1000}; beta in {0.1,1} (quick) / "
               "{0.05,0.2,1}; 4 / 8 seeds; reference equilibrium by Newton, residual 1e-12"),
    check=check_nash_mirror_prox,
))
