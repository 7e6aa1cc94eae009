r"""Policy optimization with bandit feedback: FTRL over policies, per state, with
exploration bonuses (Dann, Wei, Zimmert, "Best of Both Worlds Policy Optimization",
ICML 2023, arXiv:2302.09408), for known and unknown transitions.

Setting. An episodic MDP with transitions :math:`P_h` (known, or unknown: see the last
section) and a loss sequence
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
one.

Unknown transitions (``transitions="unknown"``). The learner no longer uses
:math:`P_h` (the true kernel only simulates the episodes and measures the regret,
exactly as above). Following Jin, Jin, Luo, Sra, Yu (ICML 2020, arXiv:1912.01192) and the
policy-optimization adaptation of Luo, Wei, Lee ("Policy Optimization in Adversarial
MDPs: Improved Exploration via Dilated Bonuses", NeurIPS 2021, their unknown-transition
algorithm; not retrieved here either) that the paper builds on, in episode :math:`t`:

* counts :math:`n_h(s,a)`, :math:`n_h(s,a,s')` of the transitions seen in episodes
  :math:`<t`, the empirical kernel :math:`\bar P_h` and the Bernstein-type confidence set
  :math:`\mathcal P_t` of :mod:`tabular_rl.learners.upper_occupancy`
  (:math:`\epsilon = 2\sqrt{\bar P\iota/\max(1,n-1)} + 14\iota/(3\max(1,n-1))`,
  :math:`\iota = \ln(HSA\,T/\delta)`, default :math:`\delta = 1/T`), updated every
  episode (Jin et al. update it at epochs where a count doubles);
* the importance weight is the **upper occupancy bound**
  :math:`u_t(h,s) = \max_{\hat P\in\mathcal P_t} q^{\hat P,\pi_t}(h,s)` (Comp-UOB,
  exact greedy per row), not the unknown :math:`q_t(h,s)`:
  :math:`\hat Q_t(h,s,a) = \mathbb 1[(s_{t,h},a_{t,h})=(s,a)]\,L_{t,h}/(u_t(h,s)\,
  \pi_t(a|h,s))`, optimistic (:math:`\mathbb E\hat Q_t = (q_t/u_t)Q^{\pi_t}_t \le
  Q^{\pi_t}_t` when :math:`P\in\mathcal P_t`);
* the bonus adds the transition term that pays for this bias, with the lower occupancy
  bound :math:`\ell_t(h,s) = \min_{\hat P\in\mathcal P_t} q^{\hat P,\pi_t}(h,s)`, and
  the dilation is optimistic over the set:

  .. math::

      b_t(h,s) = \frac{\beta_b\,\eta_t(h,s)H^2\xi(\pi_t(\cdot|h,s))
      + \beta_P\,H\,(u_t(h,s) - \ell_t(h,s))}{u_t(h,s)},\qquad
      B_t(h,s,a) = b_t(h,s) + \Big(1+\frac1H\Big)\max_{\hat P\in\mathcal P_t}
      \sum_{s'}\hat P_h(s'|s,a)\sum_{a'}\pi_t(a'|h+1,s')B_t(h+1,s',a')

  (:math:`H(u-\ell)/u` bounds the bias :math:`Q(1 - q/u)` of the estimator; this is the
  form of Luo, Wei, Lee's unknown-transition bonus with their implicit-exploration
  :math:`\gamma = 0`). The start distribution :math:`\mu` is known.

What is reconstructed: the paper's unknown-transition algorithm, its theorem number and
bound (including the power of :math:`\log T` in the stochastic regime) could not be read
(only its abstract: the Tsallis/Shannon best-of-both-worlds statement is not restricted to
known transitions, the log-barrier first-order one is); the confidence radius, Comp-UOB
and the bonus above are the published constructions as remembered from Jin et al. (2020)
and Luo, Wei, Lee (2021), not transcriptions, with the same caveats on constants. The
searchable copies of arXiv:2302.09408 and arXiv:1912.01192 returned only their opening
pages; of Jin, Huang, Luo, "The best of both worlds: stochastic and adversarial episodic
MDPs with unknown transition" (NeurIPS 2021, arXiv:2106.04117) only the abstract,
introduction and conclusion (FTRL over occupancy measures, loss-shifting, the transition
estimation error bounded by a fraction of the regret) -- nothing of it is used here.
``importance="empirical"`` (weights :math:`q^{\bar P,\pi_t}`) and ``"true"`` are ablations,
not algorithms of the paper.
"""

from __future__ import annotations

import numbers

import numpy as np
from numba import njit

from .. import _validation as V
from ..mdp import EpisodicMDP
from . import episodic as E
from . import upper_occupancy as UO
from .adversaries import LossSequence, loss_at

