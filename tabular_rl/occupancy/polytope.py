r"""The occupancy-measure polytope: flow constraints, policy <-> occupancy maps, membership.

**Discounted** (normalized). For a stationary policy :math:`\pi` and initial distribution
:math:`\mu`, the normalized discounted occupancy
:math:`d^\pi_\mu(s,a) = (1-\gamma)\,\big[\mu^\top(I-\gamma P_\pi)^{-1}\big](s)\,\pi(a\mid s)`
is a probability distribution on :math:`\mathcal S\times\mathcal A`, and the set of all of
them is exactly the polytope (Puterman 1994, Thm. 6.9.1; Altman 1999, Thm. 3.2)

.. math::

    \mathcal D_\mu = \Big\{ d \in \mathbb R_{\ge 0}^{S A} :\;
    \sum_a d(s',a) - \gamma \sum_{s,a} P(s'\mid s,a)\, d(s,a) = (1-\gamma)\,\mu(s')
    \;\; \forall s' \Big\},

i.e. :math:`(E - \gamma P)^\top d = (1-\gamma)\mu` with :math:`E` the ``(S*A, S)`` state
indicator and :math:`P` the ``(S*A, S)`` kernel ``mdp.P_flat``. Summing the constraints
gives :math:`\sum_{s,a} d(s,a) = 1`. The variable is flattened as ``d[s*A + a]``; the
expected discounted return of :math:`\pi` is :math:`\langle d^\pi_\mu, r\rangle / (1-\gamma)
= \mu^\top v^\pi`.

**Episodic** (horizon :math:`H`). The variable stacks one distribution per step,
``d[h*S*A + s*A + a]`` :math:`= d_h(s,a) = \Pr(s_h = s, a_h = a)`, and

.. math::

    \sum_a d_0(s,a) = \mu(s), \qquad
    \sum_a d_{h+1}(s',a) = \sum_{s,a} P_h(s'\mid s,a)\, d_h(s,a) \quad (h = 0..H-2),

with :math:`d \ge 0`; the return is :math:`\sum_h \langle d_h, r_h\rangle = \mu^\top V_0^\pi`
(Altman 1999, Ch. 3; Puterman 1994, §4).

Conversely, any :math:`d` in the polytope is the occupancy of
:math:`\pi_d(a\mid s) = d(s,a)/\sum_{a'} d(s,a')` (any action distribution on states that
:math:`d` does not visit), which :func:`occupancy_to_policy` computes.

The constraint matrix is assembled once per call as a scipy CSR matrix from the model's
``(S*A, S)`` kernel; a CSR model is never densified (and no ``S x S`` dense matrix is
formed for any model). Hold on to the :class:`FlowConstraints` object and pass it as
``constraints=`` to avoid rebuilding it.

References
----------
.. [1] M. L. Puterman, *Markov Decision Processes*, Wiley, 1994, §6.9, Thm. 6.9.1.
.. [2] E. Altman, *Constrained Markov Decision Processes*, Chapman & Hall/CRC, 1999,
   Ch. 3, Thm. 3.2.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from .. import _validation as V
from ..bellman import _as_policy
from ..evaluation import occupancy_measure
from ..mdp import EpisodicMDP, FiniteMDP

__all__ = [
    "FlowConstraints",
    "flow_constraints",
    "linear_objective",
    "membership_residual",
    "occupancy_to_policy",
    "policy_to_occupancy",
]


@dataclass(frozen=True, slots=True, repr=False)
class FlowConstraints:
    r"""The equality constraints :math:`A_{eq}\, d = b_{eq}` (with :math:`d \ge 0`) of the
    occupancy polytope of a model.

    Attributes
    ----------
    A_eq : scipy.sparse.csr_matrix
        ``(S, S*A)`` discounted; ``(H*S, H*S*A)`` episodic (row ``h*S + s``).
    b_eq : ndarray
        ``(1-gamma) * mu`` discounted; ``mu`` followed by ``(H-1)*S`` zeros episodic.
        Read-only.
    shape : tuple of int
        ``A_eq.shape``: (number of equality constraints, number of variables).
    kind : {"discounted", "episodic"}
    S, A : int
    H : int or None
        Horizon (``None`` for a discounted model).
    gamma : float or None
        Discount (``None`` for an episodic model).
    mu : ndarray (S,)
        The initial distribution the constraints are for (read-only).
    """

    A_eq: sp.csr_matrix
    b_eq: np.ndarray
    shape: tuple[int, int]
    kind: str
    S: int
    A: int
    H: int | None
    gamma: float | None
    mu: np.ndarray

    @property
    def n_variables(self) -> int:
        return self.shape[1]

    @property
    def var_shape(self) -> tuple[int, ...]:
        """Shape of the occupancy as an array: ``(S, A)`` or ``(H, S, A)``."""
        return (self.S, self.A) if self.H is None else (self.H, self.S, self.A)

    def residual(self, d) -> float:
        r""":math:`\max(\|A_{eq} d - b_{eq}\|_\infty, \max_i (-d_i)^+)` for a flat or shaped
        ``d``."""
        x = _flat(self, d)
        eq = float(np.abs(self.A_eq @ x - self.b_eq).max(initial=0.0))
        return max(eq, float(np.maximum(-x, 0.0).max(initial=0.0)))

    def __repr__(self) -> str:
        extra = f"gamma={self.gamma:g}" if self.H is None else f"H={self.H}"
        return (f"FlowConstraints({self.kind}, S={self.S}, A={self.A}, {extra}, "
                f"A_eq {self.shape[0]}x{self.shape[1]} nnz={self.A_eq.nnz})")


def _mu(mdp, mu) -> np.ndarray:
    if mu is None:
        return np.array(mdp.mu, dtype=np.float64)
    return np.array(V.check_distribution("mu", mu, mdp.S), dtype=np.float64)


def _check_model(mdp, fn: str) -> None:
    if not isinstance(mdp, FiniteMDP | EpisodicMDP):
        raise TypeError(f"{fn} needs a FiniteMDP or EpisodicMDP, got {type(mdp).__name__}")


def _state_sum(S: int, A: int) -> sp.csr_matrix:
    r""":math:`E^\top`, ``(S, S*A)``: row ``s`` sums the entries ``s*A .. s*A + A-1``."""
    cols = np.arange(S * A)
    return sp.csr_matrix((np.ones(S * A), (cols // A, cols)), shape=(S, S * A))


def _as_csr(P_flat) -> sp.csr_matrix:
    return P_flat if sp.issparse(P_flat) else sp.csr_matrix(P_flat)


def flow_constraints(mdp: FiniteMDP | EpisodicMDP, mu=None) -> FlowConstraints:
    r"""The flow (Bellman-flow) constraints of the occupancy polytope, sparse.

    Discounted (normalized occupancy, ``d[s*A + a]``):

    .. math::

        \sum_a d(s',a) - \gamma \sum_{s,a} P(s'\mid s,a)\, d(s,a) = (1-\gamma)\mu(s');

    episodic (``d[h*S*A + s*A + a]``):
    :math:`\sum_a d_0(s,a) = \mu(s)`,
    :math:`\sum_a d_{h+1}(s',a) - \sum_{s,a} P_h(s'\mid s,a) d_h(s,a) = 0`.
    Together with :math:`d \ge 0` they describe exactly the occupancies of (Markov)
    policies (Puterman 1994, Thm. 6.9.1; Altman 1999, Thm. 3.2).

    Parameters
    ----------
    mdp : FiniteMDP or EpisodicMDP
        Dense or CSR kernel.
    mu : array_like (S,), optional
        Initial distribution (default ``mdp.mu``).

    Returns
    -------
    FlowConstraints

    Examples
    --------
    >>> import numpy as np
    >>> from tabular_rl import FiniteMDP
    >>> from tabular_rl.occupancy import flow_constraints
    >>> P = np.array([[[1.0, 0.0], [0.0, 1.0]], [[0.0, 1.0], [0.0, 1.0]]])
    >>> fc = flow_constraints(FiniteMDP(P, np.zeros((2, 2)), gamma=0.5, mu=[1.0, 0.0]))
    >>> fc.A_eq.toarray()
    array([[ 0.5,  1. ,  0. ,  0. ],
           [ 0. , -0.5,  0.5,  0.5]])
    >>> fc.b_eq
    array([0.5, 0. ])
    """
    _check_model(mdp, "flow_constraints")
    S, A = mdp.S, mdp.A
    mu = _mu(mdp, mu)
    Et = _state_sum(S, A)
    if isinstance(mdp, FiniteMDP):
        g = mdp.gamma
        A_eq = (Et - g * _as_csr(mdp.P_flat).T).tocsr()
        b_eq = (1.0 - g) * mu
        H, kind, gamma = None, "discounted", g
    else:
        H = mdp.H
        blocks = [[None] * H for _ in range(H)]
        for h in range(H):
            blocks[h][h] = Et
            if h + 1 < H:
                blocks[h + 1][h] = -_as_csr(mdp.P_flat(h)).T
        A_eq = sp.bmat(blocks, format="csr") if H > 1 else Et.tocsr()
        b_eq = np.zeros(H * S)
        b_eq[:S] = mu
        kind, gamma = "episodic", None
    A_eq.sum_duplicates()
    A_eq.sort_indices()
    return FlowConstraints(A_eq=A_eq, b_eq=V.readonly(b_eq), shape=tuple(A_eq.shape),
                           kind=kind, S=S, A=A, H=H, gamma=gamma, mu=V.readonly(mu))


def linear_objective(mdp: FiniteMDP | EpisodicMDP, r=None) -> np.ndarray:
    r"""A reward (or cost) ``(S, A)`` (``(H, S, A)`` episodic) flattened to the variable
    layout of :func:`flow_constraints`, so that :math:`\langle d, r\rangle` is ``c @ d``.

    Default ``r = mdp.r`` (an episodic stationary ``(S, A)`` reward is repeated per step).
    Discounted: ``c @ d`` :math:`= (1-\gamma)\,\mu^\top v^\pi` for :math:`d = d^\pi_\mu`;
    episodic: :math:`\mu^\top V_0^\pi`.
    """
    _check_model(mdp, "linear_objective")
    S, A = mdp.S, mdp.A
    if isinstance(mdp, FiniteMDP):
        arr = V.as_float_array("r", mdp.r if r is None else r, 2)
        V.check_shape("r", arr, (S, A), "(states, actions)")
    else:
        arr = V.as_float_array("r", mdp.r if r is None else r, (2, 3))
        if arr.ndim == 2:
            V.check_shape("r", arr, (S, A), "(states, actions)")
            arr = np.broadcast_to(arr, (mdp.H, S, A))
        V.check_shape("r", arr, (mdp.H, S, A), "(steps, states, actions)")
    V.check_finite("r", arr)
    return np.ascontiguousarray(arr).reshape(-1).copy()


def policy_to_occupancy(mdp: FiniteMDP | EpisodicMDP, pi, mu=None) -> np.ndarray:
    r"""Normalized occupancy of a policy: ``(S, A)`` discounted, ``(H, S, A)`` episodic.

    Discounted :math:`d^\pi_\mu(s,a) = (1-\gamma)[\mu^\top(I-\gamma P_\pi)^{-1}](s)\,
    \pi(a\mid s)` (sums to one); episodic :math:`d_h(s,a) = \Pr_\mu^\pi(s_h=s, a_h=a)`.
    A thin wrapper of :func:`tabular_rl.occupancy_measure` (``normalized=True``).
    """
    _check_model(mdp, "policy_to_occupancy")
    if isinstance(mdp, EpisodicMDP):
        return occupancy_measure(mdp, pi, mu)
    return occupancy_measure(mdp, pi, mu, normalized=True)


def _flat(fc_or_shape, d) -> np.ndarray:
    """``d`` as a flat float vector of the variable length (accepts flat or shaped)."""
    shape = fc_or_shape.var_shape if isinstance(fc_or_shape, FlowConstraints) else fc_or_shape
    arr = V.as_float_array("d", d, (1, len(shape)))
    n = int(np.prod(shape))
    if arr.ndim == 1:
        V.check_shape("d", arr, (n,), "(flattened occupancy)")
    else:
        V.check_shape("d", arr, tuple(shape), "(occupancy)")
    V.check_finite("d", arr)
    return arr.reshape(-1)


def _var_shape(mdp) -> tuple[int, ...]:
    if isinstance(mdp, EpisodicMDP):
        return (mdp.H, mdp.S, mdp.A)
    return (mdp.S, mdp.A)


def occupancy_to_policy(mdp: FiniteMDP | EpisodicMDP, d, *, unvisited: str = "uniform",
                        reference=None, atol: float = 0.0) -> np.ndarray:
    r"""The policy of an occupancy: :math:`\pi(a\mid s) = d(s,a) / \sum_{a'} d(s,a')`.

    Parameters
    ----------
    mdp : FiniteMDP or EpisodicMDP
    d : array_like
        Occupancy ``(S, A)`` (episodic ``(H, S, A)``) or flattened in the layout of
        :func:`flow_constraints`. Normalization does not matter. Negative entries of
        magnitude at most ``max(atol, 1e-12 * max|d|)`` (solver round-off) are treated as
        zero; larger negative entries raise.
    unvisited : {"uniform", "reference"}
        Rule on unvisited states, those with :math:`\sum_a d(s,a) \le` ``atol`` (per step
        for an episodic model): the uniform distribution over actions, or the rows of
        ``reference``. Whatever the rule, the occupancy of the returned policy is ``d``
        when ``d`` lies in the polytope: unvisited states carry no mass.
    reference : array_like, optional
        Policy ``(S, A)`` (episodic also ``(H, S, A)``), required for
        ``unvisited="reference"``.
    atol : float
        State-mass threshold (default 0: only states with exactly zero mass are unvisited).

    Returns
    -------
    ndarray
        ``(S, A)`` or ``(H, S, A)``, rows on the simplex.

    Raises
    ------
    ValueError
        Wrong shape, non-finite or (beyond round-off) negative entries, unknown
        ``unvisited``, missing ``reference``.

    Examples
    --------
    >>> import numpy as np
    >>> from tabular_rl import FiniteMDP
    >>> from tabular_rl.occupancy import occupancy_to_policy
    >>> mdp = FiniteMDP(np.full((2, 2, 2), 0.5), np.zeros((2, 2)), gamma=0.5)
    >>> occupancy_to_policy(mdp, [[0.3, 0.1], [0.0, 0.0]])
    array([[0.75, 0.25],
           [0.5 , 0.5 ]])
    """
    _check_model(mdp, "occupancy_to_policy")
    if unvisited not in ("uniform", "reference"):
        raise ValueError(f"unvisited must be 'uniform' or 'reference', got {unvisited!r}")
    atol = V.check_real_scalar("atol", atol, 0.0, np.inf)
    shape = _var_shape(mdp)
    x = _flat(shape, d).reshape(shape)
    neg_tol = max(atol, 1e-12 * float(np.abs(x).max(initial=0.0)))
    bad = x < -neg_tol
    if bad.any():
        idx = np.unravel_index(int(np.argmax(bad)), x.shape)
        raise ValueError(f"d[{', '.join(map(str, idx))}] = {x[idx]:.6g} is negative; an "
                         "occupancy is non-negative")
    x = np.maximum(x, 0.0)
    mass = x.sum(axis=-1)
    visited = mass > atol
    if unvisited == "reference":
        if reference is None:
            raise ValueError("unvisited='reference' needs a reference policy")
        H = mdp.H if isinstance(mdp, EpisodicMDP) else None
        fill = np.array(_as_policy(mdp, reference, H), dtype=np.float64)
    else:
        fill = np.full(shape, 1.0 / mdp.A)
    pi = fill
    safe = np.where(visited, mass, 1.0)
    pi = np.where(visited[..., None], x / safe[..., None], fill)
    return pi


def membership_residual(mdp: FiniteMDP | EpisodicMDP, d, mu=None, *,
                        constraints: FlowConstraints | None = None) -> float:
    r"""How far ``d`` is from the occupancy polytope, in constraint residual.

    .. math::

        \max\big(\|A_{eq}\, d - b_{eq}\|_\infty,\; \max_i\, (-d_i)^+\big),

    zero (to rounding) exactly when ``d`` is the (normalized) occupancy of some policy.

    Parameters
    ----------
    mdp : FiniteMDP or EpisodicMDP
    d : array_like
        ``(S, A)`` / ``(H, S, A)`` or flattened.
    mu : array_like (S,), optional
        Initial distribution (default ``mdp.mu``); ignored when ``constraints`` is given.
    constraints : FlowConstraints, optional
        Prebuilt :func:`flow_constraints` of ``mdp`` (saves rebuilding them).

    Examples
    --------
    >>> import numpy as np
    >>> from tabular_rl import FiniteMDP
    >>> from tabular_rl.occupancy import membership_residual, policy_to_occupancy
    >>> mdp = FiniteMDP(np.full((2, 2, 2), 0.5), [[1.0, 0.0], [0.0, 1.0]], gamma=0.9)
    >>> d = policy_to_occupancy(mdp, [[0.5, 0.5], [1.0, 0.0]])
    >>> membership_residual(mdp, d) < 1e-15, round(membership_residual(mdp, 2 * d), 6)
    (True, 0.05)
    """
    fc = flow_constraints(mdp, mu) if constraints is None else constraints
    if (fc.S, fc.A) != (mdp.S, mdp.A):
        raise ValueError(f"constraints are for S={fc.S}, A={fc.A}, the model has "
                         f"S={mdp.S}, A={mdp.A}")
    return fc.residual(d)
