"""Tests of :mod:`tabular_rl.regularizers`: Fenchel-Young identities on random inputs,
closed forms, extreme temperatures and argument validation."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import xlogy

from tabular_rl.exceptions import NumericalWarning
from tabular_rl.regularizers import (
    KL,
    ChiSquared,
    FDivergence,
    LogBarrier,
    Regularizer,
    Shannon,
    Tsallis,
    TsallisKL,
    _tsallis_bisect,
)

A_MAX = 6

# f-divergence generators: f(x) = x log x is KL, f(x) = (x - 1)^2 / 2 is Pearson chi^2, and
# f(x) = x^2 - 1 - 2 log x ... is avoided (log-barrier-like f is not superlinear at 0).
F_KL = dict(f=lambda x: xlogy(x, x), f_prime=lambda x: np.log(x) + 1.0,
            f_prime_inv=lambda y: np.exp(y - 1.0))
F_CHI2 = dict(f=lambda x: 0.5 * (x - 1.0) ** 2, f_prime=lambda x: x - 1.0,
              f_prime_inv=lambda y: y + 1.0)
# f(x) = (x^3 - 1)/3 - (x - 1): convex on x >= 0, f(1) = 0, f' = x^2 - 1, (f')^{-1} = sqrt(y + 1)
F_CUBIC = dict(f=lambda x: (x**3 - 1.0) / 3.0 - (x - 1.0), f_prime=lambda x: x**2 - 1.0,
               f_prime_inv=lambda y: np.sqrt(np.maximum(y + 1.0, 0.0)))


def _ref(rng, shape, zeros):
    ref = rng.dirichlet(np.ones(shape[-1]), size=shape[:-1])
    if zeros and shape[-1] > 1:  # zero out one action per row, never all of them
        idx = rng.integers(0, shape[-1], shape[:-1])
        np.put_along_axis(ref, idx[..., None], 0.0, axis=-1)
        ref /= ref.sum(axis=-1, keepdims=True)
    return ref


MEMBERS = {
    "shannon": lambda tau, rng, shape: Shannon(tau),
    "kl": lambda tau, rng, shape: KL(tau, _ref(rng, shape, zeros=False)),
    "kl_zeros": lambda tau, rng, shape: KL(tau, _ref(rng, shape, zeros=True)),
    "kl_broadcast": lambda tau, rng, shape: KL(tau, _ref(rng, shape[-1:], zeros=False)),
    "tsallis2": lambda tau, rng, shape: Tsallis(tau, 2.0),
    "tsallis1.5": lambda tau, rng, shape: Tsallis(tau, 1.5),
    "tsallis3": lambda tau, rng, shape: Tsallis(tau, 3.0),
    "tsallis1.01": lambda tau, rng, shape: Tsallis(tau, 1.01),
    "tsallis1": lambda tau, rng, shape: Tsallis(tau, 1.0),
    "logbarrier": lambda tau, rng, shape: LogBarrier(tau),
    "chi2": lambda tau, rng, shape: ChiSquared(tau, _ref(rng, shape, zeros=False)),
    "chi2_zeros": lambda tau, rng, shape: ChiSquared(tau, _ref(rng, shape, zeros=True)),
    "f_kl": lambda tau, rng, shape: FDivergence(tau, _ref(rng, shape, zeros=True), **F_KL),
    "f_chi2": lambda tau, rng, shape: FDivergence(tau, _ref(rng, shape, zeros=False), **F_CHI2),
    "tsallis_kl2": lambda tau, rng, shape: TsallisKL(tau, _ref(rng, shape, zeros=True), 2.0),
    "tsallis_kl1.5": lambda tau, rng, shape: TsallisKL(tau, _ref(rng, shape, zeros=False), 1.5),
    "f_cubic": lambda tau, rng, shape: FDivergence(tau, _ref(rng, shape, zeros=True), **F_CUBIC),
}


@st.composite
def instances(draw):
    """(q, seed): q of shape (S, A) or (B, S, A), scale and ties drawn by hypothesis."""
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    batched = draw(st.booleans())
    S, A = draw(st.integers(1, 4)), draw(st.integers(1, A_MAX))
    shape = (draw(st.integers(1, 3)), S, A) if batched else (S, A)
    scale = draw(st.sampled_from([0.1, 1.0, 10.0]))
    if draw(st.booleans()):  # tied integer values on purpose
        q = rng.integers(-2, 3, shape).astype(float)
    else:
        q = rng.normal(0.0, scale, shape)
    tau = draw(st.sampled_from([0.05, 0.5, 1.0, 5.0]))
    return q, tau, rng


def _dot(p, q):
    return np.einsum("...a,...a->...", p, q)


def _interior(rng, reg, shape):
    """Random points of the domain of Omega (zero where ref is zero, interior otherwise)."""
    p = rng.dirichlet(np.ones(shape[-1]), size=shape[:-1])
    ref = getattr(reg, "ref", None)
    if ref is not None:
        p = np.where(ref > 0, p, 0.0)
        p /= p.sum(axis=-1, keepdims=True)
    return p


@pytest.mark.parametrize("name", list(MEMBERS))
@settings(max_examples=25)
@given(inst=instances())
def test_fenchel_young(name, inst):
    q, tau, rng = inst
    reg = MEMBERS[name](tau, rng, q.shape)
    assert isinstance(reg, Regularizer)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        conj, pi = reg.max_omega(q)
        np.testing.assert_array_equal(conj, reg.conjugate(q))
        np.testing.assert_array_equal(pi, reg.greedy(q))
    scale = 1.0 + np.abs(q).max() + tau
    assert conj.shape == q.shape[:-1] and pi.shape == q.shape
    # greedy rows are distributions
    assert np.all(pi >= 0)
    np.testing.assert_allclose(pi.sum(axis=-1), 1.0, atol=1e-12)
    # Fenchel-Young equality at the maximizer
    np.testing.assert_allclose(conj, _dot(pi, q) - reg.value(pi), rtol=0, atol=1e-12 * scale)
    # Fenchel-Young inequality at random points (and at the one-hot argmax)
    for p in (_interior(rng, reg, q.shape), pi):
        assert np.all(conj >= _dot(p, q) - reg.value(p) - 1e-12 * scale)
    # Bregman divergence: >= 0, == 0 on the diagonal, and equal to the Fenchel-Young gap
    # conj(q) - <p, q> + value(p) when greedy(q) is interior (all Legendre members).
    p = _interior(rng, reg, q.shape)
    assert np.all(reg.bregman(p, pi) >= 0)
    np.testing.assert_allclose(reg.bregman(p, p), 0.0, atol=1e-12 * (1 + tau))
    np.testing.assert_allclose(reg.bregman(pi, pi), 0.0, atol=1e-12 * (1 + tau))
    if name in ("shannon", "kl", "kl_broadcast", "tsallis1", "logbarrier"):
        gap = conj - _dot(p, q) + reg.value(p)
        ok = np.all(pi > 1e-200, axis=-1)  # softmax entries may underflow to 0 (D = inf)
        np.testing.assert_allclose(reg.bregman(p, pi)[ok], gap[ok], rtol=1e-7,
                                   atol=1e-9 * scale)


@pytest.mark.parametrize("name", list(MEMBERS))
@settings(max_examples=15)
@given(inst=instances())
def test_greedy_is_gradient_of_conjugate(name, inst):
    q, tau, rng = inst
    reg = MEMBERS[name](tau, rng, q.shape)
    pi = reg.greedy(q)
    h = 1e-6 * (1.0 + tau)
    # conj is C^1 with a Lipschitz gradient (L ~ 1/tau / min ref), so the central
    # difference error is O(h / tau) away from the kinks of sparse members.
    for a in range(q.shape[-1]):
        e = np.zeros(q.shape[-1])
        e[a] = h
        fd = (reg.conjugate(q + e) - reg.conjugate(q - e)) / (2 * h)
        np.testing.assert_allclose(fd, pi[..., a], atol=2e-4 * (1 + 1 / tau))


def test_shannon_extreme_temperature_no_warnings():
    # tau = 1e-6 with logits up to 1e6: q/tau = 1e12 would overflow a naive exp.
    reg = Shannon(1e-6)
    q = np.array([[1e6, -1e6, 0.0, 1e6 - 1.0], [-3.0, 5e5, 5e5 - 1e-3, 1e6 * -1]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        conj, pi = reg.max_omega(q)
        val = reg.value(pi)
    assert np.all(np.isfinite(conj)) and np.all(np.isfinite(pi)) and np.all(np.isfinite(val))
    np.testing.assert_array_equal(pi, [[1, 0, 0, 0], [0, 1, 0, 0]])
    # max <= conj <= max + tau log A
    assert np.all(conj >= q.max(axis=-1))
    assert np.all(conj <= q.max(axis=-1) + 1e-6 * np.log(4) + 1e-9)
    # ties split evenly: conj = m + tau log 2
    conj2, pi2 = reg.max_omega(np.array([1e6, 1e6, -1e6]))
    np.testing.assert_allclose(pi2, [0.5, 0.5, 0.0])
    assert conj2 - 1e6 == pytest.approx(1e-6 * np.log(2), rel=1e-3)


@pytest.mark.parametrize("reg", [Tsallis(1e-6, 2.0), Tsallis(1e-6, 1.5), LogBarrier(1e-6),
                                 ChiSquared(1e-6, np.full(3, 1 / 3))])
def test_small_temperature_other_members(reg):
    q = np.array([1e6, -1e6, 1e6 - 1.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        conj, pi = reg.max_omega(q)
    assert np.isfinite(conj)
    np.testing.assert_allclose(pi, [1, 0, 0], atol=1e-5)


def test_tsallis2_is_sparsemax_known_example():
    # Tsallis q=2: Omega = ||pi||^2 - 1, so greedy(x) = argmin ||pi - x/(2 tau)||^2
    # = sparsemax(x / (2 tau)). With tau = 0.5, x = (1.0, 0.8, 0.1, -1):
    # z = x sorted, cumsums 1.0, 1.8, 1.9, 0.9; support test 1 + j z_j > cs_j:
    # j=1: 2.0 > 1.0, j=2: 2.6 > 1.8, j=3: 1.3 > 1.9 false, j=4: -3 > 0.9 false, so k = 2,
    # theta = (1.8 - 1)/2 = 0.4, pi = (0.6, 0.4, 0, 0).
    # conj = <pi, x> - tau(||pi||^2 - 1) = 0.92 - 0.5 (0.52 - 1) = 1.16.
    reg = Tsallis(0.5, 2.0)
    x = np.array([1.0, 0.8, 0.1, -1.0])
    conj, pi = reg.max_omega(x)
    np.testing.assert_allclose(pi, [0.6, 0.4, 0.0, 0.0], atol=1e-15)
    assert conj == pytest.approx(1.16, abs=1e-14)


@settings(max_examples=30)
@given(inst=instances())
def test_tsallis_bisection_matches_exact_sparsemax(inst):
    q, tau, _ = inst
    y = (q - q.max(axis=-1, keepdims=True)) / tau
    np.testing.assert_allclose(_tsallis_bisect(y, 2.0), Tsallis(tau, 2.0).greedy(q), atol=1e-12)


def test_tsallis_tends_to_shannon():
    rng = np.random.default_rng(0)
    q = rng.normal(0, 2, (5, 6))
    p = rng.dirichlet(np.ones(6), size=5)
    sh = Shannon(0.7)
    diffs = []
    for eps in [1e-1, 1e-2, 1e-3, 1e-4, 1e-5]:
        ts = Tsallis(0.7, 1 + eps)
        d = max(np.abs(ts.conjugate(q) - sh.conjugate(q)).max(),
                np.abs(ts.greedy(q) - sh.greedy(q)).max(),
                np.abs(ts.value(p) - sh.value(p)).max())
        diffs.append(d)
    assert all(b < 0.2 * a for a, b in zip(diffs, diffs[1:], strict=False)), diffs  # O(k - 1)
    assert diffs[-1] < 1e-4
    # inside the fallback band Tsallis is Shannon exactly
    np.testing.assert_array_equal(Tsallis(0.7, 1 + 5e-7).greedy(q), sh.greedy(q))


def test_kl_uniform_is_shifted_shannon():
    rng = np.random.default_rng(1)
    A = 5
    q = rng.normal(0, 3, (4, A))
    p = rng.dirichlet(np.ones(A), size=4)
    tau = 0.3
    kl, sh = KL(tau, np.full(A, 1 / A)), Shannon(tau)
    np.testing.assert_allclose(kl.conjugate(q), sh.conjugate(q) - tau * np.log(A), atol=1e-13)
    np.testing.assert_allclose(kl.value(p), sh.value(p) + tau * np.log(A), atol=1e-13)
    np.testing.assert_allclose(kl.greedy(q), sh.greedy(q), atol=1e-15)
    np.testing.assert_allclose(kl.bregman(p, p[::-1]), sh.bregman(p, p[::-1]), atol=1e-15)


def test_kl_zero_reference_actions_get_zero_probability():
    ref = np.array([[0.5, 0.0, 0.5], [0.0, 0.0, 1.0]])
    q = np.array([[0.0, 100.0, 0.0], [50.0, 50.0, -3.0]])
    conj, pi = KL(1.0, ref).max_omega(q)
    np.testing.assert_allclose(pi, [[0.5, 0.0, 0.5], [0.0, 0.0, 1.0]])
    np.testing.assert_allclose(conj, [0.0, -3.0])
    assert KL(1.0, ref).value(np.array([1 / 3, 1 / 3, 1 / 3]))[0] == np.inf


def test_chi2_closed_form_interior():
    # Interior solution: pi = ref (1 + (q - theta)/tau) with sum = 1 gives
    # theta = <ref, q>, so pi = ref + ref (q - <ref, q>)/tau. With ref uniform on 2 actions,
    # tau = 1, q = (0.2, 0): <ref, q> = 0.1, pi = (0.5 + 0.05, 0.5 - 0.05).
    reg = ChiSquared(1.0, np.array([0.5, 0.5]))
    np.testing.assert_allclose(reg.greedy(np.array([0.2, 0.0])), [0.55, 0.45], atol=1e-15)


def test_logbarrier_closed_form_two_actions():
    # A = 2, tau = 1, q = (1, 0): 1/(l - 1) + 1/l = 1 => l^2 - 3l + 1 = 0, l = (3 + sqrt 5)/2.
    lam = (3 + np.sqrt(5)) / 2
    pi = LogBarrier(1.0).greedy(np.array([1.0, 0.0]))
    np.testing.assert_allclose(pi, [1 / (lam - 1), 1 / lam], rtol=1e-14)


def test_logbarrier_warns_when_newton_fails(monkeypatch):
    import tabular_rl.regularizers as R

    monkeypatch.setattr(R, "_NEWTON_ITERS", 1)
    with pytest.warns(NumericalWarning, match="normalizer root not found"):
        LogBarrier(1.0).greedy(np.array([5.0, 0.0, -1.0, 0.3]))


@pytest.mark.parametrize("ctor, match", [
    (lambda: Shannon(0.0), r"tau must lie in \(0, inf\), got 0.0"),
    (lambda: Shannon(-1), r"tau must lie in \(0, inf\), got -1.0"),
    (lambda: Shannon(float("nan")), r"tau must lie in \(0, inf\), got nan"),
    (lambda: LogBarrier(float("inf")), r"tau must lie in \(0, inf\), got inf"),
    (lambda: Tsallis(1.0, 0.5), r"q_index must lie in \[1, inf\), got 0.5"),
    (lambda: KL(1.0, [0.5, 0.6]), r"ref sums to 1.1, not 1"),
    (lambda: KL(1.0, [[0.5, 0.5], [1.5, -0.5]]), r"ref\[1, 1\] = -0.5 is negative"),
    (lambda: ChiSquared(1.0, [0.5, np.nan]), r"ref\[1\] is nan, entries must be finite"),
    (lambda: ChiSquared(1.0, 0.5), r"ref must have 1 or 2 or .* dimensions"),
    (lambda: TsallisKL(1.0, [0.5, 0.5], 0.9), r"q_index must lie in \[1, inf\), got 0.9"),
    (lambda: TsallisKL(1.0, [0.2, 0.2], 2.0), r"ref sums to 0.4, not 1"),
])
def test_bad_arguments(ctor, match):
    with pytest.raises(ValueError, match=match):
        ctor()


def test_bad_types_and_shapes():
    with pytest.raises(TypeError, match="tau must be a real number, got str"):
        Shannon("1")
    with pytest.raises(ValueError, match=r"shape \(\.\.\., A\) with A >= 1"):
        Shannon(1.0).greedy(np.float64(1.0))


def test_members_are_frozen():
    reg = Shannon(1.0)
    with pytest.raises(AttributeError):
        reg.tau = 2.0
    assert Tsallis(1, 2) == Tsallis(1.0, 2.0)


@settings(max_examples=30)
@given(inst=instances(), zeros=st.booleans())
def test_fdivergence_reproduces_kl_and_chi2(inst, zeros):
    q, tau, rng = inst
    ref = _ref(rng, q.shape, zeros=zeros)
    p = _interior(rng, KL(tau, ref), q.shape)
    for closed, fdiv in [(KL(tau, ref), FDivergence(tau, ref, **F_KL)),
                         (ChiSquared(tau, ref), FDivergence(tau, ref, **F_CHI2))]:
        c1, pi1 = closed.max_omega(q)
        c2, pi2 = fdiv.max_omega(q)
        scale = 1.0 + np.abs(q).max()
        np.testing.assert_allclose(pi2, pi1, atol=1e-9)
        np.testing.assert_allclose(c2, c1, atol=1e-10 * scale)
        np.testing.assert_allclose(fdiv.value(p), closed.value(p), rtol=1e-12, atol=1e-12)
        # Rows where pi1 has subnormal entries (softmax at underflow) carry fewer mantissa
        # bits, so the two formulas agree there only to ~1e-8; they are compared in
        # test_regression_kl_bregman_near_underflow_is_finite instead.
        normal = ~((pi1 > 0) & (pi1 < np.finfo(np.float64).tiny)).any(axis=-1)
        np.testing.assert_allclose(fdiv.bregman(p, pi1)[normal], closed.bregman(p, pi1)[normal],
                                   rtol=1e-9, atol=1e-12)


def test_fdivergence_warns_on_wrong_inverse():
    bad = dict(F_KL, f_prime_inv=lambda y: np.where(y > -1.0, 2.0, 0.0))  # mass 0 or 2
    with pytest.warns(NumericalWarning, match="check that f_prime_inv inverts f_prime"):
        FDivergence(1.0, np.full(3, 1 / 3), **bad).greedy(np.array([0.0, 0.0, 0.0]))


def test_fdivergence_rejects_non_callables():
    with pytest.raises(TypeError, match="f_prime must be callable, got float"):
        FDivergence(1.0, [0.5, 0.5], f=np.exp, f_prime=1.0, f_prime_inv=np.log)


@settings(max_examples=30)
@given(inst=instances(), k=st.sampled_from([1.5, 2.0, 3.0]))
def test_tsallis_kl_uniform_is_rescaled_tsallis(inst, k):
    # sum pi^k A^(k-1) - 1 = A^(k-1) (sum pi^k - 1) + A^(k-1) - 1, so with uniform ref
    # TsallisKL(tau) = Tsallis(tau A^(k-1)) + tau (A^(k-1) - 1)/(k - 1).
    q, tau, _ = inst
    A = q.shape[-1]
    tkl, ts = TsallisKL(tau, np.full(A, 1 / A), k), Tsallis(tau * A ** (k - 1), k)
    shift = tau * (A ** (k - 1) - 1) / (k - 1)
    scale = 1.0 + np.abs(q).max()
    np.testing.assert_allclose(tkl.greedy(q), ts.greedy(q), atol=1e-9)
    np.testing.assert_allclose(tkl.conjugate(q), ts.conjugate(q) - shift, atol=1e-10 * scale)


def test_tsallis_kl_tends_to_kl():
    rng = np.random.default_rng(3)
    q = rng.normal(0, 2, (4, 5))
    ref = rng.dirichlet(np.ones(5), size=4)
    kl = KL(0.4, ref)
    diffs = [np.abs(TsallisKL(0.4, ref, 1 + eps).greedy(q) - kl.greedy(q)).max()
             for eps in [1e-1, 1e-2, 1e-3, 1e-4]]
    # the gap is O(k - 1): each tenfold step of k - 1 shrinks it about tenfold
    assert all(b < 0.2 * a for a, b in zip(diffs, diffs[1:], strict=False)), diffs
    assert diffs[-1] < 1e-3
    np.testing.assert_array_equal(TsallisKL(0.4, ref, 1.0).greedy(q), kl.greedy(q))


def test_regression_kl_bregman_near_underflow_is_finite():
    """scipy's kl_div formed p/p2, which overflowed to inf for a subnormal softmax entry
    (tau = 0.05, logit gap 36): KL.bregman said inf where FDivergence's f-form, and the
    mathematics, give a finite value. Hypothesis found it comparing the two."""
    q = np.array([[33.22999517, 2.25786613, -3.52630794]])
    ref = np.full((1, 3), 1 / 3)
    pi = KL(0.05, ref).greedy(q)
    assert 0 < pi[0, 2] < 1e-300
    p = np.array([[0.2, 0.3, 0.5]])
    b_closed = KL(0.05, ref).bregman(p, pi)
    b_f = FDivergence(0.05, ref, **F_KL).bregman(p, pi)
    assert np.isfinite(b_closed).all()
    np.testing.assert_allclose(b_closed, b_f, rtol=1e-9)
    np.testing.assert_allclose(Shannon(0.05).bregman(p, pi), b_closed, rtol=1e-12)
