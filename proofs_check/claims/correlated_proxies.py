r"""``occ.chi2-vs-kl``: the correlated-proxy bound of Laidlaw, Singhal, Dragan.

Paper: C. Laidlaw, S. Singhal, A. Dragan, "Correlated Proxies: A New Definition and
Improved Mitigation for Reward Hacking", ICLR 2025 (arXiv:2403.03185). Only the abstract
and secondary summaries of the full text could be retrieved while writing this module
(they give Theorem 5.1's ingredients: an :math:`r`-correlated proxy under the reference
policy's occupancy measure, a lower bound on the true-reward improvement through the proxy
improvement and :math:`\sqrt{\chi^2(\mu_\pi\|\mu_{\pi_{ref}})}`, and the ORPO objective
:math:`J(\pi,\tilde R) - \lambda\sqrt{\chi^2}`); the statement checked here is the one the
Cauchy-Schwarz argument gives, written out below.

**Definition (r-correlated proxy, §4).** With :math:`\mu_\pi` the normalized discounted
state-action occupancy measure of :math:`\pi` and :math:`J(\pi, R) = \mathbb E_{(s,a)\sim
\mu_\pi}[R(s,a)]`, a proxy :math:`\tilde R` is *r-correlated* with the true reward
:math:`R` with respect to a reference policy :math:`\pi_{ref}` if
:math:`\mathrm{Corr}_{\mu_{\pi_{ref}}}(R, \tilde R) \ge r`.

**Theorem 5.1 (as checked).** Let :math:`\sigma_R^2, \sigma_{\tilde R}^2` be the variances
of :math:`R, \tilde R` under :math:`\mu_{\pi_{ref}}` and :math:`r` their correlation there.
For every policy :math:`\pi`

.. math::

    J(\pi, R) - J(\pi_{ref}, R) \;\ge\; \frac{r\,\sigma_R}{\sigma_{\tilde R}}
    \big(J(\pi,\tilde R) - J(\pi_{ref},\tilde R)\big)
    - \sigma_R\sqrt{1-r^2}\,\sqrt{\chi^2(\mu_\pi\,\|\,\mu_{\pi_{ref}})},
    \qquad \chi^2(p\|q) = \sum_{s,a} \frac{(p - q)^2}{q}.

*Proof sketch.* Standardize under :math:`q = \mu_{\pi_{ref}}`: :math:`R = m_R + \sigma_R X`,
:math:`\tilde R = m_{\tilde R} + \sigma_{\tilde R} Y`, :math:`X = rY + \sqrt{1-r^2}\,Z` with
:math:`Z` of mean 0, variance 1, uncorrelated with :math:`Y`. With :math:`w = \mu_\pi/q`,
:math:`\mathbb E_{\mu_\pi} Z - \mathbb E_q Z = \mathbb E_q[(w-1)Z] \ge -\sqrt{\mathbb E_q(w-1)^2}
= -\sqrt{\chi^2(\mu_\pi\|q)}` (Cauchy-Schwarz). Equality holds when
:math:`Z \propto -(w-1)` and :math:`w - 1 \perp Y`; the check builds such instances, so
a bound computed with a smaller divergence (the reverse :math:`\chi^2(q\|\mu_\pi)`, or
:math:`\chi^2` without the square root when :math:`\chi^2 < 1`) fails on them.

**What is checked.** Seeded random MDPs (dense, :math:`S \le 10`, :math:`A \in \{3, 4\}`,
:math:`\gamma \in \{0.8, 0.9\}`), a full-support Dirichlet reference policy, and

* *hacking instances*: Gaussian true reward, proxy = true reward + noise + a large bonus on
  a few pairs the reference policy rarely visits, where the true reward is very bad;
* *tight instances*: the equality construction above for target policies
  :math:`\pi_t = (1-t)\pi_{ref} + t\,\pi_{rand}`.

On every instance the bound is evaluated (with the exact correlation :math:`r`) for the
policies along both regularization paths — :math:`\chi^2` occupancy regularization
:math:`\max_d \langle d,\tilde R\rangle - \lambda\chi^2(d\|\mu_{\pi_{ref}})` (cvxpy,
:func:`tabular_rl.occupancy.convex.regularized_occupancy`) and action-KL regularization
:math:`\max_\pi \mathbb E[\sum_t\gamma^t(\tilde R - \lambda\mathrm{KL}(\pi(\cdot|s_t)\|
\pi_{ref}(\cdot|s_t)))]` (:func:`tabular_rl.planning.soft_dp.soft_value_iteration` with
:class:`tabular_rl.regularizers.KL`) — and for the target and random policies. Each
policy's occupancy is recomputed exactly from the policy, so the inequality is an exact
statement up to floating point; the tolerance is :math:`10^{-10}` times the size of the
terms. The comparison "χ² mitigates hacking better than action KL" is the paper's
*empirical* claim (§6), not a theorem: it is reported as measured figures (best true-reward
gain along each path), never asserted.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable

import numpy as np

from tabular_rl.occupancy.convex import (
    chi2_divergence,
    regularized_occupancy,
    regularized_occupancy_path,
)
from tabular_rl.occupancy.polytope import policy_to_occupancy

from .._instances import random_mdp, rng_for
from ..registry import Claim, Paper, Report, register

__all__ = ["CHI2_VS_KL", "LAIDLAW_2025", "check_chi2_vs_kl", "correlated_proxy_bound"]

LAIDLAW_2025 = Paper(
    title="Correlated Proxies: A New Definition and Improved Mitigation for Reward Hacking",
    authors="C. Laidlaw, S. Singhal, A. Dragan", venue="ICLR", year=2025)

#: Relative floating-point tolerance of the inequality (exact occupancies, S*A <= 40).
REL_TOL = 1e-10
LAM_GRID = tuple(float(x) for x in np.logspace(-3, 2, 11))


def correlated_proxy_bound(delta_proxy: float, divergence: float, r: float, sigma_true: float,
                           sigma_proxy: float) -> float:
    r"""Right-hand side of Theorem 5.1: a lower bound on :math:`J(\pi,R) - J(\pi_{ref},R)`.

    .. math::

        \frac{r\,\sigma_R}{\sigma_{\tilde R}}\,\Delta\tilde J
        - \sigma_R\sqrt{1-r^2}\,\sqrt{\chi^2(\mu_\pi\|\mu_{\pi_{ref}})}.
    """
    return (r * sigma_true / sigma_proxy * delta_proxy
            - sigma_true * np.sqrt(max(1.0 - r * r, 0.0)) * np.sqrt(divergence))


def _moments(q: np.ndarray, x: np.ndarray, y: np.ndarray):
    mx, my = q @ x, q @ y
    sx = np.sqrt(q @ (x - mx) ** 2)
    sy = np.sqrt(q @ (y - my) ** 2)
    r = float(q @ ((x - mx) * (y - my)) / (sx * sy))
    return float(sx), float(sy), float(np.clip(r, -1.0, 1.0))


def _default_chi2_path(mdp, proxy, base_policy, lams):
    res = regularized_occupancy_path(mdp, lams, base_policy=base_policy, r=proxy,
                                     divergence="chi2")
    return [x.policy for x in res]


def _default_kl_path(mdp, proxy, base_policy, lams):
    from tabular_rl.planning.soft_dp import soft_value_iteration
    from tabular_rl.regularizers import KL

    out, v0 = [], None
    m = mdp.with_reward(proxy)
    for lam in lams:
        sol = soft_value_iteration(m, KL(tau=lam, ref=base_policy), v0=v0,
                                   tol=1e-10 * (np.abs(proxy).max() + lam) / (1 - mdp.gamma))
        out.append(sol.policy)
        v0 = sol.v
    return out


def _instance(seed: int, i: int):
    rng = rng_for(seed + 4031, i)
    S = int(rng.choice([6, 8, 10]))
    A = int(rng.choice([3, 4]))
    gamma = (0.8, 0.9)[i % 2]
    mdp = random_mdp(rng, S, A, gamma)
    base = rng.dirichlet(np.full(A, 2.0), size=S)
    return mdp, base, rng, f"S={S} A={A} gamma={gamma:g}"


def _hacking_rewards(rng, base: np.ndarray, S: int, A: int):
    """True reward N(0,1); in ``max(2, S//3)`` random states the action the reference
    policy takes least gets true reward -4 and proxy reward +4 (the hack); the proxy is
    otherwise the true reward plus N(0, 0.3^2) noise."""
    R = rng.normal(size=(S, A))
    states = rng.choice(S, size=max(2, S // 3), replace=False)
    acts = base[states].argmin(axis=1)
    proxy = R + 0.3 * rng.normal(size=(S, A))
    R[states, acts] = -4.0
    proxy[states, acts] = 4.0
    return R.ravel(), proxy.ravel()


def _tight_rewards(rng, q: np.ndarray, d_t: np.ndarray, rho: float):
    r"""The Cauchy-Schwarz equality case for the target occupancy ``d_t``: the proxy is
    orthogonal (under ``q``) to :math:`u = d_t/q - 1`, the true reward's uncorrelated part is
    :math:`-u/\|u\|`."""
    u = d_t / q - 1.0
    chi2 = float(q @ (u * u))
    p = rng.normal(size=q.size)
    p -= q @ p
    p -= (q @ (p * u)) / chi2 * u
    Y = p / np.sqrt(q @ (p * p))
    X = rho * Y - np.sqrt(1.0 - rho * rho) * u / np.sqrt(chi2)
    sig_R, m_R = float(rng.uniform(0.5, 3.0)), float(rng.normal())
    sig_P, m_P = float(rng.uniform(0.5, 3.0)), float(rng.normal())
    return m_R + sig_R * X, m_P + sig_P * Y


def check_chi2_vs_kl(quick: bool = False, *, seed: int = 0, out_dir="paper_figures",
                     divergence: Callable | None = None, bound: Callable | None = None,
                     chi2_path: Callable | None = None,
                     kl_path: Callable | None = None) -> Report:
    r"""Check Theorem 5.1 of Laidlaw et al. along both regularization paths; report the
    true-vs-proxy return curves of :math:`\chi^2` occupancy vs action-KL regularization.

    Parameters
    ----------
    quick : bool
        2 hacking + 1 tight instance (3 targets), 6 values of :math:`\lambda` on the tight
        ones; full: 6 hacking + 3 tight instances, 11 values everywhere.
    seed : int
    out_dir : str or None
        Where the true-vs-proxy figure goes (``None``: no figure).
    divergence : callable, optional
        ``divergence(d_pi, d_ref) -> float`` (flat occupancies); default
        :func:`~tabular_rl.occupancy.convex.chi2_divergence` — :math:`\chi^2(d_\pi\|d_{ref})`.
    bound : callable, optional
        ``bound(delta_proxy, divergence, r, sigma_true, sigma_proxy) -> float``; default
        :func:`correlated_proxy_bound`.
    chi2_path, kl_path : callable, optional
        ``path(mdp, proxy (S, A), base_policy, lams) -> list of policies (S, A)``: the
        :math:`\chi^2`-occupancy and action-KL regularized optima along ``lams``.

    Returns
    -------
    Report
        ``worst_excess_over_tol`` :math:`= \max (\mathrm{RHS} - \mathrm{LHS})/\mathrm{tol}`
        over every (instance, policy) (stated :math:`\le 1`); ``tightest_relative_slack``
        (:math:`\approx 0` on the equality instances); and, as information, the mean best
        true-reward gain along each path on the hacking instances.
    """
    divergence = divergence or chi2_divergence
    bound = bound or correlated_proxy_bound
    chi2_path = chi2_path or _default_chi2_path
    kl_path = kl_path or _default_kl_path
    n_hack, n_tight, n_lam_tight = (2, 1, 6) if quick else (6, 3, 11)
    lam_tight = tuple(float(x) for x in np.logspace(-3, 2, n_lam_tight))
    worst, where = -np.inf, "-"
    tightest = np.inf
    n_checked = 0
    curves = []
    gains = {"chi2": [], "kl": [], "proxy_opt": []}

    def evaluate(mdp, q, R, proxy, occs, label):
        nonlocal worst, where, tightest, n_checked
        sR, sP, r = _moments(q, R, proxy)
        JR0, JP0 = float(q @ R), float(q @ proxy)
        for name, d in occs:
            dR, dP = float(d @ R) - JR0, float(d @ proxy) - JP0
            div = float(divergence(d, q))
            rhs = float(bound(dP, div, r, sR, sP))
            n_checked += 1
            if rhs == -np.inf:  # infinite divergence: the bound is vacuous
                continue
            scale = abs(dR) + abs(r * sR / sP * dP) + sR
            if np.isfinite(div):
                scale += sR * np.sqrt(max(1 - r * r, 0.0)) * np.sqrt(abs(div))
            tol = REL_TOL * scale
            excess = (rhs - dR) / tol  # NaN (a broken bound) fails below
            if excess > worst or np.isnan(excess):
                worst, where = float(excess), f"{label}, policy {name}"
            tightest = min(tightest, (dR - rhs) / scale)

    def paths(mdp, proxy, base, lams):
        S, A = mdp.S, mdp.A
        P2 = proxy.reshape(S, A)
        out = {"chi2": [], "kl": []}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for key, fn in (("chi2", chi2_path), ("kl", kl_path)):
                out[key] = [policy_to_occupancy(mdp, pi).ravel()
                            for pi in fn(mdp, P2, base, list(lams))]
        return out

    # hacking instances
    for i in range(n_hack):
        mdp, base, rng, label = _instance(seed, i)
        q = policy_to_occupancy(mdp, base).ravel()
        R, proxy = _hacking_rewards(rng, base, mdp.S, mdp.A)
        sP = _moments(q, R, proxy)[1]
        lams = tuple(sP * lam for lam in LAM_GRID)
        path = paths(mdp, proxy, base, lams)
        opt = regularized_occupancy(mdp, 0.0, base_policy=base, r=proxy.reshape(mdp.S, mdp.A))
        occs = [(f"chi2 lam={lam:.3g}", d) for lam, d in zip(lams, path["chi2"], strict=True)]
        occs += [(f"KL lam={lam:.3g}", d) for lam, d in zip(lams, path["kl"], strict=True)]
        occs.append(("proxy-optimal", opt.exact_occupancy.ravel()))
        for j in range(3):
            pi = rng.dirichlet(np.full(mdp.A, 0.5), size=mdp.S)
            occs.append((f"random #{j}", policy_to_occupancy(mdp, pi).ravel()))
        evaluate(mdp, q, R, proxy, occs, f"hacking #{i} {label}")
        JR0, JP0 = float(q @ R), float(q @ proxy)
        curve = {k: (np.array([d @ R for d in path[k]]) - JR0,
                     np.array([d @ proxy for d in path[k]]) - JP0) for k in ("chi2", "kl")}
        curves.append((f"hacking #{i} {label}", np.array(LAM_GRID), curve,
                       float(opt.exact_occupancy.ravel() @ R - JR0)))
        gains["chi2"].append(float(curve["chi2"][0].max()))
        gains["kl"].append(float(curve["kl"][0].max()))
        gains["proxy_opt"].append(float(opt.exact_occupancy.ravel() @ R - JR0))

    # tight (Cauchy-Schwarz equality) instances
    for i in range(n_tight):
        mdp, base, rng, label = _instance(seed + 1, 100 + i)
        q = policy_to_occupancy(mdp, base).ravel()
        for t in (0.1, 0.3, 0.6):
            pi_t = (1 - t) * base + t * rng.dirichlet(np.full(mdp.A, 0.5), size=mdp.S)
            d_t = policy_to_occupancy(mdp, pi_t).ravel()
            rho = float(rng.choice([0.5, 0.8, 0.95]))
            R, proxy = _tight_rewards(rng, q, d_t, rho)
            sP = _moments(q, R, proxy)[1]
            path = paths(mdp, proxy, base, tuple(sP * lam for lam in lam_tight))
            occs = [("target", d_t)]
            occs += [(f"chi2 #{k}", d) for k, d in enumerate(path["chi2"])]
            occs += [(f"KL #{k}", d) for k, d in enumerate(path["kl"])]
            evaluate(mdp, q, R, proxy, occs, f"tight #{i} {label} t={t} rho={rho}")
    ok = bool(worst <= 1.0)  # False for NaN
    n_inst = n_hack + 3 * n_tight
    g = {k: np.array(v) for k, v in gains.items()}
    better = int(np.sum(g["chi2"] >= g["kl"] - 1e-12))
    figures = () if out_dir is None else (_figure(out_dir, curves[:2]),)
    details = (
        f"{n_checked} (instance, policy) pairs on {n_hack} hacking and {3 * n_tight} tight "
        f"(Cauchy-Schwarz equality) reward pairs; seeded MDPs S in {{6,8,10}}, A in {{3,4}}, "
        f"gamma in {{0.8,0.9}}, Dirichlet(2) reference policy; lambda/sigma_proxy in "
        f"[1e-3, 1e2]. Worst (RHS - LHS)/tol = {worst:.3g} at {where} (tol = {REL_TOL:g} x "
        f"term sizes); tightest (LHS - RHS)/scale = {tightest:.3g}. Information (not a "
        f"theorem; the paper's claim is empirical): on the hacking instances the proxy-"
        f"optimal policy changes the true return by {np.round(g['proxy_opt'], 4).tolist()} "
        f"(normalized J); best true gain along the chi2 path "
        f"{np.round(g['chi2'], 4).tolist()}, along the action-KL path "
        f"{np.round(g['kl'], 4).tolist()}; chi2 >= KL on {better}/{n_hack}.")
    return Report(
        claim_id="occ.chi2-vs-kl", verdict="pass" if ok else "fail",
        measured={"worst_excess_over_tol": worst, "tightest_relative_slack": float(tightest),
                  "mean_best_true_gain_chi2": float(g["chi2"].mean()),
                  "mean_best_true_gain_kl": float(g["kl"].mean()),
                  "mean_true_gain_proxy_optimal": float(g["proxy_opt"].mean()),
                  "chi2_at_least_kl_fraction": better / max(n_hack, 1)},
        stated={"worst_excess_over_tol": 1.0},
        details=details, figures=figures, n_instances=n_inst)


def _figure(out_dir, curves) -> str:

    from tabular_rl.plotting import agg_subplots

    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, "occ.chi2-vs-kl_curves.png")
    n = len(curves)
    fig, axes = agg_subplots(n, 2, figsize=(11, 4.0 * n), squeeze=False)
    for row, (label, lam, curve, hack_gain) in zip(axes, curves, strict=True):
        ax = row[0]
        for key, color, name in (("chi2", "C0", "χ² occupancy"), ("kl", "C3", "action KL")):
            true, prox = curve[key]
            ax.semilogx(lam, true, "-o", color=color, ms=4, label=f"{name}: true")
            ax.semilogx(lam, prox, "--", color=color, alpha=0.7, label=f"{name}: proxy")
        ax.axhline(0.0, color="k", lw=0.8)
        ax.axhline(hack_gain, color="gray", ls=":", label="proxy-optimal: true")
        ax.set_xlabel("regularization strength λ / σ(proxy under π_ref)")
        ax.set_ylabel("J(π_λ) − J(π_ref)  (normalized return)")
        ax.set_title(f"{label}: returns along the path", fontsize=10)
        ax.legend(fontsize=7)
        ax = row[1]
        for key, color, name in (("chi2", "C0", "χ² occupancy"), ("kl", "C3", "action KL")):
            true, prox = curve[key]
            ax.plot(prox, true, "-o", color=color, ms=4, label=name)
        ax.axhline(0.0, color="k", lw=0.8)
        ax.set_xlabel("proxy improvement  J(π_λ, R̃) − J(π_ref, R̃)")
        ax.set_ylabel("true improvement  J(π_λ, R) − J(π_ref, R)")
        ax.set_title("true vs proxy improvement (λ decreasing →)", fontsize=10)
        ax.legend(fontsize=8)
    fig.suptitle("occ.chi2-vs-kl: χ² occupancy vs action-KL regularization (Laidlaw et al. "
                 "2025)", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path


CHI2_VS_KL = register(Claim(
    id="occ.chi2-vs-kl",
    paper=LAIDLAW_2025,
    statement=("Laidlaw, Singhal, Dragan 2025, Thm. 5.1 (full text not retrieved; statement "
               "as given by the Cauchy-Schwarz argument): if the proxy R~ has correlation r "
               "with the true reward R under the reference policy's occupancy mu_ref, then "
               "for every policy pi, J(pi,R) - J(pi_ref,R) >= (r sigma_R / sigma_R~)(J(pi,R~) "
               "- J(pi_ref,R~)) - sigma_R sqrt(1-r^2) sqrt(chi2(mu_pi || mu_ref)). The paper's "
               "empirical claim that chi2 occupancy regularization mitigates reward hacking "
               "better than action-KL is reported, not asserted."),
    kind="inequality",
    instances=("seeded random MDPs S in {6,8,10}, A in {3,4}, gamma in {0.8,0.9}; hacking "
               "proxies (bonus on rarely visited bad pairs) and Cauchy-Schwarz equality "
               "constructions; policies along the chi2-occupancy (cvxpy) and action-KL "
               "(soft VI) regularization paths, targets and random policies"),
    check=check_chi2_vs_kl,
))
