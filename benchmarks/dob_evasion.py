"""Attack on the enumeration count: a DOB sweep whose wrong dates are not counted on the target's record.

The attacker knows a target's given and family name, year of birth and a postcode of theirs (current, or a previous
one), and sweeps every day and month of the year. Each request carries the year one digit off (the year-keyed
probe-only rules and family_metaphone+given_soundex+year then miss the target), the given name with its first letter
changed (family+given and family+given_initial+district miss), and the postcode. Only ``family+birthday`` (exact
family token or a compound part of it, day and month) reaches the target, and only for the right day and month;
the date then reads ``one_digit_wrong``, corroborated by the postcode, and the trace is matched.

Each request is run through ``Tracer.trace_many`` and ``Tracer.records_about``, and counted as
``api.access.probing`` counts it (record groups and spelling groups, limit 3 distinct variants a day).

    python -m benchmarks.dob_evasion --index /work/data/idx1m --population /work/data/pop1m.parquet --targets 100
"""

from __future__ import annotations

import argparse
import datetime as dt
import time
from collections import defaultdict
from dataclasses import dataclass

import numpy as np
import pyarrow.parquet as pq

from api.access.probing import _spelling_groups, _variant
from benchmarks.dob_search import traceable_targets
from matcher.contract.request import TraceRequest
from matcher.decision import Outcome
from matcher.index import Index
from matcher.protection.keys import load_master_key
from matcher.tracer import Tracer

LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
CONSONANTS = "BCDFGJKLMNPRSTVZ"
FILLERS = [a + b for a in CONSONANTS for b in CONSONANTS if a != b]  # distinct metaphones when appended


def wrong_year(year: int) -> int:
    """The year with its last digit one off (one_digit_wrong against the true year)."""
    return year + 1 if year % 10 != 9 else year - 1


def given_spellings(given: str) -> list[str]:
    return [letter + given[1:] for letter in LETTERS if letter != given[0]]


@dataclass
class Strategy:
    name: str
    family_filler: bool  # append -XY to the family name (a new name group per filler)
    postcode: str  # "current" or "previous"
    year: str = "wrong"  # "wrong": last digit one off; "right": the true year (control)
    prefix: bool = False  # XY-FAMILY: the swapped-names key then reads X, not the family's initial, as given initial


STRATEGIES = {
    "A1": Strategy("A1 wrong year, given initial changed, family exact, current postcode", False, "current"),
    "A2": Strategy("A2 wrong year, given initial changed, family + '-XY' filler, current postcode", True, "current"),
    "A3": Strategy("A3 as A2 with a previous postcode", True, "previous"),
    "A4": Strategy("A4 as A2 with the filler in front (XY-FAMILY)", True, "current", prefix=True),
    "A5": Strategy("A5 as A4 with a previous postcode", True, "previous", prefix=True),
    "C0": Strategy("C0 control: as A2 with the right year", True, "current", year="right"),
}


def spellings(target: dict, strategy: Strategy) -> list[tuple[str, str]]:
    givens = given_spellings(target["given_name"])
    if not strategy.family_filler:
        return [(target["family_name"], g) for g in givens]
    out, seen = [], set()
    for i, f in enumerate(FILLERS):
        if strategy.prefix and f[0] == target["given_name"][0]:
            continue
        family = f"{f}-{target['family_name']}" if strategy.prefix else f"{target['family_name']}-{f}"
        pair = (family, givens[i % len(givens)])
        group = tuple(
            _spelling_groups(TraceRequest(family_name=pair[0], given_name=pair[1], date_of_birth="2000-01-01"))
        )
        if group not in seen:  # fillers whose Metaphone collides would share a name group
            seen.add(group)
            out.append(pair)
    return out


