"""Command line: ``python -m proofs_check list | run ID [ID ...] | run --all [--quick]
[--seed N] [--out DIR] [--scheduler ADDRESS]``.

``run`` prints one row per claim (id, verdict, the key measured figure next to the stated
one, seconds), then the details of every claim that did not pass, and writes
``summary.json`` (every report as JSON) and each claim's figures into ``--out`` (default
``paper_figures/``). Exit status: 0 when every
claim passed, 1 when any failed or errored, 2 for a usage error such as an unknown id.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from .registry import Claim, Report, all_claims

__all__ = ["format_table", "main"]


def _fmt(x) -> str:
    if isinstance(x, str):
        return x
    x = float(x)
    if x != 1 and abs(x - 1) < 1e-4:  # show how far a ratio is from 1
        return f"1 {'+' if x > 1 else '-'} {abs(x - 1):.2g}"
    if x == 0 or 1e-3 <= abs(x) < 1e4:
        return f"{x:.6g}"
    return f"{x:.3e}"


def format_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Left-aligned columns separated by two spaces, with a rule under the header."""
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows, strict=False)]

    def line(cells):
        return "  ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=False)).rstrip()

    return "\n".join([line(header), line(["-" * w for w in widths])] + [line(r) for r in rows])


def _key_figure(report: Report) -> str:
    if not report.measured:
        return "-"
    name = next(iter(report.measured))
    text = f"{name} = {_fmt(report.measured[name])}"
    if name in report.stated:
        text += f" (stated {_fmt(report.stated[name])})"
    return text


def _cmd_list(out) -> int:
    rows = [(c.id, c.kind, f"{c.paper.short}: {c.paper.title}") for c in all_claims()]
    print(format_table(("id", "kind", "paper"), rows), file=out)
    return 0


def _cmd_run(args, out, err) -> int:
    claims = {c.id: c for c in all_claims()}
    if args.all and args.ids:
        print("error: give claim ids or --all, not both", file=err)
        return 2
    if not args.all and not args.ids:
        print("error: give one or more claim ids, or --all; valid ids:\n  "
              + "\n  ".join(sorted(claims)), file=err)
        return 2
    unknown = [i for i in args.ids if i not in claims]
    if unknown:
        print(f"error: unknown claim id{'s' if len(unknown) > 1 else ''} "
              f"{', '.join(repr(u) for u in unknown)}; valid ids:\n  "
              + "\n  ".join(sorted(claims)), file=err)
        return 2
    selected: list[Claim] = list(claims.values()) if args.all else [claims[i] for i in args.ids]
    reports = []
    for claim in selected:
        report = claim.run(quick=args.quick, seed=args.seed, out_dir=args.out,
                           scheduler=args.scheduler)
        reports.append(report)
        print(f"  {claim.id}: {report.verdict} ({report.seconds:.1f} s)", file=err, flush=True)
    rows = [(r.claim_id, r.verdict.upper(), _key_figure(r), f"{r.seconds:.2f}") for r in reports]
    print(format_table(("id", "verdict", "key figure: measured (stated)", "seconds"), rows),
          file=out)
    for r in reports:
        if not r.passed:
            print(f"\n[{r.verdict.upper()}] {r.claim_id}", file=out)
            for k, v in r.measured.items():
                stated = f"   stated {_fmt(r.stated[k])}" if k in r.stated else ""
                print(f"    {k} = {_fmt(v)}{stated}", file=out)
            print("    " + r.details.replace("\n", "\n    "), file=out)
    n_pass = sum(r.passed for r in reports)
    print(f"\n{n_pass}/{len(reports)} claims passed"
          f"{' (quick)' if args.quick else ''}", file=out)
    if not args.no_summary:
        path = Path(args.out)
        path.mkdir(parents=True, exist_ok=True)
        summary = {"quick": bool(args.quick),
                   "seed": "default" if args.seed is None else args.seed,
                   "reports": [r.to_dict() for r in reports]}
        (path / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return 0 if n_pass == len(reports) else 1


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m proofs_check",
                                description="Run paper claims as checks.")
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="list the registered claims")
    run = sub.add_parser("run", help="run claims and print their verdicts")
    run.add_argument("ids", nargs="*", metavar="ID", help="claim ids (see `list`)")
    run.add_argument("--all", action="store_true", help="run every registered claim")
    run.add_argument("--quick", action="store_true", help="fewer and smaller instances")
    run.add_argument("--seed", type=int, default=None,
                     help="seed for every instance (default: each check's own, 0)")
    run.add_argument("--out", default="paper_figures",
                     help="directory for summary.json and figures (default: paper_figures)")
    run.add_argument("--no-summary", action="store_true", help="do not write summary.json")
    run.add_argument("--scheduler", default=None, metavar="ADDRESS",
                     help="dask.distributed scheduler address (e.g. tcp://host:8786) for the "
                          "sweeps of rate claims; default: run them in this process")
    return p


def main(argv: Sequence[str] | None = None, *, out=None, err=None) -> int:
    """Entry point; returns the exit status instead of exiting."""
    out = out or sys.stdout
    err = err or sys.stderr
    args = _parser().parse_args(argv)
    if args.command == "list":
        return _cmd_list(out)
    return _cmd_run(args, out, err)
