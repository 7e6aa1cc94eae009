r"""An MDP family with a controllable, exactly computed mixing time.

Mixing time (Wang, Blanchet, Glynn, "Optimal Sample Complexity for Average Reward Markov
Decision Processes", ICLR 2024, arXiv:2310.08833, §2, following Jin & Sidford 2021 and
Levin, Peres & Wilmer, *Markov Chains and Mixing Times*, §4.5): for a uniformly ergodic
chain :math:`P` with stationary distribution :math:`\eta`,

.. math::

    t_{\mathrm{mix}}(P) = \inf\Big\{m \ge 1 :
        \max_{s} \big\|P^m(s, \cdot) - \eta\big\|_{\mathrm{TV}} \le \tfrac14\Big\},
    \qquad
    t_{\mathrm{mix}} = \max_{\pi} t_{\mathrm{mix}}(P_\pi),

with :math:`\|\mu - \nu\|_{\mathrm{TV}} = \tfrac12\|\mu - \nu\|_1`. The paper's sample
complexity :math:`\tilde O(SA\,t_{\mathrm{mix}}\varepsilon^{-2})` holds under uniform
ergodicity of every stationary policy. :func:`mixing_time` computes the maximum over the
:math:`A^S` *deterministic* stationary policies exactly (matrix powers by repeated squaring
and binary lifting, using that :math:`d(m) = \max_s\|P^m(s,\cdot)-\eta\|_{\mathrm{TV}}` is
non-increasing in :math:`m`, Levin-Peres-Wilmer Ex. 4.2). Randomized policies are not
enumerated: the value is the maximum over deterministic policies, which is what the tests
and claims use; for the family below a randomized policy (an intermediate switch-off
probability) can mix slightly slower than every deterministic one.

The family (:func:`switching_mdp`): two states, *off* (0, reward 0) and *on* (1, reward
1). From *off* every action switches on with probability :math:`p`; from *on*, action
:math:`a` switches off with probability :math:`p\,(1+\delta_a)`,
:math:`\delta_a = \mathrm{spread}\cdot (A-1-a)/(A-1)`. Under action :math:`a` the chain has
stationary law :math:`\eta = ((1+\delta_a), 1)/(2+\delta_a)`, gain
:math:`g_a = 1/(2+\delta_a)` (so :math:`g^* = 1/2`, attained by the *last* action, so that
a learner breaking ties towards low indices gains nothing) and second eigenvalue
:math:`\lambda_a = 1 - p(2+\delta_a)`; with :math:`d(m) = \eta_{\mathrm{off}}|\lambda_a|^m`
(:math:`\eta_{\mathrm{off}} \ge 1/2`) each chain mixes in
:math:`\lceil \ln(4\eta_{\mathrm{off}})/(-\ln|\lambda_a|)\rceil` steps, and
:math:`t_{\mathrm{mix}} \approx \ln 2/(2p)` for small spreads (the maximum over actions is
exact in :func:`mixing_time`; it need not be the optimal action's chain).
Telling the actions apart at resolution :math:`\delta` takes
:math:`\approx 1/(p\,\delta^2)` draws per pair, i.e. :math:`\propto t_{\mathrm{mix}}/\varepsilon^2`
for a gain gap :math:`\varepsilon \approx \delta/4`: the dependence the paper proves optimal.
"""

from __future__ import annotations

import itertools

import numpy as np

from .. import _validation as V
from ..bellman import policy_transition
from ..mdp import FiniteMDP, require_finite_mdp

__all__ = ["chain_mixing_time", "mixing_time", "stationary_distribution", "switching_mdp",
           "switching_probability"]


