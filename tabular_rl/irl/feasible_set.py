r"""Feasible reward sets of inverse reinforcement learning: explicit form, membership with a
certificate, sampling, projection and the Hausdorff distance between two sets.

Given a model without reward and an expert policy :math:`\pi^E`, the *feasible reward set*
is the set of rewards under which :math:`\pi^E` is optimal. Its explicit form (Metelli,
Ramponi, Concetti, Restelli, "Provably Efficient Learning of Transferable Rewards", ICML
2021, Lemma 3.1, discounted; Lindner, Krause, Ramponi, "Active Exploration for Inverse
Reinforcement Learning", NeurIPS 2022, §3; Metelli, Lazzati, Restelli, "Towards Theoretical
Understanding of Inverse Reinforcement Learning", ICML 2023, finite horizon) is

.. math::

    \mathcal R_{p,\pi^E} = \big\{\, r = -B^{\pi^E}\zeta + (E - \gamma P)V \;:\;
    V\in\mathbb R^{S},\ \zeta\in\mathbb R_{\ge 0}^{S\times A} \,\big\},
    \qquad B^{\pi^E}(s,a) = \mathbb 1\{\pi^E(a\mid s) = 0\},

and, for a horizon :math:`H` (time-inhomogeneous kernels :math:`p_h`, :math:`V_H = 0`),

.. math::

    r_h(s,a) = -\zeta_h(s,a)\,\mathbb 1\{\pi^E_h(a\mid s) = 0\} + V_h(s)
    - \textstyle\sum_{s'} p_h(s'\mid s,a) V_{h+1}(s').

:math:`V` is then the expert's (= the optimal) value under :math:`r` and :math:`-\zeta` its
advantage, which is zero on the expert's support and non-positive off it. The
representation is unique (``V`` is pinned by the support actions), so
:math:`\mathcal R` is the image of a polyhedral cone under an injective linear map, and
intersecting with the box :math:`\mathcal B = [-1, 1]^{S\times A(\times H)}` of bounded
rewards gives a polytope.

Metric. Metelli et al. (2023) measure the estimation error of a feasible set by the
Hausdorff distance, over rewards bounded in :math:`[-1, 1]`, with the sup norm:

.. math::

    \mathcal H(\mathcal R, \hat{\mathcal R}) = \max\Big\{
    \sup_{r\in\mathcal R\cap\mathcal B}\ \inf_{\hat r\in\hat{\mathcal R}\cap\mathcal B}
    \|r - \hat r\|_\infty,\
    \sup_{\hat r\in\hat{\mathcal R}\cap\mathcal B}\ \inf_{r\in\mathcal R\cap\mathcal B}
    \|r - \hat r\|_\infty \Big\}.

The inner infimum is a linear program (:meth:`FeasibleRewardSet.project`); the outer
supremum maximizes a convex function over a polytope, which is NP-hard in general, so
:func:`hausdorff_distance` returns *certified bounds*, not the exact value:

* lower -- the value at a witness reward found by convex-maximization ascent (an LP for the
  distance and its subgradient, an LP for the next vertex; several seeded starts); every
  value is a distance actually attained, so it is a lower bound (up to the LP tolerance);
* upper -- from the constructive argument behind the upper bounds: a member
  :math:`r = -B\zeta + V - pV` of one set is mapped to :math:`\hat r = -B\zeta + V - \hat pV`
  of the other (same support), :math:`\|r - \hat r\|_\infty \le e =
  \max_{h,s,a} c_{h+1}\,\|p_h(\cdot|s,a) - \hat p_h(\cdot|s,a)\|_1` with :math:`c_{h+1}`
  the half-span bound of :math:`V_{h+1}` (:math:`H-h-1`, or :math:`\gamma/(1-\gamma)`
  discounted), then shrunk into the box by :math:`1/(1+e)` (the set is a cone), which
  gives :math:`\mathcal H \le 2e/(1+e)`; always :math:`\mathcal H \le 1` (both sets hold 0).

Full text. Only the abstract and first page of Metelli, Lazzati, Restelli (ICML 2023,
arXiv:2304.12966) could be retrieved; the explicit form (their Lemma on the feasible set,
stated here in the form of Metelli et al. 2021, Lemma 3.1) and the metric are encoded from
the cited works' definitions, and theorem numbers of the 2023 paper are not given.

The entropy-regularized case (:class:`SoftFeasibleRewardSet`) collapses to the rewards
:math:`r = \tau\log\pi^E + \Phi - \gamma P\Phi` (potential shaping of the expert's log
policy; Cao, Cohen, Szpruch, "Identifiability in inverse reinforcement learning", NeurIPS
2021, Thm. 1), for an expert with full support.
"""

