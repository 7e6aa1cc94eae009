"""Claim occ.cmdp-last-iterate (ReLOAD): passes, and fails without the optimistic correction."""

from __future__ import annotations

from proofs_check.claims import reload
from tabular_rl.occupancy import lagrangian_dynamics


def test_cmdp_last_iterate_passes(tmp_path):
    rep = reload.check_cmdp_last_iterate(quick=True, out_dir=tmp_path)
    assert rep.verdict == "pass", rep.details
    assert rep.measured["reload_final_rel"] <= reload.CONVERGED
    assert rep.measured["reload_rate"] < 0
    assert len(rep.figures) == 1 and (tmp_path / "occ.cmdp-last-iterate.png").exists()


def test_cmdp_last_iterate_fails_without_optimism():
    def no_optimism(cmdp, n_iterations, *, method, eta):
        return lagrangian_dynamics(cmdp, n_iterations, method=method, eta=eta, optimism=0.0)

    rep = reload.check_cmdp_last_iterate(quick=True, algorithm=no_optimism, plot=False)
    assert rep.verdict == "fail"
    assert "ReLOAD last iterate test failed" in rep.details
