r"""UCBVI: optimistic value iteration for episodic tabular MDPs (Azar, Osband, Munos 2017).

M. G. Azar, I. Osband, R. Munos, "Minimax Regret Bounds for Reinforcement Learning",
ICML 2017 (arXiv:1703.05449). In episode :math:`k` the learner builds the empirical kernel
:math:`\hat P_k(y\mid x,a) = N_k(x,a,y)/N_k(x,a)` from all transitions so far (pooled over
steps: the paper's kernel is stationary), plans optimistically (Alg. 2, ``UCB-Q-values``)

.. math::

    Q_{k,h}(x,a) = \min\Big(Q_{k-1,h}(x,a),\ H,\ R(x,a) + (\hat P_k V_{k,h+1})(x,a)
    + b_{k,h}(x,a)\Big) \quad (N_k(x,a) > 0), \qquad Q_{k,h}(x,a) = H \text{ otherwise},

:math:`V_{k,h}(x) = \max_a Q_{k,h}(x,a)`, :math:`V_{k,H+1} = 0`, and plays the greedy policy
for one episode (Alg. 1). The reward function :math:`R` is known, as in the paper. Bonuses,
with :math:`L = \ln(5SAT/\delta)`, :math:`T = KH`:

* UCBVI-CH (Chernoff-Hoeffding, Alg. 3, ``bonus_1``):
  :math:`b = 7HL\sqrt{1/N_k(x,a)}`;
* UCBVI-BF (Bernstein-Freedman, Alg. 4, ``bonus_2``):

  .. math::

      b = \sqrt{\frac{8L\,\mathrm{Var}_{y\sim\hat P_k(\cdot|x,a)}(V_{k,h+1}(y))}{N_k(x,a)}}
      + \frac{14HL}{3N_k(x,a)}
      + \sqrt{\frac{8\sum_y \hat P_k(y|x,a)\min\big(\tfrac{100^2H^3S^2AL^2}{N'_{k,h+1}(y)},
        H^2\big)}{N_k(x,a)}},

  with :math:`N'_{k,h+1}(y)` the number of visits of state :math:`y` at step :math:`h+1`
  (the term bounds :math:`(\hat P_k - P)(V_{k,h+1} - V^*_{h+1})`, which vanishes at the last
  step, so it is dropped there; :math:`\min(\cdot/0, H^2) = H^2`).

Theorems. Thm. 1: UCBVI-CH has regret :math:`\tilde O(H\sqrt{SAT} + H^2S^2A)` w.p.
:math:`1-\delta` (i.e. :math:`\tilde O(\sqrt{H^3SAK})`); Thm. 2: UCBVI-BF has
:math:`\tilde O(\sqrt{HSAT} + H^2S^2A + H\sqrt T)`. The full text could not be retrieved
in this environment (only the abstract); the algorithm and bonus constants above are
written from the paper as we know it (Algs. 1-4) and should be checked against it.

``bonus_scale`` multiplies every bonus (1 = the paper; the theory's constants are loose,
so experiments often use less; 0 = certainty equivalence, which still tries each unvisited
pair once since :math:`Q = H` there). ``value_cap="remaining"`` clips at :math:`H-h`
instead of :math:`H` (still optimistic; shortens the burn-in on long horizons).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .. import _validation as V
from ..mdp import EpisodicMDP
from . import episodic as E

__all__ = ["UCBVI_BONUSES", "ucbvi"]

#: Bonus names accepted by :func:`ucbvi` (and their paper names).
UCBVI_BONUSES = {"hoeffding": "UCBVI-CH (Alg. 3)", "bernstein": "UCBVI-BF (Alg. 4)"}


def ucbvi(mdp: EpisodicMDP, n_episodes: int, *, bonus: str = "hoeffding",
          delta: float = 0.1, bonus_scale: float = 1.0, value_cap: str = "H", seed=None,
          seeds: int | None = None, record_at=None) -> E.RegretCurve:
    r"""Run UCBVI for ``n_episodes`` episodes and return its exact regret curve.

    Parameters
    ----------
    mdp : EpisodicMDP
        Stationary kernel (the paper's setting) and rewards in :math:`[0, 1]`.
    n_episodes : int
        Number of episodes :math:`K`.
    bonus : {"hoeffding", "bernstein"}
        UCBVI-CH or UCBVI-BF.
    delta : float
        Confidence level in :math:`(0, 1)` (enters :math:`L = \ln(5SAKH/\delta)`).
    bonus_scale : float
        Non-negative factor on the bonus.
    value_cap : {"H", "remaining"}
        Clip :math:`Q_{k,h}` at :math:`H` (Alg. 2 as stated) or at the remaining horizon
        :math:`H - h` (steps ``h = 0..H-1``), also an upper bound on :math:`Q^*_h` for
        rewards in :math:`[0, 1]`, so optimism is kept. With the cap :math:`H` the values
        of early steps stay saturated (all actions tie at :math:`H`) until the bonuses of
        the later steps are small, a long linear burn-in on long horizons.
    seed, seeds
        As in :func:`tabular_rl.sampling.sample_next_states`: a list of seeds or
        ``seeds=k`` runs a batch (one independent run per stream).
    record_at : array_like of int, optional
        Episode counts at which to record the cumulative regret (default: the last).

    Returns
    -------
    RegretCurve
        ``regret[..., i]`` :math:`= \sum_{k \le K_i} (\mu^\top V^*_0 - \mu^\top
        V^{\pi_k}_0)`, exact values of the played greedy policies (not sampled returns).

    Examples
    --------
    >>> import numpy as np
    >>> from tabular_rl import EpisodicMDP
    >>> from tabular_rl.learners.ucbvi import ucbvi
    >>> P = np.zeros((2, 2, 2)); P[:, 0, 0] = 1.0; P[:, 1, 1] = 1.0
    >>> mdp = EpisodicMDP(P, r=[[0.0, 1.0], [0.0, 1.0]], H=3, mu=[1.0, 0.0])
    >>> res = ucbvi(mdp, 50, seeds=2, seed=0, bonus_scale=0.1)
    >>> res.regret.shape, bool(np.all(res.regret >= 0))
    ((2, 1), True)
    """
    if not isinstance(mdp, EpisodicMDP):
        raise TypeError(f"ucbvi needs an EpisodicMDP, got {type(mdp).__name__}")
    if mdp.time_varying:
        raise ValueError("ucbvi follows Azar et al. (2017): the kernel must be stationary "
                         "(counts are pooled over steps); got a time-varying P")
    if bonus not in UCBVI_BONUSES:
        raise ValueError(f"bonus must be one of {sorted(UCBVI_BONUSES)}, got {bonus!r}")
    r = np.asarray(mdp.r)
    bad = (r < 0) | (r > 1)
    if bad.any():
        idx = np.unravel_index(int(np.argmax(bad)), r.shape)
        raise ValueError(f"ucbvi needs rewards in [0, 1]; r{list(map(int, idx))} = "
                         f"{float(r[idx])!r}")
    delta = V.check_real_scalar("delta", delta, 0.0, 1.0, lo_open=True)
    bonus_scale = V.check_real_scalar("bonus_scale", bonus_scale, 0.0, np.inf, hi_open=True)
    if value_cap not in ("H", "remaining"):
        raise ValueError(f"value_cap must be 'H' or 'remaining', got {value_cap!r}")
    pts = E.record_points(n_episodes, record_at)
    n_episodes = int(n_episodes)
    keys, batched = E.stream_keys(seed, seeds)
    model = E.EpisodicModel.of(mdp)
    v_star = E.optimal_start_value(mdp)
    S, A, H = mdp.S, mdp.A, mdp.H
    L = float(np.log(5.0 * S * A * n_episodes * H / delta))
    out = np.empty((keys.shape[0], pts.shape[0]))
    cap = np.full(H, float(H)) if value_cap == "H" else float(H) - np.arange(H, dtype=float)
    _ucbvi_kernel(*model.arrays, model.r, model.mu, model.mu_cdf, model.mu_hi, keys,
                  n_episodes, pts, 1 if bonus == "bernstein" else 0, L, bonus_scale, cap,
                  v_star, out)
    return E.RegretCurve(episodes=pts, regret=out if batched else out[0],
                         optimal_value=v_star, method=f"ucbvi-{bonus}")


@njit(cache=True)
def _ucbvi_kernel(indptr, indices, data, cdf, hi, kern_of_h, r, mu, mu_cdf, mu_hi, keys,
                  n_ep, pts, bernstein, L, scale, cap, v_star,
                  out):  # pragma: no cover - compiled
    H, S, A = r.shape
    SA = S * A
    Hf = float(H)
    c_bf = 100.0 ** 2 * Hf ** 3 * S * S * A * L * L
    stride = np.uint64(H + 1)
    for j in range(keys.shape[0]):
        key = keys[j]
        # Sparse next-state counts per pair: nxt[sa, :deg[sa]] with counts cnt.
        nxt = np.empty((SA, S), dtype=np.int64)
        cnt = np.zeros((SA, S))
        pos = np.full((SA, S), -1, dtype=np.int64)
        deg = np.zeros(SA, dtype=np.int64)
        n = np.zeros(SA)
        n_state = np.zeros((H + 1, S))       # N'(h, y): visits of y at step h
        # w_bf[h, y] = min(c_bf / N'(h, y), H^2) (H^2 unvisited, 0 at h = H), kept up to date
        # as N' changes instead of recomputed for every y in every planning pass.
        w_bf = np.full((H + 1, S), Hf * Hf)
        w_bf[H] = 0.0
        Q = np.empty((H, S, A))
        for h in range(H):
            Q[h] = cap[h]
        Vk = np.zeros((H + 1, S))
        act = np.zeros((H, S), dtype=np.int64)
        scratch = np.zeros((H + 1, S))
        cum = 0.0
        rec = 0
        for k in range(n_ep):
            if bernstein:
                _plan_bernstein(r, Q, Vk, act, nxt, cnt, deg, n, w_bf, L, scale, cap)
            else:
                _plan_hoeffding(r, Q, Vk, act, nxt, cnt, deg, n, L, scale, cap)
            cum += v_star - E.deterministic_value(indptr, indices, data, kern_of_h, r, mu,
                                                  act, scratch)
            base = np.uint64(k) * stride
            s = E.draw_start(mu_cdf, mu_hi, key, base)
            n_state[0, s] += 1.0
            for h in range(H):
                a = act[h, s]
                s2 = E.draw_next(indptr, indices, cdf, hi, kern_of_h, S, A, h, s, a, key,
                                 base + np.uint64(1 + h))
                sa = s * A + a
                p = pos[sa, s2]
                if p < 0:
                    p = deg[sa]
                    pos[sa, s2] = p
                    nxt[sa, p] = s2
                    deg[sa] += 1
                cnt[sa, p] += 1.0
                n[sa] += 1.0
                n_state[h + 1, s2] += 1.0
                if h + 1 < H:
                    w_bf[h + 1, s2] = min(c_bf / n_state[h + 1, s2], Hf * Hf)
                s = s2
            if rec < pts.shape[0] and k + 1 == pts[rec]:
                out[j, rec] = cum
                rec += 1


@njit(cache=True)
def _greedy_row(Q, Vk, act, h, s):  # pragma: no cover - compiled
    A = Q.shape[2]
    best = Q[h, s, 0]
    ba = 0
    for a in range(1, A):
        if Q[h, s, a] > best:
            best = Q[h, s, a]
            ba = a
    Vk[h, s] = best
    act[h, s] = ba


@njit(cache=True)
def _plan_hoeffding(r, Q, Vk, act, nxt, cnt, deg, n, L, scale, cap):  # pragma: no cover
    """Alg. 2 with ``bonus_1``: backward optimistic value iteration on the counts."""
    H, S, A = r.shape
    Hf = float(H)
    c = scale * 7.0 * Hf * L
    for h in range(H - 1, -1, -1):
        vn = Vk[h + 1]
        for s in range(S):
            for a in range(A):
                sa = s * A + a
                nsa = n[sa]
                if nsa > 0.0:
                    pv = 0.0
                    for m in range(deg[sa]):
                        pv += cnt[sa, m] * vn[nxt[sa, m]]
                    q = r[h, s, a] + pv / nsa + c / np.sqrt(nsa)
                    q = min(q, Q[h, s, a], cap[h])
                else:
                    q = cap[h]
                Q[h, s, a] = q
            _greedy_row(Q, Vk, act, h, s)


@njit(cache=True)
def _plan_bernstein(r, Q, Vk, act, nxt, cnt, deg, n, w_bf, L, scale,
                    cap):  # pragma: no cover
    """Alg. 2 with ``bonus_2`` (Bernstein-Freedman)."""
    H, S, A = r.shape
    Hf = float(H)
    c_var = 8.0 * L
    c_lin = 14.0 * Hf * L / 3.0
    for h in range(H - 1, -1, -1):
        vn = Vk[h + 1]
        # w[y] = min(100^2 H^3 S^2 A L^2 / N'_{h+1}(y), H^2), 0 at the end (kept by the caller)
        w = w_bf[h + 1]
        for s in range(S):
            for a in range(A):
                sa = s * A + a
                nsa = n[sa]
                if nsa > 0.0:
                    pv = 0.0
                    pv2 = 0.0
                    pn = 0.0
                    for m in range(deg[sa]):
                        y = nxt[sa, m]
                        cm = cnt[sa, m]
                        vy = vn[y]
                        pv += cm * vy
                        pv2 += cm * vy * vy
                        pn += cm * w[y]
                    inv = 1.0 / nsa                # one division per pair (hot loop)
                    pv *= inv
                    upper = min(Q[h, s, a], cap[h])
                    q = r[h, s, a] + pv + scale * c_lin * inv
                    if q < upper:                  # else capped: the square roots can't matter
                        var = max(pv2 * inv - pv * pv, 0.0)
                        b = (np.sqrt(c_var * var * inv) + c_lin * inv
                             + np.sqrt(8.0 * pn) * inv)
                        q = min(r[h, s, a] + pv + scale * b, upper)
                    else:
                        q = upper
                else:
                    q = cap[h]
                Q[h, s, a] = q
            _greedy_row(Q, Vk, act, h, s)
