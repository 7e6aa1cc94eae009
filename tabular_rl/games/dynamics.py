r"""Learning dynamics in zero-sum matrix games, with and without regularization.

All dynamics act on the game in which the row player maximizes :math:`x^\top M y` and the
column player minimizes it; the row player's gradient is :math:`g_x = My`, the column player's
:math:`g_y = -M^\top x`. Self-play on a preference matrix :math:`P` is the special case
:math:`M = P - 1/2` (antisymmetric, see :mod:`tabular_rl.games.preference`) with
:math:`x_0 = y_0`: both players then follow the same sequence, :math:`x_t = y_t`, and
:math:`(My)_a = \Pr(a \succ \pi_t) - 1/2`.

Every function returns the iterates ``(X, Y)`` with ``X[t]`` :math:`= x_t`, shapes
``(n_iter + 1, ..., A)`` and ``(n_iter + 1, ..., B)``; ``M`` may carry leading batch axes
``(..., A, B)`` (e.g. a batch of seeded random games), which are kept in the iterates.
Updates are made on log-probabilities and renormalized by a log-sum-exp, so no iterate
underflows to an exact zero. Only the iterations are a Python loop.

Regularized games use KL terms to reference strategies :math:`\rho_x, \rho_y`
(uniform by default), e.g. the :math:`\beta`-regularized game of Nash-MP

.. math::

    \max_x \min_y\; x^\top M y - \beta\,\mathrm{KL}(x\|\rho_x) + \beta\,\mathrm{KL}(y\|\rho_y),

whose unique equilibrium is the QRE computed by :func:`tabular_rl.games.solve_qre`
(temperature :math:`\beta`).
"""

from __future__ import annotations

import numpy as np

from .._validation import (
    as_float_array,
    check_finite,
    check_positive_int,
    check_probability_rows,
    check_real_scalar,
)
from ..regularizers import KL, FDivergence

__all__ = [
    "inpo",
    "magnetic_mirror_descent",
    "mirror_prox",
    "mwu",
    "nash_mirror_prox",
    "optimistic_mwu",
    "regularized_gap",
    "regularized_self_play",
    "regularizer",
]


# --------------------------------------------------------------------------- plumbing
def _lsm(z: np.ndarray) -> np.ndarray:
    """log softmax over the last axis."""
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def _game(M) -> np.ndarray:
    M = as_float_array("M", M, tuple(range(2, 8)))
    if 0 in M.shape[-2:]:
        raise ValueError(f"M must have shape (..., A, B) with A, B >= 1, got {M.shape}")
    check_finite("M", M)
    return M


def _strategy(name: str, p, n: int, batch: tuple[int, ...]) -> np.ndarray:
    """Log of a strategy (uniform when None), broadcast to ``batch + (n,)``."""
    if p is None:
        return np.full(batch + (n,), -np.log(n))
    arr = as_float_array(name, p, tuple(range(1, 8)))
    if arr.shape[-1] != n:
        raise ValueError(f"{name} must have {n} entries on its last axis, got shape {arr.shape}")
    check_probability_rows(name, arr)
    if np.any(arr <= 0):
        idx = np.unravel_index(int(np.argmax(arr <= 0)), arr.shape)
        raise ValueError(f"{name}[{', '.join(map(str, idx))}] = {arr[idx]:.6g}; strategies "
                         "of multiplicative dynamics need full support")
    return np.broadcast_to(np.log(arr / arr.sum(axis=-1, keepdims=True)), batch + (n,)).copy()


def _setup(M, x0, y0, n_iter):
    M = _game(M)
    n_iter = check_positive_int("n_iter", n_iter)
    batch = M.shape[:-2]
    A, B = M.shape[-2:]
    lx = _strategy("x0", x0, A, batch)
    ly = _strategy("y0", y0, B, batch)
    X = np.empty((n_iter + 1,) + batch + (A,))
    Y = np.empty((n_iter + 1,) + batch + (B,))
    X[0], Y[0] = np.exp(lx), np.exp(ly)
    return M, lx, ly, X, Y, n_iter


