"""The service's parts, wired from its configuration: ``build_components(settings)``.

Everything is checked at start: a key that opens the index; a schema at the latest revision and not older than the
one the service last ran on; no trigger, rule or row security the service did not create (``api.storage.foreign``);
a register whose every entry verifies and that agrees with its head file (``api.audit.head``); a policy in force
today; held requests, clients and organisations as the register's changes left them.
``api.http.app.create_app(components)`` serves them; tests build components around their own tracer, key, clock and
database.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine, inspect, text

from api.access.clients import ClientStore
from api.access.probing import ProbeCounter, ProbeTokens
from api.access.ratelimit import RateLimiter
from api.access.replay import replay
from api.access.retries import RetryKeys, RetryStore
from api.access.tampering import TamperReports
from api.audit.head import HeadFile, HeadFileError, head_path
from api.audit.register import AuditRegister, RegisterHeadError
from api.audit.subjects import SubjectTokens
from api.http.formats import TRACE_REQUESTS
from api.policy.versions import PolicyBook
from api.review.queue import ReviewStore
from api.review.replay import replay as replay_reviews
from api.settings import Settings
from api.storage.engine import make_engine
from api.storage.foreign import refuse_foreign_objects
from api.storage.migrate import current_revision, head_revision, require_current, set_back, upgrade
from api.usecases.admission import Admission
from api.usecases.collection import Collection
from api.usecases.gate import Gate
from api.usecases.recording import Recorder
from api.usecases.register_reads import RegisterReads
from api.usecases.retrying import Retrying
from api.usecases.reviewing import Reviewing
from api.usecases.service import TraceService, utc_now
from matcher.index import Index
from matcher.protection.keys import MasterKey, load_master_key
from matcher.tracer import Tracer


@dataclass(frozen=True)
class Components:
    service: TraceService
    clients: ClientStore
    limiter: RateLimiter
    probes: ProbeCounter
    engine: Engine
    recorder: Recorder
    gate: Gate
    admission: Admission
    reviewing: Reviewing
    collection: Collection
    register_reads: RegisterReads
    retries: RetryStore
    require_request_id: bool  # Settings.require_request_id
    response_floor: float  # seconds: Settings.response_floor_ms
    answer_timeout: float  # seconds: Settings.answer_timeout_seconds
    body_deadline: float  # seconds: Settings.body_deadline_seconds


def trace_service(
    settings: Settings,
    engine: Engine,
    key: MasterKey,
    tracer: Tracer | None = None,
    clock: Callable[[], dt.datetime] = utc_now,
) -> TraceService:
    """The use cases' shared state on this database and key; without a tracer where nothing is traced (expiring
    review cases needs no index). RegisterHeadError if the register disagrees with its head file: nothing is
    written to it before it has been compared."""
    policies = PolicyBook.load(settings.policy_dir)
    register, reviews = open_register(settings, engine, key), ReviewStore(engine, key)
    return TraceService(tracer, policies, register, SubjectTokens(key), reviews, TRACE_REQUESTS, clock)


def check_rights(clients: ClientStore) -> None:
    """Replay the register's changes of rights against the clients and organisations tables: every row that is not
    what they made it is reported (a log line and a ``tampering_detected`` entry), and a client's key of such a row
    is refused until a change by the service makes the row anew. The service starts: one row put back from a backup
    must not take every other client's service down with it."""
    findings = replay(clients.engine, clients.register, clients.macs)
    clients.disable(findings)
    clients.tampering.report(findings)
    clients.tampering.flush()


def check_reviews(service: TraceService, reports: TamperReports) -> None:
    """Replay the register's review steps against the review rows: every row that fails its MAC or is not what the
    steps made it (an older row put back, a change not kept), and every held request whose row is gone, is reported
    (a log line and a ``tampering_detected`` entry naming the case), and such a case is closed: neither read,
    decided nor collected by this process. Before retention, which would seal a put-back row anew. The service
    starts, as with rights: one row put back must not stop every other case."""
    reviews = service.reviews
    findings = replay_reviews(service.register.engine, service.register, reviews.seal)
    reviews.close({f.row_id for f in findings if f.table == "reviews"})
    reports.report(findings)
    reports.flush()


