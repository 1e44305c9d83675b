"""The service of this tree against an older tree's, under the same load, alternately: the cost of a change.

    git worktree add /tmp/old-tree fd29c44          # the commit before issue 14's restructuring
    python benchmarks/ab_service.py --old-tree /tmp/old-tree --index data/idx1m --requests data/req1m_typical.parquet \\
        [--database-url postgresql+psycopg://postgres@127.0.0.1:5432/test] [--pairs 4]

Each run serves one tree (``python -m api serve`` with that tree first on PYTHONPATH, a fresh database, the
response floor off so that the figures are the service's work, not the floor's wait) under wrk: a 3 s warm-up,
then ``--duration`` seconds measured. Runs alternate old, new, new, old, ... Reported per run and as medians:
traces/s, p50, and the server process's CPU time per answered request (from /proc), which on a shared machine moves
less than throughput does. Every run's register must verify.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
from pathlib import Path

from api_load import request_bodies, serving
from load_clients import parse_wrk, wrk_command, wrk_script

HERE = Path(__file__).resolve().parents[1]


def cpu_seconds(pid: int) -> float:
    """User and system CPU time the process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(tree: Path, index: Path, bodies: list[bytes], database_url: str | None, duration: float) -> dict:
    os.environ["PYTHONPATH"] = str(tree)
    os.environ["TRACING_RESPONSE_FLOOR_MS"] = "0"
    with serving(index, database_url) as served, wrk_script(bodies, served.key) as script:
        url = f"{served.url}/v1/traces"
        subprocess.run(wrk_command(url, script, 8, 3), capture_output=True, check=True)
        before = cpu_seconds(served.pid)
        done = subprocess.run(wrk_command(url, script, 8, duration), capture_output=True, text=True, check=True)
        cpu = cpu_seconds(served.pid) - before
    run = parse_wrk(done.stdout)
    if not served.register_verified or served.server_error_lines:
        raise RuntimeError(f"{tree}: the register did not verify, or the server logged errors")
    return {
        "traces/s": run["requests"] / run["elapsed"],
        "p50 ms": run["p50_ms"],
        "server CPU ms per answer": 1000 * cpu / run["requests"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--old-tree", type=Path, required=True)
    parser.add_argument("--new-tree", type=Path, default=HERE)
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--requests", type=Path, required=True)
    parser.add_argument("--database-url", help="PostgreSQL base URL; default a temporary SQLite file")
    parser.add_argument("--pairs", type=int, default=4)
    parser.add_argument("--duration", type=float, default=20.0)
    args = parser.parse_args()
    bodies = request_bodies(args.requests, 20_000)
    trees = {"old": args.old_tree.resolve(), "new": args.new_tree.resolve()}
    results: dict[str, list[dict]] = {"old": [], "new": []}
    for pair in range(args.pairs):
        for side in ("old", "new") if pair % 2 == 0 else ("new", "old"):
            row = measure(trees[side], args.index, bodies, args.database_url, args.duration)
            results[side].append(row)
            print(side, {k: round(v, 2) for k, v in row.items()}, flush=True)
    for measure_name in results["old"][0]:
        old = statistics.median(r[measure_name] for r in results["old"])
        new = statistics.median(r[measure_name] for r in results["new"])
        print(f"{measure_name}: old median {old:.2f}, new median {new:.2f}, new/old {new / old:.3f}")


if __name__ == "__main__":
    main()
