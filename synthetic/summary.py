"""Plain-text summaries of a population and of a request set, for people and for the demo."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from synthetic.requests import summarise_truth


def _share(numerator: int, denominator: int) -> str:
    return f"{100 * numerator / max(denominator, 1):.2f}%"


def describe_population(path: Path | str) -> str:
    table = pq.read_table(
        path,
        columns=[
            "family_name",
            "date_of_birth",
            "date_of_death",
            "postcode",
            "previous_addresses",
            "previous_family_names",
            "restricted",
            "sex",
        ],
    )
    n = table.num_rows
    counts = pc.value_counts(table.column("family_name")).to_pylist()
    counts.sort(key=lambda d: -d["counts"])
    top500 = sum(d["counts"] for d in counts[:500])
    smith = next((d["counts"] for d in counts if d["values"] == "SMITH"), 0)
    postcodes = pc.count_distinct(table.column("postcode")).as_py()

    def with_any(column: str) -> str:
        return _share(pc.sum(pc.greater(pc.list_value_length(table.column(column)), 0)).as_py() or 0, n)

    lines = [
        f"population {path}: {n:,} records",
        f"  distinct family names {len(counts):,}; SMITH {_share(smith, n)}; top 500 names {_share(top500, n)}",
        f"  postcodes in use {postcodes:,}; deceased {_share(n - table.column('date_of_death').null_count, n)}"
        f"; restricted {_share(pc.sum(table.column('restricted')).as_py() or 0, n)}",
        f"  with earlier addresses {with_any('previous_addresses')}"
        f"; with earlier family names {with_any('previous_family_names')}",
        "  sex "
        + ", ".join(
            f"{d['values']} {_share(d['counts'], n)}" for d in pc.value_counts(table.column("sex")).to_pylist()
        ),
    ]
    return "\n".join(lines)


def describe_requests(requests: pa.Table, truth: pa.Table) -> str:
    n = truth.num_rows
    members = n - truth.column("nhs_number").null_count
    kinds = pc.value_counts(pc.drop_null(truth.column("non_member_kind"))).to_pylist()
    changed = summarise_truth(truth)
    lines = [
        f"requests: {n:,} ({members:,} members, {n - members:,} non-members: "
        + ", ".join(f"{d['values']} {d['counts']:,}" for d in kinds)
        + ")",
        "  share of requests with a changed field: "
        + ", ".join(f"{field} {100 * share:.1f}%" for field, share in changed.items()),
    ]
    flat = pc.value_counts(pc.list_flatten(truth.column("corruptions"))).to_pylist()
    flat.sort(key=lambda d: -d["counts"])
    lines.append("  commonest corruptions: " + ", ".join(f"{d['values']} {d['counts']:,}" for d in flat[:8]))
    return "\n".join(lines)
