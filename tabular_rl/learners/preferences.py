r"""Learning rewards from pairwise (Bradley-Terry-Luce) and :math:`K`-wise (Plackett-Luce)
comparisons; greedy and pessimistic policies, batched over seeds.

Reference: B. Zhu, M. I. Jordan, J. Jiao, "Principled Reinforcement Learning with Human
Feedback from Pairwise or K-wise Comparisons", ICML 2023 (arXiv:2301.11270). The full
text was not retrievable here; the statements below are from the paper's abstract and a
verified summary of its v5 (theorem numbers as cited there: Lemma 3.1, Thms. 3.2, 3.9,
3.10, 4.1-4.3, Remark 3.6).

Setting (contextual bandit, Sec. 2). Contexts :math:`s \sim \rho`, actions :math:`a`,
features :math:`\phi(s, a)\in\mathbb R^d` with :math:`\|\phi\|_2 \le L`, linear reward
:math:`r_\theta(s, a) = \theta^\top\phi(s, a)`, :math:`\theta \in \Theta_B = \{\theta :
\mathbf 1^\top\theta = 0,\ \|\theta\|_2 \le B\}`. A comparison offers :math:`K` actions at
a context and returns a ranking :math:`\sigma` (most preferred first), with Plackett-Luce
probability

.. math::

    \mathbb P(\sigma \mid s, a_1..a_K) = \prod_{j=1}^{K}
    \frac{\exp(\theta^{\star\top}\phi(s, a_{\sigma(j)}))}
    {\sum_{k=j}^{K}\exp(\theta^{\star\top}\phi(s, a_{\sigma(k)}))},

which for :math:`K = 2` is the BTL model :math:`\mathbb P(a_1 \succ a_2) =
\sigma(\theta^{\star\top}(\phi(s,a_1) - \phi(s,a_2)))`. Rankings are stored as action
arrays ``(n, K)`` ordered from most to least preferred (a pairwise comparison is a ranking
with ``K = 2``, winner first).

Estimators.

* :func:`mle` -- the constrained MLE :math:`\hat\theta \in \arg\min_{\theta\in\Theta_B}
  \ell_{\mathcal D}(\theta)`, :math:`\ell_{\mathcal D} = -\frac1n\sum_i \log
  \mathbb P_\theta(\sigma_i)` (BTL for ``K = 2``; PL, the paper's
  :math:`\hat\theta_{\mathrm{MLE}_K}`, otherwise). Lemma 3.1 (BTL) and Thm. 4.1 (PL):
  with probability :math:`1-\delta`,

  .. math::

      \|\hat\theta - \theta^\star\|_{\Sigma_{\mathcal D} + \lambda I} \le
      C\sqrt{\frac{d + \log(1/\delta)}{\gamma^2 n} + \lambda B^2},
      \qquad \gamma = \frac{1}{2 + e^{-LB} + e^{LB}}

  (for PL with constants depending on :math:`K`), where :math:`\Sigma_{\mathcal D} =
  \frac{2}{K(K-1)n}\sum_i\sum_{j<k}(\phi_{ij} - \phi_{ik})(\phi_{ij} - \phi_{ik})^\top`
  (:func:`comparison_covariance`).
* :func:`split_mle` -- :math:`\hat\theta_{\mathrm{MLE}_2}`: each ranking split into its
  :math:`K(K-1)/2` pairwise comparisons, fitted as independent BTL data. Consistent
  (Thm. 4.2) but asymptotically less efficient than the PL MLE (Thm. 4.3):
  :func:`asymptotic_covariances` returns both limits, :math:`I_K^{-1}` and the sandwich
  :math:`H_2^{-1} V_2 H_2^{-1}`, whose difference is positive semi-definite.

Policies (Sec. 3.2). Greedy on the MLE: :math:`\arg\max_\pi \hat\theta^\top x_\pi`,
:math:`x_\pi = \mathbb E_{s\sim\rho}\phi(s, \pi(s))`. Pessimistic MLE (Thm. 3.2):

.. math::

    \hat\pi_{\mathrm{PE}} = \arg\max_\pi \min_{\theta\in\Theta(\hat\theta,\lambda)}
    \theta^\top(x_\pi - v) = \arg\max_\pi\ \hat\theta^\top(x_\pi - v)
    - f\,\|x_\pi - v\|_{(\Sigma_{\mathcal D}+\lambda I)^{-1}},

:math:`\Theta(\hat\theta,\lambda) = \{\theta : \|\theta - \hat\theta\|_{\Sigma_{\mathcal D}
+\lambda I} \le f\}` (intersected with :math:`\mathbf 1^\top\theta = 0` when that
constraint is used; the ball :math:`\|\theta\|\le B` is dropped, a superset, so the bound's
proof -- which only needs :math:`\theta^\star` in the set -- is unchanged), :math:`v` a
reference vector (e.g. the features of a well-covered reference action). Thm. 3.2:
:math:`\mathrm{SubOpt}(\hat\pi_{\mathrm{PE}}) \le C\sqrt{(d+\log(1/\delta))/(\gamma^2 n) +
\lambda B^2}\;\|(\Sigma_{\mathcal D}+\lambda I)^{-1/2}(x_{\pi^\star} - v)\|_2`; Thm. 3.9:
greedy on the MLE can stay constant-suboptimal for every :math:`n` when the data do not
cover some action (a 4-action bandit in the paper). Policies are deterministic maps
context :math:`\to` action, enumerated exactly (``A**S`` of them).

Solver. Newton's method on the convex negative log-likelihood, with exact gradient and
Hessian computed from the data's sufficient statistics (the counts of each distinct
(context, ranking) row), in the coordinates of :math:`\{\mathbf 1^\top\theta = 0\}`. If the
unconstrained minimizer is not inside the ball, the ball constraint is active and the KKT
point :math:`\nabla\ell(\theta) + \mu\theta = 0`, :math:`\|\theta\| = B` is found by
bisection on :math:`\mu` (each :math:`\theta(\mu)` by Newton on the strongly convex
:math:`\ell + \tfrac{\mu}{2}\|\theta\|^2`). Convergence is certified by the KKT residual;
otherwise :class:`~tabular_rl.exceptions.ConvergenceWarning` (``strict=True``:
:class:`~tabular_rl.exceptions.ConvergenceError`).
"""