def open_register(settings: Settings, engine: Engine, key: MasterKey) -> AuditRegister:
    """The register with its head file (none for an in-memory database), compared with it; ForeignObjectsFound if
    the database has triggers, rules or row security on the service's tables (``api.storage.foreign``)."""
    refuse_foreign_objects(engine)  # before anything is read from it or written to it
    path = head_path(settings.database_url, settings.register_head_dir)
    register = AuditRegister(engine, key, HeadFile(path, key, head_revision()) if path else None)
    register.open()
    return register


def migrate(settings: Settings, engine: Engine, key: MasterKey, *, without_head_file: bool = False) -> None:
    """Bring the database to the latest revision, unless its schema is older than the one the register's head file
    says the service last ran on (RegisterHeadError): a migration that seals existing rows must not be made to run
    again on rows edited without the key. ``without_head_file``: the key holder's word (``db upgrade
    --no-head-file``) that a register with entries has never had a head file (one from before head files), so that
    it can be migrated and its head adopted."""
    path = head_path(settings.database_url, settings.register_head_dir)
    try:
        checkpoint = HeadFile(path, key).read() if path else None
    except HeadFileError as error:
        if current_revision(engine) == head_revision():
            return  # nothing to migrate: opening the register reports the file, and says how to adopt a head
        raise RegisterHeadError(f"{error}; nothing is migrated while the head file cannot be checked") from None
    missing = path is not None and checkpoint is None and not without_head_file
    if missing and current_revision(engine) != head_revision() and _has_entries(engine):
        # Moved aside for one start, the file would check nothing while a migration sealed edited rows.
        raise RegisterHeadError(
            f"the register has entries but no head file at {path}: nothing is migrated until it is back (for a "
            "register that has never had one, the key holder runs `python -m api db upgrade --no-head-file`, then "
            "`python -m api register adopt-head`)"
        )
    problem = set_back(engine, checkpoint.schema) if checkpoint and checkpoint.schema else None
    if problem is not None:
        raise RegisterHeadError(f"{problem} (head file {path}); nothing was migrated")
    upgrade(engine, key=key)


def _has_entries(engine: Engine) -> bool:
    if not inspect(engine).has_table("register_entries"):
        return False
    with engine.connect() as connection:
        return connection.execute(text("SELECT 1 FROM register_entries LIMIT 1")).first() is not None


def build_components(
    settings: Settings,
    key: MasterKey | None = None,
    tracer: Tracer | None = None,
    clock: Callable[[], dt.datetime] = utc_now,
) -> Components:
    """Everything the service needs, checked at start: a key that opens the index, a schema at the latest
    revision, a register that agrees with its head file, a policy in force today."""
    key = key or load_master_key()
    engine = make_engine(settings.database_url)
    try:
        if settings.migrate_on_start:
            migrate(settings, engine, key)
        else:
            require_current(engine)
        if tracer is None:
            tracer = Tracer(Index.load(settings.index_dir, key).warm())
        service = trace_service(settings, engine, key, tracer, clock)
    except BaseException:
        engine.dispose()
        raise
    service.record_policy_in_force()  # and NoPolicyInForce now rather than on the first request
    clients = ClientStore(engine, key, service.register)
    check_reviews(service, clients.tampering)
    service.apply_retention()
    check_rights(clients)
    limiter = RateLimiter(settings.rate_per_minute, settings.rate_burst)
    # On the service's clock: a simulated year's windows are in simulated time.
    probes = ProbeCounter(engine, settings.probe_limit, dt.timedelta(minutes=settings.probe_window_minutes), clock)
    recorder = Recorder(service)
    gate = Gate(clients, limiter, recorder)
    # A reservation older than the answer timeout is stale: its caller has been answered 503 by then.
    retries = RetryStore(
        engine,
        dt.timedelta(minutes=settings.retry_window_minutes),
        dt.timedelta(seconds=settings.answer_timeout_seconds),
        clock,
    )
    return Components(
        service=service,
        clients=clients,
        limiter=limiter,
        probes=probes,
        engine=engine,
        recorder=recorder,
        gate=gate,
        admission=Admission(
            service, gate, probes, ProbeTokens(key), recorder, retries, Retrying(retries, RetryKeys(key))
        ),
        reviewing=Reviewing(service, recorder),
        collection=Collection(service, recorder),
        register_reads=RegisterReads(service, clients, recorder),
        retries=retries,
        require_request_id=settings.require_request_id,
        response_floor=settings.response_floor_ms / 1000,
        answer_timeout=settings.answer_timeout_seconds,
        body_deadline=settings.body_deadline_seconds,
    )
