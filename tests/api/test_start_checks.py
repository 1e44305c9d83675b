"""What the start checks besides the head file (issue 17): the schema is not older than the one the service last
ran on, the database has no trigger, rule or row security the service did not create, and every entry's keyed hash
holds. The hash is put together faster than ``json.dumps`` does it, to the same bytes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from api.audit.entry import LATER_FIELDS
from api.audit.hashing import canonical_json
from api.audit.head import HeadFile, head_path
from api.audit.register import RegisterHeadError
from api.storage.foreign import foreign_objects
from api.storage.migrate import head_revision, set_back
from matcher.protection.keys import MasterKey
from tests.support.api import ApiHarness

REPO = Path(__file__).resolve().parents[2]

_values = st.one_of(st.none(), st.text(), st.integers(-(2**63), 2**63), st.text(alphabet='"\\\x00\x1f\u2028é😀'))


@settings(suppress_health_check=[HealthCheck.too_slow], deadline=None)  # a busy machine, not the data
@given(st.dictionaries(st.sampled_from([*sorted(LATER_FIELDS), "a", "outcome", "é", "entry_hash", "z"]), _values))
def test_the_canonical_json_is_json_dumps_of_the_hashed_content(row):
    content = {k: v for k, v in row.items() if k != "entry_hash" and not (k in LATER_FIELDS and v is None)}
    expected = json.dumps(content, sort_keys=True, separators=(",", ":"))
    assert canonical_json(tuple(row), tuple(row.values())) == expected


def test_a_fresh_database_has_nothing_foreign_and_the_head_file_names_its_schema(api, master_key):
    assert foreign_objects(api.components.engine) == []
    head = HeadFile(head_path(api.settings.database_url, api.settings.register_head_dir), master_key)
    assert head.read().schema == head_revision()
    assert set_back(api.components.engine, head_revision()) is None
    assert set_back(api.components.engine, "0004") is None  # a newer database than the file says: migrated since
    assert "does not know" in set_back(api.components.engine, "9999")


def _as_format_1(head: HeadFile, key) -> None:
    """The head file rewritten as the code of migrations 0005 and 0006 wrote it: no schema, format 1's MAC."""
    import hashlib
    import hmac

    current = head.read()
    old = {"sequence": current.sequence, "entry_hash": current.entry_hash, "written_at": current.written_at}
    message = json.dumps({"format": 1, **old}, sort_keys=True, separators=(",", ":")).encode()
    mac = hmac.new(key.derive("register-head"), message, hashlib.sha256).hexdigest()
    head.path.write_text(json.dumps({"format": 1, **old, "mac": mac}))


def _head(api: ApiHarness, key) -> HeadFile:
    return HeadFile(head_path(api.settings.database_url, api.settings.register_head_dir), key)


def test_a_format_1_head_file_is_read_and_brought_to_this_schema_at_start(api, master_key):
    """A head file written before it named the schema still counts (as of 0006, the last revision whose code wrote
    format 1); the next start writes the schema into it."""
    head = _head(api, master_key)
    sequence = head.read().sequence
    _as_format_1(head, master_key)
    assert head.read().schema == "0006" and head.read().sequence == sequence
    url, tracer = api.settings.database_url, api.components.service.tracer
    api.close()
    ApiHarness(url, tracer, master_key).close()
    assert head.read().schema == head_revision()


def test_an_old_format_1_head_file_put_back_does_not_let_0006_run_again(api, master_key):
    """An operator keeps a format 1 copy of the head file (which names no schema) and puts it back with the schema
    set back to 0005: read as of 0006, it still refuses the re-run."""
    head = _head(api, master_key)
    _as_format_1(head, master_key)
    with api.components.engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '0005'"))
    url, tracer = api.settings.database_url, api.components.service.tracer
    api.close()
    with pytest.raises(RegisterHeadError, match="at revision 0005, but the service has run on it at revision 0006"):
        ApiHarness(url, tracer, master_key)


