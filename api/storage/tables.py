"""The service's tables (SQLAlchemy Core).

The schema itself is created and changed only by the Alembic migrations in ``api/storage/migrations``; these table
objects are what the code queries with, and a test checks that the migrations produce exactly them. The register's
columns are made from the entry's one definition (``api.audit.entry``).
"""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Index, Integer, LargeBinary, MetaData, String, Table

from api.audit.entry import RECORD_FIELDS

metadata = MetaData()

# Whom clients act for (``api.access.organisations``): the id is the normalised name, so that two spellings of one
# organisation are one. Each row carries a keyed MAC of its columns (``api.access.rows``), checked on read.
organisations = Table(
    "organisations",
    metadata,
    Column("id", String(100), primary_key=True),
    Column("name", String(100), nullable=False),
    Column("created_at", String(32), nullable=False),
    Column("row_mac", String(64), nullable=False),
)

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
    Column(
        "organisation", String(100), ForeignKey("organisations.id", name="clients_organisation"), nullable=False
    ),
    Column("created_at", String(32), nullable=False),
    Column("revoked_at", String(32), nullable=True),
    # HMAC of every column that grants anything (``api.access.rows``): an edited row is refused.
    Column("row_mac", String(64), nullable=False),
)

register_entries = Table(
    "register_entries",
    metadata,
    *(
        Column(
            f.name,
            f.sql,
            primary_key=f.primary,
            autoincrement=False if f.primary else "auto",
            nullable=f.nullable,
            unique=f.unique or None,
        )
        for f in RECORD_FIELDS
    ),
    # A case's steps, looked up by the trace they concern before each decision and collection (``api.review.replay``).
    Index("register_entries_concerns", "concerns"),
)


reviews = Table(
    "reviews",
    metadata,
    Column("trace_id", String(36), primary_key=True),
    Column("client_id", Integer, nullable=False),  # the requester
    Column("organisation", String(100), nullable=False),  # the requester's organisation id
    Column("reason", String(20), nullable=False),  # welfare, restricted, ambiguous, near_threshold
    Column("policy_version", String(32), nullable=False),
    Column("created_at", String(32), nullable=False),
    # The request, the policy checks and the candidates' explanations, sealed (AES-GCM): no plaintext at rest.
    Column("sealed_case", LargeBinary, nullable=False),
    Column("state", String(20), nullable=False),  # pending, awaiting_second, approved, refused
    Column("decided_at", String(32), nullable=True),  # the final decision (the second approval, if one was needed)
    Column("decided_by", Integer, nullable=True),
    # Four eyes: the first of two approvals, and the organisation the second must not be of.
    Column("first_approved_at", String(32), nullable=True),
    Column("first_approved_by", Integer, nullable=True),
    Column("first_approved_organisation", String(100), nullable=True),
    # After approval, what the requester may collect once; emptied when collected.
    Column("sealed_disclosure", LargeBinary, nullable=True),
    Column("collected_at", String(32), nullable=True),
    # Past the policy's retention period the disclosures and the subject's details are dropped from the case.
    Column("expired_at", String(32), nullable=True),
    # HMAC-SHA256 of the columns above and of the sealed blobs' digests (``api.review.integrity``): a row edited
    # in the database is refused where it is read.
    Column("row_mac", String(64), nullable=False),
    Index("reviews_state", "state", "created_at"),
)


# Enumeration (``api.access.probing``): per organisation and keyed record token, the keyed variants of the requests
# that landed on it. The record row is what concurrent requests about one record lock.
probe_records = Table(
    "probe_records",
    metadata,
    Column("organisation", String(100), primary_key=True),
    Column("record_token", String(32), primary_key=True),
    Column("seen_at", String(32), nullable=False),
)

probe_variants = Table(
    "probe_variants",
    metadata,
    Column("organisation", String(100), primary_key=True),
    Column("record_token", String(32), primary_key=True),
    Column("variant_token", String(32), primary_key=True),
    Column("trace_id", String(36), nullable=False),
    Column("seen_at", String(32), nullable=False),
    Index("probe_variants_seen", "seen_at"),
)


# Idempotent retries (``api.access.retries``): per client and X-Request-ID, a keyed hash of the body first sent and,
# once answered, that answer sealed under a key made from the body itself. Nothing here names a client, a request
# id, a subject or a trace to someone without the master key and the body.
request_ids = Table(
    "request_ids",
    metadata,
    Column("request_key", String(64), primary_key=True),  # HMAC of the client and the request id
    Column("body_hash", String(64), nullable=False),  # HMAC of the request key and the canonical body
    Column("state", String(12), nullable=False),  # reserved, answered
    Column("holder", String(32), nullable=False),  # the reservation's random id: who may answer it
    Column("created_at", String(32), nullable=False),  # the first attempt: the window runs from here
    Column("reserved_at", String(32), nullable=False),  # the reservation's (a stale one may be taken over)
    Column("sealed_answer", LargeBinary, nullable=True),  # AES-GCM under a key only the same body gives
    Index("request_ids_created", "created_at"),
)
