"""Strategies 1-3: the date of birth swept through the target's birth year, with the name as known, with a
respelling in a fresh spelling group for every guess, and spread over clients and restarts.

The attacker knows the target's name, sex and year of birth. The sweep goes from 1 January on; it stops when the
right date has been sent (no later guess can be right), so a target not broken by then is not broken within the
budget. Broken: an answer discloses the address (a certain match: the date sent is the date of birth), or the first
answer other than not_found is at the right date (the attacker's rule: a date singled out by its answer).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from benchmarks.adversary.outcomes import StrategyResult, TargetRun
from benchmarks.adversary.respell import respellings
from benchmarks.adversary.service import Observation, Service, Subject
from benchmarks.adversary.world import Person

Speller = Callable[[Person, int], tuple[str, str]]  # the spelling (given, family) of the n-th guess


def year_of(person: Person) -> list[dt.date]:
    start = dt.date(person.date_of_birth.year, 1, 1)
    return [start + dt.timedelta(days=d) for d in range((dt.date(start.year + 1, 1, 1) - start).days)]


def as_known(person: Person, _: int) -> tuple[str, str]:
    return person.given_name, person.family_name


def respelt(per_spelling: int = 3) -> Speller:
    """A fresh spelling group every ``per_spelling`` guesses: the published limit is 3 variants per group, so
    a group never goes past it; the record is not counted while a wrong date keeps it out of the candidates."""
    cache: dict[str, list[tuple[str, str]]] = {}

    def spell(person: Person, n: int) -> tuple[str, str]:
        if person.nhs_number not in cache:
            cache[person.nhs_number] = respellings(person.given_name, person.family_name, 400 // per_spelling + 2)
        spellings = cache[person.nhs_number]
        return spellings[(n // per_spelling) % len(spellings)]

    return spell


def note(run: TargetRun, service: Service, observation: Observation) -> None:
    run.requests += 1
    run.statuses[observation.status] += 1
    if observation.status == "pending_review":
        run.holds += 1
        if service.recorded_as(observation) == "probe_suspected":
            run.enumeration_holds += 1


def sweep(
    service: Service,
    person: Person,
    speller: Speller,
    keys: list[str],
    budget: int,
    restart_every: int | None = None,
) -> TargetRun:
    """One target's date-of-birth sweep, on a day of its own; requests go round ``keys`` (clients of one
    organisation); the service is restarted every ``restart_every`` requests."""
    service.next_day()
    run, all_not_found = TargetRun(), True
    for n, day in enumerate(year_of(person)[:budget]):
        if restart_every and n and n % restart_every == 0:
            service.restart()
        given, family = speller(person, n)
        observation = service.trace(keys[n % len(keys)], Subject.known(person, given_name=given,
                                                                        family_name=family, date_of_birth=day))
        note(run, service, observation)
        right = day == person.date_of_birth
        if observation.disclosed and right and run.disclosed_at is None:
            run.disclosed_at = run.requests
        if all_not_found and observation.status != "not_found":
            all_not_found = False
            if right:
                run.singled_out_at = run.requests
        if right:
            break
    return run


def dob_sweeps(service: Service, targets: list[Person], budget: int, clients: int) -> list[StrategyResult]:
    one = [service.client("caseworker-1")]
    many = [service.client(f"regional-{i}") for i in range(clients)]
    plans = [
        ("1 DOB sweep, exact spelling", "held past 3 variants: no disclosure", as_known, one, None),
        ("2 DOB sweep, respelt per guess", "held past 3 variants: no disclosure", respelt(), one, None),
        (f"3a DOB sweep, exact, {clients} clients + restarts", "counted per organisation, kept in the database",
         as_known, many, 50),
        (f"3b DOB sweep, respelt, {clients} clients + restarts", "counted per organisation, kept in the database",
         respelt(), many, 50),
    ]
    results = []
    for name, claim, speller, keys, restart_every in plans:
        result = StrategyResult(name, claim)
        for person in targets:
            result.targets.append(sweep(service, person, speller, keys, budget, restart_every))
        results.append(result)
    return results
