r"""Maximum-entropy exploration from episodes: EntGame (visitation) and UCBVI-Ent (trajectory).

D. Tiapkin, D. Belomestny, D. Calandriello, É. Moulines, R. Munos, A. Naumov, P. Perrault,
Y. Tang, M. Valko, P. Ménard, "Fast Rates for Maximum Entropy Exploration", ICML 2023
(arXiv:2303.08059). **Source note**: only the abstract and the opening of the paper could be
read in this environment, not its algorithm boxes or theorem statements; the algorithms
below follow the abstract and the authors' public code (GitHub
``d-tiapkin/max-entropy-exploration``, ``agents/entgame.py`` and ``agents/ucbvi_ent.py``),
with step-dependent counts (the paper's stage-dependent kernel). Theorem numbers are
therefore not given; the rates are the abstract's:

* **visitation entropy** :math:`\mathrm{VE}(d^\pi) = \sum_{h=0}^{H-1}\mathcal H(d^\pi_h)`,
  :math:`d^\pi_h(s,a) = \Pr^\pi(s_h = s, a_h = a)`: EntGame returns an
  :math:`\varepsilon`-optimal policy after :math:`\tilde O(H^3S^2A/\varepsilon^2)` episodes
  (and a regularized variant, not implemented here, after :math:`\tilde O(H^2SA/\varepsilon^2)`);
* **trajectory entropy** :math:`\mathcal H(q^\pi)` of the law of
  :math:`(s_0, a_0, \dots, s_{H-1}, a_{H-1})`: UCBVI-Ent returns an
  :math:`\varepsilon`-optimal policy after :math:`\tilde O(\mathrm{poly}(S,A,H)/\varepsilon)`
  episodes.

Equivalently (for a fixed instance) the entropy gap of the returned policy after :math:`T`
episodes falls like :math:`\tilde O(T^{-1/2})` (visitation) and :math:`\tilde O(T^{-1})`
(trajectory).

**EntGame** (game-theoretic; visitation entropy is
:math:`\max_\pi\min_{\bar d}\sum_{h,s,a} d^\pi_h(s,a)\log(1/\bar d_h(s,a))`). In episode
:math:`t` (counts :math:`n^t_h(s,a)` after :math:`t` episodes):

* the *forecaster* plays the add-:math:`n_0` estimate
  :math:`\bar d^t_h(s,a) = (n^t_h(s,a) + n_0)/(t + n_0SA)`;
* the *sampler* plays the greedy policy of optimistic value iteration on the empirical
  kernel :math:`\hat P^t_h` with reward :math:`r^t_h = \log(1/\bar d^t_h)`,

  .. math::

      Q^t_h(s,a) = \min\Big(r^t_h(s,a) + \hat P^t_h V^t_{h+1}(s,a)
      + (H-h)\,\bar r_t\sqrt{\beta(n)/n},\; (H-h)\bar r_t\Big),\qquad
      V^t_h(s) = \max_a Q^t_h(s,a),

  :math:`n = n^t_h(s,a)` (:math:`Q = (H-h)\bar r_t` when :math:`n = 0`),
  :math:`\bar r_t = \log(t/n_0 + SA)` the largest reward and
  :math:`\beta(n) = \log(4SAH/\delta) + (S-1)\log(e(1 + n/(S-1)))`.

The returned policy is the uniform mixture of the sampler's policies
:math:`\pi^1, \dots, \pi^T`; its visitation distributions are
:math:`\bar d_h = \frac1T\sum_t d^{\pi^t}_h` (each computed exactly on the true model), and
the equivalent Markov policy is :math:`\bar d_h(s,a)/\sum_b \bar d_h(s,b)`.

**UCBVI-Ent** (trajectory entropy as an entropy-regularized MDP, reward
:math:`\mathcal H(P_h(\cdot\mid s,a))` for :math:`h \le H-2`, see
:mod:`proofs_check.claims.max_entropy_exploration`): optimistic soft backward induction on
the empirical model,

.. math::

    Q^t_h(s,a) = \mathcal H(\hat P^t_h(\cdot|s,a)) + \hat P^t_h V^t_{h+1}(s,a) + b^t_h(s,a),
    \qquad V^t_h(s) = \min\Big(\log\sum_a e^{Q^t_h(s,a)},\ (H-h)\log(SA)\Big),

with :math:`b = \bar V_{h+1}\sqrt{\beta^{\mathrm{conc}}/n} + \sqrt{\beta^{\mathrm{ent}}_1/n}
+ \beta^{\mathrm{ent}}_2/n`, :math:`\bar V_h = (H-h)\log(SA)`,
:math:`\beta^{\mathrm{conc}} = \log(4SAH/\delta) + \log(4e\,n(2n+1))`,
:math:`\beta^{\mathrm{ent}}_1 = \log(4SAH/\delta) + \log^2(n)\log(2n(n+1))`,
:math:`\beta^{\mathrm{ent}}_2 = (S-1)\log(e(1+n/(S-1))) + 1` (the entropy term is dropped at
the last step, where the reward is 0), :math:`Q = \bar V_h` when :math:`n = 0`; it plays and
returns the soft-greedy policy :math:`\pi^t_h(\cdot|s) = \mathrm{softmax}(Q^t_h(s,\cdot))`.

``bonus_scale`` multiplies every bonus (1: the constants above; 0: no bonus, certainty
equivalence; never-visited pairs keep their optimistic :math:`Q = (H-h)\bar r_t` resp.
:math:`\bar V_h` in either case, so a bonus-less learner tries every reachable pair once
and then trusts its estimates — see
:func:`proofs_check.claims.max_entropy_exploration.hard_exploration_instance` for an
instance where that traps UCBVI-Ent). ``learn_model=False`` freezes the counts at zero
(a deliberately broken learner that never updates its model, for tests of the rate claim).

Everything reported is exact on the true model: the mixture's visitation distributions by
the exact occupancy recursion (the same as :func:`tabular_rl.occupancy.policy_to_occupancy`),
the trajectory entropy by the chain-rule identity :func:`trajectory_entropy`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from .. import _validation as V
from ..mdp import EpisodicMDP
from . import episodic as E

__all__ = ["EntropyCurve", "entgame", "trajectory_entropy", "ucbvi_ent",
           "visitation_entropy"]


@dataclass(frozen=True)
class EntropyCurve:
    r"""Exact entropy of a max-entropy learner's returned policy at recorded episode counts.

    Attributes
    ----------
    episodes : ndarray of int64 (k,)
    entropy : ndarray (k,) or (n_seeds, k)
        Exact entropy (visitation or trajectory, nats) in the true model.
    optimum : float
        The exact maximal entropy when given (``nan`` otherwise).
    policies : ndarray (k, H, S, A) or (n_seeds, k, H, S, A)
        The returned Markov policies.
    occupancies : ndarray or None
        EntGame: the mixture's visitation distributions ``(..., k, H, S, A)``.
    method : str
    """

    episodes: np.ndarray
    entropy: np.ndarray
    optimum: float
    policies: np.ndarray
    occupancies: np.ndarray | None
    method: str

    @property
    def gap(self) -> np.ndarray:
        """``optimum - entropy`` (``nan`` without an optimum)."""
        return self.optimum - self.entropy


# ----------------------------------------------------------------------------- exact tools


def _xlogx(x: np.ndarray) -> np.ndarray:
    return np.where(x > 0, x * np.log(np.where(x > 0, x, 1.0)), 0.0)


def _dense_kernels(mdp: EpisodicMDP) -> np.ndarray:
    """``(H, S, A, S)`` dense kernels."""
    out = np.empty((mdp.H, mdp.S, mdp.A, mdp.S))
    for h in range(mdp.H):
        Pf = mdp.P_flat(h)
        Pf = Pf.toarray() if hasattr(Pf, "toarray") else np.asarray(Pf)
        out[h] = Pf.reshape(mdp.S, mdp.A, mdp.S)
    return out


def visitation_entropy(mdp: EpisodicMDP, pi) -> np.ndarray | float:
    r""":math:`\sum_h \mathcal H(d^\pi_h)` of the state-action visitations, exactly.

    ``pi`` is ``(..., H, S, A)`` (a batch of policies is allowed); the visitations come from
    :func:`tabular_rl.occupancy.policy_to_occupancy`.
    """
    from ..occupancy.polytope import policy_to_occupancy

    pi = np.asarray(pi, dtype=np.float64)
    flat = pi.reshape((-1,) + pi.shape[-3:])
    out = np.array([-_xlogx(policy_to_occupancy(mdp, p)).sum() for p in flat])
    return float(out[0]) if pi.ndim == 3 else out.reshape(pi.shape[:-3])


def trajectory_entropy(mdp: EpisodicMDP, pi) -> np.ndarray | float:
    r"""Exact trajectory entropy :math:`\mathcal H(q^\pi)` of ``(..., H, S, A)`` policies.

    The chain rule of entropy (see :mod:`proofs_check.claims.max_entropy_exploration`):

    .. math::

        \mathcal H(q^\pi) = \mathcal H(\mu) + \mu^\top V_0,\qquad
        V_h(s) = \sum_a \pi_h(a|s)\big(-\log\pi_h(a|s) + \mathbb 1[h \le H-2]\,
        \mathcal H(P_h(\cdot|s,a)) + P_h V_{h+1}(s,a)\big),

    :math:`V_H = 0`; vectorized over the leading batch axes (the Shannon(1)-regularized
    evaluation of :func:`tabular_rl.soft_bellman.evaluate_regularized_policy`).
    """
    pi = np.asarray(pi, dtype=np.float64)
    if pi.shape[-3:] != (mdp.H, mdp.S, mdp.A):
        raise ValueError(f"pi must end in (H, S, A) = {(mdp.H, mdp.S, mdp.A)}, got {pi.shape}")
    P = _dense_kernels(mdp)
    ent_P = -_xlogx(P).sum(axis=-1)                          # (H, S, A)
    v = np.zeros(pi.shape[:-3] + (mdp.S,))
    for h in range(mdp.H - 1, -1, -1):
        q = np.einsum("sat,...t->...sa", P[h], v)
        if h <= mdp.H - 2:
            q = q + ent_P[h]
        p = pi[..., h, :, :]
        v = np.sum(p * q, axis=-1) - _xlogx(p).sum(axis=-1)
    mu = np.asarray(mdp.mu, dtype=np.float64)
    out = -_xlogx(mu).sum() + v @ mu
    return float(out) if pi.ndim == 3 else out


# ----------------------------------------------------------------------------- learners


def _setup(mdp, n_episodes, record_at, seed, seeds, delta, bonus_scale, n0=1.0):
    if not isinstance(mdp, EpisodicMDP):
        raise TypeError(f"expected an EpisodicMDP, got {type(mdp).__name__}")
    delta = V.check_real_scalar("delta", delta, 0.0, 1.0, lo_open=True, hi_open=True)
    bonus_scale = V.check_real_scalar("bonus_scale", bonus_scale, 0.0, np.inf, hi_open=True)
    n0 = V.check_real_scalar("n0", n0, 0.0, np.inf, lo_open=True, hi_open=True)
    pts = E.record_points(n_episodes, record_at)
    keys, batched = E.stream_keys(seed, seeds)
    return E.EpisodicModel.of(mdp), pts, keys, batched, delta, bonus_scale, n0


def entgame(mdp: EpisodicMDP, n_episodes: int, *, record_at=None, seed=None,
            seeds: int | None = None, bonus_scale: float = 1.0, n0: float = 1.0,
            delta: float = 0.1, learn_model: bool = True,
            optimum: float | None = None) -> EntropyCurve:
    r"""EntGame for visitation entropy (see the module docstring); exact entropy curve.

    Parameters
    ----------
    mdp : EpisodicMDP
        The true model (stationary or stage-dependent kernel; rewards ignored).
    n_episodes : int
    record_at : array_like of int, optional
        Episode counts :math:`T` at which the mixture of the first :math:`T` policies is
        recorded (default: the last).
    seed, seeds
        As in :func:`tabular_rl.learners.ucbvi.ucbvi` (``seeds=k`` or a list: a batch).
    bonus_scale : float
        Factor on the bonus (0: no bonus).
    n0 : float
        The forecaster's pseudo-count :math:`n_0 > 0`.
    delta : float
        Confidence level in :math:`(0, 1)`.
    learn_model : bool
        ``False`` freezes the counts (a broken learner, for tests).
    optimum : float, optional
        The exact maximal visitation entropy, to report gaps.

    Returns
    -------
    EntropyCurve
        ``entropy[..., i]`` :math:`= \sum_h\mathcal H(\bar d_h)` of the mixture of the first
        ``episodes[i]`` policies.

    Examples
    --------
    >>> import numpy as np
    >>> from tabular_rl import EpisodicMDP
    >>> from tabular_rl.learners.max_entropy import entgame
    >>> P = np.full((2, 2, 2), 0.5)
    >>> mdp = EpisodicMDP(P, np.zeros((2, 2)), H=2, mu=[1.0, 0.0])
    >>> res = entgame(mdp, 200, seeds=2, seed=0, optimum=np.log(2) + np.log(4))
    >>> res.entropy.shape, bool(np.all(res.gap > -1e-12)), bool(np.all(res.gap < 0.1))
    ((2, 1), True, True)
    """
    model, pts, keys, batched, delta, bonus_scale, n0 = _setup(
        mdp, n_episodes, record_at, seed, seeds, delta, bonus_scale, n0)
    S, A, H = model.S, model.A, model.H
    occ = np.zeros((keys.shape[0], pts.shape[0], H, S, A))
    L = float(np.log(4.0 * S * A * H / delta))
    _entgame_kernel(*model.arrays, model.mu, model.mu_cdf, model.mu_hi, keys, int(n_episodes),
                    pts, L, bonus_scale, n0, bool(learn_model), occ)
    ent = -_xlogx(occ).sum(axis=(-3, -2, -1))
    pol_den = occ.sum(axis=-1, keepdims=True)
    pol = np.where(pol_den > 0, occ / np.where(pol_den > 0, pol_den, 1.0), 1.0 / A)
    opt = np.nan if optimum is None else float(optimum)
    if not batched:
        ent, pol, occ = ent[0], pol[0], occ[0]
    return EntropyCurve(episodes=pts, entropy=ent, optimum=opt, policies=pol,
                        occupancies=occ, method="entgame")


def ucbvi_ent(mdp: EpisodicMDP, n_episodes: int, *, record_at=None, seed=None,
              seeds: int | None = None, bonus_scale: float = 1.0, delta: float = 0.1,
              learn_model: bool = True, optimum: float | None = None) -> EntropyCurve:
    r"""UCBVI-Ent for trajectory entropy (see the module docstring); exact entropy curve.

    Parameters are those of :func:`entgame` (without ``n0``). ``entropy[..., i]`` is the
    exact trajectory entropy (:func:`trajectory_entropy`) of the soft-greedy policy
    computed after ``episodes[i]`` episodes.

    Examples
    --------
    >>> import numpy as np
    >>> from tabular_rl import EpisodicMDP
    >>> from tabular_rl.learners.max_entropy import ucbvi_ent
    >>> P = np.full((2, 2, 2), 0.5)
    >>> mdp = EpisodicMDP(P, np.zeros((2, 2)), H=2, mu=[1.0, 0.0])
    >>> res = ucbvi_ent(mdp, 100, seeds=2, seed=0, optimum=2 * np.log(2) + np.log(2))
    >>> res.entropy.shape, bool(np.all(res.gap >= -1e-12))
    ((2, 1), True)
    """
    model, pts, keys, batched, delta, bonus_scale, _ = _setup(
        mdp, n_episodes, record_at, seed, seeds, delta, bonus_scale)
    S, A, H = model.S, model.A, model.H
    pol = np.zeros((keys.shape[0], pts.shape[0], H, S, A))
    L = float(np.log(4.0 * S * A * H / delta))
    _ucbvi_ent_kernel(*model.arrays, model.mu_cdf, model.mu_hi, keys, int(n_episodes), pts,
                      L, bonus_scale, bool(learn_model), pol)
    ent = trajectory_entropy(mdp, pol)
    opt = np.nan if optimum is None else float(optimum)
    if not batched:
        ent, pol = ent[0], pol[0]
    return EntropyCurve(episodes=pts, entropy=ent, optimum=opt, policies=pol,
                        occupancies=None, method="ucbvi-ent")


# ----------------------------------------------------------------------------- kernels


@njit(cache=True)
def _record_transition(cnt, n, h, s, a, s2):  # pragma: no cover - compiled
    cnt[h, s, a, s2] += 1.0
    n[h, s, a] += 1.0


@njit(cache=True)
def _entgame_kernel(indptr, indices, data, cdf, hi, kern_of_h, mu, mu_cdf, mu_hi, keys, n_ep,
                    pts, L, scale, n0, learn, out):  # pragma: no cover - compiled
    H, S, A = out.shape[2], out.shape[3], out.shape[4]
    SA = S * A
    stride = np.uint64(H + 1)
    Sm1 = max(S - 1, 1)
    for j in range(keys.shape[0]):
        key = keys[j]
        cnt = np.zeros((H, S, A, S))
        n = np.zeros((H, S, A))
        vis = np.zeros((H, S, A))        # visits n_h(s, a) (the forecaster's counts)
        act = np.zeros((H, S), dtype=np.int64)
        pi = np.zeros((H, S, A))
        q = np.zeros((H, S))
        dsum = np.zeros((H, S, A))
        Vn = np.zeros((H + 1, S))
        rec = 0
        for t in range(n_ep):
            # 1. the sampler's policy pi^t: optimistic VI on rewards log(1 / dbar^t)
            rmax = np.log(t / n0 + SA)
            for h in range(H - 1, -1, -1):
                vmax = (H - h) * rmax
                for s in range(S):
                    best = -np.inf
                    ba = 0
                    for a in range(A):
                        nsa = n[h, s, a]
                        if nsa > 0.0:
                            r = np.log((t + n0 * SA) / (vis[h, s, a] + n0))
                            pv = 0.0
                            if h + 1 < H:
                                for y in range(S):
                                    pv += cnt[h, s, a, y] * Vn[h + 1, y]
                                pv /= nsa
                            beta = L + (S - 1) * np.log(np.e * (1.0 + nsa / Sm1))
                            qa = min(r + pv + scale * vmax * np.sqrt(beta / nsa), vmax)
                        else:
                            qa = vmax
                        if qa > best:
                            best = qa
                            ba = a
                    Vn[h, s] = best
                    act[h, s] = ba
            # 2. exact visitation of pi^t, added to the mixture
            for h in range(H):
                for s in range(S):
                    for a in range(A):
                        pi[h, s, a] = 0.0
                    pi[h, s, act[h, s]] = 1.0
            E.occupancy(indptr, indices, data, kern_of_h, mu, pi, q)
            for h in range(H):
                for s in range(S):
                    dsum[h, s, act[h, s]] += q[h, s]
            # 3. one episode
            base = np.uint64(t) * stride
            s = E.draw_start(mu_cdf, mu_hi, key, base)
            for h in range(H):
                a = act[h, s]
                s2 = E.draw_next(indptr, indices, cdf, hi, kern_of_h, S, A, h, s, a, key,
                                 base + np.uint64(1 + h))
                if learn:
                    _record_transition(cnt, n, h, s, a, s2)
                    vis[h, s, a] += 1.0
                s = s2
            if rec < pts.shape[0] and t + 1 == pts[rec]:
                for h in range(H):
                    for s in range(S):
                        for a in range(A):
                            out[j, rec, h, s, a] = dsum[h, s, a] / (t + 1)
                rec += 1


@njit(cache=True)
def _ucbvi_ent_kernel(indptr, indices, data, cdf, hi, kern_of_h, mu_cdf, mu_hi, keys, n_ep,
                      pts, L, scale, learn, out):  # pragma: no cover - compiled
    H, S, A = out.shape[2], out.shape[3], out.shape[4]
    stride = np.uint64(2 * H + 1)
    Sm1 = max(S - 1, 1)
    lsa = np.log(S * A)
    for j in range(keys.shape[0]):
        key = keys[j]
        cnt = np.zeros((H, S, A, S))
        n = np.zeros((H, S, A))
        ent = np.zeros((H, S, A))        # H(P^_h(.|s,a)), cached (changes only on a visit)
        bon = np.zeros((H, S, A))        # the (scaled) bonus, cached likewise
        pi = np.full((H, S, A), 1.0 / A)
        Q = np.zeros(A)
        Vn = np.zeros((H + 1, S))
        rec = 0
        for t in range(n_ep):
            # 1. optimistic soft backward induction on the empirical model
            _soft_plan(cnt, n, ent, bon, Vn, Q, pi, lsa)
            # 2. one episode with the soft-greedy policy
            base = np.uint64(t) * stride
            s = E.draw_start(mu_cdf, mu_hi, key, base)
            for h in range(H):
                ctr = base + np.uint64(1 + 2 * h)
                a = E.draw_action(pi[h, s], E.K.uniform(key, ctr))
                s2 = E.draw_next(indptr, indices, cdf, hi, kern_of_h, S, A, h, s, a, key,
                                 ctr + np.uint64(1))
                if learn:
                    _record_transition(cnt, n, h, s, a, s2)
                    _pair_stats(cnt, n, ent, bon, h, s, a, L, scale, Sm1, lsa)
                s = s2
            if rec < pts.shape[0] and t + 1 == pts[rec]:
                _soft_plan(cnt, n, ent, bon, Vn, Q, pi, lsa)
                for h in range(H):
                    for s in range(S):
                        for a in range(A):
                            out[j, rec, h, s, a] = pi[h, s, a]
                rec += 1


@njit(cache=True)
def _pair_stats(cnt, n, ent, bon, h, s, a, L, scale, Sm1, lsa):  # pragma: no cover - compiled
    """Empirical transition entropy and scaled bonus of one visited pair (0 at the last step)."""
    H, S = n.shape[0], n.shape[1]
    nsa = n[h, s, a]
    if h + 1 >= H or nsa <= 0.0:
        ent[h, s, a] = 0.0
        bon[h, s, a] = 0.0
        return
    e = 0.0
    for y in range(S):
        c = cnt[h, s, a, y]
        if c > 0.0:
            p = c / nsa
            e -= p * np.log(p)
    vnext = (H - h - 1) * lsa
    bc = L + np.log(4.0 * np.e * nsa * (2.0 * nsa + 1.0))
    lg = np.log(nsa)
    b1 = L + lg * lg * np.log(2.0 * nsa * (nsa + 1.0))
    b2 = (S - 1) * np.log(np.e * (1.0 + nsa / Sm1)) + 1.0
    ent[h, s, a] = e
    bon[h, s, a] = scale * (vnext * np.sqrt(bc / nsa) + np.sqrt(b1 / nsa) + b2 / nsa)


@njit(cache=True)
def _soft_plan(cnt, n, ent, bon, Vn, Q, pi, lsa):  # pragma: no cover - compiled
    """The soft-greedy policy of the counts (cached entropies and bonuses of the pairs)."""
    H, S, A = n.shape
    for h in range(H - 1, -1, -1):
        vmax = (H - h) * lsa
        for s in range(S):
            for a in range(A):
                nsa = n[h, s, a]
                if nsa > 0.0:
                    pv = 0.0
                    if h + 1 < H:
                        for y in range(S):
                            c = cnt[h, s, a, y]
                            if c > 0.0:
                                pv += c * Vn[h + 1, y]
                        pv /= nsa
                    Q[a] = ent[h, s, a] + pv + bon[h, s, a]
                else:
                    Q[a] = vmax
            m = Q.max()
            z = 0.0
            for a in range(A):
                z += np.exp(Q[a] - m)
            Vn[h, s] = min(m + np.log(z), vmax)
            for a in range(A):
                pi[h, s, a] = np.exp(Q[a] - m) / z
