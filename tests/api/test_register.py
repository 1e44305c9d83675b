"""The audit register: written before every answer, hash-chained, verified; and the schema's migrations."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys

import pytest
from sqlalchemy import delete, inspect, select, text, update

from api.audit.register import AuditRegister, EntryDraft
from api.storage.engine import make_engine
from api.storage.migrate import current_revision, downgrade, head_revision, upgrade
from api.storage.tables import metadata, register_entries
from tests.support.api import trace_body

SET_UP = 3
"""Entries before the first request: the policy note, and the requester's organisation and client added."""


def _fill(api, requester_key, people, n: int = 6) -> None:
    for i in range(n):
        person = people["ordinary"] if i % 2 == 0 else people["restricted"]
        assert api.trace(trace_body(person), requester_key).status_code == 200


def test_every_answer_has_its_entry_and_the_chain_verifies(api, requester_key, people):
    answers = [api.trace(trace_body(people["ordinary"]), requester_key).json() for _ in range(3)]
    entries = api.entries()
    assert [(e.sequence, e.trace_id) for e in entries] == [(a["register_sequence"], a["trace_id"]) for a in answers]
    assert [e.sequence for e in entries] == [4, 5, 6]  # 1: the policy note; 2, 3: the requester added
    first = entries[0].draft
    assert (first.requesting_officer, first.requesting_grade) == ("HO-EO-1182", "EO")
    assert (first.authorising_officer, first.authorising_grade) == ("HO-HEO-0407", "HEO")
    assert (first.category, first.offence, first.policy_version) == (1, "s24(1)(b)(i)", "mou-2018-05")
    result = api.components.service.register.verify()
    assert result.ok and result.entries == SET_UP + 3 and result.head_hash == entries[-1].entry_hash


def test_the_register_holds_no_plaintext_about_the_subject(api, requester_key, people):
    person = people["ordinary"]
    answer = api.trace(trace_body(person), requester_key).json()
    with api.components.engine.connect() as connection:
        rows = connection.execute(select(register_entries)).all()
    stored = repr([tuple(r) for r in rows]).upper()
    disclosed = answer["disclosure"]
    for value in (
        person["family_name"],
        person["given_name"],
        person["date_of_birth"].isoformat(),
        person["postcode"],
        person["nhs_number"],
        disclosed["last_known_address"]["lines"][0],
        disclosed["gp_practice"]["code"],
    ):
        assert value.upper() not in stored


@pytest.mark.parametrize(
    "tamper, problem",
    [
        (
            lambda c: c.execute(
                update(register_entries).where(register_entries.c.sequence == 3).values(outcome="not_found")
            ),
            "entry 3 was changed",
        ),
        (lambda c: c.execute(delete(register_entries).where(register_entries.c.sequence == 3)), "entry 3 is missing"),
        (lambda c: c.execute(delete(register_entries).where(register_entries.c.sequence == 1)), "entry 1 is missing"),
        (
            lambda c: [
                c.execute(update(register_entries).where(register_entries.c.sequence == a).values(sequence=b))
                for a, b in ((3, 100), (4, 3), (100, 4))
            ],
            "entry 3 does not follow entry 2",
        ),
    ],
    ids=["changed", "removed", "first-removed", "reordered"],
)
def test_verify_finds_the_first_broken_link(api, requester_key, people, tamper, problem):
    _fill(api, requester_key, people)
    register = api.components.service.register
    assert register.verify().ok
    with api.components.engine.begin() as connection:
        tamper(connection)
    result = register.verify()
    assert not result.ok and result.problem.startswith(problem)


def test_an_anchor_catches_removed_newest_entries(api, requester_key, people):
    _fill(api, requester_key, people)
    register = api.components.service.register
    head = register.verify()
    anchor = (head.head_sequence, head.head_hash)
    assert register.verify(anchor).ok
    with api.components.engine.begin() as connection:
        connection.execute(delete(register_entries).where(register_entries.c.sequence >= 5))
    assert register.verify().ok  # a shorter chain is still a chain...
    truncated = register.verify(anchor)
    assert not truncated.ok and "before the anchor" in truncated.problem  # ...but not the one anchored


