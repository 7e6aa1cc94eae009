"""Input validation shared by every constructor and every function that accepts a policy.

Messages speak of states, actions and time steps, and name the first offending index
and its value, e.g. ``P[3, 1, :] sums to 0.97, not 1 (tolerance 1e-09)``.
"""

from __future__ import annotations

import numbers

import numpy as np
import scipy.sparse as sp

#: Absolute tolerance on the sum of a probability row.
SIMPLEX_ATOL = 1e-9


def _fmt_index(idx: tuple[int, ...]) -> str:
    return ", ".join(str(int(i)) for i in idx)


def as_float_array(name: str, x, ndim: int | tuple[int, ...]) -> np.ndarray:
    """Return ``x`` as a float64 array of the given rank; raise ``TypeError``/``ValueError``."""
    if sp.issparse(x):
        raise TypeError(f"{name} must be a dense array here, got a scipy.sparse matrix")
    arr = np.asarray(x)
    if arr.dtype == object or not (
        np.issubdtype(arr.dtype, np.floating)
        or np.issubdtype(arr.dtype, np.integer)
        or np.issubdtype(arr.dtype, np.bool_)
    ):
        raise TypeError(f"{name} must have a real numeric dtype, got {arr.dtype}")
    ndims = (ndim,) if isinstance(ndim, int) else ndim
    if arr.ndim not in ndims:
        want = " or ".join(str(d) for d in ndims)
        raise ValueError(f"{name} must have {want} dimensions, got shape {arr.shape}")
    return np.array(arr, dtype=np.float64, order="C", copy=True)


def check_shape(name: str, arr: np.ndarray, shape: tuple[int, ...], meaning: str) -> None:
    if arr.shape != tuple(shape):
        raise ValueError(f"{name} must have shape {tuple(shape)} {meaning}, got {arr.shape}")


def check_finite(name: str, arr: np.ndarray) -> None:
    """Raise ``ValueError`` naming the first NaN or infinite entry."""
    bad = ~np.isfinite(arr)
    if bad.any():
        idx = np.unravel_index(int(np.argmax(bad)), arr.shape)
        raise ValueError(f"{name}[{_fmt_index(idx)}] is {arr[idx]}, entries must be finite")


def check_probability_rows(name: str, arr: np.ndarray, atol: float = SIMPLEX_ATOL) -> None:
    r"""Check that ``arr`` is finite, non-negative and sums to one along its last axis.

    Rows within ``atol`` of one are accepted; callers that own ``arr`` then renormalize it
    (:func:`normalize_rows`), since every certified bound assumes exactly stochastic rows
    (a row summing to :math:`1+\delta` makes :math:`T` a :math:`\gamma(1+\delta)`-contraction).
    """
    check_finite(name, arr)
    neg = arr < 0
    if neg.any():
        idx = np.unravel_index(int(np.argmax(neg)), arr.shape)
        raise ValueError(f"{name}[{_fmt_index(idx)}] = {arr[idx]:.6g} is negative")
    sums = arr.sum(axis=-1)
    off = np.abs(sums - 1.0) > atol
    if off.any():
        idx = np.unravel_index(int(np.argmax(off)), sums.shape)
        prefix = f"{name}[{_fmt_index(idx)}, :]" if idx else name
        raise ValueError(f"{prefix} sums to {sums[idx]:.12g}, not 1 (tolerance {atol:g})")


def check_csr_transition(name: str, P, n_states: int, n_actions: int | None,
                         atol: float = SIMPLEX_ATOL) -> sp.csr_matrix:
    """Validate a CSR transition matrix of shape ``(S*A, S)`` with rows ``s*A + a``.

    Returns a canonical CSR matrix (float64 data, int32/int64 indices, sorted, no duplicates).
    """
    if not sp.issparse(P):
        raise TypeError(f"{name} must be a scipy.sparse matrix")
    if P.format != "csr":
        raise TypeError(f"{name} must be in CSR format (row s*A + a), got {P.format.upper()}; "
                        f"convert with {name}.tocsr()")
    if P.ndim != 2 or P.shape[1] != n_states or (n_actions is not None
                                                  and P.shape[0] != n_states * n_actions):
        want = f"({n_states}*{n_actions}, {n_states})" if n_actions else f"(S*A, {n_states})"
        raise ValueError(f"{name} must have shape {want}, got {P.shape}")
    if not np.issubdtype(P.dtype, np.floating) and not np.issubdtype(P.dtype, np.integer):
        raise TypeError(f"{name} must have a real numeric dtype, got {P.dtype}")
    P = sp.csr_matrix(P, dtype=np.float64, copy=True)
    try:  # column indices in range, indptr monotone: the numba kernels do not bounds-check
        P.check_format(full_check=True)
    except ValueError as e:
        raise ValueError(f"{name} is not a well-formed CSR matrix: {e}") from e
    P.sum_duplicates()
    P.sort_indices()
    A = P.shape[0] // n_states
    data = P.data
    bad = ~np.isfinite(data)
    if bad.any():
        k = int(np.argmax(bad))
        row = int(np.searchsorted(P.indptr, k, side="right") - 1)
        raise ValueError(f"{name}[{row // A}, {row % A}, {P.indices[k]}] is {data[k]}, "
                         "entries must be finite")
    neg = data < 0
    if neg.any():
        k = int(np.argmax(neg))
        row = int(np.searchsorted(P.indptr, k, side="right") - 1)
        raise ValueError(f"{name}[{row // A}, {row % A}, {P.indices[k]}] = {data[k]:.6g} "
                         "is negative")
    row_of = np.repeat(np.arange(P.shape[0]), np.diff(P.indptr))
    sums = np.bincount(row_of, weights=data, minlength=P.shape[0])
    off = np.abs(sums - 1.0) > atol
    if off.any():
        row = int(np.argmax(off))
        raise ValueError(f"{name}[{row // A}, {row % A}, :] (CSR row {row}) sums to "
                         f"{sums[row]:.12g}, not 1 (tolerance {atol:g})")
    data /= sums[row_of]  # exactly stochastic up to rounding: the bounds assume it
    P.data.setflags(write=False)
    P.indices.setflags(write=False)
    P.indptr.setflags(write=False)
    return P


