r"""Reward identifiability in (constrained, regularized) inverse RL: potential shaping, the
set of rewards consistent with a regularized-optimal policy, and counterexamples.

**Potential shaping** (Ng, Harada, Russell 1999). For a potential :math:`\phi \in \mathbb R^S`

.. math::

    r'(s,a) = r(s,a) + \gamma \sum_{s'} P(s'\mid s,a)\,\phi(s') - \phi(s)
    \qquad\big(\text{episodic: } r'_h = r_h + P_h\phi_{h+1} - \phi_h,\ \phi_H = 0\big)

changes every (regularized) action value by :math:`-\phi(s)` only,
:math:`q'^\pi_\Omega = q^\pi_\Omega - \phi` and :math:`v'^\pi_\Omega = v^\pi_\Omega - \phi`,
so optimal and regularized-optimal policies are unchanged (:func:`shape`). In matrix form
:math:`r' = r + B\phi` with the ``(S*A, S)`` **shaping matrix** :math:`B = \gamma P - E`
(:func:`shaping_matrix`); :math:`B` has full column rank :math:`S` for :math:`\gamma < 1`
(:math:`B\phi = 0` means :math:`\phi = \gamma P_a\phi` for every action, a contraction).

**Consistent rewards.** For a regularizer :math:`\tau\Omega` and a policy :math:`\pi`, let
:math:`\mathcal R_\Omega(\pi) = \{r : \mathcal G_\Omega(q^*_{\Omega, r}) = \pi\}` be the rewards
whose regularized-optimal policy is :math:`\pi`. With Shannon entropy
(:math:`\mathcal G = \operatorname{softmax}(\cdot/\tau)`),
:math:`\tau\log\pi(a\mid s) = q^*(s,a) - v^*(s) = r(s,a) + \gamma (P v^*)(s,a) - v^*(s)`, so

.. math::

    \mathcal R_{\text{Shannon}}(\pi) = \tau\log\pi + \operatorname{range}(B)
    = \{\tau\log\pi + \gamma P\phi - \phi : \phi\in\mathbb R^S\},

an affine space of dimension exactly :math:`S` (every :math:`\phi` is realized: with
:math:`r = \tau\log\pi - B v` the soft value is :math:`v`). This is identifiability *up to
potential shaping* (Cao, Cohen, Szpruch, NeurIPS 2021, Thm. 1; Schlaginhaufen and Kamgarpour,
ICML 2023, Sec. 3, where it is derived as a consequence of the entropy regularizer being
*steep*, so that the regularized-optimal occupancy lies in the relative interior of the
occupancy polytope and the normal cone there is the orthogonal complement of the polytope's
affine hull, i.e. the shaping space).

For a non-steep regularizer (Tsallis, whose greedy policy is sparse) the optimum can sit on
the boundary, where the normal cone is larger: lowering the reward of an action that
:math:`\pi` does not play, below the greedy threshold, leaves :math:`\pi` unchanged, and such
a change is generically *not* a shaping (:func:`tsallis_counterexample`). The set is then a
polyhedron whose affine hull has dimension :math:`S + \#\{(s,a): \pi(a\mid s) = 0\}`.
Likewise, with an *active* constraint :math:`\langle d^\pi, c\rangle \le b` (multiplier
:math:`\lambda^* > 0`), the expert is regularized-optimal for :math:`r - \lambda^* c`, and
every :math:`r + t\,c` (:math:`t \ge -\lambda^*`, plus shaping) gives the same constrained
optimum (:func:`constraint_counterexample`): the consistent set gains the direction
:math:`c`. Schlaginhaufen and Kamgarpour (2023) also show that transfer of a learned reward to
new transition laws or constraints needs identification up to a constant, which shaping-only
identification does not provide.

**Rank test** (:func:`consistent_reward_set`). The rewards consistent with :math:`\pi` near a
particular solution are computed numerically as the null space of the linearization of
:math:`r \mapsto \pi_r`: with :math:`dq = (I - \gamma P\Pi)^{-1}dr` (envelope theorem,
:math:`dv = \Pi\,dq`, where :math:`\Pi` averages over :math:`\pi`), the policy is unchanged
to first order iff :math:`dq(s,\cdot)` is constant on the support of :math:`\pi(s)` (the
null space of the greedy map's Jacobian, for Shannon, KL and Tsallis alike), i.e.
:math:`K\,dr = 0` with :math:`K = C(I - \gamma P\Pi)^{-1}` and :math:`C` the block-diagonal
projector that centres each state's support. Its dimension is computed by an SVD.

References
----------
.. [1] A. Schlaginhaufen, M. Kamgarpour, "Identifiability and Generalizability in Constrained
   Inverse Reinforcement Learning", ICML 2023 (arXiv:2306.00629). Only the abstract could be
   retrieved with the tools available here, so no theorem number is quoted for it; the
   statements above are those of the abstract, re-derived in this docstring.
.. [2] H. Cao, S. N. Cohen, L. Szpruch, "Identifiability in inverse reinforcement learning",
   NeurIPS 2021, Thm. 1 (entropy-regularized rewards consistent with a policy).
.. [3] A. Y. Ng, D. Harada, S. Russell, "Policy invariance under reward transformations:
   Theory and application to reward shaping", ICML 1999, Thm. 1.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import scipy.sparse as sp

from .. import _validation as V
from ..mdp import EpisodicMDP, FiniteMDP
from ..regularizers import KL, Regularizer, Shannon, Tsallis

__all__ = [
    "ConsistentRewardSet",
    "Counterexample",
    "consistency_jacobian",
    "consistent_reward_set",
    "constraint_counterexample",
    "shape",
    "shaping_distance",
    "shaping_matrix",
    "soft_optimal_policy",
    "tsallis_counterexample",
]

_EPS = float(np.finfo(np.float64).eps)


# ------------------------------------------------------------------------------ helpers


def _check_model(mdp, fn: str) -> None:
    if not isinstance(mdp, FiniteMDP | EpisodicMDP):
        raise TypeError(f"{fn} needs a FiniteMDP or EpisodicMDP, got {type(mdp).__name__}")


def _dense_flat(P_flat) -> np.ndarray:
    return P_flat.toarray() if sp.issparse(P_flat) else np.asarray(P_flat)


def _reward(mdp, r, name: str = "r") -> np.ndarray:
    """``r`` as ``(S, A)`` (discounted) or ``(H, S, A)`` (episodic, broadcast if stationary)."""
    if isinstance(mdp, EpisodicMDP):
        arr = V.as_float_array(name, r, (2, 3))
        if arr.ndim == 2:
            V.check_shape(name, arr, (mdp.S, mdp.A), "(states, actions)")
            arr = np.broadcast_to(arr, (mdp.H, mdp.S, mdp.A)).copy()
        V.check_shape(name, arr, (mdp.H, mdp.S, mdp.A), "(steps, states, actions)")
    else:
        arr = V.as_float_array(name, r, 2)
        V.check_shape(name, arr, (mdp.S, mdp.A), "(states, actions)")
    V.check_finite(name, arr)
    return arr


def _with_reward(mdp, r: np.ndarray):
    if isinstance(mdp, EpisodicMDP):
        P = list(mdp.P) if isinstance(mdp.P, tuple) else mdp.P
        return EpisodicMDP(P, r, mdp.H, mdp.mu)
    return mdp.with_reward(r)


def _vi_tol(mdp: FiniteMDP, reg: Regularizer) -> float:
    """A soft-VI tolerance well above the float64 floor: relative ``1e-12``, or ``1e3``
    times the per-sweep rounding of a value of that scale (whichever is larger)."""
    scale = (mdp.r_absmax + reg.tau * (1.0 + np.log(mdp.A))) / (1.0 - mdp.gamma)
    rel = max(1e-12, 1e3 * (2 * mdp.S + mdp.A + 8) * _EPS / (1.0 - mdp.gamma))
    return rel * max(scale, 1e-300)


def soft_optimal_policy(mdp: FiniteMDP | EpisodicMDP, r, reg: Regularizer, *,
                        tol: float | None = None):
    r"""The regularized-optimal :class:`~tabular_rl.Solution` of ``mdp`` with reward ``r``.

    Soft value iteration (discounted; ``tol`` defaults to :math:`10^{-12}` relative to the
    value scale, or :math:`10^3` times the float64 floor when that is larger) or exact soft
    backward induction (episodic). In the discounted case the returned ``policy`` is the
    regularized greedy policy of the returned ``q`` (computed at the certified ``v``), so
    :math:`\|q - q^*_\Omega\|_\infty \le \gamma\,` ``error_bound`` bounds its distance to
    the optimal policy through the greedy map's Lipschitz constant, and ``policy_gap_bound``
    is :math:`2\gamma\,` ``error_bound`` :math:`/(1-\gamma)`.
    """
    from ..planning.soft_dp import soft_backward_induction, soft_value_iteration

    _check_model(mdp, "soft_optimal_policy")
    m = _with_reward(mdp, _reward(mdp, r))
    if isinstance(m, EpisodicMDP):
        return soft_backward_induction(m, reg)
    sol = soft_value_iteration(m, reg, tol=_vi_tol(m, reg) if tol is None else tol)
    return _greedy_at_q(sol, reg, m.gamma)


def _greedy_at_q(sol, reg: Regularizer, gamma: float):
    """``sol`` with ``policy`` replaced by the greedy policy of its (certified) ``q``."""
    pi = reg.max_omega(np.asarray(sol.q))[1]
    pi.setflags(write=False)
    gap = 2.0 * gamma * sol.error_bound / (1.0 - gamma)
    return replace(sol, policy=pi, policy_gap_bound=float(gap))


# ------------------------------------------------------------------------------ shaping


def shaping_matrix(mdp: FiniteMDP | EpisodicMDP) -> np.ndarray:
    r"""The dense shaping matrix :math:`B` with :math:`\operatorname{vec}(r') = \operatorname{vec}
    (r) + B\phi` for :func:`shape`.

    Discounted: ``(S*A, S)``, :math:`B = \gamma P - E` (:math:`E` the state indicator, row
    ``s*A + a`` has a one in column ``s``). Episodic: ``(H*S*A, H*S)`` for
    :math:`\phi = (\phi_0, \dots, \phi_{H-1})` (:math:`\phi_H = 0`); block ``(h, h)`` is
    :math:`-E` and block ``(h, h+1)`` is :math:`P_h`. Dense: meant for small models.

    Examples
    --------
    >>> import numpy as np
    >>> from tabular_rl import FiniteMDP
    >>> mdp = FiniteMDP(np.ones((1, 2, 1)), [[0.0, 1.0]], gamma=0.5)
    >>> shaping_matrix(mdp)
    array([[-0.5],
           [-0.5]])
    """
    _check_model(mdp, "shaping_matrix")
    S, A = mdp.S, mdp.A
    E = np.repeat(np.eye(S), A, axis=0)
    if isinstance(mdp, FiniteMDP):
        return mdp.gamma * _dense_flat(mdp.P_flat) - E
    H = mdp.H
    B = np.zeros((H * S * A, H * S))
    for h in range(H):
        rows = slice(h * S * A, (h + 1) * S * A)
        B[rows, h * S:(h + 1) * S] = -E
        if h + 1 < H:
            B[rows, (h + 1) * S:(h + 2) * S] = _dense_flat(mdp.P_flat(h))
    return B


def _potential(mdp, phi) -> np.ndarray:
    if isinstance(mdp, EpisodicMDP):
        arr = V.as_float_array("phi", phi, 2)
        if arr.shape == (mdp.H + 1, mdp.S):
            V.check_finite("phi", arr)
            if np.any(arr[-1] != 0.0):
                s = int(np.flatnonzero(arr[-1] != 0.0)[0])
                raise ValueError(f"phi[{mdp.H}, {s}] = {arr[-1, s]:.6g}: the terminal potential "
                                 f"phi_H must be zero (a terminal potential is a reward)")
            arr = arr[:-1]
        V.check_shape("phi", arr, (mdp.H, mdp.S), "(steps, states) or (H+1, S)")
    else:
        arr = V.as_float_array("phi", phi, 1)
        V.check_shape("phi", arr, (mdp.S,), "(states,)")
    V.check_finite("phi", arr)
    return arr


def shape(mdp: FiniteMDP | EpisodicMDP, r, phi) -> np.ndarray:
    r"""Potential-based shaping :math:`r' = r + \gamma P\phi - \phi`.

    .. math::

        r'(s,a) = r(s,a) + \gamma\sum_{s'}P(s'\mid s,a)\phi(s') - \phi(s);
        \qquad r'_h(s,a) = r_h(s,a) + \sum_{s'}P_h(s'\mid s,a)\phi_{h+1}(s') - \phi_h(s),
        \ \phi_H = 0.

    Every regularized (and unregularized) policy value changes by :math:`-\phi` (resp.
    :math:`-\phi_h`), so optimal and soft-optimal policies are the same for :math:`r` and
    :math:`r'` (Ng, Harada, Russell 1999, Thm. 1).

    Parameters
    ----------
    mdp : FiniteMDP or EpisodicMDP
    r : array_like
        ``(S, A)``; episodic also ``(H, S, A)``.
    phi : array_like
        ``(S,)``; episodic ``(H, S)`` (:math:`\phi_0..\phi_{H-1}`) or ``(H+1, S)`` with a zero
        last row.

    Returns
    -------
    ndarray
        ``(S, A)`` discounted, ``(H, S, A)`` episodic.

    Raises
    ------
    ValueError
        Wrong shapes, non-finite entries, a nonzero terminal potential.

    Examples
    --------
    >>> import numpy as np
    >>> from tabular_rl import FiniteMDP
    >>> mdp = FiniteMDP(np.ones((1, 2, 1)), [[0.0, 1.0]], gamma=0.5)
    >>> shape(mdp, mdp.r, [2.0])              # + 0.5 * 2 - 2
    array([[-1.,  0.]])
    """
    _check_model(mdp, "shape")
    r = _reward(mdp, r)
    phi = _potential(mdp, phi)
    S, A = mdp.S, mdp.A
    if isinstance(mdp, FiniteMDP):
        Pphi = np.asarray(mdp.P_flat @ phi).reshape(S, A)
        return r + mdp.gamma * Pphi - phi[:, None]
    out = r - phi[:, :, None]
    for h in range(mdp.H - 1):
        out[h] += np.asarray(mdp.P_flat(h) @ phi[h + 1]).reshape(S, A)
    return out


def shaping_distance(mdp: FiniteMDP | EpisodicMDP, r1, r2) -> tuple[float, np.ndarray]:
    r"""Euclidean distance of :math:`r_2 - r_1` from the shaping space, and the best potential.

    .. math::

        \operatorname{dist}(r_1, r_2) = \min_\phi \|r_2 - r_1 - B\phi\|_2

    (least squares on the shaping matrix :math:`B`, :func:`shaping_matrix`). Zero, to
    rounding, exactly when :math:`r_2` is a shaping of :math:`r_1`.

    Returns
    -------
    (float, ndarray)
        The distance and the minimizing potential ``(S,)`` (episodic ``(H, S)``).
    """
    _check_model(mdp, "shaping_distance")
    d = (_reward(mdp, r2, "r2") - _reward(mdp, r1, "r1")).reshape(-1)
    B = shaping_matrix(mdp)
    phi, *_ = np.linalg.lstsq(B, d, rcond=None)
    dist = float(np.linalg.norm(d - B @ phi))
    shape_ = (mdp.H, mdp.S) if isinstance(mdp, EpisodicMDP) else (mdp.S,)
    return dist, phi.reshape(shape_)


# --------------------------------------------------------------------- consistent rewards


def _support(pi: np.ndarray, atol: float) -> np.ndarray:
    return pi > atol


def _greedy_preimage(reg: Regularizer, pi: np.ndarray, supp: np.ndarray) -> np.ndarray:
    r"""Action values ``q`` with :math:`\mathcal G(q) = \pi` (zero threshold; off-support
    entries strictly below it)."""
    tau = reg.tau
    if isinstance(reg, Shannon) or (isinstance(reg, Tsallis) and reg._shannon):
        if not supp.all():
            s, a = np.argwhere(~supp)[0]
            raise ValueError(f"pi[{s}, {a}] = {pi[s, a]:.3g}: a Shannon-regularized optimal "
                             "policy has full support")
        return tau * np.log(pi)
    if isinstance(reg, KL):
        ref = np.broadcast_to(reg.ref, pi.shape)
        bad = supp & (ref <= 0)
        if bad.any():
            s, a = np.argwhere(bad)[0]
            raise ValueError(f"pi[{s}, {a}] = {pi[s, a]:.3g} > 0 where the KL reference is 0")
        if np.any(~supp & (ref > 0)):
            s, a = np.argwhere(~supp & (ref > 0))[0]
            raise ValueError(f"pi[{s}, {a}] = 0 where the KL reference is positive: not a "
                             "KL-regularized greedy policy")
        with np.errstate(divide="ignore"):
            return np.where(supp, tau * np.log(np.where(supp, pi / np.where(ref > 0, ref, 1.0),
                                                        1.0)), -1e300)
    if isinstance(reg, Tsallis):
        k = reg.q_index
        q = tau * k / (k - 1.0) * np.where(supp, pi, 0.0) ** (k - 1.0)
        return np.where(supp, q, -tau)
    raise TypeError(f"consistent rewards are implemented for Shannon, KL and Tsallis "
                    f"regularizers, got {type(reg).__name__}")


def consistency_jacobian(mdp: FiniteMDP, pi, *, support_atol: float = 0.0) -> np.ndarray:
    r"""The matrix :math:`K = C\,(I - \gamma P\Pi)^{-1}` whose null space is the tangent space
    of the rewards consistent with ``pi``.

    :math:`(I - \gamma P\Pi)^{-1}` maps a reward perturbation to the perturbation of the
    optimal regularized action values (:math:`dv = \Pi\,dq` by the envelope theorem);
    :math:`C` projects each state's action values on its support onto the zero-sum subspace,
    so :math:`K\,dr = 0` iff :math:`dq(s,\cdot)` is constant on the support of
    :math:`\pi(s)`, iff the greedy policy is unchanged to first order (Shannon, KL, Tsallis).

    Parameters
    ----------
    mdp : FiniteMDP
    pi : array_like (S, A)
    support_atol : float
        Actions with :math:`\pi(a\mid s) \le` ``support_atol`` are off the support.

    Returns
    -------
    ndarray (S*A, S*A)
    """
    if not isinstance(mdp, FiniteMDP):
        raise TypeError(f"consistency_jacobian needs a FiniteMDP, got {type(mdp).__name__}")
    pi = V.check_policy(pi, mdp.S, mdp.A)
    atol = V.check_real_scalar("support_atol", support_atol, 0.0, 1.0)
    return _jacobian(mdp, pi, _support(pi, atol))[0]


def _jacobian(mdp: FiniteMDP, pi: np.ndarray, supp: np.ndarray) -> tuple[np.ndarray, float]:
    """``(K, cond_2(M))`` with ``M = I - gamma P Pi``."""
    S, A = mdp.S, mdp.A
    Pi = np.zeros((S, S * A))
    Pi[np.repeat(np.arange(S), A), np.arange(S * A)] = pi.reshape(-1)
    M = np.eye(S * A) - mdp.gamma * _dense_flat(mdp.P_flat) @ Pi
    k = np.maximum(supp.sum(axis=1), 1)
    both = supp[:, :, None] & supp[:, None, :]
    Cb = np.where(both, np.eye(A)[None] - 1.0 / k[:, None, None], 0.0)
    C = np.zeros((S * A, S * A))
    for s in range(S):  # block-diagonal assembly (S blocks of A x A)
        C[s * A:(s + 1) * A, s * A:(s + 1) * A] = Cb[s]
    return np.linalg.solve(M.T, C.T).T, float(np.linalg.cond(M))


@dataclass(frozen=True, slots=True, repr=False)
class ConsistentRewardSet:
    r"""The rewards consistent with a regularized-optimal policy, near a particular one.

    Attributes
    ----------
    particular : ndarray (S, A)
        A reward whose regularized-optimal policy is the given one.
    basis : ndarray (S*A, dim)
        Orthonormal basis of the numerical null space of :func:`consistency_jacobian`.
    dim : int
        Its dimension: :math:`S` for Shannon (potential shaping); :math:`S` plus the number
        of unplayed actions for a sparse Tsallis policy.
    singular_values : ndarray
        All singular values of the Jacobian, decreasing.
    tol : float
        Singular values ``<= tol`` count as zero.
    gap : float
        Smallest retained singular value over largest discarded one (``inf`` if none
        discarded): how clearly the rank is determined.
    n_unplayed : int
        Number of :math:`(s, a)` with :math:`\pi(a\mid s) = 0`.
    """

    particular: np.ndarray
    basis: np.ndarray
    dim: int
    singular_values: np.ndarray
    tol: float
    gap: float
    n_unplayed: int

    def __repr__(self) -> str:
        return (f"ConsistentRewardSet(dim={self.dim}, tol={self.tol:.3g}, gap={self.gap:.3g}, "
                f"n_unplayed={self.n_unplayed})")


def consistent_reward_set(mdp: FiniteMDP, pi, reg: Regularizer, *, rtol: float | None = None,
                          support_atol: float = 0.0) -> ConsistentRewardSet:
    r"""Rank test of the rewards consistent with a regularized-optimal policy ``pi``.

    Computes a particular consistent reward
    :math:`r_0 = q_0 - \gamma P\,\Omega^*_\tau(q_0)` with :math:`\mathcal G_\Omega(q_0) = \pi`
    (for Shannon :math:`r_0 = \tau\log\pi`), and the null space of
    :math:`K = C(I - \gamma P\Pi)^{-1}` (:func:`consistency_jacobian`) by an SVD.

    Statement checked (module docstring): with Shannon entropy the consistent set is the
    affine space :math:`\tau\log\pi + \operatorname{range}(\gamma P - E)` of dimension
    :math:`S` (Cao et al. 2021, Thm. 1; Schlaginhaufen and Kamgarpour 2023, Sec. 3).

    Parameters
    ----------
    mdp : FiniteMDP
    pi : array_like (S, A)
        A policy in the range of the regularized greedy map (full support for Shannon).
    reg : Shannon, KL or Tsallis
    rtol : float, optional
        Singular values at most ``rtol * sigma_max`` are zero. Default
        ``max(S*A, 1) * eps * cond_2(I - gamma P Pi)``: the default of
        :func:`numpy.linalg.matrix_rank` (Press et al., *Numerical Recipes*, 2nd ed., §2.6;
        computed singular values of an exactly singular matrix are
        :math:`O(\varepsilon\,\sigma_{\max})`) times the condition number of the linear
        solve that forms :math:`K`, whose relative error is
        :math:`O(\kappa\,\varepsilon)` (Higham 2002, §14.1). In practice the nonzero
        singular values are :math:`O(1)` and the discarded ones :math:`O(10^{-16})` (the
        ``gap`` attribute reports the ratio).
    support_atol : float
        See :func:`consistency_jacobian`.

    Returns
    -------
    ConsistentRewardSet

    Examples
    --------
    >>> import numpy as np
    >>> from tabular_rl import FiniteMDP, Shannon
    >>> P = np.full((3, 2, 3), 1 / 3)
    >>> mdp = FiniteMDP(P, np.zeros((3, 2)), gamma=0.9)
    >>> consistent_reward_set(mdp, np.full((3, 2), 0.5), Shannon(1.0)).dim
    3
    """
    if not isinstance(mdp, FiniteMDP):
        raise TypeError(f"consistent_reward_set needs a FiniteMDP, got {type(mdp).__name__}")
    if not isinstance(reg, Regularizer):
        raise TypeError(f"reg must be a regularizer, got {type(reg).__name__}")
    S, A = mdp.S, mdp.A
    pi = V.check_policy(pi, S, A)
    atol = V.check_real_scalar("support_atol", support_atol, 0.0, 1.0)
    supp = _support(pi, atol)
    q0 = _greedy_preimage(reg, pi, supp)
    v0 = reg.conjugate(q0)
    r0 = q0 - mdp.gamma * np.asarray(mdp.P_flat @ v0).reshape(S, A)
    K, cond = _jacobian(mdp, pi, supp)
    if rtol is None:
        rtol = max(S * A, 1) * _EPS * cond
    rtol = V.check_real_scalar("rtol", rtol, 0.0, np.inf)
    _, sv, Vt = np.linalg.svd(K)
    tol = rtol * float(sv[0]) if sv.size and sv[0] > 0 else rtol
    rank = int(np.sum(sv > tol))
    basis = Vt[rank:].T.copy()
    gap = float(sv[rank - 1] / sv[rank]) if 0 < rank < sv.size and sv[rank] > 0 else np.inf
    for a in (r0, basis, sv):
        a.setflags(write=False)
    return ConsistentRewardSet(particular=r0, basis=basis, dim=S * A - rank,
                               singular_values=sv, tol=tol, gap=gap,
                               n_unplayed=int((~supp).sum()))


# ------------------------------------------------------------------------ counterexamples


@dataclass(frozen=True, slots=True, repr=False)
class Counterexample:
    r"""Two rewards with the same (regularized, possibly constrained) optimal policy that do
    not differ by potential shaping.

    Attributes
    ----------
    r1, r2 : ndarray (S, A)
    policy1, policy2 : ndarray (S, A)
        Optimal policies computed independently for each reward.
    policy_gap : float
        :math:`\max|\pi_1 - \pi_2|`.
    shaping_distance : float
        :math:`\min_\phi\|r_2 - r_1 - B\phi\|_2 / \|r_2 - r_1\|_2` (relative; 0 for shaping).
    unconstrained_policy_gap : float
        For the constrained counterexample, :math:`\max|\pi^{soft}_{r_1} - \pi^{soft}_{r_2}|`
        of the *unconstrained* soft-optimal policies (positive: the constraint is what makes
        the two rewards indistinguishable); ``nan`` otherwise.
    where : str
        What was changed.
    """

    r1: np.ndarray
    r2: np.ndarray
    policy1: np.ndarray
    policy2: np.ndarray
    policy_gap: float
    shaping_distance: float
    unconstrained_policy_gap: float
    where: str

    def __repr__(self) -> str:
        return (f"Counterexample({self.where}: policy_gap={self.policy_gap:.3g}, "
                f"shaping_distance={self.shaping_distance:.3g})")


def _rel_shaping_distance(mdp, r1, r2) -> float:
    diff = float(np.linalg.norm(np.asarray(r2) - np.asarray(r1)))
    return shaping_distance(mdp, r1, r2)[0] / diff if diff > 0 else 0.0


def tsallis_counterexample(mdp: FiniteMDP, reg: Tsallis, *, r=None, delta: float | None = None,
                           solver=None) -> Counterexample | None:
    r"""Two rewards with the same sparse Tsallis-optimal policy, not related by shaping.

    With :math:`\pi_1` the Tsallis-regularized optimal policy of :math:`r_1` and
    :math:`(s, a)` an unplayed action with the largest margin below the greedy threshold,
    :math:`r_2 = r_1 - \delta\,e_{s,a}` (:math:`\delta > 0`): the action stays below the
    threshold, :math:`v^*` solves the regularized Bellman equation of :math:`r_2` too, so
    :math:`\pi_2 = \pi_1`; yet :math:`e_{s,a}` is generically not in the range of the shaping
    matrix. (Schlaginhaufen and Kamgarpour 2023: identifiability up to shaping may fail for
    non-steep regularizers.)

    Parameters
    ----------
    mdp : FiniteMDP
    reg : Tsallis
        Index > 1 (a sparse greedy map).
    r : array_like (S, A), optional
        Reward :math:`r_1` (default ``mdp.r``).
    delta : float, optional
        Size of the decrease (default ``max(1, max|r|)``).
    solver : callable, optional
        ``solver(mdp, r, reg) -> Solution`` (default :func:`soft_optimal_policy`); each
        reward's policy is computed by its own call.

    Returns
    -------
    Counterexample or None
        ``None`` when :math:`\pi_1` has full support (then the consistent set is locally
        the shaping space, as for Shannon).
    """
    if not isinstance(mdp, FiniteMDP):
        raise TypeError(f"tsallis_counterexample needs a FiniteMDP, got {type(mdp).__name__}")
    if not isinstance(reg, Tsallis) or reg._shannon:
        raise TypeError("tsallis_counterexample needs a Tsallis regularizer with index > 1")
    solver = solver or soft_optimal_policy
    r1 = _reward(mdp, mdp.r if r is None else r)
    if delta is None:
        delta = max(1.0, float(np.abs(r1).max()))
    delta = V.check_real_scalar("delta", delta, 0.0, np.inf, lo_open=True)
    sol1 = solver(mdp, r1, reg)
    pi1 = np.asarray(sol1.policy)
    q = np.asarray(sol1.q)
    off = pi1 == 0.0
    if not off.any():
        return None
    # margin below the threshold: the smallest played q minus q of an unplayed action
    # (for the Tsallis greedy map every played action's q is above the threshold)
    played_min = np.where(~off, q, np.inf).min(axis=1, keepdims=True)
    margin = np.where(off, played_min - q, -np.inf)
    s, a = np.unravel_index(int(np.argmax(margin)), margin.shape)
    r2 = r1.copy()
    r2[s, a] -= delta
    pi2 = np.asarray(solver(mdp, r2, reg).policy)
    return Counterexample(r1=r1, r2=r2, policy1=pi1, policy2=pi2,
                          policy_gap=float(np.abs(pi1 - pi2).max()),
                          shaping_distance=_rel_shaping_distance(mdp, r1, r2),
                          unconstrained_policy_gap=float("nan"),
                          where=f"r2 = r1 - {delta:g} e_({s},{a}), pi1({a}|{s}) = 0")


def constraint_counterexample(cmdp, reg: Regularizer, *, t: float = 1.0, tol: float = 1e-12,
                              cmdp_solver=None) -> Counterexample | None:
    r"""Two rewards with the same entropy-regularized *constrained* optimum, not related by
    shaping.

    With an active constraint (multiplier :math:`\lambda^*_k > 0`), the constrained optimum
    for :math:`r_1` is the soft-optimal policy of :math:`r_1 - \lambda^{*\top} c`, and for
    :math:`r_2 = r_1 + t\,c_k` (:math:`t > 0`) the same policy satisfies the KKT conditions
    with multiplier :math:`\lambda^*_k + t` (the objective is strictly concave in the
    occupancy, so KKT is sufficient): both rewards have the same constrained optimum, while
    :math:`c_k` is generically not a shaping (Schlaginhaufen and Kamgarpour 2023: shaping
    identifiability may fail with active constraints). The policy for :math:`r_2` is computed
    by an independent solve of the constrained problem.

    Parameters
    ----------
    cmdp : ConstrainedMDP
        Over a :class:`~tabular_rl.FiniteMDP`.
    reg : Regularizer
    t : float
        Size of the change along the active cost.
    tol, cmdp_solver
        Passed to / replacing :func:`tabular_rl.irl.mce.solve_soft_cmdp`
        (``cmdp_solver(cmdp, reg) -> SoftCMDPSolution``).

    Returns
    -------
    Counterexample or None
        ``None`` when no constraint is active.
    """
    from ..occupancy.cmdp import ConstrainedMDP
    from .mce import solve_soft_cmdp

    if not isinstance(cmdp, ConstrainedMDP) or not isinstance(cmdp.mdp, FiniteMDP):
        raise TypeError("constraint_counterexample needs a ConstrainedMDP over a FiniteMDP")
    t = V.check_real_scalar("t", t, 0.0, np.inf, lo_open=True)
    solve = cmdp_solver or (lambda c, g: solve_soft_cmdp(c, g, tol=tol))
    sol1 = solve(cmdp, reg)
    lam = np.asarray(sol1.multipliers)
    if not np.any(lam > 0):
        return None
    k = int(np.argmax(lam))
    mdp = cmdp.mdp
    r1 = np.array(mdp.r)
    r2 = r1 + t * np.asarray(cmdp.costs[k])
    cmdp2 = ConstrainedMDP(mdp.with_reward(r2), cmdp.costs, cmdp.thresholds)
    sol2 = solve(cmdp2, reg)
    pi1, pi2 = np.asarray(sol1.policy), np.asarray(sol2.policy)
    u1 = np.asarray(soft_optimal_policy(mdp, r1, reg).policy)
    u2 = np.asarray(soft_optimal_policy(mdp, r2, reg).policy)
    return Counterexample(r1=r1, r2=r2, policy1=pi1, policy2=pi2,
                          policy_gap=float(np.abs(pi1 - pi2).max()),
                          shaping_distance=_rel_shaping_distance(mdp, r1, r2),
                          unconstrained_policy_gap=float(np.abs(u1 - u2).max()),
                          where=f"r2 = r1 + {t:g} c_{k}, lambda*_{k} = {lam[k]:.6g}")
