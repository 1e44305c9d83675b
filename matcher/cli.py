"""``python -m matcher``: build an index, trace requests, evaluate results, explain one trace.

The commands and their output columns are a contract other tools read (see README).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from tqdm import tqdm

from matcher.evaluation import evaluate, write_report
from matcher.explain import explanation_text, waterfall_png
from matcher.index import Index, rotate_index
from matcher.keys import (
    DEFAULT_KEY_FILE,
    KEY_FILE_ENVIRONMENT_VARIABLE,
    KeyConfigurationError,
    MasterKey,
    load_master_key,
)
from matcher.payload import TamperedPayloadError
from matcher.request import REQUEST_FIELDS
from matcher.tracer import Tracer
from matcher.training import fit_model

TRACE_CHUNK = 5_000


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m matcher", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    build = commands.add_parser("build", help="build and train an index from a population Parquet file")
    build.add_argument("--population", type=Path, required=True)
    build.add_argument("--out", type=Path, required=True)
    build.add_argument(
        "--encoded",
        action="store_true",
        help="keep no plaintext name, date of birth, postcode or NHS number in the index (names as keyed Bloom "
        "filters compared by similarity, dates as keyed tokens)",
    )
    build.add_argument(
        "--training-requests",
        type=Path,
        help="unlabelled trace requests to estimate m by EM (default: 20,000 drawn from the population by the "
        "synthetic generator, typical profile, its truth discarded)",
    )

    trace = commands.add_parser("trace", help="trace a Parquet file of requests")
    trace.add_argument("--index", type=Path, required=True)
    trace.add_argument("--requests", type=Path, required=True)
    trace.add_argument("--out", type=Path, required=True)
    trace.add_argument(
        "--with-candidates", action="store_true", help="add candidate_nhs_numbers (lets evaluate measure blocking)"
    )
    trace.add_argument("--quiet", action="store_true")

    ev = commands.add_parser("evaluate", help="precision, recall and wrong-person disclosures against truth")
    ev.add_argument("--results", type=Path, required=True)
    ev.add_argument("--truth", type=Path, required=True)
    ev.add_argument("--report", type=Path, default=Path("out/evaluation"), help="directory for report.md and PNG")

    demo = commands.add_parser(
        "demo", help="generate a small synthetic index and requests, then build, trace, evaluate"
    )
    demo.add_argument("--records", type=int, default=50_000)
    demo.add_argument("--requests", type=int, default=5_000)
    demo.add_argument("--out", type=Path, default=Path("out/demo"))

    explain = commands.add_parser("explain", help="top candidates of one request, with each comparison's weight")
    explain.add_argument("--index", type=Path, required=True)
    explain.add_argument("--request", required=True, help="JSON object, or @file.json")
    explain.add_argument("--png", type=Path, help="write a waterfall chart of the best candidate here")

    keys = commands.add_parser("keys", help="create or rotate the deployment's master key").add_subparsers(
        dest="keys_command", required=True
    )
    init = keys.add_parser(
        "init", help=f"create a master key (default: ${KEY_FILE_ENVIRONMENT_VARIABLE} or {DEFAULT_KEY_FILE})"
    )
    init.add_argument("--out", type=Path)
    init.add_argument("--if-missing", action="store_true", help="do nothing if the key file already exists")
    rotate = keys.add_parser(
        "rotate",
        help="re-key an index: tokens recomputed from the builder's population, payloads sealed again, under "
        "the new key; the current key (from the environment) must open the index first",
    )
    rotate.add_argument("--index", type=Path, required=True)
    rotate.add_argument("--population", type=Path, required=True, help="the population the index was built from")
    rotate.add_argument("--new-key", type=Path, required=True, help="key file made by `keys init --out`")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        commands = {
            "build": _build,
            "trace": _trace,
            "evaluate": _evaluate,
            "explain": _explain,
            "demo": _demo,
            "keys": _keys,
        }
        return commands[args.command](args)
    except (FileNotFoundError, FileExistsError, ValueError, KeyConfigurationError, TamperedPayloadError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


def _build(args: argparse.Namespace) -> int:
    start = time.perf_counter()
    key = load_master_key()
    population = pq.read_table(args.population)
    index = Index.build(population, key, encoded=args.encoded)
    print(f"indexed {len(index):,} records in {time.perf_counter() - start:.1f} s")
    if args.training_requests:
        training = pq.read_table(args.training_requests)
    else:
        from synthetic.profiles import PROFILES
        from synthetic.requests import generate_requests

        training = generate_requests(args.population, 20_000, PROFILES["typical"], 0.3, seed=7_919).requests
    start = time.perf_counter()
    model = fit_model(index, training)
    print(
        f"trained on {training.num_rows:,} unlabelled requests in {time.perf_counter() - start:.1f} s; "
        f"prior share in index {model.in_index:.3f}"
    )
    index.with_model(model).save(args.out)
    print(f"wrote {args.out}")
    return 0


def _trace(args: argparse.Namespace) -> int:
    tracer = Tracer(Index.load(args.index, load_master_key()))
    requests = pq.read_table(args.requests)
    tables = []
    start = time.perf_counter()
    with tqdm(total=requests.num_rows, unit="req", desc="trace", disable=args.quiet) as bar:
        for offset in range(0, requests.num_rows, TRACE_CHUNK):
            chunk = requests.slice(offset, TRACE_CHUNK)
            tables.append(tracer.results_table(tracer.trace_batch(chunk), with_candidates=args.with_candidates))
            bar.update(chunk.num_rows)
    results = pa.concat_tables(tables) if tables else tracer.results_table(tracer.trace_batch(requests))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(results, args.out)
    elapsed = time.perf_counter() - start
    counts = results.group_by("outcome").aggregate([("request_id", "count")]).to_pylist()
    summary = ", ".join(f"{c['outcome']} {c['request_id_count']:,}" for c in counts)
    if not args.quiet:
        print(f"traced {requests.num_rows:,} requests in {elapsed:.1f} s: {summary}")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    evaluation = evaluate(pq.read_table(args.results), pq.read_table(args.truth))
    for line in evaluation.summary_lines():
        print(line)
    print("recall by corruption (members):")
    for kind, (n, recall) in evaluation.recall_by_corruption.items():
        print(f"  {kind:<40} {n:>7,} {recall:.4f}")
    report = write_report(evaluation, args.report)
    print(f"report: {report}")
    return 0


def _explain(args: argparse.Namespace) -> int:
    text = Path(args.request[1:]).read_text() if args.request.startswith("@") else args.request
    try:
        request = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"--request is not valid JSON: {error.msg} at position {error.pos}") from None
    if not isinstance(request, dict):
        raise ValueError("--request must be a JSON object")
    unknown = sorted(set(request) - set(REQUEST_FIELDS) - {"request_id"})
    if unknown:
        raise ValueError(f"unknown request fields {unknown}; expected some of {list(REQUEST_FIELDS)}")
    for required in ("family_name", "date_of_birth"):
        if not request.get(required):
            raise ValueError(f"--request needs {required}")
    tracer = Tracer(Index.load(args.index, load_master_key()))
    result = tracer.trace(request)
    print(explanation_text(result, tracer.model.prior_log2_odds))
    if args.png and result.explanation:
        print(f"waterfall: {waterfall_png(result.explanation[0], tracer.model.prior_log2_odds, args.png)}")
    return 0


def _demo(args: argparse.Namespace) -> int:
    from synthetic.population import write_population
    from synthetic.profiles import PROFILES
    from synthetic.requests import generate_requests, write_requests

    if args.records < 1_000 or args.requests < 1:
        raise ValueError("the demo needs at least 1,000 records and 1 request")
    out: Path = args.out
    population = out / "population.parquet"
    write_population(population, args.records, seed=1)
    request_set = generate_requests(population, args.requests, PROFILES["typical"], 0.3, seed=1)
    write_requests(request_set, out / "requests.parquet", out / "truth.parquet")
    print(f"generated {args.records:,} records and {args.requests:,} typical requests in {out}")
    _build(argparse.Namespace(population=population, out=out / "index", training_requests=None, encoded=False))
    _trace(
        argparse.Namespace(
            index=out / "index",
            requests=out / "requests.parquet",
            out=out / "results.parquet",
            with_candidates=True,
            quiet=True,
        )
    )
    _evaluate(argparse.Namespace(results=out / "results.parquet", truth=out / "truth.parquet", report=out / "report"))
    row = pq.read_table(population).slice(0, 1).to_pylist()[0]
    example = {
        "given_name": row["given_name"],
        "family_name": row["family_name"],
        "date_of_birth": row["date_of_birth"].isoformat(),
    }
    print(f"\nexplain one trace: python -m matcher explain --index {out / 'index'} --request '{json.dumps(example)}'")
    return 0


def _keys(args: argparse.Namespace) -> int:
    if args.keys_command == "init":
        path = (args.out or Path(os.environ.get(KEY_FILE_ENVIRONMENT_VARIABLE) or DEFAULT_KEY_FILE)).expanduser()
        if path.exists() and args.if_missing:
            print(f"master key {MasterKey.from_file(path).key_id} already at {path}")
            return 0
        key = MasterKey.generate()
        print(f"master key {key.key_id} written to {key.write(path)} (readable by you only; keep it out of git)")
        return 0
    old_key, new_key = load_master_key(), MasterKey.from_file(args.new_key)
    if new_key.key_id == old_key.key_id:
        raise ValueError("the new key is the current key: make a new one with `keys init --out`")
    start = time.perf_counter()
    old = Index.load(args.index, old_key)
    population = pq.read_table(args.population)
    rotated = rotate_index(old, population, new_key)
    rotated.save(args.index)
    print(
        f"re-keyed {len(rotated):,} records from key {old_key.key_id} to {new_key.key_id} in "
        f"{time.perf_counter() - start:.1f} s; point the service at the new key, then destroy the old one"
    )
    return 0
