"""The database engine for a DATABASE_URL: SQLite for the embedded default, PostgreSQL through psycopg."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError


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


def database_answers(engine: Engine) -> bool:
    """Whether the database answers a query now: the service is ready only if it does."""
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError:
        return False
    return True