def switching_mdp(p: float, *, n_actions: int = 8, spread: float = 1.0, gamma: float = 0.99,
                  symmetric: bool = False) -> FiniteMDP:
    r"""Two-state on/off MDP whose mixing time is :math:`\approx \ln 2/(2p)`.

    Parameters
    ----------
    p : float
        Switch-on probability from *off*, and the base switch-off probability from *on*;
        in :math:`(0, 1/(2 + \mathrm{spread})]` (so every chain is aperiodic with
        :math:`\lambda_a \ge 0`).
    n_actions : int
        Actions; action :math:`a` switches off with probability
        :math:`p(1 + \mathrm{spread}\cdot (A-1-a)/(A-1))` from *on* (all actions alike from
        *off*); the last action is optimal.
    spread : float
        Relative spread :math:`\delta_0 - \delta_{A-1}` of the switch-off probabilities,
        ``> 0``.
    symmetric : bool
        Center the offsets, :math:`\delta_a = \mathrm{spread}\,((A-1-a)/(A-1) - 1/2)`:
        for two actions :math:`p(1 \pm \delta/2)`, whose gains
        :math:`1/(2 \mp \delta/2)` differ by :math:`\delta/(4 - \delta^2/4)`, linear in
        :math:`\delta` to second order, while the variance of telling them apart,
        :math:`p(1+\delta/2) + p(1-\delta/2) = 2p`, does not depend on :math:`\delta`.
        The optimal gain is then :math:`1/(2 - \mathrm{spread}/2)`.
    gamma : float
        Discount stored on the model (the average-reward tools ignore it).

    Returns
    -------
    FiniteMDP
        Dense, ``S = 2``; rewards ``r[0] = 0``, ``r[1] = 1``; optimal gain 1/2 (last action).

    Examples
    --------
    >>> from tabular_rl.envs.mixing import mixing_time, switching_mdp
    >>> mixing_time(switching_mdp(0.01)), mixing_time(switching_mdp(0.01, n_actions=2, spread=1e-9))
    (36, 35)
    """
    A = V.check_positive_int("n_actions", n_actions)
    spread = V.check_real_scalar("spread", spread, 0.0, np.inf, lo_open=True)
    delta = spread * np.arange(A - 1, -1, -1) / max(A - 1, 1)
    if symmetric:
        if spread >= 2.0:
            raise ValueError(f"a symmetric spread must be < 2 (probabilities p(1 - spread/2) "
                             f"> 0), got {spread!r}")
        delta = delta - spread / 2.0
    p = V.check_real_scalar("p", p, 0.0, 1.0 / (2.0 + float(delta.max())), lo_open=True,
                            hi_open=False)
    P = np.zeros((2, A, 2))
    P[0, :, 1] = p
    P[0, :, 0] = 1.0 - p
    P[1, :, 0] = p * (1.0 + delta)
    P[1, :, 1] = 1.0 - P[1, :, 0]
    r = np.zeros((2, A))
    r[1] = 1.0
    return FiniteMDP(P, r, gamma)


def switching_probability(t_mix_target: float) -> float:
    r"""The :math:`p` with :math:`\ln 2/(-\ln(1 - 2p)) = ` ``t_mix_target``: the continuous
    mixing time of the chain with switch-on and switch-off probability :math:`p`
    (:math:`\delta = 0`; its exact integer :func:`chain_mixing_time` is within one step).
    With a spread the other actions' chains may mix somewhat more slowly; use
    :func:`mixing_time` for the exact value."""
    t = V.check_real_scalar("t_mix_target", t_mix_target, 1.0, np.inf)
    return float(0.5 * (1.0 - 2.0 ** (-1.0 / t)))


def stationary_distribution(P) -> np.ndarray:
    r"""The unique stationary distribution :math:`\eta = \eta P` of a chain ``(S, S)``.

    Raises
    ------
    ValueError
        If the chain has more than one stationary distribution (more than one recurrent
        class), so the mixing time is infinite.
    """
    P = np.asarray(P.toarray() if hasattr(P, "toarray") else P, dtype=np.float64)
    S = P.shape[0]
    M = np.vstack([P.T - np.eye(S), np.ones((1, S))])
    b = np.zeros(S + 1)
    b[-1] = 1.0
    sv = np.linalg.svd(M, compute_uv=False)
    if sv[-1] <= 1e-10 * max(1.0, sv[0]):
        raise ValueError("the chain has more than one recurrent class (no unique stationary "
                         "distribution); its mixing time is infinite")
    eta = np.linalg.lstsq(M, b, rcond=None)[0]
    eta = np.clip(eta, 0.0, None)
    return eta / eta.sum()


#: Distances within this relative margin of the threshold count as reached: the powers are
#: computed in floating point, so an exact tie (e.g. d(1) = 1/4 for the chain
#: [[3/4, 1/4], [1/4, 3/4]]) cannot be resolved below rounding.
TIE_RTOL = 1e-9


