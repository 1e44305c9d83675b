"""The register's published shape: summary and entries for auditors, CSV export (SQLite and PostgreSQL)."""

from __future__ import annotations

import csv
import datetime as dt
import os
import subprocess
import sys

from api.audit.register import EntryDraft, RegisterEntry
from api.audit.transparency import summarise
from tests.support.api import trace_body


def _entry(sequence: int, month: str, outcome: str, category: int | None = 1, codes=(), client="ho") -> RegisterEntry:
    draft = EntryDraft(f"t{sequence}", 1, client, outcome, 200, category=category, refusal_codes=codes)
    return RegisterEntry(sequence, f"{month}-03T10:00:00.000000+00:00", draft, "p", "h")


def test_summary_counts_by_month_client_category_and_outcome():
    entries = [
        _entry(1, "2026-10", "traced"),
        _entry(2, "2026-10", "refused", codes=("SAME_OFFICER", "NO_ATTESTATION")),
        _entry(3, "2026-10", "refused", codes=("SAME_OFFICER",)),
        _entry(4, "2026-10", "invalid", category=None),
        _entry(5, "2026-10", "register_read", category=None, client="auditor"),
        _entry(6, "2026-11", "pending_review", category=2),
        _entry(7, "2026-11", "not_found"),
        _entry(8, "2026-11", "ambiguous"),
        _entry(9, "2026-11", "review_approved", category=None, client="caldicott"),
        _entry(10, "2026-11", "collected", category=None),
        _entry(11, "2026-11", "status_read", category=None),
    ]
    rows = {(r.month, r.organisation, r.category): r for r in summarise(entries)}
    assert set(rows) == {
        ("2026-10", "ho", None),
        ("2026-10", "ho", 1),
        ("2026-11", "ho", 1),
        ("2026-11", "ho", 2),
        ("2026-11", "caldicott", None),
    }
    assert (rows[("2026-11", "caldicott", None)].reviewed, rows[("2026-11", "caldicott", None)].requests) == (1, 0)
    october = rows[("2026-10", "ho", 1)]
    assert (october.requests, october.traced, october.refused) == (3, 1, 2)
    assert october.refused_by_reason == {"NO_ATTESTATION": 1, "SAME_OFFICER": 2}
    assert rows[("2026-10", "ho", None)].rejected == 1
    november = rows[("2026-11", "ho", 1)]
    assert (november.requests, november.not_found, november.ambiguous) == (2, 1, 1)
    assert rows[("2026-11", "ho", 2)].pending_review == 1


def _auditor_get(api, key, path, **params):
    return api.http.get(path, params=params, headers={"Authorization": f"Bearer {key}"})


def test_auditors_read_the_summary_for_a_period_and_each_read_is_recorded(api, requester_key, people):
    api.clock.now = dt.datetime(2026, 10, 15, 12, tzinfo=dt.UTC)
    api.trace(trace_body(people["ordinary"]), requester_key)
    api.clock.now = dt.datetime(2026, 11, 20, 12, tzinfo=dt.UTC)
    api.trace(trace_body(people["ordinary"]), requester_key)
    api.trace(trace_body(people["ordinary"], officers__authorising={"id": "HO-AO-1", "grade": "AO"}), requester_key)
    auditor = api.add_client("auditor")

    whole = _auditor_get(api, auditor, "/v1/register/summary").json()
    assert whole["from"] is None and sum(r["requests"] for r in whole["rows"]) == 3
    november = _auditor_get(api, auditor, "/v1/register/summary", **{"from": "2026-11-01", "to": "2026-11-30"}).json()
    [row] = november["rows"]
    assert (row["month"], row["organisation"], row["category"]) == ("2026-11", "requester-1", 1)
    assert (row["requests"], row["traced"], row["refused"]) == (2, 1, 1)
    assert row["refused_by_reason"] == {"AUTHORISER_TOO_JUNIOR": 1}
    assert [e.draft.outcome for e in api.entries()][-2:] == ["register_read", "register_read"]