def _gx(M, y):
    return np.matmul(M, y[..., None])[..., 0]


def _gy(M, x):
    return -np.matmul(x[..., None, :], M)[..., 0, :]


def _eta(eta) -> float:
    return check_real_scalar("eta", eta, 0.0, np.inf, lo_open=True)


# --------------------------------------------------------------------------- unregularized
def mwu(M, *, eta: float, n_iter: int, x0=None, y0=None) -> tuple[np.ndarray, np.ndarray]:
    r"""Simultaneous multiplicative weights / Hedge (Freund & Schapire, "Adaptive game playing
    using multiplicative weights", GEB 1999):

    .. math::

        x_{t+1} \propto x_t\, e^{\eta M y_t}, \qquad y_{t+1} \propto y_t\, e^{-\eta M^\top x_t}.

    The averages converge to a Nash equilibrium (no regret); in games with an interior
    equilibrium the last iterate spirals away from it (Bailey & Piliouras, "Multiplicative
    Weights Update in Zero-Sum Games", EC 2018: the KL divergence to the equilibrium
    increases at every step).

    Examples
    --------
    >>> X, Y = mwu([[1.0, -1.0], [-1.0, 1.0]], eta=0.1, n_iter=3, x0=[0.6, 0.4])
    >>> X.shape, Y.shape
    ((4, 2), (4, 2))
    """
    M, lx, ly, X, Y, n = _setup(M, x0, y0, n_iter)
    eta = _eta(eta)
    for t in range(n):
        x, y = X[t], Y[t]
        lx = _lsm(lx + eta * _gx(M, y))
        ly = _lsm(ly + eta * _gy(M, x))
        X[t + 1], Y[t + 1] = np.exp(lx), np.exp(ly)
    return X, Y


def optimistic_mwu(M, *, eta: float, n_iter: int, x0=None, y0=None
                   ) -> tuple[np.ndarray, np.ndarray]:
    r"""Optimistic multiplicative weights (Rakhlin & Sridharan, NeurIPS 2013; Daskalakis &
    Panageas, "Last-Iterate Convergence: Zero-Sum Games and Constrained Min-Max
    Optimization", ITCS 2019):

    .. math::

        x_{t+1} \propto x_t\, e^{\eta(2My_t - My_{t-1})},\qquad
        y_{t+1} \propto y_t\, e^{-\eta(2M^\top x_t - M^\top x_{t-1})},

    with :math:`y_{-1} = y_0`, :math:`x_{-1} = x_0`. For small :math:`\eta` and a unique
    equilibrium the last iterate converges (Wei, Lee, Zhang, Luo, ICLR 2021, linear rate).
    """
    M, lx, ly, X, Y, n = _setup(M, x0, y0, n_iter)
    eta = _eta(eta)
    gx_prev, gy_prev = _gx(M, Y[0]), _gy(M, X[0])
    for t in range(n):
        gx, gy = _gx(M, Y[t]), _gy(M, X[t])
        lx = _lsm(lx + eta * (2 * gx - gx_prev))
        ly = _lsm(ly + eta * (2 * gy - gy_prev))
        gx_prev, gy_prev = gx, gy
        X[t + 1], Y[t + 1] = np.exp(lx), np.exp(ly)
    return X, Y


# --------------------------------------------------------------------------- regularized
def _refs(ref_x, ref_y, M):
    batch = M.shape[:-2]
    A, B = M.shape[-2:]
    return _strategy("ref_x", ref_x, A, batch), _strategy("ref_y", ref_y, B, batch)


