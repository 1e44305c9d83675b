"""Batched handling (api.dispatch): calls that arrive together are handled together, each answered on its own."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from conftest import trace_body

from api.dispatch import Dispatcher


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
    assert api.components.service.register.verify().entries == 48
