"""The register's head file (``api.audit.head``): a register that shrinks, forks or is rewritten behind the service is
refused at start, by ``register verify`` and by the running service; a head file altered or missing is refused
too; a clean restart and several processes on one database still work.

Every attack is made as the insider of issue 17 would: write access to the database and to the directory of the
head file, not the master key. The last tests pin down what that insider can still do undetected (SECURITY.md).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import delete, func, insert, select

from api.audit.head import STATE_DIR, HeadFile, head_path
from api.audit.outcomes import RegisterOutcome
from api.audit.register import AuditRegister, RegisterHeadError, RegisterUnavailable
from api.storage.tables import register_entries
from api.usecases.service import SERVICE, TraceService
from api.wiring import build_components
from matcher.protection.keys import MasterKey
from tests.support.api import ApiHarness, trace_body

REPO = Path(__file__).resolve().parents[2]


def _append(api: ApiHarness, n: int, batch: int = 40) -> int:
    """``n`` entries (service notes) in batches, as requests that arrive together are written; the newest sequence."""
    register = api.components.service.register
    for start in range(0, n, batch):
        drafts = [TraceService.draft(SERVICE, RegisterOutcome.STATUS_READ, 200) for _ in range(min(batch, n - start))]
        entries = register.append_many(drafts, api.clock())
    return entries[-1].sequence


def _remove(api: ApiHarness, first: int) -> None:
    """The insider's truncation: every entry from sequence ``first`` on."""
    with api.components.engine.begin() as connection:
        connection.execute(delete(register_entries).where(register_entries.c.sequence >= first))


def _start(api: ApiHarness, key: MasterKey, tracer):
    """The start path the tests and ``python -m api serve`` share (``build_components``), on the same database and
    head file; the components are closed again."""
    components = build_components(api.settings, key=key, tracer=tracer, clock=api.clock)
    components.engine.dispose()
    return components


def _head_file(api: ApiHarness, key: MasterKey) -> HeadFile:
    return HeadFile(head_path(api.settings.database_url, api.settings.register_head_dir), key)


def _command(database_url: str, *arguments: str) -> subprocess.CompletedProcess:
    """``python -m api register ...`` on the database, with the session's key and head directory."""
    env = {**os.environ, "DATABASE_URL": database_url}
    return subprocess.run(
        [sys.executable, "-m", "api", "register", *arguments], cwd=REPO, env=env, capture_output=True, text=True
    )


def _refused(api: ApiHarness, key: MasterKey, tracer, database_url: str, message: str) -> None:
    """Start fails naming the problem, and ``register verify`` exits 1."""
    with pytest.raises(RegisterHeadError, match=message) as raised:
        _start(api, key, tracer)
    assert "register adopt-head" in str(raised.value)  # and says what an operator can do
    verify = _command(database_url, "verify")
    assert verify.returncode == 1 and "BROKEN" in verify.stdout, verify.stdout


# Where the head file lives.


def test_each_database_has_a_head_file_of_its_own(tmp_path):
    postgres = "postgresql+psycopg://user:secret@db.example:5432/tracing"
    beside = head_path(f"sqlite:///{tmp_path / 'a' / 'state.db'}")
    assert beside.parent == tmp_path / "a" and beside.name.startswith("register-head-")  # beside the SQLite file
    assert head_path(f"sqlite:///{tmp_path / 'b' / 'state.db'}").name != beside.name  # another file, another name
    assert head_path(postgres).parent == STATE_DIR
    assert head_path(postgres, tmp_path) == tmp_path / head_path(postgres).name  # TRACING_REGISTER_HEAD_DIR
    assert head_path(postgres) == head_path(postgres.replace("secret", "rotated").replace("+psycopg", ""))
    assert head_path(postgres) != head_path(f"{postgres}?options=-csearch_path%3Dother")  # a schema of its own
    assert head_path("sqlite://") is None and head_path("sqlite:///:memory:") is None  # nothing outlives it


