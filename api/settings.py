"""The service's configuration, in one place: environment variables with safe defaults.

Each setting is one field of ``Settings``: its default, the environment variable that overrides it and, for a
number, the bounds it must lie within are stated there and nowhere else; ``from_environment`` reads every field the
same way, by its type. An unset or empty variable leaves the default.

The master key is not here: ``matcher.protection.keys.load_master_key`` finds it (TRACING_MASTER_KEY,
TRACING_MASTER_KEY_FILE or the per-user key file), so that no key ever sits beside the settings that are safe to
print.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import Field, dataclass, field, fields
from pathlib import Path
from typing import Any, get_type_hints


class ConfigurationError(ValueError):
    """A setting is missing or malformed; the message names the variable and what it expects."""


def _env(variable: str, low: int | None = None, high: int | None = None) -> dict[str, Any]:
    """A field's metadata: it is read from ``variable``; a number must lie from ``low`` to ``high``."""
    return {"variable": variable, "bounds": (low, high)}


@dataclass(frozen=True)
class Settings:
    index_dir: Path = field(default=Path("out/demo/index"), metadata=_env("TRACING_INDEX_DIR"))
    # Embedded default: a SQLite file beside the demo output. Production: postgresql+psycopg://...
    database_url: str = field(default="sqlite:///out/service/tracing.db", metadata=_env("DATABASE_URL"))
    host: str = field(default="127.0.0.1", metadata=_env("TRACING_HOST"))  # loopback unless told otherwise
    port: int = field(default=8000, metadata=_env("TRACING_PORT", 1, 65_535))
    # Per client, unless the client was added with its own rate: sustained requests per minute and burst size.
    rate_per_minute: int = field(default=60, metadata=_env("TRACING_RATE_PER_MINUTE", 1, 1_000_000))
    rate_burst: int = field(default=10, metadata=_env("TRACING_RATE_BURST", 1, 1_000_000))
    # Enumeration: distinct variants of a request an organisation's clients may send about one record (or one name
    # with any date of birth) in a window; past them, each is held for review (``api.access.probing``).
    probe_limit: int = field(default=3, metadata=_env("TRACING_PROBE_LIMIT", 1, 1_000))
    probe_window_minutes: int = field(default=1_440, metadata=_env("TRACING_PROBE_WINDOW_MINUTES", 1, 10_080))
    # Idempotent retries (``api.access.retries``): for how long a client's X-Request-ID keeps the answer it was given
    # (a retry within it is answered the same, traced and counted once), and whether a trace request must carry one.
    retry_window_minutes: int = field(default=1_440, metadata=_env("TRACING_RETRY_WINDOW_MINUTES", 1, 10_080))
    require_request_id: bool = field(default=False, metadata=_env("TRACING_REQUIRE_REQUEST_ID"))
    # Every trace answer leaves no sooner than this after its request arrived: whether a person was found, held or
    # not found then shows in the body the requester is meant to see, not in the time an observer can measure.
    response_floor_ms: int = field(default=25, metadata=_env("TRACING_RESPONSE_FLOOR_MS", 0, 10_000))
    # A trace answer not ready by then is a 503 (nothing disclosed): a database that hangs rather than failing (a
    # network partition) must not hold every caller until the operating system gives up on the connection.
    answer_timeout_seconds: int = field(default=10, metadata=_env("TRACING_ANSWER_TIMEOUT_SECONDS", 1, 600))
    # A slow or stalled client is cut before any key check (``api.http.connections``): a request head not complete
    # this long after its connection opened (or its previous answer left) closes the connection; a body not
    # complete this long after its head is answered 408; a client address holding this many connections has the
    # next one answered 503 and closed. Without them 300 slow bodies held 300 connections past 20 s.
    header_deadline_seconds: int = field(default=10, metadata=_env("TRACING_HEADER_DEADLINE_SECONDS", 1, 600))
    body_deadline_seconds: int = field(default=30, metadata=_env("TRACING_BODY_DEADLINE_SECONDS", 1, 600))
    connections_per_address: int = field(default=32, metadata=_env("TRACING_CONNECTIONS_PER_ADDRESS", 1, 100_000))
    # None: the policies shipped in api/policy/policies.
    policy_dir: Path | None = field(default=None, metadata=_env("TRACING_POLICY_DIR"))
    # Where the register's head file (``api.audit.head``) lives: None is beside the SQLite file, or out/service for
    # another database. Its name is the database's fingerprint, so many databases can share one directory.
    register_head_dir: Path | None = field(default=None, metadata=_env("TRACING_REGISTER_HEAD_DIR"))
    # Bring the schema to the latest Alembic revision when the service starts.
    migrate_on_start: bool = field(default=True, metadata=_env("TRACING_MIGRATE_ON_START"))

    @classmethod
    def from_environment(cls, environment: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environment is None else environment
        types = get_type_hints(cls)
        settings = cls(**{f.name: _READERS[types[f.name]](env, f) for f in fields(cls)})
        if not settings.database_url.startswith(("sqlite:", "postgresql")):
            raise ConfigurationError("DATABASE_URL must be a sqlite:/// or postgresql+psycopg:// URL")
        return settings

    def describe(self) -> dict[str, str]:
        """Settings safe to print: the database password, if any, is masked."""
        from sqlalchemy.engine import make_url

        from api.audit.head import head_path

        return {
            "index": str(self.index_dir),
            "database": make_url(self.database_url).render_as_string(hide_password=True),
            "listen": f"{self.host}:{self.port}",
            "rate limit": f"{self.rate_per_minute}/min per client, burst {self.rate_burst}",
            "enumeration": f"{self.probe_limit} variants about one record per {self.probe_window_minutes} min "
            "per organisation",
            "retries": f"an X-Request-ID keeps its answer {self.retry_window_minutes} min"
            + (", required" if self.require_request_id else ", optional"),
            "response floor": f"{self.response_floor_ms} ms per trace answer",
            "connections": f"head within {self.header_deadline_seconds} s, body within "
            f"{self.body_deadline_seconds} s, {self.connections_per_address} connections per address",
            "policies": str(self.policy_dir or "shipped (api/policy/policies)"),
            "register head": str(head_path(self.database_url, self.register_head_dir) or "none (in-memory database)"),
        }


def _text(env: Mapping[str, str], setting: Field) -> str:
    return env.get(setting.metadata["variable"]) or setting.default


def _path(env: Mapping[str, str], setting: Field) -> Path:
    return Path(env.get(setting.metadata["variable"]) or setting.default)


def _optional_path(env: Mapping[str, str], setting: Field) -> Path | None:
    raw = env.get(setting.metadata["variable"])
    return Path(raw) if raw else setting.default


def _integer(env: Mapping[str, str], setting: Field) -> int:
    name, (low, high) = setting.metadata["variable"], setting.metadata["bounds"]
    raw = env.get(name)
    if not raw:
        return setting.default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigurationError(f"{name} must be a whole number") from None
    if (low is not None and value < low) or (high is not None and value > high):
        raise ConfigurationError(f"{name} must be {_range(low, high)}")
    return value


def _range(low: int | None, high: int | None) -> str:
    if low is not None and high is not None:
        return f"between {low} and {high}"
    return f"at least {low}" if low is not None else f"at most {high}"


def _flag(env: Mapping[str, str], setting: Field) -> bool:
    name = setting.metadata["variable"]
    raw = (env.get(name) or "").strip().lower()
    if not raw:
        return setting.default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise ConfigurationError(f"{name} must be 1 or 0")


# How a field is read, by its declared type.
_READERS: dict[Any, Callable[[Mapping[str, str], Field], Any]] = {
    str: _text,
    Path: _path,
    Path | None: _optional_path,
    int: _integer,
    bool: _flag,
}
