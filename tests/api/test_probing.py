"""Enumeration: past a limit, an organisation's variants of a request about one record are held, not answered."""

from __future__ import annotations

import datetime as dt
import threading

import pyarrow.compute as pc
import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from api.access.probing import Landing, ProbeCounter
from api.audit.transparency import summarise
from api.settings import Settings
from api.storage.engine import make_engine
from api.storage.tables import probe_records, probe_variants
from tests.support.api import ApiHarness, trace_body


@pytest.fixture
def api(database_url, tracer, master_key):
    """The service with the default limit on variants."""
    harness = ApiHarness(database_url, tracer, master_key, probe_limit=Settings.probe_limit)
    yield harness
    harness.close()


def _client(api: ApiHarness, name: str, organisation: str) -> str:
    return api.add_client("requester", name=name, organisation=organisation)


def _born_on(body: dict, day: dt.date) -> dict:
    body["subject"]["date_of_birth"] = day.isoformat()
    return body


def _trace(api: ApiHarness, body: dict, key: str):
    api.clock.now += dt.timedelta(seconds=1)  # requests one after another, as a client sends them
    return api.trace(body, key)


def _statuses(api: ApiHarness, bodies: list[dict], key: str) -> list[str]:
    answers = [_trace(api, body, key) for body in bodies]
    assert {a.status_code for a in answers} == {200}, [a.text for a in answers]
    return [a.json()["status"] for a in answers]


def test_past_the_limit_every_variant_is_held_even_the_right_one(api, requester_key, people):
    person = people["ordinary"]
    born = person["date_of_birth"]
    # Searching for the date of birth: the same name, the day moved each time, then the right day.
    bodies = [_born_on(trace_body(person), born + dt.timedelta(days=d)) for d in (-40, 40, 80, 0)]
    first = _trace(api, bodies[0], requester_key).json()
    assert [first["status"], *_statuses(api, bodies[1:3], requester_key)] == ["not_found"] * 3

    held = _trace(api, bodies[3], requester_key)
    assert held.status_code == 200
    answer = held.json()
    assert answer["status"] == "pending_review" and answer["disclosure"] is None  # the right one, held
    entry = api.entries()[-1].draft
    assert (entry.trace_id, entry.outcome, entry.http_status) == (answer["trace_id"], "probe_suspected", 200)
    assert entry.concerns == first["trace_id"]  # the auditor is pointed at the start of the probe
    assert entry.fields_disclosed == ()
    [case] = api.components.service.reviews.pending()
    assert (case.trace_id, case.reason) == (answer["trace_id"], "enumeration")


def test_respellings_that_change_every_phonetic_code_are_counted_on_the_record_they_land_on(api, requester_key, people):
    person = people["ordinary"]
    given, family = person["given_name"], person["family_name"]
    respelt = [
        {"subject__given_name": "U" + given[1:]},  # the first letter of the given name changed
        {"subject__family_name": family + "-RNAS"},  # an appended part
        {"subject__given_name": given + "X", "subject__family_name": family[:-1] + "Q"},
        {},  # then as they are
    ]
    statuses = _statuses(api, [trace_body(person, **changes) for changes in respelt], requester_key)
    assert statuses[3] == "pending_review"
    assert statuses.count("pending_review") >= 1 and "traced" not in statuses[3:]


def _respelt(person: dict, spelling: int) -> dict:
    """The person's names spelt so that every phonetic code of one of them changes, a new way each time."""
    given, family = person["given_name"], person["family_name"]
    return [
        {"subject__given_name": "U" + given[1:]},
        {"subject__given_name": "Y" + given[1:]},
        {"subject__given_name": "I" + given[1:]},
        {"subject__given_name": "O" + given[1:]},
        {"subject__family_name": "W" + family[1:]},
    ][spelling]


def test_a_search_for_the_date_of_birth_with_a_new_spelling_for_every_date_is_held_at_the_right_date(
    api, requester_key, people
):
    # Name and year of birth only: with a wrong date and a respelt name the core finds nobody near the person,
    # though with the right date it matches them. Each wrong date counts on the person's record all the same.
    person, born = people["ordinary"], people["ordinary"]["date_of_birth"]

    def body(spelling: int, day: dt.date) -> dict:
        unlocated = trace_body(person, subject__postcode=None, subject__sex=None, **_respelt(person, spelling))
        return _born_on(unlocated, day)

    right = body(3, born)
    assert _statuses(api, [right], _client(api, "another", "ANOTHER")) == ["traced"]
    guesses = [day for day in (dt.date(born.year, month, 15) for month in (2, 5, 8, 11)) if day != born][:3]
    wrong = [body(spelling, day) for spelling, day in enumerate(guesses)]
    assert _statuses(api, wrong, requester_key) == ["not_found"] * 3
    assert _statuses(api, [right], requester_key) == ["pending_review"]


