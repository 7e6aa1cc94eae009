r"""Follow-the-regularized-leader (FTRL) over policies, exact Q-functions.

Every state runs FTRL (dual averaging) on the simplex against the sequence of Q-functions
of the iterates:

.. math::

    \pi_{k+1}(s) = \operatorname*{arg\,max}_{p\in\Delta_A}\
        \Big\langle p, \sum_{j=0}^{k}\eta_j Q^{\pi_j}(s)\Big\rangle - \tau\,\Omega(p)
      = \mathcal G_{\tau\Omega}\Big(\sum_{j\le k}\eta_j Q^{\pi_j}\Big)(s),
    \qquad \pi_0 = \mathcal G_{\tau\Omega}(0),

i.e. ``reg.greedy`` of the cumulative weighted Q-function, for any regularizer of
:mod:`tabular_rl.regularizers` (Shannon, Tsallis and log-barrier are the ones of Dann et al.
2023). With the Shannon entropy, FTRL and KL mirror descent coincide (the lazy and greedy
projections agree on the simplex: :math:`\pi_{k+1}\propto\pi_k e^{\eta_k Q_k/\tau}`
:math:`\propto e^{\sum_{j\le k}\eta_j Q_j/\tau}`), so :func:`ftrl_policy_optimization` with
``Shannon(tau)`` reproduces :func:`~tabular_rl.planning.pmd.policy_mirror_descent` with
``mirror=Shannon(tau)`` started from the uniform policy, iterate by iterate — the averaging
of Q-values that KL regularization performs (Vieillard et al. 2020).

References
----------
.. [1] C. Dann, C.-Y. Wei, J. Zimmert, "Best of Both Worlds Policy Optimization", ICML 2023,
   Sec. 3 (FTRL policy optimization with Tsallis, Shannon and log-barrier regularizers).
.. [2] H. B. McMahan, "A Survey of Algorithms and Analysis for Adaptive Online Learning",
   JMLR 18(90), 2017, Sec. 6 (FTRL with linearized losses = dual averaging; equivalence
   with mirror descent for the entropic regularizer on the simplex).
.. [3] N. Vieillard, T. Kozuno, B. Scherrer, O. Pietquin, R. Munos, M. Geist, "Leverage the
   Average: an Analysis of KL Regularization in Reinforcement Learning", NeurIPS 2020,
   Sec. 3 (KL-regularized policy updates average past Q-functions).
.. [4] L. Shani, Y. Efroni, A. Rosenberg, S. Mannor, "Optimistic Policy Optimization with
   Bandit Feedback", ICML 2020 (policy optimization as online mirror descent per state).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..mdp import FiniteMDP, require_finite_mdp
from ..regularizers import Regularizer
from .pmd import PMDResult, QOracle, _finish, _QSource, _reference, _value, step_size_schedule

__all__ = ["ftrl_policy_optimization"]


def ftrl_policy_optimization(mdp: FiniteMDP, reg: Regularizer, *, n_iter: int = 100,
                             step_size: float = 1.0,
                             schedule: str | Callable[[int], float] = "constant",
                             growth: float | None = None, q_noise: float = 0.0,
                             q_oracle: QOracle | None = None,
                             seed: int | np.random.Generator | None = None, v_star=None,
                             record_policies: bool = False) -> PMDResult:
    r"""FTRL over policies, :math:`\pi_{k+1} = \mathcal G(\sum_{j\le k}\eta_j Q^{\pi_j})`.

    The objective is the *unregularized* return: ``reg`` only stabilizes the leader (its
    ``tau`` is the FTRL learning-rate scale), and the suboptimality is
    :math:`\|V^* - V^{\pi_k}\|_\infty` against policy iteration's optimum.

    Parameters
    ----------
    mdp : FiniteMDP
    reg : Regularizer
        FTRL regularizer :math:`\tau\Omega` (e.g. ``Shannon``, ``Tsallis``, ``LogBarrier``).
    n_iter, step_size, schedule, growth, q_noise, q_oracle, seed, v_star, record_policies
        As in :func:`~tabular_rl.planning.pmd.policy_mirror_descent`.

    Returns
    -------
    PMDResult

    Examples
    --------
    >>> import numpy as np
    >>> from tabular_rl import FiniteMDP, Tsallis
    >>> mdp = FiniteMDP(np.ones((1, 2, 1)), [[1.0, 0.0]], gamma=0.5)
    >>> res = ftrl_policy_optimization(mdp, Tsallis(1.0), n_iter=5, record_policies=True)
    >>> res.policies[0].tolist(), res.policies[-1].tolist()
    ([[0.5, 0.5]], [[1.0, 0.0]])
    """
    require_finite_mdp(mdp, "ftrl_policy_optimization")
    if not isinstance(reg, Regularizer):
        raise TypeError(f"reg must be a regularizer from tabular_rl.regularizers, got "
                        f"{type(reg).__name__}")
    eta = step_size_schedule(step_size, schedule, n_iter, mdp.gamma, growth)
    v_star, err = _reference(mdp, None, v_star)
    qsrc = _QSource(mdp, None, q_noise, q_oracle, seed)
    cum = np.zeros((mdp.S, mdp.A))
    pi = np.array(reg.greedy(cum), dtype=np.float64)
    pis = [pi.copy()] if record_policies else None
    values = [_value(mdp, pi, None)]
    for k in range(eta.size):
        cum += eta[k] * qsrc(pi, k, values[-1])
        # shift rows by their maximum: greedy is invariant, and the sum stays O(eta * |Q|)
        cum -= cum.max(axis=1, keepdims=True)
        pi = np.array(reg.greedy(cum), dtype=np.float64)
        if record_policies:
            pis.append(pi.copy())
        values.append(_value(mdp, pi, None))
    return _finish(mdp, pis, values, eta, v_star, err, pi, None,
                   f"ftrl_policy_optimization[{type(reg).__name__}]", None)
