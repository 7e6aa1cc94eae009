r"""Reward learning from comparisons: BTL/PL maximum likelihood, pessimism, and K-wise
efficiency (claim ``learn.btl-mle``).

Paper: B. Zhu, M. I. Jordan, J. Jiao, "Principled Reinforcement Learning with Human
Feedback from Pairwise or K-wise Comparisons", ICML 2023 (arXiv:2301.11270). The full
text was not retrievable here; statements follow the abstract and a summary of v5 that
cites the theorem numbers used below (see :mod:`tabular_rl.learners.preferences`).

Three checks, each taking its estimator as an injectable ``learner`` so a test can break it:

1. **MLE rate** (Lemma 3.1): :math:`\|\hat\theta_{\mathrm{MLE}} - \theta^\star\|_{\Sigma_{
   \mathcal D}+\lambda I} = O(\sqrt{(d+\log(1/\delta))/(\gamma^2 n)} + \sqrt\lambda B)`:
   with :math:`\lambda = 0` (:math:`\Sigma_{\mathcal D}` is non-singular on
   :math:`\mathbf 1^\perp` here), the mean error over seeds has log-log slope
   :math:`-1/2` in :math:`n` (interval contains :math:`-1/2`). Contextual bandit with 3
   contexts, 4 actions, random unit features in :math:`\mathbb R^4`, uniform pairs.
2. **Greedy fails, pessimism succeeds** (Thm. 3.9 and Thm. 3.2): one context, three
   actions with one-hot features, :math:`\theta^\star = (0, \tfrac12, -\tfrac12)`; the data
   compare :math:`(a_0, a_1)` :math:`n - 1` times and :math:`(a_0, a_2)` once. When
   :math:`a_2` wins its single comparison (probability :math:`\sigma(-\tfrac12) = 0.378`)
   the constrained MLE pushes :math:`\hat\theta_2` to the boundary of
   :math:`\|\theta\|\le B` and greedy picks the worst action, so
   :math:`\mathbb E\,\mathrm{SubOpt}(\hat\pi_{\mathrm{MLE}}) \approx 0.378` for every
   :math:`n` -- the mechanism of Thm. 3.9 (the paper's instance has four actions and the
   constant 0.1). The pessimistic policy (reference :math:`v = \phi(a_0)`, radius of
   Lemma 3.1 with :math:`C = 1`, :math:`\delta = 0.1`) never trusts the uncovered
   direction. Verdict: at the largest :math:`n` greedy's mean suboptimality has its
   lower confidence bound above the paper's 0.1 and the pessimistic one its upper bound
   below 0.1.
3. **K-wise beats split** (Thm. 4.3): PL rankings of :math:`K = 4` of 5 actions; the
   PL MLE :math:`\hat\theta_{\mathrm{MLE}_K}` against the split estimator
   :math:`\hat\theta_{\mathrm{MLE}_2}` on the same data. Exact: the asymptotic covariances
   (:func:`~tabular_rl.learners.preferences.asymptotic_covariances`) are ordered,
   :math:`\lambda_{\min}(\mathrm{Cov}_2 - \mathrm{Cov}_K) \ge -10^{-10}\,\mathrm{tr}`;
   measured: the ratio of mean squared errors, split over K-wise (:math:`n\,\|\hat\theta -
   \theta^\star\|^2` summed over the grid :math:`n \in \{1000, 2000, 4000\}`), has its
   lower (paired seed-bootstrap) confidence bound above 1.

The four interval checks are made at level :math:`1-0.05/4` (Bonferroni).
"""

from __future__ import annotations

import functools
import itertools
import textwrap
from collections.abc import Callable, Mapping

import numpy as np

from tabular_rl.learners.preferences import (
    asymptotic_covariances,
    comparison_covariance,
    confidence_radius,
    greedy_policy,
    mle,
    pessimistic_policy,
    sample_rankings,
    split_mle,
    uniform_offers,
)
from tabular_rl.plotting import save_figure

