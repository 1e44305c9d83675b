"""The year's replay: an end-to-end run of the service (traces, holds, reviews, collections, the summary)."""

from __future__ import annotations

from api.cli.simulation import SimulationPlan, simulate, summary_table


def test_a_simulated_year_is_answered_reviewed_and_summarised(api, population_path):
    plan = SimulationPlan(requests=240, refused_share=0.05, welfare_share=0.05, seed=3)
    result = simulate(api.components.clients, api.http, api.clock, population_path, plan)

    statuses = result["statuses"]
    assert sum(statuses.values()) == 240
    assert set(statuses) <= {"traced", "not_found", "ambiguous", "pending_review", "refused", "422"}
    assert statuses["traced"] > 120 and statuses["refused"] >= 5 and statuses["pending_review"] >= 5
    assert sum(result["reviews"].values()) == statuses["pending_review"]

    rows = result["summary"]["rows"]
    assert {r["month"] for r in rows} == {f"2017-{m:02d}" for m in range(1, 13)}
    assert sum(r["requests"] for r in rows) == 240
    assert sum(r["refused"] for r in rows) == statuses["refused"]
    # Each decision counts for its reviewing organisation: a four-eyes case's two approvals are two.
    assert result["second_approvals"] >= 1  # welfare requests were among them
    assert sum(r["reviewed"] for r in rows) == statuses["pending_review"] + result["second_approvals"]
    assert summary_table(result["summary"])[-1].startswith("| **year** | | | **240** |")
    assert api.components.service.register.verify().ok
