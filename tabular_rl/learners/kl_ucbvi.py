r"""Optimistic KL-regularized value iteration toward a behavior-cloning policy
(demonstration-regularized UCBVI-Ent+, reconstructed), compiled and batched over seeds.

Reference: D. Tiapkin, D. Belomestny, D. Calandriello, E. Moulines, R. Munos, A. Naumov,
P. Perrault, M. Valko, P. Ménard, "Demonstration-Regularized RL", ICLR 2024
(arXiv:2310.17303); the regularized-exploration machinery is that of D. Tiapkin et al.,
"Fast Rates for Maximum Entropy Exploration", ICML 2023 (arXiv:2303.08059; UCBVI-Ent, see
:mod:`tabular_rl.learners.max_entropy`).

**Source note.** Only the abstract and front matter of arXiv:2310.17303 could be read in
this environment, plus public ICLR 2024 reviews of it (OpenReview ``lF2aip4Scn``). From
those we know: Algorithm 1 is demonstration-regularized RL (BC, then regularized BPI toward
:math:`\pi^{BC}`); the regularized BPI step is **UCBVI-Ent+** (Algorithm 3), "a
modification of UCBVI-Ent (Tiapkin et al., 2023) with improved sample complexity" that
uses the reward; **Theorem 5** gives it an :math:`\tilde O(\mathrm{poly}(S,A,H)/(\lambda
\varepsilon))`-type sample complexity for :math:`\varepsilon`-optimality in the
:math:`\lambda`-regularized MDP (a reviewer: ":math:`O(\varepsilon^{-1})` sample
complexity according to Theorem 5"); **Corollary 3** combines it with the BC bound
(:math:`\mathrm{KL}_{\mathrm{traj}}(\pi^E\|\pi^{BC}) = \tilde O(SAH/N^E)`) and
:math:`\lambda \asymp \varepsilon N^E/\mathrm{poly}(S,A,H)` into the headline
:math:`\tilde O(\mathrm{Poly}(S,A,H)/(\varepsilon^2 N^E))` episodes, for an
:math:`O(\varepsilon)`-optimal expert. The exact bonus constants, the exact stopping rule,
the definition of the recommended policy (Algorithm 3 names policies
:math:`\pi^{t,(h)}` and :math:`\tilde\pi^t` that we could not read) and the polynomial of
Theorem 5 / Corollary 3 were **not** readable; everything below that is not in the
previous sentences is *reconstructed* in the style of UCBVI-Ent and BPI-UCBVI.

Algorithm (as implemented). Known rewards :math:`r_h`, unknown kernels, reference
:math:`\pi^{BC}` (:func:`~tabular_rl.learners.demonstrations.behavior_cloning`), counts
:math:`n^t_h(s,a)`, :math:`n^t_h(s,a,s')` after :math:`t` episodes (pooled over steps
when the model's kernel is stationary, per step otherwise), empirical kernel
:math:`\hat P^t_h`. Before episode :math:`t+1`, backward for :math:`h = H-1, \dots, 0`
(:math:`\bar V_H = \underline V_H = 0`):

.. math::

    \bar Q_h(s,a) &= \min\Big(r_h(s,a) + \hat P^t_h\bar V_{h+1}(s,a) + b^t_h(s,a),\;
        r_h(s,a) + \max_{y}\bar V_{h+1}(y)\Big),\\
    \bar V_h(s) &= \lambda\log\sum_a\pi^{BC}_h(a\mid s)\,e^{\bar Q_h(s,a)/\lambda},\qquad
    \pi^{t+1}_h(a\mid s) = \pi^{BC}_h(a\mid s)\,e^{(\bar Q_h(s,a) - \bar V_h(s))/\lambda},\\
    \underline Q_h(s,a) &= \max\Big(r_h(s,a) + \hat P^t_h\underline V_{h+1}(s,a)
        - b^t_h(s,a),\; r_h(s,a) + \min_{y}\underline V_{h+1}(y)\Big),\\
    \underline V_h(s) &= \textstyle\sum_a \pi^{t+1}_h(a\mid s)\,\underline Q_h(s,a)
        - \lambda\,\mathrm{KL}(\pi^{t+1}_h(s)\,\|\,\pi^{BC}_h(s)),

(for an unvisited pair only the data-free second terms are used), with the bonus, for
:math:`n = n^t_h(s,a)`, :math:`\rho_{h+1} = \sum_{h' > h}(\max r_{h'} - \min r_{h'})`
(the range of :math:`V^\star_{\lambda, h+1}`), :math:`L = \log(4SAH/\delta)`,

.. math::

    b^t_h(s,a) = \texttt{bonus\_scale}\cdot\rho_{h+1}\Big(\sqrt{\frac{L + \log(4e\,n(2n+1))}
    {n}} + \frac{L + (S-1)\log(e(1 + n/(S-1)))}{n}\Big),

the UCBVI-Ent concentration terms (Hoeffding for :math:`(\hat P - P)V^\star_{\lambda,h+1}`,
a KL-concentration term of order :math:`S/n` for the rest). On the event where these
confidence bounds hold, :math:`\bar V_0 \ge V^\star_{\lambda,0}` and
:math:`\underline V_0 \le V^{\pi^{t+1}}_{\lambda,0}`, so

.. math::

    G^{t} = \mu^\top(\bar V_0 - \underline V_0) \;\ge\; V^\star_\lambda - V^{\pi^{t+1}}_\lambda

is a computable bound on the regularized gap of the soft-greedy policy. Episode
:math:`t+1` is played with :math:`\pi^{t+1}` (the optimistic soft-greedy policy; it has
full support where :math:`\pi^{BC}` has, which is everywhere for add-:math:`\kappa` BC),
its transitions update the counts. *Stopping rule* (reconstructed): stop at
:math:`\tau = \min\{t : G^t \le \varepsilon\}` and recommend :math:`\pi^{\tau+1}`; the
learner reports :math:`\tau` (``stopped_at``) when ``eps`` is given and keeps running to
``n_episodes`` otherwise, so rate curves can be measured. The recommended policy after
:math:`t` episodes is :math:`\pi^{t+1}`, the soft-greedy policy of the :math:`t`-episode
counts.

Why a :math:`1/(\lambda n)` rate: the regularized gap of any policy is
:math:`V^\star_\lambda - V^\pi_\lambda = \lambda\,\mathbb E_\pi\sum_h
\mathrm{KL}(\pi_h(s_h)\|\pi^\star_h(s_h))` (regularized performance difference), and for two
tilts of :math:`\pi^{BC}` by :math:`Q/\lambda` and :math:`Q^\star/\lambda` the KL is
second order, :math:`\lesssim \mathrm{Var}_{\pi}(\bar Q - Q^\star)/(2\lambda^2)`; with
:math:`\bar Q - Q^\star = O(b) = \tilde O(\sqrt{1/n})` the gap is
:math:`\tilde O(1/(\lambda n))`, up to the logarithms of the bonus.

``bonus_scale`` multiplies every bonus (1: the constants above; 0: certainty equivalence
with soft-greedy exploration).

Randomness: seed :math:`i` uses the counter-based stream of ``seed[i]`` (uniforms at
counters :math:`t(2H+1) + c`: start state, then action and next state of each step), as in
:func:`tabular_rl.learners.max_entropy.ucbvi_ent`; a batch gives, seed for seed, the result
of separate calls.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from .. import _validation as V
from ..mdp import EpisodicMDP
from ..sampling import Trajectories
from . import episodic as E
from .demonstrations import _check_policy_table, _positive, behavior_cloning

__all__ = ["KLUCBVIResult", "demo_regularized_ucbvi_ent"]


@dataclass(frozen=True)
class KLUCBVIResult:
    r"""Output of :func:`demo_regularized_ucbvi_ent` (a superset of
    :class:`~tabular_rl.learners.demonstrations.DemoRegularizedResult`).

    Attributes
    ----------
    policies : ndarray
        ``(B, k, H, S, A)`` (``(k, H, S, A)`` unbatched): the soft-greedy policy of the
        optimistic model after each count of ``n_episodes``.
    pi_bc : ndarray
        ``(B, H, S, A)`` (``(H, S, A)``): the reference :math:`\pi^{BC}`.
    n_episodes : ndarray
        ``(k,)`` the recorded episode counts.
    lam : float
    upper : ndarray
        ``(B, k)`` (``(k,)``): :math:`\mu^\top\bar V_0`, an upper confidence bound on
        :math:`V^\star_\lambda`.
    gap_bound : ndarray
        ``(B, k)`` (``(k,)``): :math:`G = \mu^\top(\bar V_0 - \underline V_0)`, an upper
        confidence bound on the regularized gap of the recorded policy.
    stopped_at : ndarray
        ``(B,)`` (scalar array unbatched): the stopping time :math:`\tau` (episodes played
        when :math:`G \le \varepsilon` first held), ``-1`` if never or if no ``eps``.
    """

    policies: np.ndarray
    pi_bc: np.ndarray
    n_episodes: np.ndarray
    lam: float
    upper: np.ndarray
    gap_bound: np.ndarray
    stopped_at: np.ndarray


def demo_regularized_ucbvi_ent(mdp: EpisodicMDP, demonstrations: Trajectories | None,
                               n_episodes: int, lam: float, *, seed=None,
                               record_at=None, bonus_scale: float = 1.0, delta: float = 0.1,
                               kappa: float = 1.0, eps: float | None = None,
                               pi_bc=None) -> KLUCBVIResult:
    r"""Demonstration-regularized UCBVI-Ent+ (reconstructed; see the module docstring):
    behavior cloning, then episodes of the optimistic KL-regularized soft-greedy policy
    :math:`\pi_h(a\mid s)\propto\pi^{BC}_h(a\mid s)\,e^{\bar Q_h(s,a)/\lambda}`.

    Parameters
    ----------
    mdp : EpisodicMDP
        The true model; the learner reads its reward (known, as in the paper) and samples
        its transitions.
    demonstrations : Trajectories or None
        Expert episodes ``(N, H+1)``, or ``(B, N, H+1)`` for one set per seed; ``None`` when
        ``pi_bc`` is given.
    n_episodes : int
        Episodes played (the largest recorded count).
    lam : float
        Regularization :math:`\lambda > 0`.
    seed : int, SeedSequence, Generator, or a list of ``B`` of these
        A list runs a batch (one stream per entry, matching the demonstrations' seed axis).
    record_at : array_like of int, optional
        Strictly increasing counts in ``1..n_episodes`` at which to record the policy
        (default: ``n_episodes``).
    bonus_scale : float
        Factor :math:`\ge 0` on the bonus (0: certainty equivalence).
    delta : float
        Confidence level in :math:`(0, 1)`.
    kappa : float
        BC smoothing (:func:`~tabular_rl.learners.demonstrations.behavior_cloning`).
    eps : float, optional
        Accuracy of the stopping rule :math:`G \le \varepsilon` (``stopped_at``).
    pi_bc : array_like, optional
        A reference policy ``(H, S, A)`` (shared by all seeds) or ``(B, H, S, A)`` used
        instead of cloning ``demonstrations``.

    Returns
    -------
    KLUCBVIResult

    Raises
    ------
    ValueError
        Bad ``n_episodes``, ``lam``, ``record_at``, ``bonus_scale``, ``delta``, ``eps``; a
        seed list whose length differs from the demonstrations' batch; both or neither of
        ``demonstrations`` and ``pi_bc``.
    TypeError
        ``mdp`` is not an :class:`EpisodicMDP`.

    Examples
    --------
    >>> import numpy as np
    >>> from tabular_rl import EpisodicMDP
    >>> mdp = EpisodicMDP(np.full((2, 2, 2), 0.5), np.array([[1.0, 0.0], [0.0, 0.0]]), H=2)
    >>> res = demo_regularized_ucbvi_ent(mdp, None, 50, 1.0, seed=[0, 1],
    ...                                  pi_bc=np.full((2, 2, 2), 0.5), record_at=[10, 50])
    >>> res.policies.shape, res.gap_bound.shape
    ((2, 2, 2, 2, 2), (2, 2))
    """
    if not isinstance(mdp, EpisodicMDP):
        raise TypeError(f"demo_regularized_ucbvi_ent needs an EpisodicMDP, got "
                        f"{type(mdp).__name__}")
    lam = _positive("lam", lam)
    pts = E.record_points(n_episodes, record_at)
    bonus_scale = V.check_real_scalar("bonus_scale", bonus_scale, 0.0, np.inf, hi_open=True)
    delta = V.check_real_scalar("delta", delta, 0.0, 1.0, lo_open=True, hi_open=True)
    eps_v = -1.0 if eps is None else _positive("eps", eps)
    S, A, H = mdp.S, mdp.A, mdp.H
    if (demonstrations is None) == (pi_bc is None):
        raise ValueError("give exactly one of demonstrations and pi_bc")
    if pi_bc is None:
        ref = behavior_cloning(demonstrations, S, A, kappa=kappa)
        if ref.shape[-3] != H:
            raise ValueError(f"demonstrations have horizon {ref.shape[-3]}, the model H={H}")
    else:
        ref = _check_policy_table("pi_bc", pi_bc, S, A, H)
        if ref.ndim > 4:
            raise ValueError(f"pi_bc must be (H, S, A) or (B, H, S, A), got {ref.shape}")
    keys, batched = E.stream_keys(seed, None)
    B = keys.shape[0]
    refs = ref[None] if ref.ndim == 3 else ref
    if refs.shape[0] == 1 and (pi_bc is not None or not batched):
        refs = np.broadcast_to(refs, (B, H, S, A))
    if refs.shape[0] != B:
        raise ValueError(f"got {B} seeds for {refs.shape[0]} demonstration sets")
    refs = np.ascontiguousarray(refs, dtype=np.float64)
    model = E.EpisodicModel.of(mdp)
    r = model.r
    step_rng = r.max(axis=(1, 2)) - r.min(axis=(1, 2))
    rng_next = np.concatenate([np.cumsum(step_rng[::-1])[::-1], [0.0]])[1:]   # rho_{h+1}
    gidx = (np.arange(H) if mdp.time_varying else np.zeros(H)).astype(np.int64)
    L = float(np.log(4.0 * S * A * H / delta))
    fval, fdev = _bonus_tables(int(pts[-1]) * (H if gidx.max() == 0 else 1), S, L)
    pols = np.zeros((B, pts.shape[0], H, S, A))
    upper = np.zeros((B, pts.shape[0]))
    gap = np.zeros((B, pts.shape[0]))
    tau = np.full(B, -1, dtype=np.int64)
    _kl_ucbvi_kernel(*model.arrays, model.mu, model.mu_cdf, model.mu_hi, keys, int(pts[-1]),
                     pts, r, refs, gidx, int(gidx.max()) + 1, rng_next, fval, fdev, float(lam),
                     bonus_scale, eps_v, pols, upper, gap, tau)
    if not batched:
        return KLUCBVIResult(pols[0], refs[0].copy(), pts, lam, upper[0], gap[0], tau[0])
    return KLUCBVIResult(pols, refs.copy(), pts, lam, upper, gap, tau)


# ----------------------------------------------------------------------------- kernels


def _bonus_tables(n_max: int, S: int, L: float) -> tuple[np.ndarray, np.ndarray]:
    r"""Per-count factors, index ``n = 0..n_max`` (entry 0 unused): the value bonus
    :math:`\sqrt{(L + \log(4en(2n+1)))/n} + (L + (S-1)\log(e(1 + n/(S-1))))/n` (times
    :math:`\rho_{h+1}`) and the uniform deviation :math:`\sqrt{\beta^{KL}(n)/(2n)}` (times
    the range of the function), :math:`\beta^{KL}(n) = L + (S-1)\log(e(1 + n/(S-1)))`."""
    n = np.arange(n_max + 1, dtype=np.float64)
    n[0] = 1.0
    sm1 = max(S - 1, 1)
    bkl = L + (S - 1) * np.log(np.e * (1.0 + n / sm1))
    val = np.sqrt((L + np.log(4.0 * np.e * n * (2.0 * n + 1.0))) / n) + bkl / n
    dev = np.sqrt(bkl / (2.0 * n))
    val[0] = dev[0] = np.inf
    return val, dev


@njit(cache=True)
def _kl_plan(cnt, n, gidx, r, ref, lam, rng_next, fval, scale, Vup, Vlo, Qup, Qlo,
             pi):  # pragma: no cover - compiled
    """Optimistic soft backward induction toward ``ref`` and the pessimistic regularized
    evaluation of its soft-greedy policy (module docstring); fills ``Vup``, ``Vlo``,
    ``Qup``, ``Qlo`` (H, S, A) and ``pi``."""
    H, S, A = r.shape
    for h in range(H - 1, -1, -1):
        g = gidx[h]
        hi_next = -np.inf
        lo_next = np.inf
        for y in range(S):
            hi_next = max(hi_next, Vup[h + 1, y])
            lo_next = min(lo_next, Vlo[h + 1, y])
        for s in range(S):
            for a in range(A):
                nsa = n[g, s, a]
                cap_up = r[h, s, a] + hi_next
                cap_lo = r[h, s, a] + lo_next
                if nsa > 0.0:
                    pu = 0.0
                    pl = 0.0
                    for y in range(S):
                        c = cnt[g, s, a, y]
                        if c > 0.0:
                            pu += c * Vup[h + 1, y]
                            pl += c * Vlo[h + 1, y]
                    pu /= nsa
                    pl /= nsa
                    b = scale * rng_next[h] * fval[int(nsa)] if scale > 0.0 else 0.0
                    Qup[h, s, a] = min(r[h, s, a] + pu + b, cap_up)
                    Qlo[h, s, a] = max(r[h, s, a] + pl - b, cap_lo)
                else:
                    Qup[h, s, a] = cap_up
                    Qlo[h, s, a] = cap_lo
            m = -np.inf
            for a in range(A):
                if ref[h, s, a] > 0.0 and Qup[h, s, a] > m:
                    m = Qup[h, s, a]
            z = 0.0
            for a in range(A):
                if ref[h, s, a] > 0.0:
                    z += ref[h, s, a] * np.exp((Qup[h, s, a] - m) / lam)
            lz = np.log(z)
            Vup[h, s] = m + lam * lz
            vl = 0.0
            for a in range(A):
                if ref[h, s, a] > 0.0:
                    lr = (Qup[h, s, a] - m) / lam - lz          # log(pi / ref)
                    p = ref[h, s, a] * np.exp(lr)
                    pi[h, s, a] = p
                    vl += p * (Qlo[h, s, a] - lam * lr)
                else:
                    pi[h, s, a] = 0.0
            Vlo[h, s] = vl


@njit(cache=True)
def _gap_bound(cnt, n, gidx, ref, lam, fdev, scale, mu, Vup, Vlo, Qup, Qlo, pi,
               W):  # pragma: no cover - compiled
    r"""The certified regularized gap :math:`\min(G_1, G_2)` of ``pi`` (module docstring):
    :math:`G_1 = \mu^\top(\bar V_0 - \underline V_0)` and the second-order
    :math:`G_2 = \mu^\top W_0`."""
    H, S, A = pi.shape
    g1 = 0.0
    for s in range(S):
        g1 += mu[s] * (Vup[0, s] - Vlo[0, s])
    for s in range(S):
        W[H, s] = 0.0
    for h in range(H - 1, -1, -1):
        g = gidx[h]
        R = 0.0
        for y in range(S):
            R = max(R, W[h + 1, y])
        for s in range(S):
            wmax = 0.0
            for a in range(A):
                if ref[h, s, a] > 0.0:
                    wmax = max(wmax, Qup[h, s, a] - Qlo[h, s, a])
            acc = wmax * wmax / (8.0 * lam)
            for a in range(A):
                p = pi[h, s, a]
                if p <= 0.0:
                    continue
                nsa = n[g, s, a]
                nxt = R
                if nsa > 0.0 and R > 0.0:
                    pw = 0.0
                    for y in range(S):
                        c = cnt[g, s, a, y]
                        if c > 0.0:
                            pw += c * W[h + 1, y]
                    nxt = min(pw / nsa + scale * R * fdev[int(nsa)], R)
                acc += p * nxt
            W[h, s] = acc
    g2 = 0.0
    for s in range(S):
        g2 += mu[s] * W[0, s]
    return min(g1, g2)


@njit(cache=True)
def _kl_ucbvi_kernel(indptr, indices, data, cdf, hi, kern_of_h, mu, mu_cdf, mu_hi, keys, n_ep,
                     pts, r, refs, gidx, G, rng_next, fval, fdev, lam, scale, eps, out_pi,
                     out_up, out_gap, out_tau):  # pragma: no cover - compiled
    H, S, A = r.shape
    stride = np.uint64(2 * H + 1)
    for j in range(keys.shape[0]):
        key = keys[j]
        ref = refs[j]
        cnt = np.zeros((G, S, A, S))
        n = np.zeros((G, S, A))
        Vup = np.zeros((H + 1, S))
        Vlo = np.zeros((H + 1, S))
        W = np.zeros((H + 1, S))
        Qup = np.zeros((H, S, A))
        Qlo = np.zeros((H, S, A))
        pi = np.zeros((H, S, A))
        rec = 0
        for t in range(n_ep + 1):
            # policy pi^{t+1} from the counts of the first t episodes
            _kl_plan(cnt, n, gidx, r, ref, lam, rng_next, fval, scale, Vup, Vlo, Qup, Qlo, pi)
            record = rec < pts.shape[0] and t == pts[rec]
            if record or (eps > 0.0 and out_tau[j] < 0):
                g_t = _gap_bound(cnt, n, gidx, ref, lam, fdev, scale, mu, Vup, Vlo, Qup, Qlo,
                                 pi, W)
                if eps > 0.0 and out_tau[j] < 0 and g_t <= eps:
                    out_tau[j] = t
                if record:
                    up_t = 0.0
                    for s in range(S):
                        up_t += mu[s] * Vup[0, s]
                    for h in range(H):
                        for s in range(S):
                            for a in range(A):
                                out_pi[j, rec, h, s, a] = pi[h, s, a]
                    out_up[j, rec] = up_t
                    out_gap[j, rec] = g_t
                    rec += 1
            if t == n_ep:
                break
            # episode t + 1 with the soft-greedy policy
            base = np.uint64(t) * stride
            s = E.draw_start(mu_cdf, mu_hi, key, base)
            for h in range(H):
                ctr = base + np.uint64(1 + 2 * h)
                a = E.draw_action(pi[h, s], E.K.uniform(key, ctr))
                s2 = E.draw_next(indptr, indices, cdf, hi, kern_of_h, S, A, h, s, a, key,
                                 ctr + np.uint64(1))
                g = gidx[h]
                cnt[g, s, a, s2] += 1.0
                n[g, s, a] += 1.0
                s = s2
