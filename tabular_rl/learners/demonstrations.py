r"""Demonstration-regularized RL: behavior cloning from expert trajectories, then RL
regularized by the KL divergence to the cloned policy, batched over seeds.

Reference: D. Tiapkin, D. Belomestny, D. Calandriello, E. Moulines, R. Munos, A. Naumov,
P. Perrault, M. Valko, P. Ménard, "Demonstration-Regularized RL", ICLR 2024
(arXiv:2310.17303). Only the abstract and front matter of the paper were retrievable from
this environment; the statements below follow the paper's abstract and method (BC with
regularization, then KL-regularized best-policy identification). From public reviews of
the paper: the method is Algorithm 1, the regularized BPI step is UCBVI-Ent+ (Algorithm 3,
sample complexity in Theorem 5), the finite-MDP main result is Corollary 3; their exact
statements could not be checked against the full text.

Setting. An episodic MDP with horizon :math:`H`, known reward and unknown transitions;
:math:`N^E` trajectories of an :math:`\varepsilon_E`-optimal expert :math:`\pi^E`.

1. **Behavior cloning** (:func:`behavior_cloning`). The regularized maximum-likelihood
   estimate over tabular policies,

   .. math::

       \pi^{BC} \in \arg\max_{\pi} \sum_{i=1}^{N^E}\sum_{h=0}^{H-1}
       \log \pi_h(a^i_h \mid s^i_h) + \kappa \sum_{h, s, a} \log \pi_h(a \mid s),

   whose log-barrier term keeps every action's probability positive (so the KL divergence
   to :math:`\pi^{BC}` is finite everywhere, and unvisited states get the uniform policy),
   has the closed form (add-:math:`\kappa` smoothing)

   .. math::

       \pi^{BC}_h(a\mid s) = \frac{N_h(s, a) + \kappa}{N_h(s) + \kappa A}.

   For a deterministic expert, :math:`\mathrm{KL}(\pi^E_h(s)\,\|\,\pi^{BC}_h(s)) =
   \log(1 + \kappa(A-1)/(N_h(s)+\kappa))`, and with :math:`\kappa \ge 1`,
   :math:`\mathbb E[1/(N+1)] \le 1/((N^E+1)d)` for :math:`N\sim\mathrm{Bin}(N^E, d)` gives
   the trajectory KL bound

   .. math::

       \mathbb E\,\mathrm{KL}_{\mathrm{traj}}(\pi^E\,\|\,\pi^{BC}) =
       \mathbb E\sum_h \mathbb E_{s_h\sim d^E_h}\mathrm{KL}(\pi^E_h(s_h)\,\|\,\pi^{BC}_h(s_h))
       \;\le\; \frac{\kappa (A-1)\, |\mathrm{supp}\, d^E|}{N^E + 1}
       \;\le\; \frac{\kappa (A-1) S H}{N^E},

   the :math:`\tilde O(SAH/N^E)` rate of the paper's BC guarantee
   (:func:`bc_kl_bound`).

2. **KL-regularized RL toward** :math:`\pi^{BC}`. The :math:`\lambda`-regularized value
   :math:`V^\pi_\lambda = \mathbb E_\pi\sum_h [r_h(s_h, a_h) - \lambda\,\mathrm{KL}(\pi_h(s_h)
   \,\|\,\pi^{BC}_h(s_h))]` is maximized by soft backward induction with
   :math:`\Omega_h = \mathrm{KL}(\cdot\,\|\,\pi^{BC}_h)`:
   :math:`\pi_h(a\mid s)\propto\pi^{BC}_h(a\mid s)\,e^{Q_h(s,a)/\lambda}`
   (:func:`kl_regularized_optimum`; with a known model this is
   :func:`tabular_rl.planning.soft_dp.soft_backward_induction` with per-step
   :class:`tabular_rl.regularizers.KL`). For every policy :math:`\pi`,

   .. math::

       V^\star - V^{\pi} \;\le\; (V^\star - V^{\pi^E}) + \lambda\,
       \mathrm{KL}_{\mathrm{traj}}(\pi^E\,\|\,\pi^{BC}) + (V^\star_\lambda - V^{\pi}_\lambda),

   because :math:`V^{\pi^E}_\lambda \le V^\star_\lambda` and the KL term of :math:`\pi` is
   non-negative. Choosing :math:`\lambda \asymp \varepsilon / \mathrm{KL}`-bound
   :math:`\asymp \varepsilon N^E/(SAH)` makes the middle term :math:`\le\varepsilon/2`, and
   a regularized problem is solved to :math:`\varepsilon/2` from :math:`\tilde O(\mathrm{poly}
   /(\lambda\varepsilon))` episodes (the regularized gap of a plug-in policy is quadratic in
   the estimation error divided by :math:`\lambda`): in all
   :math:`\tilde O(\mathrm{Poly}(S,A,H)/(\varepsilon^2 N^E))` episodes, the paper's main
   result for finite MDPs.

3. **Unknown model** (:func:`demo_regularized_plug_in`). *A plug-in variant, not the
   paper's demonstration-regularized UCBVI-Ent+* (no optimism, no adaptive exploration, no
   stopping rule; the reconstructed UCBVI-Ent+ is
   :func:`tabular_rl.learners.kl_ucbvi.demo_regularized_ucbvi_ent`). It rolls out ``n``
   exploration episodes (uniform policy by default, or :math:`\pi^{BC}`), estimates
   :math:`\hat P(s'\mid s,a) = N(s,a,s')/N(s,a)` (pooled over steps for a stationary
   kernel, per step for a time-varying one; uniform over states for an unvisited pair),
   keeps the known reward,
   and returns the exact :math:`\lambda`-regularized optimum of the estimated model with
   reference :math:`\pi^{BC}`. Its regularized gap :math:`V^\star_\lambda -
   V^{\hat\pi}_\lambda` is second order in the estimation error of :math:`Q` (a KL
   divergence between two softmax policies), :math:`\approx \mathrm{poly}(S,A,H)/(\lambda
   n)`, which is what the :math:`1/(\lambda\varepsilon)` episode count of the regularized
   step uses.

Randomness: expert demonstrations and exploration episodes come from
:func:`tabular_rl.sampling.rollouts` (counter-based streams). Exploration episodes of
seed :math:`i` are drawn from the stream of ``seed[i]`` only, and the counts for
``n1 < n2`` share the first ``n1`` episodes, so a batch gives, seed for seed, the result of
separate calls.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import _validation as V
from ..mdp import EpisodicMDP
from ..regularizers import KL
from ..sampling import Trajectories, rollouts

__all__ = [
    "DemoRegularizedResult",
    "bc_kl_bound",
    "behavior_cloning",
    "demo_regularized_plug_in",
    "demo_regularized_policy",
    "kl_regularized_optimum",
    "regularized_policy_value",
    "trajectory_kl",
]


# ----------------------------------------------------------------------------- helpers


def _dense_kernels(mdp: EpisodicMDP) -> np.ndarray:
    """``(H, S, A, S)`` dense kernels of an episodic model."""
    S, A, H = mdp.S, mdp.A, mdp.H
    steps = range(H) if mdp.time_varying else [0]
    out = []
    for h in steps:
        Pf = mdp.P_flat(h)
        Pf = Pf.toarray() if hasattr(Pf, "toarray") else np.asarray(Pf)
        out.append(Pf.reshape(S, A, S))
    P = np.stack(out)
    return np.broadcast_to(P, (H, S, A, S)) if not mdp.time_varying else P


def _rewards(mdp: EpisodicMDP) -> np.ndarray:
    return np.broadcast_to(mdp.r, (mdp.H, mdp.S, mdp.A)) if mdp.r.ndim == 2 else mdp.r


def _positive(name: str, x) -> float:
    """A finite real ``> 0``."""
    return V.check_real_scalar(name, x, 0.0, np.inf, lo_open=True, hi_open=True)


def _check_policy_table(name: str, pi, S: int, A: int, H: int) -> np.ndarray:
    """A ``(..., H, S, A)`` table of distributions (positive rows sum to one)."""
    pi = np.asarray(pi, dtype=np.float64)
    if pi.ndim < 3 or pi.shape[-3:] != (H, S, A):
        raise ValueError(f"{name} must have shape (..., H={H}, S={S}, A={A}), got {pi.shape}")
    bad = ~np.isfinite(pi) | (pi < 0)
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(f"{name}{list(idx)} = {float(pi[idx])!r} is not a probability")
    sums = pi.sum(axis=-1)
    off = np.abs(sums - 1.0) > 1e-8
    if off.any():
        idx = tuple(int(i) for i in np.argwhere(off)[0])
        raise ValueError(f"{name}{list(idx)} sums to {float(sums[idx])!r}, not 1")
    return pi


# ----------------------------------------------------------------------- behavior cloning


def behavior_cloning(demonstrations: Trajectories, n_states: int, n_actions: int, *,
                     kappa: float = 1.0) -> np.ndarray:
    r"""Regularized maximum-likelihood behavior cloning,
    :math:`\pi^{BC}_h(a\mid s) = (N_h(s,a) + \kappa)/(N_h(s) + \kappa A)`.

    Parameters
    ----------
    demonstrations : Trajectories
        Expert episodes: ``states (N, H+1)`` and ``actions (N, H)``, or with a leading seed
        axis ``(B, N, H+1)`` / ``(B, N, H)`` (one demonstration set per seed).
    n_states, n_actions : int
        :math:`S` and :math:`A`.
    kappa : float
        Weight :math:`\kappa > 0` of the log-barrier regularizer
        :math:`\kappa\sum_{h,s,a}\log\pi_h(a\mid s)` (1: Laplace smoothing).

    Returns
    -------
    numpy.ndarray
        ``(H, S, A)``, or ``(B, H, S, A)`` for a batch; every entry is positive.

    Raises
    ------
    ValueError
        Mismatched shapes, a state or action out of range (naming the index), ``kappa <= 0``.

    Examples
    --------
    >>> import numpy as np
    >>> from tabular_rl.sampling import Trajectories
    >>> demos = Trajectories(np.array([[0, 1], [0, 1]]), np.array([[1], [1]]),
    ...                      np.zeros((2, 1)))
    >>> behavior_cloning(demos, 2, 2)[0]        # state 0: (0 + 1, 2 + 1) / 4; state 1 unseen
    array([[0.25, 0.75],
           [0.5 , 0.5 ]])
    """
    S = V.check_positive_int("n_states", n_states)
    A = V.check_positive_int("n_actions", n_actions)
    kappa = _positive("kappa", kappa)
    states = np.asarray(demonstrations.states)
    actions = np.asarray(demonstrations.actions)
    if states.ndim not in (2, 3) or actions.ndim != states.ndim:
        raise ValueError(f"demonstrations must hold states (N, H+1) and actions (N, H), "
                         f"optionally with a leading seed axis; got {states.shape} and "
                         f"{actions.shape}")
    batched = states.ndim == 3
    if not batched:
        states, actions = states[None], actions[None]
    B, N, H1 = states.shape
    H = H1 - 1
    if actions.shape != (B, N, H) or H < 1:
        raise ValueError(f"actions must have shape {(B, N, H)} to match states "
                         f"{states.shape}, got {actions.shape}")
    for name, arr, hi in (("states", states[..., :H], S), ("actions", actions, A)):
        bad = (arr < 0) | (arr >= hi)
        if bad.any():
            idx = tuple(int(i) for i in np.argwhere(bad)[0])
            raise ValueError(f"demonstration {name}{list(idx)} = {int(arr[idx])} is outside "
                             f"0..{hi - 1}")
    b = np.arange(B)[:, None, None]
    h = np.arange(H)[None, None, :]
    flat = (((b * H + h) * S + states[..., :H].astype(np.int64)) * A
            + actions.astype(np.int64)).reshape(-1)
    counts = np.bincount(flat, minlength=B * H * S * A).reshape(B, H, S, A).astype(np.float64)
    pi = (counts + kappa) / (counts.sum(axis=-1, keepdims=True) + kappa * A)
    return pi if batched else pi[0]


def bc_kl_bound(n_demos: int, S: int, A: int, H: int, kappa: float = 1.0) -> float:
    r"""The BC trajectory-KL bound :math:`\kappa(A-1)SH/N^E` (module docstring, item 1),
    an upper bound on :math:`\mathbb E\,\mathrm{KL}_{\mathrm{traj}}(\pi^E\|\pi^{BC})` for a
    deterministic expert and :math:`\kappa \ge 1`."""
    n = V.check_positive_int("n_demos", n_demos)
    return float(kappa) * (A - 1) * S * H / n


# -------------------------------------------------------------- KL-regularized planning


def _kl_backward(P: np.ndarray, r: np.ndarray, ref: np.ndarray, lam: float):
    """Batched soft backward induction with per-step KL to ``ref``.

    ``P`` ``(..., H, S, A, S)`` (broadcast against the batch of ``ref``), ``r``
    ``(H, S, A)``, ``ref`` ``(..., H, S, A)``. Returns ``V (..., H+1, S)``, ``Q``, ``pi``.
    """
    H, S, A = ref.shape[-3:]
    batch = np.broadcast_shapes(ref.shape[:-3], P.shape[:-4])
    Vh = np.zeros(batch + (H + 1, S))
    Q = np.empty(batch + (H, S, A))
    pi = np.empty(batch + (H, S, A))
    for h in range(H - 1, -1, -1):
        Q[..., h, :, :] = r[h] + np.einsum("...sat,...t->...sa", P[..., h, :, :, :],
                                           Vh[..., h + 1, :])
        Vh[..., h, :], pi[..., h, :, :] = KL(lam, ref=ref[..., h, :, :]).max_omega(
            Q[..., h, :, :])
    return Vh, Q, pi


def kl_regularized_optimum(mdp: EpisodicMDP, pi_ref, lam: float, *, kernels=None):
    r"""The :math:`\lambda`-regularized optimum toward ``pi_ref``, batched over references.

    .. math::

        Q_h = r_h + P_h V_{h+1},\quad V_h(s) = \lambda\log\sum_a \pi^{ref}_h(a\mid s)
        e^{Q_h(s,a)/\lambda},\quad \pi_h(a\mid s) \propto \pi^{ref}_h(a\mid s)
        e^{Q_h(s,a)/\lambda},\qquad V_H = 0.

    Parameters
    ----------
    mdp : EpisodicMDP
        Supplies the reward (and the kernel unless ``kernels`` is given).
    pi_ref : array_like
        ``(H, S, A)`` or ``(B, H, S, A)`` reference policies (e.g. :math:`\pi^{BC}`).
    lam : float
        :math:`\lambda > 0`.
    kernels : array_like, optional
        ``(H, S, A, S)`` or ``(B, H, S, A, S)`` dense kernels to plan in instead of the
        model's (an estimated model per seed).

    Returns
    -------
    tuple of numpy.ndarray
        ``(V, Q, policy)`` of shapes ``(..., H+1, S)``, ``(..., H, S, A)``,
        ``(..., H, S, A)``. Equal, reference for reference, to
        :func:`tabular_rl.planning.soft_dp.soft_backward_induction` with
        ``[KL(lam, ref=pi_ref[h]) for h in range(H)]``.
    """
    if not isinstance(mdp, EpisodicMDP):
        raise TypeError(f"kl_regularized_optimum needs an EpisodicMDP, got "
                        f"{type(mdp).__name__}")
    lam = _positive("lam", lam)
    ref = _check_policy_table("pi_ref", pi_ref, mdp.S, mdp.A, mdp.H)
    P = _dense_kernels(mdp) if kernels is None else np.asarray(kernels, dtype=np.float64)
    if P.shape[-4:] != (mdp.H, mdp.S, mdp.A, mdp.S):
        raise ValueError(f"kernels must have shape (..., H, S, A, S) = (..., {mdp.H}, "
                         f"{mdp.S}, {mdp.A}, {mdp.S}), got {P.shape}")
    return _kl_backward(P, _rewards(mdp), ref, lam)


def demo_regularized_policy(mdp: EpisodicMDP, pi_bc, lam: float):
    r"""Known model: the exact :math:`\lambda`-KL-regularized optimum toward one
    :math:`\pi^{BC}` ``(H, S, A)``, by
    :func:`tabular_rl.planning.soft_dp.soft_backward_induction` with per-step
    :class:`~tabular_rl.regularizers.KL` regularizers. Returns its :class:`Solution`."""
    from ..planning.soft_dp import soft_backward_induction

    lam = _positive("lam", lam)
    ref = _check_policy_table("pi_bc", pi_bc, mdp.S, mdp.A, mdp.H)
    if ref.ndim != 3:
        raise ValueError(f"pi_bc must be one (H, S, A) policy, got shape {ref.shape}; use "
                         f"kl_regularized_optimum for a batch")
    return soft_backward_induction(mdp, [KL(lam, ref=ref[h]) for h in range(mdp.H)])


def regularized_policy_value(mdp: EpisodicMDP, pi, pi_ref, lam: float) -> np.ndarray:
    r"""Exact :math:`V^\pi_\lambda` ``(..., H+1, S)`` in the true model, batched:
    :math:`V_h = \langle\pi_h, r_h + P_h V_{h+1}\rangle - \lambda\,\mathrm{KL}(\pi_h\|
    \pi^{ref}_h)`; ``lam = 0`` gives the plain value :math:`V^\pi`."""
    lam = float(lam)
    if not np.isfinite(lam) or lam < 0:
        raise ValueError(f"lam must be finite and >= 0, got {lam!r}")
    pi = _check_policy_table("pi", pi, mdp.S, mdp.A, mdp.H)
    ref = _check_policy_table("pi_ref", pi_ref, mdp.S, mdp.A, mdp.H)
    P, r = _dense_kernels(mdp), _rewards(mdp)
    H, S = mdp.H, mdp.S
    batch = np.broadcast_shapes(pi.shape[:-3], ref.shape[:-3])
    Vh = np.zeros(batch + (H + 1, S))
    for h in range(H - 1, -1, -1):
        q = r[h] + np.einsum("sat,...t->...sa", P[h], Vh[..., h + 1, :])
        Vh[..., h, :] = np.sum(pi[..., h, :, :] * q, axis=-1)
        if lam > 0:
            Vh[..., h, :] -= KL(lam, ref=ref[..., h, :, :]).value(pi[..., h, :, :])
    return Vh


def trajectory_kl(mdp: EpisodicMDP, pi, pi_ref) -> np.ndarray:
    r""":math:`\mathrm{KL}_{\mathrm{traj}}(\pi\|\pi^{ref}) = \mathbb E_{\pi}\sum_h
    \mathrm{KL}(\pi_h(s_h)\,\|\,\pi^{ref}_h(s_h))`, :math:`s_0\sim\mu`, exactly (forward
    occupancy), batched over leading axes of ``pi`` and ``pi_ref``."""
    pi = _check_policy_table("pi", pi, mdp.S, mdp.A, mdp.H)
    ref = _check_policy_table("pi_ref", pi_ref, mdp.S, mdp.A, mdp.H)
    P = _dense_kernels(mdp)
    batch = np.broadcast_shapes(pi.shape[:-3], ref.shape[:-3])
    d = np.broadcast_to(np.asarray(mdp.mu, dtype=np.float64), batch + (mdp.S,)).copy()
    total = np.zeros(batch)
    for h in range(mdp.H):
        kl = KL(1.0, ref=ref[..., h, :, :]).value(pi[..., h, :, :])     # (..., S)
        total += np.sum(np.where(d > 0, d * kl, 0.0), axis=-1)
        d = np.einsum("...s,...sa,sat->...t", d, pi[..., h, :, :], P[h])
    return total


# --------------------------------------------------------------------- unknown model


@dataclass(frozen=True)
class DemoRegularizedResult:
    """Output of :func:`demo_regularized_plug_in`.

    Attributes
    ----------
    policies : ndarray
        ``(B, k, H, S, A)`` (``(k, H, S, A)`` unbatched): the regularized optimum of the
        estimated model after each ``n`` of ``record_at``.
    pi_bc : ndarray
        ``(B, H, S, A)`` (``(H, S, A)``): the behavior-cloning reference.
    n_episodes : ndarray
        ``(k,)`` the episode counts of ``record_at``.
    lam : float
    """

    policies: np.ndarray
    pi_bc: np.ndarray
    n_episodes: np.ndarray
    lam: float


def _seed_list(seed) -> tuple[list, bool]:
    if isinstance(seed, list | tuple | np.ndarray):
        if len(seed) == 0:
            raise ValueError("seed as a list must hold at least one seed")
        return list(seed), True
    return [seed], False


def demo_regularized_plug_in(mdp: EpisodicMDP, demonstrations: Trajectories, n_episodes: int,
                             lam: float, *, seed=None, kappa: float = 1.0,
                             record_at=None, explore: str = "uniform") -> DemoRegularizedResult:
    r"""Demonstration-regularized plug-in: BC, ``n`` exploration episodes of
    :math:`\pi^{BC}`, and exact KL-regularized planning in the estimated model.

    Parameters
    ----------
    mdp : EpisodicMDP
        The true model (sampled, never read by the learner except its known reward).
    demonstrations : Trajectories
        Expert episodes ``(N, H+1)``, or ``(B, N, H+1)`` for a batch of ``B`` seeds.
    n_episodes : int
        Exploration episodes (the largest recorded).
    lam : float
        Regularization :math:`\lambda > 0`.
    seed : int, SeedSequence, Generator, or a list of ``B`` of these
        A list runs a batch (one exploration stream per entry, matching the demonstrations'
        seed axis).
    kappa : float
        BC smoothing (see :func:`behavior_cloning`).
    record_at : array_like of int, optional
        Increasing episode counts ``<= n_episodes`` at which to return the policy (default:
        only ``n_episodes``).
    explore : {"bc", "uniform"}
        Exploration policy of the ``n`` episodes: uniform (default; one batched rollout
        call) or :math:`\pi^{BC}` of each seed.

    Returns
    -------
    DemoRegularizedResult

    Raises
    ------
    ValueError
        Bad ``n_episodes``, ``lam``, ``record_at``; a seed list whose length differs from the
        demonstrations' batch.
    """
    if not isinstance(mdp, EpisodicMDP):
        raise TypeError(f"demo_regularized_plug_in needs an EpisodicMDP, got "
                        f"{type(mdp).__name__}")
    n_max = V.check_positive_int("n_episodes", n_episodes)
    lam = _positive("lam", lam)
    rec = np.array([n_max] if record_at is None else record_at, dtype=np.int64).reshape(-1)
    if rec.size == 0 or np.any(np.diff(rec) <= 0) or rec[0] < 1 or rec[-1] > n_max:
        raise ValueError(f"record_at must be strictly increasing in 1..n_episodes={n_max}, "
                         f"got {rec.tolist()}")
    if explore not in ("bc", "uniform"):
        raise ValueError(f"explore must be 'bc' or 'uniform', got {explore!r}")
    seeds, batched = _seed_list(seed)
    pi_bc = behavior_cloning(demonstrations, mdp.S, mdp.A, kappa=kappa)
    if pi_bc.ndim == 3:
        pi_bc = pi_bc[None]
    if pi_bc.shape[1] != mdp.H:
        raise ValueError(f"demonstrations have horizon {pi_bc.shape[1]}, the model H={mdp.H}")
    if pi_bc.shape[0] != len(seeds):
        raise ValueError(f"got {len(seeds)} seeds for {pi_bc.shape[0]} demonstration sets")
    S, A, H = mdp.S, mdp.A, mdp.H
    G = H if mdp.time_varying else 1          # kernels estimated (per step or pooled)
    B, k = len(seeds), rec.size
    if explore == "uniform":                  # one policy: a single batched call
        traj = rollouts(mdp, np.full((H, S, A), 1.0 / A), n_max, seed=seeds)
        st, ac = traj.states.astype(np.int64), traj.actions.astype(np.int64)
    else:
        st = np.empty((B, n_max, H + 1), dtype=np.int64)
        ac = np.empty((B, n_max, H), dtype=np.int64)
        for b, s in enumerate(seeds):
            traj = rollouts(mdp, pi_bc[b], n_max, seed=s)
            st[b], ac[b] = traj.states, traj.actions
    g = (np.arange(H) if G == H else np.zeros(H, dtype=np.int64))
    m = G * S * A * S
    flat = ((((np.arange(B)[:, None, None] * G + g) * S + st[..., :H]) * A + ac) * S
            + st[..., 1:])                    # (B, n, H) cell of (b, g, s, a, s')
    counts = np.zeros(B * m)
    kernels = np.empty((B, k, H, S, A, S))
    bounds = np.concatenate([[0], rec])
    for j in range(k):
        counts += np.bincount(flat[:, bounds[j]:bounds[j + 1]].reshape(-1), minlength=B * m)
        c = counts.reshape(B, G, S, A, S)
        tot = c.sum(axis=-1, keepdims=True)
        Ph = np.where(tot > 0, c / np.maximum(tot, 1.0), 1.0 / S)
        kernels[:, j] = np.broadcast_to(Ph, (B, H, S, A, S)) if G == 1 else Ph
    _, _, pols = _kl_backward(kernels, _rewards(mdp), pi_bc[:, None], lam)
    if not batched:
        return DemoRegularizedResult(pols[0], pi_bc[0], rec, lam)
    return DemoRegularizedResult(pols, pi_bc, rec, lam)
