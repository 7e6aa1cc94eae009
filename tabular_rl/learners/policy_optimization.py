r"""Policy optimization with bandit feedback: FTRL over policies, per state, with
exploration bonuses (Dann, Wei, Zimmert, "Best of Both Worlds Policy Optimization",
ICML 2023, arXiv:2302.09408).

Setting. An episodic MDP with *known* transitions :math:`P_h` and a loss sequence
:math:`\ell_t(h,s,a)\in[0,1]` chosen by an oblivious adversary or drawn i.i.d.
(:mod:`tabular_rl.learners.adversaries`). In episode :math:`t` the learner plays
:math:`\pi_t`, observes one trajectory and the losses of the visited pairs only (bandit
feedback). Regret against the best fixed policy in expectation (the paper's §2):
:math:`\mathrm{Reg}(T) = \sum_t \langle q^{\pi_t}, m_t\rangle - \min_\pi \sum_t \langle
q^\pi, m_t\rangle`, :math:`m_t = \mathbb E\ell_t`, :math:`q^\pi` the occupancy; computed
exactly (occupancies by forward recursion on the known kernel, the comparator by backward
induction on the cumulative mean losses).

Algorithm (the paper's Alg. 1, policy optimization): for every step and state
independently,

.. math::

    \pi_t(\cdot\mid h,s) = \arg\min_{\pi\in\Delta_A}\ \Big\langle \pi,
    \sum_{\tau<t}\big(\hat Q_\tau(h,s,\cdot) - B_\tau(h,s,\cdot)\big)\Big\rangle
    + \psi_t(\pi; h, s),

with the importance-weighted estimator (exact occupancy :math:`q_t(h,s)` of the played
policy, known transitions)

.. math::

    \hat Q_t(h,s,a) = \frac{\mathbb 1[(s_{t,h},a_{t,h}) = (s,a)]\,
    \sum_{h'\ge h}\ell_t(h', s_{t,h'}, a_{t,h'})}{q_t(h,s)\,\pi_t(a\mid h,s)}
    \qquad(\mathbb E\hat Q_t = Q^{\pi_t}_t),

and the dilated bonus (Luo, Wei, Lee, NeurIPS 2021, used by the paper)

.. math::

    B_t(h,s,a) = b_t(h,s) + \Big(1 + \frac1H\Big)\sum_{s'}P_h(s'\mid s,a)
    \sum_{a'}\pi_t(a'\mid h+1,s')\,B_t(h+1,s',a'),
    \qquad b_t(h,s) = \beta_b\,\frac{\eta_t(h,s)\,H^2\,\xi(\pi_t(\cdot\mid h,s))}{q_t(h,s)},

where :math:`\eta_t H^2\xi(\pi)/q` is the expected stability term of the estimator at
:math:`(h,s)` (:math:`\xi` vanishes at deterministic policies, which is what lets the
stochastic regret be polylogarithmic). Regularizers and schedules (anytime; ``t``
1-based):

* ``"tsallis"`` (1/2-Tsallis): :math:`\psi_t = -\tfrac{2}{\eta_t}\sum_a\sqrt{\pi(a)}`,
  :math:`\eta_t = c/(H\sqrt t)`, :math:`\xi = \sum_a\sqrt{\pi(a)}(1-\pi(a))`; the solution
  is :math:`\pi(a) = (\eta_t(L(a)+\nu))^{-2}` with :math:`\nu` found by Newton's method.
* ``"shannon"``: :math:`\psi_t = \tfrac{1}{\eta_t(h,s)}\sum_a\pi(a)\log\pi(a)`, with the
  entropy-adaptive rate :math:`1/\eta_{t+1} = 1/\eta_t + (H/c)/\sqrt{1 +
  \sum_{\tau\le t}\mathcal H(\pi_\tau(\cdot|h,s))/\log A}` (:math:`1/\eta_1 = H/c`),
  :math:`\xi = 2(1-\max_a\pi(a))`.
* ``"log_barrier"``: :math:`\psi_t = \sum_a \tfrac{1}{\eta_t}\log\tfrac{1}{\pi(a)}`,
  :math:`\eta_t = c/(H\sqrt t)`, :math:`\xi = \sum_a\pi(a)(1-\pi(a))`.

``learning_rate=<float>`` replaces the schedule by a constant :math:`\eta` (the classic
horizon-tuned choice :math:`\eta\propto 1/\sqrt T`; not best-of-both-worlds: in the
stochastic regime its regret grows like :math:`\sqrt T`), ``bonus_scale`` is
:math:`\beta_b` (0 removes the bonus).

Theorems (as stated in the abstract and §1 of the paper): with Tsallis or Shannon
regularization and the bonuses, regret :math:`\tilde O(\sqrt T)` against any adversary
and :math:`O(\mathrm{polylog}(T))` (gap-dependent, :math:`\log^2 T`-type with Shannon)
when losses are stochastic; with the log-barrier and known transitions, a first-order
bound in the adversarial regime. **Only the abstract and the first page of the paper
could be retrieved in this environment**, so the theorem numbers, the exact bonus
constants and the learning-rate schedules above are a reconstruction from the stated
design (FTRL per state, importance weighting with the exact occupancy, dilated
bonuses, 1/√t-type and entropy-adaptive rates), not a transcription; the log-barrier
uses a plain :math:`1/\sqrt t` schedule rather than the paper's adaptive first-order
one. Unknown transitions are not implemented.
"""

