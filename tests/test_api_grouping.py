"""Group processing (api.grouping): each caller gets its own result, every caller of a failed group the error."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from conftest import trace_body

from api.grouping import Grouped


def test_concurrent_callers_are_grouped_and_each_gets_its_own_result():
    groups = []
    release = threading.Event()

    def square_all(items):
        groups.append(list(items))
        release.wait(1)  # hold the first group so that the rest queue up behind it
        return [i * i for i in items]

    square = Grouped(square_all, max_group=5)
    with ThreadPoolExecutor(12) as pool:
        futures = [pool.submit(square, i) for i in range(12)]
        release.set()
        results = [f.result() for f in futures]
    assert results == [i * i for i in range(12)]
    assert sorted(i for g in groups for i in g) == list(range(12))
    assert max(len(g) for g in groups) <= 5 and len(groups) < 12


def test_a_failed_group_raises_in_every_caller_of_that_group_only():
    def fail_on_seven(items):
        if 7 in items:
            raise ValueError("seven")
        return items

    grouped = Grouped(fail_on_seven)
    with pytest.raises(ValueError, match="seven"):
        grouped(7)
    assert grouped(3) == 3


def test_a_process_that_loses_results_is_an_error_not_a_wrong_answer():
    with pytest.raises(RuntimeError, match="gave 0 results"):
        Grouped(lambda items: [])(1)


def test_batched_traces_answer_as_single_traces_do(api, requester_key, people, population):
    rows = population.slice(0, 40).to_pylist()
    bodies = [trace_body(row) for row in rows if row["date_of_death"] is None][:24]
    single = [api.trace(body, requester_key).json() for body in bodies]
    with ThreadPoolExecutor(12) as pool:
        concurrent = list(pool.map(lambda body: api.trace(body, requester_key).json(), bodies))
    for one, other in zip(single, concurrent, strict=True):
        assert (one["status"], one["disclosure"]) == (other["status"], other["disclosure"])