def _tv_max(Pm: np.ndarray, eta: np.ndarray) -> np.ndarray:
    """``max_s TV(Pm[k, s, :], eta[k])`` for a batch ``(K, S, S)``."""
    return 0.5 * np.abs(Pm - eta[:, None, :]).sum(axis=-1).max(axis=-1)


def _batch_mixing_time(P: np.ndarray, threshold: float, max_t: int) -> np.ndarray:
    K, S, _ = P.shape
    threshold = threshold * (1.0 + TIE_RTOL)
    eta = np.stack([stationary_distribution(Pk) for Pk in P])
    powers = [P]                                    # powers[j] = P^(2^j)
    while _tv_max(powers[-1], eta).max() > threshold:
        if 2 ** len(powers) > 2 * max_t:
            worst = int(np.argmax(_tv_max(powers[-1], eta)))
            raise ValueError(f"chain {worst} has not mixed to {threshold} after "
                             f"{2 ** (len(powers) - 1)} steps (max_t={max_t})")
        powers.append(powers[-1] @ powers[-1])
    # Binary lifting: the largest m with d(m) > threshold, from m = 0 (d(0) > threshold
    # unless eta is a point mass; t_mix >= 1 by definition).
    cur = np.broadcast_to(np.eye(S), (K, S, S)).copy()
    m = np.zeros(K, dtype=np.int64)
    for j in range(len(powers) - 1, -1, -1):
        cand = cur @ powers[j]
        above = _tv_max(cand, eta) > threshold
        cur = np.where(above[:, None, None], cand, cur)
        m += np.where(above, 2 ** j, 0)
    return np.maximum(m + 1, 1)


def chain_mixing_time(P, *, threshold: float = 0.25, max_t: int = 10**7) -> int:
    r"""Exact :math:`t_{\mathrm{mix}}(P) = \min\{m \ge 1: \max_s \|P^m(s,\cdot) - \eta\|_{TV}
    \le \mathrm{threshold}\}` of one chain ``(S, S)`` (dense or sparse).

    Distances within a relative ``TIE_RTOL`` (:math:`10^{-9}`) of the threshold count as
    below it (floating-point powers cannot resolve exact ties).

    Raises
    ------
    ValueError
        No unique stationary distribution, or not mixed within ``max_t`` steps (e.g. a
        periodic chain).

    Examples
    --------
    >>> import numpy as np
    >>> from tabular_rl.envs.mixing import chain_mixing_time
    >>> chain_mixing_time(np.array([[0.9, 0.1], [0.1, 0.9]]))   # d(m) = 0.8**m / 2
    4
    """
    threshold = V.check_real_scalar("threshold", threshold, 0.0, 1.0, lo_open=True)
    P = np.asarray(P.toarray() if hasattr(P, "toarray") else P, dtype=np.float64)
    if P.ndim != 2 or P.shape[0] != P.shape[1]:
        raise ValueError(f"P must be a square (S, S) chain, got shape {P.shape}")
    V.check_probability_rows("P", P)
    return int(_batch_mixing_time(P[None], threshold, max_t)[0])


def mixing_time(mdp: FiniteMDP, *, threshold: float = 0.25, max_policies: int = 4096,
                max_t: int = 10**7) -> int:
    r"""Exact :math:`\max_\pi t_{\mathrm{mix}}(P_\pi)` over the deterministic stationary
    policies of ``mdp`` (Wang, Blanchet, Glynn 2024, §2; :math:`A^S` chains).

    Raises
    ------
    ValueError
        More than ``max_policies`` deterministic policies, or a policy whose chain has no
        unique stationary distribution or does not mix within ``max_t`` steps (the MDP is
        then not uniformly ergodic).
    """
    require_finite_mdp(mdp, "mixing_time")
    threshold = V.check_real_scalar("threshold", threshold, 0.0, 1.0, lo_open=True)
    n_pol = mdp.A ** mdp.S
    if n_pol > max_policies:
        raise ValueError(f"{mdp.A}^{mdp.S} = {n_pol} deterministic policies exceed "
                         f"max_policies={max_policies}")
    chains = []
    for actions in itertools.product(range(mdp.A), repeat=mdp.S):
        Ppi = policy_transition(mdp, np.array(actions))
        chains.append(np.asarray(Ppi.toarray() if hasattr(Ppi, "toarray") else Ppi))
    return int(_batch_mixing_time(np.stack(chains), threshold, max_t).max())
