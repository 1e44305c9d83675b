"""A year of trace requests replayed through the service over HTTP, then the register's summary.

The mix follows the published figures for 2016 (8,127 requests in the first 11 months, about 2% refused, 5,854
traced: about 8,870 a year, 72% traced): synthetic requests of the typical profile, a quarter about people not in
the index, 2% whose grounds fail the policy, 3% welfare concerns. Each request is sent at its moment of the year
(the service's clock is the simulation's); a held request is decided at once by a reviewer of another organisation
(a welfare one by a guardian; nine in ten approved), an approval that needs four eyes countersigned by one of a
third, and collected by the requester; the auditor's summary of the year is what comes out.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np

from api.access.clients import ClientStore, Role
from api.audit.outcomes import Status
from api.audit.transparency import COUNTS
from api.http.examples import IMMIGRATION_REQUEST
from synthetic.profiles import PROFILES
from synthetic.requests import generate_requests


@dataclass(frozen=True)
class SimulationPlan:
    year: int = 2017  # the first year a shipped policy covers (mou-2017-01)
    requests: int = 8_870
    refused_share: float = 0.02
    welfare_share: float = 0.03
    non_member_rate: float = 0.25
    approve_share: float = 0.9
    seed: int = 2016


class SimulationClock:
    """The service's clock during a simulation: set to each request's moment."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


def simulate(
    clients: ClientStore, http: httpx.Client, clock: SimulationClock, population: Path, plan: SimulationPlan
) -> dict:
    """Send the year's requests through ``http`` (a client of the running service); the summary and the counts."""
    rng = np.random.default_rng(plan.seed)
    suffix = rng.integers(1 << 30)
    home_office, nhs, wales, ico = (
        clients.organisations.ensure(name).id
        for name in ("Home Office", "NHS England", "NHS Wales", "Information Commissioner")
    )
    requester = _bearer(clients.add(f"home-office-{suffix}", Role.REQUESTER, 1_000_000, organisation=home_office)[1])

    # A reviewer and a guardian, and for four eyes a second of each of another organisation.
    def decider(role: Role, organisation: str) -> dict[str, str]:
        name = f"{role.value}-{organisation}-{suffix}"
        return _bearer(clients.add(name, role, 1_000_000, organisation=organisation)[1])

    deciders = {r: (decider(r, nhs), decider(r, wales)) for r in (Role.REVIEWER, Role.GUARDIAN)}
    auditor = _bearer(clients.add(f"auditor-{suffix}", Role.AUDITOR, 1_000_000, organisation=ico)[1])
    requests = generate_requests(population, plan.requests, PROFILES["typical"], plan.non_member_rate, plan.seed)
    start = dt.datetime(plan.year, 1, 1, tzinfo=dt.UTC)
    seconds = np.sort(rng.uniform(0, (dt.datetime(plan.year + 1, 1, 1, tzinfo=dt.UTC) - start).total_seconds(),
                                  plan.requests))  # fmt: skip
    kinds = rng.choice(
        ["refused", "welfare", "ordinary"],
        size=plan.requests,
        p=[plan.refused_share, plan.welfare_share, 1 - plan.refused_share - plan.welfare_share],
    )
    statuses: dict[str, int] = {}
    decisions = {"approve": 0, "refuse": 0}
    second_approvals = 0
    for row, second, kind in zip(requests.requests.to_pylist(), seconds.tolist(), kinds.tolist(), strict=True):
        clock.now = start + dt.timedelta(seconds=second)
        headers = {**requester, "Content-Type": "application/json"}
        response = http.post("/v1/traces", content=_body(row, kind, clock.now.date()), headers=headers)
        answer = response.json()
        status = answer.get("status", str(response.status_code))
        statuses[status] = statuses.get(status, 0) + 1
        if status == Status.PENDING_REVIEW:  # decided and collected at once (a second later), as the year goes on
            clock.now += dt.timedelta(seconds=1)
            decision = "approve" if rng.random() < plan.approve_share else "refuse"
            first, second = deciders[Role.GUARDIAN if kind == "welfare" else Role.REVIEWER]
            url = f"/v1/reviews/{answer['trace_id']}"
            body = {"decision": decision, "reason": "simulated review", "candidate": 0}
            decided = http.post(url, json=body, headers=first)
            if decided.status_code == 409 and decision == "approve":  # a restricted record: nothing can be released
                decision = "refuse"
                decided = http.post(url, json={**body, "decision": decision}, headers=first)
            decided.raise_for_status()
            decisions[decision] += 1
            if decided.json()["state"] == "awaiting_second":  # four eyes: countersigned by another organisation
                http.post(url, json=body, headers=second).raise_for_status()
                second_approvals += 1
            http.get(f"/v1/traces/{answer['trace_id']}", headers=requester).raise_for_status()
    summary = http.get(
        "/v1/register/summary", params={"from": f"{plan.year}-01-01", "to": f"{plan.year}-12-31"}, headers=auditor
    )
    summary.raise_for_status()
    return {"statuses": statuses, "reviews": decisions, "second_approvals": second_approvals, "summary": summary.json()}


def summary_table(summary: dict) -> list[str]:
    """The summary as a Markdown table, one row per month and organisation client and category."""
    columns = COUNTS
    lines = [
        "| month | organisation | category | " + " | ".join(columns) + " |",
        "|---|---|---:|" + "---:|" * len(columns),
    ]
    totals = dict.fromkeys(columns, 0)
    for row in summary["rows"]:
        lines.append(
            f"| {row['month']} | {row['organisation']} | {row['category'] or '-'} | "
            + " | ".join(f"{row[c]:,}" for c in columns)
            + " |"
        )
        for c in columns:
            totals[c] += row[c]
    lines.append("| **year** | | | " + " | ".join(f"**{totals[c]:,}**" for c in columns) + " |")
    return lines


def subject_of(row: dict) -> dict:
    """A synthetic trace request (a row of ``python -m synthetic requests``) as the API's ``subject``."""
    subject = {
        "given_name": row.get("given_name"),
        "other_given_names": row.get("other_given_names"),
        "family_name": row.get("family_name"),
        "date_of_birth": row.get("date_of_birth"),
        "sex": row.get("sex") if row.get("sex") in ("female", "male", "unknown", "other") else None,
        "postcode": row.get("postcode"),
        "address": row.get("address_line_1"),
    }
    return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in subject.items() if v}


def _body(row: dict, kind: str, today: dt.date) -> bytes:
    body = json.loads(json.dumps(IMMIGRATION_REQUEST))
    body["subject"] = subject_of(row)
    body["investigation"]["last_contact"] = (today - dt.timedelta(days=200)).isoformat()
    if kind == "refused":  # an authoriser of the requester's own grade: refused under every policy
        body["officers"]["authorising"] = {"id": "HO-EO-0001", "grade": "EO"}
    elif kind == "welfare":
        body["basis"] = {"category": 2, "welfare_description": "vulnerable adult missing from supported housing"}
    return json.dumps(body).encode()


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}