from __future__ import annotations

import itertools
import warnings
from dataclasses import dataclass

import numpy as np

from .. import _validation as V
from ..exceptions import ConvergenceError, ConvergenceWarning

__all__ = [
    "MLEResult",
    "asymptotic_covariances",
    "comparison_covariance",
    "confidence_radius",
    "greedy_policy",
    "mle",
    "pessimistic_policy",
    "policy_features",
    "sample_rankings",
    "split_mle",
    "split_rankings",
    "uniform_offers",
]


# --------------------------------------------------------------------------- validation


def _check_features(features) -> np.ndarray:
    """Features as ``(S, A, d)`` (an ``(A, d)`` array is one context)."""
    phi = np.asarray(features, dtype=np.float64)
    if phi.ndim == 2:
        phi = phi[None]
    if phi.ndim != 3 or min(phi.shape) < 1:
        raise ValueError(f"features must have shape (S, A, d) or (A, d), got "
                         f"{np.shape(features)}")
    if not np.all(np.isfinite(phi)):
        idx = tuple(int(i) for i in np.argwhere(~np.isfinite(phi))[0])
        raise ValueError(f"features{list(idx)} = {phi[idx]!r} is not finite")
    return phi


def _check_data(phi: np.ndarray, contexts, rankings):
    """``contexts (B, n)`` and ``rankings (B, n, K)`` int64 and whether batched."""
    S, A, _ = phi.shape
    rk = np.asarray(rankings)
    if rk.ndim not in (2, 3) or rk.shape[-1] < 2:
        raise ValueError(f"rankings must have shape (n, K) or (B, n, K) with K >= 2, got "
                         f"{rk.shape}")
    if not np.issubdtype(rk.dtype, np.integer):
        raise TypeError(f"rankings must hold integer actions, got dtype {rk.dtype}")
    batched = rk.ndim == 3
    if not batched:
        rk = rk[None]
    B, n, K = rk.shape
    if n < 1:
        raise ValueError("rankings must hold at least one comparison")
    ctx = np.zeros((B, n), dtype=np.int64) if contexts is None else np.asarray(contexts)
    if ctx.ndim == 1:
        ctx = np.broadcast_to(ctx, (B, ctx.shape[0]))
    if ctx.shape != (B, n):
        raise ValueError(f"contexts must have shape ({n},) or ({B}, {n}) to match rankings "
                         f"{np.shape(rankings)}, got {np.shape(contexts)}")
    if not np.issubdtype(ctx.dtype, np.integer):
        raise TypeError(f"contexts must be integers, got dtype {ctx.dtype}")
    for name, arr, hi in (("contexts", ctx, S), ("rankings", rk, A)):
        bad = (arr < 0) | (arr >= hi)
        if bad.any():
            idx = tuple(int(i) for i in np.argwhere(bad)[0])
            idx = idx[1:] if not batched else idx
            raise ValueError(f"{name}{list(idx)} = {int(arr[bad][0])} is outside 0..{hi - 1}")
    dup = np.zeros(rk.shape[:-1], dtype=bool)
    for j, k in zip(*np.triu_indices(K, 1), strict=True):
        dup |= rk[..., j] == rk[..., k]
    if dup.any():
        idx = tuple(int(i) for i in np.argwhere(dup)[0])
        idx = idx[1:] if not batched else idx
        raise ValueError(f"rankings{list(idx)} repeats an action: {rk[(*np.argwhere(dup)[0],)]}")
    return ctx.astype(np.int64), rk.astype(np.int64), batched


