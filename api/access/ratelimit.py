"""Per-client rate limiting: a token bucket per client, refilled continuously.

One bucket per client in this process. The service runs as one process per index (the index is decrypted into
its memory and the register is written in order), so a process-local bucket is the client's whole allowance.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    def __init__(self, per_minute: int, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        if per_minute < 1 or burst < 1:
            raise ValueError("a rate limit needs at least 1 request per minute and a burst of at least 1")
        self.per_minute = per_minute
        self.burst = burst
        self.clock = clock
        self._buckets: dict[int, _Bucket] = {}
        self._lock = threading.Lock()

    def acquire(self, client_id: int, per_minute: int | None = None) -> float | None:
        """Take one request from the client's allowance: None if allowed, else the seconds until one is free.

        A client with its own rate gets a burst in proportion (a sixth of a minute's worth), never less than the
        default burst.
        """
        rate = (per_minute or self.per_minute) / 60.0
        capacity = max(self.burst, (per_minute or 0) // 6)
        now = self.clock()
        with self._lock:
            bucket = self._buckets.get(client_id)
            if bucket is None:
                bucket = self._buckets[client_id] = _Bucket(float(capacity), now)
            bucket.tokens = min(capacity, bucket.tokens + (now - bucket.updated) * rate)
            bucket.updated = now
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return None
            return (1.0 - bucket.tokens) / rate

    @staticmethod
    def retry_after_header(seconds: float) -> str:
        """Retry-After takes whole seconds; rounding up never invites a request that would be refused again."""
        return str(max(1, math.ceil(seconds)))