from __future__ import annotations

import contextlib
import os
import sys
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from .. import _validation as V
from ..bellman import _as_policy
from ..mdp import EpisodicMDP, FiniteMDP

__all__ = [
    "DistanceBounds",
    "FeasibleRewardSet",
    "Membership",
    "Projection",
    "SoftFeasibleRewardSet",
    "hausdorff_distance",
]

#: HiGHS feasibility tolerances of every LP here (values are exact to about this).
LP_TOL = 1e-10


@dataclass(frozen=True)
class Membership:
    """Outcome of :meth:`FeasibleRewardSet.contains`.

    Attributes
    ----------
    ok : bool
        Whether the reward makes the expert optimal (within ``tol``).
    state, action : int
        Where the expert's advantage is worst: the largest positive advantage, or the most
        negative advantage of an action the expert plays.
    step : int or None
        The step ``h`` of that triple (``None`` for a discounted model).
    margin : float
        The violation there: ``max(max_a A(s, a), max_{a in supp} -A(s, a))``; ``<= tol``
        iff ``ok``.
    tol : float
        The tolerance used.
    """

    ok: bool
    state: int
    action: int
    step: int | None
    margin: float
    tol: float

    def __bool__(self) -> bool:
        return bool(self.ok)


@dataclass(frozen=True)
class Projection:
    """Nearest member (sup norm) of a feasible set and the distance to it.

    ``subgradient`` is a subgradient (w.r.t. the projected reward) of the distance, from the
    LP's duals; ``sum |subgradient| <= 1``.
    """

    reward: np.ndarray
    distance: float
    subgradient: np.ndarray


@dataclass(frozen=True)
class DistanceBounds:
    """Certified bounds on the Hausdorff distance between two feasible sets.

    Attributes
    ----------
    lower, upper : float
        ``lower <= H(R1, R2) <= upper``.
    lower_12, lower_21 : float
        The attained one-sided distances ``R1 -> R2`` and ``R2 -> R1``.
    witness : numpy.ndarray
        The bounded member of the farther set whose distance to the other set is ``lower``.
    witness_side : int
        1 if ``witness`` lies in ``R1``, 2 if in ``R2``.
    lp_solves : int
        Number of LPs solved.
    """

    lower: float
    upper: float
    lower_12: float
    lower_21: float
    witness: np.ndarray
    witness_side: int
    lp_solves: int


def _dense_layers(mdp) -> list[np.ndarray]:
    if isinstance(mdp, EpisodicMDP):
        out = []
        for h in range(mdp.H):
            Ph = mdp.P_flat(h)
            out.append(np.asarray(Ph.toarray() if sp.issparse(Ph) else Ph, dtype=np.float64))
        return out
    P = mdp.P_flat
    return [np.asarray(P.toarray() if sp.issparse(P) else P, dtype=np.float64)]




@contextlib.contextmanager
def _quiet_fd1():
    """Silence the process's C-level stdout (file descriptor 1) for the block."""
    try:
        sys.stdout.flush()
        saved = os.dup(1)
    except (OSError, ValueError, AttributeError):  # no real fd 1 (e.g. some test runners)
        yield
        return
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 1)
            yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)

