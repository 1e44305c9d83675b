"""Idempotent retries: the same X-Request-ID and body are answered once, traced once, counted once, recorded once."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import threading
import uuid

import pytest
from sqlalchemy import select

from api.access.retries import ReservationLost, Retry, RetryKeys, RetryStore
from api.audit.register import RegisterUnavailable
from api.http import examples
from api.settings import Settings
from api.storage.engine import make_engine
from api.storage.tables import probe_records, probe_variants, request_ids
from api.usecases.admission import TraceCall
from tests.support.api import ApiHarness, assert_problem, trace_body


@pytest.fixture
def api(database_url, tracer, master_key):
    """The service with the default limit on variants (3), so that a retry counted would be held."""
    harness = ApiHarness(database_url, tracer, master_key, probe_limit=Settings.probe_limit)
    yield harness
    harness.close()


def _send(api: ApiHarness, body: dict, key: str, request_id: str | None = None, **headers: str):
    api.clock.now += dt.timedelta(seconds=1)  # one after another, as a client sends them
    if request_id is not None:
        headers["X-Request-ID"] = request_id
    return api.http.post("/v1/traces", json=body, headers={"Authorization": f"Bearer {key}", **headers})


def _client(api: ApiHarness, name: str, organisation: str) -> str:
    return api.add_client("requester", name=name, organisation=organisation)


def _rows(api: ApiHarness, table) -> list:
    with api.components.engine.connect() as connection:
        return list(connection.execute(select(table)))


def test_a_retry_is_answered_the_same_and_recorded_once(api, requester_key, people):
    request_id = str(uuid.uuid4())
    first = _send(api, trace_body(people["ordinary"]), requester_key, request_id)
    assert first.status_code == 200 and first.json()["status"] == "traced" and first.json()["disclosure"]
    entries = len(api.entries())
    for _ in range(3):
        again = _send(api, trace_body(people["ordinary"]), requester_key, request_id.upper())  # either case
        assert again.status_code == 200
        assert again.json() == first.json()  # trace id, register sequence, status and disclosure alike
    assert len(api.entries()) == entries
    [entry] = [e for e in api.entries() if e.trace_id == first.json()["trace_id"]]
    assert entry.sequence == first.json()["register_sequence"]


def test_a_retry_re_serialised_by_its_client_is_the_same_request(api, requester_key, people):
    body, request_id = trace_body(people["ordinary"]), str(uuid.uuid4())
    first = _send(api, body, requester_key, request_id).json()
    reordered = json.dumps(dict(reversed(list(body.items()))), indent=2)
    again = api.http.post(
        "/v1/traces",
        content=reordered,
        headers={"Authorization": f"Bearer {requester_key}", "X-Request-ID": request_id,
                 "Content-Type": "application/json"},
    )
    assert again.json() == first


def test_a_held_answer_is_held_again_with_no_second_case(api, requester_key, people):
    body = trace_body(people["ordinary"], basis=examples.WELFARE_REQUEST["basis"])
    request_id = str(uuid.uuid4())
    first = _send(api, body, requester_key, request_id).json()
    assert first["status"] == "pending_review"
    again = _send(api, body, requester_key, request_id).json()
    assert again == first
    assert [c.trace_id for c in api.components.service.reviews.pending()] == [first["trace_id"]]
    assert len(api.entries()) == 1


def test_a_retry_is_not_counted_as_a_probe(api, requester_key, people, monkeypatch):
    """Three variants then a fourth (held); the first sent again with its id gets its answer, not a hold, and the
    enumeration count is not touched."""
    person, born = people["ordinary"], people["ordinary"]["date_of_birth"]
    bodies = [trace_body(person, subject__date_of_birth=(born + dt.timedelta(days=d)).isoformat()) for d in
              (-40, 40, 80, 0)]
    ids = [str(uuid.uuid4()) for _ in bodies]
    answers = [_send(api, body, requester_key, i).json() for body, i in zip(bodies, ids, strict=True)]
    assert [a["status"] for a in answers] == ["not_found"] * 3 + ["pending_review"]
    state = (_rows(api, probe_variants), _rows(api, probe_records))
    entries, cases = len(api.entries()), len(api.components.service.reviews.pending())
    counted = []
    monkeypatch.setattr(api.components.probes, "count", lambda landings: counted.append(landings) or [])

    assert _send(api, bodies[0], requester_key, ids[0]).json() == answers[0]  # not_found, as before: not held
    assert _send(api, bodies[3], requester_key, ids[3]).json() == answers[3]
    assert counted == []
    assert (_rows(api, probe_variants), _rows(api, probe_records)) == state
    assert (len(api.entries()), len(api.components.service.reviews.pending())) == (entries, cases)


def test_the_same_id_with_another_body_is_a_recorded_conflict(api, requester_key, people):
    request_id = str(uuid.uuid4())
    first = _send(api, trace_body(people["ordinary"]), requester_key, request_id).json()
    other = people["restricted"]
    response = _send(api, trace_body(other), requester_key, request_id)
    problem = assert_problem(response, 409)
    assert "Retry-After" not in response.headers
    text = response.text.upper()
    for value in (other["family_name"], other["given_name"], request_id.upper()):
        assert value.upper() not in text
    entry = api.entries()[-1].draft
    assert (entry.trace_id, entry.outcome, entry.http_status) == (problem["trace_id"], "retry_conflict", 409)
    assert (entry.subject_token, entry.requesting_officer, entry.fields_disclosed) == (None, None, ())
    # The first answer stands: sent again, it is still its answer.
    assert _send(api, trace_body(people["ordinary"]), requester_key, request_id).json() == first


def test_ids_are_a_clients_own(api, people):
    body, request_id = trace_body(people["ordinary"]), str(uuid.uuid4())
    keys = [_client(api, "ice-east", "HO-ICE"), _client(api, "ice-west", "HO-ICE"), _client(api, "police", "MET")]
    answers = [_send(api, body, key, request_id).json() for key in keys]
    assert [a["status"] for a in answers] == ["traced"] * 3
    assert len({a["trace_id"] for a in answers}) == 3  # each client's own request, recorded as such
    assert len(api.entries()) == 3
    # Another body under the same id from another client is that client's first use of it, not a conflict.
    moved = trace_body(people["ordinary"], investigation__reference="HO-2026-000001")
    assert _send(api, moved, _client(api, "ice-north", "HO-ICE"), request_id).status_code == 200


def test_an_id_is_kept_for_the_window_only(api, requester_key, people):
    body, request_id = trace_body(people["ordinary"]), str(uuid.uuid4())
    first = _send(api, body, requester_key, request_id).json()
    api.clock.now += dt.timedelta(minutes=Settings.retry_window_minutes - 1)
    assert _send(api, body, requester_key, request_id).json() == first
    api.clock.now += dt.timedelta(minutes=2)  # past a day from the first attempt
    later = _send(api, body, requester_key, request_id).json()
    assert later["status"] == "traced" and later["trace_id"] != first["trace_id"]
    assert len(api.entries()) == 2
    assert len(_rows(api, request_ids)) == 1  # the expired row went with it


@pytest.mark.parametrize(
    "sent",
    ["HARTLEY-1988-04-17", "{3f2b8c1e-7d4a-4e6b-9c2d-1a5e8f0b4c7d}", "3f2b8c1e7d4a4e6b9c2d1a5e8f0b4c7d", "x" * 300],
)
def test_a_malformed_id_is_a_recorded_422_that_does_not_repeat_it(api, requester_key, people, sent):
    response = _send(api, trace_body(people["ordinary"]), requester_key, sent)
    problem = assert_problem(response, 422)
    assert problem["errors"] == [{"field": "header.X-Request-ID", "message": problem["errors"][0]["message"]}]
    assert sent.upper() not in response.text.upper() and "HARTLEY" not in response.text.upper()
    [entry] = api.entries()
    assert (entry.draft.outcome, entry.draft.http_status, entry.trace_id) == ("invalid", 422, problem["trace_id"])
    assert _rows(api, request_ids) == []


def test_an_id_given_twice_is_a_422(api, requester_key, people):
    headers = [("Authorization", f"Bearer {requester_key}"), ("X-Request-ID", str(uuid.uuid4())),
               ("X-Request-ID", str(uuid.uuid4()))]
    response = api.http.post("/v1/traces", json=trace_body(people["ordinary"]), headers=headers)
    assert assert_problem(response, 422)["errors"][0]["field"] == "header.X-Request-ID"


def test_without_an_id_every_request_is_new(api, requester_key, people):
    body = trace_body(people["ordinary"])
    answers = [_send(api, body, requester_key).json() for _ in range(2)]
    assert answers[0]["trace_id"] != answers[1]["trace_id"] and len(api.entries()) == 2


def test_a_deployment_may_require_an_id(database_url, tracer, master_key, people):
    harness = ApiHarness(database_url, tracer, master_key)
    harness.app.state.components = dataclasses.replace(harness.components, require_request_id=True)
    try:
        key = harness.add_client("requester")
        assert assert_problem(_send(harness, trace_body(people["ordinary"]), key), 422)["errors"][0]["field"] == (
            "header.X-Request-ID"
        )
        assert _send(harness, trace_body(people["ordinary"]), key, str(uuid.uuid4())).status_code == 200
    finally:
        harness.close()


def test_an_attempt_that_was_not_recorded_may_be_retried(api, requester_key, people, monkeypatch):
    register = api.components.service.register
    append_many = register.append_many

    def unavailable(*args, **kwargs):
        raise RegisterUnavailable("the register is down")

    body, request_id = trace_body(people["ordinary"]), str(uuid.uuid4())
    monkeypatch.setattr(register, "append_many", unavailable)
    assert assert_problem(_send(api, body, requester_key, request_id), 503)
    monkeypatch.setattr(register, "append_many", append_many)
    assert _rows(api, request_ids) == []  # released
    answer = _send(api, body, requester_key, request_id)
    assert answer.status_code == 200 and answer.json()["status"] == "traced"
    assert [e.trace_id for e in api.entries()] == [answer.json()["trace_id"]]


def test_two_attempts_arriving_together_trace_once(api, requester_key, people):
    """In one dispatcher batch: the first is answered, the second told it is in progress (recorded); sent again,
    it gets the first's answer."""
    body, request_id = json.dumps(trace_body(people["ordinary"])).encode(), str(uuid.uuid4())
    call = TraceCall(requester_key, body, None, request_id)
    first, second = api.components.admission.handle([call, call])
    assert first.status.value == "traced"
    assert (second.status, second.retry_after) == (409, 1.0)
    assert sorted(e.draft.outcome for e in api.entries()) == ["retry_in_progress", "traced"]
    [again] = api.components.admission.handle([call])
    assert again == first