def mirror_prox(M, *, eta: float, n_iter: int, beta: float = 0.0, ref_x=None, ref_y=None,
                x0=None, y0=None) -> tuple[np.ndarray, np.ndarray]:
    r"""Mirror prox / extragradient with the entropy mirror map (Nemirovski, "Prox-Method with
    Rate of Convergence O(1/t) ...", SIAM J. Optim. 2004) on the :math:`\beta`-regularized game
    (:math:`\beta = 0`: the plain game). Each iteration makes a half step from
    :math:`(x_k, y_k)` with the gradients at :math:`(x_k, y_k)` and the full step from
    :math:`(x_k, y_k)` with the gradients at the half step,

    .. math::

        x_{k+1/2} &= \arg\max_x\; \eta\langle x, M y_k\rangle - \eta\beta\,\mathrm{KL}(x\|\rho_x)
                      - \mathrm{KL}(x\|x_k),\\
        \log x_{k+1/2} &= \frac{\log x_k + \eta\beta\log\rho_x + \eta M y_k}{1 + \eta\beta}
                          + \text{const},\\
        \log x_{k+1} &= \frac{\log x_k + \eta\beta\log\rho_x + \eta M y_{k+1/2}}{1 + \eta\beta}
                        + \text{const},

    and symmetrically for :math:`y` with :math:`-M^\top x`. On a preference game this is Nash-MP
    (Tiapkin et al. 2025, Algorithm 1; see :func:`nash_mirror_prox`). Returns the full iterates
    :math:`(x_k, y_k)`, :math:`k = 0..n`.
    """
    M, lx, ly, X, Y, n = _setup(M, x0, y0, n_iter)
    eta = _eta(eta)
    beta = check_real_scalar("beta", beta, 0.0, np.inf)
    lrx, lry = _refs(ref_x, ref_y, M)
    c = 1.0 / (1.0 + eta * beta)
    bx, by = eta * beta * lrx, eta * beta * lry
    for t in range(n):
        hx = _lsm(c * (lx + bx + eta * _gx(M, Y[t])))
        hy = _lsm(c * (ly + by + eta * _gy(M, X[t])))
        lx = _lsm(c * (lx + bx + eta * _gx(M, np.exp(hy))))
        ly = _lsm(c * (ly + by + eta * _gy(M, np.exp(hx))))
        X[t + 1], Y[t + 1] = np.exp(lx), np.exp(ly)
    return X, Y


def nash_mirror_prox(P, *, beta: float, n_iter: int, eta: float = 2.0, ref=None, pi0=None
                     ) -> tuple[np.ndarray, np.ndarray]:
    r"""Nash Mirror Prox (Nash-MP) self-play on the :math:`\beta`-regularized preference game.

    D. Tiapkin, D. Calandriello, D. Belomestny, E. Moulines, A. Naumov, K. Rasul, M. Valko,
    P. Ménard, "Accelerating Nash Learning from Human Feedback via Mirror Prox", arXiv:2505.19731
    (v1, 2025), Algorithm 1 (exact version):

    .. math::

        \pi_{k+1/2} &= \arg\max_\pi\; \eta\,\Pr(\pi\succ\pi_k) - \eta\beta\,\mathrm{KL}(\pi\|
                       \pi_{\rm ref}) - \mathrm{KL}(\pi\|\pi_k),\\
        \pi_{k+1} &= \arg\max_\pi\; \eta\,\Pr(\pi\succ\pi_{k+1/2}) - \eta\beta\,\mathrm{KL}(\pi\|
                     \pi_{\rm ref}) - \mathrm{KL}(\pi\|\pi_k).

    Two preference queries per iteration (:math:`N = 2k`). With :math:`\eta = 2`
    (:math:`= 1/L`, :math:`L = \max|P_{ij} - 1/2| \le 1/2` the Lipschitz constant in
    :math:`\ell_1/\ell_\infty`) the KL to the regularized equilibrium contracts by
    :math:`(1 + 2\beta)^{-1}` per iteration, i.e. :math:`(1+2\beta)^{-N/2}` (see
    :mod:`proofs_check.claims.nash_mirror_prox`). Implemented as :func:`mirror_prox` on
    :math:`M = P - 1/2` with :math:`x_0 = y_0 = \pi_0`, so ``X`` and ``Y`` coincide.
    """
    from .preference import preference_game

    M = preference_game(P)
    return mirror_prox(M, eta=eta, n_iter=n_iter, beta=beta, ref_x=ref, ref_y=ref,
                       x0=pi0, y0=pi0)