from __future__ import annotations

import numbers

import numpy as np
from numba import njit

from .. import _validation as V
from ..mdp import EpisodicMDP
from . import episodic as E
from .adversaries import LossSequence, loss_at

__all__ = ["REGULARIZERS", "best_fixed_loss", "policy_optimization"]

#: Regularizer names and their kernel codes.
REGULARIZERS = {"tsallis": 0, "shannon": 1, "log_barrier": 2}


def best_fixed_loss(mdp: EpisodicMDP, cumulative_losses: np.ndarray) -> float:
    r""":math:`\min_\pi \langle q^\pi, M\rangle` for a loss table ``M`` (H, S, A), by
    backward induction (minimizing)."""
    from ..planning.dp import backward_induction

    M = np.asarray(cumulative_losses, dtype=np.float64)
    P = mdp.P if not mdp.is_sparse else [mdp.P_flat(h) for h in range(mdp.H)] \
        if mdp.time_varying else mdp.P
    sol = backward_induction(EpisodicMDP(P, -M, mdp.H, mdp.mu))
    return -float(np.asarray(mdp.mu) @ sol.v[0])


def policy_optimization(mdp: EpisodicMDP, losses: LossSequence, n_episodes: int, *,
                        regularizer: str = "tsallis", learning_rate: str | float = "anytime",
                        lr_scale: float = 1.0, bonus_scale: float = 1.0, seed=None,
                        seeds: int | None = None, record_at=None) -> E.RegretCurve:
    r"""Run FTRL policy optimization (known transitions, bandit feedback).

    Parameters
    ----------
    mdp : EpisodicMDP
        Supplies :math:`P_h`, :math:`H` and :math:`\mu` (its rewards are ignored).
    losses : LossSequence
        The adversary; its shape must be ``(H, S, A)`` of ``mdp``.
    n_episodes : int
        :math:`T`.
    regularizer : {"tsallis", "shannon", "log_barrier"}
    learning_rate : "anytime" or float
        The schedule of the module docstring, or a constant :math:`\eta > 0`.
    lr_scale : float
        The constant :math:`c` of the schedules.
    bonus_scale : float
        :math:`\beta_b \ge 0`.
    seed, seeds
        The learner's randomness (actions, transitions), as in
        :func:`tabular_rl.sampling.sample_next_states`; the loss draws depend on the
        seed too (see :class:`~tabular_rl.learners.adversaries.LossSequence`), so a run
        is the same alone or in a batch.
    record_at : array_like of int, optional
        Episode counts at which to record the regret (default: the last).

    Returns
    -------
    RegretCurve
        Exact expected regret against the best fixed policy for the mean losses.

    Examples
    --------
    >>> import numpy as np
    >>> from tabular_rl import EpisodicMDP
    >>> from tabular_rl.learners.adversaries import stochastic_losses
    >>> P = np.full((2, 2, 2), 0.5)
    >>> mdp = EpisodicMDP(P, r=np.zeros((2, 2)), H=2)
    >>> res = policy_optimization(mdp, stochastic_losses(2, 2, 2, gap=0.3), 200, seeds=3,
    ...                           seed=0, record_at=[100, 200])
    >>> res.regret.shape
    (3, 2)
    """
    if not isinstance(mdp, EpisodicMDP):
        raise TypeError(f"policy_optimization needs an EpisodicMDP, got {type(mdp).__name__}")
    if not isinstance(losses, LossSequence):
        raise TypeError(f"losses must be a LossSequence, got {type(losses).__name__}")
    if losses.shape != (mdp.H, mdp.S, mdp.A):
        raise ValueError(f"losses have shape (H, S, A) = {losses.shape}, the MDP "
                         f"{(mdp.H, mdp.S, mdp.A)}")
    if regularizer not in REGULARIZERS:
        raise ValueError(f"regularizer must be one of {sorted(REGULARIZERS)}, got "
                         f"{regularizer!r}")
    if isinstance(learning_rate, str):
        if learning_rate != "anytime":
            raise ValueError(f"learning_rate must be 'anytime' or a positive float, got "
                             f"{learning_rate!r}")
        lr_const = 0.0
    elif isinstance(learning_rate, numbers.Real) and not isinstance(learning_rate, bool):
        lr_const = V.check_real_scalar("learning_rate", learning_rate, 0.0, np.inf,
                                       lo_open=True)
    else:
        raise TypeError(f"learning_rate must be 'anytime' or a float, got "
                        f"{type(learning_rate).__name__}")
    lr_scale = V.check_real_scalar("lr_scale", lr_scale, 0.0, np.inf, lo_open=True)
    bonus_scale = V.check_real_scalar("bonus_scale", bonus_scale, 0.0, np.inf)
    pts = E.record_points(n_episodes, record_at)
    keys, batched = E.stream_keys(seed, seeds)
    loss_keys = losses.keys(keys)
    model = E.EpisodicModel.of(mdp)
    learner = np.empty((keys.shape[0], pts.shape[0]))
    _po_kernel(*model.arrays, model.mu, model.mu_cdf, model.mu_hi,
               np.ascontiguousarray(losses.means), bool(losses.bernoulli), keys, loss_keys,
               int(n_episodes), pts, REGULARIZERS[regularizer], lr_const, lr_scale,
               bonus_scale, learner)
    comparator = np.array([best_fixed_loss(mdp, losses.cumulative_means(int(T)))
                           for T in pts])
    regret = learner - comparator
    return E.RegretCurve(episodes=pts, regret=regret if batched else regret[0],
                         optimal_value=float("nan"),
                         method=f"policy-optimization-{regularizer}")