def test_the_setting_moves_the_head_file(tmp_path):
    from api.settings import Settings

    settings = Settings.from_environment({"TRACING_REGISTER_HEAD_DIR": str(tmp_path)})
    assert settings.register_head_dir == tmp_path
    assert Settings.from_environment({}).register_head_dir is None
    assert settings.describe()["register head"] == str(head_path(settings.database_url, tmp_path))


# The normal path.


def test_every_answer_is_covered_by_the_head_file_before_it_leaves(api, requester_key, people, master_key):
    head = _head_file(api, master_key)
    for _ in range(4):
        answer = api.trace(trace_body(people["ordinary"]), requester_key).json()
        checkpoint = head.read()
        assert checkpoint.sequence == answer["register_sequence"]
        assert checkpoint.entry_hash == api.components.service.register.newest().entry_hash


def test_a_restart_after_a_clean_stop_starts(api, requester_key, people, master_key, tracer, database_url):
    api.trace(trace_body(people["ordinary"]), requester_key)
    newest = _append(api, 30)
    api.close()
    restarted = ApiHarness(database_url, tracer, master_key)
    try:
        again = restarted.add_client("requester", name="again")  # its organisation and itself: two entries
        answer = restarted.trace(trace_body(people["ordinary"]), again)
        assert answer.json()["register_sequence"] == newest + 3  # the numbering goes on, nothing reused
        assert _head_file(restarted, master_key).read().sequence == newest + 3
    finally:
        restarted.close()
    verify = _command(database_url, "verify")
    assert verify.returncode == 0
    assert f"head file {_head_file(api, master_key).path}: entry {newest + 3}" in verify.stdout


_WRITER = """
import datetime as dt, sys
from api.settings import Settings
from api.storage.engine import make_engine
from api.wiring import open_register
from api.audit.outcomes import RegisterOutcome
from api.usecases.service import SERVICE, TraceService
from matcher.protection.keys import load_master_key

settings = Settings.from_environment()
engine = make_engine(settings.database_url)
register = open_register(settings, engine, load_master_key())
for _ in range(int(sys.argv[1])):
    register.append(TraceService.draft(SERVICE, RegisterOutcome.STATUS_READ, 200), dt.datetime.now(dt.UTC))
engine.dispose()
"""


def test_several_processes_appending_keep_one_chain_and_one_head(api, master_key, database_url):
    env = {**os.environ, "DATABASE_URL": database_url}
    writers = [
        subprocess.Popen([sys.executable, "-c", _WRITER, "40"], cwd=REPO, env=env, stderr=subprocess.PIPE, text=True)
        for _ in range(3)
    ]
    _append(api, 40, batch=1)  # and this process, meanwhile
    for writer in writers:
        assert writer.wait(timeout=120) == 0, writer.stderr.read()
    register = api.components.service.register
    result = register.verify()
    assert result.ok and result.entries == 1 + 4 * 40  # the policy note
    assert _head_file(api, master_key).read().sequence == result.head_sequence  # the newest, whoever wrote it
    assert _append(api, 1) == result.head_sequence + 1  # and this process carries on after the others


def test_a_brand_new_register_starts_its_head_file(api, master_key):
    checkpoint = _head_file(api, master_key).read()
    assert (checkpoint.sequence, checkpoint.entry_hash) == (1, api.components.service.register.newest().entry_hash)


def test_entries_written_after_the_last_checkpoint_are_covered_at_the_next_start(api, master_key, tracer):
    """A crash between a commit and its checkpoint leaves the database ahead of the file: allowed, and the file
    catches up at start (the entries after it follow it)."""
    head = _head_file(api, master_key)
    before = head.read()
    _append(api, 5)
    head.replace(before.sequence, before.entry_hash)  # as if the checkpoint of the 5 had not been written
    _start(api, master_key, tracer)
    assert head.read().sequence == before.sequence + 5


# Entries removed.


