"""Tests for the claim registry, its command line and the foundation claims.

Every foundation check is shown to pass on the library and to *fail* on a deliberately
broken operator or solver, injected through the check's keyword arguments (claims.md: a
check must be able to fail).
"""

from __future__ import annotations

import dataclasses
import io
import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

import proofs_check as pc
import tabular_rl as trl
from proofs_check.claims import foundation as F
from proofs_check.cli import main
from tabular_rl.evaluation import PerformanceDifference

ROOT = Path(__file__).resolve().parents[1]
FOUNDATION_IDS = [
    "foundation.bellman-contraction",
    "foundation.performance-difference",
    "foundation.vi-certified-bound",
    "foundation.dual-lp-occupancy",
]


def _claim(claim_id: str = "test.dummy", check=None, kind: str = "identity") -> pc.Claim:
    def ok(quick: bool, *, seed: int = 0) -> pc.Report:
        return pc.Report(claim_id, "pass", measured={"seed": float(seed)}, n_instances=1)

    paper = pc.Paper(title="T", authors="A. Author", venue="V", year=2000)
    return pc.Claim(id=claim_id, paper=paper, statement="s", kind=kind, instances="none",
                    check=check or ok)


# ------------------------------------------------------------------ registry


def test_foundation_claims_are_registered():
    ids = [c.id for c in pc.all_claims()]
    assert set(FOUNDATION_IDS) <= set(ids)
    assert ids == sorted(ids)
    claim = pc.get("foundation.performance-difference")
    assert claim.kind == "identity"
    assert "Lemma 6.1" in claim.statement
    assert claim.paper.short == "Kakade & Langford 2002"


def test_register_refuses_duplicate_id():
    existing = pc.get("foundation.bellman-contraction")
    with pytest.raises(ValueError, match="foundation.bellman-contraction"):
        pc.register(existing)
    registry: dict = {}
    pc.register(_claim(), registry=registry)
    with pytest.raises(ValueError, match="'test.dummy' is already registered"):
        pc.register(_claim(), registry=registry)


def test_get_unknown_id_lists_valid_ids():
    with pytest.raises(KeyError, match="valid ids: .*foundation.bellman-contraction"):
        pc.get("foundation.nope")


@pytest.mark.parametrize(("kw", "match"), [
    ({"claim_id": "NoDot"}, "not of the form 'area.short-name'"),
    ({"kind": "theorem"}, "kind must be one of"),
])
def test_claim_validation(kw, match):
    with pytest.raises(ValueError, match=match):
        _claim(**kw)


def test_report_rejects_unknown_verdict():
    with pytest.raises(ValueError, match="verdict must be one of"):
        pc.Report("test.dummy", "maybe")


def test_run_turns_exception_into_error_report():
    def broken(quick: bool) -> pc.Report:
        raise RuntimeError("boom inside the check")

    report = _claim(check=broken).run(quick=True)
    assert report.verdict == "error"
    assert "RuntimeError: boom inside the check" in report.details
    assert report.seconds >= 0


def test_run_passes_seed_and_times():
    report = _claim().run(quick=True, seed=7)
    assert report.verdict == "pass"
    assert report.measured["seed"] == 7.0
    assert report.seconds > 0


# ---------------------------------------------------------------------- CLI


def test_cli_list():
    out = io.StringIO()
    assert main(["list"], out=out) == 0
    text = out.getvalue()
    assert text.splitlines()[0].split() == ["id", "kind", "paper"]
    for claim_id in FOUNDATION_IDS:
        assert claim_id in text


def test_cli_run_one_quick(tmp_path):
    out = io.StringIO()
    rc = main(["run", "foundation.vi-certified-bound", "--quick", "--out", str(tmp_path)],
              out=out, err=io.StringIO())
    assert rc == 0, out.getvalue()
    assert "PASS" in out.getvalue()
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert [r["claim_id"] for r in summary["reports"]] == ["foundation.vi-certified-bound"]


def test_cli_run_all_quick(tmp_path):
    out = io.StringIO()
    rc = main(["run", "--all", "--quick", "--seed", "3", "--out", str(tmp_path)],
              out=out, err=io.StringIO())
    assert rc == 0, out.getvalue()
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["seed"] == 3 and summary["quick"] is True
    verdicts = {r["claim_id"]: r["verdict"] for r in summary["reports"]}
    assert all(verdicts[i] == "pass" for i in FOUNDATION_IDS), verdicts


def test_cli_unknown_id_exits_2():
    err = io.StringIO()
    assert main(["run", "foundation.nope", "--no-summary"], out=io.StringIO(), err=err) == 2
    assert "unknown claim id 'foundation.nope'" in err.getvalue()
    assert "foundation.bellman-contraction" in err.getvalue()


