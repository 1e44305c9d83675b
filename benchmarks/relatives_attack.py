"""A requester's attack on the decision's relatives protections (red team round 3, issue 18): requests about a
twin or a same-named housemate, in each form the core now finds people by, counted for wrong-person matches.

    python benchmarks/relatives_attack.py --population data/pop200k.parquet --index data/idx200k --work data/relatives

Two worlds. *Both indexed*: requests about each member of every pair of twins (family name, address and date of
birth shared) and of same-named housemates (given and family name and address shared) in ``--index``, whose
population is ``--population``; a certain match to the other one is the wrong person. *One held out*: one of each
pair removed (seeded), an index built of the rest in ``--work``, and requests about the removed one; every certain
match is the wrong person, since the index does not hold them. Each request is the person's own details with one
thing changed: the given name an initial (with and without sex), no given name, an impossible date in the right
year, the day moved (year and month kept), the same birthday seven years on, no date, another family name.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from matcher.build import build_index
from matcher.contract.normalise import normalise_name, normalise_text, parse_postcode
from matcher.decision import CERTAIN
from matcher.index import Index
from matcher.protection.keys import load_master_key
from matcher.tracer import Tracer

VARIANTS = {
    "full": lambda p: {},
    "initial": lambda p: {"given_name": p["given_name"][0]},
    "initial, no sex": lambda p: {"given_name": p["given_name"][0], "sex": None},
    "no given name": lambda p: {"given_name": None},
    "impossible date": lambda p: {"date_of_birth": f"{p['date_of_birth'].year}-02-30"},
    "day moved": lambda p: {"date_of_birth": p["date_of_birth"].replace(day=(p["date_of_birth"].day + 13) % 28 + 1)},
    "birthday 7 years on": lambda p: {"date_of_birth": p["date_of_birth"].replace(year=p["date_of_birth"].year + 7)},
    "no date": lambda p: {"date_of_birth": None},
    "another family name": lambda p: {"family_name": "ZZQXWORTH"},
}


def request(person: dict, **changes) -> dict:
    fields = ("given_name", "family_name", "date_of_birth", "sex", "postcode", "address_line_1", "town")
    out = {f: person[f] for f in fields} | changes
    if out["date_of_birth"] is not None and not isinstance(out["date_of_birth"], str):
        out["date_of_birth"] = out["date_of_birth"].isoformat()
    return {k: v for k, v in out.items() if v is not None}


def pairs(people: list[dict]) -> dict[str, list[list[dict]]]:
    """Groups of two or more: twins, and same-named housemates (by normalised names and address)."""
    groups: dict[str, dict[tuple, list[dict]]] = {"twin": {}, "same_name": {}}
    for p in people:
        address = (normalise_text(p["address_line_1"]), getattr(parse_postcode(p["postcode"]), "text", None))
        if None in address or p["date_of_death"] is not None or p["restricted"]:
            continue
        family, given = normalise_name(p["family_name"]), normalise_name(p["given_name"])
        groups["twin"].setdefault((family, address, p["date_of_birth"]), []).append(p)
        groups["same_name"].setdefault((given, family, address), []).append(p)
    return {kind: [g for g in found.values() if len(g) > 1] for kind, found in groups.items()}


def count(tracer: Tracer, people: list[dict], truth: list[str | None]) -> dict[str, tuple[int, int, int]]:
    """Per variant: (requests, certain matches to someone else, held as ambiguous)."""
    out = {}
    for name, change in VARIANTS.items():
        results = tracer.trace_many([request(p, **change(p)) for p in people])
        rows = [r.record for r in results if r.outcome in CERTAIN]
        matched = iter(tracer.nhs_numbers(np.array(rows, dtype=np.int64)) if rows else [])
        wrong = sum(1 for r, t in zip(results, truth, strict=True) if r.outcome in CERTAIN and next(matched) != t)
        held = Counter(r.outcome.value for r in results)["ambiguous"]
        out[name] = (len(results), wrong, held)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--population", type=Path, required=True)
    parser.add_argument("--index", type=Path, required=True, help="the index of --population")
    parser.add_argument("--work", type=Path, required=True, help="where the held-out world's index is built")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    table = pq.read_table(args.population)
    people = table.to_pylist()
    groups = pairs(people)
    rng = np.random.default_rng(args.seed)
    removed: dict[str, list[dict]] = {"twin": [], "same_name": []}
    gone: set[str] = set()
    for kind, found in groups.items():
        for group in found:
            if not gone.intersection(p["nhs_number"] for p in group):
                person = group[int(rng.integers(len(group)))]
                removed[kind].append(person)
                gone.add(person["nhs_number"])
    args.work.mkdir(parents=True, exist_ok=True)
    kept = pa.array([p["nhs_number"] not in gone for p in people])
    pq.write_table(table.filter(kept), args.work / "population.parquet")
    build_index(args.work / "population.parquet", args.work / "index", report=lambda _: None)

    both = Tracer(Index.load(args.index, load_master_key()))
    held_out = Tracer(Index.load(args.work / "index", load_master_key()))
    print("| world | relative | variant | requests | wrong-person matches | held for review |")
    print("|---|---|---|---:|---:|---:|")
    for kind in ("twin", "same_name"):
        members = [p for group in groups[kind] for p in group]
        worlds = (
            ("both indexed", both, members, [p["nhs_number"] for p in members]),
            ("one held out", held_out, removed[kind], [None] * len(removed[kind])),
        )
        for world, tracer, asked, truth in worlds:
            for variant, (n, wrong, held) in count(tracer, asked, truth).items():
                print(f"| {world} | {kind} | {variant} | {n:,} | {wrong} | {held} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