def test_removing_the_newest_hundred_entries_is_refused(api, master_key, tracer, database_url):
    newest = _append(api, 130)
    _remove(api, newest - 99)
    _refused(api, master_key, tracer, database_url, f"ends at entry {newest - 100}, but its head file names entry")
    assert f"before the head file's entry {newest}" in _command(database_url, "verify").stdout


def test_removing_every_entry_is_refused(api, master_key, tracer, database_url):
    newest = _append(api, 20)
    _remove(api, 1)
    _refused(api, master_key, tracer, database_url, f"the register is empty, but its head file names entry {newest}")


def test_removing_entries_from_within_is_refused_at_start(api, master_key, tracer, database_url):
    """The newest entries kept, some before them removed: the count is short of the newest sequence."""
    _append(api, 30)
    with api.components.engine.begin() as connection:
        connection.execute(delete(register_entries).where(register_entries.c.sequence.between(5, 9)))
    _refused(api, master_key, tracer, database_url, "holds 26 entries but its newest is entry 31")


def test_the_running_service_refuses_to_answer_once_entries_are_removed(api, requester_key, people):
    answers = [api.trace(trace_body(people["ordinary"]), requester_key).json() for _ in range(3)]
    _remove(api, answers[1]["register_sequence"])
    for _ in range(2):  # and keeps refusing: sequence numbers handed out are never handed out again
        response = api.trace(trace_body(people["ordinary"]), requester_key)
        assert response.status_code == 503 and "disclosure" not in response.json()
        assert people["ordinary"]["address_line_1"] not in response.text
    assert api.components.service.register.newest().sequence == answers[0]["register_sequence"]


# Forks: entries removed and the register written on from the shorter chain.


def test_a_fork_written_after_a_removal_is_refused(api, master_key, tracer, database_url):
    """As on main, where the service reused the removed sequence numbers: here a writer that keeps no head file."""
    newest = _append(api, 30)
    _remove(api, newest - 9)
    writer = AuditRegister(api.components.engine, master_key)  # with the key, blind to the head file
    for _ in range(15):
        writer.append(TraceService.draft(SERVICE, RegisterOutcome.STATUS_READ, 200), dt.datetime.now(dt.UTC))
    assert writer.verify().ok  # a valid chain, longer than the head file's: only the head file shows the fork
    _refused(api, master_key, tracer, database_url, f"entry {newest} is not the one the head file names")
    assert f"entry {newest} is not the head file's entry" in _command(database_url, "verify").stdout


def test_a_second_process_that_forks_the_register_is_stopped(api, master_key, tracer, database_url):
    """Another process started before the removal knows only the older head; it writes past the removed entries in
    one batch, and finds at its checkpoint that the head file names an entry its chain does not have."""
    other = ApiHarness(database_url, tracer, master_key)
    try:
        newest = _append(api, 30)
        _remove(api, newest - 9)
        with pytest.raises(RegisterUnavailable, match=f"names another entry {newest}"):
            _append(other, 15, batch=15)
        with pytest.raises(RegisterUnavailable):  # and it stays stopped
            _append(other, 1)
    finally:
        other.close()
    _refused(api, master_key, tracer, database_url, f"entry {newest} is not the one the head file names")


# The head file altered, replaced or missing.


def _edit(change):
    def harm(path: Path, key: MasterKey) -> None:
        document = json.loads(path.read_text())
        change(document)
        path.write_text(json.dumps(document))

    return harm


def _from_another_key(path: Path, key: MasterKey) -> None:
    other = HeadFile(path, MasterKey.generate())
    document = json.loads(path.read_text())
    other.replace(document["sequence"] - 10, document["entry_hash"])


EDITS = {
    "sequence lowered": (_edit(lambda d: d.update(sequence=d["sequence"] - 10)), "fails its check"),
    "hash changed": (_edit(lambda d: d.update(entry_hash="f" * 64)), "fails its check"),
    "time changed": (_edit(lambda d: d.update(written_at="2020-01-01T00:00:00+00:00")), "fails its check"),
    "mac changed": (_edit(lambda d: d.update(mac="0" * 64)), "fails its check"),
    "mac removed": (_edit(lambda d: d.pop("mac")), "is not a register head file"),
    "signed with another key": (_from_another_key, "fails its check"),
    "garbage": (lambda path, key: path.write_bytes(b"\x00garbage"), "is not a register head file"),
    "emptied": (lambda path, key: path.write_bytes(b""), "is not a register head file"),
    "a directory": (lambda path, key: (path.unlink(), path.mkdir()), "cannot be read"),
}