class _HighsLP:
    """A persistent HiGHS model ``min c.x, lo <= A x <= hi, xl <= x <= xu`` whose costs or
    row bounds are changed between solves (warm-started; far cheaper than rebuilding)."""

    def __init__(self, A: sp.csr_matrix, row_lo, row_hi, col_lo, col_hi, cost):
        import highspy

        A = sp.csc_matrix(A)
        lp = highspy.HighsLp()
        lp.num_col_, lp.num_row_ = A.shape[1], A.shape[0]
        lp.col_cost_ = np.asarray(cost, dtype=np.float64)
        lp.col_lower_ = np.asarray(col_lo, dtype=np.float64)
        lp.col_upper_ = np.asarray(col_hi, dtype=np.float64)
        lp.row_lower_ = np.asarray(row_lo, dtype=np.float64)
        lp.row_upper_ = np.asarray(row_hi, dtype=np.float64)
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_ = A.indptr.astype(np.int32)
        lp.a_matrix_.index_ = A.indices.astype(np.int32)
        lp.a_matrix_.value_ = A.data.astype(np.float64)
        with _quiet_fd1():  # HiGHS prints a licence banner from C++ on construction
            h = highspy.Highs()
        h.setOptionValue("output_flag", False)
        h.setOptionValue("primal_feasibility_tolerance", LP_TOL)
        h.setOptionValue("dual_feasibility_tolerance", LP_TOL)
        h.passModel(lp)
        self._h, self._hs = h, highspy
        self.n_row, self.n_col = A.shape
        self._rows = np.arange(self.n_row, dtype=np.int32)
        self._cols = np.arange(self.n_col, dtype=np.int32)

    def reset(self) -> None:
        """Forget the warm start (basis and solution): the next solve depends on its inputs
        only, not on the solves before it (ties between optimal vertices are then broken
        the same way every time)."""
        self._h.clearSolver()

    def solve(self, *, row_lo=None, row_hi=None, cost=None):
        h = self._h
        if row_lo is not None:
            h.changeRowsBounds(self.n_row, self._rows, np.asarray(row_lo, dtype=np.float64),
                               np.asarray(row_hi, dtype=np.float64))
        if cost is not None:
            h.changeColsCost(self.n_col, self._cols, np.asarray(cost, dtype=np.float64))
        h.run()
        status = h.getModelStatus()
        if status != self._hs.HighsModelStatus.kOptimal:
            raise RuntimeError(f"LP not solved to optimality: {h.modelStatusToString(status)}")
        sol = h.getSolution()
        return (np.array(sol.col_value), np.array(sol.row_dual),
                float(h.getInfo().objective_function_value))


