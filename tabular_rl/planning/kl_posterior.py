r"""KL-regularized reward maximization on a finite space as Bayesian inference.

On a finite set :math:`\mathcal X` (e.g. all token sequences of length :math:`T` over a
vocabulary of size :math:`V`) with a reference distribution :math:`\pi_0` and a reward
:math:`r`, the KL-regularized objective (Korbak, Perez, Buckley 2022, Sec. 3)

.. math::

    J(\pi) = \mathbb E_{x\sim\pi}[r(x)] - \beta\,\mathrm{KL}(\pi\,\|\,\pi_0)

is maximized by the Gibbs posterior

.. math::

    \pi^*_\beta(x) = \frac{\pi_0(x)\,e^{r(x)/\beta}}{Z}, \qquad
    Z = \sum_x \pi_0(x)\,e^{r(x)/\beta},

because (substitute :math:`r = \beta(\log\pi^*_\beta - \log\pi_0 + \log Z)`)

.. math::

    J(\pi) = \beta\log Z - \beta\,\mathrm{KL}(\pi\,\|\,\pi^*_\beta),

so :math:`J` is maximized exactly at :math:`\pi = \pi^*_\beta`, with value
:math:`\beta\log Z`: KL-regularized RL *is* variational inference of the posterior with
prior :math:`\pi_0` and likelihood :math:`e^{r/\beta}` (the paper's central observation;
:math:`J/\beta` is the negative variational free energy, i.e. the ELBO up to
:math:`\log Z`). As :math:`\beta\to 0` the posterior collapses onto
:math:`\arg\max_{x\in\mathrm{supp}\,\pi_0} r(x)`, weighted by :math:`\pi_0` there (a point
mass, entropy 0, when the maximizer is unique) — the "distribution collapse" of plain
reward maximization (paper, Sec. 2).

**Token level.** With an autoregressive :math:`\pi_0(x) = \prod_t \pi_0(x_t\mid x_{<t})` and
a reward paid at the end of the sequence, the sequences are the leaves of the
:math:`V`-ary prefix tree (:func:`tabular_rl.envs.tree_mdp`), and soft backward induction
with a KL(:math:`\pi_0(\cdot\mid\text{prefix})`) regularizer at temperature :math:`\beta`
(:func:`tabular_rl.planning.soft_backward_induction`) gives conditionals whose product is
:math:`\pi^*_\beta`, and root value :math:`V_0 = \beta\log Z` (deterministic tree:
:math:`V_h(\text{prefix}) = \beta\log\mathbb E_{\pi_0}[e^{r/\beta}\mid\text{prefix}]`).

Numerics: everything is in log space. :math:`\log\pi^*_\beta = \log\pi_0 + (r - r_{\max})/\beta
- \mathrm{logsumexp}(\cdot)`, with the reward shifted *before* dividing by :math:`\beta`,
so :math:`\beta = 10^{-6}` with :math:`|r|` up to :math:`10^6` stays exact to rounding;
:math:`\beta\log Z` is returned as :math:`r_{\max} + \beta\,\mathrm{logsumexp}(\cdot)`.

References
----------
.. [1] T. Korbak, E. Perez, C. L. Buckley, "RL with KL penalties is better viewed as
   Bayesian inference", Findings of EMNLP 2022 (arXiv 2205.11275), Sec. 2 (distribution
   collapse) and Sec. 3 (KL-regularised RL as variational inference: the target
   :math:`\pi^*_{KL\text{-}RL}(x) = \pi_0(x)\exp(r(x)/\beta)/Z` and
   :math:`J_{KL\text{-}RL}(\theta) \propto -\mathrm{KL}(\pi_\theta, \pi^*_{KL\text{-}RL})`).
   Only the abstract and introduction of the paper could be read here; the identity is
   encoded in its exact form (with the :math:`\beta\log Z` constant) and proven above.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import logsumexp

from .. import _validation as V
from ..mdp import EpisodicMDP
from ..regularizers import KL
from .soft_dp import soft_backward_induction

__all__ = [
    "GibbsPosterior",
    "autoregressive_logprobs",
    "entropy_from_logp",
    "gibbs_posterior",
    "kl_objective",
    "prefix_tree_mdp",
    "sequence_space",
    "token_level_posterior",
]

_NEG_INF = -np.inf


def _logp(name: str, logp) -> np.ndarray:
    arr = np.asarray(logp, dtype=np.float64)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-d array of log-probabilities, got shape "
                         f"{arr.shape}")
    bad = np.flatnonzero(np.isnan(arr) | (arr == np.inf))
    if bad.size:
        i = int(bad[0])
        raise ValueError(f"{name}[{i}] = {arr[i]!r} is not a log-probability")
    if not np.any(np.isfinite(arr)):
        raise ValueError(f"{name} puts no mass anywhere (all entries are -inf)")
    total = float(logsumexp(arr))
    if abs(total) > 1e-9:
        raise ValueError(f"{name} must be normalized: logsumexp({name}) = {total!r}, not 0")
    return arr - total  # exact normalization: beta log Z must not inherit beta * |total|


def _rewards(r, n: int) -> np.ndarray:
    arr = V.as_float_array("r", r, 1)
    V.check_shape("r", arr, (n,), "(one reward per element of X)")
    V.check_finite("r", arr)
    return arr


def entropy_from_logp(logp) -> float:
    r"""Shannon entropy :math:`-\sum_x p(x)\log p(x)` (nats) from log-probabilities
    (``-inf`` entries contribute 0)."""
    logp = np.asarray(logp, dtype=np.float64)
    p = np.exp(logp)
    pos = p > 0
    return float(-np.sum(p[pos] * logp[pos])) + 0.0


@dataclass(frozen=True, slots=True)
class GibbsPosterior:
    r"""The posterior :math:`\pi^*_\beta \propto \pi_0 e^{r/\beta}`.

    Attributes
    ----------
    logp : ndarray (n,)
        :math:`\log\pi^*_\beta(x)` (``-inf`` outside the support).
    beta_log_z : float
        :math:`\beta\log Z`, the optimal value :math:`\max_\pi J(\pi)` (for ``beta = 0``:
        :math:`\max_{\mathrm{supp}\,\pi_0} r`).
    beta : float
    """

    logp: np.ndarray
    beta_log_z: float
    beta: float

    @property
    def p(self) -> np.ndarray:
        return np.exp(self.logp)

    @property
    def entropy(self) -> float:
        return entropy_from_logp(self.logp)


def gibbs_posterior(logp0, r, beta: float) -> GibbsPosterior:
    r"""The maximizer of :math:`\mathbb E_\pi r - \beta\mathrm{KL}(\pi\|\pi_0)`:
    :math:`\pi^*_\beta(x) = \pi_0(x) e^{r(x)/\beta}/Z` (Korbak et al. 2022, Sec. 3).

    Parameters
    ----------
    logp0 : array_like (n,)
        :math:`\log\pi_0`, normalized; ``-inf`` marks elements outside the support.
    r : array_like (n,)
        Finite rewards.
    beta : float
        KL coefficient, ``>= 0``. ``beta = 0`` returns the limit :math:`\beta\to 0^+`:
        :math:`\pi_0` restricted to :math:`\arg\max_{\mathrm{supp}\,\pi_0} r` and renormalized.

    Returns
    -------
    GibbsPosterior

    Examples
    --------
    >>> import numpy as np
    >>> post = gibbs_posterior(np.log([0.5, 0.5]), [0.0, np.log(3.0)], beta=1.0)
    >>> post.p.round(6).tolist(), round(post.beta_log_z, 6)     # Z = (1 + 3)/2
    ([0.25, 0.75], 0.693147)
    >>> gibbs_posterior(np.log([0.2, 0.3, 0.5]), [1.0, 1.0, 0.0], beta=0.0).p.round(6).tolist()
    [0.4, 0.6, 0.0]
    """
    logp0 = _logp("logp0", logp0)
    r = _rewards(r, logp0.size)
    beta = V.check_real_scalar("beta", beta, 0.0, np.inf)
    supp = np.isfinite(logp0)
    r_max = float(r[supp].max())
    if beta == 0.0:
        top = supp & (r == r_max)
        z = np.where(top, logp0, _NEG_INF)
        return GibbsPosterior(logp=z - logsumexp(z), beta_log_z=r_max, beta=0.0)
    z = np.where(supp, logp0 + (r - r_max) / beta, _NEG_INF)
    lse = float(logsumexp(z))
    return GibbsPosterior(logp=z - lse, beta_log_z=r_max + beta * lse, beta=beta)


def kl_objective(p, logp0, r, beta: float) -> float:
    r""":math:`J(p) = \mathbb E_p[r] - \beta\,\mathrm{KL}(p\,\|\,\pi_0)`; ``-inf`` when
    :math:`p` puts mass outside the support of :math:`\pi_0` (and :math:`\beta > 0`).

    Examples
    --------
    >>> import numpy as np
    >>> round(kl_objective([0.25, 0.75], np.log([0.5, 0.5]), [0.0, np.log(3.0)], 1.0), 6)
    0.693147
    """
    logp0 = _logp("logp0", logp0)
    r = _rewards(r, logp0.size)
    beta = V.check_real_scalar("beta", beta, 0.0, np.inf)
    p = V.as_float_array("p", p, 1)
    V.check_shape("p", p, (logp0.size,), "(one probability per element of X)")
    V.check_probability_rows("p", p)
    pos = p > 0
    if beta > 0 and np.any(pos & ~np.isfinite(logp0)):
        return -np.inf
    with np.errstate(divide="ignore"):
        kl = float(np.sum(np.where(pos, p * (np.log(np.where(pos, p, 1.0))
                                             - np.where(pos, logp0, 0.0)), 0.0)))
    return float(p @ r) - beta * kl


# ------------------------------------------------------------------ token level
def sequence_space(vocab_size: int, length: int) -> np.ndarray:
    """All ``vocab_size ** length`` sequences, ``(n, length)`` ints, in lexicographic order
    (the order of the leaves of :func:`prefix_tree_mdp`).

    Examples
    --------
    >>> sequence_space(2, 2).tolist()
    [[0, 0], [0, 1], [1, 0], [1, 1]]
    """
    V_ = V.check_positive_int("vocab_size", vocab_size)
    T = V.check_positive_int("length", length)
    idx = np.arange(V_**T)
    return (idx[:, None] // V_ ** np.arange(T - 1, -1, -1)[None, :]) % V_


def _n_inner(V_: int, T: int) -> int:
    return T if V_ == 1 else (V_**T - 1) // (V_ - 1)


def _check_conditionals(cond, V_: int, T: int) -> np.ndarray:
    cond = V.as_float_array("cond", cond, 2)
    V.check_shape("cond", cond, (_n_inner(V_, T), V_), "(prefix nodes, tokens)")
    V.check_probability_rows("cond", cond)
    return cond


def autoregressive_logprobs(cond, vocab_size: int, length: int) -> np.ndarray:
    r"""Sequence log-probabilities :math:`\sum_t \log\pi(x_t\mid x_{<t})` of every sequence of
    :func:`sequence_space` from per-prefix conditionals ``cond`` ``(n_prefix, V)``, prefixes
    numbered in heap order (root 0; prefix node ``s`` followed by token ``a`` is node
    ``V s + 1 + a``), as in :func:`tabular_rl.envs.tree_mdp`.
    """
    V_ = V.check_positive_int("vocab_size", vocab_size)
    T = V.check_positive_int("length", length)
    cond = _check_conditionals(cond, V_, T)
    with np.errstate(divide="ignore"):
        logc = np.log(cond)
    X = sequence_space(V_, T)
    node = np.zeros(X.shape[0], dtype=np.int64)
    out = np.zeros(X.shape[0])
    for t in range(T):  # loop over positions, vectorized over sequences
        out += logc[node, X[:, t]]
        node = V_ * node + 1 + X[:, t]
    return out


def prefix_tree_mdp(r, vocab_size: int, length: int) -> EpisodicMDP:
    r"""The prefix tree of :func:`tabular_rl.envs.tree_mdp` (``depth = length``,
    ``A = vocab_size``) with the sequence reward ``r`` (in :func:`sequence_space` order)
    paid on the step that completes the sequence."""
    from ..envs import tree_mdp

    V_ = V.check_positive_int("vocab_size", vocab_size)
    T = V.check_positive_int("length", length)
    r = _rewards(r, V_**T)
    tree = tree_mdp(T, V_, seed=0, reward="leaf")
    n_in = _n_inner(V_, T)
    rr = np.zeros((tree.S, V_))
    last = np.arange(n_in - V_ ** (T - 1), n_in)          # prefixes of length T - 1
    children = V_ * last[:, None] + 1 + np.arange(V_)[None, :]
    rr[last] = r[children - n_in]
    return EpisodicMDP(tree.P, rr, T, tree.mu)


def token_level_posterior(cond0, r, beta: float, vocab_size: int,
                          length: int) -> tuple[np.ndarray, float]:
    r"""Conditionals of the Gibbs posterior by soft backward induction on the prefix tree.

    .. math::

        Q_h(x_{<h}, a) = r\,\mathbb 1[h = T-1] + V_{h+1}(x_{<h}a), \qquad
        V_h = \beta\log\sum_a \pi_0(a\mid x_{<h})\,e^{Q_h(x_{<h},a)/\beta}, \qquad
        \pi^*(a\mid x_{<h}) = \frac{\pi_0(a\mid x_{<h})\,e^{Q_h/\beta}}{e^{V_h/\beta}},

    i.e. :func:`~tabular_rl.planning.soft_backward_induction` with one
    ``KL(beta, ref=pi_0(.|prefix))`` regularizer per step.

    Parameters
    ----------
    cond0 : array_like (n_prefix, V)
        Reference conditionals, heap-ordered prefixes (see :func:`autoregressive_logprobs`).
    r : array_like (V**T,)
        Sequence rewards in :func:`sequence_space` order.
    beta : float
        ``> 0``.

    Returns
    -------
    (cond, value) : (ndarray (n_prefix, V), float)
        Posterior conditionals and the root value :math:`V_0 = \beta\log Z`.
    """
    V_ = V.check_positive_int("vocab_size", vocab_size)
    T = V.check_positive_int("length", length)
    cond0 = _check_conditionals(cond0, V_, T)
    beta = V.check_real_scalar("beta", beta, 0.0, np.inf, lo_open=True)
    mdp = prefix_tree_mdp(r, V_, T)
    ref = np.full((mdp.S, V_), 1.0 / V_)
    regs = []
    for h in range(T):   # step h visits the prefixes of length h
        lo = _n_inner(V_, h)
        hi = _n_inner(V_, h + 1)
        ref_h = ref.copy()
        ref_h[lo:hi] = cond0[lo:hi]
        regs.append(KL(beta, ref_h))
    sol = soft_backward_induction(mdp, regs)
    cond = np.empty_like(cond0)
    for h in range(T):
        lo = _n_inner(V_, h)
        hi = _n_inner(V_, h + 1)
        cond[lo:hi] = sol.policy[h, lo:hi]
    return cond, float(sol.v[0, 0])
