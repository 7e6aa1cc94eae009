r"""Average-reward learning from a generative model by the discounted reduction.

Wang, Blanchet, Glynn, "Optimal Sample Complexity for Average Reward Markov Decision
Processes", ICLR 2024 (arXiv:2310.08833). For a uniformly ergodic MDP with
:math:`t_{\mathrm{mix}} = \max_\pi t_{\mathrm{mix}}(P_\pi)`
(:func:`tabular_rl.envs.mixing.mixing_time`), the paper's main result states that an
:math:`\varepsilon`-optimal policy for the long-run average reward,
:math:`g^* - g^{\hat\pi} \le \varepsilon`, can be learned from

.. math::

    \tilde O\big(|S||A|\, t_{\mathrm{mix}}\, \varepsilon^{-2}\big)

generative-model samples, matching the lower bound :math:`\Omega(|S||A| t_{\mathrm{mix}}
\varepsilon^{-2})` and improving the :math:`\tilde O(|S||A| t_{\mathrm{mix}}^2
\varepsilon^{-2})` of Jin and Sidford (ICML 2021). The algorithm reduces to a discounted
MDP: run a discounted learner with discount :math:`\gamma` such that
:math:`1 - \gamma = \Theta(\varepsilon / t_{\mathrm{mix}})` and accuracy
:math:`\Theta(\varepsilon/(1-\gamma))` (the bias of the reduction is
:math:`O((1-\gamma)\, t_{\mathrm{mix}})`), and return its policy. The discounted learner is
the perturbed model-based plug-in of Li, Wei, Chi, Gu, Chen (NeurIPS 2020; "Breaking the
sample size barrier in model-based RL with a generative model"): solve the empirical MDP
with rewards :math:`r + \zeta`, :math:`\zeta(s,a) \sim U[0, \xi]` i.i.d. (the perturbation
separates near-ties so that the greedy policy is stable), which the paper shows needs
:math:`\tilde O(|S||A|\, t_{\mathrm{mix}} (1-\gamma)^{-2} \varepsilon'^{-2})` samples for
:math:`\varepsilon'`-accuracy in the uniformly ergodic discounted MDP; with
:math:`\varepsilon' = \varepsilon/(1-\gamma)` this is :math:`\tilde O(|S||A|
t_{\mathrm{mix}}\varepsilon^{-2})`.

.. note::

   Only the abstract and front matter of arXiv:2310.08833 could be retrieved with the
   tools available when this module was written, not the algorithm box. The structure
   above (discount :math:`1-\gamma \propto \varepsilon/t_{\mathrm{mix}}`, perturbed
   plug-in) is the paper's; the absolute constant in the discount is **not** verified and
   is the parameter ``c`` of :func:`reduction_discount` (default 1), and the paper states
   its bounds with the minorization time :math:`t_{\mathrm{minorize}}`, which is within
   constant factors of :math:`t_{\mathrm{mix}}` (its §2). The rate claims checked with this
   module are about exponents, which do not depend on these constants.

The gap of the returned policy is computed exactly: :func:`policy_gain` (stationary
distribution of the policy's chain) against the optimal gain from
:func:`tabular_rl.average_reward_lp`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .. import _validation as V
from ..bellman import policy_reward, policy_transition
from ..mdp import FiniteMDP, require_finite_mdp
from ..planning import average_reward_lp, policy_iteration
from ..sampling import GenerativeSampler
from ..solution import Solution
from .generative import (
    DENSE_MAX_ENTRIES,
    _base_sequences,
    _child,
    _dense_counts,
    _empirical_mdp,
    batched_policy_iteration,
)

__all__ = ["AverageRewardEstimate", "average_reward_plug_in", "optimal_gain", "policy_gain",
           "reduction_discount"]

_PERTURB_BLOCK = 2**32 - 1   # spawn-key index of the reward-perturbation stream


def reduction_discount(epsilon: float, t_mix: float, *, c: float = 1.0) -> float:
    r"""Discount of the reduction, :math:`\gamma = 1 - \varepsilon/(c\, t_{\mathrm{mix}})`.

    Wang, Blanchet, Glynn (ICLR 2024) take :math:`1-\gamma = \Theta(\varepsilon /
    t_{\mathrm{mix}})`; ``c`` is the absolute constant (see the module note).

    Examples
    --------
    >>> from tabular_rl.learners.average_reward import reduction_discount
    >>> reduction_discount(0.1, 50.0)
    0.998
    """
    epsilon = V.check_real_scalar("epsilon", epsilon, 0.0, 1.0, lo_open=True, hi_open=False)
    t_mix = V.check_real_scalar("t_mix", t_mix, 1.0, np.inf)
    c = V.check_real_scalar("c", c, 0.0, np.inf, lo_open=True)
    gamma = 1.0 - epsilon / (c * t_mix)
    if not 0.0 <= gamma < 1.0:
        raise ValueError(f"epsilon/(c t_mix) = {epsilon / (c * t_mix):.6g} must lie in "
                         f"(0, 1] for a discount in [0, 1)")
    return gamma


def policy_gain(mdp: FiniteMDP, policy) -> float:
    r"""Exact gain :math:`g^\pi = \eta_\pi^\top r_\pi` of a unichain policy (``gamma``
    ignored), with :math:`\eta_\pi` the unique stationary distribution of :math:`P_\pi`.

    Raises
    ------
    ValueError
        If :math:`P_\pi` has more than one recurrent class (the gain then depends on the
        start state; use :func:`tabular_rl.average_reward_lp` on a unichain model).
    """
    from ..envs.mixing import stationary_distribution

    require_finite_mdp(mdp, "policy_gain")
    eta = stationary_distribution(policy_transition(mdp, policy))
    return float(eta @ policy_reward(mdp, policy))


def optimal_gain(mdp: FiniteMDP) -> float:
    """Optimal gain :math:`g^*` of a unichain MDP by :func:`tabular_rl.average_reward_lp`."""
    return float(average_reward_lp(mdp).gain)


@dataclass(frozen=True, slots=True)
class AverageRewardEstimate:
    r"""What :func:`average_reward_plug_in` returns.

    Attributes
    ----------
    actions : ndarray of int
        Returned deterministic policy, ``(S,)`` or ``(n_seeds, S)``.
    value : ndarray
        Optimal value of the (perturbed) empirical discounted MDP, ``(S,)`` or
        ``(n_seeds, S)``; :math:`(1-\gamma)\,\hat V` estimates :math:`g^*`.
    gamma : float
        Discount of the reduction.
    n : int
        Draws per state-action pair.
    mdp : FiniteMDP
        The true model.
    batched : bool
    """

    actions: np.ndarray
    value: np.ndarray
    gamma: float
    n: int
    mdp: FiniteMDP
    batched: bool

    @property
    def gain_estimate(self) -> np.ndarray | float:
        r""":math:`(1-\gamma)\,\hat V(s)` averaged over states, per seed."""
        g = (1.0 - self.gamma) * np.asarray(self.value).mean(axis=-1)
        return g if self.batched else float(g)

    def gain_gap(self, optimal: float | None = None) -> np.ndarray | float:
        r"""Exact :math:`g^* - g^{\hat\pi}` per seed (``optimal``: :math:`g^*`, computed by
        :func:`optimal_gain` if not given)."""
        g_star = optimal_gain(self.mdp) if optimal is None else float(optimal)
        acts = np.asarray(self.actions).reshape(-1, self.mdp.S)
        uniq, inv = np.unique(acts, axis=0, return_inverse=True)
        gains = np.array([policy_gain(self.mdp, a) for a in uniq])
        gap = g_star - gains[np.asarray(inv).reshape(-1)]
        # g^pi <= g^* exactly; a computed gap below zero is rounding (a few ulps of g^*).
        gap = np.where(np.abs(gap) <= 64 * np.finfo(np.float64).eps * max(abs(g_star), 1.0),
                       0.0, gap)
        return gap if self.batched else float(gap[0])


def average_reward_plug_in(mdp: FiniteMDP, n: int, *, epsilon: float, t_mix: float,
                           c: float = 1.0, perturbation: float = 0.0, seed=None,
                           seeds: int | None = None,
                           planner: Callable[[FiniteMDP], Solution] | None = None,
                           ) -> AverageRewardEstimate:
    r"""Average-reward policy from ``n`` draws per pair via the discounted reduction.

    Wang, Blanchet, Glynn, ICLR 2024: with :math:`\gamma = 1 - \varepsilon/(c\,
    t_{\mathrm{mix}})` (:func:`reduction_discount`), estimate
    :math:`\hat P = N/n`, solve the empirical discounted MDP with reward
    :math:`r + \zeta`, :math:`\zeta \sim U[0, \xi]^{S\times A}` (``perturbation`` =
    :math:`\xi`; 0 gives the plain plug-in), and return its optimal policy. The paper's
    bound: :math:`n\,|S||A| = \tilde O(|S||A|\,t_{\mathrm{mix}}\varepsilon^{-2})` samples
    make it :math:`\varepsilon`-optimal for the average reward.

    Parameters
    ----------
    mdp : FiniteMDP
        True model (its ``gamma`` is ignored).
    n : int
        Draws per state-action pair.
    epsilon, t_mix, c
        Target accuracy, (an upper bound on) the mixing time, and the constant of the
        discount.
    perturbation : float
        :math:`\xi \ge 0`, the width of the reward perturbation.
    seed, seeds
        As in :func:`tabular_rl.sample_counts`; the perturbation of seed :math:`i` comes
        from its own stream.
    planner : callable, optional
        Exact discounted solver ``planner(mdp_hat) -> Solution``; default exact policy
        iteration (batched over seeds for small models, see
        :func:`tabular_rl.learners.generative.plug_in`).

    Returns
    -------
    AverageRewardEstimate
        With :meth:`AverageRewardEstimate.gain_gap`.

    Examples
    --------
    >>> from tabular_rl.envs.mixing import switching_mdp
    >>> from tabular_rl.learners.average_reward import average_reward_plug_in
    >>> est = average_reward_plug_in(switching_mdp(0.05), 2000, epsilon=0.05, t_mix=7,
    ...                              seeds=4, seed=0)
    >>> est.gain_gap().shape
    (4,)
    """
    require_finite_mdp(mdp, "average_reward_plug_in")
    n = V.check_positive_int("n", n)
    gamma = reduction_discount(epsilon, t_mix, c=c)
    xi = V.check_real_scalar("perturbation", perturbation, 0.0, np.inf)
    sampler = GenerativeSampler(mdp)
    streams, batched = _base_sequences(seed, seeds)
    counts = sampler.counts(n, seed=list(streams))
    rs = np.repeat(np.asarray(mdp.r, dtype=np.float64)[None], len(streams), axis=0)
    if xi > 0:
        for i, ss in enumerate(streams):
            rng = np.random.default_rng(_child(ss, _PERTURB_BLOCK))
            rs[i] += rng.uniform(0.0, xi, rs[i].shape)
    if planner is None and mdp.S * mdp.S * mdp.A <= DENSE_MAX_ENTRIES:
        q, a = batched_policy_iteration(_dense_counts(sampler, counts, n), rs, gamma)
        v = q.max(axis=-1)
    else:
        plan = planner or policy_iteration
        acts, vals = [], []
        for r, cnt in zip(rs, counts, strict=True):
            sol = plan(_empirical_mdp(sampler, cnt, n, r, gamma, mdp.mu))
            acts.append(np.asarray(sol.policy).argmax(axis=-1))
            vals.append(np.asarray(sol.v))
        a, v = np.stack(acts), np.stack(vals)
    if not batched:
        a, v = a[0], v[0]
    return AverageRewardEstimate(actions=V.readonly(a), value=V.readonly(v), gamma=gamma,
                                 n=n, mdp=mdp, batched=batched)
