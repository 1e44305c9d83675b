"""The register's head, checkpointed outside the database it describes: a small file, keyed and signed.

A hash chain cannot show that its newest entries were removed: what is left is a valid shorter chain. The head file
holds the newest entry the service has committed (its sequence and hash) under an HMAC made with a subkey of the master
key (``register-head``), so that whoever can write the database and the file but does not hold the key cannot forge one
(they can put an older copy back: what that leaves undetected is in SECURITY.md). The service compares the database with
it at start and the ``register verify`` command does too (``api.audit.register``): a register shorter than its head
file, or whose entry at the file's sequence has another hash, is refused.

It only ever advances: it is rewritten after each committed batch of entries, before their answers leave, under a file
lock (several processes may serve one database), and a process never writes a head older than the file's. Each write is
a temporary file renamed over the old one: a crash of the process leaves the old file or the new, and an old file is
still a true lower bound, because it is written only after the entries it names are committed. It is not forced to disk
(``fsync``): that is a second disk flush per batch beside the database's, for a guarantee the file does not need (that a
power cut cannot take it back a few seconds, as a copy put back by the insider does anyway). ext4 writes a file renamed
over another before the rename; one torn on another filesystem fails its MAC and is refused, never trusted. The one way
to lower it is ``python -m api register adopt-head``, which needs the key and is itself an entry.

Where: ``head_path(database_url, directory)``; by default beside the SQLite file, or in ``out/service`` for another
database (``Settings.register_head_dir`` moves it). The file's name is a fingerprint of the database (the SQLite file's
absolute path, or the URL without its password): it is the configuration, not the database's content, that chooses which
head file a database is compared with, so a register wiped together with any id it held still finds the file that
remembers it.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import hmac
import json
import os
import re
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

from matcher.protection.keys import MasterKey

FORMAT = 2
"""Format 2 adds the schema revision the service last ran on."""
_FORMATS = (1, 2)
FORMAT_1_SCHEMA = "0006"
"""What a format 1 file is read as having run on: format 1 was written only by the code of migrations 0005 and 0006,
which seal existing rows; read as of no revision, an old copy put back would let them run again."""
STATE_DIR = Path("out/service")
"""Where the head file of a database that is not a SQLite file lives unless told: the embedded default's directory."""
GENESIS_HASH = "0" * 64
_HASH = re.compile(r"[0-9a-f]{64}")


class HeadFileError(RuntimeError):
    """The head file is missing where one must be, unreadable, fails its MAC, or names another entry; the message
    says which and where (a path and sequence numbers, nothing about any request)."""


@dataclass(frozen=True)
class Checkpoint:
    sequence: int  # 0 for a register with no entry yet
    entry_hash: str  # GENESIS_HASH for sequence 0
    written_at: str  # ISO 8601 UTC, for the operator reading the file
    # The database schema's Alembic revision when the file was written: a database found at an older revision was
    # set back by hand, to have a migration that seals rows seal edited ones. (None: written by a reader's HeadFile.)
    schema: str | None = None


