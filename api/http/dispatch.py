"""Calls from the event loop handled in batches on one worker thread.

Trace requests arriving together are handled together: one query for their keys, one batch through the tracing
core, one register transaction. One thread does it all, so the work holds the GIL once per batch instead of
a worker thread per request taking turns with the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class DispatcherClosed(RuntimeError):
    """The service is stopping: no new calls."""


class Dispatcher(Generic[T, R]):
    def __init__(self, handle: Callable[[list[T]], list[R | BaseException]], max_batch: int = 64) -> None:
        """``handle`` returns one result or exception per item, in order; if it raises, every item gets that."""
        self._handle = handle
        self._max_batch = max_batch
        self._queue: list[tuple[T, asyncio.Future, asyncio.AbstractEventLoop]] = []
        self._ready = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closed = False

    async def submit(self, item: T) -> R:
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        with self._ready:
            if self._closed:
                raise DispatcherClosed("the dispatcher is closed")
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="trace-dispatcher", daemon=True)
                self._thread.start()
            self._queue.append((item, future, loop))
            self._ready.notify()
        return await future

    def close(self) -> None:
        with self._ready:
            self._closed = True
            self._ready.notify()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        while True:
            with self._ready:
                while not self._queue and not self._closed:
                    self._ready.wait()
                if not self._queue:
                    return
                batch, self._queue = self._queue[: self._max_batch], self._queue[self._max_batch :]
            try:
                results = self._handle([item for item, _, _ in batch])
                if len(results) != len(batch):
                    raise RuntimeError(f"{len(batch)} calls gave {len(results)} results")
            except BaseException as error:
                results = [error] * len(batch)
            by_loop: dict[asyncio.AbstractEventLoop, list] = {}
            for (_, future, loop), result in zip(batch, results, strict=True):
                by_loop.setdefault(loop, []).append((future, result))
            for loop, settled in by_loop.items():
                with contextlib.suppress(RuntimeError):  # that loop has closed: its callers are gone
                    loop.call_soon_threadsafe(_settle, settled)


def _settle(settled: list[tuple[asyncio.Future, object]]) -> None:
    for future, result in settled:
        if future.cancelled():
            continue
        if isinstance(result, BaseException):
            future.set_exception(result)
        else:
            future.set_result(result)
