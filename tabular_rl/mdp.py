r"""Finite Markov decision processes: validated, immutable data.

A discounted MDP is a tuple :math:`(\mathcal S, \mathcal A, P, r, \gamma, \mu)` with
:math:`P(s'\mid s,a)` a row-stochastic kernel, :math:`r(s,a)` a bounded reward,
:math:`\gamma\in[0,1)` and :math:`\mu` the initial distribution. The value of a policy
:math:`\pi` is :math:`v^\pi = (I-\gamma P_\pi)^{-1} r_\pi` (Puterman 1994, Thm. 6.1.1).
An episodic MDP replaces :math:`\gamma` by a horizon :math:`H` and may index :math:`P`
and :math:`r` by the step :math:`h = 0, \dots, H-1`.

Transition kernels are stored either dense, as an array ``(S, A, S)``, or sparse, as a
``scipy.sparse`` CSR matrix ``(S*A, S)`` whose row ``s*A + a`` is :math:`P(\cdot\mid s,a)`.
Validation happens once, here; every array is made read-only, so nothing downstream
re-checks and no solver can modify a model.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from . import _validation as V

__all__ = ["EpisodicMDP", "FiniteMDP"]


def _check_kernel(name: str, P, atol: float):
    """Validate one kernel, dense ``(S, A, S)`` or CSR ``(S*A, S)``; return it and ``(S, A)``."""
    if sp.issparse(P):
        if (P.ndim != 2 or P.shape[1] == 0 or P.shape[0] == 0
                or P.shape[0] % P.shape[1] != 0):
            raise ValueError(f"{name} as a sparse matrix must have shape (S*A, S), got {P.shape}")
        S = P.shape[1]
        A = P.shape[0] // S
        return V.check_csr_transition(name, P, S, A, atol), S, A
    arr = V.as_float_array(name, P, 3)
    S, A, S2 = arr.shape
    if S != S2 or S == 0 or A == 0:
        raise ValueError(f"{name} must have shape (S, A, S) with S, A >= 1, got {arr.shape}")
    V.check_probability_rows(name, arr, atol)
    return V.readonly(V.normalize_rows(arr)), S, A


class _Frozen:
    __slots__ = ()

    def __setattr__(self, key, value):
        raise AttributeError(f"{type(self).__name__} is immutable; build a new one instead")

    def __delattr__(self, key):
        raise AttributeError(f"{type(self).__name__} is immutable")

    def _set(self, key, value):
        object.__setattr__(self, key, value)

    @property
    def n_states(self) -> int:
        return self.S

    @property
    def n_actions(self) -> int:
        return self.A


class FiniteMDP(_Frozen):
    r"""A discounted finite MDP.

    Parameters
    ----------
    P : array_like of shape (S, A, S) or scipy.sparse.csr_matrix of shape (S*A, S)
        Transition kernel, :math:`P[s, a, s'] = P(s' \mid s, a)`; CSR row ``s*A + a``.
    r : array_like of shape (S, A)
        Expected reward :math:`r(s, a)`.
    gamma : float
        Discount factor in :math:`[0, 1)`.
    mu : array_like of shape (S,), optional
        Initial distribution; uniform by default.
    atol : float, optional
        Tolerance on each probability row's sum (default ``1e-9``). Rows within it are
        accepted and then renormalized, so the stored kernel is stochastic to rounding
        (every certified bound assumes it; a row summing to :math:`1+\delta` would make
        :math:`T` a :math:`\gamma(1+\delta)`-contraction).

    Raises
    ------
    ValueError
        Naming the first offending index: a row of ``P`` that does not sum to one, a
        negative probability, a NaN or infinite entry, a mismatched shape, ``gamma``
        outside :math:`[0, 1)`, ``mu`` not a distribution.
    TypeError
        Non-numeric arrays, or a sparse ``P`` not in CSR format.

    Examples
    --------
    >>> import numpy as np
    >>> from tabular_rl import FiniteMDP
    >>> P = np.array([[[1.0, 0.0], [0.0, 1.0]], [[0.0, 1.0], [0.0, 1.0]]])
    >>> mdp = FiniteMDP(P, r=[[0.0, 1.0], [2.0, 2.0]], gamma=0.5)
    >>> mdp.S, mdp.A, mdp.is_sparse
    (2, 2, False)
    """

    __slots__ = ("P", "r", "gamma", "mu", "S", "A", "is_sparse", "_P_flat", "max_row_nnz",
                 "r_absmax")

    def __init__(self, P, r, gamma: float, mu=None, *, atol: float = V.SIMPLEX_ATOL):
        P, S, A = _check_kernel("P", P, atol)
        r = V.as_float_array("r", r, 2)
        V.check_shape("r", r, (S, A), "(states, actions)")
        V.check_finite("r", r)
        gamma = V.check_real_scalar("gamma", gamma, 0.0, 1.0)
        mu = np.full(S, 1.0 / S) if mu is None else V.check_distribution("mu", mu, S, atol)
        self._set("P", P)
        self._set("r", V.readonly(r))
        self._set("gamma", gamma)
        self._set("mu", V.readonly(np.array(mu, dtype=np.float64)))
        self._set("S", S)
        self._set("A", A)
        self._set("is_sparse", sp.issparse(P))
        flat = P if sp.issparse(P) else P.reshape(S * A, S)
        self._set("_P_flat", flat)
        # Derived once, used by every certified stopping test (rounding-error bounds).
        self._set("max_row_nnz", int(np.diff(P.indptr).max()) if sp.issparse(P) else S)
        self._set("r_absmax", float(np.abs(r).max()))

    @property
    def P_flat(self):
        """The kernel as an ``(S*A, S)`` matrix: a view of a dense ``P``, or the CSR itself."""
        return self._P_flat

    @property
    def nbytes(self) -> int:
        """Bytes of the model's arrays (``P`` and ``r``): what one Bellman sweep must read."""
        if self.is_sparse:
            p = self.P.data.nbytes + self.P.indices.nbytes + self.P.indptr.nbytes
        else:
            p = self.P.nbytes
        return p + self.r.nbytes

    def with_reward(self, r) -> FiniteMDP:
        """A copy with another reward (the kernel is shared, not copied or re-validated)."""
        return self._replace(r=r)

    def with_gamma(self, gamma: float) -> FiniteMDP:
        return self._replace(gamma=gamma)

    def _replace(self, **kw) -> FiniteMDP:
        new = object.__new__(FiniteMDP)
        for k in FiniteMDP.__slots__:
            object.__setattr__(new, k, getattr(self, k))
        if "r" in kw:
            r = V.as_float_array("r", kw["r"], 2)
            V.check_shape("r", r, (self.S, self.A), "(states, actions)")
            V.check_finite("r", r)
            object.__setattr__(new, "r", V.readonly(r))
            object.__setattr__(new, "r_absmax", float(np.abs(r).max()))
        if "gamma" in kw:
            object.__setattr__(new, "gamma", V.check_real_scalar("gamma", kw["gamma"], 0.0, 1.0))
        return new

    def todense(self) -> FiniteMDP:
        """The same MDP with a dense kernel (for small models and cross-checks)."""
        if not self.is_sparse:
            return self
        P = self.P.toarray().reshape(self.S, self.A, self.S)
        return FiniteMDP(P, self.r, self.gamma, self.mu)

    def tosparse(self) -> FiniteMDP:
        """The same MDP with a CSR kernel."""
        if self.is_sparse:
            return self
        return FiniteMDP(sp.csr_matrix(self._P_flat), self.r, self.gamma, self.mu)

    def __repr__(self) -> str:
        kind = f"CSR nnz={self.P.nnz}" if self.is_sparse else "dense"
        return f"FiniteMDP(S={self.S}, A={self.A}, gamma={self.gamma:g}, P={kind})"


