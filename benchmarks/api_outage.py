"""PostgreSQL really stopped under a running service: 503s without disclosure, and recovery without a restart.

    python benchmarks/api_outage.py --index data/idx1m --requests data/req1m_typical.parquet

STOPS THIS MACHINE'S POSTGRESQL (``pg_ctlcluster <version> main stop -m fast``) for ``--down`` seconds, then starts
it again: run it where nothing else needs the database meanwhile. (The CI test, tests/api/test_outage.py, cuts a
relay in front of PostgreSQL instead, so as not to stop the database under other tests.)

Four clients send trace requests continuously to ``python -m api serve`` on a fresh PostgreSQL schema; each answer's
time and status are recorded. Reported by phase (answered before the stop; sent before and answered after it; sent
and answered while down; the rest): statuses, and whether any answer
carried a disclosure while the database was down; the seconds from the database's return to the first 200; and, at
the end, that the register verifies and holds every answer's entry.
"""

from __future__ import annotations

import argparse
import subprocess
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
from api_load import request_bodies, serving

POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def _cluster(action: str) -> None:
    version = sorted(p.name for p in Path("/etc/postgresql").iterdir())[0]
    command = ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", action]
    subprocess.run([*command, "-m", "fast"] if action == "stop" else command, check=True)


def _postgres_ready() -> bool:
    return subprocess.run(["pg_isready", "-q", "-h", "127.0.0.1", "-p", "5432"]).returncode == 0


def run(index: Path, requests: Path, before: float, down: float, after: float, clients: int) -> dict:
    bodies = request_bodies(requests, 20_000)
    answers: list[tuple[float, float, int, bool]] = []  # (sent, answered, status, disclosed)
    stop = threading.Event()
    with serving(index, POSTGRES_URL) as served:

        def client(offset: int) -> None:
            headers = {"Authorization": f"Bearer {served.key}", "Content-Type": "application/json"}
            with httpx.Client(base_url=served.url, timeout=60) as http:
                for i in range(offset, 10**9, clients):
                    if stop.is_set():
                        return
                    sent = time.monotonic()
                    response = http.post("/v1/traces", content=bodies[i % len(bodies)], headers=headers)
                    disclosed = bool(response.json().get("disclosure"))
                    answers.append((sent, time.monotonic(), response.status_code, disclosed))

        threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
        for thread in threads:
            thread.start()
        time.sleep(before)
        _cluster("stop")
        stopped = time.monotonic()  # the server has gone: what is sent from now on cannot be recorded
        time.sleep(down)
        returned = time.monotonic()  # from here the database may answer at any moment (start returns after that)
        _cluster("start")
        while not _postgres_ready():
            time.sleep(0.1)
        time.sleep(after)
        stop.set()
        for thread in threads:
            thread.join()
    phases: dict[str, list[tuple[int, bool]]] = {"before": [], "stopping": [], "down": [], "after": []}
    for sent, answered, status, disclosed in answers:
        if answered < returned and sent >= stopped:
            phase = "down"
        else:
            phase = "before" if answered < stopped else "stopping" if sent < stopped else "after"
        phases[phase].append((status, disclosed))
    first_ok = min((a for _, a, s, _ in answers if a >= returned and s == 200), default=None)
    return {
        "phases": {name: Counter(status for status, _ in rows) for name, rows in phases.items()},
        "disclosed_while_down": sum(disclosed for _, disclosed in phases["down"]),
        "ok_while_down": sum(status == 200 for status, _ in phases["down"]),
        "recovery_s": None if first_ok is None else first_ok - returned,
        "answered": sum(status == 200 for _, _, status, _ in answers),
        "register_verified": served.register_verified,
        "register_entries": served.register_entries,
        "server_errors": len(served.server_error_lines),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--requests", type=Path, required=True)
    parser.add_argument("--before", type=float, default=5.0)
    parser.add_argument("--down", type=float, default=10.0)
    parser.add_argument("--after", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=4)
    args = parser.parse_args(argv)
    result = run(args.index, args.requests, args.before, args.down, args.after, args.clients)
    for name, statuses in result["phases"].items():
        print(f"{name:>6}: {dict(sorted(statuses.items()))}")
    print(f"while down: {result['ok_while_down']} answered 200, {result['disclosed_while_down']} disclosures")
    recovery = result["recovery_s"]
    print("first 200 after the database was started: " + ("never" if recovery is None else f"{recovery:.2f} s"))
    print(f"register: {result['register_entries']:,} entries, verified: {result['register_verified']};"
          f" 200s answered: {result['answered']:,}; server errors logged: {result['server_errors']}")
    ok = (result["register_verified"] and result["ok_while_down"] == 0 and recovery is not None
          and result["register_entries"] >= result["answered"])  # fmt: skip
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