def test_a_register_that_never_had_a_head_file_is_migrated_only_on_the_key_holders_word(api, database_url):
    """No head file and entries, at an older revision: `db upgrade` refuses (it might be a file moved aside for one
    start); with --no-head-file it migrates, and `register adopt-head` then gives the register its head."""
    _head(api, MasterKey.generate()).path.unlink()
    with api.components.engine.begin() as connection:
        connection.execute(text("DROP INDEX register_entries_concerns"))
        connection.execute(text("UPDATE alembic_version SET version_num = '0006'"))
    api.close()
    refused = _command(database_url, "db", "upgrade")
    assert refused.returncode == 2 and "no head file" in refused.stderr and "--no-head-file" in refused.stderr
    upgraded = _command(database_url, "db", "upgrade", "--no-head-file")
    assert upgraded.returncode == 0, upgraded.stderr
    assert f"database at revision {head_revision()}" in upgraded.stdout
    adopted = _command(database_url, "register", "adopt-head")
    assert adopted.returncode == 0 and "head_file_missing" not in adopted.stderr, adopted.stdout + adopted.stderr


def _command(database_url: str, *arguments: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": database_url}
    return subprocess.run([sys.executable, "-m", "api", *arguments], cwd=REPO, env=env, capture_output=True, text=True)


def test_register_verify_names_a_foreign_trigger(api, database_url):
    with api.components.engine.begin() as connection:
        if api.components.engine.dialect.name == "postgresql":
            connection.execute(
                text("CREATE FUNCTION redteam_noop() RETURNS trigger AS $$ BEGIN RETURN NEW; END $$ LANGUAGE plpgsql")
            )
            connection.execute(
                text(
                    "CREATE TRIGGER redteam_noop BEFORE INSERT ON clients FOR EACH ROW EXECUTE FUNCTION redteam_noop()"
                )
            )
            connection.execute(text("CREATE RULE redteam_rule AS ON DELETE TO reviews DO INSTEAD NOTHING"))
        else:
            connection.execute(text("CREATE TRIGGER redteam_noop BEFORE INSERT ON clients BEGIN SELECT 1; END"))
    verify = _command(database_url, "register", "verify")
    assert verify.returncode == 1, verify.stdout + verify.stderr
    assert "FOREIGN trigger redteam_noop on clients" in verify.stdout
    if api.components.engine.dialect.name == "postgresql":
        assert "FOREIGN rule redteam_rule on reviews" in verify.stdout


def test_a_trigger_hidden_in_the_catalogue_is_still_found(api):
    """Marked internal in pg_trigger (a superuser's edit) or retyped in sqlite_master (writable_schema), a trigger
    still fires: the check must still name it."""
    engine = api.components.engine
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(
                text("CREATE FUNCTION redteam_noop() RETURNS trigger AS $$ BEGIN RETURN NEW; END $$ LANGUAGE plpgsql")
            )
            connection.execute(
                text(
                    "CREATE TRIGGER redteam_hidden BEFORE UPDATE ON reviews FOR EACH ROW "
                    "EXECUTE FUNCTION redteam_noop()"
                )
            )
            connection.execute(
                text("UPDATE pg_catalog.pg_trigger SET tgisinternal = true WHERE tgname = 'redteam_hidden'")
            )
        else:
            connection.execute(text("CREATE TRIGGER redteam_hidden AFTER UPDATE ON reviews BEGIN SELECT 1; END"))
            connection.execute(text("PRAGMA writable_schema = ON"))
            connection.execute(text("UPDATE sqlite_master SET type = 'Trigger' WHERE name = 'redteam_hidden'"))
            connection.execute(text("PRAGMA writable_schema = OFF"))
    engine.dispose()  # SQLite reads its schema again
    assert foreign_objects(engine) == ["trigger redteam_hidden on reviews"]
