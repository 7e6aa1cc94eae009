r"""``dp.soft-policy-iteration``: soft policy iteration converges to the soft-optimal policy
(Haarnoja, Zhou, Abbeel, Levine, ICML 2018, Lemmas 1-2, Thm. 1), and the temperature,
treated as the dual variable of an expected-entropy constraint, is driven to the value at
which the constraint is met (Haarnoja et al., "Soft Actor-Critic Algorithms and
Applications", arXiv 1812.05905, 2018, Sec. 5, eqs. 17-18).

The check has four parts, every one on seeded random MDPs (:mod:`proofs_check._instances`;
dense and CSR, :math:`\gamma` up to 0.99 in quick mode and 0.999 in full mode, rewards over
three orders of magnitude, temperatures :math:`\alpha \in \{0.01, 0.3, 3\}\cdot\|r\|_\infty`):

1. **Fixed point.** Soft PI's fixed point equals soft VI's:
   :math:`\|v_{PI} - v_{VI}\|_\infty \le e_{PI} + e_{VI} + 4u\,\mathrm{scale}`, with
   :math:`e` the certified error bounds the solvers return (both the recorded trace of
   :func:`tabular_rl.planning.sac.soft_policy_iteration_trace` and
   :func:`tabular_rl.planning.soft_policy_iteration` are compared with
   :func:`tabular_rl.planning.soft_value_iteration`).
2. **Monotone improvement (Lemma 2).** :math:`Q^{\pi_{k+1}}(s,a) \ge Q^{\pi_k}(s,a) -
   \mathrm{tol}_Q` at every step, every pair; and (Thm. 1) :math:`Q^{\pi_K} \ge Q^{\pi}
   - \mathrm{tol}_Q` for random policies :math:`\pi`. :math:`\mathrm{tol}_Q = 8(S+4)
   \varepsilon(1-\gamma)^{-2}\,\mathrm{scale}` is the forward error of the two LU solves
   (as in :mod:`proofs_check.claims.foundation`), scale :math:`= (\|r\|_\infty + \alpha\log
   A)/(1-\gamma)`.
3. **Dual temperature.** :func:`~tabular_rl.planning.sac.dual_temperature_adjustment`
   (exact inner soft PI, the paper's update :math:`\alpha \leftarrow \max(0, \alpha -
   \eta(\mathcal H - \bar{\mathcal H}))`) started at :math:`\alpha_0 = 2\alpha^*`, with
   :math:`\alpha^*` the bisection solution
   (:func:`~tabular_rl.planning.sac.constrained_entropy_solution`). The dual
   :math:`g(\alpha)` is convex with :math:`g' \propto \mathcal H(\alpha) - \bar{\mathcal
   H}`; with :math:`L = \max \mathcal H'` and :math:`\kappa = L/\min\mathcal H'` on
   :math:`[\alpha^*, 2\alpha^*]` (central differences on 9 points) and step
   :math:`\eta = 1/(2L)`, the 1-d projected gradient iteration contracts monotonically,
   :math:`|\alpha_{k+1} - \alpha^*| \le (1 - 1/(2\kappa))|\alpha_k - \alpha^*|`, so
   :math:`K = \lceil 2\kappa\ln(\log A/10^{-8})\rceil + 20` steps suffice to reach
   :math:`|\mathcal H_K - \bar{\mathcal H}| \le 10^{-8}` nats (its stopping rule), which
   the check requires, together with
   :math:`|\alpha_K - \alpha^*| \le (|\mathcal H_K - \bar{\mathcal H}| +
   |\mathcal H(\alpha^*) - \bar{\mathcal H}| + 10^{-10})/\min\mathcal H'`.
   Targets :math:`\bar{\mathcal H} \in \{0.3, 0.7\}\log A`; runs with
   :math:`\kappa > 50` (entropy curve exponentially flat at :math:`\alpha^*`, where a fixed
   step is hopeless) or an inactive constraint (:math:`\alpha^* = 0`) are skipped and
   counted. The paper uses a fixed learning rate; choosing it from :math:`L` is what makes
   the rate comparable across instances.
4. **Monotonicity of** :math:`\mathcal H(\alpha)`, which bisection relies on (proof in
   :mod:`tabular_rl.planning.sac`): on a log grid of 25 temperatures the occupancy-weighted
   entropy of :math:`\pi^*_\alpha` must not decrease by more than :math:`10^{-9}` nats.

A broken improvement step (``softmax(-Q/alpha)``) fails parts 1-2; a temperature update
with the wrong sign fails part 3.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Iterable

import numpy as np

from tabular_rl import FiniteMDP, Shannon
from tabular_rl.planning import soft_policy_iteration, soft_value_iteration
from tabular_rl.planning.sac import (
    constrained_entropy_solution,
    dual_temperature_adjustment,
    expected_entropy,
    soft_optimal_policy,
    soft_policy_iteration_trace,
    soft_q_function,
)

from .._instances import random_mdp, random_policy, rng_for
from ..registry import Claim, Paper, Report, register

__all__ = ["SOFT_POLICY_ITERATION", "check_soft_policy_iteration"]

_EPS = float(np.finfo(np.float64).eps)
_U = _EPS / 2

SAC_2018 = Paper(title=("Soft Actor-Critic: Off-Policy Maximum Entropy Deep Reinforcement "
                        "Learning with a Stochastic Actor"),
                 authors="T. Haarnoja, A. Zhou, P. Abbeel, S. Levine", venue="ICML", year=2018)

#: Stopping tolerance (nats) of the dual iteration, and the cap on dual steps.
DUAL_TOL = 1e-8
#: Dual runs whose entropy curve is worse conditioned than this on [a*, 2a*] are skipped.
MAX_KAPPA = 50.0
#: Certified relative tolerance of the soft solvers.
SOLVER_RTOL = 1e-9


class _Worst:
    def __init__(self):
        self.value, self.where = -np.inf, "-"

    def add(self, x: float, where: str) -> None:
        if x > self.value or not np.isfinite(x):
            self.value, self.where = float(x), where

    def __float__(self) -> float:
        return self.value


def _given(instances, seed: int):
    for i, mdp in enumerate(instances):
        yield mdp, rng_for(seed + 7_919, i), (f"given #{i} S={mdp.S} A={mdp.A} "
                                              f"gamma={mdp.gamma:g}")


def _instances(seed: int, n: int, quick: bool):
    gammas = (0.3, 0.5, 0.9, 0.99) if quick else (0.3, 0.5, 0.9, 0.99, 0.999)
    sizes = (1, 2, 3, 5, 8, 13, 20) if quick else (1, 2, 3, 5, 8, 13, 20, 40, 80)
    for i in range(n):
        rng = rng_for(seed + 7_919, i)
        g = gammas[i % len(gammas)]
        sparse = (i // len(gammas)) % 2 == 1
        S = int(rng.choice(sizes))
        A = int(rng.integers(1, 6))
        mdp = random_mdp(rng, S, A, g, sparse=sparse)
        yield mdp, rng, f"#{i} S={S} A={A} gamma={g:g} {'csr' if sparse else 'dense'}"


def _scale(mdp, alpha: float) -> float:
    R = float(np.abs(mdp.r).max()) + alpha * float(np.log(mdp.A))
    return (R if R > 0 else 1.0) / (1.0 - mdp.gamma)


def _rmax(mdp) -> float:
    R = float(np.abs(mdp.r).max())
    return R if R > 0 else 1.0


def _default_vi(mdp, reg, tol):
    return soft_value_iteration(mdp, reg, tol=tol, max_iter=2_000_000)


def _default_pi(mdp, reg, tol):
    return soft_policy_iteration(mdp, reg, tol=tol)


def _entropy_at(mdp, alpha: float) -> float:
    return expected_entropy(mdp, soft_optimal_policy(mdp, alpha).policy)


def check_soft_policy_iteration(quick: bool = False, *, seed: int = 0,
                                out_dir="paper_figures", improve: Callable | None = None,
                                vi_solver: Callable | None = None,
                                pi_solver: Callable | None = None,
                                dual_update: Callable | None = None,
                                instances: Iterable[FiniteMDP] | None = None) -> Report:
    r"""Check soft policy iteration (Haarnoja et al. 2018, Lemma 2, Thm. 1) and the dual
    temperature adjustment (Haarnoja et al. 2018b, Sec. 5, eqs. 17-18).

    Statement. Lemma 2 (soft policy improvement): with
    :math:`\pi_{\text{new}} = \arg\min_{\pi'}\mathrm{KL}(\pi'(\cdot|s)\,\|\,
    \exp(Q^{\pi_{\text{old}}}(s,\cdot))/Z^{\pi_{\text{old}}}(s))`,
    :math:`Q^{\pi_{\text{new}}}(s,a) \ge Q^{\pi_{\text{old}}}(s,a)` for all :math:`(s,a)`.
    Thm. 1 (soft policy iteration): repeated soft evaluation and improvement from any
    :math:`\pi` converges to :math:`\pi^*` with :math:`Q^{\pi^*}(s,a) \ge Q^\pi(s,a)` for all
    :math:`\pi` and :math:`(s,a)`. Sec. 5: the temperature minimizing
    :math:`\mathbb E[-\alpha\log\pi^*(a|s;\alpha) - \alpha\bar{\mathcal H}]` makes the
    expected entropy meet the target.

    Parameters
    ----------
    quick : bool
        10 instances (:math:`S \le 20`, :math:`\gamma \le 0.99`), 2 dual instances; full:
        25 instances (:math:`S \le 80`, :math:`\gamma \le 0.999`), 6 dual instances.
    seed : int
    out_dir : str or path
        Where the figure ``dp.soft-policy-iteration.png`` goes (``None``: no figure).
    improve : callable, optional
        ``improve(q, alpha) -> pi``, the improvement step of the recorded soft PI.
    vi_solver, pi_solver : callable, optional
        ``solver(mdp, reg, tol) -> Solution``; defaults soft VI and soft PI of
        :mod:`tabular_rl.planning.soft_dp`.
    dual_update : callable, optional
        ``update(alpha, entropy, target, step_size) -> alpha`` for the dual iteration.
    instances : iterable of FiniteMDP, optional
        Run on these models instead of the seeded ones (e.g. drawn by hypothesis).

    Returns
    -------
    Report
        ``max_fixed_point_gap_over_bound`` (:math:`\le 1`), ``max_improvement_violation_over_tol``
        (:math:`\le 1`; the largest decrease :math:`Q^{\pi_k} - Q^{\pi_{k+1}}` over
        :math:`\mathrm{tol}_Q`), ``max_optimality_violation_over_tol`` (:math:`\le 1`),
        ``max_final_entropy_gap`` (:math:`\le 10^{-8}` nats), ``n_dual_skipped_ill_conditioned``,
        ``max_alpha_error_over_tol`` (:math:`\le 1`), ``max_entropy_decrease_in_alpha``
        (:math:`\le 10^{-9}`), ``fraction_converged`` (1).
    """
    improve_given = improve is not None
    vi_solver = vi_solver or _default_vi
    pi_solver = pi_solver or _default_pi
    n_inst, n_dual = (10, 2) if quick else (25, 6)
    fp_gap, impr, opt, ent_dec = _Worst(), _Worst(), _Worst(), _Worst()
    dual_gap, alpha_err = _Worst(), _Worst()
    n_runs = n_conv = 0
    n_seen = n_skipped = 0
    dual_runs = []
    mono_curves = []
    source = (_instances(seed, n_inst, quick) if instances is None
              else _given(instances, seed))
    for idx, (mdp, rng, label) in enumerate(source):
        n_seen += 1
        S, A, g = mdp.S, mdp.A, mdp.gamma
        for arel in (0.01, 0.3, 3.0):
            alpha = arel * _rmax(mdp)
            where = f"{label} alpha={alpha:.3g}"
            scale = _scale(mdp, alpha)
            tol = SOLVER_RTOL * scale
            tol_q = 8 * (S + 4) * _EPS / (1 - g) ** 2 * scale
            n_runs += 1
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                tr = soft_policy_iteration_trace(mdp, alpha, tol=tol, max_iter=200,
                                                 improve=improve)
                vi = vi_solver(mdp, Shannon(alpha), tol)
                pi_sol = pi_solver(mdp, Shannon(alpha), tol)
            ok_conv = tr.converged and vi.converged and pi_sol.converged and not caught
            n_conv += ok_conv
            rnd = 4 * _U * scale
            for name, sol_v, eb in (("trace", tr.v[-1], tr.error_bound),
                                    ("soft_policy_iteration", pi_sol.v, pi_sol.error_bound)):
                gap = float(np.abs(np.asarray(sol_v) - np.asarray(vi.v)).max())
                bound = eb + vi.error_bound + rnd
                fp_gap.add(gap / bound if np.isfinite(bound) else np.inf, f"{where} ({name})")
            dq = tr.q[:-1] - tr.q[1:]           # Q^{pi_k} - Q^{pi_{k+1}}, should be <= 0
            worst_dec = float(dq.max()) if dq.size else 0.0
            impr.add(worst_dec / tol_q, where)
            q_final = tr.q[-1]
            for kind in ("dirichlet", "peaked", "deterministic"):
                q_pi = soft_q_function(mdp, random_policy(rng, S, A, kind), alpha)
                opt.add(float((q_pi - q_final).max()) / tol_q, f"{where} vs {kind} policy")
        # part 4: H(alpha) nondecreasing
        if idx < (3 if quick else 8) and A > 1:
            grid = np.logspace(-2.5, 1.5, 25) * _rmax(mdp)
            H = np.array([_entropy_at(mdp, a) for a in grid])
            ent_dec.add(float(np.max(H[:-1] - H[1:])), label)
            mono_curves.append((label, grid / _rmax(mdp), H / np.log(A)))
        # part 3: dual temperature
        if len(dual_runs) < 2 * n_dual and A > 1:
            for frac in (0.3, 0.7):
                target = frac * float(np.log(A))
                cs = constrained_entropy_solution(mdp, target)
                if cs.alpha == 0.0:
                    continue  # constraint inactive: nothing for the dual to do
                a_star = cs.alpha
                # H' on [a*, 2 a*] by central differences: L (smoothness of the dual) and
                # kappa = L / min H' (its condition number there).
                grid = a_star * np.linspace(1.0, 2.0, 9)
                h = 1e-4 * a_star
                dH = np.array([(_entropy_at(mdp, a + h) - _entropy_at(mdp, a - h)) / (2 * h)
                               for a in grid])
                L, lo = float(dH.max()), float(dH.min())
                w = f"{label} target={frac}logA"
                if not lo > 0 or L / lo > MAX_KAPPA:
                    n_skipped += 1
                    continue
                kappa = L / lo
                n_steps = int(np.ceil(2 * kappa * np.log(np.log(A) / DUAL_TOL))) + 20
                with warnings.catch_warnings(record=True):
                    warnings.simplefilter("always")
                    res = dual_temperature_adjustment(
                        mdp, target, alpha0=2 * a_star, step_size=0.5 / L,
                        max_iter=n_steps, tol=DUAL_TOL, update=dual_update)
                n_runs += 1
                n_conv += res.converged
                dual_gap.add(res.entropy_gap, w)
                tol_a = (res.entropy_gap + abs(cs.entropy - target) + 1e-10) / lo
                alpha_err.add(abs(res.alpha - a_star) / tol_a, w)
                dual_runs.append((w, res, a_star))
    if n_seen == 0:
        return Report("dp.soft-policy-iteration", "error", details="no instances")
    if not dual_runs:  # e.g. hypothesis drew only one-action models: nothing to adjust
        dual_gap.add(0.0, "-")
        alpha_err.add(0.0, "-")
    frac_conv = n_conv / n_runs
    measured = {
        "max_fixed_point_gap_over_bound": float(fp_gap),
        "max_improvement_violation_over_tol": float(impr),
        "max_optimality_violation_over_tol": float(opt),
        "max_final_entropy_gap": float(dual_gap),
        "max_alpha_error_over_tol": float(alpha_err),
        "max_entropy_decrease_in_alpha": float(ent_dec) if mono_curves else 0.0,
        "fraction_converged": frac_conv,
        "n_dual_runs": float(len(dual_runs)),
        "n_dual_skipped_ill_conditioned": float(n_skipped),
    }
    stated = {
        "max_fixed_point_gap_over_bound": 1.0,
        "max_improvement_violation_over_tol": 1.0,
        "max_optimality_violation_over_tol": 1.0,
        "max_final_entropy_gap": DUAL_TOL,
        "max_alpha_error_over_tol": 1.0,
        "max_entropy_decrease_in_alpha": 1e-9,
        "fraction_converged": 1.0,
    }
    ok = (measured["max_fixed_point_gap_over_bound"] <= 1.0
          and measured["max_improvement_violation_over_tol"] <= 1.0
          and measured["max_optimality_violation_over_tol"] <= 1.0
          and measured["max_final_entropy_gap"] <= DUAL_TOL
          and measured["max_alpha_error_over_tol"] <= 1.0
          and measured["max_entropy_decrease_in_alpha"] <= 1e-9
          and frac_conv == 1.0 and (len(dual_runs) > 0 or instances is not None))
    figures = ()
    if out_dir is not None and dual_runs:
        figures = (_plot(out_dir, dual_runs, mono_curves),)
    details = (
        f"{n_seen} instances x 3 temperatures; {len(dual_runs)} dual runs "
        f"({n_skipped} skipped: kappa = max H'/min H' on [a*, 2a*] > {MAX_KAPPA:g}). "
        f"Fixed point: |v_PI - v_VI| <= e_PI + e_VI + 4u scale (worst {float(fp_gap):.3g} at "
        f"{fp_gap.where}). Lemma 2: largest decrease of Q^(pi_k) along the trace over "
        f"tol_Q = 8(S+4)eps/(1-gamma)^2 scale: {float(impr):.3g} at {impr.where}"
        f"{' (injected improvement step)' if improve_given else ''}. Thm 1: Q^(pi_K) >= Q^pi "
        f"for random pi, worst {float(opt):.3g} at {opt.where}. Dual: final |H - target| "
        f"{float(dual_gap):.3g} nats at {dual_gap.where}; |alpha_K - alpha*| / tol_alpha "
        f"{float(alpha_err):.3g} at {alpha_err.where} (alpha* by bisection). Entropy of "
        f"pi*_alpha along a 25-point log grid never decreases by more than "
        f"{measured['max_entropy_decrease_in_alpha']:.3g} nats. {n_conv}/{n_runs} runs "
        f"converged without warnings.")
    return Report(claim_id="dp.soft-policy-iteration", verdict="pass" if ok else "fail",
                  measured=measured, stated=stated, details=details, figures=figures,
                  n_instances=n_seen)


def _plot(out_dir, dual_runs, mono_curves) -> str:

    from tabular_rl.plotting import agg_subplots

    os.makedirs(out_dir, exist_ok=True)
    fig, axes = agg_subplots(1, 3, figsize=(15, 4.3))
    w, res, a_star = dual_runs[0]
    k = np.arange(len(res.alphas))
    ax = axes[0]
    ax.plot(k, res.entropies, "o-", ms=3, label=r"$\mathcal{H}(\pi_k)$ (occupancy-weighted)")
    ax.axhline(res.target, color="k", ls="--", label=r"target $\bar{\mathcal{H}}$")
    ax.set_xlabel("dual iteration k")
    ax.set_ylabel("expected entropy [nats]", color="C0")
    ax2 = ax.twinx()
    ax2.plot(k, res.alphas, "s-", ms=3, color="C3", label=r"$\alpha_k$")
    ax2.axhline(a_star, color="C3", ls=":", label=r"$\alpha^*$ (bisection)")
    ax2.set_ylabel(r"temperature $\alpha_k$", color="C3")
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = ax2.get_legend_handles_labels()
    ax.legend(h1 + h2, l1 + l2, fontsize=8, loc="center right")
    ax.set_title(f"dual iterates, {w.split(' target')[0]}", fontsize=9)
    ax = axes[1]
    for w, res, a_star in dual_runs:
        gap = np.abs(res.entropies - res.target)
        ax.semilogy(np.arange(len(gap)), np.maximum(gap, 1e-17), ".-", ms=3,
                    label=w.replace(" dense", "").replace(" csr", "").replace("gamma", "g"))
    ax.axhline(DUAL_TOL, color="k", ls="--", label=f"tol {DUAL_TOL:g}")
    ax.set_xlabel("dual iteration k")
    ax.set_ylabel(r"$|\mathcal{H}(\pi_k) - \bar{\mathcal{H}}|$ [nats]")
    ax.set_title("entropy gap, all dual runs", fontsize=9)
    ax.legend(fontsize=6)
    ax = axes[2]
    for label, a, Hn in mono_curves:
        ax.semilogx(a, Hn, ".-", ms=3, label=label.split(" csr")[0].split(" dense")[0])
    ax.set_xlabel(r"$\alpha / \|r\|_\infty$")
    ax.set_ylabel(r"$\mathcal{H}(\pi^*_\alpha) / \log A$")
    ax.set_title(r"entropy of $\pi^*_\alpha$ is nondecreasing in $\alpha$", fontsize=9)
    ax.legend(fontsize=6)
    fig.suptitle("dp.soft-policy-iteration: dual temperature adjustment "
                 "(Haarnoja et al. 2018, arXiv 1812.05905 Sec. 5)")
    fig.tight_layout()
    path = os.path.join(str(out_dir), "dp.soft-policy-iteration.png")
    fig.savefig(path, dpi=110)
    return path


SOFT_POLICY_ITERATION = register(Claim(
    id="dp.soft-policy-iteration",
    paper=SAC_2018,
    statement=("Haarnoja et al. 2018 (ICML), Lemma 2: pi_new = argmin KL(pi' || "
               "exp(Q^{pi_old}/alpha)/Z) satisfies Q^{pi_new}(s,a) >= Q^{pi_old}(s,a) for all "
               "(s,a); Thm. 1: soft policy iteration converges to pi* with Q^{pi*} >= Q^pi for "
               "every pi (so its fixed point is the soft VI fixed point). Haarnoja et al. "
               "2018 (arXiv 1812.05905), Sec. 5, eqs. 17-18: treating alpha as the dual "
               "variable of E[H(pi)] >= H_bar, alpha <- alpha - eta (H(pi) - H_bar) drives the "
               "expected entropy to the target (tabular analogue: occupancy-weighted entropy)."),
    kind="identity",
    instances=("random MDPs, dense and CSR, S in 1..80, A in 1..5, gamma in {0.3,...,0.999}; "
               "alpha in {0.01, 0.3, 3}||r||; random policies; targets {0.3, 0.7} log A"),
    check=check_soft_policy_iteration,
))
