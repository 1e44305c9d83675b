"""``python -m benchmarks.attacks --index DIR --population POP.parquet [--other-index DIR2 --other-population
POP2.parquet] [--view files|memory|unmasked] [--json OUT]``: attack an index without its key and print what came out."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from benchmarks.attacks.run import VIEWS, run_attacks


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.attacks", description=__doc__)
    parser.add_argument("--index", required=True, type=Path, help="the index directory attacked")
    parser.add_argument("--population", required=True, type=Path, help="its population: ground truth for scoring")
    parser.add_argument("--other-index", type=Path, help="a second index under the same master key, to link")
    parser.add_argument("--other-population", type=Path, help="the second index's population (default: the first)")
    parser.add_argument(
        "--view",
        choices=VIEWS,
        default="files",
        help="files: the thief's; memory: a dump of the loaded index without its keys; unmasked: the same with the "
        "records unmasked (the attacks' positive control). The environment's master key loads the memory views and "
        "puts the truth in the index's row order; no attack sees it",
    )
    parser.add_argument("--json", type=Path, help="also write the report as JSON here ('-' for stdout)")
    parser.add_argument("--notes", action="store_true", help="print what each attack could read")
    args = parser.parse_args(argv)
    report = run_attacks(args.index, args.population, args.other_index, args.other_population, view=args.view)
    print(report.table())
    if args.notes:
        for attack, notes in report.notes.items():
            for note in notes:
                print(f"  [{attack}] {note}")
        print("  seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in report.seconds.items()))
    if args.json is not None:
        text = json.dumps(report.to_json(), indent=1, default=str)
        if str(args.json) == "-":
            sys.stdout.write(text + "\n")
        else:
            args.json.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
