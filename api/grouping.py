"""Group processing for calls from many worker threads: whoever finds the processor free takes every item waiting.

Used twice: concurrent trace requests are matched as one batch (the tracing core's batch path costs a fraction
of a single trace per request), and concurrent register entries are committed in one transaction (group commit:
one fsync for many). With one caller at a time a group is that one item, so nothing waits that would not
otherwise; each caller returns only when its own item is processed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


@dataclass
class _Slot(Generic[T, R]):
    item: T
    done: bool = False
    result: R | None = None
    error: BaseException | None = None


class Grouped(Generic[T, R]):
    def __init__(self, process: Callable[[list[T]], Sequence[R]], max_group: int = 64) -> None:
        """``process`` takes a list of items and returns one result per item, in order; if it raises, every
        caller in that group gets the exception."""
        self._process = process
        self._max_group = max_group
        self._queue: list[_Slot[T, R]] = []
        self._queue_lock = threading.Lock()
        self._run_lock = threading.Lock()

    def __call__(self, item: T) -> R:
        slot: _Slot[T, R] = _Slot(item)
        with self._queue_lock:
            self._queue.append(slot)
        while not slot.done:
            with self._run_lock:
                if slot.done:
                    break
                with self._queue_lock:
                    group, self._queue = self._queue[: self._max_group], self._queue[self._max_group :]
                self._run(group)
        if slot.error is not None:
            raise slot.error
        return slot.result

    def _run(self, group: list[_Slot[T, R]]) -> None:
        try:
            results = self._process([slot.item for slot in group])
            if len(results) != len(group):
                raise RuntimeError(f"a group of {len(group)} gave {len(results)} results")
        except BaseException as error:
            for slot in group:
                slot.error, slot.done = error, True
            return
        for slot, result in zip(group, results, strict=True):
            slot.result, slot.done = result, True
