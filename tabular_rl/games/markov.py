r"""Two-player zero-sum Markov (stochastic) games: model, Shapley iteration, its
entropy-regularized (soft) version, best responses and exploitability.

A discounted zero-sum Markov game :math:`(\mathcal S, \mathcal A, \mathcal B, P, r, \gamma)`
has a max player choosing :math:`a\in\mathcal A`, a min player choosing
:math:`b\in\mathcal B` simultaneously, a kernel :math:`P(s'\mid s,a,b)` and a reward
:math:`r(s,a,b)` paid by the min player to the max player. For stationary strategies
:math:`x(\cdot\mid s)\in\Delta_A`, :math:`y(\cdot\mid s)\in\Delta_B` the value is
:math:`V^{x,y} = (I-\gamma P_{xy})^{-1} r_{xy}`.

Shapley (L. S. Shapley, "Stochastic Games", PNAS 39, 1953) showed that the operator

.. math::

    (T v)(s) = \operatorname{val}\big[Q_v(s)\big],\qquad
    Q_v(s,a,b) = r(s,a,b) + \gamma\sum_{s'}P(s'\mid s,a,b)\,v(s'),

(:math:`\operatorname{val}` the value of the matrix game) is a monotone
:math:`\gamma`-contraction that commutes with constant shifts; its fixed point :math:`v^*` is
the value of the game, and stage equilibria of :math:`Q_{v^*}` form a stationary Nash
equilibrium. Hence the MacQueen box of :mod:`tabular_rl.solution` holds. We use a sharper,
strategy-based form: for any :math:`v` and any stage strategies :math:`(x, y)` with
:math:`L(s) = \min_b (Q_v(s)^\top x(s))_b` and :math:`U(s) = \max_a (Q_v(s) y(s))_a`,

.. math::

    L + \tfrac{\gamma}{1-\gamma}\min_s(L - v) \;\le\; V^{x,\dagger} \;\le\; v^*
    \;\le\; V^{\dagger,y} \;\le\; U + \tfrac{\gamma}{1-\gamma}\max_s(U - v),

because :math:`L = T_x v` and :math:`U = T^y v` for the best-response operators
:math:`T_x v = \min_{y'} x^\top Q_v y'`, :math:`T^y v = \max_{x'} x'^\top Q_v y`, both
monotone :math:`\gamma`-contractions with the shift property whose fixed points are
:math:`V^{x,\dagger}` (min player best responding to :math:`x`) and :math:`V^{\dagger,y}`.
So the width of this box bounds both :math:`|v - v^*|` (its centre) and the exploitability
:math:`V^{\dagger,y} - V^{x,\dagger}` of the returned pair, and inexact stage solves are
accounted for automatically.

The *soft* (entropy-regularized) game gives both players an entropy bonus with temperature
:math:`\tau`, :math:`\max_x\min_y x^\top Q y + \tau\mathcal H(x) - \tau\mathcal H(y)`.
Its stage saddle point is the logit QRE :math:`x = \mathrm{softmax}(Qy/\tau)`,
:math:`y = \mathrm{softmax}(-Q^\top x/\tau)` and the same box holds with
:math:`L_\tau = \tau\mathcal H(x) - \tau\log\sum_b e^{-(Q^\top x)_b/\tau}` and
:math:`U_\tau = \tau\log\sum_a e^{(Qy)_a/\tau} - \tau\mathcal H(y)`.

References
----------
.. [1] L. S. Shapley, "Stochastic Games", PNAS 39 (10), 1953.
.. [2] A. J. Hoffman, R. M. Karp, "On Nonterminating Stochastic Games", Management Science
   12 (5), 1966 (policy iteration for games).
.. [3] J. MacQueen, "A modified dynamic programming method for Markovian decision
   problems", J. Math. Anal. Appl. 14, 1966.
.. [4] J. Filar, K. Vrieze, *Competitive Markov Decision Processes*, Springer 1997, §3.9.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from .. import _validation as V
from ..bellman import q_values
from ..exceptions import ConvergenceError
from ..mdp import FiniteMDP, _Frozen
from ..solution import report_cap, sweep_rounding
from .matrix import solve_matrix_games

__all__ = [
    "GameExploitability",
    "GameSolution",
    "MarkovGame",
    "best_response_max",
    "best_response_min",
    "game_exploitability",
    "hoffman_karp",
    "policy_pair_value",
    "random_markov_game",
    "shapley_iteration",
    "soft_matrix_games",
    "soft_shapley_iteration",
    "stage_games",
]

_U = np.finfo(np.float64).eps / 2


# --------------------------------------------------------------------------- model


class MarkovGame(_Frozen):
    r"""A discounted two-player zero-sum Markov game (validated, immutable).

    Parameters
    ----------
    P : array_like (S, A, B, S), or scipy.sparse CSR of shape (S*A*B, S)
        :math:`P[s, a, b, s'] = P(s'\mid s, a, b)`; CSR row ``(s*A + a)*B + b``.
    r : array_like (S, A, B)
        Reward to the max player (paid by the min player).
    gamma : float in [0, 1)
    mu : array_like (S,), optional
        Initial distribution (uniform by default).
    atol : float
        Tolerance on probability row sums; accepted rows are renormalized.

    Raises
    ------
    ValueError
        Naming the first offending index and value (a row not summing to one, a negative or
        non-finite entry, a bad shape, ``gamma`` outside [0, 1)).

    Examples
    --------
    >>> import numpy as np
    >>> g = MarkovGame(np.ones((1, 2, 2, 1)), [[[1.0, -1.0], [-1.0, 1.0]]], gamma=0.5)
    >>> g.S, g.A, g.B
    (1, 2, 2)
    """

    __slots__ = ("P", "r", "gamma", "mu", "S", "A", "B", "is_sparse", "joint", "r_absmax")

    def __init__(self, P, r, gamma: float, mu=None, *, atol: float = V.SIMPLEX_ATOL):
        r = V.as_float_array("r", r, 3)
        S, A, B = r.shape
        if 0 in r.shape:
            raise ValueError(f"r must have shape (S, A, B) with S, A, B >= 1, got {r.shape}")
        V.check_finite("r", r)
        if sp.issparse(P):
            if P.format != "csr":
                raise TypeError(f"P must be in CSR format (row (s*A + a)*B + b), got "
                                f"{P.format.upper()}; convert with P.tocsr()")
            if P.shape != (S * A * B, S):
                raise ValueError(f"P as a sparse matrix must have shape (S*A*B, S) = "
                                 f"({S * A * B}, {S}) to match r of shape {r.shape}, "
                                 f"got {P.shape}")
            _precheck_csr(P, A, B, atol)
            P = V.check_csr_transition("P", P, S, A * B, atol)
            flat = P
        else:
            P = V.as_float_array("P", P, 4)
            if P.shape != (S, A, B, S):
                raise ValueError(f"P must have shape (S, A, B, S) = {(S, A, B, S)} to match "
                                 f"r of shape {r.shape}, got {P.shape}")
            V.check_probability_rows("P", P, atol)
            P = V.readonly(V.normalize_rows(P))
            flat = P.reshape(S, A * B, S)
        gamma = V.check_real_scalar("gamma", gamma, 0.0, 1.0)
        mu = np.full(S, 1.0 / S) if mu is None else V.check_distribution("mu", mu, S, atol)
        joint = FiniteMDP(flat, r.reshape(S, A * B), gamma, mu)
        self._set("P", P)
        self._set("r", V.readonly(r))
        self._set("gamma", gamma)
        self._set("mu", V.readonly(np.array(mu, dtype=np.float64)))
        self._set("S", S)
        self._set("A", A)
        self._set("B", B)
        self._set("is_sparse", sp.issparse(P))
        self._set("joint", joint)
        self._set("r_absmax", float(np.abs(r).max()))

    @property
    def as_mdp(self) -> FiniteMDP:
        """The joint-action MDP ``(S, A*B)`` (action ``a*B + b``): for generative sampling
        (:func:`tabular_rl.sampling.sample_counts`) and one-step backups."""
        return self.joint

    def __repr__(self) -> str:
        kind = f"CSR nnz={self.P.nnz}" if self.is_sparse else "dense"
        return (f"MarkovGame(S={self.S}, A={self.A}, B={self.B}, gamma={self.gamma:g}, "
                f"P={kind})")


def _precheck_csr(P, A: int, B: int, atol: float) -> None:
    """Name the offending ``(s, a, b)`` of a bad CSR row before the generic checks run."""
    P = P.tocsr()
    data = np.asarray(P.data, dtype=np.float64)
    nrow = P.shape[0]
    row_of = np.repeat(np.arange(nrow), np.diff(P.indptr))

    def idx(row):
        s, rest = divmod(int(row), A * B)
        return s, rest // B, rest % B

    bad = ~np.isfinite(data)
    if bad.any():
        k = int(np.argmax(bad))
        s, a, b = idx(row_of[k])
        raise ValueError(f"P[{s}, {a}, {b}, {P.indices[k]}] is {data[k]}, entries must be finite")
    neg = data < 0
    if neg.any():
        k = int(np.argmax(neg))
        s, a, b = idx(row_of[k])
        raise ValueError(f"P[{s}, {a}, {b}, {P.indices[k]}] = {data[k]:.6g} is negative")
    sums = np.bincount(row_of, weights=data, minlength=nrow)
    off = np.abs(sums - 1.0) > atol
    if off.any():
        row = int(np.argmax(off))
        s, a, b = idx(row)
        raise ValueError(f"P[{s}, {a}, {b}, :] (CSR row {row}) sums to {sums[row]:.12g}, "
                         f"not 1 (tolerance {atol:g})")


def random_markov_game(S: int, A: int, B: int, gamma: float = 0.9, *, seed=None,
                       branching: int | None = None, sparse: bool = False) -> MarkovGame:
    """A random game: rewards uniform in [-1, 1], each row of ``P`` uniform on the simplex
    over ``branching`` random next states (all ``S`` by default)."""
    rng = np.random.default_rng(seed)
    k = S if branching is None else max(1, min(int(branching), S))
    n = S * A * B
    r = rng.uniform(-1.0, 1.0, (S, A, B))
    w = rng.exponential(size=(n, k))
    w /= w.sum(axis=1, keepdims=True)
    cols = np.argsort(rng.random((n, S)), axis=1)[:, :k] if k < S else np.tile(np.arange(S),
                                                                                 (n, 1))
    Pf = sp.csr_matrix((w.ravel(), (np.repeat(np.arange(n), k), cols.ravel())), shape=(n, S))
    Pf.sort_indices()
    if sparse:
        return MarkovGame(Pf, r, gamma)
    return MarkovGame(Pf.toarray().reshape(S, A, B, S), r, gamma)


def _check_game(game, fn: str) -> None:
    if not isinstance(game, MarkovGame):
        raise TypeError(f"{fn} needs a MarkovGame, got {type(game).__name__}")


def stage_games(game: MarkovGame, v) -> np.ndarray:
    r"""The stage games :math:`Q_v = r + \gamma P v`, shape ``(S, A, B)``."""
    v = np.ascontiguousarray(v, dtype=np.float64)
    if v.shape != (game.S,):
        raise ValueError(f"v must have shape ({game.S},) (one value per state), got {v.shape}")
    return q_values(game.joint, v).reshape(game.S, game.A, game.B)


# ------------------------------------------------------------- soft stage games


def _lse(z: np.ndarray) -> np.ndarray:
    m = z.max(axis=-1, keepdims=True)
    return (m + np.log(np.exp(z - m).sum(axis=-1, keepdims=True)))[..., 0]


def _log_softmax(z: np.ndarray) -> np.ndarray:
    return z - _lse(z)[..., None]


def _qre_F(Q, tau, a, b):
    x, y = np.exp(a), np.exp(b)
    ga = np.einsum("nab,nb->na", Q, y) / tau
    gb = -np.einsum("nab,na->nb", Q, x) / tau
    return a - _log_softmax(ga), b - _log_softmax(gb), x, y, ga, gb


def _newton(Q, tau, a, b, tol, max_steps):
    """Damped Newton on F(a, b) = (a - logsoftmax(Qy/tau), b - logsoftmax(-Q^T x/tau)),
    with a, b the log-strategies; backtracking on max|F| per game."""
    N, A, B = Q.shape
    F1, F2, x, y, ga, gb = _qre_F(Q, tau, a, b)
    res = np.maximum(np.abs(F1).max(axis=1), np.abs(F2).max(axis=1))
    eyeA, eyeB = np.eye(A), np.eye(B)
    for _ in range(max_steps):
        act = res > tol
        if not act.any():
            break
        idx = np.flatnonzero(act)
        Qi, xi, yi = Q[idx], x[idx], y[idx]
        xp, yp = np.exp(_log_softmax(ga[idx])), np.exp(_log_softmax(gb[idx]))
        Jy = yi[:, :, None] * eyeB - yi[:, :, None] * yi[:, None, :]
        Jx = xi[:, :, None] * eyeA - xi[:, :, None] * xi[:, None, :]
        PiA = eyeA - np.ones((1, A, 1)) * xp[:, None, :]
        PiB = eyeB - np.ones((1, B, 1)) * yp[:, None, :]
        M1 = -PiA @ (Qi / tau) @ Jy                                    # dF1/db
        M2 = PiB @ (np.transpose(Qi, (0, 2, 1)) / tau) @ Jx            # dF2/da
        J = np.zeros((idx.size, A + B, A + B))
        J[:, :A, :A] = eyeA
        J[:, A:, A:] = eyeB
        J[:, :A, A:] = M1
        J[:, A:, :A] = M2
        rhs = -np.concatenate([F1[idx], F2[idx]], axis=1)
        try:
            d = np.linalg.solve(J, rhs[..., None])[..., 0]
        except np.linalg.LinAlgError:
            d = rhs
        da, db = d[:, :A], d[:, A:]
        t = np.ones(idx.size)
        old = res[idx]
        ai, bi = a[idx], b[idx]
        for _ls in range(30):
            na = _log_softmax(ai + t[:, None] * da)
            nb = _log_softmax(bi + t[:, None] * db)
            f1, f2, *_ = _qre_F(Qi, tau, na, nb)
            nres = np.maximum(np.abs(f1).max(axis=1), np.abs(f2).max(axis=1))
            ok = nres < old * (1 - 1e-4 * t) + 1e-300
            if ok.all():
                break
            t = np.where(ok, t, 0.5 * t)
        better = nres < old
        sel = idx[better]
        a[sel], b[sel] = na[better], nb[better]
        if not better.any():
            break
        F1, F2, x, y, ga, gb = _qre_F(Q, tau, a, b)
        res = np.maximum(np.abs(F1).max(axis=1), np.abs(F2).max(axis=1))
    return a, b, res


def soft_matrix_games(Qs, tau: float, *, tol: float | None = None, x0=None, y0=None,
                      max_steps: int = 100) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                     np.ndarray]:
    r"""Logit QREs of a batch of entropy-regularized zero-sum matrix games.

    For each ``Q = Qs[n]`` the unique saddle point of
    :math:`x^\top Q y + \tau\mathcal H(x) - \tau\mathcal H(y)`, characterized by
    :math:`x = \mathrm{softmax}(Qy/\tau)`, :math:`y = \mathrm{softmax}(-Q^\top x/\tau)`
    (McKelvey & Palfrey, GEB 1995), found by damped Newton steps on these equations in
    log-space, batched over games (one ``(A+B)``-square solve per game and step). Without a
    warm start (``x0, y0``) a temperature homotopy from :math:`\max(\tau, 2\max|Q|)` down to
    :math:`\tau` (halving) keeps every Newton solve in its quadratic region; a warm start
    that fails is retried with the homotopy.

    Returns
    -------
    values : ndarray (N,)
        Midpoint of the certified enclosure ``[lower, upper]`` of the regularized value.
    X : ndarray (N, A)
    Y : ndarray (N, B)
    half_gap : ndarray (N,)
        Half the regularized duality gap ``upper - lower`` (a bound on ``|values - val|``).

    Examples
    --------
    >>> v, X, Y, h = soft_matrix_games([[[1.0, -1.0], [-1.0, 1.0]]], 0.5)
    >>> round(float(v[0]), 12), X.round(12).tolist()      # tau log 2 - tau log 2
    (0.0, [[0.5, 0.5]])
    """
    Q = V.as_float_array("Qs", Qs, 3)
    V.check_finite("Qs", Q)
    tau = V.check_real_scalar("tau", tau, 0.0, np.inf, lo_open=True)
    N, A, B = Q.shape
    scale = float(np.abs(Q).max()) if Q.size else 0.0
    if tol is None:
        tol = 64 * _U * (1.0 + scale / tau) * max(A, B)
    if x0 is not None and y0 is not None:
        a = np.log(np.maximum(np.asarray(x0, dtype=float), 1e-300))
        b = np.log(np.maximum(np.asarray(y0, dtype=float), 1e-300))
        a, b = _log_softmax(a.copy()), _log_softmax(b.copy())
        a, b, res = _newton(Q, tau, a, b, tol, max_steps)
        bad = res > tol
    else:
        a, b = np.full((N, A), -np.log(A)), np.full((N, B), -np.log(B))
        bad = np.ones(N, dtype=bool)
    if bad.any():
        idx = np.flatnonzero(bad)
        ai = np.full((idx.size, A), -np.log(A))
        bi = np.full((idx.size, B), -np.log(B))
        t = max(tau, 2.0 * scale)
        while True:
            tl = 64 * _U * (1.0 + scale / t) * max(A, B)
            ai, bi, _ = _newton(Q[idx], t, ai, bi, tl if t == tau else 1e-8, max_steps)
            if t == tau:
                break
            t = max(tau, 0.5 * t)
        a[idx], b[idx] = ai, bi
    X, Y = np.exp(a), np.exp(b)
    X /= X.sum(axis=1, keepdims=True)
    Y /= Y.sum(axis=1, keepdims=True)
    lower, upper = _soft_bounds(Q, tau, X, Y)
    return 0.5 * (lower + upper), X, Y, 0.5 * np.maximum(upper - lower, 0.0)


def _entropy(p: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(p > 0, p * np.log(p), 0.0)
    return -t.sum(axis=-1)


def _soft_bounds(Q, tau, X, Y):
    """``L = tau H(x) - tau lse(-Q^T x / tau)`` <= val_tau <= ``U = tau lse(Qy/tau) - tau H(y)``."""
    lower = tau * _entropy(X) - tau * _lse(-np.einsum("nab,na->nb", Q, X) / tau)
    upper = tau * _lse(np.einsum("nab,nb->na", Q, Y) / tau) - tau * _entropy(Y)
    return lower, upper


def _hard_bounds(Q, X, Y):
    """``L = min_b (Q^T x)_b`` <= val <= ``U = max_a (Q y)_a``."""
    return np.einsum("nab,na->nb", Q, X).min(axis=1), np.einsum("nab,nb->na", Q, Y).max(axis=1)


# ------------------------------------------------------------------ solutions


@dataclass(frozen=True, slots=True, repr=False)
class GameSolution:
    """What a Markov game solver returns.

    Attributes
    ----------
    v : ndarray (S,)
        Value estimate (centre of the certified box).
    q : ndarray (S, A, B)
        Stage games at ``v``.
    x, y : ndarray (S, A), (S, B)
        Stationary strategies of the max and min player (stage equilibria at the last iterate).
    converged : bool
    iterations : int
    residual : float
        :math:`\\|Tv_k - v_k\\|_\\infty` at the last iterate.
    error_bound : float
        Certified bound on :math:`\\|v - v^*\\|_\\infty` (:math:`v^*_\\tau` when ``tau > 0``).
    exploitability_bound : float
        Certified bound on :math:`\\max_s V^{\\dagger,y}(s) - V^{x,\\dagger}(s)` (regularized
        values when ``tau > 0``).
    method : str
    message : str
    tau : float
        Temperature (0 for the unregularized game).
    history : ndarray or None
        Per-iteration residuals when recorded.
    """

    v: np.ndarray
    q: np.ndarray
    x: np.ndarray
    y: np.ndarray
    converged: bool
    iterations: int
    residual: float
    error_bound: float
    exploitability_bound: float
    method: str
    message: str
    tau: float = 0.0
    history: np.ndarray | None = None

    def __repr__(self) -> str:
        verdict = "converged" if self.converged else "NOT converged"
        return (f"GameSolution({verdict}, method={self.method!r}, iterations={self.iterations},"
                f" error_bound={self.error_bound:.3g}, exploitability_bound="
                f"{self.exploitability_bound:.3g}, tau={self.tau:g})\n  {self.message}")


def _fp(game: MarkovGame, v: np.ndarray, Q: np.ndarray, tau: float) -> float:
    """Rounding of one computed sweep (backup + stage bounds), divided by ``1 - gamma``."""
    k = game.A + game.B + 8
    stage = k * _U * (float(np.abs(Q).max()) + (tau * np.log(game.A * game.B) if tau else 0.0))
    return (sweep_rounding(game.joint, v) + stage) / (1.0 - game.gamma)


def _box(game, v, Q, L, U, tau):
    c = game.gamma / (1.0 - game.gamma)
    lo = L + c * float((L - v).min())
    hi = U + c * float((U - v).max())
    fp = _fp(game, v, Q, tau)
    return lo - fp, hi + fp


def _support_solve(Q, Xp, Yp):
    """Stage equilibria from the previous sweep's supports (equal sizes): solve the
    indifference equations per support size in a batch; return ``(X, Y, ok)`` where ``ok``
    marks games whose solution is feasible with a duality gap at rounding level (the other
    games must be re-solved by LP)."""
    N, A, B = Q.shape
    X, Y = np.zeros((N, A)), np.zeros((N, B))
    ok = np.zeros(N, dtype=bool)
    mx, my = Xp > 0, Yp > 0
    kx, ky = mx.sum(axis=1), my.sum(axis=1)
    for k in np.unique(kx[kx == ky]):
        idx = np.flatnonzero((kx == k) & (ky == k))
        I = np.argsort(~mx[idx], axis=1, kind="stable")[:, :k]
        J = np.argsort(~my[idx], axis=1, kind="stable")[:, :k]
        sub = Q[idx[:, None, None], I[:, :, None], J[:, None, :]]      # (n, k, k)
        Ky = np.zeros((idx.size, k + 1, k + 1))
        Ky[:, :k, :k] = sub
        Ky[:, :k, k] = -1.0
        Ky[:, k, :k] = 1.0
        Kx = Ky.copy()
        Kx[:, :k, :k] = np.transpose(sub, (0, 2, 1))
        rhs = np.zeros((idx.size, k + 1, 1))
        rhs[:, k] = 1.0
        try:
            sy = np.linalg.solve(Ky, rhs)[..., 0]
            sx = np.linalg.solve(Kx, rhs)[..., 0]
        except np.linalg.LinAlgError:
            continue
        good = (sy[:, :k].min(axis=1) >= 0) & (sx[:, :k].min(axis=1) >= 0)
        good &= np.isfinite(sy).all(axis=1) & np.isfinite(sx).all(axis=1)
        rows = np.arange(idx.size)[:, None]
        xs, ys = np.zeros((idx.size, A)), np.zeros((idx.size, B))
        xs[rows, I] = sx[:, :k]
        ys[rows, J] = sy[:, :k]
        X[idx[good]], Y[idx[good]] = xs[good], ys[good]
        ok[idx[good]] = True
    if ok.any():
        X[ok] /= X[ok].sum(axis=1, keepdims=True)
        Y[ok] /= Y[ok].sum(axis=1, keepdims=True)
        L, U = _hard_bounds(Q[ok], X[ok], Y[ok])
        tol = 64 * _U * (A + B) * (1.0 + np.abs(Q[ok]).max(axis=(1, 2)))
        sub_ok = (U - L) <= tol
        ok[np.flatnonzero(ok)[~sub_ok]] = False
    return X, Y, ok


def _stage(game, Q, tau, stage_solver, warm):
    if tau == 0.0:
        if stage_solver is None and warm is not None and min(game.A, game.B) > 1:
            X, Y, ok = _support_solve(Q, warm[0], warm[1])
            if not ok.all():
                bad = ~ok
                _, X[bad], Y[bad] = solve_matrix_games(Q[bad])
        else:
            _, X, Y = (stage_solver or solve_matrix_games)(Q)
        L, U = _hard_bounds(Q, X, Y)
        return X, Y, L, U
    if stage_solver is not None:
        _, X, Y, *_ = stage_solver(Q, tau)
    elif warm is None:
        _, X, Y, _ = soft_matrix_games(Q, tau)
    else:
        _, X, Y, _ = soft_matrix_games(Q, tau, x0=warm[0], y0=warm[1])
    L, U = _soft_bounds(Q, tau, X, Y)
    return X, Y, L, U


def _initial(game, v0):
    if v0 is None:
        return np.zeros(game.S)
    v0 = V.as_float_array("v0", v0, 1)
    V.check_shape("v0", v0, (game.S,), "(one value per state)")
    V.check_finite("v0", v0)
    return v0


def _sweeps(game, tau, tol, max_iter, v0, record_history, strict, stage_solver, method):
    _check_game(game, method)
    tol = V.check_real_scalar("tol", tol, 0.0, np.inf, lo_open=True)
    max_iter = V.check_positive_int("max_iter", max_iter)
    v = _initial(game, v0)
    hist = [] if record_history else None
    warm = None
    converged = False
    for k in range(1, max_iter + 1):
        Q = stage_games(game, v)
        X, Y, L, U = _stage(game, Q, tau, stage_solver, warm)
        warm = (X, Y)
        lo, hi = _box(game, v, Q, L, U, tau)
        bound = 0.5 * float((hi - lo).max())
        Tv = 0.5 * (L + U)
        res = float(np.abs(Tv - v).max())
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
        msg = report_cap(method, k, res, bound, tol, strict)
    v_hat = 0.5 * (lo + hi)
    q_hat = stage_games(game, v_hat)
    for arr in (v_hat, q_hat, X, Y):
        arr.setflags(write=False)
    return GameSolution(v=v_hat, q=q_hat, x=X, y=Y, converged=converged, iterations=k,
                        residual=res, error_bound=bound,
                        exploitability_bound=float((hi - lo).max()), method=method,
                        message=msg, tau=float(tau),
                        history=None if hist is None else np.array(hist))


def shapley_iteration(game: MarkovGame, *, tol: float = 1e-8, max_iter: int = 100_000,
                      v0=None, record_history: bool = False, strict: bool = False,
                      stage_solver: Callable | None = None) -> GameSolution:
    r"""Shapley's value iteration :math:`v_{k+1}(s) = \operatorname{val}[r(s) + \gamma P(s) v_k]`.

    All ``S`` stage games of a sweep are solved in one batch: the first sweep by
    :func:`~tabular_rl.games.matrix.solve_matrix_games` (one block-diagonal HiGHS LP), later
    sweeps by solving the indifference equations on the previous sweep's equilibrium supports
    (batched per support size), accepted only where the resulting pair is feasible with a
    duality gap at rounding level; the other games go back to the LP. (The certified box uses
    the duality gaps actually attained, so this shortcut cannot weaken the bounds.) Stops when
    the half-width of the certified box (module docstring) is at most ``tol``.

    Parameters
    ----------
    game : MarkovGame
    tol : float
        Certified bound on :math:`\|v - v^*\|_\infty`.
    max_iter : int
        Sweep cap (warns with :class:`~tabular_rl.ConvergenceWarning`, raises if ``strict``).
    v0 : array_like (S,), optional
    stage_solver : callable, optional
        ``stage_solver(Qs) -> (values, X, Y)``, used for every sweep (default: the
        support warm start above with ``solve_matrix_games`` as fallback).

    Returns
    -------
    GameSolution
        ``error_bound`` (value) and ``exploitability_bound`` (of ``(x, y)``) are proven.

    References
    ----------
    L. S. Shapley, "Stochastic Games", PNAS 39, 1953, Theorems 1-2.

    Examples
    --------
    >>> g = MarkovGame(np.ones((1, 2, 2, 1)), [[[1.0, -1.0], [-1.0, 1.0]]], gamma=0.5)
    >>> sol = shapley_iteration(g, tol=1e-10)
    >>> abs(float(sol.v[0])) < 1e-9, sol.x.round(6).tolist()
    (True, [[0.5, 0.5]])
    """
    return _sweeps(game, 0.0, tol, max_iter, v0, record_history, strict, stage_solver,
                   "shapley_iteration")


def soft_shapley_iteration(game: MarkovGame, tau: float, *, tol: float = 1e-8,
                           max_iter: int = 100_000, v0=None, record_history: bool = False,
                           strict: bool = False,
                           stage_solver: Callable | None = None) -> GameSolution:
    r"""Entropy-regularized Shapley iteration; its fixed point is a Markov logit QRE.

    .. math::

        v_{k+1}(s) = \max_{x\in\Delta_A}\min_{y\in\Delta_B}\;
        x^\top Q_{v_k}(s)\, y + \tau\mathcal H(x) - \tau\mathcal H(y),

    a monotone :math:`\gamma`-contraction with the shift property, so the certified box of
    the module docstring (with the soft bounds) applies. At the fixed point
    :math:`v^*_\tau`, :math:`x(s) = \mathrm{softmax}(Q(s) y(s)/\tau)` and
    :math:`y(s) = \mathrm{softmax}(-Q(s)^\top x(s)/\tau)` with :math:`Q = Q_{v^*_\tau}` the
    soft Q-function of the pair itself: a logit QRE of the Markov game (Reddi, Tölle,
    Peters, Chalvatzaki, D'Eramo, "Robust Adversarial Reinforcement Learning via Bounded
    Rationality Curricula", ICLR 2024; McKelvey & Palfrey 1995). Its unregularized
    exploitability is at most :math:`\tau\log(AB)/(1-\gamma)` (see
    :mod:`proofs_check.claims.qarl`).

    Parameters
    ----------
    tau : float > 0
    stage_solver : callable, optional
        ``stage_solver(Qs, tau) -> (values, X, Y, ...)`` (default :func:`soft_matrix_games`,
        warm-started from the previous sweep).

    Examples
    --------
    >>> g = MarkovGame(np.ones((1, 2, 2, 1)), [[[0.0, 0.0], [0.0, 0.0]]], gamma=0.5)
    >>> round(float(soft_shapley_iteration(g, 1.0, tol=1e-12).v[0]), 12)  # log2 - log2
    0.0
    """
    tau = V.check_real_scalar("tau", tau, 0.0, np.inf, lo_open=True)
    return _sweeps(game, tau, tol, max_iter, v0, record_history, strict, stage_solver,
                   "soft_shapley_iteration")


# ---------------------------------------------------------- best responses


def _check_strategy(name, pi, S, n):
    pi = V.check_policy(pi, S, n, name=name)
    return V.normalize_rows(np.array(pi))


def _induced_mdp(game: MarkovGame, pi: np.ndarray, player: str, tau: float = 0.0
                 ) -> FiniteMDP:
    """The MDP of one player when the other plays the stationary strategy ``pi``.

    ``player="max"``: ``pi`` is the min player's ``(S, B)``; rewards ``r_y(s, a)``.
    ``player="min"``: ``pi`` is the max player's ``(S, A)``; rewards ``-r_x(s, b)`` (the min
    player maximizes the negated reward).
    """
    S, A, B = game.S, game.A, game.B
    ent = tau * _entropy(pi)
    if player == "max":
        r = np.einsum("sab,sb->sa", game.r, pi) - ent[:, None]
        if game.is_sparse:
            rows = np.repeat(np.arange(S * A), B)
            cols = np.arange(S * A * B)
            W = sp.csr_matrix((np.repeat(pi, A, axis=0).reshape(-1), (rows, cols)),
                              shape=(S * A, S * A * B))
            return FiniteMDP((W @ game.P).tocsr(), r, game.gamma, game.mu)
        return FiniteMDP(np.einsum("sabt,sb->sat", game.P, pi), r, game.gamma, game.mu)
    r = -np.einsum("sab,sa->sb", game.r, pi) - ent[:, None]
    if game.is_sparse:
        s_idx, a_idx, b_idx = np.unravel_index(np.arange(S * A * B), (S, A, B))
        W = sp.csr_matrix((pi[s_idx, a_idx], (s_idx * B + b_idx, np.arange(S * A * B))),
                          shape=(S * B, S * A * B))
        return FiniteMDP((W @ game.P).tocsr(), r, game.gamma, game.mu)
    return FiniteMDP(np.einsum("sabt,sa->sbt", game.P, pi), r, game.gamma, game.mu)


@dataclass(frozen=True, slots=True)
class BestResponse:
    """A best response: its ``value`` (the responder's game value, from the max player's
    viewpoint), deterministic ``policy`` and a certified ``error_bound`` on ``value``."""

    value: np.ndarray
    policy: np.ndarray
    error_bound: float


def best_response_max(game: MarkovGame, y) -> BestResponse:
    r"""Max player's best response to the min player's stationary ``y`` (S, B):
    :math:`V^{\dagger,y} = \max_x V^{x,y}`, by policy iteration on the induced MDP."""
    from ..planning import policy_iteration

    _check_game(game, "best_response_max")
    y = _check_strategy("y", y, game.S, game.B)
    sol = policy_iteration(_induced_mdp(game, y, "max"))
    return BestResponse(np.array(sol.v), np.array(sol.policy), float(sol.error_bound))


def best_response_min(game: MarkovGame, x) -> BestResponse:
    r"""Min player's best response to the max player's stationary ``x`` (S, A):
    :math:`V^{x,\dagger} = \min_y V^{x,y}` (returned from the max player's viewpoint)."""
    from ..planning import policy_iteration

    _check_game(game, "best_response_min")
    x = _check_strategy("x", x, game.S, game.A)
    sol = policy_iteration(_induced_mdp(game, x, "min"))
    return BestResponse(-np.array(sol.v), np.array(sol.policy), float(sol.error_bound))


@dataclass(frozen=True, slots=True)
class GameExploitability:
    r"""Exploitability of a stationary pair ``(x, y)``.

    Attributes
    ----------
    gap : ndarray (S,)
        :math:`V^{\dagger,y}(s) - V^{x,\dagger}(s)\ge 0` per state.
    sup : float
        :math:`\max_s` gap (the sup-norm exploitability, used throughout this package).
    mu : float
        :math:`\mu^\top` gap (the exploitability from the initial distribution).
    value_max_br, value_min_br : ndarray (S,)
        :math:`V^{\dagger,y}` and :math:`V^{x,\dagger}`.
    error_bound : float
        Certified numerical error of ``gap`` (sum of the two best responses' bounds).
    """

    gap: np.ndarray
    sup: float
    mu: float
    value_max_br: np.ndarray
    value_min_br: np.ndarray
    error_bound: float


def game_exploitability(game: MarkovGame, x, y) -> GameExploitability:
    r"""Exploitability of the stationary pair ``(x, y)``:

    .. math::

        \mathrm{expl}(x, y) = V^{\dagger,y} - V^{x,\dagger}
        = \Big[\max_{x'} V^{x',y} - V^{x,y}\Big] + \Big[V^{x,y} - \min_{y'} V^{x,y'}\Big]
        \;\ge\; 0,

    per state; zero everywhere exactly at a stationary Nash equilibrium. Both best
    responses are single-agent MDPs solved exactly by policy iteration.

    Examples
    --------
    >>> g = MarkovGame(np.ones((1, 2, 2, 1)), [[[1.0, -1.0], [-1.0, 1.0]]], gamma=0.5)
    >>> e = game_exploitability(g, [[1.0, 0.0]], [[0.5, 0.5]])
    >>> round(e.sup, 9)    # V^{+,y} = 0; the min player answers (1, 0) with b=1: -1/(1-0.5)
    2.0
    """
    bmax = best_response_max(game, y)
    bmin = best_response_min(game, x)
    gap = np.maximum(bmax.value - bmin.value, 0.0)
    return GameExploitability(gap=gap, sup=float(gap.max()), mu=float(game.mu @ gap),
                              value_max_br=bmax.value, value_min_br=bmin.value,
                              error_bound=bmax.error_bound + bmin.error_bound)


def policy_pair_value(game: MarkovGame, x, y, tau: float = 0.0) -> np.ndarray:
    r"""Exact value of the pair, :math:`V^{x,y}_\tau = (I-\gamma P_{xy})^{-1}
    (r_{xy} + \tau\mathcal H(x) - \tau\mathcal H(y))` (one linear solve)."""
    from ..evaluation import evaluate_policy

    _check_game(game, "policy_pair_value")
    x = _check_strategy("x", x, game.S, game.A)
    y = _check_strategy("y", y, game.S, game.B)
    joint = (x[:, :, None] * y[:, None, :]).reshape(game.S, game.A * game.B)
    bonus = tau * (_entropy(x) - _entropy(y))
    mdp = game.joint.with_reward(game.joint.r + bonus[:, None])
    return np.asarray(evaluate_policy(mdp, joint))


# ------------------------------------------------------- independent method


def hoffman_karp(game: MarkovGame, *, tol: float = 1e-8, max_iter: int = 1_000, v0=None,
                 strict: bool = False) -> GameSolution:
    r"""Hoffman-Karp policy iteration for zero-sum Markov games.

    .. math::

        x_k(s) \in \arg\max_x\min_y x^\top Q_{v_k}(s) y, \qquad
        v_{k+1} = V^{x_k,\dagger} = \min_{y} V^{x_k, y}

    (the second step is an MDP for the min player, solved exactly by policy iteration). The
    values increase monotonically to :math:`v^*` (Hoffman & Karp 1966, Thm. 2). Stops on
    the same certified box as :func:`shapley_iteration`; an independent cross-check of it.
    """
    _check_game(game, "hoffman_karp")
    tol = V.check_real_scalar("tol", tol, 0.0, np.inf, lo_open=True)
    max_iter = V.check_positive_int("max_iter", max_iter)
    v = _initial(game, v0)
    converged = False
    for k in range(1, max_iter + 1):
        Q = stage_games(game, v)
        X, Y, L, U = _stage(game, Q, 0.0, None, None)
        lo, hi = _box(game, v, Q, L, U, 0.0)
        bound = 0.5 * float((hi - lo).max())
        res = float(np.abs(0.5 * (L + U) - v).max())
        if bound <= tol:
            converged = True
            break
        if k == max_iter:
            break
        v = best_response_min(game, X).value
    if converged:
        msg = f"certified |v - v*| <= {bound:.3g} <= tol={tol:g} after {k} improvement steps"
    else:
        if strict:
            raise ConvergenceError(f"hoffman_karp stopped at max_iter={k}, bound {bound:.3g}")
        msg = report_cap("hoffman_karp", k, res, bound, tol, strict)
    v_hat = 0.5 * (lo + hi)
    q_hat = stage_games(game, v_hat)
    for arr in (v_hat, q_hat, X, Y):
        arr.setflags(write=False)
    return GameSolution(v=v_hat, q=q_hat, x=X, y=Y, converged=converged, iterations=k,
                        residual=res, error_bound=bound,
                        exploitability_bound=float((hi - lo).max()), method="hoffman_karp",
                        message=msg)