def test_a_chain_rewritten_without_the_key_does_not_verify(api, requester_key, people):
    from matcher.protection.keys import MasterKey

    _fill(api, requester_key, people, 2)
    forger = AuditRegister(api.components.engine, MasterKey.generate())
    forger.append(EntryDraft("forged", 1, "someone", "traced", 200), dt.datetime.now(dt.UTC))
    result = api.components.service.register.verify()
    assert not result.ok and result.broken_at == SET_UP + 3  # after the set-up and the two answers


def test_register_verify_command_exits_nonzero_on_a_broken_chain(api, requester_key, people, database_url):
    _fill(api, requester_key, people, 3)
    env = {**os.environ, "DATABASE_URL": database_url}
    command = [sys.executable, "-m", "api", "register", "verify"]
    ok = subprocess.run(command, env=env, capture_output=True, text=True)
    assert ok.returncode == 0 and "register intact: 6 entries" in ok.stdout  # the set-up and 3 answers
    head = ok.stdout.split("head ")[1].strip()
    with api.components.engine.begin() as connection:  # the newest entry removed: what is left is a valid chain...
        connection.execute(delete(register_entries).where(register_entries.c.sequence == 6))
    truncated = subprocess.run(command, env=env, capture_output=True, text=True)  # ...but not the one the head file
    assert truncated.returncode == 1 and "before the head file's entry 6" in truncated.stdout  # names
    anchored = subprocess.run([*command, "--anchor", head], env=env, capture_output=True, text=True)
    assert anchored.returncode == 1 and "before the anchor 6" in anchored.stdout
    with api.components.engine.begin() as connection:
        connection.execute(update(register_entries).where(register_entries.c.sequence == 2).values(client_id=99))
    broken = subprocess.run(command, env=env, capture_output=True, text=True)
    assert broken.returncode == 1 and "BROKEN at entry 2" in broken.stdout


def test_no_register_entry_means_no_disclosure(api, requester_key, people):
    with api.components.engine.begin() as connection:
        connection.execute(text("DROP TABLE register_entries"))
    response = api.trace(trace_body(people["ordinary"]), requester_key)
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["retry-after"]
    assert people["ordinary"]["address_line_1"] not in response.text
    assert people["ordinary"]["gp_practice_code"] not in response.text
    assert "disclosure" not in response.json()


def test_concurrent_requests_keep_one_unbroken_chain(api, requester_key, people):
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(8) as pool:
        codes = list(
            pool.map(lambda _: api.trace(trace_body(people["ordinary"]), requester_key).status_code, range(40))
        )
    assert codes == [200] * 40
    result = api.components.service.register.verify()
    assert result.ok and result.entries == SET_UP + 40


def test_migrations_build_exactly_the_schema_the_code_uses_and_undo_it(database_url):
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    engine = make_engine(database_url)
    try:
        assert current_revision(engine) is None
        upgrade(engine)
        assert current_revision(engine) == head_revision()
        with engine.connect() as connection:
            assert compare_metadata(MigrationContext.configure(connection), metadata) == []
        downgrade(engine)
        assert not set(inspect(engine).get_table_names()) & set(metadata.tables)
        upgrade(engine)
        assert set(metadata.tables) <= set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_the_service_refuses_a_stale_schema_when_told_not_to_migrate(database_url, tracer, master_key):
    from api.settings import Settings
    from api.storage.migrate import SchemaOutOfDate
    from api.wiring import build_components

    with pytest.raises(SchemaOutOfDate, match="python -m api db upgrade"):
        build_components(
            Settings(database_url=database_url, migrate_on_start=False), key=master_key, tracer=tracer
        ).engine.dispose()