def check_real_scalar(name: str, x, lo: float, hi: float, *, lo_open=False, hi_open=True) -> float:
    if isinstance(x, bool) or not isinstance(x, numbers.Real | np.floating | np.integer):
        raise TypeError(f"{name} must be a real number, got {type(x).__name__}")
    x = float(x)
    lo_ok = x > lo if lo_open else x >= lo
    hi_ok = x < hi if hi_open else x <= hi
    if not (np.isfinite(x) and lo_ok and hi_ok):
        lb = "(" if lo_open else "["
        rb = ")" if hi_open else "]"
        raise ValueError(f"{name} must lie in {lb}{lo:g}, {hi:g}{rb}, got {x!r}")
    return x


def check_positive_int(name: str, x) -> int:
    if isinstance(x, bool) or not isinstance(x, numbers.Integral | np.integer):
        raise TypeError(f"{name} must be an integer, got {type(x).__name__}")
    if int(x) < 1:
        raise ValueError(f"{name} must be >= 1, got {int(x)}")
    return int(x)


def check_distribution(name: str, x, n: int, atol: float = SIMPLEX_ATOL) -> np.ndarray:
    arr = as_float_array(name, x, 1)
    check_shape(name, arr, (n,), "(one entry per state)")
    check_probability_rows(name, arr, atol)
    return readonly(normalize_rows(arr))


def check_policy(pi, n_states: int, n_actions: int, horizon: int | None = None,
                 name: str = "policy", atol: float = SIMPLEX_ATOL) -> np.ndarray:
    """Validate a stochastic policy ``(S, A)`` or, when ``horizon`` is given, ``(H, S, A)``.

    A ``(S, A)`` policy passed to an episodic model is broadcast to every step.
    """
    if horizon is None:
        arr = as_float_array(name, pi, 2)
        check_shape(name, arr, (n_states, n_actions), "(states, actions)")
    else:
        arr = as_float_array(name, pi, (2, 3))
        if arr.ndim == 2:
            check_shape(name, arr, (n_states, n_actions), "(states, actions)")
            arr = np.broadcast_to(arr, (horizon, n_states, n_actions))
        else:
            check_shape(name, arr, (horizon, n_states, n_actions), "(steps, states, actions)")
    check_probability_rows(name, arr, atol)
    return arr


def normalize_rows(arr: np.ndarray) -> np.ndarray:
    """Divide each last-axis row by its sum, in place (after :func:`check_probability_rows`)."""
    arr /= arr.sum(axis=-1, keepdims=True)
    return arr


def check_actions(actions, n_states: int, n_actions: int, horizon: int | None = None,
                  name: str = "policy") -> np.ndarray:
    """Validate a deterministic policy given as integer actions ``(S,)`` (or ``(H, S)``)."""
    arr = np.asarray(actions)
    shape = (n_states,) if horizon is None else (horizon, n_states)
    if arr.shape != shape:
        raise ValueError(f"{name} as an int array of actions must have shape {shape}, "
                         f"got {arr.shape}")
    bad = (arr < 0) | (arr >= n_actions)
    if bad.any():
        idx = np.unravel_index(int(np.argmax(bad)), arr.shape)
        raise ValueError(f"{name}[{_fmt_index(idx)}] = {arr[idx]} is not an action in "
                         f"0..{n_actions - 1}")
    return arr.astype(np.int64)


def is_action_array(pi) -> bool:
    """Whether ``pi`` is an integer array of actions rather than a probability table."""
    return np.issubdtype(np.asarray(pi).dtype, np.integer)


def one_hot(actions: np.ndarray, n_actions: int) -> np.ndarray:
    """Probability table ``(..., A)`` of a deterministic policy."""
    out = np.zeros(actions.shape + (n_actions,))
    np.put_along_axis(out, actions[..., None], 1.0, axis=-1)
    return out


def readonly(arr: np.ndarray) -> np.ndarray:
    arr.setflags(write=False)
    return arr