class FeasibleRewardSet:
    r"""The feasible reward set of an expert policy, in explicit form.

    Parameters
    ----------
    mdp : FiniteMDP or EpisodicMDP
        The model; its reward is ignored. A :class:`FiniteMDP` gives the discounted set
        :math:`r = -B\zeta + (E - \gamma P)V`, an :class:`EpisodicMDP` the finite-horizon
        one (rewards of shape ``(H, S, A)``).
    expert_policy : array_like
        ``(S, A)`` probabilities or ``(S,)`` actions; for an episodic model also
        ``(H, S, A)`` or ``(H, S)``. Only its support enters the set.

    Attributes
    ----------
    shape : tuple
        Shape of a reward: ``(S, A)`` or ``(H, S, A)``.
    support : numpy.ndarray of bool
        The expert's support, of ``shape``.
    episodic : bool
    n_off : int
        Number of (step,) state-action pairs off the expert's support (free ``zeta``).

    Examples
    --------
    >>> import numpy as np
    >>> from tabular_rl import FiniteMDP
    >>> P = np.array([[[1.0, 0.0], [0.0, 1.0]], [[0.0, 1.0], [1.0, 0.0]]])
    >>> F = FeasibleRewardSet(FiniteMDP(P, np.zeros((2, 2)), 0.5), expert_policy=[1, 0])
    >>> r = F.reward(V=[1.0, 2.0], zeta=[[0.5, 0.0], [0.0, 0.0]])
    >>> r
    array([[0. , 0. ],
           [1. , 1.5]])
    >>> bool(F.contains(r)), bool(F.contains(r + [[1.0, 0.0], [0.0, 0.0]]))
    (True, False)
    """

    def __init__(self, mdp: FiniteMDP | EpisodicMDP, expert_policy):
        if not isinstance(mdp, FiniteMDP | EpisodicMDP):
            raise TypeError(f"FeasibleRewardSet needs a FiniteMDP or an EpisodicMDP, got "
                            f"{type(mdp).__name__}")
        self.episodic = isinstance(mdp, EpisodicMDP)
        self.S, self.A = mdp.S, mdp.A
        self.L = mdp.H if self.episodic else 1
        self.gamma = 1.0 if self.episodic else float(mdp.gamma)
        self.mdp = mdp
        pi = _as_policy(mdp, expert_policy, mdp.H if self.episodic else None)
        self.policy = V.readonly(np.array(pi))
        self.shape = (mdp.H, mdp.S, mdp.A) if self.episodic else (mdp.S, mdp.A)
        self.support = V.readonly(self.policy > 0)
        self.layers = [V.readonly(P) for P in _dense_layers(mdp)]
        self._build()

    # ------------------------------------------------------------------ structure
    def _build(self) -> None:
        S, A, L = self.S, self.A, self.L
        n = L * S * A
        # E: row (l, s, a) -> V_l(s)
        E = sp.kron(sp.identity(L * S, format="csr"), np.ones((A, 1)), format="csr")
        if self.episodic:
            # G: row (h, s, a) -> p_h(. | s, a) on V_{h+1}; zero for h = H-1 (V_H = 0).
            G = sp.lil_matrix((n, L * S))
            for h in range(L - 1):
                G[h * S * A:(h + 1) * S * A, (h + 1) * S:(h + 2) * S] = self.layers[h]
            G = G.tocsr()
        else:
            G = sp.csr_matrix(self.gamma * self.layers[0])
        self._E, self._G = E, G
        self._M = (E - G).tocsr()
        off = np.flatnonzero(~self.support.reshape(-1))
        self._off = off
        self.n_off = int(off.size)
        self._B = sp.csr_matrix((np.ones(off.size), (off, np.arange(off.size))),
                                shape=(n, off.size))
        self._K = sp.hstack([self._M, -self._B], format="csr")   # r = K @ [V, zeta]
        self._nV = L * S

    def _check_reward(self, r, name: str = "r") -> np.ndarray:
        r = V.as_float_array(name, r, len(self.shape))
        V.check_shape(name, r, self.shape, "(one reward per (step,) state-action pair)")
        V.check_finite(name, r)
        return r

    def value_bound(self, layer: int) -> float:
        r"""Half-span bound of :math:`V` at ``layer`` for rewards in :math:`[-1, 1]`:
        :math:`H - h` (episodic, ``layer = h``; 0 at :math:`h = H`) or
        :math:`1/(1-\gamma)`."""
        if self.episodic:
            return float(max(self.L - layer, 0))
        return 1.0 / (1.0 - self.gamma)

    # ------------------------------------------------------------------ members
    def reward(self, V, zeta) -> np.ndarray:
        r"""The member :math:`r = -B^{\pi^E}\zeta + (E - \gamma P)V` of the free parameters.

        Parameters
        ----------
        V : array_like
            ``(S,)``, or ``(H, S)`` episodic (:math:`V_0, \dots, V_{H-1}`; :math:`V_H = 0`).
        zeta : array_like
            Non-negative, of the reward's shape; its entries on the expert's support are
            ignored (they multiply :math:`B^{\pi^E} = 0`).
        """
        Vshape = (self.L, self.S) if self.episodic else (self.S,)
        Vv = np.asarray(V, dtype=np.float64)
        if Vv.shape != Vshape:
            raise ValueError(f"V must have shape {Vshape}, got {Vv.shape}")
        z = self._check_reward(zeta, "zeta")
        neg = z < 0
        if neg.any():
            idx = np.unravel_index(int(np.argmax(neg)), z.shape)
            raise ValueError(f"zeta[{', '.join(map(str, idx))}] is {z[idx]}, zeta must be >= 0")
        r = self._M @ Vv.reshape(-1) - (z.reshape(-1) * ~self.support.reshape(-1))
        return r.reshape(self.shape)

    def expert_values(self, r) -> tuple[np.ndarray, np.ndarray]:
        """``(V, Q)`` of the expert under ``r``: ``V`` ``(S,)`` or ``(H+1, S)``, ``Q`` of the
        reward's shape (exact: backward induction or a linear solve)."""
        r = self._check_reward(r)
        if self.episodic:
            from ..evaluation import _evaluate_episodic

            return _evaluate_episodic(self._model(r), self.policy)
        from ..bellman import q_values
        from ..evaluation import evaluate_policy

        model = self.mdp.with_reward(r)
        v = evaluate_policy(model, self.policy)
        return v, q_values(model, v)

    def _model(self, r):
        """The model with reward ``r`` (an :class:`EpisodicMDP` with per-step kernels)."""
        if self.episodic:
            P = np.stack(self.layers).reshape(self.L, self.S, self.A, self.S)
            return EpisodicMDP(P, r, self.L, self.mdp.mu)
        return self.mdp.with_reward(r)

    def advantage(self, r) -> np.ndarray:
        r"""The expert's advantage :math:`A^{\pi^E}_r = Q^{\pi^E}_r - V^{\pi^E}_r`."""
        v, q = self.expert_values(r)
        return q - (v[:-1, :, None] if self.episodic else v[:, None])

    def default_tol(self, r) -> float:
        """Rounding-level tolerance for :meth:`contains`: ``1e-9`` relative to the scale of
        the expert's values under ``r``."""
        r = np.asarray(r, dtype=np.float64)
        scale = float(np.abs(r).max(initial=0.0)) * (self.L if self.episodic
                                                     else 1.0 / (1.0 - self.gamma))
        return 1e-9 * max(1.0, scale)

    def contains(self, r, tol: float | None = None) -> Membership:
        r"""Whether :math:`\pi^E` is optimal under ``r``, with the worst (step,) state-action.

        The expert is optimal iff its advantage satisfies :math:`A^{\pi^E}_r \le 0`
        everywhere (policy improvement theorem; Puterman 1994, Thm. 6.2.6 / 4.3.3), which
        forces :math:`A = 0` on its support. ``margin`` is the largest violation;
        ``ok = margin <= tol``.
        """
        r = self._check_reward(r)
        tol = self.default_tol(r) if tol is None else float(tol)
        adv = self.advantage(r)
        viol = np.where(self.support, np.maximum(adv, -adv), adv)
        k = int(np.argmax(viol))
        idx = np.unravel_index(k, self.shape)
        margin = float(viol[idx])
        step = int(idx[0]) if self.episodic else None
        s, a = int(idx[-2]), int(idx[-1])
        return Membership(ok=margin <= tol, state=s, action=a, step=step, margin=margin,
                          tol=tol)

    def sample(self, n: int, *, seed=None, normalize: str = "sup") -> np.ndarray:
        r"""``n`` seeded random members, of shape ``(n, *shape)``.

        :math:`V_h(s) \sim U[-c_h, c_h]` (:meth:`value_bound`), :math:`\zeta \sim
        \mathrm{Exp}(1)\cdot c` off the support with probability 3/4 (else 0, so that ties
        with the expert also occur), then the member is normalized for the bounded-reward
        metric: ``normalize="sup"`` scales it to :math:`\|r\|_\infty = 1` (a member of
        :math:`\mathcal R \cap \mathcal B` on the box's boundary; the set is a cone, so
        scaling keeps membership), ``"box"`` to :math:`\|r\|_\infty = u`,
        :math:`u\sim U(0, 1]`, ``"none"`` leaves it.
        """
        n = V.check_positive_int("n", n)
        if normalize not in ("sup", "box", "none"):
            raise ValueError(f"normalize must be 'sup', 'box' or 'none', got {normalize!r}")
        rng = np.random.default_rng(seed)
        c = np.array([self.value_bound(layer) for layer in range(self.L)])
        Vs = rng.uniform(-1.0, 1.0, (n, self.L, self.S)) * c[None, :, None]
        z = rng.exponential(1.0, (n, self.n_off)) * c.max()
        z *= rng.random((n, self.n_off)) < 0.75
        X = np.concatenate([Vs.reshape(n, -1), z], axis=1)
        r = (self._K @ X.T).T
        if normalize != "none":
            norm = np.abs(r).max(axis=1)
            norm[norm == 0] = 1.0
            r /= norm[:, None]
            if normalize == "box":
                r *= 1.0 - rng.random((n, 1))
        return r.reshape((n, *self.shape))

    def outside(self, r, margin: float, *, seed=None, index=None) -> tuple[np.ndarray, tuple]:
        r"""Move a member just outside the set: raise one off-support reward so the expert's
        advantage there becomes ``+margin``.

        Changing :math:`r_h(s,a)` for :math:`\pi^E_h(a|s) = 0` moves :math:`Q_h(s,a)` only
        (not the expert's values), so afterwards :math:`A_h(s,a) = \text{margin}` and
        :math:`V^*_h(s) \ge V^{\pi^E}_h(s) + \text{margin}`.

        Returns the new reward and the index ``(h, s, a)`` (``(s, a)`` discounted) moved.
        Raises ``ValueError`` when the expert has no action off its support.
        """
        r = self._check_reward(r)
        if self.n_off == 0:
            raise ValueError("the expert plays every action everywhere: no reward lies "
                             "outside its feasible set by a single off-support move")
        if index is None:
            k = int(self._off[np.random.default_rng(seed).integers(self.n_off)])
            index = np.unravel_index(k, self.shape)
        index = tuple(int(i) for i in index)
        if self.support[index]:
            raise ValueError(f"index {index} is on the expert's support")
        adv = self.advantage(r)
        out = r.copy()
        out[index] += -adv[index] + float(margin)
        return out, index

    # ------------------------------------------------------------------ LPs
    def _projector(self, bounded: bool) -> _HighsLP:
        """The LP of :meth:`project` (built once; only its row bounds depend on r)."""
        key = "_lp_bounded" if bounded else "_lp_free"
        lp = self.__dict__.get(key)
        if lp is None:
            K = self._K
            n = K.shape[0]
            ones = sp.csr_matrix(np.ones((n, 1)))
            rows = [sp.hstack([K, -ones]), sp.hstack([K, ones])]
            if bounded:
                rows.append(sp.hstack([K, sp.csr_matrix((n, 1))]))
            A = sp.vstack(rows, format="csr")
            nx = K.shape[1]
            cost = np.zeros(nx + 1)
            cost[-1] = 1.0
            col_lo = np.r_[np.full(self._nV, -np.inf), np.zeros(self.n_off + 1)]
            lo = np.r_[np.full(n, -np.inf), np.zeros(n), -np.ones(n if bounded else 0)]
            hi = np.r_[np.zeros(n), np.full(n, np.inf), np.ones(n if bounded else 0)]
            lp = _HighsLP(A, lo, hi, col_lo, np.full(nx + 1, np.inf), cost)
            self.__dict__[key] = lp
        return lp

    def project(self, r, *, bounded: bool = True) -> Projection:
        r"""Nearest member in the sup norm: the LP

        .. math::

            \min_{V,\ \zeta\ge 0,\ t}\ t \quad\text{s.t.}\quad
            |{-B\zeta} + (E-\gamma P)V - r| \le t\mathbf 1
            \ (\text{and } |{-B\zeta} + (E-\gamma P)V| \le \mathbf 1 \text{ if bounded}),

        the paper's metric being sup-norm based. Idempotent on members (distance 0).
        """
        r = self._check_reward(r).reshape(-1)
        n = r.size
        lp = self._projector(bounded)
        extra = 2 * n if bounded else n
        lo = np.r_[np.full(n, -np.inf), r, -np.ones(extra - n)]
        hi = np.r_[r, np.full(n, np.inf), np.ones(extra - n)]
        x, dual, val = lp.solve(row_lo=lo, row_hi=hi)
        grad = dual[:n] + dual[n:2 * n]        # both rows' bounds move with r
        member = (self._K @ x[:-1]).reshape(self.shape)
        return Projection(reward=member, distance=max(val, 0.0),
                          subgradient=grad.reshape(self.shape))

    def distance(self, r, *, bounded: bool = True) -> float:
        """Sup-norm distance from ``r`` to the set (``bounded``: to its bounded part)."""
        return self.project(r, bounded=bounded).distance

    def argmax_linear(self, y) -> np.ndarray:
        r"""A bounded member maximizing :math:`\langle y, r\rangle` over
        :math:`\mathcal R\cap\mathcal B` (an LP; a vertex of the polytope)."""
        y = np.asarray(y, dtype=np.float64).reshape(-1)
        K = self._K
        lp = self.__dict__.get("_lp_box")
        if lp is None:
            n, nx = K.shape
            lp = _HighsLP(K, -np.ones(n), np.ones(n),
                          np.r_[np.full(self._nV, -np.inf), np.zeros(self.n_off)],
                          np.full(nx, np.inf), np.zeros(nx))
            self.__dict__["_lp_box"] = lp
        x, _, _ = lp.solve(cost=-(K.T @ y))
        return np.clip(K @ x, -1.0, 1.0).reshape(self.shape)

    def __repr__(self) -> str:
        kind = f"H={self.L}" if self.episodic else f"gamma={self.gamma:g}"
        return (f"FeasibleRewardSet(S={self.S}, A={self.A}, {kind}, "
                f"off-support pairs={self.n_off})")


