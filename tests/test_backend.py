"""Array-namespace selection: numpy by default, cupy only when asked or given cupy arrays."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from tabular_rl.backend import get_namespace, to_numpy


def test_numpy_by_default():
    assert get_namespace(np.zeros(3), [1.0]) is np
    assert get_namespace(backend="numpy") is np
    x = np.arange(3.0)
    assert to_numpy(x) is x


def test_unknown_backend_is_named():
    with pytest.raises(ValueError, match=r"backend must be one of \('numpy', 'cupy'\), got 'jax'"):
        get_namespace(backend="jax")


def test_import_does_not_pull_cupy_or_gymnasium():
    code = ("import sys, tabular_rl, tabular_rl.envs, tabular_rl.planning; "
            "print('cupy' in sys.modules, 'gymnasium' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_cupy_request_without_cupy_gives_install_hint():
    pytest.importorskip("numpy")
    try:
        import cupy  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match=r"pip install 'tabular_rl\[gpu\]'"):
            get_namespace(backend="cupy")
    else:  # pragma: no cover - GPU machines
        assert get_namespace(backend="cupy").__name__ == "cupy"