def test_attempts_reserved_at_once_by_processes_are_reserved_once(database_url, api, master_key):
    """Eight processes (engines) reserving one id at the same moment: one reserves it, the others are told it is
    in progress."""
    now = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
    attempt = RetryKeys(master_key).attempt(7, str(uuid.uuid4()), b"{}")
    barrier, kinds, errors = threading.Barrier(8), [], []

    def reserve() -> None:
        engine = make_engine(database_url)
        try:
            store = RetryStore(engine, dt.timedelta(days=1), dt.timedelta(seconds=10), lambda: now)
            barrier.wait()
            kinds.extend(r.kind for r in store.reserve([attempt]))
        except Exception as error:
            errors.append(error)
        finally:
            engine.dispose()

    threads = [threading.Thread(target=reserve) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert sorted(kinds) == sorted([Retry.FIRST] + [Retry.IN_PROGRESS] * 7)


def test_a_stale_reservation_is_taken_over_and_its_first_attempt_writes_nothing(api, master_key):
    clock = api.clock
    store = RetryStore(api.components.engine, dt.timedelta(days=1), dt.timedelta(seconds=10), clock)
    keys = RetryKeys(master_key)
    stuck, retry = keys.attempt(7, "id", b"{}"), keys.attempt(7, "id", b"{}")
    assert [r.kind for r in store.reserve([stuck])] == [Retry.FIRST]
    clock.now += dt.timedelta(seconds=5)
    assert [r.kind for r in store.reserve([retry])] == [Retry.IN_PROGRESS]
    clock.now += dt.timedelta(seconds=6)  # the first attempt's caller has had its 503
    assert [r.kind for r in store.reserve([retry])] == [Retry.FIRST]
    with pytest.raises(ReservationLost), api.components.engine.begin() as connection:
        store.keep(connection, [(stuck, {"status": "traced"})])
    with api.components.engine.begin() as connection:
        store.keep(connection, [(retry, {"status": "traced"})])
    [reservation] = store.reserve([keys.attempt(7, "id", b"{}")])
    assert (reservation.kind, reservation.answer) == (Retry.REPLAY, {"status": "traced"})


def test_the_stored_rows_hold_nothing_readable(api, requester_key, people):
    person, request_id = people["ordinary"], str(uuid.uuid4())
    answer = _send(api, trace_body(person), requester_key, request_id).json()
    [row] = _rows(api, request_ids)
    stored = (repr(tuple(row)) + bytes(row.sealed_answer).decode("latin-1")).upper()
    disclosure = answer["disclosure"]
    for value in (
        person["family_name"], person["given_name"], person["date_of_birth"].isoformat(), person["postcode"],
        request_id, answer["trace_id"],
        disclosure["last_known_address"]["lines"][0], disclosure["gp_practice"]["name"], "TRACED",
    ):
        assert str(value).upper() not in stored
