r"""Lagrangian dynamics for constrained MDPs: gradient descent-ascent and ReLOAD.

A constrained MDP (:class:`~tabular_rl.occupancy.ConstrainedMDP`) is the saddle-point
problem

.. math::

    \max_{\pi} \min_{\lambda \ge 0} \; L(\pi, \lambda)
    = \langle d^\pi, r\rangle - \sum_k \lambda_k \big(\langle d^\pi, c_k\rangle - b_k\big),

linear in the (normalized) occupancy :math:`d^\pi` and in :math:`\lambda`; its saddle
points are the LP optimum :math:`(d^*, \lambda^*)` of
:func:`~tabular_rl.occupancy.solve_cmdp_lp`. For a fixed :math:`\lambda` the policy player
faces an ordinary MDP with reward :math:`r_\lambda = r - \sum_k \lambda_k c_k`.

Every method here follows the tabular scheme of ReLOAD: the policy player takes
**mirror (KL, policy-mirror-descent / natural-policy-gradient) steps** on the exact
Lagrangian action values :math:`Q^{\pi}_{r_\lambda}` state by state, the multiplier
player takes **projected gradient steps** on :math:`\lambda \ge 0` with the exact
constraint values :math:`J_{c_k}(\pi) = \langle d^\pi, c_k\rangle`:

* ``"gda"`` -- simultaneous gradient descent-ascent

  .. math::

      \pi_{t+1}(\cdot\mid s) \propto \pi_t(\cdot\mid s)\,
      e^{\eta\, Q^{\pi_t}_{r_{\lambda_t}}(s,\cdot)}, \qquad
      \lambda_{t+1} = \Pi_{[0,\lambda_{\max}]}\big[\lambda_t + \eta_\lambda
      (J_c(\pi_t) - b)\big];

* ``"optimistic"`` (ReLOAD; optimistic mirror descent-ascent, Rakhlin & Sridharan 2013,
  Daskalakis et al. 2018): the same steps with the *optimistic* gradient
  :math:`g_t + \beta\,(g_t - g_{t-1})` (``optimism`` :math:`\beta = 1`), i.e.
  :math:`\eta(2Q_t - Q_{t-1})` and :math:`\eta_\lambda(2(J_c(\pi_t)-b) - (J_c(\pi_{t-1})
  - b))`. ``optimism=0`` is exactly ``"gda"``;
* ``"extragradient"`` (Korpelevich 1976; mirror-prox, Nemirovski 2004): an extrapolation
  step to :math:`(\pi_{t+1/2}, \lambda_{t+1/2})` from the gradients at
  :math:`(\pi_t,\lambda_t)`, then the update from :math:`(\pi_t,\lambda_t)` with the
  gradients at the extrapolated point (two gradient evaluations per iteration).

GDA converges only on average (its averaged occupancy and multiplier approach the saddle
point, the iterates themselves cycle); the optimistic and extragradient corrections make
the last iterate converge. Every iterate is returned
(:class:`LagrangianTrajectory`), so both last- and average-iterate behaviour can be
plotted (claim ``occ.cmdp-last-iterate`` in :mod:`proofs_check.claims.reload`).

Paper: T. Moskovitz, B. O'Donoghue, V. Veeriah, S. Flennerhag, S. Singh, T. Zahavy,
"ReLOAD: Reinforcement Learning with Optimistic Ascent-Descent for Last-Iterate
Convergence in Constrained MDPs", ICML 2023 (arXiv:2302.01275). Its central claim
(abstract): gradient descent-ascent methods for constrained RL "are guaranteed to converge
*on average*" but "do not guarantee *last-iterate* convergence", while optimistic
ascent-descent (ReLOAD) has "guaranteed last-iterate convergence". Only the abstract and
introduction of the paper could be retrieved here (the full text with the theorem
statement and its number was not accessible), so the update rules above are the
standard optimistic mirror descent-ascent on the CMDP Lagrangian as the paper's title and
abstract describe it, not a transcription of its pseudocode; the theorem number is not
quoted for that reason.

References
----------
.. [1] T. Moskovitz et al., "ReLOAD", ICML 2023, arXiv:2302.01275.
.. [2] A. Rakhlin, K. Sridharan, "Optimization, learning, and games with predictable
   sequences", NeurIPS 2013.
.. [3] C. Daskalakis, A. Ilyas, V. Syrgkanis, H. Zeng, "Training GANs with optimism",
   ICLR 2018.
.. [4] G. M. Korpelevich, "The extragradient method for finding saddle points and other
   problems", Ekonomika i Matematicheskie Metody 12, 1976.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg as la

from .. import _validation as V
from ..bellman import _as_policy
from ..evaluation import q_function, state_occupancy
from ..mdp import FiniteMDP
from .cmdp import ConstrainedMDP

__all__ = ["METHODS", "LagrangianTrajectory", "lagrangian_dynamics"]

METHODS = ("gda", "optimistic", "extragradient")


@dataclass(frozen=True, slots=True, repr=False)
class LagrangianTrajectory:
    r"""Every iterate of :func:`lagrangian_dynamics` (index 0 is the initial point).

    Attributes
    ----------
    method : str
    policies : ndarray (T+1, S, A)
    occupancies : ndarray (T+1, S, A)
        Normalized occupancies :math:`d^{\pi_t}`.
    multipliers : ndarray (T+1, K)
    values : ndarray (T+1,)
        :math:`\langle d^{\pi_t}, r\rangle`.
    costs : ndarray (T+1, K)
        :math:`\langle d^{\pi_t}, c_k\rangle`.
    violations : ndarray (T+1, K)
        :math:`\langle d^{\pi_t}, c_k\rangle - b_k` (positive: violated).
    lagrangian : ndarray (T+1,)
        :math:`L(\pi_t, \lambda_t)`.
    """

    method: str
    policies: np.ndarray
    occupancies: np.ndarray
    multipliers: np.ndarray
    values: np.ndarray
    costs: np.ndarray
    violations: np.ndarray
    lagrangian: np.ndarray

    @property
    def n_iter(self) -> int:
        return self.values.shape[0] - 1

    def averaged_occupancies(self) -> np.ndarray:
        r"""Running averages :math:`\bar d_t = \frac1{t+1}\sum_{i\le t} d^{\pi_i}`
        (the occupancy of the uniform mixture of the first :math:`t+1` policies)."""
        return _running_mean(self.occupancies)

    def averaged_multipliers(self) -> np.ndarray:
        r"""Running averages :math:`\bar\lambda_t`."""
        return _running_mean(self.multipliers)

    def __repr__(self) -> str:
        return (f"LagrangianTrajectory({self.method}, T={self.n_iter}, last value="
                f"{self.values[-1]:.6g}, last lambda="
                f"{np.array2string(self.multipliers[-1], precision=4)}, last violation="
                f"{np.array2string(self.violations[-1], precision=3)})")


def _running_mean(x: np.ndarray) -> np.ndarray:
    n = np.arange(1, x.shape[0] + 1).reshape((-1,) + (1,) * (x.ndim - 1))
    return np.cumsum(x, axis=0) / n


def _mirror_step(pi: np.ndarray, g: np.ndarray, eta: float) -> np.ndarray:
    r""":math:`\pi'(\cdot\mid s) \propto \pi(\cdot\mid s)\,e^{\eta g(s,\cdot)}`, computed in
    log space (zero probabilities stay zero)."""
    with np.errstate(divide="ignore"):
        logits = np.log(pi) + eta * g
    logits -= logits.max(axis=1, keepdims=True)
    w = np.exp(logits)
    return w / w.sum(axis=1, keepdims=True)


def _evaluator(mdp: FiniteMDP):
    r"""``(pi, r) -> (q^pi_r (S, A), normalized state occupancy (S,))``, exact.

    Dense models: one LU factorization of :math:`I - \gamma P_\pi` serves both the value
    and the (transposed) occupancy solve. CSR models: the library's evaluators.
    """
    g, mu = mdp.gamma, np.asarray(mdp.mu)
    if mdp.is_sparse:
        def evaluate(pi, r_lam):
            q = q_function(mdp.with_reward(r_lam), pi)
            return q, state_occupancy(mdp, pi, mu, normalized=True)
        return evaluate
    P = np.asarray(mdp.P)
    eye = np.eye(mdp.S)

    def evaluate(pi, r_lam):
        lu = la.lu_factor(eye - g * np.einsum("sa,sat->st", pi, P))
        v = la.lu_solve(lu, np.einsum("sa,sa->s", pi, r_lam))
        q = r_lam + g * (P @ v)
        return q, (1.0 - g) * la.lu_solve(lu, mu, trans=1)
    return evaluate


def lagrangian_dynamics(cmdp: ConstrainedMDP, n_iter: int, *,
                        method: str = "optimistic", eta: float = 1.0,
                        eta_lambda: float | None = None, optimism: float = 1.0,
                        lambda_max: float = np.inf, pi0=None, lambda0=None
                        ) -> LagrangianTrajectory:
    r"""Run GDA, ReLOAD (optimistic) or extragradient dynamics on the CMDP Lagrangian.

    See the module docstring for the update rules. Gradients are exact: the policy
    player's is :math:`Q^{\pi_t}_{r - \lambda_t^\top c}` (exact evaluation), the
    multiplier player's :math:`J_c(\pi_t) - b` (exact normalized occupancy).

    Parameters
    ----------
    cmdp : ConstrainedMDP
        Over a discounted :class:`~tabular_rl.FiniteMDP`.
    n_iter : int
        Number of updates :math:`T`.
    method : {"gda", "optimistic", "extragradient"}
    eta : float
        Policy mirror step :math:`\eta > 0` (multiplies unnormalized action values).
    eta_lambda : float, optional
        Multiplier step :math:`\eta_\lambda > 0`; default ``eta / (1 - gamma)`` (the
        normalized costs are :math:`(1-\gamma)` times the unnormalized ones).
    optimism : float
        Coefficient :math:`\beta \ge 0` of the optimistic correction
        :math:`g_t + \beta (g_t - g_{t-1})` (``method="optimistic"`` only; ReLOAD is
        :math:`\beta = 1`, :math:`\beta = 0` is GDA).
    lambda_max : float
        Upper bound of the multiplier domain (default unbounded).
    pi0 : array_like (S, A), optional
        Initial policy (default uniform). Actions with zero initial probability are never
        played (mirror steps keep the support).
    lambda0 : array_like (K,), optional
        Initial multipliers (default zero).

    Returns
    -------
    LagrangianTrajectory

    Examples
    --------
    >>> import numpy as np
    >>> from tabular_rl import FiniteMDP
    >>> from tabular_rl.occupancy import ConstrainedMDP, lagrangian_dynamics
    >>> mdp = FiniteMDP(np.ones((1, 2, 1)), [[1.0, 0.0]], gamma=0.5)   # a bandit
    >>> cmdp = ConstrainedMDP(mdp, [[[1.0, 0.0]]], [0.25])   # optimum pi = (1/4, 3/4)
    >>> tr = lagrangian_dynamics(cmdp, 2000, method="optimistic", eta=0.5)
    >>> np.round(tr.policies[-1], 4), np.round(tr.multipliers[-1], 4)
    (array([[0.25, 0.75]]), array([1.]))
    """
    if not isinstance(cmdp, ConstrainedMDP):
        raise TypeError(f"lagrangian_dynamics needs a ConstrainedMDP, got "
                        f"{type(cmdp).__name__}")
    mdp = cmdp.mdp
    if not isinstance(mdp, FiniteMDP):
        raise TypeError("lagrangian_dynamics needs a discounted FiniteMDP inside the "
                        f"ConstrainedMDP, got {type(mdp).__name__}")
    if cmdp.costs.ndim != 3:
        raise ValueError("lagrangian_dynamics needs stationary costs (K, S, A)")
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(map(repr, METHODS))}, "
                         f"got {method!r}")
    T = V.check_positive_int("n_iter", n_iter)
    eta = V.check_real_scalar("eta", eta, 0.0, np.inf, lo_open=True)
    g = mdp.gamma
    eta_l = eta / (1.0 - g) if eta_lambda is None else V.check_real_scalar(
        "eta_lambda", eta_lambda, 0.0, np.inf, lo_open=True)
    beta = V.check_real_scalar("optimism", optimism, 0.0, np.inf)
    lam_max = V.check_real_scalar("lambda_max", lambda_max, 0.0, np.inf, lo_open=True,
                                  hi_open=False) if np.isfinite(lambda_max) else np.inf
    S, A, K = mdp.S, mdp.A, cmdp.K
    pi = np.full((S, A), 1.0 / A) if pi0 is None else np.array(_as_policy(mdp, pi0))
    if lambda0 is None:
        lam = np.zeros(K)
    else:
        lam = V.as_float_array("lambda0", np.atleast_1d(lambda0), 1)
        V.check_shape("lambda0", lam, (K,), "(one multiplier per constraint)")
        V.check_finite("lambda0", lam)
        if (lam < 0).any():
            k = int(np.argmax(lam < 0))
            raise ValueError(f"lambda0[{k}] = {lam[k]:.6g} is negative")
        lam = np.minimum(lam, lam_max)
    r = np.asarray(mdp.r)
    c = np.asarray(cmdp.costs)
    b = np.asarray(cmdp.thresholds)

    evaluate = _evaluator(mdp)

    def grads(pi_, lam_):
        """Exact gradients and the occupancy at (pi_, lam_)."""
        r_lam = r - np.tensordot(lam_, c, axes=1)
        q, d_s = evaluate(pi_, r_lam)
        d = d_s[:, None] * pi_
        costs = np.einsum("ksa,sa->k", c, d)
        return q, costs - b, d, costs

    pis = np.empty((T + 1, S, A))
    ds = np.empty((T + 1, S, A))
    lams = np.empty((T + 1, K))
    costs_all = np.empty((T + 1, K))
    q, h, d, cst = grads(pi, lam)
    q_prev, h_prev = q, h
    for t in range(T + 1):
        pis[t], ds[t], lams[t], costs_all[t] = pi, d, lam, cst
        if t == T:
            break
        if method == "gda":
            q_step, h_step = q, h
        elif method == "optimistic":
            q_step, h_step = q + beta * (q - q_prev), h + beta * (h - h_prev)
        else:  # extragradient: gradients at the extrapolated point
            pi_half = _mirror_step(pi, q, eta)
            lam_half = np.clip(lam + eta_l * h, 0.0, lam_max)
            q_step, h_step, _, _ = grads(pi_half, lam_half)
        pi = _mirror_step(pi, q_step, eta)
        lam = np.clip(lam + eta_l * h_step, 0.0, lam_max)
        q_prev, h_prev = q, h
        q, h, d, cst = grads(pi, lam)
    values = np.einsum("tsa,sa->t", ds, r)
    viol = costs_all - b
    lagr = values - np.einsum("tk,tk->t", lams, viol)
    for a in (pis, ds, lams, values, costs_all, viol, lagr):
        a.setflags(write=False)
    return LagrangianTrajectory(method=method if not (method == "optimistic" and beta == 0)
                                else "optimistic(beta=0)", policies=pis, occupancies=ds,
                                multipliers=lams, values=values, costs=costs_all,
                                violations=viol, lagrangian=lagr)