def magnetic_mirror_descent(M, *, eta: float, alpha: float, n_iter: int, magnet_x=None,
                            magnet_y=None, x0=None, y0=None) -> tuple[np.ndarray, np.ndarray]:
    r"""Magnetic mirror descent (MMD) with the entropy mirror map: S. Sokota, R. D'Orazio,
    J. Z. Kolter, N. Loizou, M. Lanctot, I. Mitliagkas, N. Brown, C. Kroer, "A Unified Approach
    to Reinforcement Learning, Quantal Response Equilibria, and Two-Player Zero-Sum Games",
    ICLR 2023, Eq. (3) / Alg. 1:

    .. math::

        x_{t+1} = \arg\max_x\; \eta\langle x, M y_t\rangle - \eta\alpha\,\mathrm{KL}(x\|\rho_x)
                  - \mathrm{KL}(x\|x_t)
        \;\Longleftrightarrow\;
        \log x_{t+1} = \frac{\log x_t + \eta\alpha\log\rho_x + \eta M y_t}{1+\eta\alpha}
                       + \text{const}.

    Their main convergence result (Sec. 3; theorem number not re-checked here): for a small
    enough step (:math:`\eta \le \alpha/L^2`) the iterates converge linearly to the QRE of
    temperature :math:`\alpha` (the equilibrium of the :math:`\alpha`-regularized game).
    """
    M, lx, ly, X, Y, n = _setup(M, x0, y0, n_iter)
    eta = _eta(eta)
    alpha = check_real_scalar("alpha", alpha, 0.0, np.inf)
    lrx, lry = _refs(magnet_x, magnet_y, M)
    c = 1.0 / (1.0 + eta * alpha)
    for t in range(n):
        x, y = X[t], Y[t]
        lx = _lsm(c * (lx + eta * alpha * lrx + eta * _gx(M, y)))
        ly = _lsm(c * (ly + eta * alpha * lry + eta * _gy(M, x)))
        X[t + 1], Y[t + 1] = np.exp(lx), np.exp(ly)
    return X, Y


_DIVERGENCES = ("reverse_kl", "forward_kl", "mixed")


def _check_divergence(divergence: str, weight: float) -> float:
    if divergence not in _DIVERGENCES:
        raise ValueError(f"divergence must be one of {_DIVERGENCES}, got {divergence!r}")
    return check_real_scalar("weight", weight, 0.0, 1.0, hi_open=False)


def _reg_grad(lp: np.ndarray, lref: np.ndarray, divergence: str, weight: float) -> np.ndarray:
    r"""Gradient of the regularizer at :math:`p = e^{lp}` up to an additive constant:
    reverse KL :math:`\log(p/\rho)`, forward KL :math:`-\rho/p`, mixed the convex combination
    (``weight`` on the reverse KL)."""
    if divergence == "reverse_kl":
        return lp - lref
    fwd = -np.exp(lref - lp)
    if divergence == "forward_kl":
        return fwd
    return weight * (lp - lref) + (1.0 - weight) * fwd


