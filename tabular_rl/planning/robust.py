r"""KL-regularized robust MDPs, entropic-risk MDPs, and exact projected policy gradient.

A *regularized robust* MDP lets an adversary pick, at every visit of :math:`(s,a)`, a next-state
distribution :math:`p` and charges it :math:`\lambda\,\mathrm{KL}(p\,\|\,P(\cdot\mid s,a))`;
the agent maximizes its value under the worst such choice (Zhang, Hu and Li 2023). The
optimality and policy operators are

.. math::

    (T_\lambda v)(s) &= \max_{\pi\in\Delta_A} \sum_a \pi(a)\Big[r(s,a) + \gamma
        \min_{p\in\Delta_S}\big(\langle p, v\rangle + \lambda\,\mathrm{KL}(p\,\|\,P_{sa})\big)\Big]
        \;[-\,\tau\Omega(\pi)], \\
    (T_{\pi,\lambda} v)(s) &= \sum_a \pi(a\mid s)\big[r(s,a) + \gamma\,\sigma_\lambda(P_{sa}, v)
        \big] \;[-\,\tau\Omega(\pi(s))],

with an optional policy regularizer :math:`\tau\Omega` from :mod:`tabular_rl.regularizers`.
The inner minimum has a closed form, the Gibbs (Donsker-Varadhan) variational principle:

.. math::

    \sigma_\lambda(P, v) := \min_{p\in\Delta_S}\ \langle p, v\rangle
        + \lambda\,\mathrm{KL}(p\,\|\,P) = -\lambda \log \mathbb E_{P}\big[e^{-v/\lambda}\big],
    \qquad p^\star(s') = \frac{P(s')\,e^{-v(s')/\lambda}}{\mathbb E_P[e^{-v/\lambda}]},

the entropic risk measure of :math:`v` under :math:`P` with risk parameter
:math:`\beta = 1/\lambda`. It tends to :math:`\min_{s'\in\mathrm{supp}P} v(s')` as
:math:`\lambda\to 0` (the unregularized sa-rectangular robust MDP whose uncertainty set is
every kernel with the nominal support) and to :math:`\mathbb E_P v` as
:math:`\lambda\to\infty` (the nominal MDP); ``lam=0`` and ``lam=np.inf`` give these limits.

The *risk-sensitive* MDP of the paper evaluates a policy by
:math:`V(s) = \sum_a\pi(a\mid s)[r(s,a) + \gamma\,\rho_\beta(P_{sa}, V)]` with the entropic
risk :math:`\rho_\beta(P, V) = -\tfrac1\beta\log\mathbb E_P e^{-\beta V}` applied to the
next-state value only (not to :math:`r + \gamma V` as in Ruszczyński's Markov risk
measures); by the identity above its operator equals :math:`T_{1/\beta}`, which is the
paper's equivalence theorem in the KL case. :func:`risk_sensitive_bellman` computes it
through a separate code path (a shifted log-sum-exp of :math:`\log P - \beta v`), so the
two can check each other.

Both operators are monotone, commute with constant shifts,
:math:`T(v + c\mathbf 1) = Tv + \gamma c\mathbf 1` (because
:math:`\sigma_\lambda(P, v + c) = \sigma_\lambda(P, v) + c`), and are therefore
:math:`\gamma`-contractions; the MacQueen enclosure of :mod:`tabular_rl.solution` holds
verbatim, and every solver here stops on it.

Numerics: :math:`\sigma_\lambda` is computed row-wise over the kernel's support as
:math:`w - \lambda\log Z` with :math:`w = \min_{\mathrm{supp}} v`,
:math:`Z = \sum P e^{-(v-w)/\lambda} \in [P(\arg\min), 1]`, and :math:`\log Z` taken as
``log1p(sum(P * expm1(-(v - w)/lam)))`` when :math:`Z \ge 1/2` (accurate as
:math:`\lambda\to\infty`, where :math:`\lambda\log Z\to -\mathbb E_P(v-w)`) and as
``log(Z)`` otherwise. No exponent is positive, so nothing overflows for any
:math:`\lambda`; dense kernels are handled as ``(S*A, S)`` arrays and CSR kernels on their
stored entries, vectorized over all :math:`(s,a)`.

Policy gradient (direct parameterization). By Danskin's theorem (the adversary's minimizer
is unique for :math:`\lambda > 0`) the gradient of :math:`J_\rho(\pi) = \rho^\top V^\pi_\lambda`
is the ordinary policy gradient in the MDP whose kernel is the worst case
:math:`\hat P_\pi = p^\star(V^\pi_\lambda)`:

.. math::

    \frac{\partial J_\rho(\pi)}{\partial\pi(a\mid s)} = \frac{1}{1-\gamma}\,
        d_\rho^{\pi,\hat P_\pi}(s)\,Q^\pi_\lambda(s,a),\qquad
    Q^\pi_\lambda = r + \gamma\,\sigma_\lambda(P, V^\pi_\lambda),

with :math:`d_\rho^{\pi,\hat P_\pi}` the normalized discounted state occupancy under
:math:`\hat P_\pi`. This is the paper's policy-gradient theorem for the KL-regularized robust
MDP (and the gradient its companion code uses). Projected gradient ascent
:math:`\pi \leftarrow \mathrm{Proj}_{\Delta_A}(\pi + \eta\nabla J_\rho(\pi))` then converges
to the robust optimum (the paper's global-convergence result, as stated in its abstract),
through the gradient-domination inequality

.. math::

    J_\rho^\star - J_\rho(\pi) \le
        \Big\|\frac{d_\rho^{\pi^\star,\hat P_\pi}}{d_\mu^{\pi,\hat P_\pi}}\Big\|_\infty
        \max_{\bar\pi}\ \langle\bar\pi - \pi, \nabla_\pi J_\mu(\pi)\rangle,

where the mismatch coefficient compares the occupancy of an optimal policy and of
:math:`\pi`, both under :math:`\pi`'s worst-case kernel. (Proof: concavity of
:math:`\sigma_\lambda` gives :math:`V^\star - V^\pi \le
\gamma\hat P_{\pi,\pi^\star}(V^\star - V^\pi) + (\pi^\star - \pi)Q^\pi`; unroll and
bound :math:`(\pi^\star-\pi)Q^\pi \le \max_a Q^\pi - V^\pi`, as in Agarwal et al. 2021, Lemma 4.1.)

References
----------
.. [1] R. Zhang, Y. Hu, N. Li, "Regularized Robust MDPs and Risk-Sensitive MDPs: Equivalence,
   Policy Gradient, and Sample Complexity" (later "Soft Robust MDPs and Risk-Sensitive
   MDPs: ..."), arXiv:2306.11626, 2023. Only the abstract and the authors' companion code
   (github.com/huyangsh/risk-sensitive-RL: ``env/RMDP.py``, ``agent/PolicyGradient.py``)
   could be read; the full text was not available, and the statements above are derived
   here from the abstract, the companion code's operator
   :math:`Q = r - \tfrac{\gamma}{\beta}\log\mathbb E_P e^{-\beta V}` and gradient
   :math:`d^{\pi,\hat P_\pi}Q/(1-\gamma)`, and the Donsker-Varadhan duality. Tentative
   theorem numbers (ICLR 2024 version, "Soft Robust MDPs and Risk-Sensitive MDPs:
   Equivalence, Policy Gradient, and Sample Complexity"; **from public reviews,
   unverified**, and the arXiv v1 numbering may differ): equivalence = Thm. 2 (for
   mixture-quasi-concave penalties; proof in App. E.2), policy-gradient theorem = Thm. 3,
   gradient domination = Lemma 2 / Eq. (15), global convergence of exact PG with direct
   parameterization = Thm. 4 (RFZI sample complexity = Thm. 5). The mismatch coefficient
   above (both occupancies under :math:`\pi`'s worst-case kernel) is derived here; whether
   Lemma 2 uses the same one is not verified. The PG step
   :math:`(1-\gamma)^3/(2\gamma|A|\mathrm{sp}(r))` is Agarwal et al.'s [3], rescaled, not a
   step size of this paper.
.. [2] M. D. Donsker, S. R. S. Varadhan, "Asymptotic evaluation of certain Markov process
   expectations for large time, I", Comm. Pure Appl. Math. 28, 1975 (the Gibbs
   variational principle :math:`\log\mathbb E_P e^{f} = \max_p \langle p, f\rangle -
   \mathrm{KL}(p\|P)`).
.. [3] A. Agarwal, S. Kakade, J. Lee, G. Mahajan, "On the Theory of Policy Gradient
   Methods: Optimality, Approximation, and Distribution Shift", JMLR 22, 2021, Lemma 4.1
   (gradient domination) and Thm. 4.2 (projected PG with
   :math:`\eta = (1-\gamma)^3/(2\gamma|A|)`).
.. [4] J. Duchi, S. Shalev-Shwartz, Y. Singer, T. Chandra, "Efficient projections onto the
   l1-ball for learning in high dimensions", ICML 2008, Fig. 1 (sort-based simplex
   projection).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from .. import _validation as V
from ..bellman import _as_policy, _as_values
from ..evaluation import _solve, evaluate_policy
from ..exceptions import ConvergenceError, ConvergenceWarning
from ..mdp import FiniteMDP, require_finite_mdp
from ..regularizers import Regularizer
from ..soft_bellman import _check_regularizer
from ..solution import Solution, report_cap
from .dp import _initial_v

__all__ = [
    "RobustEvaluation",
    "RobustPGResult",
    "entropic_risk",
    "project_simplex",
    "risk_sensitive_bellman",
    "risk_sensitive_value_iteration",
    "robust_bellman",
    "robust_bellman_policy",
    "robust_policy_evaluation",
    "robust_policy_gradient",
    "robust_projected_gradient",
    "robust_q_values",
    "robust_value_iteration",
    "default_step_size",
    "worst_case_kernel",
]

_U = np.finfo(np.float64).eps / 2
#: Certified accuracy of the inner robust evaluations and of the robust-VI optimum used by
#: the policy-gradient loop, relative to max(1, ||r||)/(1 - gamma).
_INNER_TOL = 1e-9


# ------------------------------------------------------------------ validation helpers


def _check_lam(lam, name: str = "lam") -> float:
    """``lam`` in ``[0, inf]`` (both ends are the limits described in the module)."""
    if isinstance(lam, bool) or not isinstance(lam, int | float | np.integer | np.floating):
        raise TypeError(f"{name} must be a real number, got {type(lam).__name__}")
    lam = float(lam)
    if np.isnan(lam) or lam < 0:
        raise ValueError(f"{name} must lie in [0, inf], got {lam!r}")
    return lam


def _check_reg(reg) -> None:
    if reg is not None:
        _check_regularizer(reg)


# --------------------------------------------------------- the entropic risk, row-wise


def _rows_of(P_flat):
    """``(support mask or data>0, row index per stored entry)`` helpers for CSR."""
    counts = np.diff(P_flat.indptr)
    return np.repeat(np.arange(P_flat.shape[0]), counts)


def _entropic_rows(P_flat, v: np.ndarray, lam: float, *, kernel: bool = False):
    r"""Row-wise :math:`\sigma_\lambda(P_i, v)` for every row ``i`` of ``P_flat`` (dense
    ``(n, S)`` or CSR), and optionally the Gibbs kernel (same format as ``P_flat``)."""
    if sp.issparse(P_flat):
        data, idx, ptr = P_flat.data, P_flat.indices, P_flat.indptr
        supp = data > 0
        vv = v[idx]
        w = np.minimum.reduceat(np.where(supp, vv, np.inf), ptr[:-1])
        rows = _rows_of(P_flat)
        x = np.where(supp, vv - w[rows], 0.0)
        if lam == np.inf:
            sig = np.add.reduceat(data * vv, ptr[:-1])
            g = data.copy()
        elif lam == 0.0:
            sig = w
            g = np.where(supp & (x == 0.0), data, 0.0)
            g = g / np.add.reduceat(g, ptr[:-1])[rows]
        else:
            t = -x / lam
            e = data * np.exp(t)
            Z = np.add.reduceat(e, ptr[:-1])
            s = np.add.reduceat(data * np.expm1(t), ptr[:-1])
            logZ = np.where(s < -0.5, np.log(np.maximum(Z, np.finfo(float).tiny)),
                            np.log1p(np.maximum(s, -1.0)))
            sig = w - lam * logZ
            g = e / Z[rows]
        if not kernel:
            return sig, None
        K = sp.csr_matrix((g, idx.copy(), ptr.copy()), shape=P_flat.shape)
        return sig, K
    P = P_flat
    supp = P > 0
    w = np.where(supp, v[None, :], np.inf).min(axis=1)
    if lam == np.inf:
        return P @ v, (P.copy() if kernel else None)
    x = np.where(supp, v[None, :] - w[:, None], 0.0)
    if lam == 0.0:
        if not kernel:
            return w, None
        g = np.where(supp & (x == 0.0), P, 0.0)
        return w, g / g.sum(axis=1, keepdims=True)
    t = -x / lam
    e = P * np.exp(t)
    Z = e.sum(axis=1)
    s = (P * np.expm1(t)).sum(axis=1)
    logZ = np.where(s < -0.5, np.log(np.maximum(Z, np.finfo(float).tiny)),
                    np.log1p(np.maximum(s, -1.0)))
    sig = w - lam * logZ
    return sig, (e / Z[:, None] if kernel else None)


def entropic_risk(mdp: FiniteMDP, v, lam: float) -> np.ndarray:
    r"""The entropic risk / KL-robust inner minimum for every :math:`(s, a)`.

    .. math::

        \sigma_\lambda(s,a) = \min_{p\in\Delta_S} \langle p, v\rangle
            + \lambda\,\mathrm{KL}\big(p\,\|\,P(\cdot\mid s,a)\big)
            = -\lambda\log\sum_{s'} P(s'\mid s,a)\,e^{-v(s')/\lambda}.

    Parameters
    ----------
    mdp : FiniteMDP
        Dense or CSR kernel.
    v : array_like (S,)
    lam : float
        Penalty weight :math:`\lambda \in [0, \infty]` (risk parameter :math:`1/\lambda`);
        ``0`` gives :math:`\min_{\mathrm{supp} P} v`, ``np.inf`` gives :math:`\mathbb E_P v`.

    Returns
    -------
    ndarray (S, A)

    Examples
    --------
    >>> import numpy as np
    >>> from tabular_rl import FiniteMDP
    >>> mdp = FiniteMDP(np.full((2, 1, 2), 0.5), [[0.0], [0.0]], gamma=0.5)
    >>> v = np.array([0.0, 1.0])
    >>> bool(np.isclose(entropic_risk(mdp, v, 1.0)[0, 0], -np.log(0.5 + 0.5 * np.exp(-1.0))))
    True
    >>> entropic_risk(mdp, v, 0.0)[:, 0], entropic_risk(mdp, v, np.inf)[:, 0]
    (array([0., 0.]), array([0.5, 0.5]))
    """
    require_finite_mdp(mdp, "entropic_risk")
    v = _as_values(mdp, v)
    lam = _check_lam(lam)
    return _entropic_rows(mdp.P_flat, v, lam)[0].reshape(mdp.S, mdp.A)


def worst_case_kernel(mdp: FiniteMDP, v, lam: float):
    r"""The adversary's minimizer :math:`p^\star(\cdot\mid s,a) \propto P(\cdot\mid s,a)
    e^{-v/\lambda}` for every :math:`(s,a)`.

    Returns an ``(S, A, S)`` array for a dense model and a CSR ``(S*A, S)`` matrix with the
    kernel's sparsity pattern for a sparse one. ``lam=0`` gives :math:`P` restricted to the
    minimizers of :math:`v` on its support (renormalized), ``np.inf`` gives :math:`P`.
    """
    require_finite_mdp(mdp, "worst_case_kernel")
    v = _as_values(mdp, v)
    lam = _check_lam(lam)
    K = _entropic_rows(mdp.P_flat, v, lam, kernel=True)[1]
    return K if sp.issparse(K) else K.reshape(mdp.S, mdp.A, mdp.S)


def robust_q_values(mdp: FiniteMDP, v, lam: float) -> np.ndarray:
    r""":math:`q(s,a) = r(s,a) + \gamma\,\sigma_\lambda(P_{sa}, v)`, shape ``(S, A)``."""
    return mdp.r + mdp.gamma * entropic_risk(mdp, v, lam)


def _greedy_max(q: np.ndarray, reg) -> tuple[np.ndarray, np.ndarray]:
    if reg is None:
        a = q.argmax(axis=1)
        pi = np.zeros_like(q)
        pi[np.arange(q.shape[0]), a] = 1.0
        return q[np.arange(q.shape[0]), a], pi
    return reg.max_omega(q)


def robust_bellman(mdp: FiniteMDP, v, lam: float, reg: Regularizer | None = None):
    r"""One sweep of the regularized robust optimality operator.

    .. math::

        (T_\lambda v)(s) = \max_{\pi\in\Delta_A}\ \langle\pi, q_v(s)\rangle - \tau\Omega(\pi),
        \qquad q_v = r + \gamma\,\sigma_\lambda(P, v).

    Parameters
    ----------
    reg : Regularizer, optional
        Policy regularizer (``None``: the hard maximum).

    Returns
    -------
    (Tv, pi, q)
        ``Tv`` (S,), the (regularized) greedy policy (S, A) and ``q`` (S, A).

    Examples
    --------
    >>> import numpy as np
    >>> from tabular_rl import FiniteMDP
    >>> mdp = FiniteMDP(np.full((2, 1, 2), 0.5), [[0.0], [1.0]], gamma=0.5)
    >>> Tv, pi, q = robust_bellman(mdp, np.zeros(2), 1.0)
    >>> Tv
    array([0., 1.])
    """
    _check_reg(reg)
    q = robust_q_values(mdp, v, lam)
    Tv, pi = _greedy_max(q, reg)
    return Tv, pi, q


def robust_bellman_policy(mdp: FiniteMDP, pi, v, lam: float,
                          reg: Regularizer | None = None) -> np.ndarray:
    r""":math:`(T_{\pi,\lambda}v)(s) = \sum_a\pi(a\mid s)[r + \gamma\sigma_\lambda(P, v)](s,a)
    - \tau\Omega(\pi(s))`."""
    _check_reg(reg)
    pi = _as_policy(mdp, pi)
    out = np.einsum("sa,sa->s", pi, robust_q_values(mdp, v, lam))
    return out if reg is None else out - reg.value(pi)


def _risk_rows(P_flat, v: np.ndarray, beta: float) -> np.ndarray:
    r""":math:`-\tfrac1\beta\log\sum_{s'}P(s')e^{-\beta v(s')}` by a shifted log-sum-exp of
    :math:`\log P - \beta v` over the support (a code path separate from
    :func:`_entropic_rows`)."""
    if sp.issparse(P_flat):
        data, idx, ptr = P_flat.data, P_flat.indices, P_flat.indptr
        supp = data > 0
        if beta == 0.0:
            return np.add.reduceat(data * v[idx], ptr[:-1])
        if beta == np.inf:
            return np.minimum.reduceat(np.where(supp, v[idx], np.inf), ptr[:-1])
        with np.errstate(divide="ignore"):
            z = np.where(supp, np.log(data) - beta * v[idx], -np.inf)
        m = np.maximum.reduceat(z, ptr[:-1])
        rows = _rows_of(P_flat)
        lse = m + np.log(np.add.reduceat(np.exp(z - m[rows]), ptr[:-1]))
        return -lse / beta
    if beta == 0.0:
        return P_flat @ v
    supp = P_flat > 0
    if beta == np.inf:
        return np.where(supp, v[None, :], np.inf).min(axis=1)
    with np.errstate(divide="ignore"):
        z = np.where(supp, np.log(P_flat) - beta * v[None, :], -np.inf)
    m = z.max(axis=1)
    return -(m + np.log(np.exp(z - m[:, None]).sum(axis=1))) / beta


def risk_sensitive_bellman(mdp: FiniteMDP, v, beta: float, reg: Regularizer | None = None):
    r"""The entropic-risk-sensitive optimality operator of Zhang, Hu and Li (2023).

    .. math::

        (\mathcal T_\beta v)(s) = \max_{\pi}\ \sum_a \pi(a)\Big[r(s,a) - \frac{\gamma}{\beta}
            \log\mathbb E_{s'\sim P(\cdot\mid s,a)} e^{-\beta v(s')}\Big] - \tau\Omega(\pi),

    the risk applied to the next-state value. Equal to
    :func:`robust_bellman` with ``lam = 1/beta`` (the paper's equivalence; module
    docstring). ``beta = 0`` is risk neutral, ``beta = np.inf`` the worst case over the
    support.

    Returns
    -------
    (Tv, pi, q)
    """
    require_finite_mdp(mdp, "risk_sensitive_bellman")
    _check_reg(reg)
    v = _as_values(mdp, v)
    beta = _check_lam(beta, "beta")
    q = mdp.r + mdp.gamma * _risk_rows(mdp.P_flat, v, beta).reshape(mdp.S, mdp.A)
    Tv, pi = _greedy_max(q, reg)
    return Tv, pi, q


# ---------------------------------------------------------------- certified iteration


def _rounding(mdp: FiniteMDP, v: np.ndarray, q: np.ndarray, Tv: np.ndarray) -> float:
    r"""Worst-case rounding of one robust sweep, divided by ``1 - gamma``.

    Per entry, :math:`\sigma_\lambda` is off by at most :math:`(3n + 10)\,u\,
    (|w| + \mathrm{sp}(v)) \le 3(3n+10)\,u\,\|v\|_\infty` (sums of ``n`` same-sign terms,
    ``expm1``/``log1p``/``log``, and the factor :math:`1/(1+s) \le 2` of ``log1p``); the
    reward add and the (soft) maximum over ``A`` actions add
    :math:`(A + 8)\,u\,(\|q\|_\infty + \|Tv\|_\infty)`.
    """
    n = mdp.max_row_nnz
    vmax = max(float(np.abs(v).max(initial=0.0)), 0.0)
    sig = 3.0 * (3 * n + 10) * _U * vmax * mdp.gamma
    soft = (mdp.A + 8) * _U * (float(np.abs(q).max()) + float(np.abs(Tv).max())
                               + mdp.r_absmax)
    return (sig + soft) / (1.0 - mdp.gamma)


def _certified_vi(mdp: FiniteMDP, op: Callable, reg, tol, max_iter, v0, record_history,
                  strict, *, method: str, extra_fp: float = 0.0) -> Solution:
    """Value iteration with ``op(v) -> (Tv, pi, q)`` and the MacQueen stopping rule;
    ``extra_fp`` is a per-entry rounding error of ``op`` beyond :func:`_rounding`'s."""
    tol = V.check_real_scalar("tol", tol, 0.0, np.inf, lo_open=True)
    max_iter = V.check_positive_int("max_iter", max_iter)
    v = _initial_v(mdp, v0)
    hist = [] if record_history else None
    g = mdp.gamma
    c = g / (1.0 - g)
    converged = False
    k = 0
    for k in range(1, max_iter + 1):
        Tv, pi, q = op(v)
        if not np.all(np.isfinite(Tv)):
            bad = int(np.flatnonzero(~np.isfinite(Tv))[0])
            raise FloatingPointError(f"{method}: the backup is not finite at sweep {k} "
                                     f"(first bad state {bad}: {Tv[bad]})")
        d = Tv - v
        lo, hi = float(d.min()), float(d.max())
        fp = _rounding(mdp, v, q, Tv) + extra_fp / (1.0 - g)
        bound = c * 0.5 * (hi - lo) + 2.0 * fp
        res = max(hi, -lo)
        if hist is not None:
            hist.append(res)
        if bound <= tol:
            converged = True
            break
        if k == max_iter:
            break
        v = Tv
    if converged:
        msg = f"certified |v - v*| <= {bound:.3g} <= tol={tol:g} after {k} sweeps"
    else:
        msg = report_cap(method, k, res, bound, tol, strict, rounding=2.0 * fp)
    v_hat = Tv + c * 0.5 * (lo + hi)
    T_hat, _, q_hat = op(v_hat)
    residual = float(np.abs(T_hat - v_hat).max())
    pi = np.array(pi)
    for arr in (v_hat, q_hat, pi):
        arr.setflags(write=False)
    return Solution(v=v_hat, q=q_hat, policy=pi, converged=converged, iterations=k,
                    residual=residual, error_bound=float(bound),
                    policy_gap_bound=float(c * (hi - lo) + 2.0 * fp), method=method,
                    message=msg, history=None if hist is None else np.array(hist))


def robust_value_iteration(mdp: FiniteMDP, lam: float, *, reg: Regularizer | None = None,
                           tol: float = 1e-8, max_iter: int = 100_000, v0=None,
                           record_history: bool = False, strict: bool = False) -> Solution:
    r"""Value iteration :math:`v_{k+1} = T_\lambda v_k` for the KL-regularized robust MDP.

    :math:`T_\lambda` is a monotone :math:`\gamma`-contraction with
    :math:`T_\lambda(v + c) = T_\lambda v + \gamma c` (module docstring), so the MacQueen box
    :math:`T v + \tfrac{\gamma}{1-\gamma}[\min(Tv-v), \max(Tv-v)]` encloses the robust
    optimum :math:`v^\star_\lambda`; the solver stops when its half-width plus the sweep's
    rounding error is at most ``tol`` and returns its centre.

    Parameters
    ----------
    mdp : FiniteMDP
    lam : float
        Adversary's KL weight :math:`\lambda\in[0,\infty]`.
    reg : Regularizer, optional
        Policy regularizer; ``None`` for the hard maximum.
    tol, max_iter, v0, record_history, strict
        As in :func:`tabular_rl.planning.value_iteration`.

    Returns
    -------
    Solution
        ``v`` with certified ``error_bound`` :math:`\ge\|v - v^\star_\lambda\|_\infty`, ``q``
        the robust action values at ``v``, ``policy`` greedy (or regularized greedy) and
        ``policy_gap_bound`` on its robust suboptimality.

    Examples
    --------
    >>> import numpy as np
    >>> from tabular_rl import FiniteMDP
    >>> P = np.array([[[0.5, 0.5]], [[0.0, 1.0]]])
    >>> mdp = FiniteMDP(P, [[1.0], [0.0]], gamma=0.5)
    >>> round(float(robust_value_iteration(mdp, 0.0, tol=1e-12).v[0]), 9)  # worst case: 1
    1.0
    >>> round(float(robust_value_iteration(mdp, np.inf, tol=1e-12).v[0]), 9)  # nominal
    1.333333333
    """
    require_finite_mdp(mdp, "robust_value_iteration")
    lam = _check_lam(lam)
    _check_reg(reg)
    return _certified_vi(mdp, lambda v: robust_bellman(mdp, v, lam, reg), reg, tol, max_iter,
                         v0, record_history, strict,
                         method=f"robust_value_iteration[lam={lam:g}]")


def risk_sensitive_value_iteration(mdp: FiniteMDP, beta: float, *,
                                   reg: Regularizer | None = None, tol: float = 1e-8,
                                   max_iter: int = 100_000, v0=None,
                                   record_history: bool = False,
                                   strict: bool = False) -> Solution:
    r"""Value iteration for the entropic-risk-sensitive MDP, :math:`v_{k+1} =
    \mathcal T_\beta v_k` (:func:`risk_sensitive_bellman`), certified as in
    :func:`robust_value_iteration`. Its fixed point equals the robust one with
    :math:`\lambda = 1/\beta`.

    The log-sum-exp form loses accuracy as :math:`\beta\to 0`: its rounding error per
    entry, :math:`(n+4)\,u/\beta`, enters the certified bound, so a small ``tol`` cannot be
    certified for tiny ``beta`` (use :func:`robust_value_iteration` there)."""
    require_finite_mdp(mdp, "risk_sensitive_value_iteration")
    beta = _check_lam(beta, "beta")
    _check_reg(reg)
    # log-sum-exp of log P - beta v: its logarithm is off by (n + 4) u in absolute terms,
    # which the factor 1/beta turns into an error of (n + 4) u / beta per entry.
    extra = 0.0 if beta in (0.0, np.inf) else mdp.gamma * (mdp.max_row_nnz + 4) * _U / beta
    return _certified_vi(mdp, lambda v: risk_sensitive_bellman(mdp, v, beta, reg), reg, tol,
                         max_iter, v0, record_history, strict,
                         method=f"risk_sensitive_value_iteration[beta={beta:g}]",
                         extra_fp=extra)


# ------------------------------------------------------------ robust policy evaluation


@dataclass(frozen=True, slots=True)
class RobustEvaluation:
    """The robust value of a fixed policy.

    Attributes
    ----------
    v : ndarray (S,)
        :math:`V^\\pi_\\lambda`, certified:
        ``error_bound`` :math:`\\ge \\|v - V^\\pi_\\lambda\\|_\\infty`.
    q : ndarray (S, A)
        :math:`Q^\\pi_\\lambda = r + \\gamma\\sigma_\\lambda(P, v)`.
    kernel : ndarray (S, A, S) or CSR
        The worst-case kernel :math:`\\hat P_\\pi = p^\\star(v)`.
    error_bound : float
    iterations : int
        Newton (adversary policy-iteration) steps.
    converged : bool
    """

    v: np.ndarray
    q: np.ndarray
    kernel: object
    error_bound: float
    iterations: int
    converged: bool


def _policy_system(mdp: FiniteMDP, K, pi: np.ndarray):
    r""":math:`I - \gamma K_\pi` for a kernel ``K`` (dense ``(S*A, S)`` or CSR), with
    :math:`K_\pi(s, s') = \sum_a \pi(a\mid s) K(s'\mid s, a)`."""
    S, A = mdp.S, mdp.A
    if sp.issparse(K):
        rows = np.repeat(np.arange(S), A)
        W = sp.csr_matrix((pi.reshape(-1), (rows, np.arange(S * A))), shape=(S, S * A))
        Kpi = (W @ K).tocsr()
        return (sp.identity(S, format="csr") - mdp.gamma * Kpi).tocsr()
    Kpi = np.einsum("sa,sat->st", pi, K.reshape(S, A, S))
    return np.eye(S) - mdp.gamma * Kpi


def robust_policy_evaluation(mdp: FiniteMDP, pi, lam: float, *,
                             reg: Regularizer | None = None, tol: float = 1e-10,
                             max_iter: int = 200, v0=None,
                             strict: bool = False) -> RobustEvaluation:
    r"""Exact robust value :math:`V^\pi_\lambda`, the fixed point of :math:`T_{\pi,\lambda}`.

    The adversary's problem for a fixed :math:`\pi` is a KL-regularized (soft) MDP, solved
    here by its policy iteration, i.e. Newton's method on the concave operator
    :math:`T_{\pi,\lambda}`: at :math:`v_k` take the worst-case kernel
    :math:`\hat P = p^\star(v_k)` and its penalty
    :math:`c = \lambda\mathrm{KL}(\hat P\|P) = \sigma_\lambda(v_k) - \hat P v_k`, and set
    :math:`v_{k+1} = (I - \gamma\hat P_\pi)^{-1}(r_\pi + \gamma c_\pi - \tau\Omega(\pi))`.
    After the first step the iterates decrease monotonically to :math:`V^\pi_\lambda`.
    It stops on the MacQueen box of :math:`T_{\pi,\lambda}` (half-width plus rounding
    at most ``tol``) and returns its centre.

    Parameters
    ----------
    mdp : FiniteMDP
    pi : array_like (S, A)
    lam : float
        :math:`\lambda\in(0,\infty]` (``0`` is accepted; the kernel is then the argmin one).
    reg : Regularizer, optional
    tol : float
        Certified bound on :math:`\|v - V^\pi_\lambda\|_\infty`.
    max_iter : int
        Newton steps; hitting the cap warns (or raises when ``strict``).
    v0 : array_like (S,), optional
        Warm start.

    Returns
    -------
    RobustEvaluation
    """
    require_finite_mdp(mdp, "robust_policy_evaluation")
    lam = _check_lam(lam)
    _check_reg(reg)
    pi = np.array(_as_policy(mdp, pi))
    tol = V.check_real_scalar("tol", tol, 0.0, np.inf, lo_open=True)
    max_iter = V.check_positive_int("max_iter", max_iter)
    omega = np.zeros(mdp.S) if reg is None else reg.value(pi)
    if not np.all(np.isfinite(omega)):
        raise ValueError("robust_policy_evaluation: the policy lies outside the domain of the "
                         "regularizer (infinite regularization)")
    v = evaluate_policy(mdp, pi) if v0 is None else _initial_v(mdp, v0)
    return _evaluate_core(mdp, pi, lam, omega, tol, max_iter, v, strict)


def _evaluate_core(mdp: FiniteMDP, pi: np.ndarray, lam: float, omega: np.ndarray, tol: float,
                   max_iter: int, v: np.ndarray, strict: bool) -> RobustEvaluation:
    """Newton iteration of :func:`robust_policy_evaluation` on validated inputs."""
    g = mdp.gamma
    c = g / (1.0 - g)
    converged = False
    bound = np.inf
    k = 0
    for k in range(1, max_iter + 1):
        sig, K = _entropic_rows(mdp.P_flat, v, lam, kernel=True)
        q = mdp.r + g * sig.reshape(mdp.S, mdp.A)
        Tv = np.einsum("sa,sa->s", pi, q) - omega
        d = Tv - v
        lo, hi = float(d.min()), float(d.max())
        fp = _rounding(mdp, v, q, Tv)
        bound = c * 0.5 * (hi - lo) + 2.0 * fp
        if bound <= tol:
            converged = True
            break
        if k == max_iter:
            break
        Kv = (K @ v) if sp.issparse(K) else K @ v
        pen = np.maximum(sig - Kv, 0.0).reshape(mdp.S, mdp.A)   # lam * KL >= 0
        b = np.einsum("sa,sa->s", pi, mdp.r + g * pen) - omega
        v = _solve(_policy_system(mdp, K, pi), b, x0=v)
    if not converged:
        msg = (f"robust_policy_evaluation stopped at max_iter={k} with certified bound "
               f"{bound:.3g} > tol={tol:g}")
        if strict:
            raise ConvergenceError(msg)
        warnings.warn(msg, ConvergenceWarning, stacklevel=3)
    v_hat = Tv + c * 0.5 * (lo + hi)
    sig, K = _entropic_rows(mdp.P_flat, v_hat, lam, kernel=True)
    q_hat = mdp.r + g * sig.reshape(mdp.S, mdp.A)
    if not sp.issparse(K):
        K = K.reshape(mdp.S, mdp.A, mdp.S)
    return RobustEvaluation(v=v_hat, q=q_hat, kernel=K, error_bound=float(bound),
                            iterations=k, converged=converged)


# ---------------------------------------------------------------- policy gradient


def project_simplex(x) -> np.ndarray:
    r"""Euclidean projection of every row (last axis) onto the probability simplex.

    .. math::

        \mathrm{Proj}_{\Delta}(x) = \arg\min_{p\in\Delta}\|p - x\|_2 = (x - \theta)_+,\quad
        \theta = \frac{1}{k}\Big(\sum_{i\le k} u_i - 1\Big),\
        k = \max\{j : u_j - \tfrac1j(\textstyle\sum_{i\le j}u_i - 1) > 0\},

    with :math:`u` the row sorted in decreasing order (Duchi et al. 2008, Fig. 1).
    Vectorized over all rows.

    Examples
    --------
    >>> project_simplex([[0.5, 0.5], [2.0, 0.0], [0.2, 0.1]])
    array([[0.5 , 0.5 ],
           [1.  , 0.  ],
           [0.55, 0.45]])
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim < 1 or x.shape[-1] < 1:
        raise ValueError(f"project_simplex needs an array (..., n) with n >= 1, got {x.shape}")
    if not np.all(np.isfinite(x)):
        bad = np.unravel_index(int(np.argmax(~np.isfinite(x))), x.shape)
        raise ValueError(f"project_simplex: x[{', '.join(map(str, bad))}] = {x[bad]} is not "
                         f"finite")
    n = x.shape[-1]
    u = -np.sort(-x, axis=-1)
    css = np.cumsum(u, axis=-1) - 1.0
    j = np.arange(1, n + 1)
    k = (u - css / j > 0).sum(axis=-1, keepdims=True)          # a prefix of the sorted row
    theta = np.take_along_axis(css, k - 1, axis=-1) / k
    p = np.maximum(x - theta, 0.0)
    return p / p.sum(axis=-1, keepdims=True)


def robust_policy_gradient(mdp: FiniteMDP, pi, lam: float, *, rho=None,
                           evaluation: RobustEvaluation | None = None,
                           tol: float | None = None) -> tuple[np.ndarray, float, RobustEvaluation]:
    r"""Exact gradient of :math:`J_\rho(\pi) = \rho^\top V^\pi_\lambda` in the direct
    parameterization.

    .. math::

        \nabla_{\pi(a\mid s)} J_\rho(\pi) = \frac{1}{1-\gamma}\,
            d_\rho^{\pi,\hat P_\pi}(s)\,Q^\pi_\lambda(s,a)

    (module docstring: Danskin's theorem with the unique worst-case kernel
    :math:`\hat P_\pi`).

    Returns
    -------
    (grad, J, evaluation)
        ``grad`` (S, A), the objective :math:`J_\rho(\pi)` and the
        :class:`RobustEvaluation` used.
    """
    require_finite_mdp(mdp, "robust_policy_gradient")
    pi = np.array(_as_policy(mdp, pi))
    rho = mdp.mu if rho is None else V.check_distribution("rho", rho, mdp.S)
    if tol is None:
        tol = _INNER_TOL * max(1.0, mdp.r_absmax) / (1.0 - mdp.gamma)
    ev = evaluation if evaluation is not None else robust_policy_evaluation(mdp, pi, lam,
                                                                           tol=tol)
    d = (1.0 - mdp.gamma) * _solve(_policy_system(mdp, ev.kernel, pi),
                                   np.asarray(rho, dtype=np.float64), transpose=True)
    grad = d[:, None] * ev.q / (1.0 - mdp.gamma)
    return grad, float(rho @ ev.v), ev


@dataclass(frozen=True, slots=True)
class RobustPGResult:
    """Iterates of projected policy gradient on the KL-regularized robust objective.

    Attributes
    ----------
    policy : ndarray (S, A)
        Last iterate.
    objective : ndarray (K+1,)
        :math:`J_\\rho(\\pi_k)` for ``k = 0..K``.
    gap : ndarray (K+1,)
        :math:`J^\\star_\\rho - J_\\rho(\\pi_k)` against the robust-VI optimum.
    J_star : float
        :math:`\\rho^\\top v^\\star_\\lambda` from :func:`robust_value_iteration`.
    J_star_error : float
        Its certified error (``error_bound`` of the VI solution).
    step_size : float
    iterations : int
    converged : bool
        Whether ``gap <= tol`` was reached (always ``False`` without ``tol``).
    policies : ndarray (K+1, S, A) or None
        All iterates when requested.
    """

    policy: np.ndarray
    objective: np.ndarray
    gap: np.ndarray
    J_star: float
    J_star_error: float
    step_size: float
    iterations: int
    converged: bool
    policies: np.ndarray | None = None


def default_step_size(mdp: FiniteMDP) -> float:
    r"""The projected-PG step :math:`\eta = (1-\gamma)^3 / (2\gamma|A|\,\mathrm{sp}(r))`.

    Agarwal et al. (2021, Thm. 4.2) take :math:`\eta = (1-\gamma)^3/(2\gamma|A|)` for
    rewards in :math:`[0, 1]` (the inverse smoothness constant of :math:`J`); rewards
    enter only through their span :math:`\mathrm{sp}(r) = \max r - \min r` (a constant
    shift adds the same amount to every action's gradient at a state, which the simplex
    projection ignores). The step size of the paper's convergence theorem for the robust
    objective could not be read (full text unavailable; its companion code leaves ``eta``
    a free parameter), so this is Agarwal et al.'s non-robust constant; the claim
    ``dp.robust-risk`` checks empirically that PG with it reaches the robust optimum.
    ``gamma = 0`` gives :math:`1/(|A|\,\mathrm{sp}(r))`.
    """
    span = float(mdp.r.max() - mdp.r.min())
    span = span if span > 0 else 1.0
    g = mdp.gamma
    if g == 0.0:
        return 1.0 / (mdp.A * span)
    return (1.0 - g) ** 3 / (2.0 * g * mdp.A * span)


def robust_projected_gradient(mdp: FiniteMDP, lam: float, *, pi0=None,
                              step_size: float | None = None, n_iter: int = 1000,
                              tol: float | None = None, rho=None, seed=None,
                              gradient: Callable | None = None, v_star=None,
                              record_policies: bool = False) -> RobustPGResult:
    r"""Exact projected policy gradient ascent on :math:`J_\rho(\pi) = \rho^\top V^\pi_\lambda`.

    .. math::

        \pi_{k+1}(\cdot\mid s) = \mathrm{Proj}_{\Delta_A}\big(\pi_k(\cdot\mid s)
            + \eta\,\nabla_{\pi(\cdot\mid s)} J_\rho(\pi_k)\big)\quad\text{for every } s,

    with the exact robust gradient (:func:`robust_policy_gradient`) and, by default, the
    step size of :func:`default_step_size`.

    Parameters
    ----------
    mdp : FiniteMDP
    lam : float
        :math:`\lambda > 0` (the gradient needs a unique worst-case kernel).
    pi0 : array_like (S, A), optional
        Initial policy; a Dirichlet(1) random policy drawn from ``seed`` by default.
    step_size : float, optional
    n_iter : int
        Maximum number of gradient steps.
    tol : float, optional
        Stop once :math:`J^\star_\rho - J_\rho(\pi_k) \le` ``tol``.
    rho : array_like (S,), optional
        Start distribution of the objective (``mdp.mu`` by default).
    seed : int or numpy.random.Generator, optional
    gradient : callable, optional
        ``gradient(mdp, pi, lam, rho=..., evaluation=...) -> (grad, J, evaluation)``;
        default :func:`robust_policy_gradient` (injectable so checks can break it).
    v_star : array_like (S,), optional
        The robust optimum; computed with :func:`robust_value_iteration` when omitted.
    record_policies : bool

    Returns
    -------
    RobustPGResult

    Examples
    --------
    >>> import numpy as np
    >>> from tabular_rl import FiniteMDP
    >>> P = np.full((2, 2, 2), 0.5)
    >>> mdp = FiniteMDP(P, [[1.0, 0.0], [0.0, 1.0]], gamma=0.5)
    >>> res = robust_projected_gradient(mdp, 1.0, pi0=np.full((2, 2), 0.5), n_iter=50,
    ...                                 tol=1e-9)
    >>> res.converged, np.round(res.policy, 6)
    (True, array([[1., 0.],
           [0., 1.]]))
    """
    require_finite_mdp(mdp, "robust_projected_gradient")
    lam = _check_lam(lam)
    if lam == 0.0:
        raise ValueError("robust_projected_gradient needs lam > 0 (a unique worst-case "
                         "kernel); got lam=0.0")
    n_iter = V.check_positive_int("n_iter", n_iter)
    eta = default_step_size(mdp) if step_size is None else V.check_real_scalar(
        "step_size", step_size, 0.0, np.inf, lo_open=True)
    rho = mdp.mu if rho is None else V.check_distribution("rho", rho, mdp.S)
    if pi0 is None:
        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        pi = rng.dirichlet(np.ones(mdp.A), size=mdp.S)
    else:
        pi = np.array(_as_policy(mdp, pi0), dtype=np.float64)
    grad_fn = gradient or robust_policy_gradient
    inner_tol = _INNER_TOL * max(1.0, mdp.r_absmax) / (1.0 - mdp.gamma)
    if v_star is None:
        sol = robust_value_iteration(mdp, lam, tol=inner_tol)
        v_star, v_err = sol.v, sol.error_bound
    else:
        v_star, v_err = _as_values(mdp, v_star), 0.0
    J_star = float(rho @ v_star)
    objective, gaps, pols = [], [], [] if record_policies else None
    ev = None
    zeros = np.zeros(mdp.S)
    converged = False
    k = 0
    for k in range(n_iter + 1):
        ev_prev = ev
        v_init = evaluate_policy(mdp, pi) if ev_prev is None else ev_prev.v
        ev = _evaluate_core(mdp, pi, lam, zeros, inner_tol, 200, v_init, False)
        grad, J, ev = grad_fn(mdp, pi, lam, rho=rho, evaluation=ev)
        objective.append(J)
        gaps.append(J_star - J)
        if pols is not None:
            pols.append(pi.copy())
        if tol is not None and J_star - J <= tol:
            converged = True
            break
        if k == n_iter:
            break
        pi = project_simplex(pi + eta * grad)
    pi.setflags(write=False)
    return RobustPGResult(policy=pi, objective=np.array(objective), gap=np.array(gaps),
                          J_star=J_star, J_star_error=float(v_err), step_size=float(eta),
                          iterations=k, converged=converged,
                          policies=None if pols is None else np.array(pols))