def test_a_sweep_of_days_with_the_year_a_digit_off_and_the_postcode_is_held_at_the_right_day(
    api, requester_key, population
):
    # The year one digit off keeps every year-keyed rule away from the person, a new filler before the family name
    # every date keeps each in a name group of its own; the right day and month, the postcode agreeing, matches.
    alive = population.filter(pc.is_null(population.column("date_of_death")))
    candidates = alive.filter(pc.invert(alive.column("restricted"))).slice(300, 200).to_pylist()
    other = _client(api, "another", "ANOTHER")

    def body(person: dict, filler: str, day: dt.date) -> dict:
        born = person["date_of_birth"]
        shifted = day.replace(year=born.year + (1 if born.year % 10 != 9 else -1))
        changes = {
            "subject__given_name": "U" + person["given_name"][1:],
            "subject__sex": None,
            "subject__family_name": f"{filler}-{person['family_name']}",
        }
        return _born_on(trace_body(person, **changes), shifted)

    people = [
        p
        for p in candidates
        if p["given_name"] and p["postcode"] and p["date_of_birth"].month != 2 and p["date_of_birth"].year < 2025
    ]
    attackable = [p for p in people if _statuses(api, [body(p, "QX", p["date_of_birth"])], other) == ["traced"]]
    assert len(attackable) >= 3
    for person in attackable[:3]:
        born = person["date_of_birth"]
        wrong = [born.replace(month=m, day=15) for m in (1, 3, 4, 5) if m != born.month][:3]
        fillers = ["BA", "DA", "GA"]  # each its own Metaphone, so its own name group
        assert (
            _statuses(api, [body(person, f, d) for f, d in zip(fillers, wrong, strict=True)], requester_key)
            == ["not_found"] * 3
        )
        assert _statuses(api, [body(person, "LA", born)], requester_key) == ["pending_review"]


def test_the_same_details_again_are_not_a_variant(api, requester_key, people):
    body = trace_body(people["ordinary"])
    assert _statuses(api, [body] * 6, requester_key) == ["traced"] * 6


def test_the_count_is_the_organisations_across_its_clients_and_restarts(api, database_url, tracer, master_key, people):
    person, born = people["ordinary"], people["ordinary"]["date_of_birth"]
    bodies = [_born_on(trace_body(person), born + dt.timedelta(days=d)) for d in (-50, 50, 100, 0)]
    one, two = _client(api, "ice-east", "HO-ICE"), _client(api, "ice-west", "HO-ICE")
    other = _client(api, "police", "MET")
    assert _statuses(api, bodies[:2], one) == ["not_found"] * 2
    assert _statuses(api, bodies[2:3], two) == ["not_found"]
    restarted = ApiHarness(database_url, tracer, master_key, probe_limit=Settings.probe_limit)
    try:
        restarted.clock.now = api.clock.now
        assert _statuses(restarted, bodies[3:], two) == ["pending_review"]  # another client, after a restart
        assert _statuses(restarted, bodies[3:], other) == ["traced"]  # another organisation's first
        restarted.clock.now += dt.timedelta(days=1, minutes=1)  # the window has passed
        assert _statuses(restarted, bodies[3:], one) == ["traced"]
    finally:
        restarted.close()


def test_a_search_for_someone_the_index_does_not_hold_is_held_too(api, requester_key, people):
    person = people["ordinary"]
    bodies = [
        _born_on(trace_body(person, subject__family_name="ZZYXQUOR"), dt.date(1971, 3, day)) for day in (1, 2, 3, 4)
    ]
    assert _statuses(api, bodies, requester_key) == ["not_found"] * 3 + ["pending_review"]


def test_requests_about_different_people_are_never_held_as_a_probe(api, requester_key, population):
    rows = population.slice(5_000, 80).to_pylist()
    _statuses(api, [trace_body(row) for row in rows], requester_key)
    assert not [e for e in api.entries() if e.draft.outcome == "probe_suspected"]


def test_the_published_summary_counts_probe_holds(api, requester_key, people):
    person, born = people["ordinary"], people["ordinary"]["date_of_birth"]
    for days in range(5):
        api.trace(_born_on(trace_body(person), born + dt.timedelta(days=100 * (days + 1))), requester_key)
    [row] = summarise(api.entries())
    assert (row.requests, row.probe_suspected, row.not_found, row.rejected) == (5, 2, 3, 0)


def test_the_state_holds_keyed_tokens_only(api, requester_key, people):
    person = people["ordinary"]
    for days in (1, 2, 3, 4):
        api.trace(_born_on(trace_body(person), person["date_of_birth"] + dt.timedelta(days=days)), requester_key)
    with api.components.engine.connect() as connection:
        rows = [*connection.execute(select(probe_variants)), *connection.execute(select(probe_records))]
    assert len(rows) > 4
    stored = repr(rows).upper()
    for value in (person["family_name"], person["given_name"], person["nhs_number"], str(person["date_of_birth"].year)):
        assert value.upper() not in stored


def test_a_count_that_cannot_be_kept_discloses_nothing(api, requester_key, people, monkeypatch):
    def fail(landings):
        raise OperationalError("count", {}, Exception("database gone"))

    monkeypatch.setattr(api.components.probes, "count", fail)
    response = api.trace(trace_body(people["ordinary"]), requester_key)
    assert response.status_code == 503 and "disclosure" not in response.json()


def test_counts_made_at_once_by_two_processes_are_made_one_after_the_other(database_url, api):
    """Eight requests about one record, each counted by its own engine (a process) at the same moment: exactly
    the ones past the limit are probes."""
    now = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
    barrier, probes, errors = threading.Barrier(8), [], []

    def count(i: int) -> None:
        engine = make_engine(database_url)
        try:
            counter = ProbeCounter(engine, 3, dt.timedelta(days=1), lambda: now)
            barrier.wait()
            landing = Landing("HO-ICE", f"00000000-0000-4000-8000-00000000000{i}", f"v{i}", ("r",))
            probes.extend(counter.count([landing]))
        except Exception as error:
            errors.append(error)
        finally:
            engine.dispose()

    threads = [threading.Thread(target=count, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert sum(p is not None for p in probes) == 5
