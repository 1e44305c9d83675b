"""``python -m matcher evaluate``: precision, recall and wrong-person disclosures of a results file."""

from __future__ import annotations

import argparse
from pathlib import Path

import pyarrow.parquet as pq

from matcher.reports.evaluation import evaluate, write_report


def add_parser(commands: argparse._SubParsersAction) -> None:
    ev = commands.add_parser("evaluate", help="precision, recall and wrong-person disclosures against truth")
    ev.add_argument("--results", type=Path, required=True)
    ev.add_argument("--truth", type=Path, required=True)
    ev.add_argument("--report", type=Path, default=Path("out/evaluation"), help="directory for report.md and PNG")


def run(args: argparse.Namespace) -> int:
    evaluate_file(args.results, args.truth, args.report)
    return 0


def evaluate_file(results: Path, truth: Path, report_dir: Path) -> None:
    evaluation = evaluate(pq.read_table(results), pq.read_table(truth))
    for line in evaluation.summary_lines():
        print(line)
    print("recall by corruption (members):")
    for kind, (n, recall) in evaluation.recall_by_corruption.items():
        print(f"  {kind:<40} {n:>7,} {recall:.4f}")
    print(f"report: {write_report(evaluation, report_dir)}")