# --------------------------------------------------------------------------- kernels


@njit(cache=True)
def _tsallis(L, eta, out):  # pragma: no cover - compiled
    r""":math:`\arg\min_\pi \langle\pi,L\rangle - (2/\eta)\sum_a\sqrt{\pi_a}`."""
    A = L.shape[0]
    lmin = L[0]
    for a in range(1, A):
        lmin = min(lmin, L[a])
    nu = -lmin + 1.0 / eta
    for _ in range(100):
        f = -1.0
        fp = 0.0
        for a in range(A):
            x = eta * (L[a] + nu)
            f += 1.0 / (x * x)
            fp -= 2.0 * eta / (x * x * x)
        if f <= 1e-13:
            break
        nu -= f / fp
    tot = 0.0
    for a in range(A):
        x = eta * (L[a] + nu)
        out[a] = 1.0 / (x * x)
        tot += out[a]
    for a in range(A):
        out[a] /= tot


@njit(cache=True)
def _shannon(L, eta, out):  # pragma: no cover - compiled
    A = L.shape[0]
    lmin = L[0]
    for a in range(1, A):
        lmin = min(lmin, L[a])
    tot = 0.0
    for a in range(A):
        out[a] = np.exp(-eta * (L[a] - lmin))
        tot += out[a]
    for a in range(A):
        out[a] /= tot


@njit(cache=True)
def _log_barrier(L, eta, out):  # pragma: no cover - compiled
    r""":math:`\arg\min_\pi \langle\pi,L\rangle + (1/\eta)\sum_a\log(1/\pi_a)`:
    :math:`\pi_a = 1/(\eta(L_a+\nu))`."""
    A = L.shape[0]
    lmin = L[0]
    for a in range(1, A):
        lmin = min(lmin, L[a])
    nu = -lmin + 1.0 / eta
    for _ in range(100):
        f = -1.0
        fp = 0.0
        for a in range(A):
            x = eta * (L[a] + nu)
            f += 1.0 / x
            fp -= eta / (x * x)
        if f <= 1e-13:
            break
        nu -= f / fp
    tot = 0.0
    for a in range(A):
        out[a] = 1.0 / (eta * (L[a] + nu))
        tot += out[a]
    for a in range(A):
        out[a] /= tot


@njit(cache=True)
def _xi(reg, p):  # pragma: no cover - compiled
    """The stability weight of the bonus (vanishes at deterministic policies)."""
    A = p.shape[0]
    out = 0.0
    if reg == 0:
        for a in range(A):
            out += np.sqrt(p[a]) * (1.0 - p[a])
    elif reg == 1:
        pmax = 0.0
        for a in range(A):
            pmax = max(pmax, p[a])
        out = 2.0 * (1.0 - pmax)
    else:
        for a in range(A):
            out += p[a] * (1.0 - p[a])
    return out


