"""MPS-style baseline: a model of NHS England's published PDS / Master Person Service trace.

What is published (the Person_ID Handbook's "technical details of the data linkage algorithm", PDS tracing help
pages and NHS developer-forum answers) describes a cascade that stops at the first success:

1. **Cross-check trace**: an NHS number supplied with a date of birth is confirmed when a record has that NHS
   number and exactly that date of birth. Here: matched with probability 1.0.
2. (Alphanumeric trace: an exact search; every exact hit also scores at the top of step 3, so it is not modelled
   separately.)
3. **Algorithmic trace**: candidate records are gathered by four blocking passes and each is scored field by
   field; the published weights and cut-offs are not public, so this set-up uses an unweighted mean and states
   its cut-off.

Blocking passes, each an exact look-up in a dict (inverted index) built once from the population:

- P1: Soundex(family name) + first initial of given name + date of birth;
- P2: family name + sex + date of birth + postcode;
- P3: given name + sex + date of birth + postcode;
- P4: date of birth + postcode + sex.

The published algorithm requires sex for P2-P4; a request without sex is looked up under every sex value
(more generous than PDS, which would reject the trace). Every pass needs the exact date of birth, so a request
with a wrong date of birth only succeeds through the NHS-number cross-check: that is the published design.

Field scores, 0..100 (names normalised to letters only, postcodes to ``OUTWARD INWARD``):

- family name and given name: 100 exact; otherwise 100 x Jaro-Winkler similarity when it is at least 0.80,
  else 0;
- date of birth: 100 exact; 80 day and month swapped; 50 two of year/month/day equal; else 0;
- sex: 100 equal, 0 different;
- postcode: 100 equal; 75 same sector; 50 same district (also the best an outward-only request can get);
  25 same area; else 0.

The candidate's score is the unweighted mean of the scores of the fields present in the request (a missing
given name, sex or postcode is left out rather than counted as 0).

Decision: the best candidate is **matched** if its score is at least ``MATCH_THRESHOLD`` = 85 and no other
candidate is within ``AMBIGUITY_MARGIN`` = 5 points of it (the published 5-point rule); **ambiguous** if it
reaches 85 but a runner-up is within 5 points; **no_match** otherwise. Why 85: with every field present, a
record agreeing exactly on names, date of birth and sex but not on postcode scores 80, and so does a same-sex
sibling at the same address with a different given name; 85 sits between that 80 and the 90 of a single
one-field mismatch. ``probability`` is the best score / 100.

**Current values only**: like the published trace against PDS's current demographics, the population's
previous family names and previous addresses are not used, so a stale postcode or a maiden name is scored as a
mismatch.

``train_seconds`` is the time to normalise the population and build the five dict indexes (there is no model to
fit; ``training_requests`` is ignored). ``predict_seconds`` covers normalising the requests, the cross-check,
blocking, scoring and the decisions, one request at a time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
from rapidfuzz.distance import JaroWinkler

from benchmarks.peers import PeerRun
from benchmarks.peers._common import normalise_population, normalise_requests, results_table, stopwatch

MATCH_THRESHOLD = 85.0
AMBIGUITY_MARGIN = 5.0
NAME_JW_FLOOR = 0.80
ALL_SEXES = ("male", "female", "other", "unknown")

PASSES: dict[str, tuple[str, ...]] = {
    "p1_soundex_initial_dob": ("family_soundex", "given_initial", "dob"),
    "p2_family_sex_dob_postcode": ("family", "sex", "dob", "postcode"),
    "p3_given_sex_dob_postcode": ("given", "sex", "dob", "postcode"),
    "p4_dob_postcode_sex": ("dob", "postcode", "sex"),
}


@dataclass
class MpsIndex:
    """The population's normalised fields as arrays plus the blocking dicts."""

    nhs_number: np.ndarray
    family: np.ndarray
    given: np.ndarray
    sex: np.ndarray
    dob_y: np.ndarray
    dob_m: np.ndarray
    dob_d: np.ndarray
    postcode: np.ndarray
    by_nhs: dict[str, int]
    blocks: dict[str, dict[tuple, np.ndarray]]


def build_index(population: pa.Table) -> MpsIndex:
    pop = normalise_population(population)
    blocks = {}
    for name, keys in PASSES.items():
        blocks[name] = dict(pop.groupby(list(keys), sort=False, dropna=True).indices)
    by_nhs = dict(zip(pop["nhs_number"].to_numpy(), range(len(pop)), strict=True))
    return MpsIndex(
        nhs_number=pop["nhs_number"].to_numpy(),
        family=pop["family"].to_numpy(),
        given=pop["given"].to_numpy(),
        sex=pop["sex"].to_numpy(),
        dob_y=pop["dob_y"].to_numpy(),
        dob_m=pop["dob_m"].to_numpy(),
        dob_d=pop["dob_d"].to_numpy(),
        postcode=pop["postcode"].to_numpy(),
        by_nhs=by_nhs,
        blocks=blocks,
    )


def name_score(a: str | None, b: str | None) -> float:
    if not a or not b:
        return 0.0
    if a == b:
        return 100.0
    sim = JaroWinkler.similarity(a, b)
    return 100.0 * sim if sim >= NAME_JW_FLOOR else 0.0


def dob_score(y: float, m: float, d: float, ry: float, rm: float, rd: float) -> float:
    if y == ry and m == rm and d == rd:
        return 100.0
    if y == ry and m == rd and d == rm:
        return 80.0
    if (y == ry) + (m == rm) + (d == rd) >= 2:
        return 50.0
    return 0.0