from .._rate_helpers import _batch, _plain_ticks, _sweep_api, _sweep_executor, _sweep_path
from ..registry import Claim, Paper, Report, register

__all__ = ["BTL_MLE", "check_btl_mle", "coverage_instance", "rate_instance"]

ZJJ = Paper(title="Principled Reinforcement Learning with Human Feedback from Pairwise or "
                  "K-wise Comparisons", authors="B. Zhu, M. I. Jordan and J. Jiao",
            venue="ICML (arXiv:2301.11270)", year=2023)

FAMILY_ALPHA = 0.05
N_CHECKS = 4
#: The paper's Thm. 3.9 constant: greedy on the MLE stays at least this suboptimal.
GREEDY_FLOOR = 0.1
BOUND = 2.0          # B of Theta_B in parts 1 and 2
KWISE_BOUND = 8.0    # part 3: far from |theta*| = 3, so the limits are those of the MLE


def rate_instance(S: int = 3, A: int = 4, d: int = 4, seed: int = 7):
    """Random unit features ``(S, A, d)`` and a sum-zero ``theta*`` of norm 1."""
    rng = np.random.default_rng(seed)
    phi = rng.normal(size=(S, A, d))
    phi /= np.linalg.norm(phi, axis=-1, keepdims=True)
    th = rng.normal(size=d)
    th -= th.mean()
    return phi, th / np.linalg.norm(th)


def coverage_instance():
    """One context, three one-hot actions, ``theta* = (0, 1/2, -1/2)``."""
    return np.eye(3)[None], np.array([0.0, 0.5, -0.5])


def _learners(learner):
    learner = dict(learner or {})
    unknown = set(learner) - {"mle", "pessimistic", "kwise", "split"}
    if unknown:
        raise ValueError(f"learner keys must be among 'mle', 'pessimistic', 'kwise', "
                         f"'split', got {sorted(unknown)}")
    return learner


def _rate_cell(config: dict, rng, *, mle_fn=None) -> dict:
    phi, th = rate_instance()
    fn = mle_fn or mle
    s = [int(x) for x in rng.integers(2**63, size=2 * int(config["batch"]))]
    err = []
    for n in config["n_grid"]:
        c, o = uniform_offers(phi.shape[0], phi.shape[1], 2, int(n), seed=s[::2])
        rk = sample_rankings(phi, th, c, o, seed=s[1::2])
        est = np.asarray(fn(phi, c, rk, bound=BOUND).theta)
        sig = comparison_covariance(phi, c, rk)
        e = est - th
        err.append(np.sqrt(np.maximum(np.einsum("bd,bde,be->b", e, sig, e), 0.0)))
    return {"error": np.stack(err, axis=-1)}


def _coverage_data(n: int, batch: int, seeds):
    offers = np.array([[0, 1]] * (n - 1) + [[0, 2]])
    phi, th = coverage_instance()
    rk = sample_rankings(phi, th, None, np.broadcast_to(offers, (batch,) + offers.shape),
                         seed=seeds)
    return phi, th, offers, rk


def _coverage_cell(config: dict, rng, *, mle_fn=None, pess_fn=None) -> dict:
    batch = int(config["batch"])
    s = [int(x) for x in rng.integers(2**63, size=batch)]
    fn, pf = mle_fn or mle, pess_fn or pessimistic_policy
    sub_g, sub_p = [], []
    for n in config["n_grid"]:
        phi, th, offers, rk = _coverage_data(int(n), batch, s)
        est = np.asarray(fn(phi, None, rk, bound=BOUND).theta)
        sig = comparison_covariance(phi, None, rk)
        f = confidence_radius(int(n), phi.shape[-1], delta=0.1, lam=0.0, bound=BOUND)
        r = phi[0] @ th
        g = greedy_policy(phi, est)[:, 0]
        p = np.asarray(pf(phi, est, sig, radius=f, lam=0.0, reference=phi[0, 0]))[:, 0]
        sub_g.append(r.max() - r[g])
        sub_p.append(r.max() - r[p])
    return {"greedy": np.stack(sub_g, axis=-1), "pessimistic": np.stack(sub_p, axis=-1)}


