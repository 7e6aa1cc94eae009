"""dp.tsallis-munchausen passes on MVI(q) and fails with a wrong Munchausen coefficient."""

from proofs_check.claims.tsallis_munchausen import check_tsallis_munchausen
from tabular_rl.planning.mdvi import tsallis_munchausen_vi


def test_passes_quick(tmp_path):
    r = check_tsallis_munchausen(True, out_dir=str(tmp_path))
    assert r.verdict == "pass", r.details
    assert r.figures and r.figures[0].endswith(".png")


def test_fails_with_wrong_munchausen_coefficient():
    def broken(mdp, *, alpha, **kw):  # Munchausen term scaled by alpha/2 instead of alpha
        return tsallis_munchausen_vi(mdp, alpha=0.5 * alpha, **kw)

    r = check_tsallis_munchausen(True, out_dir=None, algorithm=broken)
    assert r.verdict == "fail", r.details
