"""Every strategy against one world, each on a database of its own, and the honest stream; the table."""

from __future__ import annotations

import json
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from benchmarks.adversary import distinguish, extras, honest, sweeps
from benchmarks.adversary.outcomes import StrategyResult
from benchmarks.adversary.service import Service
from benchmarks.adversary.world import World

SHIPPED_FLOOR_MS = 25


@dataclass(frozen=True)
class Plan:
    targets: int = 20
    budget: int = 1_000
    clients: int = 4
    honest_requests: int = 2_000
    seed: int = 1
    only: frozenset[str] = frozenset()  # strategy numbers to run ("1", "2", ...); empty: all


def run(world: World, plan: Plan, scratch: Path | None = None) -> dict:
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(dir=scratch) as folder:
        databases = iter(range(1_000))

        def service(floor_ms: int = 0, per_day: int = 1_000) -> Service:
            return Service(world, Path(folder) / f"state-{next(databases)}.db", floor_ms=floor_ms, per_day=per_day)

        def wanted(number: str) -> bool:
            return not plan.only or number in plan.only

        ordinary = world.group("ordinary", plan.targets, plan.seed)
        results: list[StrategyResult] = []
        if wanted("1") or wanted("2") or wanted("3"):
            results += sweeps.dob_sweeps(service(), ordinary, plan.budget, plan.clients)
        if wanted("4"):
            results.append(distinguish.address_sweep(service(), world, ordinary, plan.budget))
        sample = max(plan.targets, 30)
        absent = distinguish.non_members(world, sample, seed=plan.seed + 100)
        restricted = world.group("restricted", sample, plan.seed)
        if wanted("5"):
            results.append(distinguish.membership(service(), world.group("ordinary", sample, plan.seed + 1), absent))
        if wanted("6"):
            others = world.group("ordinary", sample, plan.seed + 2)
            independent = distinguish.non_members(world, sample, plan.seed + 100, frozenset({"independent"}))
            result = distinguish.restricted_status(service(), restricted, others, independent)
            result.distances.update(
                distinguish.side_channels(world, service(SHIPPED_FLOOR_MS), restricted, independent)
            )
            results.append(result)
        if wanted("7") or wanted("8"):
            results += distinguish.households_and_deceased(
                service(), world.group("housemate", plan.targets, plan.seed),
                world.group("deceased", plan.targets, plan.seed), distinguish.restricted_addresses(world.population))
        if wanted("9"):
            few = ordinary[: max(3, plan.targets // 4)]
            results += [extras.no_given_name(service(), few, plan.budget),
                        extras.welfare_sweep(service(), few, plan.budget),
                        extras.new_year_with_postcode(service(), ordinary)]
        honest_service = service(per_day=honest.per_day_at_scale(world))
        stream = honest.honest_stream(honest_service, world, plan.honest_requests) if wanted("honest") else None
    return {
        "population": world.population.num_rows,
        "plan": {**plan.__dict__, "only": sorted(plan.only)},
        "seconds": round(time.perf_counter() - started, 1),
        "strategies": [r.summary() for r in results],
        "honest": stream.summary() if stream else None,
    }


def table(report: dict) -> str:
    lines = [
        f"population {report['population']:,}, budget {report['plan']['budget']} requests a day per target, "
        f"{report['seconds']} s",
        "",
        "| strategy | broken / T | disclosed | median requests to break | requests | holds (enumeration) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for s in report["strategies"]:
        median = "-" if s["median_requests_to_break"] is None else f"{s['median_requests_to_break']:g}"
        lines.append(f"| {s['strategy']} | {s['broken']} / {s['targets']} | {s['disclosed']} | {median} | "
                     f"{s['requests']:,} | {s['holds']:,} ({s['enumeration_holds']:,}) |")
    distances = [(s["strategy"], k, v) for s in report["strategies"] for k, v in s["distances"].items()
                 if isinstance(v, dict) and "tv" in v]
    if distances:
        lines += ["", "| strategy | comparison | TV | 95% interval | TV if no difference | p | sizes |",
                  "|---|---|---:|---|---:|---:|---|"]
        for strategy, name, d in distances:
            lines.append(f"| {strategy} | {name} | {d['tv']:.3f} | {d['interval_95'][0]:.3f}-"
                         f"{d['interval_95'][1]:.3f} | {d['tv_if_no_difference']:.3f} | {d['p_value']:.3f} | "
                         f"{d['sizes'][0]} / {d['sizes'][1]} |")
    notes = [(s["strategy"], n) for s in report["strategies"] for n in s["notes"]]
    lines += [""] + [f"- {s}: {n}" for s, n in notes]
    if report["honest"]:
        h = report["honest"]
        lines += ["", f"honest caseworker: {h['requests']:,} requests ({h['streams']:,} people, "
                  f"{h['corrected_streams']:,} corrected), enumeration holds {h['enumeration_holds']} "
                  f"({h['beyond_limit_holds']} on a person's request past the limit, by design), refused "
                  f"{h['refused']}: false holds and refusals {h['false_hold_or_refusal_rate']:.3%} "
                  f"(95% {h['interval_95'][0]:.3%}-"
                  f"{h['interval_95'][1]:.3%}); right details after corrections held {h['right_ones_held']} of "
                  f"{h['right_ones']}; other holds (policy's) {h['other_holds']}"]
    return "\n".join(lines)


def write(report: dict, out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"adversary-pop{report['population']}-t{report['plan']['targets']}.json"
    path.write_text(json.dumps(report, indent=1, default=str))
    return path
