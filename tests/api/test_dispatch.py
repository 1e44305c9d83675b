"""Batched handling (api.http.dispatch): calls that arrive together are handled together, each answered on its own."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from api.http.dispatch import Dispatcher
from tests.support.api import ApiHarness, bearer, trace_body


def _gather(dispatcher: Dispatcher, items: list) -> list:
    async def main():
        return await asyncio.gather(*(dispatcher.submit(i) for i in items), return_exceptions=True)

    try:
        return asyncio.run(main())
    finally:
        dispatcher.close()


def test_calls_arriving_together_are_batched_and_each_gets_its_own_result():
    batches = []
    first = threading.Event()

    def square_all(items):
        batches.append(list(items))
        first.wait(0.2)  # hold the first batch so that the rest arrive behind it
        first.set()
        return [i * i for i in items]

    assert _gather(Dispatcher(square_all, max_batch=5), list(range(12))) == [i * i for i in range(12)]
    assert sorted(i for b in batches for i in b) == list(range(12))
    assert max(len(b) for b in batches) <= 5 and len(batches) < 12


def test_an_error_answers_only_its_own_call_and_a_failed_batch_answers_all():
    def some_fail(items):
        return [ValueError(f"item {i}") if i % 2 else i for i in items]

    results = _gather(Dispatcher(some_fail), [0, 1, 2, 3])
    assert results[0] == 0 and results[2] == 2
    assert [str(r) for r in results[1::2]] == ["item 1", "item 3"]

    def all_fail(items):
        raise RuntimeError("down")

    assert all(isinstance(r, RuntimeError) for r in _gather(Dispatcher(all_fail), [1, 2, 3]))
    lost = _gather(Dispatcher(lambda items: []), [1])
    assert isinstance(lost[0], RuntimeError) and "gave 0 results" in str(lost[0])


def test_a_closed_dispatcher_takes_no_more_calls():
    dispatcher = Dispatcher(lambda items: items)
    dispatcher.close()
    with pytest.raises(RuntimeError, match="closed"):
        asyncio.run(dispatcher.submit(1))


def test_batched_traces_answer_as_single_traces_do(api, requester_key, population):
    rows = population.slice(0, 40).to_pylist()
    bodies = [trace_body(row) for row in rows if row["date_of_death"] is None][:24]
    single = [api.trace(body, requester_key).json() for body in bodies]
    with ThreadPoolExecutor(12) as pool:
        concurrent = list(pool.map(lambda body: api.trace(body, requester_key).json(), bodies))
    for one, other in zip(single, concurrent, strict=True):
        assert (one["status"], one["disclosure"]) == (other["status"], other["disclosure"])
    assert api.components.service.register.verify().entries == 51  # and the policy note, the requester added


def test_requests_queued_behind_a_batch_are_traced_as_one_batch(api, requester_key, population, monkeypatch):
    from api.usecases.admission import SMALLEST_BATCH

    tracer = api.components.service.tracer
    real, sizes = tracer.trace_many, []

    def slow_first(requests, explain=False):
        sizes.append(len(requests))
        if len(sizes) == 1:
            time.sleep(0.5)  # the others arrive meanwhile
        return real(requests, explain)

    monkeypatch.setattr(tracer, "trace_many", slow_first)
    bodies = [trace_body(row) for row in population.slice(0, 12).to_pylist()]
    with ThreadPoolExecutor(12) as pool:
        statuses = list(pool.map(lambda body: api.trace(body, requester_key).status_code, bodies))
    assert statuses == [200] * 12
    assert max(sizes) >= SMALLEST_BATCH


def test_a_mixed_batch_answers_each_request_in_its_own_way(api, requester_key, people):
    from api.http.models import TraceAnswer
    from api.http.problems import ProblemError
    from api.http.routes.traces import handle_traces
    from api.usecases.admission import TraceCall

    auditor = api.add_client("auditor")
    good = json.dumps(trace_body(people["ordinary"])).encode()
    calls = [
        TraceCall(None, good, None),
        TraceCall("trc_000000000000_" + "0" * 43, good, None),
        TraceCall(auditor, good, None),
        TraceCall(requester_key, b'{"subject": {}}', None),
        TraceCall(requester_key, good, None),
    ]
    out = handle_traces(api.components, calls)
    assert [o.status if isinstance(o, ProblemError) else "answer" for o in out] == [401, 401, 403, 422, "answer"]
    assert isinstance(out[4], TraceAnswer) and out[4].status == "traced"
    entries = {e.trace_id: e.draft.outcome for e in api.entries()}
    assert out[0].trace_id is None and out[1].trace_id is None  # no client known: nothing to record
    assert [entries[o.trace_id] for o in out[2:]] == ["forbidden", "invalid", "traced"]


def test_one_request_that_breaks_the_core_fails_alone(api, requester_key, people, monkeypatch):
    from api.http.problems import ProblemError
    from api.http.routes.traces import handle_traces
    from api.usecases.admission import TraceCall

    tracer = api.components.service.tracer
    real = tracer.trace_many
    poison = people["restricted"]["family_name"]

    def fail_on_poison(requests, explain=False):
        if any(r.family_name == poison for r in requests):
            raise ValueError("cannot trace")
        return real(requests, explain)

    monkeypatch.setattr(tracer, "trace_many", fail_on_poison)
    bodies = [trace_body(people["ordinary"]), trace_body(people["restricted"]), trace_body(people["ordinary"])]
    out = handle_traces(api.components, [TraceCall(requester_key, json.dumps(b).encode(), None) for b in bodies])
    assert [o.status for o in out] == ["traced", 500, "traced"]
    assert isinstance(out[1], ProblemError)
    outcomes = sorted(e.draft.outcome for e in api.entries())
    assert outcomes == ["error", "traced", "traced"]  # one entry each, none twice


def test_a_stopping_service_answers_503_without_disclosing(database_url, tracer, master_key, people):
    from fastapi.testclient import TestClient

    harness = ApiHarness(database_url, tracer, master_key)
    key = harness.add_client("requester")
    with TestClient(harness.app) as client:  # entering runs the lifespan; leaving closes the dispatcher
        assert client.post("/v1/traces", json=trace_body(people["ordinary"]), headers=bearer(key)).status_code == 200
    response = harness.http.post("/v1/traces", json=trace_body(people["ordinary"]), headers=bearer(key))
    assert response.status_code == 503 and response.headers["retry-after"]
    assert people["ordinary"]["address_line_1"] not in response.text
    harness.close()


