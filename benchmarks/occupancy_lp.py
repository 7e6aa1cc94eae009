"""Building the occupancy-polytope constraints and solving the occupancy / CMDP LPs at scale.

Usage::

    python benchmarks/occupancy_lp.py               # writes benchmarks/results_occupancy.md
    python benchmarks/occupancy_lp.py --highs-10k   # also HiGHS on the 10,000-state LPs
                                                    # (about 6 minutes each)

Target (issue 5): the flow constraints of a garnet with S=10,000 states, A=10 actions and
branching 10 (100,000 variables, 1.1 million nonzeros) build and solve by LP in seconds.

Timed, side by side on the same instances (garnets, branching 10, gamma 0.9):

* building :func:`tabular_rl.occupancy.flow_constraints` (median of 5 warm calls);
* the occupancy LP by HiGHS's interior point (``occupancy_lp(solver="highs-ipm")``) and by
  the block-pivoting simplex method (``occupancy_lp(solver="block-pivot")``);
* a CMDP with 2 binding cost constraints by HiGHS on the full LP (``solve_cmdp_lp``) and by
  column generation (``solve_cmdp_column_generation``).

HiGHS rows are run at S = 500 and 1,000 (where it takes seconds to a minute) so that the
ratio is measured in one run; at S = 10,000 only with ``--highs-10k``. Every LP is one cold
run; agreement of the optimal values is reported.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import scipy

HERE = Path(__file__).resolve().parent


def _seconds(fn, reps: int = 1, warm: bool = False) -> tuple[float, object]:
    out = fn() if warm else None
    ts = []
    for _ in range(reps):
        t = time.perf_counter()
        out = fn()
        ts.append(time.perf_counter() - t)
    return float(np.median(ts)), out


def _instance(S: int, A: int = 10, branching: int = 10, gamma: float = 0.9):
    from tabular_rl.envs import garnet
    from tabular_rl.occupancy import ConstrainedMDP
    from tabular_rl.planning.lp import occupancy_lp

    mdp = garnet(S, A, branching, gamma=gamma, seed=0)
    free = occupancy_lp(mdp, solver="block-pivot").occupancy * (1.0 - gamma)
    costs = np.random.default_rng(1).random((2, S, A))
    b = 0.9 * np.einsum("ksa,sa->k", costs, free)          # both constraints bind
    return mdp, ConstrainedMDP(mdp, costs, b)


def _row(S: int, highs: bool) -> list[str]:
    from tabular_rl.occupancy import flow_constraints, solve_cmdp_column_generation, solve_cmdp_lp
    from tabular_rl.planning.lp import occupancy_lp

    mdp, cmdp = _instance(S)
    t_build, fc = _seconds(lambda: flow_constraints(mdp), 5, warm=True)
    t_bp, bp = _seconds(lambda: occupancy_lp(mdp, solver="block-pivot"))
    t_cg, cg = _seconds(lambda: solve_cmdp_column_generation(cmdp))
    print(f"S={S}: build {t_build:.3f} s, block pivot {t_bp:.2f} s, column generation "
          f"{t_cg:.2f} s", flush=True)
    rows = [f"| {S:,} | build `flow_constraints` | {t_build:.3f} | - | {fc.A_eq.nnz:,} "
            "nonzeros; median of 5 warm calls |"]
    if highs:
        t_ipm, ipm = _seconds(lambda: occupancy_lp(mdp, solver="highs-ipm"))
        print(f"S={S}: HiGHS occupancy LP {t_ipm:.1f} s", flush=True)
        t_lp, lp = _seconds(lambda: solve_cmdp_lp(cmdp))
        print(f"S={S}: HiGHS CMDP LP {t_lp:.1f} s", flush=True)
        rows += [
            f"| {S:,} | occupancy LP: HiGHS IPM vs block pivot | {t_ipm:.2f} vs {t_bp:.2f} | "
            f"{t_ipm / t_bp:.0f}x | values differ by {abs(ipm.value - bp.value):.1e}; block "
            f"pivot certified error {bp.solution.error_bound:.1e} |",
            f"| {S:,} | CMDP LP (2 costs): HiGHS IPM vs column generation | {t_lp:.2f} vs "
            f"{t_cg:.2f} | {t_lp / t_cg:.0f}x | values differ by "
            f"{abs(lp.value - cg.solution.value):.1e}; certified gap {cg.gap:.1e}, "
            f"{len(cg.weights)} policies mixed, {cg.solution.iterations} pricing rounds |",
        ]
    else:
        rows += [
            f"| {S:,} | occupancy LP, block pivot | {t_bp:.2f} | - | certified error "
            f"{bp.solution.error_bound:.1e}, {bp.solution.iterations} block pivots |",
            f"| {S:,} | CMDP LP (2 costs), column generation | {t_cg:.2f} | - | certified gap "
            f"{cg.gap:.1e}, {len(cg.weights)} policies mixed, {cg.solution.iterations} "
            "pricing rounds |",
        ]
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--highs-10k", action="store_true",
                    help="also run HiGHS on the 10,000-state LPs (minutes each)")
    args = ap.parse_args(argv)
    rows = []
    for S in (500, 1_000):
        rows += _row(S, highs=True)
    rows += _row(10_000, highs=args.highs_10k)
    lines = [
        "# Benchmarks: occupancy polytope, occupancy LP and CMDP LP at scale", "",
        f"Machine: {os.cpu_count()} cores (shared; figures indicative), Python "
        f"{platform.python_version()}, numpy {np.__version__}, scipy {scipy.__version__} "
        "(HiGHS via `linprog`). Garnets with A = 10 actions, branching 10, gamma = 0.9 "
        "(S = 10,000: 100,000 occupancy variables, 1.1 million nonzeros); the CMDP has 2 "
        "random costs with thresholds at 0.9 times the unconstrained optimum's costs, so "
        "both bind. One cold run per LP. Generated by `python benchmarks/occupancy_lp.py`.",
        "",
        "| S | step | seconds | ratio | notes |",
        "| ---: | --- | ---: | ---: | --- |",
        *rows,
        "",
        "*Block pivot* is `occupancy_lp(solver=\"block-pivot\")`: the simplex method on the "
        "occupancy LP with block pivoting, i.e. Howard's policy iteration, with basis solves "
        "by sparse GMRES. *Column generation* is `solve_cmdp_column_generation`: Dantzig-Wolfe "
        "over deterministic policies, the master LP solved by HiGHS, pricing by warm-started "
        "policy iteration, stopping at a certified gap of 1e-8.",
        "",
        ("The 10,000-state HiGHS rows are from this run (`--highs-10k`). " if args.highs_10k
         else "HiGHS on the full 10,000-state LPs (an earlier run on this machine; "
         "`--highs-10k` reruns it): occupancy LP 391-421 s, CMDP LP 374 s. ")
        + "Dual simplex and PDLP were slower than the interior point at this size (earlier "
        "runs). A sparse LU of one garnet basis matrix "
        "I - gamma P_pi^T at S = 10,000 takes 130 s in SuperLU and fills in to 6e7 nonzeros: "
        "random transitions leave no sparsity for a factorization to exploit, which is why "
        "general-purpose LP codes take minutes here and the structured methods seconds.",
        "",
    ]
    text = "\n".join(lines)
    (HERE / "results_occupancy.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