def _basis(d: int, sum_zero: bool) -> np.ndarray:
    """Orthonormal basis ``(d, d')`` of the parameter space (``1^T theta = 0`` or R^d)."""
    if not sum_zero:
        return np.eye(d)
    if d < 2:
        raise ValueError("sum_zero=True needs d >= 2 features")
    # Columns orthonormal and orthogonal to the all-ones vector (Helmert basis).
    Q = np.zeros((d, d - 1))
    for j in range(1, d):
        Q[:j, j - 1] = 1.0
        Q[j, j - 1] = -float(j)
        Q[:, j - 1] /= np.sqrt(j * (j + 1.0))
    return Q


# ------------------------------------------------------------------------------ sampling


def _generators(seed) -> tuple[list[np.random.Generator], bool]:
    if isinstance(seed, list | tuple):
        if len(seed) == 0:
            raise ValueError("seed as a list must hold at least one seed")
        return [np.random.default_rng(s) for s in seed], True
    return [np.random.default_rng(seed)], False


def uniform_offers(n_contexts: int, n_actions: int, K: int, n: int, *, context_probs=None,
                   seed=None) -> tuple[np.ndarray, np.ndarray]:
    r"""``n`` comparison queries: contexts :math:`s\sim\rho` and ``K`` distinct actions
    drawn uniformly (in random order). A list ``seed`` gives a batch ``(B, n)``,
    ``(B, n, K)``, seed for seed equal to separate calls."""
    S = V.check_positive_int("n_contexts", n_contexts)
    A = V.check_positive_int("n_actions", n_actions)
    K = V.check_positive_int("K", K)
    n = V.check_positive_int("n", n)
    if not 2 <= K <= A:
        raise ValueError(f"K must lie in 2..n_actions={A}, got {K}")
    rho = np.full(S, 1.0 / S) if context_probs is None else \
        V.check_distribution("context_probs", context_probs, S)
    gens, batched = _generators(seed)
    ctx, offers = [], []
    for g in gens:
        ctx.append(g.choice(S, size=n, p=rho))
        offers.append(np.argsort(g.random((n, A)), axis=-1)[:, :K])
    ctx, offers = np.stack(ctx), np.stack(offers)
    return (ctx, offers) if batched else (ctx[0], offers[0])


def sample_rankings(features, theta, contexts, offered, *, seed=None) -> np.ndarray:
    r"""Plackett-Luce rankings of the offered actions (most preferred first), by the
    Gumbel-max construction: sorting :math:`\theta^\top\phi(s, a) + G_a`,
    :math:`G_a` i.i.d. standard Gumbel, in decreasing order gives an exact PL sample.

    ``offered`` ``(n, K)`` (or ``(B, n, K)`` with a list ``seed`` of length ``B``);
    ``theta`` ``(d,)`` or ``(B, d)``. Returns rankings of the same shape.
    """
    phi = _check_features(features)
    gens, batched = _generators(seed)
    ctx, off, _ = _check_data(phi, contexts, offered)
    B = len(gens)
    if ctx.shape[0] == 1 and B > 1:
        ctx, off = np.broadcast_to(ctx, (B,) + ctx.shape[1:]), \
            np.broadcast_to(off, (B,) + off.shape[1:])
    if ctx.shape[0] != B:
        raise ValueError(f"got {B} seeds for {ctx.shape[0]} batches of offers")
    th = np.asarray(theta, dtype=np.float64)
    th = np.broadcast_to(th, (B, phi.shape[-1]))
    out = np.empty_like(off)
    for b, g in enumerate(gens):
        u = np.einsum("nkd,d->nk", phi[ctx[b][:, None], off[b]], th[b])
        order = np.argsort(-(u + g.gumbel(size=u.shape)), axis=-1, kind="stable")
        out[b] = np.take_along_axis(off[b], order, axis=-1)
    return out if batched else out[0]


