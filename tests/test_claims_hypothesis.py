"""The foundation claims as hypothesis properties: each check run on drawn instances.

The catalog runs the same checks on its seeded instances (``python -m proofs_check``);
here hypothesis draws the models (and shrinks any failure to a small one).
"""

from __future__ import annotations

import numpy as np
from _examples import examples
from hypothesis import given, settings
from hypothesis import strategies as st

from proofs_check._instances import Instance
from proofs_check.claims import foundation as F
from tabular_rl.testing.strategies import episodic_mdps, finite_mdps


def _inst(mdp, seed):
    return [Instance(mdp, np.random.default_rng(seed), f"hypothesis {mdp!r}")]


@settings(max_examples=examples(30))
@given(finite_mdps(max_states=12), st.integers(0, 2**16))
def test_contraction_property(mdp, seed):
    rep = F.check_contraction(instances=_inst(mdp, seed))
    assert rep.verdict == "pass", rep.details


@settings(max_examples=examples(30))
@given(st.one_of(finite_mdps(max_states=10), episodic_mdps()), st.integers(0, 2**16))
def test_performance_difference_property(mdp, seed):
    rep = F.check_performance_difference(instances=_inst(mdp, seed))
    assert rep.verdict == "pass", rep.details


@settings(max_examples=examples(20))
@given(finite_mdps(max_states=10, gamma=st.floats(0.0, 0.99)), st.integers(0, 2**16))
def test_vi_certified_bound_property(mdp, seed):
    rep = F.check_vi_certified_bound(instances=_inst(mdp, seed))
    assert rep.verdict == "pass", rep.details


@settings(max_examples=examples(20))
@given(finite_mdps(max_states=10, gamma=st.floats(0.0, 0.99)), st.integers(0, 2**16))
def test_dual_lp_property(mdp, seed):
    rep = F.check_dual_lp_occupancy(instances=_inst(mdp, seed))
    assert rep.verdict == "pass", rep.details
