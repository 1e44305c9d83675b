"""``python -m benchmarks.adversary --population 50000 --targets 20 --budget 1000``: every strategy of issue 16
against the real service in-process; a markdown table to stdout, the figures to out/adversary/."""

from __future__ import annotations

import argparse
from pathlib import Path

from benchmarks.adversary.run import Plan, run, table, write
from benchmarks.adversary.world import CACHE, build_world
from matcher.protection.keys import load_master_key


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--population", type=int, default=50_000)
    parser.add_argument("--targets", type=int, default=20)
    parser.add_argument("--budget", type=int, default=1_000)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--honest", type=int, default=2_000, help="honest requests generated (0: none)")
    parser.add_argument("--only", default="", help="comma-separated strategy numbers (and 'honest'); all if empty")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--scratch", type=Path, default=None, help="where the databases go (e.g. /dev/shm)")
    parser.add_argument("--out", type=Path, default=CACHE)
    args = parser.parse_args()
    only = frozenset(x.strip() for x in args.only.split(",") if x.strip())
    if not args.honest:
        only = only or frozenset("123456789")
        only -= {"honest"}
    world = build_world(args.population, load_master_key())
    report = run(world, Plan(args.targets, args.budget, args.clients, args.honest, args.seed, only), args.scratch)
    print(table(report))
    print(f"\nfigures: {write(report, args.out)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