__all__ = ["IMPORTANCE", "REGULARIZERS", "best_fixed_loss", "policy_optimization"]

#: Regularizer names and their kernel codes.
REGULARIZERS = {"tsallis": 0, "shannon": 1, "log_barrier": 2}
#: Importance weights under unknown transitions (the algorithm: "upper"; ablations).
IMPORTANCE = {"upper": 0, "empirical": 1, "true": 2}


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
                        seeds: int | None = None, record_at=None,
                        transitions: str = "known", transition_bonus_scale: float = 1.0,
                        delta: float | None = None,
                        importance: str = "upper") -> E.RegretCurve:
    r"""Run FTRL policy optimization (known or unknown transitions, bandit feedback).

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
    transitions : {"known", "unknown"}
        ``"unknown"``: the learner does not use :math:`P_h` (only to simulate and to
        measure the regret); it keeps counts, the confidence set and the upper occupancy
        bound of :mod:`tabular_rl.learners.upper_occupancy` (module docstring, "Unknown
        transitions"). Computing the exact upper and lower occupancy bounds of every
        :math:`(h, s)` costs :math:`O(H^2S^3A)` per episode (Comp-UOB, one backward pass
        per target): about 8 ms per episode at :math:`S=20, A=4, H=10`, against about
        7 µs with known transitions; the claim uses :math:`S=A=H=2`.
    transition_bonus_scale : float
        :math:`\beta_P \ge 0` of the transition bonus (unknown transitions only).
    delta : float, optional
        Confidence :math:`\delta\in(0,1)` of the set (unknown transitions only); default
        :math:`1/T`, so :math:`\iota = \ln(HSA\,T/\delta) = \ln(HSA\,T^2)`.
    importance : {"upper", "empirical", "true"}
        Unknown transitions only: importance weights with the upper occupancy bound (the
        algorithm), or -- ablations for tests and claims -- the plug-in occupancy
        :math:`q^{\bar P,\pi_t}` (visits where it is 0 are dropped) or the true one.

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
    >>> unk = policy_optimization(mdp, stochastic_losses(2, 2, 2, gap=0.3), 200, seed=0,
    ...                           transitions="unknown")
    >>> unk.method
    'policy-optimization-tsallis-unknown-transitions'
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
    if transitions not in ("known", "unknown"):
        raise ValueError(f"transitions must be 'known' or 'unknown', got {transitions!r}")
    if importance not in IMPORTANCE:
        raise ValueError(f"importance must be one of {sorted(IMPORTANCE)}, got {importance!r}")
    transition_bonus_scale = V.check_real_scalar("transition_bonus_scale",
                                                 transition_bonus_scale, 0.0, np.inf)
    pts = E.record_points(n_episodes, record_at)
    if delta is None:
        delta = 1.0 / max(int(n_episodes), 2)
    delta = V.check_real_scalar("delta", delta, 0.0, 1.0, lo_open=True)
    keys, batched = E.stream_keys(seed, seeds)
    loss_keys = losses.keys(keys)
    model = E.EpisodicModel.of(mdp)
    learner = np.empty((keys.shape[0], pts.shape[0]))
    args = (*model.arrays, model.mu, model.mu_cdf, model.mu_hi,
            np.ascontiguousarray(losses.means), bool(losses.bernoulli), keys, loss_keys,
            int(n_episodes), pts, REGULARIZERS[regularizer], lr_const, lr_scale, bonus_scale)
    if transitions == "known":
        _po_kernel(*args, learner)
    else:
        iota = float(np.log(mdp.H * mdp.S * mdp.A * int(n_episodes) / delta))
        _po_unknown_kernel(*args, transition_bonus_scale, iota, IMPORTANCE[importance],
                           learner)
    comparator = np.array([best_fixed_loss(mdp, losses.cumulative_means(int(T)))
                           for T in pts])
    regret = learner - comparator
    return E.RegretCurve(episodes=pts, regret=regret if batched else regret[0],
                         optimal_value=float("nan"),
                         method=f"policy-optimization-{regularizer}"
                                + ("" if transitions == "known" else "-unknown-transitions"))


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
def _ftrl_policies(Lc, inv_eta, reg, lr_const, lr_scale, t, eta, pi):  # pragma: no cover
    """Step 1 of both kernels: the FTRL policy of episode ``t`` at every (h, s), and its
    learning rate ``eta`` (constant, Shannon's adaptive ``1/inv_eta`` or c/(H sqrt(t+1)))."""
    H, S, A = pi.shape
    Hf = float(H)
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


@njit(cache=True)
def _add_expected_loss(tot, q, pi, m) -> float:  # pragma: no cover - compiled
    r"""``tot`` plus :math:`\sum_{h,s} q(h,s)\sum_a \pi_h(a|s)\, m_h(s,a)`, the played
    policy's mean loss (added term by term, so the running sum is rounded as before)."""
    H, S, A = pi.shape
    for h in range(H):
        for s in range(S):
            if q[h, s] == 0.0:
                continue
            acc = 0.0
            for a in range(A):
                acc += pi[h, s, a] * m[h, s, a]
            tot += q[h, s] * acc
    return tot


@njit(cache=True)
def _play_episode(indptr, indices, cdf, hi, kern_of_h, mu_cdf, mu_hi, means, bernoulli, key,
                  lkey, t, pi, traj_s, traj_a, traj_l):  # pragma: no cover - compiled
    """One episode of ``pi`` on the true kernel with bandit feedback: the visited states,
    actions and losses into ``traj_*`` (counter-based streams, episode ``t``)."""
    H, S, A = pi.shape
    stride = np.uint64(2 * H + 1)
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


@njit(cache=True)
def _shannon_rate(pi, lr_scale, ent_sum, inv_eta):  # pragma: no cover - compiled
    """Shannon's entropy-adaptive rate: ``1/eta += (H/c)/sqrt(1 + sum of entropies/log A)``."""
    H, S, A = pi.shape
    Hf = float(H)
    logA = np.log(A) if A > 1 else 1.0
    for h in range(H):
        for s in range(S):
            ent = 0.0
            for a in range(A):
                p = pi[h, s, a]
                if p > 0.0:
                    ent -= p * np.log(p)
            ent_sum[h, s] += ent
            inv_eta[h, s] += (Hf / lr_scale) / np.sqrt(1.0 + ent_sum[h, s] / logA)


@njit(cache=True)
def _add_estimates(Lc, traj_s, traj_a, traj_l, w, pi):  # pragma: no cover - compiled
    r"""Add the importance-weighted estimate of the episode to the cumulative losses:
    :math:`\hat Q(h,s_h,a_h) = \sum_{h'\ge h}\ell_{h'}/(w(h,s_h)\,\pi_h(a_h|s_h))` on the
    visited pairs, ``w`` the occupancy (known transitions) or its upper bound (skipped
    where ``w`` is 0, which a visited state has only under an ablation weight)."""
    H = traj_l.shape[0]
    suffix = 0.0
    for h in range(H - 1, -1, -1):
        suffix += traj_l[h]
        s = traj_s[h]
        a = traj_a[h]
        if w[h, s] > 0.0:
            Lc[h, s, a] += suffix / (w[h, s] * pi[h, s, a])


@njit(cache=True)
def _po_kernel(indptr, indices, data, cdf, hi, kern_of_h, mu, mu_cdf, mu_hi, means,
               bernoulli, keys, loss_keys, n_ep, pts, reg, lr_const, lr_scale, bonus_scale,
               out):  # pragma: no cover - compiled
    n_ph, H, S, A = means.shape
    Hf = float(H)
    dil = 1.0 + 1.0 / Hf
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
            _ftrl_policies(Lc, inv_eta, reg, lr_const, lr_scale, t, eta, pi)
            # 2. exact occupancy and expected loss of the played policy
            E.occupancy(indptr, indices, data, kern_of_h, mu, pi, q)
            cum = _add_expected_loss(cum, q, pi, means[t % n_ph])
            # 3. one episode with bandit feedback
            _play_episode(indptr, indices, cdf, hi, kern_of_h, mu_cdf, mu_hi, means, bernoulli,
                          key, lkey, t, pi, traj_s, traj_a, traj_l)
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
                Lc -= B
            _add_estimates(Lc, traj_s, traj_a, traj_l, q, pi)
            # 5. Shannon's entropy-adaptive rate
            if reg == 1 and lr_const == 0.0:
                _shannon_rate(pi, lr_scale, ent_sum, inv_eta)
            if rec < pts.shape[0] and t + 1 == pts[rec]:
                out[j, rec] = cum
                rec += 1


@njit(cache=True)
def _po_unknown_kernel(indptr, indices, data, cdf, hi, kern_of_h, mu, mu_cdf, mu_hi, means,
                       bernoulli, keys, loss_keys, n_ep, pts, reg, lr_const, lr_scale,
                       bonus_scale, trans_scale, iota, weights,
                       out):  # pragma: no cover - compiled
    """Unknown transitions: as :func:`_po_kernel`, with the confidence set, the upper
    occupancy bound (``weights`` 0; 1: plug-in occupancy, 2: true occupancy -- ablations),
    the transition bonus and the optimistic dilation (module docstring)."""
    n_ph, H, S, A = means.shape
    Hf = float(H)
    dil = 1.0 + 1.0 / Hf
    Hm = max(H - 1, 1)
    for j in range(keys.shape[0]):
        key = keys[j]
        lkey = loss_keys[j]
        Lc = np.zeros((H, S, A))
        pi = np.full((H, S, A), 1.0 / A)
        q = np.zeros((H, S))
        u = np.zeros((H, S))
        ul = np.zeros((H, S))
        wq = np.zeros((H, S))
        fs = np.zeros((H, S))
        order = np.zeros(S, dtype=np.int64)
        cnt = np.zeros((Hm, S, A, S))
        pbar = np.zeros((Hm, S, A, S))
        eps = np.ones((Hm, S, A, S))
        B = np.zeros((H, S, A))
        Bv = np.zeros((H + 1, S))
        eta = np.zeros((H, S))
        inv_eta = np.full((H, S), Hf / lr_scale)
        ent_sum = np.zeros((H, S))
        traj_s = np.zeros(H, dtype=np.int64)
        traj_a = np.zeros(H, dtype=np.int64)
        traj_l = np.zeros(H)
        cum = 0.0
        rec = 0
        for t in range(n_ep):
            # 1. policy of episode t (FTRL per state)
            _ftrl_policies(Lc, inv_eta, reg, lr_const, lr_scale, t, eta, pi)
            # 2. exact occupancy (true kernel) and expected loss: the regret only
            E.occupancy(indptr, indices, data, kern_of_h, mu, pi, q)
            cum = _add_expected_loss(cum, q, pi, means[t % n_ph])
            # 3. occupancy bounds over the confidence set (Comp-UOB), importance weights
            UO._occupancy_bounds(pbar, eps, mu, pi, u, ul, fs, order)
            if weights == 0:
                wq[:, :] = u
            elif weights == 1:
                _plug_in_occupancy(pbar, mu, pi, wq)
            else:
                wq[:, :] = q
            # 4. one episode with bandit feedback
            _play_episode(indptr, indices, cdf, hi, kern_of_h, mu_cdf, mu_hi, means, bernoulli,
                          key, lkey, t, pi, traj_s, traj_a, traj_l)
            # 5. dilated bonus, optimistic over the confidence set (backward)
            if bonus_scale > 0.0 or trans_scale > 0.0:
                for h in range(H - 1, -1, -1):
                    if h + 1 < H:
                        UO._sort_order(Bv, h + 1, True, order)   # once per layer
                    for s in range(S):
                        b = 0.0
                        if u[h, s] > 0.0:
                            b = (bonus_scale * eta[h, s] * Hf * Hf * _xi(reg, pi[h, s])
                                 + trans_scale * Hf * (u[h, s] - ul[h, s])) / u[h, s]
                        vb = 0.0
                        for a in range(A):
                            nxt = 0.0
                            if h + 1 < H:
                                nxt = UO._greedy_sorted(Bv, h + 1, pbar, eps, h, s, a,
                                                        order)
                            B[h, s, a] = b + dil * nxt
                            vb += pi[h, s, a] * B[h, s, a]
                        Bv[h, s] = vb
                Lc -= B
            # 6. importance-weighted Q estimate of the visited pairs
            _add_estimates(Lc, traj_s, traj_a, traj_l, wq, pi)
            # 7. counts and confidence set of the visited rows
            for h in range(H - 1):
                s = traj_s[h]
                a = traj_a[h]
                cnt[h, s, a, traj_s[h + 1]] += 1.0
                UO._confidence_row(cnt[h, s, a], iota, pbar[h, s, a], eps[h, s, a])
            # 8. Shannon's entropy-adaptive rate
            if reg == 1 and lr_const == 0.0:
                _shannon_rate(pi, lr_scale, ent_sum, inv_eta)
            if rec < pts.shape[0] and t + 1 == pts[rec]:
                out[j, rec] = cum
                rec += 1


@njit(cache=True)
def _plug_in_occupancy(pbar, mu, pi, q):  # pragma: no cover - compiled
    r"""Occupancy under the empirical kernel :math:`\bar P` (unvisited rows uniform)."""
    H, S, A = pi.shape
    for s in range(S):
        q[0, s] = mu[s]
    for h in range(H - 1):
        for s in range(S):
            q[h + 1, s] = 0.0
        for s in range(S):
            for a in range(A):
                wa = q[h, s] * pi[h, s, a]
                tot = 0.0
                for x in range(S):
                    tot += pbar[h, s, a, x]
                for x in range(S):
                    q[h + 1, x] += wa * (pbar[h, s, a, x] if tot > 0.0 else 1.0 / S)