def postcode_score(a: str, b: str | None) -> float:
    """``a`` is the request's normalised postcode (full or outward-only), ``b`` the record's."""
    if not b:
        return 0.0
    if a == b:
        return 100.0
    a_out, _, a_in = a.partition(" ")
    b_out, _, b_in = b.partition(" ")
    if a_in and b_in and a_out == b_out and a_in[:1] == b_in[:1]:
        return 75.0
    if a_out == b_out:
        return 50.0
    a_area = _area(a_out)
    return 25.0 if a_area and a_area == _area(b_out) else 0.0


def _area(outward: str) -> str:
    """Postcode area: the leading letters (one or two) of the outward code."""
    i = 0
    while i < len(outward) and i < 2 and outward[i].isalpha():
        i += 1
    return outward[:i]


def _candidates(index: MpsIndex, req: dict) -> set[int]:
    sexes = (req["sex"],) if req["sex"] else ALL_SEXES
    found: set[int] = set()
    dob = req["dob"]
    if dob is None:
        return found
    b = index.blocks
    if req["family_soundex"] and req["given_initial"]:
        hit = b["p1_soundex_initial_dob"].get((req["family_soundex"], req["given_initial"], dob))
        if hit is not None:
            found.update(hit.tolist())
    pcode = req["postcode"]
    if pcode:
        for sex in sexes:
            if req["family"]:
                hit = b["p2_family_sex_dob_postcode"].get((req["family"], sex, dob, pcode))
                if hit is not None:
                    found.update(hit.tolist())
            if req["given"]:
                hit = b["p3_given_sex_dob_postcode"].get((req["given"], sex, dob, pcode))
                if hit is not None:
                    found.update(hit.tolist())
            hit = b["p4_dob_postcode_sex"].get((dob, pcode, sex))
            if hit is not None:
                found.update(hit.tolist())
    return found


def score_candidate(index: MpsIndex, req: dict, i: int) -> float:
    scores = [name_score(req["family"], index.family[i])]
    if req["given"]:
        scores.append(name_score(req["given"], index.given[i]))
    scores.append(dob_score(index.dob_y[i], index.dob_m[i], index.dob_d[i], req["dob_y"], req["dob_m"], req["dob_d"]))
    if req["sex"]:
        scores.append(100.0 if req["sex"] == index.sex[i] else 0.0)
    if req["postcode"]:
        scores.append(postcode_score(req["postcode"], index.postcode[i]))
    return sum(scores) / len(scores)


def trace_one(index: MpsIndex, req: dict) -> tuple[str, float, str | None, int, str | None, float]:
    """(outcome, probability, matched nhs number, candidates scored, best candidate's nhs number, runner-up's
    probability) for one normalised request."""
    nhs = req["nhs_number"]
    if nhs:
        i = index.by_nhs.get(nhs)
        if (
            i is not None
            and req["dob_y"] == index.dob_y[i]
            and req["dob_m"] == index.dob_m[i]
            and req["dob_d"] == index.dob_d[i]
        ):
            return "matched", 1.0, index.nhs_number[i], 1, index.nhs_number[i], -1.0
    cands = _candidates(index, req)
    if not cands:
        return "no_match", 0.0, None, 0, None, -1.0
    scored = sorted(((score_candidate(index, req, i), i) for i in cands), reverse=True)
    best, best_i = scored[0]
    runner_up = scored[1][0] if len(scored) > 1 else -np.inf
    found = index.nhs_number[best_i]
    second = runner_up / 100.0 if len(scored) > 1 else -1.0
    if best < MATCH_THRESHOLD:
        return "no_match", best / 100.0, None, len(scored), found, second
    if runner_up >= best - AMBIGUITY_MARGIN:
        return "ambiguous", best / 100.0, None, len(scored), found, second
    return "matched", best / 100.0, found, len(scored), found, second


_REQUEST_FIELDS = (
    "nhs_number",
    "family",
    "given",
    "sex",
    "postcode",
    "dob",
    "dob_y",
    "dob_m",
    "dob_d",
    "family_soundex",
    "given_initial",
)


def _request_dicts(requests: pa.Table) -> tuple[pd.Series, list[dict]]:
    req = normalise_requests(requests)
    # Blocking uses the typed date of birth: an impossible date can never equal a record's.
    req["dob"] = req["dob_typed"]
    rows = req[list(_REQUEST_FIELDS)].to_dict("records")
    for row in rows:
        for key in ("nhs_number", "family", "given", "sex", "postcode", "dob", "family_soundex", "given_initial"):
            if isinstance(row[key], float):  # NaN from pandas -> None
                row[key] = None
    return req["request_id"], rows


def trace(population: pa.Table, requests: pa.Table, training_requests: pa.Table | None = None) -> PeerRun:
    """Trace every request with the MPS-style cascade (``training_requests`` is not used)."""
    with stopwatch() as t_train:
        index = build_index(population)
    with stopwatch() as t_pred:
        ids, rows = _request_dicts(requests)
        out = [trace_one(index, row) for row in rows]
        results = results_table(ids, *([o[k] for o in out] for k in range(6)))
    details = {
        "match_threshold": MATCH_THRESHOLD,
        "ambiguity_margin": AMBIGUITY_MARGIN,
        "name_jw_floor": NAME_JW_FLOOR,
        "index_records": len(index.nhs_number),
    }
    return PeerRun(
        results=results,
        train_seconds=t_train[0],
        predict_seconds=t_pred[0],
        details=details,
        model=index,
        ambiguity=("margin", AMBIGUITY_MARGIN / 100.0),
    )