def regularized_self_play(M, *, tau: float, eta: float, n_iter: int,
                          divergence: str = "reverse_kl", weight: float = 0.5, ref_x=None,
                          ref_y=None, x0=None, y0=None) -> tuple[np.ndarray, np.ndarray]:
    r"""Regularized self-play policy optimization (RSPO) in its exact tabular form.

    X. Tang, S. Yoon, S. Son, H. Yuan, Q. Gu, I. Bogunovic, "Game-Theoretic Regularized
    Self-Play Alignment of Large Language Models" (RSPO), arXiv:2503.00030, 2025: self-play
    mirror descent on the regularized game
    :math:`\max_x\min_y x^\top M y - \tau R(x) + \tau R(y)`, the regularizer added to the
    self-play loss, i.e. its gradient added to the payoff gradient:

    .. math::

        \log x_{t+1} = \log x_t + \eta\big(M y_t - \tau\nabla R(x_t)\big) + \text{const},

    with :math:`R` the reverse KL :math:`\mathrm{KL}(x\|\rho)` (:math:`\nabla R = \log(x/\rho)`),
    the forward KL :math:`\mathrm{KL}(\rho\|x)` (:math:`\nabla R = -\rho/x`) or the mixture
    :math:`w\,\mathrm{KL}(x\|\rho) + (1-w)\,\mathrm{KL}(\rho\|x)` (``divergence="mixed"``,
    ``weight`` :math:`=w`). ``tau=0`` is unregularized self-play (MWU, SPPO-like). The reverse
    KL case coincides with :func:`inpo`. Stable for :math:`\eta\tau \le 1` and small
    :math:`\eta`; the fixed point is the regularized equilibrium (gap:
    :func:`regularized_gap`).
    """
    M, lx, ly, X, Y, n = _setup(M, x0, y0, n_iter)
    eta = _eta(eta)
    tau = check_real_scalar("tau", tau, 0.0, np.inf)
    weight = _check_divergence(divergence, weight)
    lrx, lry = _refs(ref_x, ref_y, M)
    for t in range(n):
        x, y = X[t], Y[t]
        nlx = _lsm(lx + eta * (_gx(M, y) - tau * _reg_grad(lx, lrx, divergence, weight)))
        ly = _lsm(ly + eta * (_gy(M, x) - tau * _reg_grad(ly, lry, divergence, weight)))
        lx = nlx
        X[t + 1], Y[t + 1] = np.exp(lx), np.exp(ly)
    return X, Y


def inpo(M, *, tau: float, eta: float, n_iter: int, ref_x=None, ref_y=None, x0=None, y0=None
         ) -> tuple[np.ndarray, np.ndarray]:
    r"""Iterative Nash policy optimization (INPO), exact tabular update: Y. Zhang, D. Yu,
    B. Peng, L. Song, Y. Tian, M. Huo, N. Jiang, H. Mi, D. Yu, "Iterative Nash Policy
    Optimization: Aligning LLMs with General Preferences via No-Regret Learning",
    arXiv:2406.16564 (ICLR 2025), online mirror descent on the KL-regularized preference game:

    .. math::

        \pi_{t+1}(a) \propto \pi_t(a)^{1-\eta\tau}\,\pi_{\rm ref}(a)^{\eta\tau}\,
        \exp\big(\eta\,\Pr(a \succ \pi_t)\big),

    (two-player form: :math:`\Pr(a\succ\pi_t) - 1/2 = (My_t)_a`). Needs :math:`\eta\tau \le 1`.
    """
    M, lx, ly, X, Y, n = _setup(M, x0, y0, n_iter)
    eta = _eta(eta)
    tau = check_real_scalar("tau", tau, 0.0, np.inf)
    if eta * tau > 1:
        raise ValueError(f"inpo needs eta * tau <= 1, got eta={eta:g}, tau={tau:g}")
    lrx, lry = _refs(ref_x, ref_y, M)
    a = 1.0 - eta * tau
    for t in range(n):
        x, y = X[t], Y[t]
        lx = _lsm(a * lx + eta * tau * lrx + eta * _gx(M, y))
        ly = _lsm(a * ly + eta * tau * lry + eta * _gy(M, x))
        X[t + 1], Y[t + 1] = np.exp(lx), np.exp(ly)
    return X, Y


