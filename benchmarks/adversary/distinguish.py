"""Strategies 4-9: the postcode for a known name and date of birth; telling members from non-members, restricted
people from ordinary people and from people the index does not hold; housemates of restricted people; the dead;
and other fields, the welfare category, a dropped given name, time, body size and headers.

A probe is a short fixed sequence of requests about one person, on a day of its own; its outcome is what the
attacker sees (the statuses in order, or a size or a time). Two groups' probes are compared by the total-variation
distance of their outcomes: the advantage of the best single test on that outcome.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable

import pyarrow as pa

from benchmarks.adversary.outcomes import StrategyResult, TargetRun, distance
from benchmarks.adversary.respell import respellings
from benchmarks.adversary.service import Observation, Service, Subject
from benchmarks.adversary.sweeps import note
from benchmarks.adversary.world import Person, World
from synthetic.profiles import PROFILES
from synthetic.requests import generate_requests

Probe = Callable[[Service, str, Person], list[Observation]]


def non_members(world: World, count: int, seed: int, kinds: frozenset[str] | None = None) -> list[Person]:
    """People the index does not hold, made by the project's generator (its non-members: independent people,
    twin-like siblings, same surname and date of birth, common-name namesakes), as sent without errors; only
    those of ``kinds`` if given.

    A restricted person is answered as if the index did not hold them, so their answers are to be compared with
    those an independent person's details get: a namesake's request (same name, same year) lands on the member
    it was modelled on, which tells that someone of that name and year is there, not that anyone is restricted.
    """
    made = generate_requests(world.population_path, count * 8, PROFILES["clean"], 1.0, seed=seed)
    kind_of = {r["request_id"]: r["non_member_kind"] for r in made.truth.to_pylist()}
    out = []
    for row in made.requests.to_pylist():
        if kinds is not None and kind_of[row["request_id"]] not in kinds:
            continue
        if row["given_name"] and row["family_name"] and row["sex"] in ("female", "male") and row["postcode"]:
            out.append(Person(
                "", row["given_name"], row["other_given_names"], row["family_name"], row["sex"],
                dt.date.fromisoformat(str(row["date_of_birth"])), row["postcode"], row["address_line_1"] or "",
            ))
    return out[:count]


def exact(service: Service, key: str, person: Person) -> list[Observation]:
    """The lawful single answer: name, sex and date of birth as known."""
    return [service.trace(key, Subject.known(person))]


def four_spellings(service: Service, key: str, person: Person) -> list[Observation]:
    """The right date of birth with four mild respellings, each in a spelling group of its own: only the record
    they all land on can count them, so a fourth hold says a record is there."""
    spellings = respellings(person.given_name, person.family_name, 5)[1:5]
    return [service.trace(key, Subject.known(person, given_name=g, family_name=f)) for g, f in spellings]


def new_year(service: Service, key: str, person: Person) -> list[Observation]:
    """Name, sex and birth year only: 1 January of the year (no date of birth known)."""
    return [service.trace(key, Subject.known(person, date_of_birth=person.date_of_birth.replace(month=1, day=1)))]


def welfare(service: Service, key: str, person: Person) -> list[Observation]:
    return [service.trace(key, Subject.known(person), welfare=True)]


PROBES: dict[str, Probe] = {
    "exact (lawful single answer)": exact,
    "4 respellings, right DOB": four_spellings,
    "1 January of the birth year": new_year,
    "welfare (category 2)": welfare,
}


def run_probes(service: Service, key: str, people: list[Person], probes: dict[str, Probe]) -> dict[str, list]:
    """Per probe, each person's outcome (the statuses in order), each probe on a day of its own."""
    out: dict[str, list] = {name: [] for name in probes}
    for person in people:
        for name, probe in probes.items():
            service.next_day()
            out[name].append(" > ".join(o.status for o in probe(service, key, person)))
    return out


def compare(result: StrategyResult, label: str, a: dict[str, list], b: dict[str, list]) -> None:
    for probe in a:
        result.distances[f"{label}: {probe}"] = distance(a[probe], b[probe])


def membership(service: Service, members: list[Person], absent: list[Person]) -> StrategyResult:
    result = StrategyResult("5 membership (members vs non-members)", "no more than the lawful single answer says")
    key = service.client("membership")
    compare(result, "member vs non-member", run_probes(service, key, members, PROBES),
            run_probes(service, key, absent, PROBES))
    return result


