"""The CSR kernels' parallel and serial compilations agree with a dense reference.

Solvers pick the parallel kernels only above ``PARALLEL_MIN_NNZ`` stored entries, so small
test models would never reach them; here both are called directly, with block counts that
do not divide the number of rows (and exceed it), on models with empty-action-free but
uneven row lengths.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from tabular_rl import _kernels as K


@pytest.fixture(scope="module")
def model():
    rng = np.random.default_rng(0)
    S, A = 53, 3
    dense = rng.random((S * A, S)) * (rng.random((S * A, S)) < 0.15)
    dense[np.arange(S * A), rng.integers(0, S, S * A)] += 1.0
    dense /= dense.sum(1, keepdims=True)
    P = sp.csr_matrix(dense)
    return P, dense, rng.normal(size=(S, A)), rng.normal(size=S), S, A


@pytest.mark.parametrize("variant", ["parallel", "serial"])
@pytest.mark.parametrize("n_chunks", [1, 7, 64, 1000])
def test_kernels_match_dense(model, variant, n_chunks):
    P, dense, r, v, S, A = model
    gamma = 0.9
    q_ref = r + gamma * (dense @ v).reshape(S, A)
    args = (P.indptr, P.indices, P.data)
    out = np.empty(S * A)
    getattr(K.csr_matvec, variant)(*args, v, out, n_chunks)
    np.testing.assert_allclose(out, dense @ v, atol=1e-14)
    getattr(K.csr_q_values, variant)(*args, r.reshape(-1), v, gamma, out, n_chunks)
    np.testing.assert_allclose(out.reshape(S, A), q_ref, atol=1e-14)
    Tv, arg = np.empty(S), np.empty(S, dtype=np.int64)
    getattr(K.csr_bellman_max, variant)(*args, r.reshape(-1), v, gamma, A, Tv, arg, n_chunks)
    np.testing.assert_allclose(Tv, q_ref.max(1), atol=1e-14)
    np.testing.assert_array_equal(arg, q_ref.argmax(1))
    getattr(K.csr_bellman_value, variant)(*args, r.reshape(-1), v, gamma, A, Tv, n_chunks)
    np.testing.assert_allclose(Tv, q_ref.max(1), atol=1e-14)
    stats = np.empty((max(n_chunks, 1), 3))
    stats[:, 0], stats[:, 1], stats[:, 2] = np.inf, -np.inf, 0.0
    getattr(K.csr_bellman_value_span, variant)(*args, r.reshape(-1), v, gamma, A, Tv, stats,
                                               n_chunks)
    d = q_ref.max(1) - v
    np.testing.assert_allclose(Tv, q_ref.max(1), atol=1e-14)
    assert stats[:, 0].min() == pytest.approx(d.min(), abs=1e-14)
    assert stats[:, 1].max() == pytest.approx(d.max(), abs=1e-14)
    assert stats[:, 2].max() == np.abs(v).max()
    pi = np.random.default_rng(1).dirichlet(np.ones(A), S)
    getattr(K.csr_bellman_policy, variant)(*args, r.reshape(-1), v, gamma, pi.reshape(-1), A,
                                           Tv, n_chunks)
    np.testing.assert_allclose(Tv, (pi * q_ref).sum(1), atol=1e-14)
    acts = q_ref.argmin(1)
    getattr(K.csr_bellman_deterministic, variant)(*args, r.reshape(-1), v, gamma, acts, A,
                                                  Tv, n_chunks)
    np.testing.assert_allclose(Tv, q_ref[np.arange(S), acts], atol=1e-14)