# --------------------------------------------------------------------------- diagnostics
def _mixed_fprime_inv(weight: float):
    r"""Inverse of :math:`f'(r) = w(1 + \log r) - (1 - w)/r` (increasing). On :math:`s = \log r`,
    :math:`g(s) = w(1+s) - (1-w)e^{-s}` is increasing and concave, so after a coarse bisection
    Newton's method started left of the root increases monotonically to it."""

    def g(v):
        with np.errstate(over="ignore"):
            return weight * (1.0 + v) - (1.0 - weight) * np.exp(-v)

    def inv(u):
        u = np.asarray(u, dtype=np.float64)
        lo = np.full(u.shape, -80.0)
        hi = np.full(u.shape, 80.0)
        for _ in range(14):
            mid = 0.5 * (lo + hi)
            big = g(mid) > u
            hi = np.where(big, mid, hi)
            lo = np.where(big, lo, mid)
        v = lo
        for _ in range(8):
            with np.errstate(over="ignore", invalid="ignore"):
                step = (u - g(v)) / (weight + (1.0 - weight) * np.exp(-v))
            v = np.minimum(v + np.where(np.isfinite(step), np.maximum(step, 0.0), 0.0), hi)
        return np.exp(v)

    return inv


def regularizer(divergence: str, tau: float, ref, weight: float = 0.5):
    r"""The :mod:`tabular_rl.regularizers` object :math:`\tau R` for ``divergence`` in
    ``("reverse_kl", "forward_kl", "mixed")``: :class:`~tabular_rl.regularizers.KL`, or an
    :class:`~tabular_rl.regularizers.FDivergence` with :math:`f(r) = -\log r` (forward KL
    :math:`\mathrm{KL}(\rho\|p) = \sum_a\rho_a f(p_a/\rho_a)`) or
    :math:`f(r) = w\,r\log r - (1-w)\log r` (mixed)."""
    weight = _check_divergence(divergence, weight)
    if divergence == "reverse_kl":
        return KL(tau, ref)
    if divergence == "forward_kl":
        return FDivergence(tau, ref, f=lambda r: -np.log(r), f_prime=lambda r: -1.0 / r,
                           f_prime_inv=lambda u: np.where(u < 0, -1.0 / np.minimum(u, -1e-300),
                                                          np.inf))
    w = weight
    return FDivergence(
        tau, ref,
        f=lambda r: w * r * np.log(r) - (1 - w) * np.log(r),
        f_prime=lambda r: w * (1 + np.log(r)) - (1 - w) / r,
        f_prime_inv=_mixed_fprime_inv(w))


def regularized_gap(M, X, Y, *, tau: float, divergence: str = "reverse_kl", weight: float = 0.5,
                    ref_x=None, ref_y=None) -> np.ndarray:
    r"""Duality gap of :math:`(x, y)` in the regularized game
    :math:`u(x, y) = x^\top M y - \tau R_x(x) + \tau R_y(y)`:

    .. math::

        \max_{x'} u(x', y) - \min_{y'} u(x, y')
        = \Omega^*_x(My) + \Omega^*_y(-M^\top x) + \tau R_x(x) + \tau R_y(y),

    with :math:`\Omega^*(g) = \max_p \langle p, g\rangle - \tau R(p)` (the regularizer's
    ``conjugate``). Non-negative; zero exactly at the regularized equilibrium; ``tau=0`` gives
    :func:`~tabular_rl.games.exploitability`. ``X``, ``Y`` may be stacks of iterates
    ``(..., A)``, ``(..., B)`` (broadcast against ``M``).
    """
    M = _game(M)
    tau = check_real_scalar("tau", tau, 0.0, np.inf)
    X = np.asarray(X, dtype=np.float64)
    Y = np.asarray(Y, dtype=np.float64)
    gx, gy = _gx(M, Y), _gy(M, X)
    if tau == 0:
        return np.max(gx, axis=-1) + np.max(gy, axis=-1)
    A, B = M.shape[-2:]
    rx = np.full(A, 1.0 / A) if ref_x is None else ref_x
    ry = np.full(B, 1.0 / B) if ref_y is None else ref_y
    Rx = regularizer(divergence, tau, rx, weight)
    Ry = regularizer(divergence, tau, ry, weight)
    gap = Rx.conjugate(gx) + Ry.conjugate(gy) + Rx.value(X) + Ry.value(Y)
    return np.maximum(gap, 0.0)