def _compatible(F1: FeasibleRewardSet, F2: FeasibleRewardSet) -> None:
    if F1.shape != F2.shape or F1.episodic != F2.episodic or F1.gamma != F2.gamma:
        raise ValueError(f"feasible sets of different models cannot be compared: {F1!r} vs "
                         f"{F2!r}")


def _upper(F1: FeasibleRewardSet, F2: FeasibleRewardSet) -> float:
    """Constructive upper bound ``min(1, 2e/(1+e))`` (see the module docstring)."""
    if not np.array_equal(F1.support, F2.support):
        return 1.0
    e = 0.0
    for layer, (P1, P2) in enumerate(zip(F1.layers, F2.layers, strict=True)):
        if F1.episodic and layer == F1.L - 1:
            continue                       # r_{H-1} = V_{H-1} - zeta: no kernel term
        c = F1.value_bound(layer + 1) if F1.episodic else F1.gamma * F1.value_bound(0)
        e = max(e, c * float(np.abs(P1 - P2).sum(axis=1).max()))
    return float(min(1.0, 2.0 * e / (1.0 + e)))


def _one_sided(F1: FeasibleRewardSet, F2: FeasibleRewardSet, starts: int, max_iter: int,
               seed) -> tuple[float, np.ndarray, int]:
    """Ascent lower bound on sup_{r in F1 & B} dist(r, F2 & B)."""
    rng = np.random.default_rng(seed)
    # Cold-start the cached LPs: with warm starts, degenerate LPs break ties between optimal
    # vertices by solve history, and the ascent (hence the bound) depended on earlier calls.
    for F in (F1, F2):
        for lp in F.__dict__.values():
            if isinstance(lp, _HighsLP):
                lp.reset()
    best, witness, solves = 0.0, np.zeros(F1.shape), 0
    for _ in range(starts):
        y = rng.standard_normal(F1.shape)
        prev = -np.inf
        for _ in range(max_iter):
            r = F1.argmax_linear(y)
            proj = F2.project(r)
            solves += 2
            if proj.distance > best:
                best, witness = proj.distance, r
            if proj.distance <= prev + 1e-12 or not np.any(proj.subgradient):
                break
            prev = proj.distance
            y = proj.subgradient
    return best, witness, solves


