"""What a strategy achieved: per target, the requests until the first disclosure; per comparison, how far apart
two groups' answers are (total-variation distance, with a bootstrap interval)."""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Hashable, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np


@dataclass
class TargetRun:
    """One target under one strategy."""

    requests: int = 0
    disclosed_at: int | None = None  # the request that disclosed the address (and so confirmed the DOB sent)
    singled_out_at: int | None = None  # the request whose answer alone told the right DOB/postcode, if sooner
    holds: int = 0  # pending_review answers
    enumeration_holds: int = 0  # of which past the probe limit (as the benchmark knows from the register)
    statuses: Counter = field(default_factory=Counter)

    @property
    def broken_at(self) -> int | None:
        found = [n for n in (self.disclosed_at, self.singled_out_at) if n is not None]
        return min(found) if found else None


@dataclass
class StrategyResult:
    name: str
    claim: str  # what the defence is meant to make of this strategy
    targets: list[TargetRun] = field(default_factory=list)
    distances: dict[str, dict] = field(default_factory=dict)  # comparison -> tv, interval, sizes, distributions
    notes: list[str] = field(default_factory=list)

    @property
    def broken(self) -> int:
        return sum(t.broken_at is not None for t in self.targets)

    @property
    def disclosed(self) -> int:
        return sum(t.disclosed_at is not None for t in self.targets)

    def median_requests(self) -> float | None:
        found = [t.broken_at for t in self.targets if t.broken_at is not None]
        return statistics.median(found) if found else None

    def summary(self) -> dict:
        return {
            "strategy": self.name,
            "claim": self.claim,
            "targets": len(self.targets),
            "broken": self.broken,
            "disclosed": self.disclosed,
            "median_requests_to_break": self.median_requests(),
            "requests": sum(t.requests for t in self.targets),
            "holds": sum(t.holds for t in self.targets),
            "enumeration_holds": sum(t.enumeration_holds for t in self.targets),
            "statuses": dict(sum((t.statuses for t in self.targets), Counter())),
            "distances": self.distances,
            "notes": self.notes,
            "per_target": [asdict(t) | {"statuses": dict(t.statuses)} for t in self.targets],
        }


def total_variation(a: Sequence[Hashable], b: Sequence[Hashable]) -> float:
    """Half the L1 distance between the empirical distributions of two samples of outcomes: the best advantage
    any test on one outcome has in telling which group a request was about."""
    if not a or not b:
        return float("nan")
    ca, cb = Counter(a), Counter(b)
    return 0.5 * sum(abs(ca[k] / len(a) - cb[k] / len(b)) for k in ca.keys() | cb.keys())


def distance(a: Sequence[Hashable], b: Sequence[Hashable], seed: int = 0, rounds: int = 1_000) -> dict:
    """TV distance with a 95% percentile-bootstrap interval (resampling each group), sizes and distributions.
    The empirical TV of small samples is biased upwards: two samples of one distribution still differ."""
    tv = total_variation(a, b)
    rng = np.random.default_rng(seed)
    keys = sorted({*map(str, a), *map(str, b)})
    ia = np.array([keys.index(str(x)) for x in a])
    ib = np.array([keys.index(str(x)) for x in b])
    draws = []
    for _ in range(rounds if len(a) and len(b) else 0):
        sa = np.bincount(rng.choice(ia, len(ia)), minlength=len(keys)) / len(ia)
        sb = np.bincount(rng.choice(ib, len(ib)), minlength=len(keys)) / len(ib)
        draws.append(0.5 * np.abs(sa - sb).sum())
    low, high = (np.percentile(draws, [2.5, 97.5]).tolist() if draws else (float("nan"), float("nan")))
    # The null: the two groups' outcomes pooled and split at random, as if the requests said nothing of the group.
    pooled, null = np.concatenate([ia, ib]), []
    for _ in range(rounds if len(a) and len(b) else 0):
        shuffled = rng.permutation(pooled)
        sa = np.bincount(shuffled[: len(ia)], minlength=len(keys)) / len(ia)
        sb = np.bincount(shuffled[len(ia) :], minlength=len(keys)) / len(ib)
        null.append(0.5 * np.abs(sa - sb).sum())
    return {
        "tv": round(tv, 4),
        "interval_95": [round(low, 4), round(high, 4)],
        # What two samples of one distribution, of these sizes, give, and how often they give at least ``tv``.
        "tv_if_no_difference": round(float(np.mean(null)), 4) if null else float("nan"),
        "p_value": round(float(np.mean(np.array(null) >= tv - 1e-12)), 4) if null else float("nan"),
        "sizes": [len(a), len(b)],
        "distributions": [dict(Counter(map(str, a))), dict(Counter(map(str, b)))],
    }