@pytest.mark.parametrize("edit", EDITS)
def test_an_altered_head_file_is_refused(api, master_key, tracer, database_url, edit):
    _append(api, 20)
    harm, message = EDITS[edit]
    harm(_head_file(api, master_key).path, master_key)
    _refused(api, master_key, tracer, database_url, message)


def test_a_missing_head_file_is_refused_until_an_operator_adopts_the_head(api, master_key, tracer, database_url):
    newest = _append(api, 20)
    head = _head_file(api, master_key)
    head.path.unlink()
    _refused(api, master_key, tracer, database_url, "the register has entries but no head file")
    adopted = _command(database_url, "adopt-head")
    assert adopted.returncode == 0 and f"recorded as entry {newest + 1}" in adopted.stdout, adopted.stdout
    entry = api.components.service.register.newest()
    assert (entry.draft.outcome, entry.draft.refusal_codes) == (RegisterOutcome.HEAD_ADOPTED, ("head_file_missing",))
    assert head.read().sequence == newest + 1
    _start(api, master_key, tracer)
    assert _command(database_url, "verify").returncode == 0
    again = _command(database_url, "adopt-head")
    assert again.returncode == 0 and "nothing to adopt" in again.stdout


def test_adopting_over_a_disagreeing_head_file_takes_replace_and_a_whole_chain(api, master_key, tracer, database_url):
    """After a restore from a backup, say: the operator must say so, and the register records it."""
    newest = _append(api, 20)
    _remove(api, newest - 4)
    refused = _command(database_url, "adopt-head")
    assert refused.returncode == 1 and "entries were removed" in refused.stdout and "--replace" in refused.stdout
    adopted = _command(database_url, "adopt-head", "--replace")
    assert adopted.returncode == 0 and f"recorded as entry {newest - 4}" in adopted.stdout
    assert api.components.service.register.newest().draft.refusal_codes == ("head_file_disagreed",)
    _start(api, master_key, tracer)
    with api.components.engine.begin() as connection:  # a chain that does not verify is never adopted
        connection.execute(delete(register_entries).where(register_entries.c.sequence == 3))
    broken = _command(database_url, "adopt-head", "--replace")
    assert broken.returncode == 1 and "nothing adopted" in broken.stdout


