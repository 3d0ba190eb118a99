"""The asv history as a site that works offline: asv-tachyon's UI over ``asv publish``'s data.

asv's own site loads jQuery, flot and bootstrap from public CDNs, so offline
or behind a firewall it shows only a "failed to load" banner. asv-tachyon
(the ``asv`` extra: ``pip install ".[asv]"`` in a checkout) is a UI for the same published data whose
wheel carries its JavaScript, CSS and fonts; ``install_site`` copies it into
the published folder (asv's page is kept as ``index.legacy.html``).

asv-tachyon reads a ``track_`` benchmark as higher-is-better unless the
benchmark says otherwise, and asv's discovery does not pass such a flag on.
Every figure of this suite is lower-is-better (the gate reads them so), so
``install_site`` marks each benchmark ``"less_is_better": true`` in the
published ``index.json``: the UI's compare, heatmap and regression views
then call a grown error rate or memory figure worse, as asv does. It also
lists asv's built environment first in every selector (see
``_built_environment_first``), so the site opens on graphs that exist.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from ..files import atomic_write_text


def _built_environment_first(index):
    """Put asv's built environment first, in the list of combinations and in every
    selector. asv-tachyon opens on the first combination, and asv sorts them: results of ``asv run -E
    existing`` (python = an interpreter's path, no package versions) would otherwise mix
    with the built environment's versions into a combination that has no graphs, and every
    panel would open empty. The built environment is the combination with the most values."""
    combos = [c for c in index.get("graph_param_list") or [] if isinstance(c, dict)]
    if not combos or not isinstance(index.get("params"), dict):
        return
    built = max(combos, key=lambda c: sum(value is not None for value in c.values()))
    index["graph_param_list"].remove(built)
    index["graph_param_list"].insert(0, built)  # the combination the site opens on
    for name, values in index["params"].items():
        if isinstance(values, list) and built.get(name) in values:
            values.remove(built[name])
            values.insert(0, built[name])


def install_site(html_dir=".asv/html"):
    """Install asv-tachyon's offline UI into ``html_dir`` (``asv publish``'s output) and mark
    every benchmark lower-is-better; return the number of benchmarks marked."""
    index_path = os.path.join(html_dir, "index.json")
    if not os.path.isfile(index_path):
        raise ValueError(f"{index_path} does not exist: run `asv publish` first (or pass the "
                         f"folder it wrote with --html)")
    try:
        from asv_tachyon import cli as tachyon
    except ImportError:
        raise ValueError("the offline site needs asv-tachyon: pip install \"asv-tachyon==0.5.8\" "
                         "(or, in scratchnet's checkout: pip install \".[asv]\")") from None
    try:
        with open(index_path, encoding="utf-8") as handle:
            index = json.load(handle)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{index_path} is corrupt or unreadable: {exc}") from None
    benchmarks = index.get("benchmarks") if isinstance(index, dict) else None
    if not isinstance(benchmarks, dict):
        raise ValueError(f"{index_path} is not asv's published index (no benchmarks table)")
    for meta in benchmarks.values():
        meta["less_is_better"] = True
    _built_environment_first(index)
    atomic_write_text(index_path, json.dumps(index))
    tachyon.cmd_install(Path(html_dir), backup=True)
    return len(benchmarks)