def hausdorff_distance(F1: FeasibleRewardSet, F2: FeasibleRewardSet, *, starts: int = 3,
                       max_iter: int = 8, seed=0) -> DistanceBounds:
    r"""Certified bounds on the Hausdorff distance (sup norm, rewards in :math:`[-1, 1]`)
    between two feasible sets of the same kind and size (Metelli, Lazzati, Restelli, ICML
    2023, the PAC metric of the feasible-set estimation problem).

    ``lower`` is attained (convex-maximization ascent from ``starts`` seeded random
    directions, at most ``max_iter`` rounds of two LPs each, per direction), ``upper`` is
    the constructive bound :math:`\min(1, 2e/(1+e))` of the module docstring (1 when the
    supports differ). Each direction uses its own generator seeded by ``seed`` so the
    result is symmetric: ``hausdorff_distance(F2, F1)`` swaps ``lower_12`` and
    ``lower_21`` and nothing else (up to the LP solver's rounding, ~1e-12 relative).
    """
    _compatible(F1, F2)
    d12, w12, n12 = _one_sided(F1, F2, starts, max_iter, seed)
    d21, w21, n21 = _one_sided(F2, F1, starts, max_iter, seed)
    up = _upper(F1, F2)
    if d12 >= d21:
        lo, w, side = d12, w12, 1
    else:
        lo, w, side = d21, w21, 2
    return DistanceBounds(lower=lo, upper=max(up, lo), lower_12=d12, lower_21=d21,
                          witness=w, witness_side=side, lp_solves=n12 + n21)


