"""The statistics behind the estimator: u from random record pairs, m by expectation-maximisation with u fixed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from matcher.comparison import NULL, Comparison, comparison_vectors
from matcher.records.entities import Entities


@dataclass(frozen=True)
class EmResult:
    m: list[np.ndarray]
    match_share: float  # lambda: share of candidate pairs that are matches
    iterations: int
    converged: bool


def level_shares(
    gamma: np.ndarray, comparisons: Sequence[Comparison], weights: np.ndarray | None = None
) -> list[np.ndarray]:
    """Per comparison, the (weighted) share of non-null pairs at each level, smoothed so none is zero."""
    shares = []
    for j, comparison in enumerate(comparisons):
        levels = gamma[:, j]
        present = levels != NULL
        w = np.ones(int(present.sum())) if weights is None else weights[present]
        counts = np.bincount(levels[present], weights=w, minlength=len(comparison.levels)).astype(float)
        counts += 0.5  # a level never seen in the sample is rare, not impossible
        shares.append(counts / counts.sum())
    return shares


def estimate_u(
    records: Entities, comparisons: Sequence[Comparison], pairs: int = 2_000_000, seed: int = 0
) -> list[np.ndarray]:
    """u per level from ``pairs`` random (record, other record) pairs, one record playing the request."""
    rng = np.random.default_rng(seed)
    n = len(records)
    left = rng.integers(0, n, pairs)
    right = (left + rng.integers(1, n, pairs)) % n  # never the same record
    gamma = comparison_vectors(comparisons, records, records, left, right)
    return level_shares(gamma, comparisons)


def estimate_m(
    gamma: np.ndarray,
    comparisons: Sequence[Comparison],
    u: list[np.ndarray],
    active: list[bool] | None = None,
    max_iterations: int = 100,
    tolerance: float = 1e-5,
) -> EmResult:
    """EM for m and the match share over unlabelled candidate pairs, u fixed; inactive comparisons are left out
    of the likelihood (their m stays at the starting guess)."""
    active = active if active is not None else [True] * len(comparisons)
    m = []
    for comparison in comparisons:
        # Start believing matches mostly agree exactly and rarely disagree outright.
        start = np.geomspace(1.0, 1e-3, len(comparison.levels))
        m.append(start / start.sum())
    share = 0.1
    log_u = [np.log(x) for x in u]
    converged = False
    iteration = 0
    for iteration in range(1, max_iterations + 1):  # noqa: B007 - reported below
        log_ratio = np.zeros(len(gamma))
        for j in range(len(comparisons)):
            if not active[j]:
                continue
            levels = gamma[:, j]
            present = levels != NULL
            log_ratio[present] += np.log(m[j])[levels[present]] - log_u[j][levels[present]]
        prior = np.log(share) - np.log1p(-share)
        posterior = 1.0 / (1.0 + np.exp(-np.clip(log_ratio + prior, -700, 700)))
        new_m = [
            x if on else old for x, on, old in zip(level_shares(gamma, comparisons, posterior), active, m, strict=True)
        ]
        new_share = float(np.clip(posterior.mean(), 1e-6, 1 - 1e-6))
        change = max(float(np.abs(a - b).max()) for a, b in zip(new_m, m, strict=True))
        change = max(change, abs(new_share - share))
        m, share = new_m, new_share
        if change < tolerance:
            converged = True
            break
    return EmResult(m=m, match_share=share, iterations=iteration, converged=converged)