def kwise_instance(S: int = 2, A: int = 5, d: int = 4, seed: int = 11):
    """Random unit features and a sum-zero ``theta*`` of norm 3 (spread preferences)."""
    rng = np.random.default_rng(seed)
    phi = rng.normal(size=(S, A, d))
    phi /= np.linalg.norm(phi, axis=-1, keepdims=True)
    th = rng.normal(size=d)
    th -= th.mean()
    return phi, 3.0 * th / np.linalg.norm(th)


def _kwise_cell(config: dict, rng, *, kwise_fn=None, split_fn=None) -> dict:
    phi, th = kwise_instance()
    K = int(config["K"])
    s = [int(x) for x in rng.integers(2**63, size=2 * int(config["batch"]))]
    fk, f2 = kwise_fn or mle, split_fn or split_mle
    ek, e2 = [], []
    for n in config["n_grid"]:
        c, o = uniform_offers(phi.shape[0], phi.shape[1], K, int(n), seed=s[::2])
        rk = sample_rankings(phi, th, c, o, seed=s[1::2])
        ek.append(((np.asarray(fk(phi, c, rk, bound=KWISE_BOUND).theta) - th) ** 2).sum(-1))
        e2.append(((np.asarray(f2(phi, c, rk, bound=KWISE_BOUND).theta) - th) ** 2).sum(-1))
    return {"kwise": np.stack(ek, axis=-1), "split": np.stack(e2, axis=-1)}


def _mean_ci(x: np.ndarray, level: float, n_boot: int, rng) -> tuple[float, float, float]:
    """Mean over seeds and its percentile bootstrap interval."""
    idx = rng.integers(0, x.shape[0], (n_boot, x.shape[0]))
    boots = x[idx].mean(axis=1)
    a = 1.0 - level
    lo, hi = np.quantile(boots, [a / 2, 1 - a / 2])
    return float(x.mean()), float(lo), float(hi)


