"""The tracing core of this tree against an older tree's, in one process, on the same index and requests.

    git worktree add /tmp/old-tree fd29c44          # the commit before issue 14's restructuring
    python benchmarks/ab_core.py --old-tree /tmp/old-tree --index data/idx1m --requests data/req1m_typical.parquet

The old tree's ``matcher`` is copied and imported as ``matcher_old`` (its imports renamed), so both cores run in one
interpreter, round after round, alternating which goes first: against one index, or, when the format changed,
against ``--old-index`` built by the old tree from the same population (``--index`` then is the new tree's).
Reported per measure: each side's median over rounds and the median of the paired new/old ratios, which cancels
the drift of a shared machine better than runs in separate processes. Measures: single traces (1,000 requests one
at a time: median and p99 latency), and ``trace_many`` over the whole request file.
"""

from __future__ import annotations

import argparse
import importlib
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType

import numpy as np
import pyarrow.parquet as pq


def import_core(package: str) -> tuple[ModuleType, ModuleType, ModuleType]:
    """(index, keys, tracer) modules of a core, whichever layout it has."""
    index = importlib.import_module(f"{package}.index")
    tracer = importlib.import_module(f"{package}.tracer")
    try:
        keys = importlib.import_module(f"{package}.protection.keys")
    except ModuleNotFoundError:
        keys = importlib.import_module(f"{package}.keys")
    return index, keys, tracer


def copy_as(tree: Path, package: str, into: Path) -> None:
    shutil.copytree(tree / "matcher", into / package, ignore=shutil.ignore_patterns("__pycache__"))
    for path in (into / package).rglob("*.py"):
        text = path.read_text()
        path.write_text(re.sub(r"\bmatcher(?=[\. ])", package, text))


def measures(core: tuple[ModuleType, ModuleType, ModuleType], index_dir: Path, requests) -> dict:
    index, keys, tracer_module = core
    tracer = tracer_module.Tracer(index.Index.load(index_dir, keys.load_master_key()).warm())
    rows = requests.slice(0, 1_200).to_pylist()
    for row in rows[:200]:
        tracer.trace(row)

    def single() -> dict:
        seconds = []
        for row in rows[200:]:
            start = time.perf_counter()
            tracer.trace(row)
            seconds.append(time.perf_counter() - start)
        ms = np.asarray(seconds) * 1e3
        return {"single median ms": float(np.median(ms)), "single p99 ms": float(np.percentile(ms, 99))}

    def batch() -> dict:
        start = time.perf_counter()
        tracer.trace_batch(requests)
        return {"trace_many requests/s": requests.num_rows / (time.perf_counter() - start)}

    batch()
    return {"single": single, "batch": batch}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--old-tree", type=Path, required=True)
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--old-index", type=Path, help="the old tree's index, if its format differs")
    parser.add_argument("--requests", type=Path, required=True)
    parser.add_argument("--rounds", type=int, default=11)
    args = parser.parse_args()
    requests = pq.read_table(args.requests)
    with tempfile.TemporaryDirectory() as scratch:
        copy_as(args.old_tree, "matcher_old", Path(scratch))
        sys.path.insert(0, scratch)
        sides = {"old": measures(import_core("matcher_old"), args.old_index or args.index, requests)}
        sides["new"] = measures(import_core("matcher"), args.index, requests)
        for kind in ("single", "batch"):
            results: dict[str, list[dict]] = {"old": [], "new": []}
            for round_number in range(args.rounds):
                order = ("old", "new") if round_number % 2 == 0 else ("new", "old")
                for side in order:
                    results[side].append(sides[side][kind]())
            for measure in results["old"][0]:
                old = np.array([r[measure] for r in results["old"]])
                new = np.array([r[measure] for r in results["new"]])
                ratios = new / old
                print(
                    f"{measure:<24} old {np.median(old):10.3f}  new {np.median(new):10.3f}  "
                    f"new/old {np.median(ratios):.3f} (median of {args.rounds} paired rounds; "
                    f"quartiles {np.percentile(ratios, 25):.3f}-{np.percentile(ratios, 75):.3f})"
                )


if __name__ == "__main__":
    main()
