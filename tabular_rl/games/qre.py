r"""Logit quantal response equilibria (entropy / KL-regularized Nash equilibria) of matrix games.

The :math:`(\tau_x, \tau_y)`-regularized zero-sum game

.. math::

    \max_{x\in\Delta_A}\min_{y\in\Delta_B}\;
    x^\top M y - \tau_x \mathrm{KL}(x\,\|\,\rho_x) + \tau_y \mathrm{KL}(y\,\|\,\rho_y)

is strongly convex-concave, so it has a unique saddle point, the *logit quantal response
equilibrium* (McKelvey & Palfrey, "Quantal Response Equilibria for Normal Form Games", GEB
1995), characterized by the fixed-point equations

.. math::

    x = \operatorname{softmax}\big(\log\rho_x + M y/\tau_x\big),\qquad
    y = \operatorname{softmax}\big(\log\rho_y - M^\top x/\tau_y\big).

With uniform references (entropy regularization) its Nash gap is at most
:math:`\tau_x\log A + \tau_y\log B`, so QRE :math:`\to` Nash as :math:`\tau\to 0`.

Solver: the *predictive update* extragradient method (PU) of Cen, Wei, Chi, "Fast Policy
Extragradient Methods for Competitive Games with Entropy Regularization", NeurIPS 2021,
Theorem 1: for :math:`\tau_x = \tau_y = \tau` and :math:`0 < \eta \le 1/(\tau + 2\|M\|_{\max})`,

.. math::

    \mathrm{KL}(\zeta^\star\|\zeta_{t}) \le (1 - \eta\tau)^{t}\, \mathrm{KL}(\zeta^\star\|\zeta_0),

a linear rate, followed by Newton's method on the fixed-point equations in log space (locally
quadratic), accepted only while it decreases the residual. The reported residual is the
sup-norm distance between :math:`(x, y)` and the right-hand sides above.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from .._validation import (
    as_float_array,
    check_positive_int,
    check_probability_rows,
    check_real_scalar,
)
from ..exceptions import ConvergenceError, ConvergenceWarning
from .matrix import _check_matrix

__all__ = ["QRESolution", "qre_residual", "solve_qre"]


@dataclass(frozen=True)
class QRESolution:
    """The logit QRE of a matrix game.

    Attributes
    ----------
    x, y : ndarray
        Equilibrium strategies of the row (maximizing) and column players.
    value : float
        Regularized value :math:`x^\\top M y - \\tau_x KL(x\\|\\rho_x) + \\tau_y KL(y\\|\\rho_y)`.
    residual : float
        Sup-norm residual of the fixed-point equations.
    iterations : int
        Extragradient iterations plus Newton steps.
    """

    x: np.ndarray
    y: np.ndarray
    value: float
    residual: float
    iterations: int


def _log_softmax(z: np.ndarray) -> np.ndarray:
    m = np.max(z, axis=-1, keepdims=True)
    z = z - m
    return z - np.log(np.sum(np.exp(z), axis=-1, keepdims=True))


def _log_ref(name: str, ref, n: int) -> np.ndarray:
    if ref is None:
        return np.full(n, -np.log(n))
    r = as_float_array(name, ref, 1)
    if r.shape != (n,):
        raise ValueError(f"{name} must have shape ({n},), got {r.shape}")
    check_probability_rows(name, r)
    if np.any(r <= 0):
        i = int(np.argmax(r <= 0))
        raise ValueError(f"{name}[{i}] = {r[i]:.6g}; the reference must have full support")
    return np.log(r / r.sum())


def _residual(M, lx, ly, lrx, lry, tx, ty) -> float:
    x, y = np.exp(lx), np.exp(ly)
    bx = np.exp(_log_softmax(lrx + M @ y / tx))
    by = np.exp(_log_softmax(lry - M.T @ x / ty))
    return float(max(np.max(np.abs(x - bx)), np.max(np.abs(y - by))))


def qre_residual(M, x, y, tau_x: float, tau_y: float | None = None, *,
                 ref_x=None, ref_y=None) -> float:
    r"""Sup-norm residual of the QRE fixed-point equations at ``(x, y)``:
    :math:`\max(\|x - \mathrm{softmax}(\log\rho_x + My/\tau_x)\|_\infty,
    \|y - \mathrm{softmax}(\log\rho_y - M^\top x/\tau_y)\|_\infty)`."""
    M = _check_matrix(M)
    tx = check_real_scalar("tau_x", tau_x, 0.0, np.inf, lo_open=True)
    ty = tx if tau_y is None else check_real_scalar("tau_y", tau_y, 0.0, np.inf, lo_open=True)
    x = as_float_array("x", x, 1)
    y = as_float_array("y", y, 1)
    A, B = M.shape
    with np.errstate(divide="ignore"):
        return _residual(M, np.log(x), np.log(y), _log_ref("ref_x", ref_x, A),
                         _log_ref("ref_y", ref_y, B), tx, ty)


def _F(M, lx, ly, lrx, lry, tx, ty):
    """Log-space fixed-point map residual and the best responses (log)."""
    lbx = _log_softmax(lrx + M @ np.exp(ly) / tx)
    lby = _log_softmax(lry - M.T @ np.exp(lx) / ty)
    return np.concatenate([lx - lbx, ly - lby]), lbx, lby


def _newton(M, lx, ly, lrx, lry, tx, ty, ftol, max_steps=60, sym=False):
    """Damped Newton on F(u, w) = (u - log softmax(lrx + M e^w/tx),
    w - log softmax(lry - M^T e^u/ty)) = 0 with a backtracking line search on |F|_inf.
    ``sym``: M antisymmetric, tx == ty, lrx == lry, so the solution has u == w and Newton runs
    on F(u) = u - log softmax(lrx + M e^u/tx) alone (half the unknowns).

    Returns (lx, ly, |F|_inf, steps, ok)."""
    A, B = M.shape

    def evaluate(lx, ly):
        if sym:
            lbx = _log_softmax(lrx + M @ np.exp(lx) / tx)
            return lx - lbx, lbx, lbx
        return _F(M, lx, ly, lrx, lry, tx, ty)

    if sym:
        ly = lx
    F, lbx, lby = evaluate(lx, ly)
    f = float(np.max(np.abs(F)))
    steps = 0
    while f > ftol and steps < max_steps:
        x, y = np.exp(lx), np.exp(ly)
        bx, by = np.exp(lbx), np.exp(lby)
        # d/dw log softmax(lrx + M e^w/tx) = (I - 1 bx^T) M diag(y) / tx
        My = M * (y / tx)[None, :]
        Jxw = My - bx @ My
        if sym:
            J = np.eye(A) - Jxw
        else:
            MTx = (M.T * (x / ty)[None, :])
            Jyu = -(MTx - by @ MTx)
            J = np.eye(A + B)
            J[:A, A:] = -Jxw
            J[A:, :A] = -Jyu
        try:
            d = np.linalg.solve(J, -F)
        except np.linalg.LinAlgError:
            return lx, ly, f, steps, False
        t = 1.0
        while t > 1e-6:
            nlx = _log_softmax(lx + t * d[:A])
            nly = nlx if sym else _log_softmax(ly + t * d[A:])
            nF, nbx, nby = evaluate(nlx, nly)
            nf = float(np.max(np.abs(nF)))
            if nf < f:
                break
            t *= 0.5
        steps += 1
        if not nf < f:
            return lx, ly, f, steps, False
        lx, ly, F, lbx, lby, f = nlx, nly, nF, nbx, nby, nf
    return lx, ly, f, steps, f <= ftol


def _pu(M, lx, ly, lrx, lry, tx, ty, eta, n):
    """n iterations of the predictive update (Cen, Wei, Chi 2021)."""
    ax, ay = 1.0 - eta * tx, 1.0 - eta * ty
    for _ in range(n):
        x, y = np.exp(lx), np.exp(ly)
        bx = _log_softmax(ax * lx + (1 - ax) * lrx + eta * (M @ y))
        by = _log_softmax(ay * ly + (1 - ay) * lry - eta * (M.T @ x))
        lx = _log_softmax(ax * lx + (1 - ax) * lrx + eta * (M @ np.exp(by)))
        ly = _log_softmax(ay * ly + (1 - ay) * lry - eta * (M.T @ np.exp(bx)))
    return lx, ly


def solve_qre(M, tau_x: float, tau_y: float | None = None, *, ref_x=None, ref_y=None,
              tol: float = 1e-12, max_iter: int = 20_000, method: str = "newton",
              strict: bool = False) -> QRESolution:
    r"""Logit QRE of the zero-sum game ``M`` (row player maximizes :math:`x^\top M y`).

    Parameters
    ----------
    M : array_like, shape (A, B)
    tau_x, tau_y : float
        Temperatures (``tau_y`` defaults to ``tau_x``), ``> 0``.
    ref_x, ref_y : array_like, optional
        Full-support reference strategies of the KL regularizers (uniform by default: entropy).
    tol : float
        Target sup-norm residual of the fixed-point equations (probability space).
    max_iter : int
        Cap on extragradient (PU) iterations.
    method : {"newton", "pu"}
        ``"newton"``: damped Newton on the log-space fixed-point equations with continuation
        in the temperature (solve at :math:`s\tau` for a decreasing sequence of
        :math:`s \ge 1`, each from the previous solution), PU iterations as fallback.
        ``"pu"``: the predictive-update extragradient method alone with the step
        :math:`\eta = 1/(\max(\tau_x,\tau_y) + 2\|M\|_{\max})` of Cen et al. (2021),
        Thm. 1 (linear rate :math:`1-\eta\tau`; slow for small :math:`\tau`).
    strict : bool
        Raise :class:`~tabular_rl.exceptions.ConvergenceError` instead of warning.

    Examples
    --------
    >>> sol = solve_qre([[1.0, -1.0], [-1.0, 1.0]], 0.5)
    >>> sol.x.round(12).tolist(), sol.residual < 1e-12
    ([0.5, 0.5], True)
    >>> sol = solve_qre([[2.0, 0.0], [0.0, 1.0]], 0.1)
    >>> z = np.exp(np.array([2.0 * sol.y[0], sol.y[1]]) / 0.1)
    >>> bool(np.max(np.abs(sol.x - z / z.sum())) < 1e-12)
    True
    """
    M = _check_matrix(M)
    tx = check_real_scalar("tau_x", tau_x, 0.0, np.inf, lo_open=True)
    ty = tx if tau_y is None else check_real_scalar("tau_y", tau_y, 0.0, np.inf, lo_open=True)
    tol = check_real_scalar("tol", tol, 0.0, np.inf, lo_open=True)
    max_iter = check_positive_int("max_iter", max_iter)
    if method not in ("newton", "pu"):
        raise ValueError(f"method must be 'newton' or 'pu', got {method!r}")
    A, B = M.shape
    lrx = _log_ref("ref_x", ref_x, A)
    lry = _log_ref("ref_y", ref_y, B)
    mmax = float(np.abs(M).max())
    eta = 1.0 / (max(tx, ty) + 2.0 * mmax)
    lx, ly = lrx.copy(), lry.copy()
    it = 0
    res = _residual(M, lx, ly, lrx, lry, tx, ty)
    # symmetric game (e.g. a preference game): the QRE is symmetric, solve for x alone
    sym = (A == B and tx == ty and np.array_equal(lrx, lry)
           and float(np.max(np.abs(M + M.T))) <= 1e-14 * max(mmax, 1e-300))
    Mn = 0.5 * (M - M.T) if sym else M
    if method == "newton" and res > tol:
        # continuation: s_target = 1 is the requested temperature; larger s is easier
        s_done, s_try, ratio = None, 1.0, 8.0
        ftol_final = 0.25 * tol
        while True:
            ftol = ftol_final if s_try == 1.0 else 1e-8
            nlx, nly, f, k, ok = _newton(Mn, lx, ly, lrx, lry, s_try * tx, s_try * ty, ftol,
                                         sym=sym)
            it += k
            if s_try == 1.0 and not ok:
                # stagnation at the floating-point floor still counts when tol is met
                ok = _residual(M, nlx, nly, lrx, lry, tx, ty) <= tol
            if ok:
                lx, ly, s_done = nlx, nly, s_try
                if s_try == 1.0:
                    break
                s_try = max(1.0, s_try / ratio)
            elif s_done is None:
                s_try *= 8.0
                if s_try > 1e8:
                    break
            else:
                ratio = np.sqrt(ratio)
                if ratio < 1.001:
                    break
                s_try = max(1.0, s_done / ratio)
        res = _residual(M, lx, ly, lrx, lry, tx, ty)
    while res > tol and it < max_iter:  # PU (method="pu" or Newton fallback)
        n = min(100, max_iter - it)
        lx, ly = _pu(M, lx, ly, lrx, lry, tx, ty, eta, n)
        it += n
        res = _residual(M, lx, ly, lrx, lry, tx, ty)
        if method == "newton" and res < 1e-4:
            nlx, nly, _, k, _ = _newton(Mn, lx, ly, lrx, lry, tx, ty, 0.25 * tol, sym=sym)
            it += k
            nres = _residual(M, nlx, nly, lrx, lry, tx, ty)
            if nres < res:
                lx, ly, res = nlx, nly, nres
    x, y = np.exp(lx), np.exp(ly)
    if res > tol:
        msg = (f"solve_qre stopped after {it} iterations with residual {res:.3g} > tol={tol:g}; "
               "raise max_iter or tol")
        if strict:
            raise ConvergenceError(msg)
        warnings.warn(msg, ConvergenceWarning, stacklevel=2)
    value = float(x @ M @ y - tx * np.sum(x * (lx - lrx)) + ty * np.sum(y * (ly - lry)))
    x.setflags(write=False)
    y.setflags(write=False)
    return QRESolution(x=x, y=y, value=value, residual=res, iterations=it)