def attack(tracer: Tracer, target: dict, row: int, strategy: Strategy, rng: np.random.Generator, limit: int):
    born: dt.date = target["date_of_birth"]
    if strategy.postcode == "current":
        postcode = target["postcode"]
    else:
        previous = [a["postcode"] for a in target["previous_addresses"] or [] if a["postcode"]]
        if not previous:
            return None
        postcode = previous[0]
    year = wrong_year(born.year) if strategy.year == "wrong" else born.year
    days = [dt.date(2000, 1, 1) + dt.timedelta(days=d) for d in range(366)]  # every day-month, 29 Feb included
    dates = []
    for d in days:
        try:
            dates.append(dt.date(year, d.month, d.day))
        except ValueError:
            continue
    right = next((d for d in dates if (d.month, d.day) == (born.month, born.day)), None)
    if right is None:
        return None  # 29 February into a year that has none
    order = rng.permutation(len(dates))
    names = spellings(target, strategy)
    requests = []
    for k, i in enumerate(order.tolist()):
        family, given = names[(k // limit) % len(names)]  # each spelling group takes `limit` dates
        requests.append(
            TraceRequest(family_name=family, given_name=given, date_of_birth=dates[i].isoformat(), postcode=postcode)
        )
    results = tracer.trace_many(requests)
    about = tracer.records_about(requests, results)
    groups: dict[str, set[str]] = defaultdict(set)
    held_before_right = 0
    over: set[str] = set()
    outcome = None
    counted = 0
    for request, result, rows in zip(requests, results, about, strict=True):
        keys = [f"record:{r}" for r in rows] + _spelling_groups(request)
        variant = _variant(request)
        held = False
        for key in keys:
            groups[key].add(variant)
            if len(groups[key]) > limit:
                held = True
                over.add(key.split(":")[0])
        is_right = request.date_of_birth == right.isoformat()
        if not is_right:
            counted += row in rows
        if is_right:
            matched = result.outcome is Outcome.MATCHED and result.record == row
            outcome = "disclosed" if matched and not held else ("held" if matched else result.outcome.value)
            break
        held_before_right += held
    position = k_right = [r.date_of_birth for r in requests].index(right.isoformat())
    return outcome, counted / max(position, 1), position, held_before_right, k_right, over


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--index", required=True)
    parser.add_argument("--population", required=True)
    parser.add_argument("--targets", type=int, default=100)
    parser.add_argument("--limit", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--strategies", default="A1,A2,A3,C0")
    args = parser.parse_args()

    tracer = Tracer(Index.load(args.index, load_master_key()).warm())
    population = pq.read_table(args.population)
    rng = np.random.default_rng(args.seed)
    targets = traceable_targets(tracer, population, args.targets, rng, with_postcode=True)
    print(f"{len(targets)} of {args.targets} targets traced from name, DOB and postcode")
    for code in args.strategies.split(","):
        strategy = STRATEGIES[code]
        started = time.perf_counter()
        runs = [attack(tracer, t, row, strategy, rng, args.limit) for t, row in targets]
        runs = [r for r in runs if r is not None]
        outcomes = defaultdict(int)
        for r in runs:
            outcomes[r[0]] += 1
        # A right date among the sweep's first `limit` requests is one of the lawful guesses, not a break.
        early = sum(1 for r in runs if r[0] == "disclosed" and r[2] < args.limit)
        counted = np.array([r[1] for r in runs])
        held = np.array([r[3] for r in runs])
        blame = defaultdict(int)
        for r in runs:
            if r[0] == "held":
                for g in r[5]:
                    blame[g] += 1
        print(f"{strategy.name}: {len(runs)} targets ({time.perf_counter() - started:.0f} s)")
        print(
            f"  right date answered: {dict(outcomes)}; disclosed {outcomes['disclosed'] / len(runs):.0%}; "
            f"held by groups {dict(blame)}"
        )
        print(
            f"  wrong dates before the right one counted on the target: mean {counted.mean():.1%}, "
            f"median {np.median(counted):.1%}; targets with 0% counted {int((counted == 0).sum())}; "
            f"requests held before the right date, mean {held.mean():.1f}"
        )
        print(f"  disclosed at one of the first {args.limit} requests (lawful guesses): {early}")


if __name__ == "__main__":
    main()
