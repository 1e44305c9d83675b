"""Self-check and benchmark runner for the peers.

    python -m benchmarks.peers._smoke                       # every peer on a 20k-record sample, one process each
    python -m benchmarks.peers._smoke --population-size 0   # the full population (1M in data/)
    python -m benchmarks.peers._smoke --peer splink --population-size 100000

Each peer runs in its own subprocess (so its peak memory is its own) and prints precision, recall (right-person
matches / member requests), wrong-person matches (a matched NHS number that differs from the truth's, truth
null included), the ambiguous rate, train and predict seconds and peak RSS. A sample takes the first N
population records, the requests (and training requests) whose person is among them and a share of the
non-member requests keeping the 30% non-member rate; the truth files select that sample only, they are never
shown to a peer.
"""

from __future__ import annotations

import argparse
import importlib
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq

from benchmarks.peers._common import dev_sample, evaluate

PEERS = {
    "mps": "benchmarks.peers.mps_baseline",
    "recordlinkage": "benchmarks.peers.recordlinkage_peer",
    "splink": "benchmarks.peers.splink_peer",
}
DATA = Path(__file__).resolve().parents[2] / "data"


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def run_one(peer: str, population_size: int, profile: str, data: Path, use_training: bool) -> dict:
    """Run one peer in this process and return its metrics."""
    started = time.perf_counter()
    population = pq.read_table(data / "pop1m.parquet")
    requests = pq.read_table(data / f"req1m_{profile}.parquet")
    truth = pq.read_table(data / f"truth1m_{profile}.parquet")
    training = pq.read_table(data / "train1m.parquet") if use_training else None
    if population_size and population_size < population.num_rows:
        population, requests, truth = dev_sample(population, requests, truth, population_size)
        if training is not None:
            # The training truth only decides which training requests exist in the smaller world.
            _, training, _ = dev_sample(
                pq.read_table(data / "pop1m.parquet"),
                training,
                pq.read_table(data / "train1m_truth.parquet"),
                population_size,
                seed=1,
            )
    rss_loaded = _rss_mb()
    module = importlib.import_module(PEERS[peer])
    run = module.trace(population, requests, training)
    metrics = evaluate(run.results, truth)
    metrics.update(
        peer=peer,
        population=population.num_rows,
        training_requests=training.num_rows if training is not None else 0,
        train_seconds=round(run.train_seconds, 2),
        predict_seconds=round(run.predict_seconds, 2),
        peak_rss_mb=round(_rss_mb(), 0),
        rss_after_loading_mb=round(rss_loaded, 0),
        wall_seconds=round(time.perf_counter() - started, 1),
        details={k: v for k, v in run.details.items() if isinstance(v, int | float | str | bool)},
    )
    if peer == "splink" and hasattr(module, "single_request_seconds"):
        ids = run.results.column("request_id").to_pylist()[:25]
        rows = [r for r in requests.to_pylist() if r["request_id"] in set(ids)]
        times = sorted(module.single_request_seconds(run.model, row) for row in rows)
        metrics["single_request_median_seconds"] = round(times[len(times) // 2], 4)
    return metrics


def _print_table(rows: list[dict]) -> None:
    cols = [
        ("peer", "{}"),
        ("population", "{:,}"),
        ("requests", "{:,}"),
        ("precision", "{:.4f}"),
        ("recall", "{:.4f}"),
        ("wrong_person", "{:,}"),
        ("ambiguous_rate", "{:.4f}"),
        ("train_seconds", "{:.1f}"),
        ("predict_seconds", "{:.1f}"),
        ("peak_rss_mb", "{:,.0f}"),
    ]
    print(" | ".join(name for name, _ in cols))
    for row in rows:
        print(" | ".join(fmt.format(row[name]) if name in row else "-" for name, fmt in cols))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--peer", choices=sorted(PEERS), action="append", help="peer(s) to run (default: all)")
    ap.add_argument("--population-size", type=int, default=20_000, help="first N records; 0 = all")
    ap.add_argument("--profile", default="typical", choices=["typical", "hard"])
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--no-training", action="store_true", help="do not pass train1m.parquet to the peers")
    ap.add_argument("--in-process", action="store_true", help="(internal) run one peer here, print JSON")
    ap.add_argument("--json-out", type=Path, help="append each peer's metrics as a JSON line to this file")
    args = ap.parse_args(argv)
    peers = args.peer or list(PEERS)

    if args.in_process:
        (peer,) = peers
        print(json.dumps(run_one(peer, args.population_size, args.profile, args.data, not args.no_training)))
        return 0

    rows = []
    for peer in peers:
        cmd = [
            sys.executable,
            "-m",
            "benchmarks.peers._smoke",
            "--in-process",
            "--peer",
            peer,
            "--population-size",
            str(args.population_size),
            "--profile",
            args.profile,
            "--data",
            str(args.data),
        ]
        if args.no_training:
            cmd.append("--no-training")
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            print(f"{peer} failed:\n{proc.stderr[-4000:]}", file=sys.stderr)
            continue
        row = json.loads(proc.stdout.strip().splitlines()[-1])
        rows.append(row)
        print(json.dumps(row), flush=True)
        if args.json_out:
            with args.json_out.open("a") as fh:
                fh.write(json.dumps(row) + "\n")
    _print_table(rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
