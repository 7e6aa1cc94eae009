r"""Foundation claims: four textbook facts every other check in the catalog leans on.

1. ``foundation.bellman-contraction`` — :math:`T` and :math:`T_\pi` are
   :math:`\gamma`-contractions in the sup norm (Puterman 1994, Prop. 6.2.4).
2. ``foundation.performance-difference`` — the performance-difference lemma (Kakade and
   Langford 2002, Lemma 6.1), discounted and finite-horizon.
3. ``foundation.vi-certified-bound`` — value iteration's certified error bounds (MacQueen
   1966; Puterman 1994, §6.6.3) hold against an independent exact solution.
4. ``foundation.dual-lp-occupancy`` — the dual LP's optimum is :math:`\mu^\top v^*` and its
   solution is the occupancy measure of an optimal policy (Puterman 1994, Thm. 6.9.1).

Every check runs on seeded random instances (:mod:`proofs_check._instances`): dense and CSR
kernels, :math:`S` from 1 to 250, :math:`\gamma \in \{0.3, 0.5, 0.9, 0.99, 0.999, 0.9999\}`,
rewards over three orders of magnitude, absorbing states and one-hot rows. Every check
takes the operator or solver it tests as a keyword argument, so a test can hand it a
deliberately broken one and watch the verdict turn to ``"fail"``.

Tolerances are tied to floating point: :math:`u = \varepsilon/2` is the unit roundoff,
:math:`n` the number of nonzeros of a kernel row; a computed sweep at :math:`v` is off by at
most :math:`(n + A + 6)\,u\,(\|r\|_\infty + \gamma\|v\|_\infty)` per entry (the standard
inner-product error bound, N. J. Higham, *Accuracy and Stability of Numerical Algorithms*,
2nd ed., SIAM 2002, §3.1, for length :math:`n` and nonnegative weights summing to one).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from tabular_rl import EpisodicMDP, FiniteMDP

from .._instances import Instance, discounted_instances, episodic_instances, random_policy
from ..registry import Claim, Paper, Report, register

__all__ = [
    "CONTRACTION",
    "DUAL_LP",
    "PERFORMANCE_DIFFERENCE",
    "VI_CERTIFIED_BOUND",
    "check_contraction",
    "check_dual_lp_occupancy",
    "check_performance_difference",
    "check_vi_certified_bound",
]

_EPS = float(np.finfo(np.float64).eps)
_U = _EPS / 2

PUTERMAN = Paper(title="Markov Decision Processes: Discrete Stochastic Dynamic Programming",
                 authors="M. L. Puterman", venue="Wiley", year=1994)
KAKADE_LANGFORD = Paper(title="Approximately Optimal Approximate Reinforcement Learning",
                        authors="S. Kakade and J. Langford", venue="ICML", year=2002)


# ----------------------------------------------------------------------------- helpers


@dataclass
class _Worst:
    """Running maximum of a figure, remembering the instance it came from."""

    value: float = -np.inf
    where: str = "-"

    def add(self, x: float, where: str) -> None:
        if x > self.value or not np.isfinite(x):
            self.value, self.where = float(x), where

    def __float__(self) -> float:
        return self.value


class _Counted:
    """Iterate the caller's instances of one model type (e.g. drawn by hypothesis), or the
    seeded catalog instances ``default`` when the caller gave none, counting them."""

    def __init__(self, instances: Iterable[Instance] | None, kind: type,
                 default: Iterable[Instance]):
        self._items = default if instances is None else [
            inst for inst in instances if isinstance(inst.mdp, kind)]
        self.n = 0

    def __iter__(self):
        for inst in self._items:
            self.n += 1
            yield inst


def _no_instances(claim_id: str, *counted: _Counted) -> Report | None:
    """An ``error`` report when a check ran on no instance at all (it must not pass)."""
    if sum(c.n for c in counted) == 0:
        return Report(claim_id=claim_id, verdict="error", measured={}, stated={},
                      details="no instance of the model type this check needs was given",
                      n_instances=0)
    return None


def _verdict(ok: bool) -> str:
    return "pass" if ok else "fail"


def _row_nnz(mdp) -> int:
    """Most nonzeros in one kernel row (``S`` for a dense kernel)."""
    if mdp.is_sparse:
        return int(np.diff(mdp.P.indptr).max(initial=0))
    return mdp.S


def _sweep_error(mdp, v: np.ndarray) -> float:
    r"""Worst-case rounding error of one computed Bellman sweep at ``v`` (per entry)."""
    n = _row_nnz(mdp) + mdp.A + 6
    return n * _U * (float(np.abs(mdp.r).max()) + mdp.gamma * float(np.abs(v).max()))


def _value_scale(mdp) -> float:
    """:math:`\\|r\\|_\\infty/(1-\\gamma)`, the size of any value function (1 if r = 0)."""
    R = float(np.abs(mdp.r).max())
    return (R if R > 0 else 1.0) / (1.0 - mdp.gamma)


def _optimality(mdp, v: np.ndarray) -> np.ndarray:
    from tabular_rl import bellman_optimality

    return bellman_optimality(mdp, v)[0]


def _policy_op(mdp, pi: np.ndarray, v: np.ndarray) -> np.ndarray:
    from tabular_rl import bellman_policy

    return bellman_policy(mdp, pi, v)


# ----------------------------------------------------------- 1. Bellman contraction


def _pairs(rng: np.random.Generator, S: int, scale: float, n_random: int):
    """Pairs ``(u, v)`` that probe the contraction: random, shifted, one-state, nearby."""
    for _ in range(n_random):
        yield "random", rng.normal(0, scale, S), rng.normal(0, scale, S)
    u = rng.normal(0, scale, S)
    # v = u + c·1 attains the bound: T(u + c) = Tu + γc for every T here.
    yield "shift", u, u + rng.uniform(-2, 2) * scale
    w = u.copy()
    w[rng.integers(S)] += rng.normal(0, scale)
    yield "one-state", u, w
    yield "nearby", u, u + rng.normal(0, 1e-7 * scale, S)
    yield "large", 1e3 * u, 1e3 * rng.normal(0, scale, S)


def check_contraction(quick: bool = False, *, seed: int = 0,
                      instances: Iterable[Instance] | None = None,
                      optimality_operator: Callable | None = None,
                      policy_operator: Callable | None = None) -> Report:
    r"""Check :math:`\|Tu - Tv\|_\infty \le \gamma\|u - v\|_\infty` for :math:`T` and :math:`T_\pi`.

    Statement (Puterman 1994, Prop. 6.2.4; with Banach's fixed-point theorem, Thm. 6.2.3):
    for :math:`0 \le \gamma < 1` the optimality operator
    :math:`(Tv)(s) = \max_a r(s,a) + \gamma P(\cdot\mid s,a)^\top v` and every policy
    operator :math:`T_\pi v = r_\pi + \gamma P_\pi v` are :math:`\gamma`-contractions on
    :math:`(\mathbb R^S, \|\cdot\|_\infty)`.

    Parameters
    ----------
    quick : bool
        12 instances with :math:`S \le 40` instead of 48 with :math:`S \le 250`.
    seed : int
        Fixes every instance, pair and policy.
    optimality_operator : callable, optional
        ``op(mdp, v) -> (S,)`` (a ``(Tv, actions)`` tuple is accepted too). Default:
        :func:`tabular_rl.bellman_optimality`.
    policy_operator : callable, optional
        ``op(mdp, pi, v) -> (S,)``. Default: :func:`tabular_rl.bellman_policy`.

    Returns
    -------
    Report
        ``max_ratio`` is :math:`\max \|Tu - Tv\| / (\gamma\|u - v\|)` over all pairs
        (stated: 1, attained by :math:`v = u + c\mathbf 1`); ``max_excess_over_fp_slack``
        is :math:`\max (\|Tu - Tv\| - \gamma\|u - v\|)/\mathrm{slack}`, which must be
        :math:`\le 1`.

    Notes
    -----
    The verdict allows the computed norms to exceed :math:`\gamma\|u-v\|` by
    :math:`\mathrm{slack} = 2\,(e(u) + e(v)) + 4u\,(\|Tu-Tv\| + \gamma\|u-v\|)`, where
    :math:`e(w) = (n + A + 6)\,u\,(\|r\| + \gamma\|w\|)` bounds the rounding error of one
    computed sweep at :math:`w` (module docstring); the factor 2 covers the rows of
    :math:`P` summing to 1 only to within :math:`n u`. Pairs: independent random vectors,
    a constant shift (where the bound is attained), a single-state change, a
    :math:`10^{-7}`-relative perturbation (where rounding dominates) and vectors
    :math:`10^3` times the value scale.
    """
    T = optimality_operator or _optimality
    Tpi = policy_operator or _policy_op
    n_inst, max_states, n_random = (12, 40, 2) if quick else (48, 250, 4)
    ratio = {"T": _Worst(), "T_pi": _Worst()}
    excess = _Worst()
    n_pairs = 0
    _seen = _Counted(instances, FiniteMDP, discounted_instances(
        seed, n_inst, max_states=max_states))
    for inst in _seen:
        mdp, rng = inst.mdp, inst.rng
        for kind, u, v in _pairs(rng, mdp.S, _value_scale(mdp), n_random):
            pi = random_policy(rng, mdp.S, mdp.A,
                               ["dirichlet", "peaked", "deterministic"][n_pairs % 3])
            for name in ("T", "T_pi"):
                if name == "T":
                    Tu, Tv = T(mdp, u), T(mdp, v)
                    if isinstance(Tu, tuple):  # bellman_optimality returns (Tv, actions)
                        Tu, Tv = Tu[0], Tv[0]
                else:
                    Tu, Tv = Tpi(mdp, pi, u), Tpi(mdp, pi, v)
                lhs = float(np.abs(np.asarray(Tu) - np.asarray(Tv)).max())
                rhs = mdp.gamma * float(np.abs(u - v).max())
                slack = 2 * (_sweep_error(mdp, u) + _sweep_error(mdp, v)) + 4 * _U * (lhs + rhs)
                slack = max(slack, np.finfo(np.float64).tiny)  # u = v = 0 with r = 0
                where = f"{inst.label}, {name}, {kind} pair"
                if rhs > 0:
                    ratio[name].add(lhs / rhs, where)
                excess.add((lhs - rhs) / slack, where)
                n_pairs += 1
    empty = _no_instances("foundation.bellman-contraction", _seen)
    if empty is not None:
        return empty
    worst = max(ratio.values(), key=float)
    ok = float(excess) <= 1.0
    details = (f"{n_pairs} (instance, pair, operator) triples. Verdict: ||Tu - Tv|| <= "
               f"gamma ||u - v|| + slack, slack = 2(e(u) + e(v)) + 4u(lhs + rhs) with "
               f"e(w) = (n + A + 6) u (||r|| + gamma ||w||), u = eps/2. Largest ratio at "
               f"{worst.where}; largest excess/slack = {float(excess):.3g} at {excess.where}. "
               f"Ratios a hair above 1 come from the nearby pairs, where rounding dominates; "
               f"the shift pairs attain ratio 1, so the constant gamma is sharp.")
    return Report(
        claim_id="foundation.bellman-contraction",
        verdict=_verdict(ok),
        measured={"max_ratio": float(worst), "max_ratio_T": float(ratio["T"]),
                  "max_ratio_T_pi": float(ratio["T_pi"]),
                  "max_excess_over_fp_slack": float(excess)},
        stated={"max_ratio": 1.0, "max_ratio_T": 1.0, "max_ratio_T_pi": 1.0,
                "max_excess_over_fp_slack": 1.0},
        details=details, n_instances=_seen.n)


CONTRACTION = register(Claim(
    id="foundation.bellman-contraction",
    paper=PUTERMAN,
    statement=("Puterman 1994, Prop. 6.2.4: for 0 <= gamma < 1 the Bellman optimality "
               "operator T and every policy operator T_pi are gamma-contractions in the sup "
               "norm, ||Tu - Tv||_inf <= gamma ||u - v||_inf (so, by Banach's fixed-point "
               "theorem, Thm. 6.2.3, each has a unique fixed point)."),
    kind="inequality",
    instances=("random MDPs, dense and CSR, S in 1..250, gamma in {0.3,...,0.9999}; "
               "random, shifted, one-state, nearby and large pairs (u, v); random policies"),
    check=check_contraction,
))


# ------------------------------------------------------- 2. performance difference


def check_performance_difference(quick: bool = False, *, seed: int = 0,
                                 instances: Iterable[Instance] | None = None,
                                 pdl: Callable | None = None) -> Report:
    r"""Check the performance-difference lemma, discounted and finite-horizon.

    Statement (Kakade and Langford 2002, Lemma 6.1): for any policies :math:`\pi, \pi'` and
    start distribution :math:`\mu`,

    .. math::

        v^{\pi'}(\mu) - v^{\pi}(\mu) = \frac{1}{1-\gamma}\,
        \mathbb E_{(s,a)\sim d^{\pi'}_\mu}\big[A^\pi(s,a)\big],

    with :math:`d^{\pi'}_\mu` the normalized discounted occupancy. The finite-horizon form,
    :math:`V_0^{\pi'}(\mu) - V_0^\pi(\mu) = \sum_{h<H}\mathbb E_{d^{\pi'}_h}[A^\pi_h]`, is
    the same telescoping argument (not stated in the paper; no theorem number to cite).

    Parameters
    ----------
    quick : bool
        12 discounted (:math:`S \le 40`) and 8 episodic instances instead of 36 and 24.
    seed : int
    pdl : callable, optional
        ``pdl(mdp, pi, pi_prime, mu=None)`` returning an object with ``lhs`` and ``rhs``;
        default :func:`tabular_rl.performance_difference`.

    Returns
    -------
    Report
        ``max_rel_residual`` :math:`=\max|\mathrm{lhs}-\mathrm{rhs}|/\mathrm{scale}` and
        ``max_residual_over_tol`` (must be :math:`\le 1`).

    Notes
    -----
    **Tolerance, discounted.** Scale :math:`= \|r\|_\infty/(1-\gamma)`. Both sides come
    from LU solves with :math:`M = I - \gamma P_\pi`: row diagonally dominant, so the
    growth factor is at most 2 and :math:`\kappa_\infty(M) \le (1+\gamma)/(1-\gamma)`;
    the forward error of :math:`v^\pi` is at most :math:`\approx 2 (S+4) u\,\kappa\,
    \|v\|` (Higham 2002, Ch. 9 for LU and the growth factor of diagonally dominant
    matrices, Ch. 7 for the forward error). The lhs inherits twice that; the rhs
    multiplies errors in :math:`A^\pi` (at most :math:`2\|\delta v\|`) and in :math:`d`
    (relative :math:`2(S+4)u\kappa`) by :math:`1/(1-\gamma)`. Altogether
    :math:`|\mathrm{lhs}-\mathrm{rhs}| \le 8\,(S+4)\,\varepsilon\,(1-\gamma)^{-2}\cdot
    \mathrm{scale}`: the tolerance. At :math:`\gamma = 0.9999, S = 250` it is
    :math:`4.5\cdot 10^{-5}` relative; measured residuals are far below it, while a wrong
    occupancy gives residuals of order :math:`10^{-2}` to 1.

    **Tolerance, finite horizon.** Scale :math:`= H\|r\|_\infty`. Backward induction adds
    :math:`(n+4)u\,(\|r\|+\|V_{h+1}\|)` per step and the forward occupancy recursion a
    relative :math:`n u` per step, giving :math:`8\,(S+4)\,\varepsilon\,H^2\cdot
    \mathrm{scale}`.

    Policy pairs per instance: (Dirichlet, peaked), (deterministic, Dirichlet), (Dirichlet,
    greedy improvement of it), each with ``mdp.mu`` and with a random ``mu``.
    """
    import tabular_rl as trl

    pdl = pdl or trl.performance_difference
    n_disc, max_s, n_epi, max_s_epi, max_h = (12, 40, 8, 16, 20) if quick else (36, 250, 24, 64,
                                                                                 50)
    rel = _Worst()
    over = _Worst()
    rel_epi = _Worst()
    gaps: list[float] = []
    n_cases = 0
    _seen = _Counted(instances, FiniteMDP, discounted_instances(
        seed, n_disc, max_states=max_s))
    for inst in _seen:
        mdp, rng = inst.mdp, inst.rng
        S, A, g = mdp.S, mdp.A, mdp.gamma
        scale = _value_scale(mdp)
        tol = 8 * (S + 4) * _EPS / (1 - g) ** 2
        base = random_policy(rng, S, A, "dirichlet")
        improved = trl.greedy_policy(trl.q_function(mdp, base))
        pairs = [(random_policy(rng, S, A, "dirichlet"), random_policy(rng, S, A, "peaked")),
                 (random_policy(rng, S, A, "deterministic"), random_policy(rng, S, A)),
                 (base, improved)]
        for k, (pi, pi_prime) in enumerate(pairs):
            for mu in (None, rng.dirichlet(np.ones(S))):
                res = pdl(mdp, pi, pi_prime, mu=mu)
                r = abs(res.lhs - res.rhs) / scale
                where = f"{inst.label}, pair {k}, mu={'mdp.mu' if mu is None else 'random'}"
                rel.add(r, where)
                over.add(r / tol, where)
                gaps.append(abs(res.lhs) / scale)
                n_cases += 1
    _seen_epi = _Counted(instances, EpisodicMDP, episodic_instances(
        seed, n_epi, max_states=max_s_epi, max_horizon=max_h))
    for inst in _seen_epi:
        mdp, rng = inst.mdp, inst.rng
        S, A, H = mdp.S, mdp.A, mdp.H
        R = float(np.abs(mdp.r).max())
        scale = H * (R if R > 0 else 1.0)
        tol = 8 * (S + 4) * _EPS * H ** 2
        pairs = [(random_policy(rng, S, A, H=H), random_policy(rng, S, A, "peaked", H=H)),
                 (random_policy(rng, S, A, "deterministic"), random_policy(rng, S, A, H=H))]
        for k, (pi, pi_prime) in enumerate(pairs):
            res = pdl(mdp, pi, pi_prime, mu=rng.dirichlet(np.ones(S)))
            r = abs(res.lhs - res.rhs) / scale
            where = f"episodic {inst.label}, pair {k}"
            rel_epi.add(r, where)
            over.add(r / tol, where)
            gaps.append(abs(res.lhs) / scale)
            n_cases += 1
    empty = _no_instances("foundation.performance-difference", _seen, _seen_epi)
    if empty is not None:
        return empty
    ok = float(over) <= 1.0
    worst = rel if float(rel) >= float(rel_epi) else rel_epi
    details = (f"{n_cases} (instance, policy pair, mu) cases. Tolerance per case: "
               f"8 (S+4) eps / (1-gamma)^2 relative to ||r||/(1-gamma) (discounted), "
               f"8 (S+4) eps H^2 relative to H ||r|| (episodic). Largest relative residual "
               f"{float(worst):.3g} at {worst.where}; largest residual/tolerance "
               f"{float(over):.3g} at {over.where}. Median |lhs|/scale = "
               f"{float(np.median(gaps)):.3g} (the identity is not vacuous).")
    return Report(
        claim_id="foundation.performance-difference",
        verdict=_verdict(ok),
        measured={"max_rel_residual": float(rel), "max_rel_residual_episodic": float(rel_epi),
                  "max_residual_over_tol": float(over),
                  "median_rel_value_gap": float(np.median(gaps))},
        stated={"max_rel_residual": 0.0, "max_rel_residual_episodic": 0.0,
                "max_residual_over_tol": 1.0},
        details=details, n_instances=_seen.n + _seen_epi.n)


PERFORMANCE_DIFFERENCE = register(Claim(
    id="foundation.performance-difference",
    paper=KAKADE_LANGFORD,
    statement=("Kakade & Langford 2002, Lemma 6.1: for any policies pi, pi' and start "
               "distribution mu, eta_mu(pi') - eta_mu(pi) = 1/(1-gamma) "
               "E_{(s,a) ~ d^{pi'}_mu}[A^pi(s,a)], d the normalized discounted occupancy; "
               "finite-horizon analogue V_0^{pi'}(mu) - V_0^pi(mu) = "
               "sum_h E_{d_h^{pi'}}[A_h^pi(s,a)] (same telescoping proof)."),
    kind="identity",
    instances=("random MDPs, dense and CSR, S in 1..250, gamma in {0.3,...,0.9999}; random "
               "episodic MDPs (stationary and time-varying, H up to 50); stochastic, "
               "deterministic and greedy-improved policy pairs; mdp.mu and random mu"),
    check=check_performance_difference,
))


# ------------------------------------------------------- 3. VI certified bound

#: Tolerances (as fractions of ||r||/(1-gamma)) per discount. Value iteration needs about
#: log(1/tol)/(1-gamma) sweeps on instances with two absorbing states, so the tolerances
#: loosen as gamma -> 1 to keep the check within seconds.
_VI_TOLS = {0.3: (1e-2, 1e-8), 0.5: (1e-2, 1e-8), 0.9: (1e-2, 1e-8), 0.99: (1e-2, 1e-6),
            0.999: (1e-1, 1e-2), 0.9999: (0.5,)}


def _vi_tols(gamma: float) -> tuple[float, ...]:
    """Requested tolerances (fractions of the value scale) for the first tabulated discount
    at or above ``gamma``: near 1 VI needs ~log(1/tol)/(1-gamma) sweeps, so they loosen."""
    for g in sorted(_VI_TOLS):
        if gamma <= g:
            return _VI_TOLS[g]
    return _VI_TOLS[max(_VI_TOLS)]


def _independent_distance_to_optimum(mdp, v: np.ndarray) -> float:
    r"""Bound :math:`\|v - v^*\|_\infty \le \|Tv - v\|_\infty / (1-\gamma)` (Puterman 1994,
    Prop. 6.2.4 with Banach), with :math:`T` computed by dense numpy from the model's
    arrays, plus the worst-case rounding of that computation."""
    P = mdp.todense().P
    q = mdp.r + mdp.gamma * np.einsum("sat,t->sa", P, v)
    res = float(np.abs(q.max(axis=1) - v).max())
    fp = (mdp.S + 4) * _U * (float(np.abs(mdp.r).max()) + float(np.abs(v).max()))
    return (res + fp) / (1.0 - mdp.gamma)


def check_vi_certified_bound(quick: bool = False, *, seed: int = 0,
                             instances: Iterable[Instance] | None = None,
                             solver: Callable | None = None,
                             reference: Callable | None = None) -> Report:
    r"""Check value iteration's certified bounds against an independent exact solution.

    Statement (MacQueen 1966; Puterman 1994, §6.6.3, Thm. 6.6.3; as implemented by
    :func:`tabular_rl.value_iteration`): after a sweep :math:`v \mapsto Tv`,

    .. math::

        Tv + \tfrac{\gamma}{1-\gamma}\min_s(Tv - v) \le v^* \le
        Tv + \tfrac{\gamma}{1-\gamma}\max_s(Tv - v),

    so the returned centre of this box satisfies
    :math:`\|v - v^*\|_\infty \le` ``error_bound`` :math:`\le` ``tol`` and the greedy policy
    satisfies :math:`\|v^* - v^\pi\|_\infty \le` ``policy_gap_bound``. (The theorem number is
    as cited by the library; the book was not at hand to confirm it.)

    Parameters
    ----------
    quick : bool
        12 instances with :math:`S \le 20` instead of 36 with :math:`S \le 150`.
    seed : int
    solver : callable, optional
        ``solver(mdp, tol=..., v0=...) -> Solution``; default
        :func:`tabular_rl.value_iteration`.
    reference : callable, optional
        ``reference(mdp) -> Solution`` for :math:`v^*`; default
        :func:`tabular_rl.policy_iteration` (exact evaluation, error bound near rounding).

    Returns
    -------
    Report
        ``max_true_error_over_bound`` (must be :math:`\le 1`), ``max_policy_gap_over_bound``
        (:math:`\le 1`), ``max_bound_over_tol`` (:math:`\le 1` when converged) and
        ``fraction_converged`` (stated 1).

    Notes
    -----
    The reference itself is known only to within :math:`\delta_{\mathrm{ref}} =
    \|T v_{\mathrm{ref}} - v_{\mathrm{ref}}\|_\infty/(1-\gamma)` plus rounding, with
    :math:`T` recomputed here in plain dense numpy (not through the library's kernels or
    its own certified bound, so a broken kernel cannot loosen the check), and
    :math:`v^\pi` (from an LU solve) to within
    :math:`\delta_{\mathrm{eval}} = 4(S+4)\,\varepsilon\,\|r\|/(1-\gamma)^2`; those are
    subtracted before the ratios are formed. The ratios are often exactly 1 (the box is
    tight when two absorbing states drive the span), so a bound reported even slightly
    too small fails.
    """
    import tabular_rl as trl

    solver = solver or trl.value_iteration
    reference = reference or trl.policy_iteration
    n_inst, max_states = (12, 20) if quick else (36, 150)
    true_over = _Worst()
    gap_over = _Worst()
    bound_over_tol = _Worst()
    runs = converged = n_warn = 0
    _seen = _Counted(instances, FiniteMDP, discounted_instances(
        seed, n_inst, max_states=max_states))
    for inst in _seen:
        mdp, rng = inst.mdp, inst.rng
        g = mdp.gamma
        scale = _value_scale(mdp)
        R = float(np.abs(mdp.r).max())
        ref = reference(mdp)
        d_ref = _independent_distance_to_optimum(mdp, ref.v)
        d_eval = 4 * (mdp.S + 4) * _EPS * R / (1 - g) ** 2
        tols = _vi_tols(g)
        jobs = [(t, None) for t in tols]
        if g <= 0.99:
            jobs.append((tols[-1], rng.normal(0, scale, mdp.S)))
        for tol_rel, v0 in jobs:
            tol = tol_rel * scale
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                sol = solver(mdp, tol=tol, v0=v0)
            n_warn += len(caught)
            runs += 1
            converged += bool(sol.converged)
            where = f"{inst.label}, tol={tol_rel:g}*scale{', random v0' if v0 is not None else ''}"
            err = float(np.abs(sol.v - ref.v).max())
            true_over.add(max(err - d_ref, 0.0) / sol.error_bound if sol.error_bound > 0
                          else (np.inf if err > d_ref else 0.0), where)
            v_pi = trl.evaluate_policy(mdp, sol.policy)
            gap = float(np.abs(ref.v - v_pi).max())
            allow = d_ref + d_eval
            gap_over.add(max(gap - allow, 0.0) / sol.policy_gap_bound if sol.policy_gap_bound > 0
                         else (np.inf if gap > allow else 0.0), where)
            if sol.converged:
                bound_over_tol.add(sol.error_bound / tol, where)
    empty = _no_instances("foundation.vi-certified-bound", _seen)
    if empty is not None:
        return empty
    frac = converged / runs
    ok = (float(true_over) <= 1.0 and float(gap_over) <= 1.0 and float(bound_over_tol) <= 1.0
          and frac == 1.0)
    details = (f"{runs} value-iteration runs on {_seen.n} instances (tol = fraction of "
               f"||r||/(1-gamma), {_VI_TOLS}; plus a random v0 for gamma <= 0.99). v* from "
               f"the reference solver; its certified error and the LU error of v^pi are "
               f"subtracted before the ratios. Worst true/bound at {true_over.where}; worst "
               f"gap/bound at {gap_over.where}; worst bound/tol at {bound_over_tol.where}. "
               f"{n_warn} warnings raised by the solver.")
    return Report(
        claim_id="foundation.vi-certified-bound",
        verdict=_verdict(ok),
        measured={"max_true_error_over_bound": float(true_over),
                  "max_policy_gap_over_bound": float(gap_over),
                  "max_bound_over_tol": float(bound_over_tol),
                  "fraction_converged": frac},
        stated={"max_true_error_over_bound": 1.0, "max_policy_gap_over_bound": 1.0,
                "max_bound_over_tol": 1.0, "fraction_converged": 1.0},
        details=details, n_instances=_seen.n)


VI_CERTIFIED_BOUND = register(Claim(
    id="foundation.vi-certified-bound",
    paper=PUTERMAN,
    statement=("MacQueen 1966; Puterman 1994, §6.6.3 (Thm. 6.6.3): Tv + gamma/(1-gamma) "
               "min(Tv - v) <= v* <= Tv + gamma/(1-gamma) max(Tv - v); hence "
               "value_iteration(mdp, tol) returns v with ||v - v*||_inf <= error_bound <= "
               "tol and a greedy policy with ||v* - v^pi||_inf <= policy_gap_bound."),
    kind="inequality",
    instances=("random MDPs, dense and CSR, S in 1..150, gamma in {0.3,...,0.9999}; tol from "
               "1e-8 to 0.5 of ||r||/(1-gamma); zero and random v0; v* by policy iteration"),
    check=check_vi_certified_bound,
))


# ------------------------------------------------------- 4. dual LP = occupancy

#: The ``tol`` handed to :func:`tabular_rl.planning.lp.occupancy_lp`; it sets HiGHS's primal
#: and dual feasibility tolerances to ``LP_TOL / 10``.
LP_TOL = 1e-9


def _default_occupancy_solver(mdp, mu):
    from tabular_rl.planning.lp import occupancy_lp

    return occupancy_lp(mdp, mu=mu, tol=LP_TOL)


def check_dual_lp_occupancy(quick: bool = False, *, seed: int = 0,
                            instances: Iterable[Instance] | None = None,
                            solver: Callable | None = None,
                            reference: Callable | None = None) -> Report:
    r"""Check that the dual LP's optimum is :math:`\mu^\top v^*` and its solution an occupancy.

    Statement (Puterman 1994, §6.9, Thm. 6.9.1; Altman 1999, Ch. 3): the feasible points of

    .. math::

        \max_{d\ge 0} \sum_{s,a} d(s,a) r(s,a) \quad\text{s.t.}\quad
        \sum_a d(s,a) - \gamma\sum_{s',a'} P(s\mid s',a') d(s',a') = \mu(s)

    are exactly the unnormalized discounted occupancies :math:`d^\pi_\mu` of stationary
    randomized policies, with :math:`d = d^{\pi_d}` for
    :math:`\pi_d(a\mid s) = d(s,a)/\sum_{a'} d(s,a')` (Thm. 6.9.1); by LP duality with the
    primal LP the optimum equals :math:`\mu^\top v^*`, so an optimal :math:`d` is the
    occupancy of an optimal policy. (Only Thm. 6.9.1 could be confirmed; the numbers of
    the optimality corollaries in §6.9 and of Altman's Ch. 3 theorem were not.)

    Parameters
    ----------
    quick : bool
        12 instances with :math:`S \le 40` instead of 36 with :math:`S \le 150`.
    seed : int
    solver : callable, optional
        ``solver(mdp, mu)`` returning an object with ``occupancy`` (``(S, A)``,
        unnormalized) and ``value``; default
        :func:`tabular_rl.planning.lp.occupancy_lp` with ``tol=LP_TOL``.
    reference : callable, optional
        ``reference(mdp) -> Solution`` for :math:`v^*`; default policy iteration.

    Returns
    -------
    Report
        ``max_value_gap_rel`` :math:`=|\mathrm{value} - \mu^\top v^*|/\mathrm{scale}`,
        ``max_occupancy_gap`` :math:`=(1-\gamma)\|d_{LP} - d^{\pi_{LP}}\|_1` (normalized
        L1), ``max_objective_gap_rel`` :math:`=|\mathrm{value} - r\cdot d_{LP}|/
        \mathrm{scale}` and ``max_gap_over_tol`` (must be :math:`\le 1`).

    Notes
    -----
    **Tolerances.** HiGHS solves with feasibility tolerances :math:`\tau = 10^{-10}`
    (``LP_TOL/10``). A flow residual :math:`e` moves :math:`d` off :math:`d^{\pi_d}` by
    :math:`(I-\gamma P_{\pi}^\top)^{-1} e`, of L1 norm at most
    :math:`\|e\|_1/(1-\gamma) \le S\tau/(1-\gamma)`; a dual infeasibility :math:`\tau` makes
    :math:`\pi_d` at most :math:`\tau/(1-\gamma)`-suboptimal. HiGHS applies its tolerances
    to the scaled problem, so we allow a factor 10: normalized tolerance
    :math:`S \cdot` ``LP_TOL`` for the occupancy and :math:`(S+1)\cdot` ``LP_TOL`` for the
    relative value, plus the LU rounding of :math:`d^{\pi}`,
    :math:`8(S+4)\varepsilon/(1-\gamma)`, and the reference's certified error.
    ``mu`` is a random full-support distribution, so :math:`\pi_d` is defined everywhere.
    """
    import tabular_rl as trl

    solver = solver or _default_occupancy_solver
    reference = reference or trl.policy_iteration
    n_inst, max_states = (12, 40) if quick else (36, 150)
    value_gap = _Worst()
    occ_gap = _Worst()
    obj_gap = _Worst()
    over = _Worst()
    n_warn = 0
    _seen = _Counted(instances, FiniteMDP, discounted_instances(
        seed, n_inst, max_states=max_states))
    for inst in _seen:
        mdp, rng = inst.mdp, inst.rng
        S, A, g = mdp.S, mdp.A, mdp.gamma
        scale = _value_scale(mdp)
        mu = rng.dirichlet(np.ones(S)) * 0.9 + 0.1 / S
        mu /= mu.sum()
        ref = reference(mdp)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            res = solver(mdp, mu)
        n_warn += len(caught)
        d = np.asarray(res.occupancy, dtype=np.float64).reshape(S, A)
        d_pos = np.maximum(d, 0.0)
        d_s = d_pos.sum(axis=1, keepdims=True)
        pi = np.where(d_s > 0, d_pos / np.where(d_s > 0, d_s, 1.0), 1.0 / A)
        pi /= pi.sum(axis=1, keepdims=True)
        d_pi = trl.occupancy_measure(mdp, pi, mu, normalized=False)
        lu = 8 * (S + 4) * _EPS / (1 - g)
        vg = abs(float(res.value) - float(mu @ ref.v)) / scale
        og = (1 - g) * float(np.abs(d - d_pi).sum())
        objg = abs(float(res.value) - float(np.sum(d * mdp.r))) / scale
        tol_v = (S + 1) * LP_TOL + lu + ref.error_bound / scale
        tol_d = S * LP_TOL + lu
        value_gap.add(vg, inst.label)
        occ_gap.add(og, inst.label)
        obj_gap.add(objg, inst.label)
        over.add(max(vg / tol_v, og / tol_d, objg / tol_v), inst.label)
    empty = _no_instances("foundation.dual-lp-occupancy", _seen)
    if empty is not None:
        return empty
    ok = float(over) <= 1.0
    details = (f"{_seen.n} instances, random full-support mu. Tolerances: value (S+1)*LP_TOL "
               f"+ 8(S+4)eps/(1-gamma) + ref error (relative to ||r||/(1-gamma)), occupancy "
               f"S*LP_TOL + 8(S+4)eps/(1-gamma) (normalized L1), LP_TOL = {LP_TOL:g} (HiGHS "
               f"feasibility tolerances LP_TOL/10). Worst value gap at {value_gap.where}; "
               f"worst occupancy gap at {occ_gap.where}; worst gap/tol {float(over):.3g} at "
               f"{over.where}. {n_warn} warnings raised by the solver.")
    return Report(
        claim_id="foundation.dual-lp-occupancy",
        verdict=_verdict(ok),
        measured={"max_value_gap_rel": float(value_gap), "max_occupancy_gap": float(occ_gap),
                  "max_objective_gap_rel": float(obj_gap), "max_gap_over_tol": float(over)},
        stated={"max_value_gap_rel": 0.0, "max_occupancy_gap": 0.0,
                "max_objective_gap_rel": 0.0, "max_gap_over_tol": 1.0},
        details=details, n_instances=_seen.n)


DUAL_LP = register(Claim(
    id="foundation.dual-lp-occupancy",
    paper=PUTERMAN,
    statement=("Puterman 1994, §6.9, Thm. 6.9.1 (also Altman 1999, Constrained MDPs, Ch. 3): "
               "feasible solutions of the dual LP max r.d s.t. sum_a d(s,a) - gamma "
               "sum P(s|s',a') d(s',a') = mu(s), d >= 0, are the unnormalized occupancies "
               "d^pi_mu of stationary randomized policies, d = d^{pi_d} with pi_d = "
               "d/sum_a d; by LP duality the optimum is mu.v*, attained by the occupancy "
               "of an optimal policy."),
    kind="identity",
    instances=("random MDPs, dense and CSR, S in 1..150, gamma in {0.3,...,0.9999}; random "
               "full-support mu; v* by policy iteration; LP by HiGHS"),
    check=check_dual_lp_occupancy,
))