def split_rankings(contexts, rankings) -> tuple[np.ndarray, np.ndarray]:
    """Each ranking ``(n, K)`` split into its ``K(K-1)/2`` pairs (winner first):
    contexts ``(..., n*K(K-1)/2)`` and pairs ``(..., n*K(K-1)/2, 2)``."""
    rk = np.asarray(rankings)
    K = rk.shape[-1]
    pairs = [(j, k) for j in range(K) for k in range(j + 1, K)]
    out = np.stack([rk[..., [j, k]] for j, k in pairs], axis=-2)      # (..., n, P, 2)
    ctx = np.asarray(contexts)
    ctx = np.broadcast_to(ctx[..., None], ctx.shape + (len(pairs),))
    return ctx.reshape(*ctx.shape[:-2], -1), out.reshape(*out.shape[:-3], -1, 2)


# --------------------------------------------------------------------------- likelihood


def _sufficient(phi: np.ndarray, ctx: np.ndarray, rk: np.ndarray):
    """Distinct (context, ranking) rows: features ``X (M, K, d)`` and weights ``W (B, M)``
    (counts divided by n)."""
    S, A, _ = phi.shape
    B, n, K = rk.shape
    code = ctx
    for j in range(K):
        code = code * A + rk[..., j]
    total = S * A ** K
    if B * total <= 1 << 24:                  # small code space: histogram, no sorting
        counts = np.bincount((np.arange(B)[:, None] * total + code).reshape(-1),
                             minlength=B * total).reshape(B, total)
        uniq = np.flatnonzero(counts.any(axis=0))
        W = counts[:, uniq] / n
    else:
        uniq, inv = np.unique(code.reshape(-1), return_inverse=True)
        W = np.bincount((np.arange(B)[:, None] * uniq.shape[0] + inv.reshape(B, n)).reshape(-1),
                        minlength=B * uniq.shape[0]).reshape(B, -1) / n
    M = uniq.shape[0]
    rows = np.empty((M, K), dtype=np.int64)
    c = uniq.copy()
    for j in range(K - 1, -1, -1):
        rows[:, j] = c % A
        c //= A
    X = phi[c[:, None], rows]                                          # (M, K, d)
    return X, W


def _nll_value(eta: np.ndarray, X: np.ndarray, W: np.ndarray, Q: np.ndarray,
               sign: float = 1.0) -> np.ndarray:
    """Negative log-likelihood only (for the line search), batched."""
    Xq = X @ Q
    M, K, dq = Xq.shape
    u = sign * (Xq.reshape(M * K, dq) @ eta.T).T.reshape(-1, M, K)
    f = np.zeros(u.shape[0])
    for j in range(K - 1):
        t = u[:, :, j:]
        m = t.max(axis=-1)
        f += np.einsum("bm,bm->b", W,
                       m + np.log(np.exp(t - m[..., None]).sum(axis=-1)) - u[:, :, j])
    return f


def _nll(eta: np.ndarray, X: np.ndarray, W: np.ndarray, Q: np.ndarray, sign: float = 1.0):
    """Negative log-likelihood, gradient and Hessian in the basis ``Q`` (batched)."""
    Xq = X @ Q                                                          # (M, K, d')
    M, K, dq = Xq.shape
    u = sign * (Xq.reshape(M * K, dq) @ eta.T).T.reshape(-1, M, K)
    B = u.shape[0]
    f = np.zeros(B)
    g = np.zeros((B, dq))
    H = np.zeros((B, dq, dq))
    for j in range(K - 1):
        t = u[:, :, j:]
        m = t.max(axis=-1, keepdims=True)
        e = np.exp(t - m)
        z = e.sum(axis=-1, keepdims=True)
        p = e / z
        lse = (m + np.log(z))[..., 0]
        f += np.einsum("bm,bm->b", W, lse - u[:, :, j])
        xs = Xq[:, j:, :]                                               # (M, K-j, d')
        mean = np.matmul(p.transpose(1, 0, 2), xs).transpose(1, 0, 2)  # (B, M, d')
        wmean = W[:, :, None] * mean
        g += sign * (wmean.sum(axis=1) - W @ Xq[:, j, :])
        outer = (xs[:, :, :, None] * xs[:, :, None, :]).reshape(-1, dq * dq)
        # einsum, not matmul: a multithreaded BLAS call for this skinny product is slower
        H += np.einsum("bn,ne->be", (W[:, :, None] * p).reshape(B, -1),
                       outer).reshape(B, dq, dq)
        H -= np.matmul(wmean.transpose(0, 2, 1), mean)
    return f, g, H


