"""``scratchnet export`` and ``site``: asv's results as the comparison reports, and asv
publish's site made to work offline; the work is ``scratchnet.asv``'s."""
from __future__ import annotations

import sys

from .compare import _print_reports


def add_parsers(commands):
    """The export and site commands and their flags."""
    export = commands.add_parser(
        "export", help="turn asv's results into the comparison reports and their history",
        description="Read Airspeed Velocity's result files and write comparison_metrics.json/"
                    ".csv/.md and comparison_summary.png for one commit (the same columns as "
                    "`scratchnet compare`; what asv does not measure is empty, with a note), plus "
                    "comparison_history.csv/.png over every commit of the machine.")
    export.add_argument("--results", default=".asv/results",
                        help="asv's results directory (default: .asv/results)")
    export.add_argument("--commit", help="commit hash or prefix (default: the newest with results "
                        "among the commits of --branch)")
    export.add_argument("--machine", help="asv machine name (default: the only one; required "
                                          "when there are several)")
    export.add_argument("--branch", help="without --commit, report the newest commit of this "
                        "branch that has results (default: the first of asv.conf.json's branches, "
                        "as asv publish; without that file, the newest of all)")
    export.add_argument("--env", help="asv environment, by its name or any part of it no other "
                        "has (default: asv's built environment before an -E existing one)")
    export.add_argument("--out", default="benchmarks/comparison",
                        help="folder for the reports (default: benchmarks/comparison)")
    export.set_defaults(run=run_export)

    site = commands.add_parser(
        "site", help="make asv publish's history site work offline (asv-tachyon's UI; needs "
                     "asv-tachyon)",
        description="Install asv-tachyon's UI, which carries its own JavaScript, into the folder "
                    "asv publish wrote, and mark every benchmark lower-is-better for it. asv's "
                    "own page, which needs internet access, is kept as index.legacy.html.")
    site.add_argument("--html", default=".asv/html",
                      help="the folder asv publish wrote (default: .asv/html)")
    site.set_defaults(run=run_site)


def run_export(args, out=None):
    """Turn asv's results into the comparison reports and the history."""
    out = sys.stdout if out is None else out
    from ..asv.export import configured_branch, export

    from ..files import check_output_folder, written_together

    check_output_folder(args.out, "out")
    branch = args.branch if args.branch is not None else configured_branch()
    with written_together():  # the reports and the history: all new, or all as they were
        rows, paths = export(args.results, commit=args.commit, machine=args.machine, env=args.env,
                             out=args.out, branch=branch)
    print(f"asv results of commit {rows[0]['commit'][:8]} on machine {rows[0]['machine']}", file=out)
    _print_reports(rows, paths, out)
    from ..metrics import QUICK_NOTE
    if any(QUICK_NOTE in (row["notes"] or "") for row in rows):
        print(f"WARNING: {QUICK_NOTE}", file=out)
    return 0


def run_site(args, out=None):
    """asv-tachyon's offline UI over asv publish's folder."""
    out = sys.stdout if out is None else out
    import contextlib

    from ..asv.site import install_site

    with contextlib.redirect_stdout(out):
        marked = install_site(args.html)
    print(f"{marked} benchmarks marked lower-is-better; serve it on this machine only with:\n"
          f"  python -m http.server --bind 127.0.0.1 --directory {args.html} 8080", file=out)
    return 0