def restricted_status(
    service: Service, restricted: list[Person], ordinary: list[Person], absent: list[Person]
) -> StrategyResult:
    result = StrategyResult("6 restricted status", "a restricted person's answers are a non-member's")
    key = service.client("restricted")
    r, o, n = (run_probes(service, key, people, PROBES) for people in (restricted, ordinary, absent))
    compare(result, "restricted vs non-member", r, n)
    compare(result, "restricted vs ordinary", r, o)
    return result


def side_channels(world: World, floor_service: Service, restricted: list[Person], absent: list[Person]) -> dict:
    """The exact request about restricted people and non-members (both answered not_found) with the shipped
    25 ms floor: the answer's time (2 ms bins), body size and header names."""
    key = floor_service.client("timing")
    seen: dict[str, list[Observation]] = {"restricted": [], "absent": []}
    # Interleaved, so that neither group has the later register sequence numbers (the body's length) or the
    # warmer caches (the time).
    for pair in zip(restricted, absent, strict=False):
        for group, person in zip(("restricted", "absent"), pair, strict=True):
            floor_service.next_day()
            seen[group].append(exact(floor_service, key, person)[0])
    out = {}
    for name, view in (("time (2 ms bins)", lambda o: int(o.seconds * 1000) // 2 * 2),
                       ("body size", lambda o: o.body_size), ("header names", lambda o: ",".join(o.headers)),
                       ("status", lambda o: o.status)):
        out[f"restricted vs non-member: {name}"] = distance(
            [view(o) for o in seen["restricted"]], [view(o) for o in seen["absent"]]
        )
    times = {g: sorted(o.seconds * 1000 for o in seen[g]) for g in seen}
    out["median ms"] = {g: round(t[len(t) // 2], 2) if t else None for g, t in times.items()}
    return out


def address_sweep(service: Service, world: World, targets: list[Person], budget: int) -> StrategyResult:
    """Strategy 4: the name and date of birth known, the postcode not. The single answer without a postcode first;
    if that is not traced, postcode districts in order of their size, each with the known details."""
    result = StrategyResult("4 postcode sweep, name + DOB known", "a single answer's disclosure, nothing more")
    key = service.client("address")
    districts = [d for d, _ in Counter(p.split(" ")[0] for p in world.population.column("postcode").to_pylist()
                                       if p).most_common()]
    lawful = 0
    for person in targets:
        service.next_day()
        run = TargetRun()
        first = service.trace(key, Subject.known(person))
        note(run, service, first)
        if first.disclosed:
            run.disclosed_at, lawful = 1, lawful + 1
        else:
            for district in districts[: budget - 1]:
                observation = service.trace(key, Subject.known(person, postcode=f"{district} 1AA"))
                note(run, service, observation)
                if observation.disclosed:
                    run.disclosed_at = run.requests
                    break
                if district == person.postcode.split(" ")[0]:
                    break
        result.targets.append(run)
    result.notes.append(f"{lawful} of {len(targets)} disclosed by the first, lawful, single answer (name + DOB)")
    return result


def households_and_deceased(service: Service, housemates: list[Person], dead: list[Person],
                            restricted_addresses: set[tuple[str, str]]) -> list[StrategyResult]:
    out = []
    for name, people in (("7 housemates of restricted people", housemates), ("8 deceased", dead)):
        result = StrategyResult(name, "nothing disclosed")
        key = service.client(name.split()[1])
        leaks = 0
        for person in people:
            run = TargetRun()
            for probe in (exact, four_spellings, new_year):
                service.next_day()
                for observation in probe(service, key, person):
                    note(run, service, observation)
                    if observation.disclosed:
                        run.disclosed_at = run.disclosed_at or run.requests
                        leaks += (observation.address_line, observation.postcode) in restricted_addresses
            result.targets.append(run)
        result.notes.append(f"{leaks} answers disclosed a restricted person's address")
        out.append(result)
    return out


def restricted_addresses(population: pa.Table) -> set[tuple[str, str]]:
    rows = population.filter(population.column("restricted").fill_null(False)).to_pylist()
    return {(r["address_line_1"], r["postcode"]) for r in rows}