def head_path(database_url: str, directory: Path | None = None) -> Path | None:
    """The head file of the database at ``database_url``, in ``directory`` (default: beside a SQLite file, else
    ``STATE_DIR``); None for an in-memory database, which nothing outlives."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        if not url.database or url.database == ":memory:":
            return None
        database = Path(url.database).expanduser().absolute()
        identity, beside = f"sqlite:{database}", database.parent
    else:
        identity = url.set(drivername=url.get_backend_name()).render_as_string(hide_password=True)  # "***" for any
        beside = STATE_DIR
    fingerprint = hashlib.sha256(identity.encode()).hexdigest()[:16]
    return (directory or beside) / f"register-head-{fingerprint}.json"


class HeadFile:
    def __init__(self, path: Path, key: MasterKey, schema: str | None = None) -> None:
        """``schema``: the revision the service runs on, written into each checkpoint (None: a reader's, which
        never writes one)."""
        self.path = path
        self.schema = schema
        self._key = key.derive("register-head")
        self._lock_path = path.with_name(f".{path.name}.lock")

    def read(self) -> Checkpoint | None:
        """The checkpoint in the file; None if there is no file; HeadFileError if it is not one this key wrote."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as error:
            raise HeadFileError(f"the head file {self.path} cannot be read ({error.strerror})") from None
        try:
            document = json.loads(raw)
            mac, version = document["mac"], document["format"]
            schema = document["schema"] if version != 1 else FORMAT_1_SCHEMA
            checkpoint = Checkpoint(document["sequence"], document["entry_hash"], document["written_at"], schema)
        except (ValueError, TypeError, KeyError):
            raise HeadFileError(f"the head file {self.path} is not a register head file") from None
        known = version in _FORMATS and not isinstance(version, bool)
        expected = self._mac(checkpoint, version) if known else ""
        authentic = known and isinstance(mac, str) and hmac.compare_digest(mac.encode(), expected.encode())
        if not authentic:
            raise HeadFileError(f"the head file {self.path} fails its check: altered, or not written with this key")
        if not _well_formed(checkpoint):  # signed, so written by this code: only a future format could differ
            raise HeadFileError(f"the head file {self.path} is not a register head file")
        return checkpoint

    def start(self) -> Checkpoint:
        """The file of a register with no entry yet (sequence 0), unless another process has just written one."""
        with self._locked():
            return self.read() or self._write(0, GENESIS_HASH)

    def advance(self, sequence: int, entry_hash: str, confirm: Callable[[Checkpoint], str | None]) -> Checkpoint:
        """Raise the file to entry ``sequence`` (just committed) unless it is there or beyond already; the file's
        checkpoint afterwards. ``confirm(current)`` says what is wrong with the file's checkpoint as found, if
        anything (it is not in the writer's chain). HeadFileError if it has gone, fails its check or is wrong."""
        with self._locked():
            current = self.read()
            if current is None:
                raise HeadFileError(f"the head file {self.path} was removed while the service ran")
            problem = confirm(current)
            if problem is not None:
                raise HeadFileError(f"the head file {self.path} {problem}")
            if current.sequence >= sequence:
                if current.schema == self.schema or self.schema is None:
                    return current
                return self._write(current.sequence, current.entry_hash)  # the same entry, now at this revision
            return self._write(sequence, entry_hash)

    def replace(self, sequence: int, entry_hash: str) -> Checkpoint:
        """Write entry ``sequence`` whatever the file held: adopting a head (``register adopt-head``) only."""
        with self._locked():
            return self._write(sequence, entry_hash)

    def _write(self, sequence: int, entry_hash: str) -> Checkpoint:
        written_at = dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")
        checkpoint = Checkpoint(sequence, entry_hash, written_at, self.schema)
        document = {"format": FORMAT, **_fields(checkpoint, FORMAT), "mac": self._mac(checkpoint, FORMAT)}
        descriptor, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.")
        try:
            with os.fdopen(descriptor, "w") as out:
                out.write(json.dumps(document, indent=1) + "\n")
            os.replace(temporary, self.path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        return checkpoint

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """One writer at a time across processes: a read, a comparison and a write are one step."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX)
            yield
        finally:
            os.close(descriptor)  # closing releases the lock

    def _mac(self, checkpoint: Checkpoint, version: int) -> str:
        message = json.dumps({"format": version, **_fields(checkpoint, version)}, sort_keys=True, separators=(",", ":"))
        return hmac.new(self._key, message.encode(), hashlib.sha256).hexdigest()


def _fields(checkpoint: Checkpoint, version: int) -> dict:
    fields = {"sequence": checkpoint.sequence, "entry_hash": checkpoint.entry_hash, "written_at": checkpoint.written_at}
    return fields if version == 1 else fields | {"schema": checkpoint.schema}


def _well_formed(checkpoint: Checkpoint) -> bool:
    return (
        isinstance(checkpoint.sequence, int)
        and not isinstance(checkpoint.sequence, bool)
        and checkpoint.sequence >= 0
        and isinstance(checkpoint.entry_hash, str)
        and bool(_HASH.fullmatch(checkpoint.entry_hash))
        and isinstance(checkpoint.written_at, str)
        and (checkpoint.schema is None or isinstance(checkpoint.schema, str))
    )