@dataclass(frozen=True)
class MLEResult:
    """Output of :func:`mle` / :func:`split_mle`.

    Attributes
    ----------
    theta : ndarray
        ``(d,)`` or ``(B, d)`` estimate.
    mu : ndarray
        Lagrange multiplier of the ball constraint (0 when inactive), ``()`` or ``(B,)``.
    kkt_residual : ndarray
        :math:`\\|P(\\nabla\\ell(\\hat\\theta) + \\mu\\hat\\theta)\\|_2` (``P`` the projection
        onto the parameter subspace).
    converged : bool
        Every batch entry met the tolerance.
    """

    theta: np.ndarray
    mu: np.ndarray
    kkt_residual: np.ndarray
    converged: bool


def _newton(eta, mu, X, W, Q, sign, tol, max_iter, cap=np.inf):
    """Damped Newton on ``nll + mu/2 |eta|^2`` for every batch entry; returns eta and
    whether each entry's gradient norm fell below ``tol`` (with a Newton step at rounding
    level)."""
    B, dq = eta.shape
    done = np.zeros(B, dtype=bool)
    eye = np.eye(dq)
    for _ in range(max_iter):
        f, g, H = _nll(eta, X, W, Q, sign)
        f = f + 0.5 * mu * np.sum(eta * eta, axis=-1)
        g = g + mu[:, None] * eta
        H = H + mu[:, None, None] * eye
        H = H + 1e-12 * (1.0 + np.trace(H, axis1=1, axis2=2))[:, None, None] * eye
        step = -np.linalg.solve(H, g[..., None])[..., 0]
        dec = -np.einsum("bd,bd->b", g, step)                      # Newton decrement^2
        # Stop on a small gradient (the KKT residual) or a decrement at rounding level.
        small = np.linalg.norm(step, axis=-1) <= 1e-9 * (1.0 + np.linalg.norm(eta, axis=-1))
        done = ((np.linalg.norm(g, axis=-1) <= tol) & small) | (dec <= 1e-30)
        escaped = np.linalg.norm(eta, axis=-1) > cap       # left the region of interest
        if (done | escaped).all():
            break
        done = done | escaped
        t = np.ones(B)
        # Near the optimum the decrease is below rounding of f: take the full step there.
        tiny = dec <= 1e-13 * (1.0 + np.abs(f))
        for _ls in range(40):                                      # Armijo backtracking
            cand = eta + t[:, None] * step
            fc = _nll_value(cand, X, W, Q, sign) + 0.5 * mu * np.sum(cand * cand, axis=-1)
            ok = (fc <= f - 0.25 * t * dec) | done | tiny
            if ok.all():
                break
            t = np.where(ok, t, 0.5 * t)
        eta = np.where(done[:, None], eta, eta + t[:, None] * step)
    return eta, done