def test_cli_failing_and_erroring_claims_exit_1():
    def fails(quick: bool) -> pc.Report:
        return pc.Report("test.fails", "fail", measured={"gap": 2.0}, stated={"gap": 0.0})

    def raises(quick: bool) -> pc.Report:
        raise ZeroDivisionError("in the check")

    pc.register(_claim("test.fails", check=fails))
    pc.register(_claim("test.raises", check=raises))
    try:
        out = io.StringIO()
        rc = main(["run", "test.fails", "test.raises", "--no-summary"], out=out,
                  err=io.StringIO())
    finally:
        pc.unregister("test.fails")
        pc.unregister("test.raises")
    assert rc == 1
    text = out.getvalue()
    assert "FAIL" in text and "ERROR" in text and "ZeroDivisionError" in text


def test_python_m_proofs_check_list():
    proc = subprocess.run([sys.executable, "-m", "proofs_check", "list"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "foundation.dual-lp-occupancy" in proc.stdout


# --------------------------------------------------------- foundation claims


@pytest.mark.parametrize("claim_id", FOUNDATION_IDS)
def test_foundation_claim_passes(claim_id):
    report = pc.get(claim_id).run(quick=True)
    assert report.verdict == "pass", report.details
    assert report.n_instances >= 12
    assert set(report.stated) <= set(report.measured)


def test_checks_are_reproducible_from_the_seed():
    a = F.check_dual_lp_occupancy(True, seed=11)
    b = F.check_dual_lp_occupancy(True, seed=11)
    c = F.check_dual_lp_occupancy(True, seed=12)
    assert dict(a.measured) == dict(b.measured)
    assert dict(a.measured) != dict(c.measured)


# 1. contraction: operators that expand distances by a factor > 1.


def _scaled_T(mdp, v):
    return 1.05 * trl.bellman_optimality(mdp, v)[0]


def _bigger_gamma_T(mdp, v):
    return trl.bellman_optimality(mdp.with_gamma(min(1.001 * mdp.gamma, 0.99999)), v)[0]


def _expanding_T_pi(mdp, pi, v):
    return trl.bellman_policy(mdp, pi, 1.05 * v)


@pytest.mark.parametrize("broken", [
    {"optimality_operator": _scaled_T},
    {"optimality_operator": _bigger_gamma_T},
    {"policy_operator": _expanding_T_pi},
], ids=["T-scaled-1.05", "T-gamma'>gamma", "T_pi-expanding"])
def test_contraction_check_fails_on_broken_operator(broken):
    report = F.check_contraction(True, **broken)
    assert report.verdict == "fail"
    assert report.measured["max_excess_over_fp_slack"] > 1.0
    assert report.measured["max_ratio"] > 1.0 + 1e-6


# 2. performance difference: the rhs with the wrong occupancy or without 1/(1 - gamma).


def _rhs_with(mdp, pi, pi_prime, mu, *, occupancy_of, factor: bool):
    if isinstance(mdp, trl.EpisodicMDP):
        d = trl.occupancy_measure(mdp, occupancy_of, mu)
        return float(np.sum(d * trl.advantage(mdp, pi)))
    d = trl.occupancy_measure(mdp, occupancy_of, mu)
    return float(np.sum(d * trl.advantage(mdp, pi))) / ((1 - mdp.gamma) if factor else 1.0)


def _pdl_occupancy_of_pi(mdp, pi, pi_prime, mu=None):
    """The classic slip: weighting A^pi by d^pi (which always gives rhs = 0)."""
    lhs = trl.performance_difference(mdp, pi, pi_prime, mu).lhs
    return PerformanceDifference(lhs, _rhs_with(mdp, pi, pi_prime, mu, occupancy_of=pi,
                                                factor=True))


def _pdl_no_horizon_factor(mdp, pi, pi_prime, mu=None):
    lhs = trl.performance_difference(mdp, pi, pi_prime, mu).lhs
    return PerformanceDifference(lhs, _rhs_with(mdp, pi, pi_prime, mu, occupancy_of=pi_prime,
                                                factor=False))


def _pdl_wrong_only_episodic(mdp, pi, pi_prime, mu=None):
    if isinstance(mdp, trl.EpisodicMDP):
        return _pdl_occupancy_of_pi(mdp, pi, pi_prime, mu)
    return trl.performance_difference(mdp, pi, pi_prime, mu)


@pytest.mark.parametrize("pdl", [_pdl_occupancy_of_pi, _pdl_no_horizon_factor,
                                 _pdl_wrong_only_episodic],
                         ids=["d^pi-instead-of-d^pi'", "no-1/(1-gamma)", "episodic-only"])
def test_performance_difference_check_fails_on_wrong_formula(pdl):
    report = F.check_performance_difference(True, pdl=pdl)
    assert report.verdict == "fail"
    assert report.measured["max_residual_over_tol"] > 1e3


def test_performance_difference_broken_rhs_matches_on_the_lhs():
    """Sanity of the broken variant: correct lhs, so only the rhs is at fault."""
    mdp = trl.FiniteMDP(np.full((2, 2, 2), 0.5), [[0.0, 1.0], [1.0, 0.0]], gamma=0.9)
    pi, pi_prime = np.full((2, 2), 0.5), np.array([[0.0, 1.0], [1.0, 0.0]])
    wrong = _pdl_occupancy_of_pi(mdp, pi, pi_prime)
    right = trl.performance_difference(mdp, pi, pi_prime)
    assert wrong.lhs == right.lhs
    assert abs(wrong.rhs) < 1e-12 < abs(right.rhs)


# 3. value iteration: bounds that are too small, a tolerance not met, a capped run.


def _vi_bound_10x_too_small(mdp, **kw):
    sol = trl.value_iteration(mdp, **kw)
    return dataclasses.replace(sol, error_bound=sol.error_bound / 10)


def _vi_no_gap_bound(mdp, **kw):
    return dataclasses.replace(trl.value_iteration(mdp, **kw), policy_gap_bound=0.0)


def _vi_tol_ignored(mdp, *, tol, **kw):
    return trl.value_iteration(mdp, tol=100 * tol, **kw)


def _vi_capped(mdp, **kw):
    return trl.value_iteration(mdp, max_iter=2, **kw)


@pytest.mark.parametrize(("solver", "figure"), [
    (_vi_bound_10x_too_small, "max_true_error_over_bound"),
    (_vi_no_gap_bound, "max_policy_gap_over_bound"),
    (_vi_tol_ignored, "max_bound_over_tol"),
], ids=["error_bound/10", "policy_gap_bound=0", "tol*100"])
def test_vi_check_fails_on_understated_bound(solver, figure):
    report = F.check_vi_certified_bound(True, solver=solver)
    assert report.verdict == "fail"
    assert report.measured[figure] > 1.0


def test_vi_check_fails_when_runs_do_not_converge():
    report = F.check_vi_certified_bound(True, solver=_vi_capped)
    assert report.verdict == "fail"
    assert report.measured["fraction_converged"] < 1.0
    # the (honest) bounds still hold for the capped runs
    assert report.measured["max_true_error_over_bound"] <= 1.0


# 4. dual LP: a perturbed LP solution, the occupancy of a non-optimal policy.


def _lp_perturbed(mdp, mu):
    res = F._default_occupancy_solver(mdp, mu)
    rng = np.random.default_rng(0)
    d = np.asarray(res.occupancy) * (1 + 1e-6 * rng.uniform(-1, 1, res.occupancy.shape))
    return SimpleNamespace(occupancy=d, value=res.value)


def _lp_uniform_policy(mdp, mu):
    d = trl.occupancy_measure(mdp, np.full((mdp.S, mdp.A), 1.0 / mdp.A), mu, normalized=False)
    return SimpleNamespace(occupancy=d, value=float(np.sum(d * mdp.r)))


def _lp_value_off(mdp, mu):
    res = F._default_occupancy_solver(mdp, mu)
    return SimpleNamespace(occupancy=res.occupancy, value=res.value * (1 + 1e-6))


@pytest.mark.parametrize(("solver", "figure"), [
    (_lp_perturbed, "max_occupancy_gap"),
    (_lp_uniform_policy, "max_value_gap_rel"),
    (_lp_value_off, "max_objective_gap_rel"),
], ids=["occupancy*(1+1e-6 noise)", "uniform-policy-occupancy", "value*(1+1e-6)"])
def test_dual_lp_check_fails_on_wrong_solution(solver, figure):
    report = F.check_dual_lp_occupancy(True, solver=solver)
    assert report.verdict == "fail"
    assert report.measured["max_gap_over_tol"] > 1.0
    assert report.measured[figure] > 1e-9


def test_check_given_no_instance_of_its_type_errors_instead_of_passing():
    """A check run on no instance must not report 'pass' (it used to, with -inf figures)."""
    import numpy as np

    from proofs_check._instances import Instance
    from proofs_check.claims import foundation as F
    from tabular_rl import EpisodicMDP

    episodic = [Instance(EpisodicMDP(np.ones((1, 1, 1)), [[1.0]], 2),
                         np.random.default_rng(0), "episodic only")]
    for check in (F.check_contraction, F.check_vi_certified_bound, F.check_dual_lp_occupancy):
        rep = check(instances=episodic)
        assert rep.verdict == "error" and rep.n_instances == 0, check.__name__
    assert F.check_performance_difference(instances=[]).verdict == "error"
    assert F.check_performance_difference(instances=episodic).n_instances == 1


def test_sweep_results_are_keyed_by_the_source_code(monkeypatch):
    """A stored sweep is reused only by the same settings *and* the same library source:
    results computed before a code change must not be read back as new ones."""
    from proofs_check import _rate_helpers as RH
    from tabular_rl.rates import Sweep

    sweep = Sweep("demo", lambda config, rng: {"x": 0.0}, grid={"n": [1, 2]}, seeds=4,
                  root_seed=0, fixed={"k": 1})
    here = RH._sweep_path("out", sweep, False)
    assert here == RH._sweep_path("out", sweep, False)
    assert RH._code_fingerprint() == RH._code_fingerprint()
    monkeypatch.setattr(RH, "_code_fingerprint", lambda: "edited-source")
    assert RH._sweep_path("out", sweep, False) != here