def test_serve_refuses_to_start_on_a_shortened_register(api, master_key, served_index, database_url):
    newest = _append(api, 10)
    _remove(api, newest - 4)
    env = {**os.environ, "DATABASE_URL": database_url, "TRACING_INDEX_DIR": str(served_index)}
    done = subprocess.run(
        [sys.executable, "-m", "api", "serve"], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert f"error: the register ends at entry {newest - 5}, but its head file names entry {newest}" in done.stderr


@pytest.fixture(scope="module")
def served_index(trained_index, tmp_path_factory) -> Path:
    """An index on disk for ``python -m api serve`` (the session's: the service refuses an untrained one)."""
    path = tmp_path_factory.mktemp("served") / "index"
    trained_index.save(path)
    return path


# The insider: write access to the database and the head file's directory, not the key.


def test_an_older_head_file_with_a_truncation_below_it_is_refused(api, master_key, tracer, database_url):
    head = _head_file(api, master_key)
    kept = _append(api, 20)
    old = head.path.read_bytes()  # a copy taken earlier (a backup of the state directory)
    _append(api, 20)
    head.path.write_bytes(old)
    _remove(api, kept - 5)
    _refused(api, master_key, tracer, database_url, f"ends at entry {kept - 6}, but its head file names entry {kept}")


def test_forged_entries_in_place_of_removed_ones_are_refused(api, master_key, tracer, database_url):
    """The removed entries put back as rows the insider made up (copies of an old entry, renumbered and re-linked):
    without the key their hashes cannot be right."""
    newest = _append(api, 20)
    with api.components.engine.begin() as connection:
        template = connection.execute(select(register_entries).where(register_entries.c.sequence == 2)).one()
        connection.execute(delete(register_entries).where(register_entries.c.sequence > newest - 3))
        for sequence in range(newest - 2, newest + 1):
            previous = connection.execute(
                select(register_entries.c.entry_hash).where(register_entries.c.sequence == sequence - 1)
            ).scalar()
            forged_hash = "f" * 64 if sequence < newest else _head_file(api, master_key).read().entry_hash
            row = {**template._asdict(), "sequence": sequence, "trace_id": f"forged-{sequence}"}
            row.update(previous_hash=previous, entry_hash=forged_hash)
            connection.execute(insert(register_entries), [row])
    _refused(api, master_key, tracer, database_url, f"entry {newest} is not the one the head file names")


def test_a_head_file_of_another_database_is_refused(api, master_key, tracer, database_url, tmp_path):
    """Two registers under one key (a staging copy, say): the other's valid head file names another chain."""
    _append(api, 20)
    other = ApiHarness(f"sqlite:///{tmp_path / 'other.db'}", tracer, master_key, register_head_dir=tmp_path)
    try:
        _append(other, 10)
        shutil.copy(_head_file(other, master_key).path, _head_file(api, master_key).path)
    finally:
        other.close()
    _refused(api, master_key, tracer, database_url, "entry 11 is not the one the head file names")


def test_a_head_file_removed_while_the_service_runs_stops_its_answers(api, requester_key, people, master_key):
    api.trace(trace_body(people["ordinary"]), requester_key)
    _head_file(api, master_key).path.unlink()
    response = api.trace(trace_body(people["ordinary"]), requester_key)
    assert response.status_code == 503 and "disclosure" not in response.json()
    assert not _head_file(api, master_key).path.exists()  # and it was not quietly made anew


def test_a_head_file_rolled_back_while_the_service_runs_stops_its_answers(api, requester_key, people, master_key):
    head = _head_file(api, master_key)
    api.trace(trace_body(people["ordinary"]), requester_key)
    old = head.path.read_bytes()
    api.trace(trace_body(people["ordinary"]), requester_key)
    head.path.write_bytes(old)
    response = api.trace(trace_body(people["ordinary"]), requester_key)
    assert response.status_code == 503 and "disclosure" not in response.json()


def test_insider_limit_an_older_head_file_with_a_truncation_to_it_is_not_detected(api, master_key, tracer):
    """Not detected (SECURITY.md): an earlier valid copy of the head file, and the register cut back to exactly
    the entry it names, are what the register and its file looked like then. Another store or an external witness
    of the head would tell."""
    head = _head_file(api, master_key)
    kept = _append(api, 20)
    old = head.path.read_bytes()
    _append(api, 20)
    head.path.write_bytes(old)
    _remove(api, kept + 1)
    components = build_components(api.settings, key=master_key, tracer=tracer, clock=api.clock)
    try:  # it starts: the 20 newest entries are gone unseen, and their numbers are given out again
        assert components.service.register.append(TraceService.draft(SERVICE, RegisterOutcome.STATUS_READ, 200),
                                                  api.clock()).sequence == kept + 1  # fmt: skip
    finally:
        components.engine.dispose()


def test_insider_limit_a_register_wiped_with_its_head_file_looks_new(api, master_key, tracer):
    """Not detected (SECURITY.md): no register and no head file is a new deployment."""
    _append(api, 20)
    _remove(api, 1)
    _head_file(api, master_key).path.unlink()
    _start(api, master_key, tracer)
    with api.components.engine.connect() as connection:
        assert connection.execute(select(func.max(register_entries.c.sequence))).scalar() == 1