@njit(cache=True)
def _po_kernel(indptr, indices, data, cdf, hi, kern_of_h, mu, mu_cdf, mu_hi, means,
               bernoulli, keys, loss_keys, n_ep, pts, reg, lr_const, lr_scale, bonus_scale,
               out):  # pragma: no cover - compiled
    n_ph, H, S, A = means.shape
    Hf = float(H)
    dil = 1.0 + 1.0 / Hf
    logA = np.log(A) if A > 1 else 1.0
    stride = np.uint64(2 * H + 1)
    for j in range(keys.shape[0]):
        key = keys[j]
        lkey = loss_keys[j]
        Lc = np.zeros((H, S, A))
        pi = np.full((H, S, A), 1.0 / A)
        q = np.zeros((H, S))
        B = np.zeros((H, S, A))
        Bv = np.zeros((H + 1, S))
        eta = np.zeros((H, S))
        inv_eta = np.full((H, S), Hf / lr_scale)       # Shannon: 1/eta_t(h, s)
        ent_sum = np.zeros((H, S))
        traj_s = np.zeros(H, dtype=np.int64)
        traj_a = np.zeros(H, dtype=np.int64)
        traj_l = np.zeros(H)
        cum = 0.0
        rec = 0
        for t in range(n_ep):
            # 1. policy of episode t (FTRL per state)
            for h in range(H):
                for s in range(S):
                    if lr_const > 0.0:
                        e = lr_const
                    elif reg == 1:
                        e = 1.0 / inv_eta[h, s]
                    else:
                        e = lr_scale / (Hf * np.sqrt(t + 1.0))
                    eta[h, s] = e
                    if reg == 0:
                        _tsallis(Lc[h, s], e, pi[h, s])
                    elif reg == 1:
                        _shannon(Lc[h, s], e, pi[h, s])
                    else:
                        _log_barrier(Lc[h, s], e, pi[h, s])
            # 2. exact occupancy and expected loss of the played policy
            E.occupancy(indptr, indices, data, kern_of_h, mu, pi, q)
            m = means[t % n_ph]
            for h in range(H):
                for s in range(S):
                    if q[h, s] == 0.0:
                        continue
                    acc = 0.0
                    for a in range(A):
                        acc += pi[h, s, a] * m[h, s, a]
                    cum += q[h, s] * acc
            # 3. one episode with bandit feedback
            base = np.uint64(t) * stride
            s = E.draw_start(mu_cdf, mu_hi, key, base)
            for h in range(H):
                ctr = base + np.uint64(1 + 2 * h)
                a = E.draw_action(pi[h, s], E.K.uniform(key, ctr))
                traj_s[h] = s
                traj_a[h] = a
                traj_l[h] = loss_at(means, bernoulli, lkey, t, h, s, a)
                if h + 1 < H:
                    s = E.draw_next(indptr, indices, cdf, hi, kern_of_h, S, A, h, s, a, key,
                                    ctr + np.uint64(1))
            # 4. dilated bonus (backward), then the FTRL losses Q_hat - B
            if bonus_scale > 0.0:
                for h in range(H - 1, -1, -1):
                    kb = kern_of_h[h] * S * A
                    for s in range(S):
                        b = 0.0
                        if q[h, s] > 0.0:
                            b = bonus_scale * eta[h, s] * Hf * Hf * _xi(reg, pi[h, s]) \
                                / q[h, s]
                        vb = 0.0
                        for a in range(A):
                            i = kb + s * A + a
                            nxt = 0.0
                            if h + 1 < H:
                                for k in range(indptr[i], indptr[i + 1]):
                                    nxt += data[k] * Bv[h + 1, indices[k]]
                            B[h, s, a] = b + dil * nxt
                            vb += pi[h, s, a] * B[h, s, a]
                        Bv[h, s] = vb
                for h in range(H):
                    for s in range(S):
                        for a in range(A):
                            Lc[h, s, a] -= B[h, s, a]
            suffix = 0.0
            for h in range(H - 1, -1, -1):
                suffix += traj_l[h]
                s = traj_s[h]
                a = traj_a[h]
                Lc[h, s, a] += suffix / (q[h, s] * pi[h, s, a])
            # 5. Shannon's entropy-adaptive rate
            if reg == 1 and lr_const == 0.0:
                for h in range(H):
                    for s in range(S):
                        ent = 0.0
                        for a in range(A):
                            p = pi[h, s, a]
                            if p > 0.0:
                                ent -= p * np.log(p)
                        ent_sum[h, s] += ent
                        inv_eta[h, s] += (Hf / lr_scale) / np.sqrt(1.0 + ent_sum[h, s] / logA)
            if rec < pts.shape[0] and t + 1 == pts[rec]:
                out[j, rec] = cum
                rec += 1