def _fit(phi, ctx, rk, *, bound, sum_zero, tol, max_iter, strict, sign, batched, name):
    X, W = _sufficient(phi, ctx, rk)
    d = phi.shape[-1]
    Q = _basis(d, sum_zero)
    B = W.shape[0]
    eta = np.zeros((B, Q.shape[1]))
    mu = np.zeros(B)
    eta, done = _newton(eta, mu, X, W, Q, sign, tol, max_iter, cap=4.0 * bound)
    norm = np.linalg.norm(eta, axis=-1)
    outside = ~done | (norm > bound)
    if outside.any():
        idx = np.flatnonzero(outside)
        sub = W[idx]
        _, g0, _ = _nll(np.zeros((idx.size, Q.shape[1])), X, sub, Q, sign)
        lo = np.zeros(idx.size)
        hi = np.linalg.norm(g0, axis=-1) / bound * (1.0 + 1e-9) + 1e-300
        # Safeguarded Newton on psi(mu) = 1/|eta(mu)| - 1/B (Moré-Sorensen style), with
        # d eta / d mu = -(H + mu I)^{-1} eta; bisection whenever a step leaves [lo, hi].
        m = hi.copy()
        e = np.zeros((idx.size, Q.shape[1]))
        eye = np.eye(Q.shape[1])
        for _ in range(200):
            e, _ = _newton(e, m, X, sub, Q, sign, tol, max_iter)
            ne = np.linalg.norm(e, axis=-1)
            big = ne > bound
            lo = np.where(big, m, lo)
            hi = np.where(big, hi, m)
            fin = (np.abs(ne - bound) <= 1e-9 * bound) | (~big & (m * bound <= tol)) | \
                (hi - lo <= 1e-15 * hi)
            if fin.all():
                break
            H = _nll(e, X, sub, Q, sign)[2] + m[:, None, None] * eye
            sH = np.einsum("bd,bd->b", e, np.linalg.solve(H, e[..., None])[..., 0])
            psi = 1.0 / np.maximum(ne, 1e-300) - 1.0 / bound
            step = m - psi * np.maximum(ne, 1e-300) ** 3 / np.maximum(sH, 1e-300)
            inside = (step > lo) & (step < hi)
            m = np.where(fin, m, np.where(inside, step, 0.5 * (lo + hi)))
        hi = m
        ne = np.linalg.norm(e, axis=-1)
        e = np.where((ne > bound)[:, None], e * (bound / np.maximum(ne, 1e-300))[:, None], e)
        eta[idx], mu[idx] = e, hi
    _, g, _ = _nll(eta, X, W, Q, sign)
    res = np.linalg.norm(g + mu[:, None] * eta, axis=-1)
    norm = np.linalg.norm(eta, axis=-1)
    # KKT: stationarity, feasibility, complementary slackness (on the sphere |theta| = B
    # to 1e-6 relative, or a multiplier too small to matter: mu B <= 10 tol).
    ok = (res <= 10 * tol) & (norm <= bound * (1 + 1e-9)) & \
        ((bound - norm <= 1e-6 * bound) | (mu * bound <= 10 * tol))
    converged = bool(ok.all())
    if not converged:
        worst = int(np.argmax(np.where(ok, -np.inf, res)))
        msg = (f"{name}: KKT residual {res[worst]:.3g} (|theta| = {norm[worst]:.6g}, bound "
               f"{bound:g}, mu = {mu[worst]:.3g}) of batch entry {worst} above tol={tol:g}; "
               f"raise max_iter or tol")
        if strict:
            raise ConvergenceError(msg)
        warnings.warn(msg, ConvergenceWarning, stacklevel=3)
    theta = eta @ Q.T
    if not batched:
        return MLEResult(theta[0], mu[0], res[0], converged)
    return MLEResult(theta, mu, res, converged)


def mle(features, contexts, rankings, *, bound: float = 10.0, sum_zero: bool = True,
        tol: float = 1e-10, max_iter: int = 100, strict: bool = False) -> MLEResult:
    r"""Constrained maximum likelihood under BTL (``K = 2``) or Plackett-Luce (``K > 2``),
    over :math:`\Theta_B = \{\mathbf 1^\top\theta = 0, \|\theta\|_2 \le B\}`.

    Parameters
    ----------
    features : array_like
        ``(S, A, d)`` features :math:`\phi(s, a)` (``(A, d)`` for a single context).
    contexts : array_like of int or None
        ``(n,)`` or ``(B, n)`` contexts (``None``: all 0).
    rankings : array_like of int
        ``(n, K)`` or ``(B, n, K)`` offered actions, most preferred first.
    bound : float
        :math:`B`, the radius of the parameter ball.
    sum_zero : bool
        Impose :math:`\mathbf 1^\top\theta = 0` (the paper's :math:`\Theta_B`).
    tol : float
        Tolerance on the gradient norm of each Newton solve and on the final KKT residual
        (the solver accepts ``10 * tol``).
    max_iter : int
        Newton iterations per solve.
    strict : bool
        Raise :class:`ConvergenceError` instead of warning.

    Returns
    -------
    MLEResult

    Examples
    --------
    >>> import numpy as np
    >>> phi = np.eye(2)                     # two actions, one-hot features
    >>> wins = np.array([[0, 1]] * 3 + [[1, 0]])       # action 0 wins 3 of 4
    >>> th = mle(phi, None, wins).theta
    >>> float(np.round(th[0] - th[1], 10)), float(np.round(np.log(3.0), 10))
    (1.0986122887, 1.0986122887)
    """
    phi = _check_features(features)
    bound = V.check_real_scalar("bound", bound, 0.0, np.inf, lo_open=True)
    ctx, rk, batched = _check_data(phi, contexts, rankings)
    return _fit(phi, ctx, rk, bound=bound, sum_zero=sum_zero, tol=tol, max_iter=max_iter,
                strict=strict, sign=1.0, batched=batched, name="mle")


def split_mle(features, contexts, rankings, **kwargs) -> MLEResult:
    r"""The paper's :math:`\hat\theta_{\mathrm{MLE}_2}`: split each ``K``-ranking into its
    ``K(K-1)/2`` pairwise comparisons and maximize the BTL likelihood as if independent.
    Keyword arguments as in :func:`mle`."""
    ctx, pairs = split_rankings(np.zeros(np.shape(rankings)[:-1], dtype=np.int64)
                                if contexts is None else contexts, rankings)
    return mle(features, ctx, pairs, **kwargs)


