"""Does a 401's time reveal whether the key id exists? Per authenticated endpoint, keys with an unknown key id
against keys with a known id and a wrong secret.

    python benchmarks/key_timing.py --requests 600

Runs the service in-process (uvicorn on a free loopback port, a fresh SQLite database, the default settings, the
response floor included), adds one client of each role, then, per endpoint, sends ``--requests`` requests of each
kind, interleaved in a random order, one at a time over one keep-alive connection:

* unknown: ``trc_<random key id>_<random secret>``, a key id no client holds;
* wrong secret: ``trc_<the key id of a client of the endpoint's role>_<random secret>``.

Both are well formed, so both are looked up; both are answered 401. Each request's wall time (sent to body read)
is recorded; the first ``--warmup`` of each endpoint are left out. Printed per endpoint: the medians, their ratio
(unknown over wrong secret), and a two-sided permutation p-value for the difference of medians (how often
shuffling the labels gives a difference as large: small means the two are told apart).

No request gets past the key check, so no index is loaded: the tracer is a stand-in that is never called.
"""

from __future__ import annotations

import argparse
import contextlib
import random
import secrets
import socket
import statistics
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import uvicorn

from api.access.clients import Role
from api.http.app import create_app
from api.settings import Settings
from api.wiring import build_components
from matcher.protection.keys import MasterKey

SOME_TRACE_ID = "0b7e3f0c-3f55-4d1e-9d0c-2c8a3f9e1d44"
# Every endpoint that checks a key: (method, path, role whose client's key id the wrong-secret keys use, body).
ENDPOINTS = [
    ("POST", "/v1/traces", Role.REQUESTER, {}),
    ("GET", f"/v1/traces/{SOME_TRACE_ID}", Role.REQUESTER, None),
    ("GET", "/v1/reviews", Role.REVIEWER, None),
    ("GET", f"/v1/reviews/{SOME_TRACE_ID}", Role.REVIEWER, None),
    ("POST", f"/v1/reviews/{SOME_TRACE_ID}", Role.REVIEWER, {}),
    ("GET", "/v1/register/summary", Role.AUDITOR, None),
    ("GET", "/v1/register/entries", Role.AUDITOR, None),
]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def serving(database_url: str) -> Iterator[tuple[str, dict[Role, str]]]:
    """The service on a free port, and a key id per role."""
    components = build_components(Settings(database_url=database_url), key=MasterKey.generate(), tracer=object())
    key_ids = {role: components.clients.add(f"bench-{role.value}", role)[1].split("_")[1] for role in Role}
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(components), port=port, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}", key_ids
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        components.engine.dispose()


def key(key_id: str | None) -> str:
    """A well-formed key with a random secret: of ``key_id``, or of a random (unknown) one."""
    return f"trc_{key_id or secrets.token_hex(6)}_{secrets.token_urlsafe(32)}"


def permutation_p(a: np.ndarray, b: np.ndarray, rounds: int, rng: np.random.Generator) -> float:
    observed = abs(np.median(a) - np.median(b))
    pooled = np.concatenate([a, b])
    hits = 0
    for _ in range(rounds):
        rng.shuffle(pooled)
        hits += abs(np.median(pooled[: len(a)]) - np.median(pooled[len(a) :])) >= observed
    return (hits + 1) / (rounds + 1)


def measure(base: str, key_ids: dict[Role, str], requests: int, warmup: int, seed: int) -> list[dict]:
    order = random.Random(seed)
    rng = np.random.default_rng(seed)
    results = []
    with httpx.Client(base_url=base, timeout=30) as http:
        for method, path, role, body in ENDPOINTS:
            kinds = ["unknown", "wrong_secret"] * (requests + warmup)
            order.shuffle(kinds)
            times: dict[str, list[float]] = {"unknown": [], "wrong_secret": []}
            sent = {"unknown": 0, "wrong_secret": 0}
            for kind in kinds:
                headers = {"Authorization": f"Bearer {key(None if kind == 'unknown' else key_ids[role])}"}
                started = time.perf_counter()
                response = http.request(method, path, json=body, headers=headers)
                elapsed = time.perf_counter() - started
                assert response.status_code == 401, (method, path, response.status_code, response.text)
                sent[kind] += 1
                if sent[kind] > warmup:
                    times[kind].append(elapsed * 1000)
            unknown, wrong = np.array(times["unknown"]), np.array(times["wrong_secret"])
            results.append(
                {
                    "endpoint": f"{method} {path.replace(SOME_TRACE_ID, '{trace_id}')}",
                    "n": (len(unknown), len(wrong)),
                    "unknown_ms": statistics.median(unknown),
                    "wrong_secret_ms": statistics.median(wrong),
                    "ratio": statistics.median(unknown) / statistics.median(wrong),
                    "p": permutation_p(unknown, wrong, 2_000, rng),
                }
            )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=600, help="per kind and endpoint")
    parser.add_argument("--warmup", type=int, default=50, help="per kind and endpoint, left out")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, serving(f"sqlite:///{Path(tmp) / 'state.db'}") as (base, key_ids):
        results = measure(base, key_ids, args.requests, args.warmup, args.seed)
    print(f"{'endpoint':34} {'n':>9} {'unknown':>9} {'wrong':>9} {'ratio':>6} {'p':>7}")
    for r in results:
        n = "/".join(map(str, r["n"]))
        print(
            f"{r['endpoint']:34} {n:>9} {r['unknown_ms']:8.3f}ms {r['wrong_secret_ms']:7.3f}ms "
            f"{r['ratio']:6.3f} {r['p']:7.4f}"
        )


if __name__ == "__main__":
    main()
