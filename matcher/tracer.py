"""Tracing: requests in, one decision per request out; the pipeline every stage of ``matcher`` is a part of.

``Tracer(index, config).trace(request)`` for one request and ``trace_many(requests)`` for a batch share one
vectorised path: normalise the requests (``records``), look their blocking keys up (``blocking``), compare every
candidate pair (``comparison``), score (``scoring``), decide (``decision``), and read the disclosure payload only
for records that are matched, not withheld and alive (``disclosure``).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field, replace
from typing import NamedTuple

import numpy as np
import pyarrow as pa

from matcher.blocking import candidate_pairs
from matcher.comparison import NULL_LABEL, Comparison, comparison_vectors, derived_columns
from matcher.comparison.library import comparisons_named
from matcher.contract.request import Requests, TraceRequest
from matcher.decision import CERTAIN, OUTCOMES, DecisionConfig, Decisions, Outcome, RequirementCheck, decide
from matcher.decision.relations import RelationCounts
from matcher.disclosure import disclose
from matcher.index import Index
from matcher.records.entities import Entities
from matcher.scoring import FellegiSunterModel, Scorer, Scores


@dataclass(frozen=True)
class TraceConfig:
    decision: DecisionConfig = field(default_factory=DecisionConfig)
    # Keys shared by more records than this (a SMITH born in 1950 in a big district) are skipped: other keys of
    # the same request are narrower.
    max_block_size: int = 1_000
    max_candidates: int = 200
    # Names rarer than this are weighed as if this common, so one rare spelling cannot carry a match alone.
    tf_floor: float = 1e-5
    explain_top: int = 3
    # The records a request landed on (its best-scoring candidates, matched or not): what the service counts
    # requests about, to tell a search for one person from requests about many.
    nearest_records: int = 2
    # The records a request could be about (``Tracer.could_be``): those that would score at least this probability,
    # and meet the requirements, had its date of birth been theirs; the best few. Also counted by the service.
    could_be_probability: float = 0.9
    could_be_records: int = 4
    # Wider than ``max_candidates``: a year of birth shares a common given or family name's code with hundreds.
    could_be_candidates: int = 1_000


class ComparisonExplanation(NamedTuple):
    """One comparison's part in a candidate's score (a named tuple: a trace builds eighteen of them)."""

    comparison: str
    level: str  # "null" when either side lacked the value
    weight: float


@dataclass(frozen=True)
class CandidateExplanation:
    record: int
    match_weight: float
    eligible: bool  # meets the decision's requirements
    comparisons: tuple[ComparisonExplanation, ...]


@dataclass(frozen=True)
class TraceResult:
    request_id: str | None
    outcome: Outcome
    probability: float
    candidates: int
    record: int | None  # internal: row of the matched record in the index; never for the requester
    disclosure: dict | None  # only when matched and not restricted
    explanation: tuple[CandidateExplanation, ...] = ()  # for audit and review, never for the requester
    nearest: tuple[int, ...] = ()  # internal: rows of the best-scoring candidates, whatever the outcome
    # Not a certain match because the best-scoring candidate failed this decision requirement (its reason); the
    # probability is still the model's for that candidate.
    blocked_by: str | None = None


@dataclass
class BatchTrace:
    """Arrays for a batch: what the CLI writes and what evaluation reads, without per-request objects."""

    request_ids: list[str | None]
    decisions: Decisions | None  # None only between scoring and deciding
    pair_request: np.ndarray
    pair_record: np.ndarray
    gamma: np.ndarray
    scores: Scores
    eligible: np.ndarray | None  # per pair: meets the decision's requirements
    blocked_by: list[str | None] | None = None  # per request: see TraceResult.blocked_by


class Tracer:
    def __init__(
        self,
        index: Index,
        config: TraceConfig | None = None,
        comparisons: tuple[Comparison, ...] | None = None,
        model: FellegiSunterModel | None = None,
    ) -> None:
        self.index = index
        self.config = config or TraceConfig()
        self.model = model or index.model
        if self.model is None:
            raise ValueError(
                "the index has no trained model: fit a FellegiSunterEstimator or run `python -m matcher build` first"
            )
        # By default the library's comparisons the model was trained for, so that an index built and trained
        # with another set (an address line added, say) is traced with it wherever it is served.
        names = [parameters.name for parameters in self.model.comparisons]
        self.comparisons = comparisons or comparisons_named(names, index.tokeniser, index.encoded)
        self.features = derived_columns(self.comparisons)
        unbuilt = [f.name for f in self.features if f.name not in index.records.features]
        if unbuilt:
            raise ValueError(f"the index was built without the feature columns {unbuilt} its comparisons read")
        self.scorer = Scorer(self.model, self.comparisons, self.config.tf_floor, index.term_frequency)
        self._comparison_names = [c.name for c in self.comparisons]
        # Level labels by level number, with NULL's last so that NULL (-1) reads it.
        self._level_labels = [[*c.labels, NULL_LABEL] for c in self.comparisons]
        # The relatives the index's population rules out: the requirements guarding against them are waived.
        relations = self.model.relations
        self.waived = RelationCounts(self.model.records, relations).ruled_out() if relations else frozenset()
        self.meets_requirements = RequirementCheck(self.comparisons, self.config.decision.requirements, self.waived)
        # ``could_be`` scores the date of birth as agreeing: its comparison's first level, exact agreement.
        names = self._comparison_names
        self._date_of_birth = names.index("date_of_birth") if "date_of_birth" in names else None

    def trace(self, request: TraceRequest | dict) -> TraceResult:
        return self.trace_many([request], explain=True)[0]

    def trace_many(self, requests: Requests, explain: bool = False) -> list[TraceResult]:
        batch = self.trace_batch(requests)
        return self.results(batch, explain=explain)

    def trace_batch(self, requests: Requests) -> BatchTrace:
        entities, request_ids = self.request_entities(requests)
        pair_request, pair_record = self.candidates(entities)
        # The index's records are masked in memory: only the candidates are unmasked, to be compared.
        rows, local = np.unique(pair_record, return_inverse=True)
        records = self.index.records.take(rows)
        gamma = comparison_vectors(self.comparisons, entities, records, pair_request, local)
        scores = self.scorer(gamma, self.index.term_frequencies_for(records, local))
        undecided = BatchTrace(request_ids, None, pair_request, pair_record, gamma, scores, None)
        return self.decide(undecided, self.config.decision, self.meets_requirements)

    def decide(
        self, batch: BatchTrace, decision: DecisionConfig, meets_requirements: RequirementCheck | None = None
    ) -> BatchTrace:
        """The batch's decisions under ``decision``: scored pairs are reused, so a threshold sweep costs only this."""
        check = meets_requirements or RequirementCheck(self.comparisons, decision.requirements, self.waived)
        eligible = check(batch.gamma)
        standings = self.index.standing_at(batch.pair_record)
        n = len(batch.request_ids)
        decisions = decide(n, batch.pair_request, batch.scores.match_weight, eligible, standings, decision)
        if check.reviewable is not None:
            reviewable = check.reviewable(batch.gamma)
            if (reviewable & ~eligible).any():
                decisions = _hold_for_review(
                    decisions, decide(n, batch.pair_request, batch.scores.match_weight, reviewable, standings, decision)
                )
        blocked_by: list[str | None] = [None] * len(batch.request_ids)
        best = decisions.model_best_pair
        uncertain = ~np.isin(decisions.outcome, [OUTCOMES.index(o) for o in CERTAIN])
        blocked = np.flatnonzero(uncertain & (best >= 0))
        blocked = blocked[~eligible[best[blocked]]]
        for i, reason in zip(blocked.tolist(), check.first_failed(batch.gamma[best[blocked]]), strict=True):
            blocked_by[i] = reason
        return replace(batch, decisions=decisions, eligible=eligible, blocked_by=blocked_by)

    def request_entities(self, requests: Requests) -> tuple[Entities, list]:
        return Entities.from_requests(requests, self.index.tokeniser, self.index.encoder, self.features)

    def candidates(self, requests: Entities) -> tuple[np.ndarray, np.ndarray]:
        return candidate_pairs(
            self.index.blocking,
            self.index.rules,
            requests,
            self.config.max_block_size,
            self.config.max_candidates,
        )

    def results(self, batch: BatchTrace, explain: bool = False) -> list[TraceResult]:
        d = batch.decisions
        disclose = np.flatnonzero(d.outcome == OUTCOMES.index(Outcome.MATCHED))
        disclosures = dict(
            zip(disclose.tolist(), self.disclosures(batch.pair_record[d.best_pair[disclose]]), strict=True)
        )
        nearest = self.nearest(batch)
        out = []
        for i, request_id in enumerate(batch.request_ids):
            best = int(d.best_pair[i])
            outcome = OUTCOMES[d.outcome[i]]
            decided = outcome in CERTAIN
            out.append(
                TraceResult(
                    request_id=request_id,
                    outcome=outcome,
                    probability=float(d.probability[i]),
                    candidates=int(d.candidates[i]),
                    record=int(batch.pair_record[best]) if decided else None,
                    disclosure=disclosures.get(i),
                    explanation=self.explain(batch, i) if explain else (),
                    nearest=nearest[i],
                    blocked_by=batch.blocked_by[i] if batch.blocked_by else None,
                )
            )
        return out

    def nearest(self, batch: BatchTrace) -> list[tuple[int, ...]]:
        """Per request, the rows of its ``nearest_records`` best-scoring candidates by match weight, eligible or
        not, best first."""
        return _best_per_request(
            len(batch.request_ids),
            batch.pair_request,
            batch.pair_record,
            batch.scores.match_weight,
            self.config.nearest_records,
        )

    def could_be(self, requests: Requests) -> list[tuple[int, ...]]:
        """Per request, the rows of the records it would have been matched to, or come near, had its date of
        birth been theirs: found under every blocking rule, the probe-only ones included, and scored with the
        date of birth taken as agreeing; best first, at most ``could_be_records``; withheld records never.

        A search for a person's date of birth sends one date after another; each wrong date finds other people,
        or nobody, but each could be about the person the right date will find.
        """
        if self._date_of_birth is None:
            raise ValueError("could_be needs a date_of_birth comparison to take as agreeing")
        entities, _ = self.request_entities(requests)
        pair_request, pair_record = candidate_pairs(
            self.index.blocking,
            self.index.rules,
            entities,
            self.config.max_block_size,
            self.config.could_be_candidates,
            including=None,
        )
        rows, local = np.unique(pair_record, return_inverse=True)
        records = self.index.records.take(rows)
        gamma = comparison_vectors(self.comparisons, entities, records, pair_request, local)
        gamma[:, self._date_of_birth] = 0  # its first level: exact agreement
        scores = self.scorer(gamma, self.index.term_frequencies_for(records, local))
        floor = np.log2(self.config.could_be_probability / (1 - self.config.could_be_probability))
        # A withheld record is never among them: counted, it would say that the index holds the person.
        present = self.index.standing_at(pair_record) != OUTCOMES.index(Outcome.RESTRICTED)
        keep = (scores.match_weight >= floor) & self.meets_requirements(gamma) & present
        weight, top = scores.match_weight[keep], self.config.could_be_records
        return _best_per_request(len(entities), pair_request[keep], pair_record[keep], weight, top)

    def records_about(self, requests: Requests, results: list[TraceResult]) -> list[tuple[int, ...]]:
        """Per request, the rows of every record it may be about: those it landed on (``nearest``) and, unless it
        was matched to a record that may be disclosed or said to be dead, those it could be about under another
        date of birth (``could_be``). A match lands on its record already; a request that finds nobody, or someone
        else, may be one wrong date of a search for a person it never reaches; and one matched to a withheld
        record is answered as about nobody, so it is counted as about nobody. Withheld records are never among
        them: counted, they would say that the index holds the person."""
        landed = (Outcome.MATCHED, Outcome.DECEASED)
        uncertain = [i for i, result in enumerate(results) if result.outcome not in landed]
        found = dict(zip(uncertain, self.could_be([requests[i] for i in uncertain]), strict=True)) if uncertain else {}
        about = [tuple(dict.fromkeys((*result.nearest, *found.get(i, ())))) for i, result in enumerate(results)]
        rows = np.array([row for some in about for row in some], dtype=np.int64)
        present = iter((self.index.standing_at(rows) != OUTCOMES.index(Outcome.RESTRICTED)).tolist())
        return [tuple(row for row in some if next(present)) for some in about]

    def results_table(self, batch: BatchTrace, with_candidates: bool = False) -> pa.Table:
        """The ``trace`` command's output: one row per request. NHS numbers here are the data holder's internal
        evaluation output, never part of any response."""
        d = batch.decisions
        has_best = d.best_pair >= 0
        best_nhs = np.full(len(d.outcome), None, dtype=object)
        best_nhs[has_best] = self.nhs_numbers(batch.pair_record[d.best_pair[has_best]])
        decided = np.isin(d.outcome, [OUTCOMES.index(o) for o in CERTAIN])
        columns = {
            "request_id": pa.array(batch.request_ids, pa.string()),
            "outcome": pa.array([OUTCOMES[o].value for o in d.outcome], pa.string()),
            "probability": pa.array(d.probability, pa.float64()),
            "matched_nhs_number": pa.array(np.where(decided, best_nhs, None).tolist(), pa.string()),
            "candidates": pa.array(d.candidates, pa.int64()),
            "best_nhs_number": pa.array(best_nhs.tolist(), pa.string()),
            "blocked_by": pa.array(batch.blocked_by or [None] * len(d.outcome), pa.string()),
        }
        if with_candidates:
            offsets = np.zeros(len(d.outcome) + 1, dtype=np.int32)
            np.cumsum(d.candidates, out=offsets[1:])
            values = pa.array(self.nhs_numbers(batch.pair_record), pa.string())
            columns["candidate_nhs_numbers"] = pa.ListArray.from_arrays(pa.array(offsets), values)
        return pa.table(columns)

    def disclosures(self, records: np.ndarray) -> list[dict | None]:
        """The disclosable fields of these records; None for a restricted record (``matcher.disclosure``)."""
        return disclose(self.index, records)

    def nhs_numbers(self, records: np.ndarray) -> list[str]:
        """Internal only (evaluation output, and what the service's keyed enumeration tokens are made from): the
        NHS numbers of index rows (decrypted from their payloads)."""
        if not len(records):
            return []
        return [payload["nhs_number"] for payload in self.index.open_payloads(records)]

    def explain(self, batch: BatchTrace, request: int) -> tuple[CandidateExplanation, ...]:
        pairs = np.flatnonzero(batch.pair_request == request)
        pairs = pairs[np.argsort(-batch.scores.match_weight[pairs], kind="stable")][: self.config.explain_top]
        # Plain lists first: reading numpy scalars one at a time costs more than the rest of this together.
        return tuple(
            CandidateExplanation(
                record=record,
                match_weight=round(match_weight, 3),
                eligible=eligible,
                comparisons=tuple(
                    ComparisonExplanation(name, labels[level], round(weight, 3))
                    for name, labels, level, weight in zip(
                        self._comparison_names, self._level_labels, gamma, weights, strict=True
                    )
                ),
            )
            for record, match_weight, eligible, gamma, weights in zip(
                batch.pair_record[pairs].tolist(),
                batch.scores.match_weight[pairs].tolist(),
                batch.eligible[pairs].tolist(),
                batch.gamma[pairs].tolist(),
                batch.scores.weights[pairs].tolist(),
                strict=True,
            )
        )


def _hold_for_review(decisions: Decisions, held: Decisions) -> Decisions:
    """Requests that would be a certain match to someone who may be disclosed, but for a requirement that holds
    for review, are ambiguous: a reviewer decides. A restricted or deceased match stays no match (a hold would
    say what it is)."""
    matched = OUTCOMES.index(Outcome.MATCHED)
    uncertain = ~np.isin(decisions.outcome, [OUTCOMES.index(o) for o in CERTAIN])
    outcome = decisions.outcome.copy()
    outcome[uncertain & (held.outcome == matched)] = OUTCOMES.index(Outcome.AMBIGUOUS)
    return replace(decisions, outcome=outcome)


def _best_per_request(
    n_requests: int, pair_request: np.ndarray, pair_record: np.ndarray, weight: np.ndarray, top: int
) -> list[tuple[int, ...]]:
    """Per request, the records of its ``top`` pairs by weight, best first."""
    order = np.lexsort((-weight, pair_request))
    requests = pair_request[order]
    records = pair_record[order].tolist()
    starts = np.searchsorted(requests, np.arange(n_requests + 1)).tolist()
    return [tuple(records[start : min(end, start + top)]) for start, end in itertools.pairwise(starts)]