# ----------------------------------------------------------------------- coverage, radius


def comparison_covariance(features, contexts, rankings) -> np.ndarray:
    r""":math:`\Sigma_{\mathcal D} = \frac{2}{K(K-1)n}\sum_i\sum_{j<k}(\phi(s_i, a_{ij}) -
    \phi(s_i, a_{ik}))(\cdot)^\top`, ``(d, d)`` or ``(B, d, d)``."""
    phi = _check_features(features)
    ctx, rk, batched = _check_data(phi, contexts, rankings)
    K, d = rk.shape[-1], phi.shape[-1]
    X, W = _sufficient(phi, ctx, rk)                                  # (M, K, d), (B, M)
    j, k = np.triu_indices(K, 1)
    D = X[:, j, :] - X[:, k, :]                                       # (M, P, d)
    outer = np.einsum("mpd,mpe->mde", D, D).reshape(-1, d * d)
    Sig = (W @ outer).reshape(-1, d, d) / len(j)
    return Sig if batched else Sig[0]


def confidence_radius(n: int, d: int, *, delta: float = 0.1, lam: float = 0.0,
                      bound: float = 10.0, L: float = 1.0, C: float = 1.0) -> float:
    r"""Lemma 3.1's radius :math:`f = C\sqrt{(d + \log(1/\delta))/(\gamma^2 n) +
    \lambda B^2}`, :math:`\gamma = 1/(2 + e^{-LB} + e^{LB})` (``C`` is the lemma's
    unspecified universal constant)."""
    n = V.check_positive_int("n", n)
    delta = V.check_real_scalar("delta", delta, 0.0, 1.0, lo_open=True)
    gamma = 1.0 / (2.0 + np.exp(-L * bound) + np.exp(L * bound))
    return float(C * np.sqrt((d + np.log(1.0 / delta)) / (gamma ** 2 * n) + lam * bound ** 2))


# ------------------------------------------------------------------------------- policies


def policy_features(features, context_probs=None, *, max_policies: int = 1 << 16):
    r"""All deterministic policies ``(P, S)`` (action per context, ``P = A**S``) and their
    feature expectations :math:`x_\pi = \sum_s\rho(s)\phi(s, \pi(s))` ``(P, d)``."""
    phi = _check_features(features)
    S, A, _ = phi.shape
    if A ** S > max_policies:
        raise ValueError(f"{A}**{S} = {A ** S} deterministic policies exceed max_policies="
                         f"{max_policies}")
    rho = np.full(S, 1.0 / S) if context_probs is None else \
        V.check_distribution("context_probs", context_probs, S)
    pols = np.array(list(itertools.product(range(A), repeat=S)), dtype=np.int64)
    x = np.einsum("s,psd->pd", rho, phi[np.arange(S), pols])
    return pols, x


def greedy_policy(features, theta, context_probs=None) -> np.ndarray:
    r"""Greedy on the estimate: :math:`\pi(s) = \arg\max_a \hat\theta^\top\phi(s, a)`,
    ``(S,)`` or ``(B, S)`` for ``theta`` ``(B, d)``."""
    phi = _check_features(features)
    return np.argmax(np.einsum("sad,...d->...sa", phi, np.asarray(theta, dtype=np.float64)),
                     axis=-1)


def pessimistic_policy(features, theta, sigma, *, radius: float, lam: float,
                       reference=None, context_probs=None, sum_zero: bool = True,
                       max_policies: int = 1 << 16) -> np.ndarray:
    r"""Pessimistic MLE policy :math:`\arg\max_\pi \hat\theta^\top(x_\pi - v) -
    f\|x_\pi - v\|_{(\Sigma_{\mathcal D}+\lambda I)^{-1}}` (norm restricted to
    :math:`\mathbf 1^\perp` when ``sum_zero``), by exact enumeration of deterministic
    policies. ``theta`` ``(d,)``/``(B, d)``, ``sigma`` ``(d, d)``/``(B, d, d)``; returns
    ``(S,)``/``(B, S)`` actions."""
    phi = _check_features(features)
    d = phi.shape[-1]
    radius = V.check_real_scalar("radius", radius, 0.0, np.inf)
    lam = V.check_real_scalar("lam", lam, 0.0, np.inf)
    pols, x = policy_features(phi, context_probs, max_policies=max_policies)
    v = np.zeros(d) if reference is None else np.asarray(reference, dtype=np.float64)
    if v.shape != (d,):
        raise ValueError(f"reference must have shape ({d},), got {v.shape}")
    th = np.asarray(theta, dtype=np.float64)
    sig = np.asarray(sigma, dtype=np.float64)
    batched = th.ndim == 2
    th, sig = np.atleast_2d(th), sig if sig.ndim == 3 else sig[None]
    Q = _basis(d, sum_zero)
    Mq = np.einsum("dk,bde,el->bkl", Q, sig, Q) + lam * np.eye(Q.shape[1])
    y = (x - v) @ Q                                                   # (P, d')
    sol = np.linalg.solve(Mq[:, None], np.broadcast_to(y[None, ..., None],
                                                       (Mq.shape[0],) + y.shape + (1,)))
    width = np.sqrt(np.maximum(np.einsum("pk,bpk->bp", y, sol[..., 0]), 0.0))
    value = np.einsum("pd,bd->bp", x - v, th) - radius * width
    best = pols[np.argmax(value, axis=-1)]
    return best if batched else best[0]