def test_the_register_is_read_a_page_at_a_time_without_subject_details(api, requester_key, people, population):
    for row in [people["ordinary"], *population.slice(7_000, 4).to_pylist()]:
        assert api.trace(trace_body(row), requester_key).status_code == 200
    auditor = api.add_client("auditor")
    seen, after = [], None
    while True:
        params = {"limit": "2", **({"after": str(after)} if after is not None else {})}
        page = _auditor_get(api, auditor, "/v1/register/entries", **params)
        assert page.status_code == 200
        seen += page.json()["entries"]
        after = page.json()["next_after"]
        if after is None:
            break
    assert [e["sequence"] for e in seen] == list(range(1, len(seen) + 1))
    traced = [e for e in seen if e["outcome"] == "traced"]
    assert len(traced) == 5 and all(len(e["subject_token"]) == 32 for e in traced)
    assert seen[0]["outcome"] == "policy_in_force" and seen[0]["policy_version"] == "mou-2018-05"
    text = str(seen).upper()
    assert people["ordinary"]["family_name"].upper() not in text and people["ordinary"]["postcode"] not in text


def test_register_reads_need_an_auditor_and_well_formed_queries(api, requester_key):
    assert _auditor_get(api, requester_key, "/v1/register/summary").status_code == 403
    auditor = api.add_client("auditor")
    for params in ({"from": "2026-13-01"}, {"from": "2026-11-02", "to": "2026-11-01"}, {"limit": "0"}):
        path = "/v1/register/entries" if "limit" in params else "/v1/register/summary"
        response = _auditor_get(api, auditor, path, **params)
        assert response.status_code == 422 and response.headers["content-type"] == "application/problem+json"
        assert response.json()["trace_id"]
    twice = [("to", "2026-11-01"), ("to", "")]  # schemathesis found the last one taken silently
    for path in ("/v1/register/summary", "/v1/register/entries"):
        response = api.http.get(path, params=twice, headers={"Authorization": f"Bearer {auditor}"})
        assert response.status_code == 422 and response.json()["errors"][0]["message"] == "must be given once"
    assert [e.draft.outcome for e in api.entries()] == ["forbidden", *["invalid"] * 5]
    assert api.http.get("/v1/register/summary").status_code == 401


def test_register_export_writes_csv_for_a_period(api, requester_key, people, database_url, tmp_path):
    api.clock.now = dt.datetime(2026, 10, 15, 12, tzinfo=dt.UTC)
    api.trace(trace_body(people["ordinary"]), requester_key)
    api.clock.now = dt.datetime(2026, 11, 20, 12, tzinfo=dt.UTC)
    api.trace(trace_body(people["restricted"]), requester_key)  # withheld: answered not_found
    out = tmp_path / "register.csv"
    command = [sys.executable, "-m", "api", "register", "export", "--from", "2026-11-01", "--out", str(out)]
    done = subprocess.run(command, env={**os.environ, "DATABASE_URL": database_url}, capture_output=True, text=True)
    assert done.returncode == 0 and "wrote " in done.stdout
    # Besides the policy noted at start, the requester's organisation and client were added (on the day the test
    # runs, not on the service's clock): the October request is left out.
    notes = {"policy_in_force", "organisation_added", "client_added"}
    [row] = [r for r in csv.DictReader(out.open()) if r["outcome"] not in notes]
    assert row["outcome"] == "not_found"  # as answered: it tells no one who is restricted
    assert row["sequence"] == "5" and row["fields_disclosed"] == ""
    assert people["restricted"]["family_name"].upper() not in out.read_text().upper()


def test_the_summary_counts_by_the_clients_organisation():
    entries = [_entry(1, "2026-10", "traced", client="ho-a"), _entry(2, "2026-10", "traced", client="ho-b")]
    entries[1] = RegisterEntry(
        2, entries[1].recorded_at, EntryDraft("t2", 2, "ho-b", "traced", 200, category=1), "p", "h"
    )
    [row] = summarise(entries, {1: "Home Office", 2: "Home Office"})
    assert (row.organisation, row.requests, row.traced) == ("Home Office", 2, 2)
