"""Every change of who may do what is a register entry, written with the change; the commands that make them; the
migration that turns free-text organisations into ids and seals the rows that were there (both databases)."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.exc import SQLAlchemyError

from api.access.clients import ClientError, ClientStore, _hash, _new_key
from api.access.replay import replay
from api.audit.outcomes import RIGHTS, RegisterOutcome
from api.audit.register import AuditRegister
from api.audit.transparency import export_csv, summarise
from api.storage.engine import make_engine
from api.storage.migrate import upgrade
from api.storage.tables import clients, organisations, probe_records, reviews
from tests.support.api import bearer


def _rights(api) -> list:
    return [e for e in api.components.service.register.entries() if e.draft.outcome in RIGHTS]


def test_each_change_of_rights_is_an_entry_with_the_rows_new_state_and_no_key(api):
    store = api.components.clients
    organisation = store.organisations.add("Home Office")
    _, key = store.add("officer", "requester", organisation=organisation.id)
    store.set_role("officer", "auditor")
    store.set_rate("officer", 120)
    store.revoke("officer")
    entries = _rights(api)
    assert [e.draft.outcome for e in entries] == [
        RegisterOutcome.ORGANISATION_ADDED,
        RegisterOutcome.CLIENT_ADDED,
        RegisterOutcome.CLIENT_CHANGED,
        RegisterOutcome.CLIENT_CHANGED,
        RegisterOutcome.CLIENT_REVOKED,
    ]
    states = [json.loads(e.draft.rights) for e in entries[1:]]
    assert [(s["role"], s["rate_per_minute"], s["revoked"]) for s in states] == [
        ("requester", None, False),
        ("auditor", None, False),
        ("auditor", 120, False),
        ("auditor", 120, True),
    ]
    assert {s["organisation"] for s in states} == {"home-office"}
    with api.components.engine.connect() as connection:
        row = connection.execute(select(clients)).one()
    assert states[-1]["row_mac"] == row.row_mac
    stored = repr([e.draft for e in entries])
    assert key not in stored and row.key_hash not in stored and row.key_id not in stored
    assert api.components.service.register.verify().ok
    assert replay(api.components.engine, api.components.service.register, store.macs) == []


def test_a_change_whose_entry_cannot_be_written_is_not_made(api):
    key = api.add_client("requester", name="kept")
    with api.components.engine.begin() as connection:
        connection.execute(text("DROP TABLE register_entries"))
    with pytest.raises(SQLAlchemyError):
        api.add_client("requester", name="never-added", organisation="kept")
    with pytest.raises(SQLAlchemyError):
        api.components.clients.revoke("kept")
    assert [(c.name, c.revoked_at) for c in api.components.clients.list()] == [("kept", None)]
    assert api.components.clients.authenticate_many([key])[0] is not None


def test_a_changed_role_and_rate_take_effect_and_a_change_of_a_restored_row_is_refused(api):
    key = api.add_client("requester", name="changes")
    store = api.components.clients
    store.set_role("changes", "auditor")
    assert api.http.get("/v1/register/summary", headers=bearer(key)).status_code == 200
    [client] = store.authenticate_many([key])
    assert client.role == "auditor"
    store.set_rate("changes", 7)
    assert store.authenticate_many([key])[0].rate_per_minute == 7
    with api.components.engine.begin() as connection:
        before = dict(connection.execute(select(clients)).one()._mapping)
    store.set_role("changes", "requester")
    with api.components.engine.begin() as connection:  # the auditor's row put back from a copy
        connection.execute(update(clients).values(**{k: v for k, v in before.items() if k != "id"}))
    with pytest.raises(ClientError, match="not as the register's changes left it"):
        store.set_rate("changes", 8)
    store.revoke("changes")  # revoking only takes rights away: allowed, and the row is the register's again
    assert replay(api.components.engine, api.components.service.register, store.macs) == []


def test_the_summary_counts_changes_of_rights_per_organisation_apart_from_requests(api):
    api.add_client("requester", name="a", organisation="Home Office")
    api.add_client("requester", name="b", organisation="Home Office")
    api.components.clients.revoke("b")
    auditor = api.add_client("auditor", name="reader", organisation="Audit")
    rows = api.http.get("/v1/register/summary", headers=bearer(auditor)).json()["rows"]
    by_organisation = {r["organisation"]: r for r in rows}
    assert by_organisation["home-office"]["rights_changed"] == 4  # the organisation, two clients, a revocation
    assert by_organisation["home-office"]["requests"] == 0
    assert by_organisation["audit"]["rights_changed"] == 2
    assert all(r["tampering_detected"] == 0 for r in rows)
    out = io.StringIO()
    export_csv(api.components.service.register.entries(), out)
    exported = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert {"client_added", "organisation_added", "client_revoked"} <= {r["outcome"] for r in exported}
    assert all(json.loads(r["rights"])["row_mac"] for r in exported if r["outcome"] in RIGHTS)
    assert sum(r.requests for r in summarise(api.components.service.register.entries())) == 0


def test_the_commands_add_organisations_and_change_clients(api, database_url):
    added = _cli(database_url, "organisations", "add", "--name", "Home Office")
    assert added.returncode == 0 and added.stdout.strip() == "home-office"
    again = _cli(database_url, "organisations", "add", "--name", "home_office ")
    assert again.returncode == 2 and "exists already" in again.stderr and "Traceback" not in again.stderr
    assert "home-office" in _cli(database_url, "organisations", "list").stdout
    no_organisation = _cli(database_url, "clients", "add", "--name", "x", "--role", "requester")
    assert no_organisation.returncode == 2 and "--organisation" in no_organisation.stderr
    unknown = _cli(database_url, "clients", "add", "--name", "x", "--role", "requester", "--organisation", "nope")
    assert unknown.returncode == 2 and "no organisation 'nope'" in unknown.stderr
    made = _cli(database_url, "clients", "add", "--name", "x", "--role", "requester", "--organisation", "Home Office")
    assert made.returncode == 0, made.stderr
    key = made.stdout.strip().splitlines()[-1]
    assert _cli(database_url, "clients", "set-role", "--name", "x", "--role", "reviewer").returncode == 0
    assert _cli(database_url, "clients", "set-rate", "--name", "x", "--rate-per-minute", "5").returncode == 0
    [client] = api.components.clients.authenticate_many([key])
    assert (client.role, client.rate_per_minute, client.organisation) == ("reviewer", 5, "home-office")
    assert _cli(database_url, "clients", "set-rate", "--name", "x", "--default").returncode == 0
    assert api.components.clients.authenticate_many([key])[0].rate_per_minute is None
    verify = _cli(database_url, "register", "verify")
    assert verify.returncode == 0 and "as the register's changes left them" in verify.stdout


def test_the_migration_makes_ids_of_free_text_organisations_and_seals_the_rows_there(database_url, master_key):
    engine = make_engine(database_url)
    try:
        upgrade(engine, "0004")
        keys = {}
        with engine.begin() as connection:
            for number, (name, organisation, revoked) in enumerate(
                [("ho-1", "Home Office", None), ("ho-2", "home office ", None), ("solo", None, None),
                 ("gone", "NHS England", "2026-11-01T00:00:00.000000+00:00")], start=1
            ):  # fmt: skip
                key_id, key = _new_key()
                keys[name] = key
                connection.execute(
                    text(
                        "INSERT INTO clients (id, name, role, key_id, key_hash, rate_per_minute, organisation, "
                        "created_at, revoked_at) VALUES (:i, :n, 'requester', :k, :h, NULL, :o, :c, :r)"
                    ),
                    {"i": number, "n": name, "k": key_id, "h": _hash(key), "o": organisation,
                     "c": "2026-10-01T00:00:00.000000+00:00", "r": revoked},
                )  # fmt: skip
            connection.execute(
                text(
                    "INSERT INTO reviews (trace_id, client_id, organisation, reason, policy_version, created_at, "
                    "sealed_case, state) VALUES ('t1', 1, 'Home Office', 'welfare', 'v', 'c', :s, 'pending')"
                ),
                {"s": b"x"},
            )
            for organisation, seen in (("Home Office", "2026-11-02"), ("home office", "2026-11-01")):
                connection.execute(
                    text("INSERT INTO probe_records (organisation, record_token, seen_at) VALUES (:o, 'r', :s)"),
                    {"o": organisation, "s": seen},
                )
        upgrade(engine, key=master_key)
        with engine.connect() as connection:
            ids = dict(connection.execute(select(organisations.c.id, organisations.c.name)).all())
            of = dict(connection.execute(select(clients.c.name, clients.c.organisation)).all())
            assert connection.execute(select(reviews.c.organisation)).scalar() == "home-office"
            assert connection.execute(select(probe_records.c.organisation, probe_records.c.seen_at)).all() == [
                ("home-office", "2026-11-01")
            ]
        assert ids == {"home-office": "Home Office", "nhs-england": "NHS England", "solo": "solo"}
        assert of == {"ho-1": "home-office", "ho-2": "home-office", "solo": "solo", "gone": "nhs-england"}
        store = ClientStore(engine, master_key, background_reports=False)
        found = store.authenticate_many([keys["ho-1"], keys["ho-2"], keys["solo"], keys["gone"]])
        assert [c and c.organisation for c in found] == ["home-office", "home-office", "solo", None]
        register = AuditRegister(engine, master_key)
        assert register.verify().ok
        assert replay(engine, register, store.macs) == []
    finally:
        engine.dispose()


def _cli(database_url: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "api", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "DATABASE_URL": database_url},
        timeout=120,
    )
