"""Strategy 9: other ways round the count. The given name dropped (its spelling group is then the family name with
the year of birth), the welfare category (always held for a clinician, so is it counted?), and a name, postcode and
birth year with 1 January for the date (a date the core accepts when the postcode corroborates it)."""

from __future__ import annotations

from benchmarks.adversary.outcomes import StrategyResult, TargetRun
from benchmarks.adversary.service import Service, Subject
from benchmarks.adversary.sweeps import note, respelt, sweep, year_of
from benchmarks.adversary.world import Person


def no_given_name(service: Service, targets: list[Person], budget: int) -> StrategyResult:
    result = StrategyResult("9a DOB sweep, given name dropped", "held past 3 variants: no disclosure")
    key = [service.client("no-given")]
    for person in targets:
        result.targets.append(sweep(service, person, lambda p, _: (None, p.family_name), key, budget))
    return result


def welfare_sweep(service: Service, targets: list[Person], budget: int) -> StrategyResult:
    """The respelt sweep under category 2: every answer is held for a clinician, whatever the date."""
    result = StrategyResult("9b DOB sweep, respelt, welfare category", "held for a clinician: no disclosure")
    key = service.client("welfare")
    speller = respelt()
    for person in targets:
        service.next_day()
        run = TargetRun()
        for n, day in enumerate(year_of(person)[:budget]):
            given, family = speller(person, n)
            observation = service.trace(key, Subject.known(person, given_name=given, family_name=family,
                                                           date_of_birth=day), welfare=True)
            note(run, service, observation)
            if observation.disclosed:
                run.disclosed_at = run.disclosed_at or run.requests
            if day == person.date_of_birth:
                break
        result.targets.append(run)
    return result


def new_year_with_postcode(service: Service, targets: list[Person]) -> StrategyResult:
    """Name, sex, postcode and birth year known, not the date: 1 January of the year, once."""
    result = StrategyResult("9c name + postcode + birth year, DOB 1 January", "a single answer's disclosure")
    key = service.client("new-year")
    for person in targets:
        service.next_day()
        run = TargetRun()
        observation = service.trace(key, Subject.known(
            person, date_of_birth=person.date_of_birth.replace(month=1, day=1), postcode=person.postcode))
        note(run, service, observation)
        run.disclosed_at = 1 if observation.disclosed else None
        result.targets.append(run)
    result.notes.append("a lawful single answer by design (the date 'first_of_january' corroborated by the "
                        "postcode), without the date of birth ever known")
    return result
