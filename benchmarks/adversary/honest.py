"""The honest caseworker: the generator's typical requests (its errors and its non-members), at 1,000 a day from
one organisation; a request not traced is corrected up to three times (a respelling of a name each: a phonetic
variant, a typo, a nickname) and then, for someone the index holds, sent right. How often is it held as a probe?

A hold on one of a person's first ``limit`` requests is a false hold: it comes of other people's requests (a
common name, a shared neighbour). A hold on a later one is the defence working as designed: more variants about one
person in a day than the limit, which a reviewer then releases. The two are counted apart.

Other people's requests collide in proportion to how many requests a day there are per person in the index, so
the stream is sent as densely as 1,000 requests a day are on a million-person index (``per_day_at_scale``): on a
small world at 1,000 a day, a day's requests would touch one person in five, and every common name many times.
A national index of sixty million is sparser still."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field

from benchmarks.adversary.service import Service, Subject
from benchmarks.adversary.world import World
from benchmarks.probe_rates import interval
from synthetic import corruption as c
from synthetic.profiles import PROFILES
from synthetic.requests import generate_requests

_RESPELL = (c.phonetic_variant, c.keyboard_typo, c.nickname, c.delete_typo, c.transposition_typo)


@dataclass
class HonestResult:
    requests: int = 0
    streams: int = 0  # first requests (one person each)
    corrected_streams: int = 0  # of which followed by corrections
    enumeration_holds: int = 0
    beyond_limit_holds: int = 0  # of which on a person's request past the limit: by design
    other_holds: int = 0  # ambiguous, near-threshold: the policy's, not the defence's
    refused: int = 0
    right_ones: int = 0  # the member's details sent right after corrections
    right_ones_held: int = 0
    statuses: dict[str, int] = field(default_factory=dict)

    @property
    def false_holds(self) -> int:
        return self.enumeration_holds - self.beyond_limit_holds

    def summary(self) -> dict:
        low, high = interval(self.false_holds + self.refused, self.requests)
        return {
            **self.__dict__,
            "false_hold_or_refusal_rate": (self.false_holds + self.refused) / max(1, self.requests),
            "interval_95": [round(low, 5), round(high, 5)],
        }


REFERENCE_RATE, REFERENCE_INDEX = 1_000, 1_000_000  # requests a day, on an index of this many people


def per_day_at_scale(world: World) -> int:
    """The honest organisation's rate on this world: as dense as ``REFERENCE_RATE`` on ``REFERENCE_INDEX``."""
    return max(1, round(REFERENCE_RATE * world.population.num_rows / REFERENCE_INDEX))


def _subject(row: dict) -> Subject | None:
    try:
        born = dt.date.fromisoformat(str(row["date_of_birth"]))
    except ValueError:  # a corrupted date: refused as 422 before anything is counted
        return None
    if not row["family_name"] or born.year < 1900 or born > dt.date.today():
        return None
    return Subject(row["given_name"], row["family_name"], born, row["sex"] if row["sex"] in ("female", "male")
                   else None, row["postcode"], row["other_given_names"], row["address_line_1"])


def _respelt(subject: Subject, rnd: random.Random) -> Subject:
    """One correction: a name the caseworker tries another spelling of."""
    for _ in range(10):
        which = "given_name" if subject.given_name and rnd.random() < 0.5 else "family_name"
        value = rnd.choice(_RESPELL)(getattr(subject, which), rnd)
        if value and value != getattr(subject, which):
            return Subject(**{**subject.__dict__, which: value})
    return subject


def honest_stream(service: Service, world: World, count: int, seed: int = 21, limit: int = 3) -> HonestResult:
    made = generate_requests(world.population_path, count, PROFILES["typical"], 0.3, seed=seed)
    truth = {r["request_id"]: r["nhs_number"] for r in made.truth.to_pylist()}
    people = {r["nhs_number"]: r for r in world.population.to_pylist()} if truth else {}
    key, rnd, result = service.client("honest"), random.Random(seed), HonestResult()

    def send(subject: Subject, nth: int) -> str:
        """``nth``: which of this person's requests it is, from 1."""
        observation = service.trace(key, subject)
        result.requests += 1
        result.statuses[observation.status] = result.statuses.get(observation.status, 0) + 1
        if observation.status == "pending_review":
            if service.recorded_as(observation) == "probe_suspected":
                result.enumeration_holds += 1
                result.beyond_limit_holds += nth > limit
                return "probe"
            result.other_holds += 1
        elif observation.status == "refused" or observation.status.startswith("problem"):
            result.refused += 1
        return observation.status

    for row in made.requests.to_pylist():
        subject = _subject(row)
        if subject is None:
            continue
        result.streams += 1
        if send(subject, 1) == "traced":
            continue
        result.corrected_streams += 1
        tried, nth = subject, 1
        for _ in range(rnd.randint(1, 3)):
            tried, nth = _respelt(tried, rnd), nth + 1
            if send(tried, nth) == "traced":
                break
        else:
            person = people.get(truth[row["request_id"]])
            if person is not None:  # the caseworker finds the right details
                result.right_ones += 1
                right = Subject(person["given_name"], person["family_name"], person["date_of_birth"],
                                person["sex"] if person["sex"] in ("female", "male") else None, person["postcode"])
                result.right_ones_held += send(right, nth + 1) == "probe"
    return result
