"""The published shape of the register: counts by month, requesting organisation, category and outcome.

What a data release register publishes: how many trace requests each organisation made each month, under which
category, and what came of them (traced, not found, ambiguous, held for review, refused and why, rejected before
any judgement), how many held requests each reviewing client decided, and how many changes of rights (clients and
organisations added, revoked, changed) and tampered rows found each organisation had. Entries that record reads (of the
register, the queue, a held request's state) are not trace requests and are left out.
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TextIO

from api.audit.entry import LISTED_FIELDS, RECORD_FIELDS, RegisterEntry, draft_values
from api.audit.outcomes import (
    ANSWERED,
    ANSWERED_AS,
    PROBED,
    READS,
    REJECTED,
    REVIEWED,
    RIGHTS,
    TAMPERING,
    RegisterOutcome,
)


@dataclass
class SummaryRow:
    month: str  # YYYY-MM (UTC)
    organisation: str  # the requesting (or, for reviews, the reviewing) client's organisation
    category: int | None  # None for requests rejected before their category was read
    requests: int = 0
    traced: int = 0
    not_found: int = 0
    ambiguous: int = 0
    pending_review: int = 0
    deceased: int = 0
    refused: int = 0
    rejected: int = 0
    probe_suspected: int = 0
    reviewed: int = 0
    rights_changed: int = 0  # organisations and clients added, revoked, changed (category None)
    tampering_detected: int = 0  # clients or organisations rows found edited outside the service (category None)
    refused_by_reason: dict[str, int] = field(default_factory=dict)


COUNTS = tuple(f.name for f in fields(SummaryRow) if f.default == 0)
"""The summary row's counts, in order: requests, traced, not found, ambiguous, ..., reviewed."""


def summarise(entries: Iterable[RegisterEntry], organisations: Mapping[int, str] | None = None) -> list[SummaryRow]:
    """``organisations``: client id to organisation (a client missing from it counts as its own organisation)."""
    organisations = organisations or {}
    rows: dict[tuple[str, str, int | None], SummaryRow] = {}
    reasons: dict[tuple[str, str, int | None], Counter] = {}
    for entry in entries:
        outcome = entry.draft.outcome
        if outcome in READS or (outcome in REJECTED and entry.draft.concerns):
            continue  # a read, or a failed step on a held request (a decision refused with 409): not a request
        organisation = organisations.get(entry.draft.client_id, entry.draft.client_name)
        if outcome in RIGHTS:  # the organisation the change was of, as the entry records it
            organisation = _rights(entry).get("organisation", organisation)
        key = (entry.recorded_at[:7], organisation, entry.draft.category)
        row = rows.setdefault(key, SummaryRow(*key))
        if outcome in RIGHTS:
            row.rights_changed += 1
            continue
        if outcome in TAMPERING:
            row.tampering_detected += 1
            continue
        if outcome in REVIEWED:
            row.reviewed += 1
            continue
        row.requests += 1
        if outcome in PROBED:
            row.probe_suspected += 1
        elif outcome in ANSWERED:
            answered = ANSWERED_AS.get(outcome, outcome)
            setattr(row, answered, getattr(row, answered) + 1)
            if outcome == RegisterOutcome.REFUSED:
                reasons.setdefault(key, Counter()).update(entry.draft.refusal_codes)
        else:
            row.rejected += 1
    for key, counter in reasons.items():
        rows[key].refused_by_reason = dict(sorted(counter.items()))
    return [rows[k] for k in sorted(rows, key=lambda k: (k[0], k[1], -1 if k[2] is None else k[2]))]


def _rights(entry: RegisterEntry) -> dict:
    try:
        state = json.loads(entry.draft.rights or "{}")
    except ValueError:
        return {}
    return state if isinstance(state, dict) else {}


EXPORT_COLUMNS = tuple(f.name for f in RECORD_FIELDS)


def entry_record(entry: RegisterEntry) -> dict:
    """An entry as a flat record (what the entries endpoint and the CSV export give): no subject detail exists in it
    to give, only the keyed token, and its outcome as the requester was answered."""
    draft = draft_values(entry.draft)
    for name in LISTED_FIELDS:
        draft[name] = list(draft[name])
    # As the requester was answered: an entry that said "withheld" would tell the reader who is restricted. The
    # register itself keeps the truth (its hash is of it), for `register verify` and the key's holder.
    draft["outcome"] = str(ANSWERED_AS.get(entry.draft.outcome, entry.draft.outcome))
    return {
        "sequence": entry.sequence,
        "recorded_at": entry.recorded_at,
        **draft,
        "previous_hash": entry.previous_hash,
        "entry_hash": entry.entry_hash,
    }


def export_csv(entries: Iterable[RegisterEntry], out: TextIO | Path) -> int:
    """Write the entries as CSV (lists joined with spaces); the number written."""
    if isinstance(out, Path):
        out.parent.mkdir(parents=True, exist_ok=True)
        with out.open("w", newline="") as handle:
            return export_csv(entries, handle)
    writer = csv.DictWriter(out, fieldnames=EXPORT_COLUMNS)
    writer.writeheader()
    count = 0
    for entry in entries:
        record = entry_record(entry)
        for name in LISTED_FIELDS:
            record[name] = " ".join(record[name])
        writer.writerow(record)
        count += 1
    return count
