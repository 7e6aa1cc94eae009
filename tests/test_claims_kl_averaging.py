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
