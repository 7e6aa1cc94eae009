"""dp.kl-averaging passes on MD-VI and fails on deliberately broken KL schemes."""

import numpy as np

from proofs_check.claims.leverage_average import check_kl_averaging
from tabular_rl.bellman import q_values
from tabular_rl.planning.mdvi import MDVIResult, md_vi


def _broken(sign: float, keep_previous: bool):
    """MD-VI with the KL term's sign flipped (``sign = -1``) or without the previous policy
    in the greedy step (``keep_previous = False``: no averaging of past q-values)."""

    def algorithm(mdp, *, lam, tau=0.0, n_iter, noise_scale=0.0, noise=None, seed=None,
                  record="iterates", **_):
        if lam == 0.0:
            return md_vi(mdp, lam=0.0, tau=tau, n_iter=n_iter, noise_scale=noise_scale,
                         noise=noise, seed=seed, record=record)
        rng = np.random.default_rng(seed)
        S, A = mdp.S, mdp.A
        eta = lam + tau
        beta = sign * lam / eta if keep_previous else 0.0
        q = np.zeros((S, A))
        logpi = np.full((S, A), -np.log(A))
        qs, pis, eps_h = [q], [], []
        for k in range(1, n_iter + 1):
            z = beta * logpi + q / eta
            m = z.max(axis=1, keepdims=True)
            lse = m[:, 0] + np.log(np.exp(z - m).sum(axis=1))
            logpi = z - lse[:, None]
            eps = noise(k, rng) if noise is not None else rng.normal(0, noise_scale, (S, A))
            q = q_values(mdp, eta * lse) + eps
            qs.append(q)
            pis.append(np.exp(logpi))
            eps_h.append(eps)
        return MDVIResult(q=q, policy=pis[-1], log_policy=logpi, iterations=n_iter, lam=lam,
                          tau=tau, errors=None, q_errors=None, residuals=np.zeros(n_iter),
                          q_history=np.stack(qs), policy_history=np.stack(pis),
                          noise_history=np.stack(eps_h))

    return algorithm


def test_passes_quick(tmp_path):
    r = check_kl_averaging(True, out_dir=str(tmp_path))
    assert r.verdict == "pass", r.details
    assert all(p.endswith(".png") for p in r.figures)


def test_fails_with_wrong_kl_sign():
    r = check_kl_averaging(True, out_dir=None, algorithm=_broken(-1.0, True))
    assert r.verdict == "fail", r.details


def test_fails_without_averaging():
    r = check_kl_averaging(True, out_dir=None, algorithm=_broken(1.0, False))
    assert r.verdict == "fail", r.details


def test_thm1_bound_pairs_pi_k_with_first_k_minus_1_errors():
    """pi_1 has seen no error: its bound is 4 v^lam_max/(1 - gamma); eps_K never enters."""
    from proofs_check.claims.leverage_average import _thm1_bound
    from tabular_rl.envs.random_mdps import garnet

    mdp = garnet(4, 3, 2, 0.9, seed=0, sparse=False)
    lam, g = 0.7, mdp.gamma
    rng = np.random.default_rng(0)
    noise = rng.normal(size=(5, 4, 3))
    b = _thm1_bound(mdp, lam, noise)
    v_lam = (np.abs(mdp.r).max() + lam * np.log(3)) / (1 - g)
    assert np.isclose(b[0], 4 * v_lam / (1 - g), rtol=1e-14)
    noise2 = noise.copy()
    noise2[-1] += 100.0
    np.testing.assert_array_equal(b, _thm1_bound(mdp, lam, noise2))
    k = 3
    e = np.abs(noise[: k - 1].sum(axis=0) / k).max()
    assert np.isclose(b[k - 1], 2 / (1 - g) * e + 4 * v_lam / ((1 - g) * k), rtol=1e-12)


def test_fails_when_thm1_hypothesis_cannot_be_checked():
    """An algorithm that ignores q_clip and leaves ||q_k|| > v_max everywhere: no run is
    within Thm. 1's hypothesis, so the bound is not checked and the verdict is fail."""

    def unclipped(mdp, *, q_clip=None, **kw):
        res = md_vi(mdp, **kw)
        if kw["lam"] > 0:
            shift = 2 * np.abs(mdp.r).max() / (1 - mdp.gamma)
            res = MDVIResult(**{**res.__dict__, "q_history": res.q_history + shift})
        return res

    r = check_kl_averaging(True, out_dir=None, algorithm=unclipped)
    assert r.verdict == "fail", r.details
    assert r.measured["thm1_runs_within_hypothesis"] == 0
