"""The service's configuration, in one place: environment variables with safe defaults.

The master key is not here: ``matcher.keys.load_master_key`` finds it (TRACING_MASTER_KEY, TRACING_MASTER_KEY_FILE
or the per-user key file), so that no key ever sits beside the settings that are safe to print.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

DEFAULT_INDEX_DIR = Path("out/demo/index")
DEFAULT_DATABASE_URL = "sqlite:///out/service/tracing.db"


class ConfigurationError(ValueError):
    """A setting is missing or malformed; the message names the variable and what it expects."""


@dataclass(frozen=True)
class Settings:
    index_dir: Path = DEFAULT_INDEX_DIR
    # Embedded default: a SQLite file beside the demo output. Production: postgresql+psycopg://...
    database_url: str = DEFAULT_DATABASE_URL
    host: str = "127.0.0.1"  # loopback unless told otherwise
    port: int = 8000
    # Per client, unless the client was added with its own rate: sustained requests per minute and burst size.
    rate_per_minute: int = 60
    rate_burst: int = 10
    # Enumeration: near-identical requests (same blocking key) one client may send about a person in a window.
    probe_limit: int = 3
    probe_window_minutes: int = 60
    # Every trace answer leaves no sooner than this after its request arrived: whether a person was found, held or
    # not found then shows in the body the requester is meant to see, not in the time an observer can measure.
    response_floor_ms: int = 25
    # A trace answer not ready by then is a 503 (nothing disclosed): a database that hangs rather than failing (a
    # network partition) must not hold every caller until the operating system gives up on the connection.
    answer_timeout_seconds: int = 10
    policy_dir: Path | None = None  # None: the policies shipped in api/policies
    migrate_on_start: bool = True  # bring the schema to the latest Alembic revision when the service starts

    @classmethod
    def from_environment(cls, environment: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environment is None else environment
        policy_dir = env.get("TRACING_POLICY_DIR")
        settings = cls(
            index_dir=Path(env.get("TRACING_INDEX_DIR") or DEFAULT_INDEX_DIR),
            database_url=env.get("DATABASE_URL") or DEFAULT_DATABASE_URL,
            host=env.get("TRACING_HOST") or "127.0.0.1",
            port=_integer(env, "TRACING_PORT", 8000, 1, 65_535),
            rate_per_minute=_integer(env, "TRACING_RATE_PER_MINUTE", 60, 1, 1_000_000),
            rate_burst=_integer(env, "TRACING_RATE_BURST", 10, 1, 1_000_000),
            probe_limit=_integer(env, "TRACING_PROBE_LIMIT", 3, 1, 1_000),
            probe_window_minutes=_integer(env, "TRACING_PROBE_WINDOW_MINUTES", 60, 1, 10_080),
            response_floor_ms=_integer(env, "TRACING_RESPONSE_FLOOR_MS", 25, 0, 10_000),
            answer_timeout_seconds=_integer(env, "TRACING_ANSWER_TIMEOUT_SECONDS", 10, 1, 600),
            policy_dir=Path(policy_dir) if policy_dir else None,
            migrate_on_start=_flag(env, "TRACING_MIGRATE_ON_START", True),
        )
        if not settings.database_url.startswith(("sqlite:", "postgresql")):
            raise ConfigurationError("DATABASE_URL must be a sqlite:/// or postgresql+psycopg:// URL")
        return settings

    def describe(self) -> dict[str, str]:
        """Settings safe to print: the database password, if any, is masked."""
        from sqlalchemy.engine import make_url

        return {
            "index": str(self.index_dir),
            "database": make_url(self.database_url).render_as_string(hide_password=True),
            "listen": f"{self.host}:{self.port}",
            "rate limit": f"{self.rate_per_minute}/min per client, burst {self.rate_burst}",
            "enumeration": f"{self.probe_limit} near-identical requests per {self.probe_window_minutes} min",
            "response floor": f"{self.response_floor_ms} ms per trace answer",
            "policies": str(self.policy_dir or "shipped (api/policies)"),
        }


def _integer(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = env.get(name)
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigurationError(f"{name} must be a whole number") from None
    if not low <= value <= high:
        raise ConfigurationError(f"{name} must be between {low} and {high}")
    return value


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = (env.get(name) or "").strip().lower()
    if not raw:
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise ConfigurationError(f"{name} must be 1 or 0")
