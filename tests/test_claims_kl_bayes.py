"""``dp.kl-bayes``: passes on the seeded instances, fails on broken posteriors."""

from __future__ import annotations

import numpy as np
from scipy.special import logsumexp

from proofs_check.claims import kl_bayes as C
from tabular_rl.planning.kl_posterior import GibbsPosterior, gibbs_posterior


def _posterior(sign=1.0, with_prior=True):
    def post(logp0, r, beta):
        logp0 = np.asarray(logp0)
        base = logp0 if with_prior else np.where(np.isfinite(logp0), 0.0, -np.inf)
        z = np.where(np.isfinite(logp0), base + sign * np.asarray(r) / beta, -np.inf)
        lse = logsumexp(z)
        return GibbsPosterior(logp=z - lse, beta_log_z=beta * lse, beta=beta)
    return post


def test_quick_passes_and_writes_figure(tmp_path):
    rep = C.check_kl_bayes(quick=True, out_dir=tmp_path)
    assert rep.verdict == "pass", rep.details
    assert rep.measured["entropy_at_smallest_beta"] <= 1e-12
    assert (tmp_path / "dp.kl-bayes.png").exists()


def test_fails_on_negated_reward():
    rep = C.check_kl_bayes(quick=True, out_dir=None, posterior=_posterior(sign=-1.0))
    assert rep.verdict == "fail"
    assert rep.measured["max_identity_residual_over_tol"] > 1.0


def test_fails_without_prior_factor():
    rep = C.check_kl_bayes(quick=True, out_dir=None, posterior=_posterior(with_prior=False))
    assert rep.verdict == "fail"
    assert rep.measured["max_identity_residual_over_tol"] > 1.0


def test_fails_on_broken_token_solver():
    from tabular_rl.planning.kl_posterior import token_level_posterior

    def uniform_first_token(cond0, r, beta, V, T):   # forgets the reference at the root
        cond, value = token_level_posterior(cond0, r, beta, V, T)
        cond = np.array(cond)
        cond[0] = 1.0 / V
        return cond, value

    rep = C.check_kl_bayes(quick=True, out_dir=None, token_solver=uniform_first_token)
    assert rep.verdict == "fail"
    assert rep.measured["max_token_level_error_over_tol"] > 1.0


def test_unbroken_reimplementation_passes():
    """The injected-posterior path itself is sound: a correct re-implementation passes."""
    rep = C.check_kl_bayes(quick=True, out_dir=None, posterior=_posterior())
    assert rep.verdict == "pass", rep.details
    assert gibbs_posterior is not None
