"""Does a response's time reveal its outcome? Trace requests one at a time over HTTP, timed by outcome.

    python benchmarks/api_timing.py --index data/idx1m --requests data/req1m_typical.parquet \\
        --truth data/truth1m_typical.parquet --population data/pop1m.parquet --count 4000

Starts the service (``api_load.serving``: uvicorn on loopback, a fresh database, a requester client whose rate
limit is far above this), then sends requests one at a time (no concurrency: a queue would add its own wait and
mask differences) over one keep-alive connection, in a random order interleaving these kinds, each subject sent
once:

* member: a synthetic request about a person in the index (the truth file says so), unrestricted;
* non_member: a request about nobody in the index (twin-like, same family name and date of birth, common name,
  independent): mostly not_found, sometimes held as near-threshold;
* restricted: a restricted record of the population, as it is: held for review (pending_review);
* near_threshold: a request whose best candidate scores just under the threshold, at or above the policy's
  review floor (made from the population and screened with the tracing core): held for review too;
* welfare_member, welfare_non_member: a welfare concern (category 2), held whatever the match;
* refused_member, refused_non_member: grounds the policy refuses (no attestation, or no serious-crime ground
  under mou-2018-05), never matched.

Each response's ``status``, wall time (request sent to body read) and body size are recorded; the first
``--warmup`` are left out. Reported per outcome and per kind and outcome: n, median, p90, p99, the body sizes
(which TLS would not hide either), the ratio of medians against traced, a bootstrap 95% interval for the
difference of medians, and the Mann-Whitney AUC: the probability that a response of one group takes longer than
one of the other (0.5: timing alone tells them apart no better than a coin; 1.0 or 0.0: always). The control pair
(refused_member against refused_non_member, both untraced) shows what noise alone gives. The held kinds matter
most: a requester sees pending_review whatever the reason, and restricted (the person is in the index) must not be
told apart from near-threshold (probably not).
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import platform
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from api_load import GROUNDS, serving, trace_body

WELFARE_GROUNDS = {**GROUNDS, "basis": {"category": 2, "welfare_description": "vulnerable adult missing from care"}}
REFUSED_GROUNDS = (
    {**GROUNDS, "investigation": {**GROUNDS["investigation"], "no_known_explanation": False}},  # NO_ATTESTATION
    {**GROUNDS, "basis": {"category": 1, "offence": "s24(1)(b)(i)"}},  # SERIOUS_CRIME_NOT_SHOWN (mou-2018-05)
)
# What each kind sends: the people it is about and the grounds given, in turn.
KINDS = {
    "member": ("members", (GROUNDS,)),
    "non_member": ("non_members", (GROUNDS,)),
    "restricted": ("restricted", (GROUNDS,)),
    "near_threshold": ("near_threshold", (GROUNDS,)),
    "welfare_member": ("members", (WELFARE_GROUNDS,)),
    "welfare_non_member": ("non_members", (WELFARE_GROUNDS,)),
    "refused_member": ("members", REFUSED_GROUNDS),
    "refused_non_member": ("non_members", REFUSED_GROUNDS),
}
# Pairs whose times should not differ if time reveals nothing the answer does not (groups: a status, or
# kind/status). The last is the control: neither is matched, so any difference is noise.
COMPARISONS = (
    ("not_found", "traced", "found or not (every kind)"),
    ("non_member/not_found", "member/traced", "found or not (immigration requests)"),
    ("pending_review", "traced", "held or traced"),
    ("refused", "traced", "refused or traced"),
    ("restricted/pending_review", "near_threshold/pending_review", "held as restricted or as near-threshold"),
    ("restricted/pending_review", "welfare_member/pending_review", "held as restricted or as welfare"),
    ("welfare_member/pending_review", "welfare_non_member/pending_review", "welfare: in the index or not"),
    ("refused_member/refused", "refused_non_member/refused", "control: refused, in the index or not"),
)

# A population row's fields that make a subject (api.cli.simulation.subject_of), and its identity.
SUBJECT_COLUMNS = ["nhs_number", "given_name", "other_given_names", "family_name", "date_of_birth", "sex",
                   "postcode", "address_line_1"]  # fmt: skip


@dataclass(frozen=True)
class Observation:
    kind: str
    status: str  # the answer's status, or "HTTP <code>"
    seconds: float
    size: int  # the response body's bytes: TLS hides the content, not the length


def subjects(requests: Path, truth: Path, population: Path, index: Path, near: int, seed: int) -> dict[str, list]:
    """The people to ask about, by pool: members (unrestricted) and non-members (request rows, as the generator
    corrupted them), restricted records (population rows, exact: a match is certain) and ``near`` requests that
    score just under the threshold (see ``near_threshold``)."""
    people = pq.read_table(population, columns=[*SUBJECT_COLUMNS, "restricted"])
    restricted = people.filter(people.column("restricted")).to_pylist()
    restricted_numbers = {person["nhs_number"] for person in restricted}
    rows = pq.read_table(requests).to_pylist()
    known = pq.read_table(truth, columns=["nhs_number", "non_member_kind"]).to_pylist()
    return {
        "members": [r for r, t in zip(rows, known, strict=True) if t["non_member_kind"] is None
                    and t["nhs_number"] not in restricted_numbers],
        "non_members": [r for r, t in zip(rows, known, strict=True) if t["non_member_kind"] is not None],
        "restricted": restricted,
        "near_threshold": near_threshold(index, people.filter(pc.invert(people.column("restricted"))), near, seed),
    }  # fmt: skip


def near_threshold(index: Path, people: pa.Table, count: int, seed: int) -> list[dict]:
    """Requests held as near-threshold: the request file has too few (about 0.2%), so they are made from
    unrestricted people (names, date of birth and sex as recorded, another person's postcode, no address:
    about a quarter score under the threshold but at or above the policy's review floor) and kept if the
    tracing core, run here on the same index and key as the service, says so. The service may still decide
    otherwise; the status it answers is what is counted."""
    import datetime as dt

    from api.cli.simulation import subject_of
    from api.policy.versions import PolicyBook
    from matcher.decision import Outcome
    from matcher.index import Index
    from matcher.protection.keys import load_master_key
    from matcher.tracer import Tracer

    rng = np.random.default_rng(seed)
    picks = rng.choice(len(people), size=(2, 6 * count), replace=False)
    postcodes = people.take(picks[1]).column("postcode").to_pylist()
    candidates = [
        {**row, "postcode": postcode, "address_line_1": None, "other_given_names": None}
        for row, postcode in zip(people.take(picks[0]).to_pylist(), postcodes, strict=True)
    ]
    # As the service makes a TraceRequest of a body: the subject's fields, the address as address_line_1.
    requests = [{**(s := subject_of(c)), "address_line_1": s.pop("address", None)} for c in candidates]
    results = Tracer(Index.load(index, load_master_key())).trace_many(requests)
    floor = PolicyBook.load().in_force(dt.date.today()).review_near_threshold or 1.0
    return [
        c for c, r in zip(candidates, results, strict=True) if r.outcome is Outcome.NO_MATCH and r.probability >= floor
    ]


def plan(pools: dict[str, list[dict]], count: int, seed: int) -> list[tuple[str, bytes]]:
    """``count`` requests, an equal share per kind, in random order; no subject is sent twice (the kinds sharing
    a pool take disjoint rows), so neither the enumeration detector nor a warm cache sees a repeat."""
    rng = np.random.default_rng(seed)
    share = math.ceil(count / len(KINDS))
    order = {name: iter(rng.permutation(len(rows)).tolist()) for name, rows in pools.items()}
    sequence = []
    for kind, (pool, grounds) in KINDS.items():
        bodies: list[bytes] = []
        for i in order[pool]:
            if len(bodies) == share:
                break
            if (body := trace_body(pools[pool][i], grounds[len(bodies) % len(grounds)])) is not None:
                bodies.append(body)
        if len(bodies) < share:
            raise ValueError(f"only {len(bodies)} usable subjects for {kind}; ask for fewer requests")
        sequence += [(kind, body) for body in bodies]
    return [sequence[i] for i in rng.permutation(len(sequence))]


def measure(url: str, key: str, sequence: list[tuple[str, bytes]]) -> list[Observation]:
    """Each request in turn on one keep-alive connection, timed from send to the whole body read."""
    import httpx

    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    out = []
    gc.disable()  # the client's own collection pauses would be charged to whichever response they fell in
    try:
        with httpx.Client(base_url=url, headers=headers, timeout=30.0) as http:
            for kind, body in sequence:
                start = time.perf_counter()
                response = http.post("/v1/traces", content=body)
                seconds = time.perf_counter() - start
                status = response.json()["status"] if response.status_code == 200 else f"HTTP {response.status_code}"
                out.append(Observation(kind, status, seconds, len(response.content)))
    finally:
        gc.enable()
    return out


def groups(observations: list[Observation], field: str = "seconds") -> dict[str, np.ndarray]:
    """One field of the observations (times in milliseconds) by status and by kind/status."""
    grouped: dict[str, list[float]] = defaultdict(list)
    for o in observations:
        value = o.seconds * 1000 if field == "seconds" else getattr(o, field)
        grouped[o.status].append(value)
        grouped[f"{o.kind}/{o.status}"].append(value)
    return {name: np.array(values) for name, values in grouped.items()}


def describe(ms: np.ndarray, sizes: np.ndarray) -> dict[str, float]:
    return {
        "n": len(ms),
        "median_ms": float(np.median(ms)),
        "p90_ms": float(np.percentile(ms, 90)),
        "p99_ms": float(np.percentile(ms, 99)),
        "bytes_min": int(sizes.min()),
        "bytes_max": int(sizes.max()),
    }


def compare(a: np.ndarray, b: np.ndarray, rng: np.random.Generator, resamples: int = 2000) -> dict[str, float]:
    """a against b: ratio and difference of medians with a bootstrap 95% interval, Mann-Whitney AUC and its
    two-sided p-value (normal approximation, no tie correction: times in ns rarely tie)."""

    def medians(x: np.ndarray) -> np.ndarray:
        return np.median(rng.choice(x, (resamples, len(x))), axis=1)

    low, high = np.percentile(medians(a) - medians(b), [2.5, 97.5])
    auc = _auc(a, b)
    n_a, n_b = len(a), len(b)
    z = (auc - 0.5) * n_a * n_b / math.sqrt(n_a * n_b * (n_a + n_b + 1) / 12)
    return {
        "ratio_of_medians": float(np.median(a) / np.median(b)),
        "median_diff_ms": float(np.median(a) - np.median(b)),
        "diff_ci95_ms": (float(low), float(high)),
        "auc": auc,
        "p_value": math.erfc(abs(z) / math.sqrt(2)),
    }


def _auc(a: np.ndarray, b: np.ndarray) -> float:
    """P(a random a > a random b) + half the ties: the Mann-Whitney U over len(a) * len(b), by sorting."""
    b = np.sort(b)
    below = np.searchsorted(b, a, side="left")
    ties = np.searchsorted(b, a, side="right") - below
    return float((below.sum() + 0.5 * ties.sum()) / (len(a) * len(b)))


def analyse(observations: list[Observation], seed: int = 0) -> dict:
    """Per group (status, kind/status) its description and, with enough of both, its comparison with traced;
    then the named comparisons."""
    rng = np.random.default_rng(seed)
    grouped, sizes = groups(observations), groups(observations, "size")
    traced = grouped.get("traced", np.array([]))
    table = {}
    for name in sorted(grouped, key=lambda n: ("/" in n, n)):
        row = describe(grouped[name], sizes[name])
        if name != "traced" and len(grouped[name]) >= 5 and len(traced) >= 5:
            row["vs_traced"] = compare(grouped[name], traced, rng)
        table[name] = row
    pairs = [
        {"a": a, "b": b, "question": question, **compare(grouped[a], grouped[b], rng)}
        for a, b, question in COMPARISONS
        if len(grouped.get(a, ())) >= 5 and len(grouped.get(b, ())) >= 5
    ]
    return {"groups": table, "comparisons": pairs}


def run(
    index: Path,
    requests: Path,
    truth: Path,
    population: Path,
    count: int = 4000,
    warmup: int = 100,
    seed: int = 1,
    database_url: str | None = None,
) -> dict:
    share = math.ceil((count + warmup) / len(KINDS))
    sequence = plan(subjects(requests, truth, population, index, share, seed), count + warmup, seed)
    with serving(index, database_url) as served:
        observations = measure(served.url, served.key, sequence)
    return {
        **analyse(observations[warmup:], seed),
        "requests": len(observations) - warmup,
        "register_entries": served.register_entries,
        "register_verified": served.register_verified,
        "server_errors": len(served.server_error_lines),
        "database": "PostgreSQL" if database_url else "SQLite",
    }


def report(result: dict) -> list[str]:
    lines = [
        "| group | n | median ms | p90 ms | p99 ms | median / traced | diff ms (95% CI) | AUC vs traced | bytes |",
        "|---|---:|---:|---:|---:|---:|---|---:|---:|",
    ]
    for name, row in result["groups"].items():
        versus = row.get("vs_traced")
        cells = ["", "", ""] if versus is None else _comparison_cells(versus)
        lines.append(
            f"| {name} | {row['n']} | {row['median_ms']:.2f} | {row['p90_ms']:.2f} | {row['p99_ms']:.2f} | "
            + " | ".join(cells)
            + f" | {row['bytes_min']}-{row['bytes_max']} |"
        )
    lines += [
        "",
        "| question | a | b | median a / b | diff ms (95% CI) | AUC | p |",
        "|---|---|---|---:|---|---:|---:|",
    ]
    for pair in result["comparisons"]:
        ratio, diff, auc = _comparison_cells(pair)
        lines.append(
            f"| {pair['question']} | {pair['a']} | {pair['b']} | {ratio} | {diff} | {auc} | {pair['p_value']:.2g} |"
        )
    return lines


def _comparison_cells(c: dict) -> list[str]:
    low, high = c["diff_ci95_ms"]
    return [f"{c['ratio_of_medians']:.2f}", f"{c['median_diff_ms']:+.2f} ({low:+.2f}, {high:+.2f})", f"{c['auc']:.2f}"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--requests", type=Path, required=True)
    parser.add_argument("--truth", type=Path, required=True, help="the request file's truth (who is a member)")
    parser.add_argument("--population", type=Path, required=True, help="the index's population (restricted records)")
    parser.add_argument("--count", type=int, default=4000, help="requests measured (default 4000)")
    parser.add_argument("--warmup", type=int, default=100, help="requests sent first and left out (default 100)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--database-url", help="PostgreSQL base URL; default a temporary SQLite file")
    parser.add_argument("--json", type=Path, help="also write the result here")
    args = parser.parse_args()
    result = run(
        args.index, args.requests, args.truth, args.population, args.count, args.warmup, args.seed, args.database_url
    )
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores; index: {args.index}; {result['database']}; "
          f"{result['requests']:,} requests one at a time")  # fmt: skip
    print("\n".join(report(result)))
    verified = "verified" if result["register_verified"] else "BROKEN"
    print(f"\nregister: {result['register_entries']:,} entries, {verified}; server errors: {result['server_errors']}")


if __name__ == "__main__":
    main()
