"""Array namespace selection: numpy by default, cupy when the inputs live on a GPU.

CuPy is imported only when asked for (``backend="cupy"``) or when an input array is
already a cupy array; importing :mod:`tabular_rl` never requires it.
"""

from __future__ import annotations

import sys
from types import ModuleType

import numpy as np

__all__ = ["get_namespace", "to_numpy"]

_VALID = ("numpy", "cupy")


def _is_cupy(x) -> bool:
    mod = type(x).__module__
    return mod.startswith("cupy") and "cupy" in sys.modules


def get_namespace(*arrays, backend: str | None = None) -> ModuleType:
    """Return the array module to compute with.

    Parameters
    ----------
    *arrays
        Inputs; if any is a cupy array, cupy is returned.
    backend : {"numpy", "cupy"}, optional
        Force a namespace. ``"cupy"`` raises ``ImportError`` with an install hint
        when cupy is missing.
    """
    if backend is not None:
        if backend not in _VALID:
            raise ValueError(f"backend must be one of {_VALID}, got {backend!r}")
        if backend == "cupy":
            try:
                import cupy
            except ImportError as e:  # pragma: no cover - depends on the machine
                raise ImportError("backend='cupy' needs cupy: pip install 'tabular_rl[gpu]'") from e
            return cupy
        return np
    if any(_is_cupy(a) for a in arrays):
        import cupy

        return cupy
    return np


def to_numpy(x) -> np.ndarray:
    """Bring an array to host memory as numpy (no copy for numpy input)."""
    if _is_cupy(x):
        return x.get()
    return np.asarray(x)