class SoftFeasibleRewardSet:
    r"""Rewards under which a full-support expert is *soft*-optimal (Shannon entropy,
    temperature :math:`\tau`): the expert equals :math:`\mathrm{softmax}(Q^{\pi^E}_{\tau,r}/\tau)`.

    The set is :math:`\{\tau\log\pi^E + \Phi - \gamma P\Phi\}` (discounted;
    :math:`r_h = \tau\log\pi^E_h + \Phi_h - p_h\Phi_{h+1}`, :math:`\Phi_H = 0`, episodic):
    rewards equal up to potential shaping (Cao, Cohen, Szpruch, NeurIPS 2021, Thm. 1; with
    :math:`\Phi = V^*_\tau`, :math:`Q^*_\tau = \tau\log\pi^E + \Phi`).

    Examples
    --------
    >>> import numpy as np
    >>> from tabular_rl import FiniteMDP
    >>> mdp = FiniteMDP(np.full((2, 2, 2), 0.5), np.zeros((2, 2)), 0.9)
    >>> F = SoftFeasibleRewardSet(mdp, [[0.25, 0.75], [0.5, 0.5]], tau=0.5)
    >>> r = F.reward(Phi=[1.0, -1.0])
    >>> bool(F.contains(r)), bool(F.contains(r + [[0.1, 0.0], [0.0, 0.0]]))
    (True, False)
    """

    def __init__(self, mdp: FiniteMDP | EpisodicMDP, expert_policy, tau: float):
        from ..regularizers import Shannon

        self.reg = Shannon(tau)
        self.tau = self.reg.tau
        self._hard = FeasibleRewardSet(mdp, expert_policy)
        if self._hard.n_off:
            k = int(self._hard._off[0])
            idx = np.unravel_index(k, self._hard.shape)
            raise ValueError(f"a soft-optimal expert has full support, but expert_policy"
                             f"{list(idx)} is 0")
        self.shape = self._hard.shape
        self.policy = self._hard.policy
        self.mdp = mdp

    def reward(self, Phi) -> np.ndarray:
        r""":math:`\tau\log\pi^E + (E - \gamma P)\Phi`."""
        base = self._hard.reward(Phi, np.zeros(self.shape))
        return base + self.tau * np.log(self.policy)

    def soft_greedy(self, r) -> np.ndarray:
        """``softmax(Q^{pi^E}_{tau, r} / tau)`` of the expert's regularized Q under ``r``."""
        from ..soft_bellman import regularized_q_function

        r = self._hard._check_reward(r)
        q = regularized_q_function(self._hard._model(r), self.policy, self.reg)
        return self.reg.greedy(q)

    def contains(self, r, tol: float = 1e-9) -> Membership:
        r"""Membership: the expert is a fixed point of soft improvement under ``r``, i.e.
        :math:`\pi^E = \mathrm{softmax}(Q^{\pi^E}_{\tau,r}/\tau)` (then it is the unique
        soft-optimal policy; Geist, Scherrer, Pietquin 2019, Thm. 1). ``margin`` is the
        largest :math:`|\tau\log\pi^E - \tau\log\mathrm{softmax}|`."""
        g = self.soft_greedy(r)
        with np.errstate(divide="ignore"):
            gap = np.abs(self.tau * (np.log(self.policy) - np.log(g)))
        k = int(np.argmax(gap))
        idx = np.unravel_index(k, self.shape)
        margin = float(gap[idx])
        step = int(idx[0]) if self._hard.episodic else None
        return Membership(ok=margin <= tol, state=int(idx[-2]), action=int(idx[-1]),
                          step=step, margin=margin, tol=float(tol))
