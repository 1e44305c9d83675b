"""Enumeration: near-identical requests about one person are refused past a limit and flagged in the register."""

from __future__ import annotations

import datetime as dt
import pickle
import uuid

import pytest

from api.access.probing import ProbeDetector
from api.audit.transparency import summarise
from api.settings import Settings
from api.usecases.request import Subject
from tests.support.api import ApiHarness, trace_body


@pytest.fixture
def api(database_url, tracer, master_key):
    """The service with the default limit on near-identical requests."""
    harness = ApiHarness(database_url, tracer, master_key, probe_limit=Settings.probe_limit)
    yield harness
    harness.close()


def _born_on(body: dict, day: dt.date) -> dict:
    body["subject"]["date_of_birth"] = day.isoformat()
    return body


def test_a_fourth_near_identical_request_is_refused_untraced_and_flagged(api, requester_key, people, monkeypatch):
    person = people["ordinary"]
    born = person["date_of_birth"]
    # Probing for the date of birth: the same name, the day moved each time.
    bodies = [_born_on(trace_body(person), born + dt.timedelta(days=d)) for d in (-1, 1, 2, 0)]
    answers = [api.trace(body, requester_key) for body in bodies[:3]]
    assert [a.status_code for a in answers] == [200, 200, 200]

    traced = []
    monkeypatch.setattr(api.components.service.tracer, "trace_many", lambda *a, **k: traced.append(a) or [])
    refused = api.trace(bodies[3], requester_key)

    assert refused.status_code == 429 and not traced  # the one that would have found them is never traced
    assert refused.headers["content-type"] == "application/problem+json"
    assert 3500 <= int(refused.headers["retry-after"]) <= 3600  # until the first of the group leaves the hour
    problem = refused.json()
    assert "near-identical" in problem["detail"] and "disclosure" not in problem
    assert person["family_name"] not in refused.text and born.isoformat() not in refused.text
    entry = api.entries()[-1].draft
    assert (entry.trace_id, entry.outcome, entry.http_status) == (problem["trace_id"], "probe_suspected", 429)
    assert entry.concerns == answers[0].json()["trace_id"]  # the auditor is pointed at the start of the probe
    assert entry.subject_token and entry.category == 1 and entry.requesting_officer
    assert entry.fields_disclosed == ()


def test_spelling_variants_of_one_name_are_one_probe(api, requester_key, people):
    person = people["ordinary"]
    given = person["given_name"]
    variants = [given, given + "E", given[:-1] + given[-1] * 2, given + "H"]  # one Soundex code
    statuses = [api.trace(trace_body(person, subject__given_name=v, subject__family_name="Zzyxq"), requester_key)
                for v in variants]
    assert [s.status_code for s in statuses] == [200, 200, 200, 429]


def test_requests_about_different_people_are_never_flagged(api, requester_key, population):
    rows = population.slice(5_000, 60).to_pylist()
    statuses = {api.trace(trace_body(row), requester_key).status_code for row in rows}
    assert statuses == {200}
    assert not [e for e in api.entries() if e.draft.outcome == "probe_suspected"]


def test_the_limit_is_per_client_and_lapses_after_the_window(api, requester_key, people):
    body = trace_body(people["ordinary"])
    assert [api.trace(body, requester_key).status_code for _ in range(4)] == [200, 200, 200, 429]
    other = api.add_client("requester")
    assert api.trace(body, other).status_code == 200  # another client's requests are not this one's probe
    api.clock.now += dt.timedelta(minutes=61)
    assert api.trace(body, requester_key).status_code == 200


def test_the_published_summary_counts_suspected_probes(api, requester_key, people):
    body = trace_body(people["ordinary"])
    for _ in range(5):
        api.trace(body, requester_key)
    [row] = summarise(api.entries())
    assert (row.requests, row.probe_suspected, row.rejected) == (5, 2, 0)


@pytest.fixture
def detector(master_key):
    clock = [1_000.0]
    detector = ProbeDetector(master_key, limit=2, window=60.0, clock=lambda: clock[0])
    return detector, clock


def _id(name: str) -> str:
    """A trace id (the detector keeps them as UUIDs) that names the request in the test."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, name))


def _subject(given: str | None, family: str, born: str) -> Subject:
    return Subject(given_name=given, family_name=family, date_of_birth=dt.date.fromisoformat(born))


def test_the_detector_holds_keyed_hashes_and_forgets_them_after_the_window(detector):
    probes, clock = detector
    subject = _subject("Amara", "Okonkwo", "1990-04-12")
    assert probes.observe(1, subject, _id("t1")) is None
    assert probes.observe(1, subject, _id("t2")) is None
    probe = probes.observe(1, subject, _id("t3"))
    assert probe is not None and probe.first_trace_id == _id("t1") and probe.retry_after == 60.0
    held = pickle.dumps(probes._seen)
    assert b"OKONKWO" not in held.upper() and b"1990" not in held and b"O252" not in held
    clock[0] += 61  # past the window: the next observation sweeps everything out
    assert probes.observe(2, _subject(None, "Smith", "1950-01-01"), _id("t4")) is None
    assert probes.groups == 3  # the new request's own keys only (family and date; year; day and month)


def test_each_way_of_probing_shares_a_key_with_the_requests_before(detector):
    probes, _ = detector
    for trace_id in ("a", "b"):  # no given name: the family name with the year, and with the day and month
        assert probes.observe(1, _subject(None, "Okonkwo", "1990-04-12"), _id(trace_id)) is None
    # Then the same year, and the same day and month:
    assert probes.observe(1, _subject(None, "Okonkwo", "1990-07-01"), _id("c")).first_trace_id == _id("a")
    assert probes.observe(1, _subject(None, "Okonkwo", "1971-04-12"), _id("d")).first_trace_id == _id("a")
    # With a given name: the names, whatever the date; a respelt family name with the same date.
    assert probes.observe(2, _subject("Amara", "Okonqwo", "1990-04-12"), _id("e")) is None
    assert probes.observe(2, _subject("Amara", "Okonkwo", "1985-01-30"), _id("f")) is None
    assert probes.observe(2, _subject("Amara", "Okonkwo", "1962-11-02"), _id("g")).first_trace_id == _id("e")
    assert probes.observe(3, _subject("Amara", "Okonkwo", "1990-04-12"), _id("h")) is None
    assert probes.observe(3, _subject("Amarah", "Okonkwo", "1990-04-12"), _id("i")) is None
    # The given name and the date of birth, with another family name:
    assert probes.observe(3, _subject("Amarah", "Oakes", "1990-04-12"), _id("j")).first_trace_id == _id("h")
