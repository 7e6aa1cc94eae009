"""``dp.soft-policy-iteration``: passes on the seeded instances, fails on broken algorithms."""

from __future__ import annotations

import numpy as np
from _examples import examples
from hypothesis import given, settings
from hypothesis import strategies as st

from proofs_check.claims import soft_actor_critic as C
from tabular_rl import Shannon
from tabular_rl.planning import soft_value_iteration
from tabular_rl.testing.strategies import finite_mdps


def _few(seed=0, n=3):
    from proofs_check._instances import random_mdp, rng_for

    out = []
    for i, (S, A, g) in enumerate([(5, 3, 0.9), (8, 4, 0.5), (3, 2, 0.99)][:n]):
        out.append(random_mdp(rng_for(seed, i), S, A, g))
    return out


def test_quick_passes_and_writes_figure(tmp_path):
    rep = C.check_soft_policy_iteration(quick=True, out_dir=tmp_path)
    assert rep.verdict == "pass", rep.details
    assert rep.measured["max_final_entropy_gap"] <= C.DUAL_TOL
    assert rep.measured["n_dual_runs"] >= 2
    assert len(rep.figures) == 1 and (tmp_path / "dp.soft-policy-iteration.png").exists()


def test_fails_on_anti_greedy_improvement():
    rep = C.check_soft_policy_iteration(
        quick=True, out_dir=None, instances=_few(n=1),
        improve=lambda q, alpha: Shannon(alpha).greedy(-np.asarray(q)))
    assert rep.verdict == "fail"
    assert rep.measured["max_improvement_violation_over_tol"] > 1.0


def test_fails_on_wrong_sign_temperature_update():
    rep = C.check_soft_policy_iteration(
        quick=True, out_dir=None, instances=_few(n=1),
        dual_update=lambda a, H, target, eta: max(0.0, a + eta * (H - target)))
    assert rep.verdict == "fail"
    assert rep.measured["max_final_entropy_gap"] > C.DUAL_TOL


def test_fails_on_wrong_temperature_in_value_iteration():
    def vi(mdp, reg, tol):   # solves the problem at twice the temperature
        return soft_value_iteration(mdp, Shannon(2 * reg.tau), tol=tol)

    rep = C.check_soft_policy_iteration(quick=True, out_dir=None, instances=_few(n=1),
                                        vi_solver=vi)
    assert rep.verdict == "fail"
    assert rep.measured["max_fixed_point_gap_over_bound"] > 1.0


@settings(max_examples=examples(4), deadline=None)
@given(finite_mdps(max_states=5, gamma=st.floats(0.0, 0.95)), st.integers(0, 2**16))
def test_claim_property(mdp, seed):
    rep = C.check_soft_policy_iteration(quick=True, seed=seed, out_dir=None, instances=[mdp])
    assert rep.verdict == "pass", rep.details
