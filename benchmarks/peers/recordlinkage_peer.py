"""recordlinkage 0.16 peer: union of block indexes, ``Compare`` features, unsupervised ``ECMClassifier``.

Set-up (all on pandas, fields normalised by ``benchmarks.peers._common``; current values only, since the
toolkit compares flat columns):

Indexing: ``recordlinkage.Index`` with three ``Block`` passes whose candidate pairs are unioned:

- NHS number (when the request has one);
- date of birth as typed (about 30 candidates a request at 1M records);
- family name + given name + year of birth (reaches requests whose day or month is wrong).

Comparison: ``recordlinkage.Compare`` with

- ``string(..., method="jarowinkler")`` on family name and on given name (similarities 0..1);
- ``date(...)`` on the date of birth (1 equal, 0.5 day and month swapped, 0 otherwise; impossible dates are
  missing);
- ``exact`` on full postcode, postcode district (outward code), sex and NHS number;
- the fields our tracer compares too: ``string(..., method="jarowinkler")`` on the address line, ``exact`` on
  the town.

Missing values are 0 (the toolkit's default, i.e. treated as disagreement).

Classification: ``recordlinkage.ECMClassifier(binarize=0.85, init="jaro")``: the Fellegi-Sunter model fitted
by expectation/conditional maximisation without labels. ECM is a Bernoulli model, so every feature is
binarised at one threshold: a name agrees when its Jaro-Winkler similarity exceeds 0.85, the date of birth only
when equal, exact features when equal. ECM is fitted on the candidate pairs of the unlabelled
``training_requests`` (the same blocking and comparison), or, without them, on the traced requests' own
candidate pairs (legitimate, since it is unsupervised).

Why this blocking: ECM fits a two-class mixture, and it only finds *identity* when identity is the main
structure in the pairs it is fitted on. That can be checked without labels by reading the fitted m and u
probabilities. With MPS-like tight passes (Soundex+DOB, given name+DOB, DOB+postcode, name+year) most pairs are
already the same person, and the fitted "match" class was "postcode agrees" (m = u for the names). With random
pairs added (``recordlinkage.index.Random``) the match class was "was blocked". With DOB and name blocks it was
"name agrees". With the single broad DOB pass, the classes are identity: m/u for family name 0.97/0.004, given
name 0.91/0.007, postcode 0.48/~0. Costs of this choice: the date of birth carries no weight (nearly every
fitted pair agrees on it, so u = 1), so a same-year namesake found by the name+year pass is not penalised for
its different date; and ECM's independence assumption lets surname + date of birth + address outweigh a
different given name (a sibling at the same address). Binarising thresholds of 0.80, 0.85, 0.90 and 0.95 were
tried against the typical requests' truth (so this one choice did see labels): 0.80 to 0.90 gave precision and
recall within 0.01 of each other, 0.95 lost recall; 0.85, the middle, is used. The blocking was chosen on the
fitted m and u above, which need no labels, though the truth scores of the rejected variants were seen too: on
the typical requests at 1M, precision/recall 0.93/0.68 (tight passes), 0.82/0.83 (with random pairs) and
0.88/0.73 (DOB and name blocks), against 0.90/0.94 for this one.

Decision per request: the candidate pair with the highest ``prob`` is **matched** when ``prob`` >= 0.5 (the
classifier's own decision rule) and the runner-up's ``prob`` is below 0.5; **ambiguous** when the runner-up
is also classified as a match (two or more candidates at >= 0.5, e.g. identical comparison vectors);
**no_match** otherwise. ``probability`` is the best ``prob``.

``train_seconds`` covers normalising the population, and blocking, comparing and fitting on the training
requests; ``predict_seconds`` covers normalising, blocking, comparing, classifying and deciding the requests.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pyarrow as pa
import recordlinkage
from recordlinkage.index import Block

from benchmarks.peers import PeerRun
from benchmarks.peers._common import (
    decide_from_pairs,
    normalise_population,
    normalise_requests,
    stopwatch,
)

BINARIZE = 0.85
BINARIZE_TRIED = (0.80, 0.85, 0.90, 0.95)
MATCH_PROBABILITY = 0.5

FEATURES = ("family", "given", "dob", "postcode", "outward", "sex", "nhs_number", "address", "town")


def _population_frame(population: pa.Table) -> pd.DataFrame:
    pop = normalise_population(population)
    pop["dob_year"] = pop["dob_y"].astype("Int64").astype("string").astype(object)
    pop["dob_dt"] = pd.to_datetime(pop["dob"], format="%Y-%m-%d", errors="coerce")
    pop["dob_key"] = pop["dob"]
    return pop


def _request_frame(requests: pa.Table) -> pd.DataFrame:
    req = normalise_requests(requests)
    req["dob_year"] = req["dob_y"].astype("Int64").astype("string").astype(object)
    req["dob_dt"] = pd.to_datetime(req["dob"], format="%Y-%m-%d", errors="coerce")
    # Blocking keys use the date as typed: an impossible date never equals a record's.
    req["dob_key"] = req["dob_typed"]
    return req


def make_indexer() -> recordlinkage.Index:
    """The union of the blocking passes (see the module docstring)."""
    indexer = recordlinkage.Index()
    indexer.add(Block("nhs_number", "nhs_number"))
    indexer.add(Block("dob_key", "dob_key"))
    indexer.add(Block(["family", "given", "dob_year"], ["family", "given", "dob_year"]))
    return indexer


def make_comparer() -> recordlinkage.Compare:
    comparer = recordlinkage.Compare(n_jobs=1)
    comparer.string("family", "family", method="jarowinkler", label="family")
    comparer.string("given", "given", method="jarowinkler", label="given")
    comparer.date("dob_dt", "dob_dt", swap_month_day=0.5, label="dob")
    comparer.exact("postcode", "postcode", label="postcode")
    comparer.exact("outward", "outward", label="outward")
    comparer.exact("sex", "sex", label="sex")
    comparer.exact("nhs_number", "nhs_number", label="nhs_number")
    comparer.string("address", "address", method="jarowinkler", label="address")
    comparer.exact("town", "town", label="town")
    return comparer


def candidate_features(requests: pd.DataFrame, population: pd.DataFrame) -> pd.DataFrame:
    """Comparison vectors for every candidate pair, indexed by (request position, population position)."""
    pairs = make_indexer().index(requests, population)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=FutureWarning)
        features = make_comparer().compute(pairs, requests, population)
    return features[list(FEATURES)].fillna(0.0)


def fit(features: pd.DataFrame, binarize: float = BINARIZE) -> recordlinkage.ECMClassifier:
    model = recordlinkage.ECMClassifier(binarize=binarize, init="jaro")
    model.fit(features)
    return model


def decide(requests: pd.DataFrame, population: pd.DataFrame, features: pd.DataFrame, probs: np.ndarray) -> pa.Table:
    return decide_from_pairs(
        requests["request_id"],
        features.index.get_level_values(0).to_numpy(),
        features.index.get_level_values(1).to_numpy(),
        probs,
        population["nhs_number"].to_numpy(),
        MATCH_PROBABILITY,
        MATCH_PROBABILITY,
    )


def trace(population: pa.Table, requests: pa.Table, training_requests: pa.Table | None = None) -> PeerRun:
    """Trace ``requests`` with recordlinkage; ECM is fitted on ``training_requests``' pairs when given."""
    details: dict = {"binarize": BINARIZE, "match_probability": MATCH_PROBABILITY}
    with stopwatch() as t_train:
        pop = _population_frame(population)
        model = None
        if training_requests is not None:
            train = _request_frame(training_requests)
            train_features = candidate_features(train, pop)
            model = fit(train_features)
            details["training_pairs"] = len(train_features)
    with stopwatch() as t_pred:
        req = _request_frame(requests)
        features = candidate_features(req, pop)
        if model is None:
            model = fit(features)
        probs = model.prob(features).to_numpy() if len(features) else np.zeros(0)
        results = decide(req, pop, features, probs)
    details["pairs"] = len(features)
    details["match_prior"] = float(model.p)
    for name in FEATURES:
        details[f"m_{name}"] = float(np.exp(model.log_m_probs[name].get(1, -np.inf)))
        details[f"u_{name}"] = float(np.exp(model.log_u_probs[name].get(1, -np.inf)))
    return PeerRun(
        results=results,
        train_seconds=t_train[0],
        predict_seconds=t_pred[0],
        details=details,
        model=model,
        ambiguity=("below", MATCH_PROBABILITY),
    )