def require_finite_mdp(mdp, fn: str, hint: str = "; use backward_induction for an "
                       "EpisodicMDP") -> None:
    """Raise ``TypeError`` unless ``mdp`` is a :class:`FiniteMDP` (``fn`` names the caller)."""
    if not isinstance(mdp, FiniteMDP):
        extra = hint if isinstance(mdp, EpisodicMDP) else ""
        raise TypeError(f"{fn} needs a FiniteMDP, got {type(mdp).__name__}{extra}")


class EpisodicMDP(_Frozen):
    r"""A finite-horizon MDP with horizon :math:`H`, optionally time-inhomogeneous.

    Parameters
    ----------
    P : array_like
        ``(S, A, S)`` or CSR ``(S*A, S)`` for a stationary kernel; ``(H, S, A, S)`` or a
        list of ``H`` CSR matrices for :math:`P_h`.
    r : array_like
        ``(S, A)`` stationary or ``(H, S, A)`` per step.
    H : int
        Horizon, at least 1. Steps are ``h = 0, ..., H-1``.
    mu : array_like of shape (S,), optional
        Initial distribution; uniform by default.

    Notes
    -----
    The value of a (possibly non-stationary) policy :math:`\pi = (\pi_h)` is
    :math:`V_h^\pi = r_{\pi_h} + P_{\pi_h} V_{h+1}^\pi`, :math:`V_H = 0`.
    """

    __slots__ = ("P", "r", "H", "mu", "S", "A", "is_sparse", "time_varying")

    def __init__(self, P, r, H: int, mu=None, *, atol: float = V.SIMPLEX_ATOL):
        H = V.check_positive_int("H", H)
        if isinstance(P, list | tuple) and P and sp.issparse(P[0]):
            if len(P) != H:
                raise ValueError(f"P as a list of CSR matrices must have H={H} entries, "
                                 f"got {len(P)}")
            kernels = []
            for h, Ph in enumerate(P):
                Ph, S, A = _check_kernel(f"P[{h}]", Ph, atol)
                if h and (S, A) != (kernels[0].shape[1], kernels[0].shape[0] // S):
                    raise ValueError(f"P[{h}] has shape {Ph.shape}, P[0] has {kernels[0].shape}")
                kernels.append(Ph)
            P, time_varying = tuple(kernels), True
        elif sp.issparse(P):
            P, S, A = _check_kernel("P", P, atol)
            time_varying = False
        else:
            arr = V.as_float_array("P", P, (3, 4))
            if arr.ndim == 4:
                if arr.shape[0] != H:
                    raise ValueError(f"time-indexed P must have shape (H={H}, S, A, S), "
                                     f"got {arr.shape}")
                _, S, A, S2 = arr.shape
                if S != S2 or S == 0 or A == 0:
                    raise ValueError(f"P must have shape (H, S, A, S), got {arr.shape}")
                V.check_probability_rows("P", arr, atol)
                P, time_varying = V.readonly(V.normalize_rows(arr)), True
            else:
                P, S, A = _check_kernel("P", arr, atol)
                time_varying = False
        r = V.as_float_array("r", r, (2, 3))
        if r.ndim == 2:
            V.check_shape("r", r, (S, A), "(states, actions)")
        else:
            V.check_shape("r", r, (H, S, A), "(steps, states, actions)")
        V.check_finite("r", r)
        mu = np.full(S, 1.0 / S) if mu is None else V.check_distribution("mu", mu, S, atol)
        self._set("P", P)
        self._set("r", V.readonly(r))
        self._set("H", H)
        self._set("mu", V.readonly(np.array(mu, dtype=np.float64)))
        self._set("S", S)
        self._set("A", A)
        self._set("is_sparse", bool(sp.issparse(P) or (isinstance(P, tuple))))
        self._set("time_varying", time_varying)

    def P_flat(self, h: int):
        """The step-``h`` kernel as an ``(S*A, S)`` matrix (dense view or CSR)."""
        if not 0 <= h < self.H:
            raise IndexError(f"step h={h} outside 0..{self.H - 1}")
        Ph = self.P[h] if self.time_varying else self.P
        return Ph if sp.issparse(Ph) else Ph.reshape(self.S * self.A, self.S)

    def r_at(self, h: int) -> np.ndarray:
        """The step-``h`` reward ``(S, A)``."""
        return self.r[h] if self.r.ndim == 3 else self.r

    def __repr__(self) -> str:
        return (f"EpisodicMDP(S={self.S}, A={self.A}, H={self.H}, "
                f"{'time-varying' if self.time_varying else 'stationary'}, "
                f"{'CSR' if self.is_sparse else 'dense'})")
