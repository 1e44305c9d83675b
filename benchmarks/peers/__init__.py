"""Peer record-linkage set-ups, traced against the same synthetic index as our matcher for a peer benchmark.

One module per peer, each exposing ``trace(population, requests, training_requests=None) -> PeerRun``:

- ``mps_baseline``: a model of NHS England's published PDS/MPS trace (NHS number cross-check, then the
  four-pass "algorithmic trace" with 0..100 field scores, an unweighted mean, a cut-off and a 5-point
  ambiguity rule), on current values only.
- ``recordlinkage_peer``: the ``recordlinkage`` 0.16 toolkit (union of block indexes, ``Compare``,
  unsupervised ``ECMClassifier``).
- ``splink_peer``: Splink 5 on DuckDB (Fellegi-Sunter with term-frequency adjustments, u by random sampling,
  m by EM on unlabelled training requests).

Timing convention shared by all peers: ``train_seconds`` is everything that depends only on the population and
the (unlabelled) training requests: normalising and indexing the population, fitting the model.
``predict_seconds`` is everything that touches the requests being traced: normalising them, blocking, comparing,
scoring and deciding. Neither includes reading Parquet files.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

OUTCOMES = ("matched", "no_match", "ambiguous")

RESULT_SCHEMA = pa.schema(
    [
        pa.field("request_id", pa.string()),
        pa.field("outcome", pa.string()),
        pa.field("probability", pa.float64()),
        pa.field("matched_nhs_number", pa.string()),
        pa.field("candidates", pa.int64()),
        # What a threshold sweep re-decides from (``benchmarks.peers._common.decide_at``): the best candidate,
        # matched or not, and the runner-up's score (-1 with none).
        pa.field("best_nhs_number", pa.string()),
        pa.field("runner_up_probability", pa.float64()),
    ]
)


@dataclass
class PeerRun:
    """What one peer returns for one batch of requests.

    ``results`` has exactly one row per request, with the columns of ``RESULT_SCHEMA``: ``outcome`` is
    "matched", "no_match" or "ambiguous"; ``probability`` is the peer's score for its best candidate scaled
    to 0..1 (0 when there was no candidate); ``matched_nhs_number`` is null unless matched; ``candidates`` is
    how many population records were scored for that request. ``ambiguity`` is the peer's own rule for a
    runner-up too close, for re-deciding at another threshold: ("below", limit) or ("margin", points).
    """

    results: pa.Table
    train_seconds: float
    predict_seconds: float
    details: dict[str, Any] = field(default_factory=dict)
    model: Any = field(default=None, repr=False)
    ambiguity: tuple[str, float] = ("below", 0.5)


__all__ = ["OUTCOMES", "RESULT_SCHEMA", "PeerRun"]