def check_btl_mle(quick: bool = False, *, seed: int = 0, out_dir: str = "paper_figures",
                  scheduler=None, learner: Mapping[str, Callable] | None = None,
                  n_grid=None, coverage_grid=None, kwise_grid=None, seeds: int | None = None,
                  n_boot: int = 1000, figure: bool = True) -> Report:
    r"""MLE rate, greedy-vs-pessimistic separation, K-wise vs split efficiency.

    Parameters
    ----------
    quick : bool
        128 seeds (256 for the K-wise comparison, whose effect is about 10%), n from 512,
        :math:`n \le 8192` (rate) and :math:`\le 16384` (coverage); else 512 seeds (1024)
        and :math:`n \le 32768`.
    learner : mapping, optional
        Any of ``"mle"`` (rate and coverage parts; ``fn(features, contexts, rankings, *,
        bound) -> .theta``, batched), ``"pessimistic"`` (``fn(features, theta, sigma, *,
        radius, lam, reference) -> actions``), ``"kwise"``, ``"split"`` (as ``"mle"``).
    n_grid, coverage_grid, kwise_grid, seeds, n_boot, figure
        Override the design (for tests).
    """
    Sweep, run_sweep = _sweep_api()
    from tabular_rl.rates.fits import fit_slope
    from tabular_rl.rates.verdicts import verdict_exponent

    learner = _learners(learner)
    seeds = seeds or (128 if quick else 512)
    batch = _batch(seeds)
    top = 13 if quick else 15
    # From n = 512: below it the error still carries an O(1/n) pre-asymptotic term.
    n_grid = [int(n) for n in (n_grid or 2 ** np.arange(9, top + 1))]
    coverage_grid = [int(n) for n in (coverage_grid or 2 ** np.arange(4, top + 2, 2))]
    kwise_grid = [int(n) for n in (kwise_grid or [1000, 2000, 4000])]
    execu = _sweep_executor(scheduler)
    custom = bool(learner)

    def run(name, cell, fixed, factor=1):
        sweep = Sweep(f"learn.btl-mle.{name}", cell, grid={"part": [name]},
                      seeds=factor * seeds // batch, root_seed=seed, fixed=fixed)
        res = run_sweep(sweep, _sweep_path(out_dir, sweep, custom), progress=False,
                        overwrite=custom, **execu)
        return {m: res.metric(m).reshape(-1, res.metric(m).shape[-1])
                for m in res.metrics}                                   # (seeds, k)

    rate = run("rate", functools.partial(_rate_cell, mle_fn=learner.get("mle")),
               {"batch": batch, "n_grid": n_grid})
    cov = run("coverage", functools.partial(_coverage_cell, mle_fn=learner.get("mle"),
                                            pess_fn=learner.get("pessimistic")),
              {"batch": batch, "n_grid": coverage_grid})
    kw = run("kwise", functools.partial(_kwise_cell, kwise_fn=learner.get("kwise"),
                                        split_fn=learner.get("split")),
             {"batch": batch, "n_grid": kwise_grid, "K": 4}, factor=2)
    level = 1.0 - FAMILY_ALPHA / N_CHECKS
    rng = np.random.default_rng(seed)

    # 1. rate
    ns = np.asarray(n_grid, dtype=np.float64)
    err = np.maximum(rate["error"].T, 1e-300)                       # (k, seeds)
    fit = fit_slope(ns, err, n_boot=n_boot, seed=seed, level=level, interval="expanded")
    v_rate = verdict_exponent(fit, -0.5)

    # 2. coverage
    g_mean, g_lo, g_hi = _mean_ci(cov["greedy"][:, -1], level, n_boot, rng)
    p_mean, p_lo, p_hi = _mean_ci(cov["pessimistic"][:, -1], level, n_boot, rng)
    ok_g = g_lo > GREEDY_FLOOR
    ok_p = p_hi < GREEDY_FLOOR
    phi_c, th_c = coverage_instance()
    greedy_theory = float(1.0 / (1.0 + np.exp(th_c[0] - th_c[2])) * (th_c.max() - th_c[2]))

    # 3. K-wise vs split: n * squared errors pooled over the grid (each n weighted equally
    # on the asymptotic scale), ratio of means, seeds resampled jointly (paired).
    kn = np.asarray(kwise_grid, dtype=np.float64)
    ek, e2 = (kw["kwise"] * kn).sum(axis=1), (kw["split"] * kn).sum(axis=1)
    idx = rng.integers(0, ek.shape[0], (n_boot, ek.shape[0]))
    ratios = e2[idx].mean(axis=1) / ek[idx].mean(axis=1)
    a = 1.0 - level
    r_lo, r_hi = (float(q) for q in np.quantile(ratios, [a / 2, 1 - a / 2]))
    ratio = float(e2.mean() / ek.mean())
    ok_r = r_lo > 1.0
    phi_k, th_k = kwise_instance()
    offers = np.array([(s,) + c for s in range(phi_k.shape[0])
                       for c in itertools.combinations(range(phi_k.shape[1]), 4)])
    cov_k, cov_2 = asymptotic_covariances(phi_k, th_k, offers)
    gap_eig = float(np.linalg.eigvalsh(cov_2 - cov_k).min())
    ok_exact = gap_eig >= -1e-10 * float(np.trace(cov_2))
    passed = bool(v_rate) and ok_g and ok_p and ok_r and ok_exact

    text_rate = f"MLE error {v_rate}"
    text_cov = (f"n = {coverage_grid[-1]}: greedy SubOpt {g_mean:.3g} [{g_lo:.3g}, "
                f"{g_hi:.3g}] ({'>' if ok_g else 'not >'} {GREEDY_FLOOR}), pessimistic "
                f"{p_mean:.3g} [{p_lo:.3g}, {p_hi:.3g}] ({'<' if ok_p else 'not <'} "
                f"{GREEDY_FLOOR}); greedy theory sigma(-1/2) * 1 = {greedy_theory:.3g}")
    text_kw = (f"n in {kwise_grid}: sum_n n E|split - theta*|^2 / same for K-wise = "
               f"{ratio:.3g} [{r_lo:.3g}, {r_hi:.3g}] ({'> 1' if ok_r else 'not > 1'}); "
               f"asymptotic tr Cov_K = {np.trace(cov_k):.4g}, tr Cov_split = "
               f"{np.trace(cov_2):.4g}, min eig(Cov_split - Cov_K) = {gap_eig:.3g}")
    figures = ()
    if figure:
        figures = (_plot(out_dir, ns, err, fit, v_rate, coverage_grid, cov, kwise_grid, kw,
                         np.trace(cov_k), np.trace(cov_2), text_cov, text_kw, ok_g and ok_p,
                         ok_r and ok_exact, seeds),)
    measured = {"mle_error_slope": fit.slope, "mle_error_slope_low": fit.low,
                "mle_error_slope_high": fit.high,
                "greedy_subopt": g_mean, "greedy_subopt_low": g_lo,
                "pessimistic_subopt": p_mean, "pessimistic_subopt_high": p_hi,
                "split_over_kwise_mse": ratio, "split_over_kwise_mse_low": r_lo,
                "asymptotic_cov_gap_min_eig": gap_eig,
                "asymptotic_trace_kwise": float(np.trace(cov_k)),
                "asymptotic_trace_split": float(np.trace(cov_2)),
                "n_mse_kwise": float(ek.mean() / len(kn)),
                "n_mse_split": float(e2.mean() / len(kn))}
    stated = {"mle_error_slope": -0.5, "greedy_subopt": f">= {GREEDY_FLOOR} (Thm. 3.9)",
              "pessimistic_subopt": "-> 0 (Thm. 3.2)", "split_over_kwise_mse": "> 1 (Thm. 4.3)",
              "asymptotic_cov_gap_min_eig": ">= 0 (Thm. 4.3)"}
    details = (f"(1) contextual bandit S=3, A=4, d=4, |theta*|=1, BTL pairs, B={BOUND}, "
               f"n {n_grid[0]}..{n_grid[-1]}, {seeds} seeds: {text_rate}. (2) one context, "
               f"one-hot 3 actions, theta*=(0, .5, -.5), (a0,a1) x (n-1) + (a0,a2) x 1, "
               f"radius C=1, delta=0.1, lambda=0, v=phi(a0): {text_cov}. (3) PL, K=4 of "
               f"A=5, S=2, |theta*|=3, B={KWISE_BOUND}, {2 * seeds} seeds: {text_kw}. "
               f"Interval level {100 * level:g}% "
               f"(Bonferroni over {N_CHECKS}).")
    return Report(claim_id="learn.btl-mle", verdict="pass" if passed else "fail",
                  measured=measured, stated=stated, details=details, figures=figures,
                  n_instances=3)


def _plot(out_dir, ns, err, fit, v_rate, cgrid, cov, kgrid, kw, tr_k, tr_2, text_cov,
          text_kw, ok_cov, ok_kw, seeds) -> str:

    from matplotlib.figure import Figure

    from tabular_rl.plotting import plot_rate

    fig = Figure(figsize=(18, 6.2))
    ax0, ax1, ax2 = fig.subplots(1, 3, gridspec_kw={"wspace": 0.28})
    plot_rate(ns, err, fit=fit, stated_slope=-0.5, verdict=v_rate, ax=ax0, label="BTL MLE",
              xlabel="comparisons n", ylabel=r"$\|\hat\theta - \theta^*\|_{\Sigma_D}$",
              title="(1) MLE error (Lemma 3.1)")
    _plain_ticks(ax0, ns[::2], "{:.0f}")
    ax0.legend(fontsize=7.5, loc="upper center", bbox_to_anchor=(0.5, -0.13), frameon=False)
    cg = np.asarray(cgrid, dtype=np.float64)
    for name, color, marker in (("greedy", "C3", "o"), ("pessimistic", "C0", "s")):
        m = cov[name].mean(axis=0)
        se = cov[name].std(axis=0) / np.sqrt(cov[name].shape[0])
        ax1.errorbar(cg, m, yerr=2 * se, color=color, marker=marker, ms=4, capsize=2,
                     label=f"{name} on MLE" if name == "greedy" else "pessimistic MLE")
    ax1.axhline(GREEDY_FLOOR, color="k", ls=":", lw=1.2, label="Thm. 3.9 constant 0.1")
    ax1.plot([], [], " ", label=textwrap.fill(("PASS: " if ok_cov else "FAIL: ") + text_cov, 72))
    ax1.set(xscale="log", xlabel="comparisons n ((a0,a1) x (n-1), (a0,a2) x 1)",
            ylabel="mean suboptimality (± 2 s.e.)",
            title="(2) poor coverage: greedy fails, pessimism succeeds")
    ax1.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.13), frameon=False)
    ax1.grid(True, which="both", alpha=0.3)
    kg = np.asarray(kgrid, dtype=np.float64)
    for name, color, tr in (("kwise", "C2", tr_k), ("split", "C1", tr_2)):
        m = kg * kw[name].mean(axis=0)
        se = kg * kw[name].std(axis=0) / np.sqrt(kw[name].shape[0])
        lab = "K-wise PL MLE" if name == "kwise" else "split pairwise MLE"
        ax2.errorbar(kg, m, yerr=2 * se, color=color, marker="o", capsize=3, label=lab)
        ax2.axhline(tr, color=color, ls="--", lw=1, label=f"{lab}: asymptotic tr Cov = {tr:.3g}")
    ax2.plot([], [], " ", label=textwrap.fill(("PASS: " if ok_kw else "FAIL: ") + text_kw, 72))
    ax2.set(xscale="log", xlabel="rankings n (K = 4 of 5 actions)",
            ylabel=r"$n\,\mathbb{E}\|\hat\theta - \theta^*\|^2$ (± 2 s.e.)",
            title="(3) K-wise vs split efficiency (Thm. 4.3)")
    _plain_ticks(ax2, kg, "{:.0f}")
    ax2.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.13), frameon=False)
    ax2.grid(True, which="both", alpha=0.3)
    fig.suptitle(f"learn.btl-mle: Zhu, Jordan, Jiao (ICML 2023) -- BTL/PL MLE, pessimistic "
                 f"MLE, K-wise vs split; {seeds} seeds ({2 * seeds} in (3))", fontsize=11)
    path = save_figure(fig, out_dir, "learn.btl-mle.png", tight=True)
    return path


BTL_MLE = register(Claim(
    id="learn.btl-mle",
    paper=ZJJ,
    statement=("Zhu, Jordan, Jiao (ICML 2023): Lemma 3.1 / Thm. 4.1, the constrained BTL "
               "(PL) MLE satisfies ||theta_hat - theta*||_{Sigma_D + lambda I} <= "
               "C sqrt((d + log 1/delta)/(gamma^2 n) + lambda B^2); Thm. 3.9, greedy on the "
               "MLE can stay >= 0.1 suboptimal for every n without coverage, while the "
               "pessimistic MLE (Thm. 3.2) converges under coverage of the optimal policy; "
               "Thm. 4.3, the K-wise PL MLE is asymptotically more efficient than the "
               "pairwise-split MLE."),
    kind="rate",
    instances="contextual bandit (3 contexts, 4 actions, d=4); 3-action poor-coverage "
              "bandit; PL K=4 of 5 actions",
    check=check_btl_mle,
))
