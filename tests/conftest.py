"""Shared fixtures and hypothesis profiles.

``HYPOTHESIS_PROFILE=thorough`` runs many more random instances than the default profile
used in CI.
"""

from __future__ import annotations

import os

# pytest -n 2 on a 2-core machine: one BLAS / numba thread per worker process, or the
# workers' thread pools oversubscribe the cores (threaded OpenBLAS solves ran ~30x slower).
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ.setdefault("NUMBA_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from hypothesis import HealthCheck, settings  # noqa: E402

settings.register_profile(
    "default", max_examples=60, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile(
    "thorough", max_examples=1000, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


@pytest.fixture
def puterman_two_state():
    """Puterman (1994) Example 3.1.1 / §6.2.2: two states, gamma = 0.95.

    s1: a11 stays w.p. 1/2 or moves to s2 w.p. 1/2, reward 5; a12 moves to s2, reward 10.
    s2: a21 stays, reward -1 (a single action; we duplicate it as action 2).
    v*(s2) = -1/(1-0.95) = -20. At s1: a11 gives v = (5 + 0.95*0.5*(-20))/(1 - 0.475)
    = -4.5/0.525 = -8.5714...; a12 gives 10 + 0.95*(-20) = -9; so a11 is optimal
    and v*(s1) = -60/7 (Puterman Ex. 6.2.1 reports v*(s1) = -8.57, v*(s2) = -20).
    """
    from tabular_rl import FiniteMDP

    P = np.zeros((2, 2, 2))
    P[0, 0] = [0.5, 0.5]
    P[0, 1] = [0.0, 1.0]
    P[1, 0] = [0.0, 1.0]
    P[1, 1] = [0.0, 1.0]
    r = np.array([[5.0, 10.0], [-1.0, -1.0]])
    return FiniteMDP(P, r, gamma=0.95), np.array([-60.0 / 7.0, -20.0]), np.array([0, 0])