# ------------------------------------------------------------------ asymptotic efficiency


def asymptotic_covariances(features, theta, offers, weights=None, *,
                           sum_zero: bool = True) -> tuple[np.ndarray, np.ndarray]:
    r"""Limits of :math:`n\,\mathrm{Cov}(\hat\theta)` for the PL MLE and the split MLE
    (Thm. 4.3), in the parameter subspace, mapped back to ``(d, d)``.

    With offers ``(m, 1 + K)`` rows ``(context, a_1..a_K)`` drawn with probabilities
    ``weights`` and all :math:`K!` rankings enumerated with their PL probabilities:
    :math:`I_K = \mathbb E[\nabla^2\ell_K]` gives :math:`I_K^{-1}`; the split pseudo-
    likelihood's :math:`H_2 = \mathbb E[\nabla^2\ell_2]` and
    :math:`V_2 = \mathbb E[\nabla\ell_2\nabla\ell_2^\top]` (per ranking, pairs summed) give
    the sandwich :math:`H_2^{-1}V_2H_2^{-1}` (an M-estimator's limit). Returns
    ``(cov_K, cov_split)``.
    """
    phi = _check_features(features)
    d = phi.shape[-1]
    offers = np.asarray(offers, dtype=np.int64)
    m, K1 = offers.shape
    K = K1 - 1
    w = np.full(m, 1.0 / m) if weights is None else V.check_distribution("weights", weights, m)
    Q = _basis(d, sum_zero)
    th = np.asarray(theta, dtype=np.float64)
    perms = np.array(list(itertools.permutations(range(K))), dtype=np.int64)
    IK = np.zeros((Q.shape[1],) * 2)
    H2 = np.zeros_like(IK)
    V2 = np.zeros_like(IK)
    jj, kk = np.triu_indices(K, 1)
    for i in range(m):
        s, acts = offers[i, 0], offers[i, 1:]
        X = phi[s, acts] @ Q                                          # (K, d')
        u = phi[s, acts] @ th
        rk = perms                                                    # (R, K) positions
        ur = u[rk]
        lp = np.zeros(len(perms))
        for j in range(K):
            tail = ur[:, j:]
            mx = tail.max(axis=1)
            lp += ur[:, j] - (mx + np.log(np.exp(tail - mx[:, None]).sum(axis=1)))
        pr = np.exp(lp)                                               # PL probabilities
        Xr = X[rk]                                                    # (R, K, d')
        # PL Hessian is data-independent given the offer set: E over rankings.
        for r in range(len(perms)):
            for j in range(K - 1):
                t = ur[r, j:]
                p = np.exp(t - t.max())
                p /= p.sum()
                xs = Xr[r, j:]
                mean = p @ xs
                IK += w[i] * pr[r] * (xs.T @ (p[:, None] * xs) - np.outer(mean, mean))
            # split pseudo-likelihood: pairs (winner j, loser k), j < k in the ranking
            D = Xr[r, jj] - Xr[r, kk]                                 # (P, d')
            z = ur[r, jj] - ur[r, kk]
            sg = 1.0 / (1.0 + np.exp(z))                              # 1 - sigma(z)
            score = -(sg[:, None] * D).sum(axis=0)
            H2 += w[i] * pr[r] * (D.T @ ((sg * (1 - sg))[:, None] * D))
            V2 += w[i] * pr[r] * np.outer(score, score)
    IKi = np.linalg.inv(IK)
    H2i = np.linalg.inv(H2)
    return Q @ IKi @ Q.T, Q @ (H2i @ V2 @ H2i) @ Q.T
