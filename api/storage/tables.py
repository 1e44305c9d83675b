"""The service's tables (SQLAlchemy Core) and the engine for a DATABASE_URL.

The schema itself is created and changed only by the Alembic migrations in ``api/migrations``; these table
objects are what the code queries with, and a test checks that the migrations produce exactly them.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import (
    BigInteger,
    Column,
    Engine,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
)
from sqlalchemy.engine import make_url

metadata = MetaData()

clients = Table(
    "clients",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(100), nullable=False, unique=True),
    Column("role", String(20), nullable=False),
    # Keys are "trc_<key_id>_<secret>": the id finds the row, the SHA-256 of the whole key proves it.
    Column("key_id", String(24), nullable=False, unique=True),
    Column("key_hash", String(64), nullable=False),
    Column("rate_per_minute", Integer, nullable=True),  # None: the service's default
    Column("organisation", String(100), nullable=True),  # None: the client is its own organisation
    Column("created_at", String(32), nullable=False),
    Column("revoked_at", String(32), nullable=True),
)

register_entries = Table(
    "register_entries",
    metadata,
    Column("sequence", BigInteger, primary_key=True, autoincrement=False),
    Column("trace_id", String(36), nullable=False, unique=True),
    # ISO 8601 UTC text, so that the chained hash reads back byte for byte on every database.
    Column("recorded_at", String(32), nullable=False),
    Column("client_id", Integer, nullable=False),
    Column("client_name", String(100), nullable=False),
    Column("requesting_officer", String(64), nullable=True),
    Column("requesting_grade", String(8), nullable=True),
    Column("authorising_officer", String(64), nullable=True),
    Column("authorising_grade", String(8), nullable=True),
    Column("policy_version", String(32), nullable=True),
    Column("category", Integer, nullable=True),
    Column("offence", String(32), nullable=True),
    Column("subject_token", String(64), nullable=True),  # keyed token, never the subject's details
    Column("outcome", String(20), nullable=False),
    Column("refusal_codes", Text, nullable=False),  # JSON list
    Column("fields_disclosed", Text, nullable=False),  # JSON list of field names, never their values
    Column("http_status", Integer, nullable=False),
    Column("concerns", String(36), nullable=True),  # the trace a review step or collection is about
    Column("previous_hash", String(64), nullable=False),
    Column("entry_hash", String(64), nullable=False),
)


reviews = Table(
    "reviews",
    metadata,
    Column("trace_id", String(36), primary_key=True),
    Column("client_id", Integer, nullable=False),  # the requester
    Column("organisation", String(100), nullable=False),
    Column("reason", String(20), nullable=False),  # welfare, restricted, ambiguous, near_threshold
    Column("policy_version", String(32), nullable=False),
    Column("created_at", String(32), nullable=False),
    # The request, the policy checks and the candidates' explanations, sealed (AES-GCM): no plaintext at rest.
    Column("sealed_case", LargeBinary, nullable=False),
    Column("state", String(20), nullable=False),  # pending, approved, refused
    Column("decided_at", String(32), nullable=True),
    Column("decided_by", Integer, nullable=True),
    # After approval, what the requester may collect once; emptied when collected.
    Column("sealed_disclosure", LargeBinary, nullable=True),
    Column("collected_at", String(32), nullable=True),
    # Past the policy's retention period the disclosures and the subject's details are dropped from the case.
    Column("expired_at", String(32), nullable=True),
    Index("reviews_state", "state", "created_at"),
)


def make_engine(database_url: str) -> Engine:
    """An engine for ``database_url``. SQLite files get write-ahead logging (readers never wait for the register's
    writer), full fsync on commit (a committed register entry survives a power cut) and a busy timeout."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    # A server that goes away without closing its connections (a partition) is given up on in seconds, not at the
    # operating system's default of many minutes: connect within 5 s, unanswered keepalives or unacknowledged data
    # for 15 s end the connection.
    connect_args = {
        "connect_timeout": 5,
        "keepalives": 1,
        "keepalives_idle": 5,
        "keepalives_interval": 2,
        "keepalives_count": 5,
        "tcp_user_timeout": 15_000,
    }
    return create_engine(url, pool_pre_ping=True, connect_args=connect_args)


def _sqlite_pragmas(connection, _record) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()
