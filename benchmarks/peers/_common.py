"""Shared helpers for the peers: normalisation, result tables, scoring against truth and dev samples.

Normalisation is the same for every peer, so that differences in the benchmark come from the peers' linkage
methods, not from cleaning:

- names: upper case, everything but A-Z removed (so ``O'SHEA`` = ``OSHEA``, ``VAN NUS`` = ``VANNUS``,
  ``SMITH-JONES`` = ``SMITHJONES``); empty -> null;
- postcodes: upper case, everything but A-Z/0-9 removed, then ``OUTWARD INWARD`` (a space before the last three
  characters) when there are at least five characters, the bare outward code when there are two to four
  (an outward-only postcode), null otherwise; malformed postcodes are kept in that shape, not corrected;
- sex: lower case ``male``/``female``/``other``/``unknown`` (``m``/``f`` accepted), anything else null;
- dates of birth: population dates as ISO strings; request dates parsed from the typed ``YYYY-MM-DD`` (or
  ``DD/MM/YYYY``) string into year, month and day, kept even when the date is impossible (``1985-02-30``), with a
  flag for real dates.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

import jellyfish
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from benchmarks.peers import OUTCOMES, RESULT_SCHEMA

# ---------------------------------------------------------------------------------------------------------------
# Field normalisation


def _to_series(values: pa.Array | pa.ChunkedArray | pd.Series) -> pd.Series:
    if isinstance(values, pd.Series):
        return values.reset_index(drop=True)
    return values.to_pandas().reset_index(drop=True)


def norm_name(values: pa.Array | pa.ChunkedArray | pd.Series) -> pd.Series:
    """Upper case, letters A-Z only, empty -> None (object dtype)."""
    arr = values if isinstance(values, pa.Array | pa.ChunkedArray) else pa.array(values, pa.string())
    arr = pc.replace_substring_regex(pc.utf8_upper(arr), "[^A-Z]", "")
    arr = pc.if_else(pc.equal(arr, ""), pa.scalar(None, pa.string()), arr)
    return _to_series(arr).astype(object).where(lambda s: s.notna(), None)


def norm_postcode(values: pa.Array | pa.ChunkedArray | pd.Series) -> pd.Series:
    """``OUTWARD INWARD`` for five or more alphanumerics, bare outward for two to four, else None."""
    s = _to_series(values).astype("string").str.upper().str.replace(r"[^A-Z0-9]", "", regex=True)
    n = s.str.len()
    full = s.str[:-3] + " " + s.str[-3:]
    out = pd.Series(pd.NA, index=s.index, dtype="string")
    out = out.mask(n >= 5, full).mask((n >= 2) & (n <= 4), s)
    return out.astype(object).where(out.notna(), None)


def norm_text(values: pa.Array | pa.ChunkedArray) -> pd.Series:
    """An address line or town: upper case, letters and digits, one space between words, empty -> None."""
    arr = pc.replace_substring_regex(pc.utf8_upper(values), "[^A-Z0-9]+", " ")
    arr = pc.utf8_trim_whitespace(arr)
    arr = pc.if_else(pc.equal(arr, ""), pa.scalar(None, pa.string()), arr)
    return _to_series(arr).astype(object).where(lambda s: s.notna(), None)


def postcode_outward(postcodes: pd.Series) -> pd.Series:
    """Outward code (district) of normalised postcodes: the part before the space, or the whole outward-only."""
    s = postcodes.astype("string").str.split(" ").str[0]
    return s.astype(object).where(s.notna(), None)


def postcode_sector(postcodes: pd.Series) -> pd.Series:
    """Sector (outward + first inward digit) of full normalised postcodes; None for outward-only ones."""
    s = postcodes.astype("string")
    sec = s.str[:-2].where(s.str.contains(" ", regex=False), pd.NA)
    return sec.astype(object).where(sec.notna(), None)


def postcode_area(postcodes: pd.Series) -> pd.Series:
    s = postcodes.astype("string").str.extract(r"^([A-Z]{1,2})", expand=False)
    return s.astype(object).where(s.notna(), None)


_SEX = {"male": "male", "m": "male", "female": "female", "f": "female", "other": "other", "unknown": "unknown"}


def norm_sex(values: pa.Array | pa.ChunkedArray | pd.Series) -> pd.Series:
    s = _to_series(values).astype("string").str.strip().str.lower().map(_SEX)
    return s.astype(object).where(s.notna(), None)


def soundex(names: pd.Series) -> pd.Series:
    """American Soundex of normalised names (computed once per distinct name)."""
    uniq = pd.unique(names.dropna())
    table = {name: jellyfish.soundex(name) for name in uniq}
    return names.map(table).astype(object).where(names.notna(), None)


def parse_request_dob(values: pa.Array | pa.ChunkedArray | pd.Series) -> pd.DataFrame:
    """Typed ``YYYY-MM-DD`` (or, as UK forms are filled in, ``DD/MM/YYYY``) strings -> columns ``dob`` (ISO
    string of a real date, else None), ``dob_typed`` (the typed digits in ISO shape, also for impossible dates),
    ``dob_y``/``dob_m``/``dob_d`` (floats, NaN if unreadable) and ``dob_valid`` (bool)."""
    s = _to_series(values).astype("string").str.strip()
    parts = s.str.extract(r"^(\d{4})\D(\d{1,2})\D(\d{1,2})$")
    day_first = s.str.extract(r"^(\d{1,2})\D(\d{1,2})\D(\d{4})$")
    y = pd.to_numeric(parts[0], errors="coerce").fillna(pd.to_numeric(day_first[2], errors="coerce"))
    m = pd.to_numeric(parts[1], errors="coerce").fillna(pd.to_numeric(day_first[1], errors="coerce"))
    d = pd.to_numeric(parts[2], errors="coerce").fillna(pd.to_numeric(day_first[0], errors="coerce"))
    typed = pd.Series(pd.NA, index=s.index, dtype="string")
    ok = y.notna() & m.notna() & d.notna()
    typed[ok] = (
        y[ok].astype(int).astype(str)
        + "-"
        + m[ok].astype(int).astype(str).str.zfill(2)
        + "-"
        + d[ok].astype(int).astype(str).str.zfill(2)
    )
    real = pd.to_datetime(typed, format="%Y-%m-%d", errors="coerce")
    valid = real.notna()
    dob = typed.where(valid, pd.NA)
    return pd.DataFrame(
        {
            "dob": dob.astype(object).where(dob.notna(), None),
            "dob_typed": typed.astype(object).where(typed.notna(), None),
            "dob_y": y.astype(float),
            "dob_m": m.astype(float),
            "dob_d": d.astype(float),
            "dob_valid": valid.to_numpy(),
        }
    )


def normalise_population(population: pa.Table) -> pd.DataFrame:
    """The population's current values, normalised (one row per record, in input order).

    Columns: ``nhs_number``, ``given``, ``other_given`` (letters-only tokens joined by spaces), ``family``,
    ``sex``, ``dob`` (ISO), ``dob_y``/``dob_m``/``dob_d``, ``postcode``, ``address`` and ``town`` (``norm_text``),
    ``outward``, ``family_soundex``, ``given_initial``.
    """
    dob = population["date_of_birth"].cast(pa.date32())
    df = pd.DataFrame(
        {
            "nhs_number": _to_series(population["nhs_number"]).astype(object),
            "given": norm_name(population["given_name"]),
            "other_given": _norm_other_given(population["other_given_names"]),
            "family": norm_name(population["family_name"]),
            "sex": norm_sex(population["sex"]),
            "dob": _to_series(pc.strftime(dob, format="%Y-%m-%d")).astype(object),
            "dob_y": _to_series(pc.year(dob)).astype(float),
            "dob_m": _to_series(pc.month(dob)).astype(float),
            "dob_d": _to_series(pc.day(dob)).astype(float),
            "postcode": norm_postcode(population["postcode"]),
            "address": norm_text(population["address_line_1"]),
            "town": norm_text(population["town"]),
        }
    )
    df["outward"] = postcode_outward(df["postcode"])
    df["family_soundex"] = soundex(df["family"])
    df["given_initial"] = df["given"].str[0]
    return df


def normalise_requests(requests: pa.Table) -> pd.DataFrame:
    """Requests normalised like the population, plus ``request_id`` and the parsed typed date of birth."""
    df = pd.DataFrame(
        {
            "request_id": _to_series(requests["request_id"]).astype(object),
            "nhs_number": _to_series(pc.utf8_trim_whitespace(requests["nhs_number"].cast(pa.string())))
            .astype(object)
            .where(lambda s: s.notna() & (s != ""), None),
            "given": norm_name(requests["given_name"]),
            "other_given": _norm_other_given(requests["other_given_names"]),
            "family": norm_name(requests["family_name"]),
            "sex": norm_sex(requests["sex"]),
            "postcode": norm_postcode(requests["postcode"]),
            "address": norm_text(requests["address_line_1"]),
            "town": norm_text(requests["town"]) if "town" in requests.column_names else None,
        }
    )
    dob = parse_request_dob(requests["date_of_birth"].cast(pa.string()))
    df = pd.concat([df, dob], axis=1)
    df["outward"] = postcode_outward(df["postcode"])
    df["family_soundex"] = soundex(df["family"])
    df["given_initial"] = df["given"].str[0]
    return df


def _norm_other_given(values: pa.Array | pa.ChunkedArray) -> pd.Series:
    arr = pc.utf8_upper(values)
    arr = pc.replace_substring_regex(arr, "[^A-Z ]", "")
    arr = pc.utf8_trim_whitespace(pc.replace_substring_regex(arr, " +", " "))
    arr = pc.if_else(pc.equal(arr, ""), pa.scalar(None, pa.string()), arr)
    return _to_series(arr).astype(object).where(lambda s: s.notna(), None)


# ---------------------------------------------------------------------------------------------------------------
# Results


def results_table(
    request_ids: list | np.ndarray | pd.Series,
    outcomes: list | np.ndarray | pd.Series,
    probabilities: list | np.ndarray | pd.Series,
    matched_nhs_numbers: list | np.ndarray | pd.Series,
    candidates: list | np.ndarray | pd.Series,
    best_nhs_numbers: list | np.ndarray | pd.Series,
    runner_up_probabilities: list | np.ndarray | pd.Series,
) -> pa.Table:
    """Build and check a results table (one row per request, outcomes valid, nhs number only when matched)."""
    df = pd.DataFrame(
        {
            "request_id": pd.Series(request_ids, dtype=object).to_numpy(),
            "outcome": pd.Series(outcomes, dtype=object).to_numpy(),
            "probability": pd.Series(probabilities, dtype=float).fillna(0.0).clip(0.0, 1.0).to_numpy(),
            "matched_nhs_number": pd.Series(matched_nhs_numbers, dtype=object).to_numpy(),
            "candidates": pd.Series(candidates).fillna(0).astype(np.int64).to_numpy(),
            "best_nhs_number": pd.Series(best_nhs_numbers, dtype=object).to_numpy(),
            "runner_up_probability": pd.Series(runner_up_probabilities, dtype=float).fillna(-1.0).to_numpy(),
        }
    )
    df["best_nhs_number"] = df["best_nhs_number"].where(df["best_nhs_number"].notna(), None)
    df.loc[df["outcome"] != "matched", "matched_nhs_number"] = None
    df["matched_nhs_number"] = df["matched_nhs_number"].where(df["matched_nhs_number"].notna(), None)
    bad = set(df["outcome"]) - set(OUTCOMES)
    if bad:
        raise ValueError(f"unknown outcomes {bad}")
    if df["request_id"].duplicated().any():
        raise ValueError("duplicate request ids in results")
    if (df["outcome"] == "matched").to_numpy().astype(bool).any() and df.loc[
        df["outcome"] == "matched", "matched_nhs_number"
    ].isna().any():
        raise ValueError("a matched row has no nhs number")
    return pa.Table.from_pandas(df, schema=RESULT_SCHEMA, preserve_index=False)


def decide_from_pairs(
    request_ids: list | np.ndarray | pd.Series,
    request_rows: np.ndarray,
    record_rows: np.ndarray,
    probabilities: np.ndarray,
    population_nhs: np.ndarray,
    match_threshold: float,
    runner_up_limit: float,
) -> pa.Table:
    """A peer's decision from its scored pairs: matched when the best candidate reaches ``match_threshold`` and
    the runner-up stays below ``runner_up_limit``, ambiguous when both pass, no match otherwise."""
    n = len(request_ids)
    outcome = np.full(n, "no_match", dtype=object)
    best_p = np.zeros(n)
    nhs = np.full(n, None, dtype=object)
    best_nhs = np.full(n, None, dtype=object)
    runner_up_p = np.full(n, -1.0)
    counts = np.zeros(n, dtype=np.int64)
    if len(request_rows):
        df = pd.DataFrame({"r": request_rows, "p": record_rows, "prob": probabilities})
        df = df.sort_values(["r", "prob"], ascending=[True, False], kind="stable")
        grouped = df.groupby("r", sort=False)
        size = grouped.size()
        counts[size.index.to_numpy()] = size.to_numpy()
        first = grouped.head(1).set_index("r")
        second = grouped.nth(1).set_index("r")["prob"]
        r_idx = first.index.to_numpy()
        best_p[r_idx] = first["prob"].to_numpy()
        runner = pd.Series(-1.0, index=r_idx)
        runner.loc[second.index] = second.to_numpy()
        passes = first["prob"].to_numpy() >= match_threshold
        ambiguous = passes & (runner.to_numpy() >= runner_up_limit)
        match = passes & ~ambiguous
        outcome[r_idx[match]] = "matched"
        outcome[r_idx[ambiguous]] = "ambiguous"
        nhs[r_idx[match]] = population_nhs[first.loc[r_idx[match], "p"].to_numpy()]
        best_nhs[r_idx] = population_nhs[first["p"].to_numpy()]
        runner_up_p[r_idx] = runner.to_numpy()
    return results_table(request_ids, outcome, best_p, nhs, counts, best_nhs, runner_up_p)


def decide_at(results: pa.Table, threshold: float, ambiguity: tuple[str, float]) -> pa.Table:
    """A peer's results re-decided at ``threshold`` by its own rule for a runner-up too close (``PeerRun``):
    matched when the best candidate reaches the threshold and the runner-up is clear of it, ambiguous when it
    is not. What a threshold sweep over a peer's scores reads."""
    best = results.column("probability").to_numpy()
    runner_up = results.column("runner_up_probability").to_numpy()
    rule, value = ambiguity
    close = runner_up >= value if rule == "below" else runner_up >= best - value
    passes = best >= threshold
    outcome = np.where(passes & ~close, "matched", np.where(passes, "ambiguous", "no_match"))
    best_nhs = np.array(results.column("best_nhs_number").to_pylist(), dtype=object)
    matched = np.where(outcome == "matched", best_nhs, None)
    return results.set_column(1, "outcome", pa.array(outcome.tolist(), pa.string())).set_column(
        3, "matched_nhs_number", pa.array(matched.tolist(), pa.string())
    )


@contextmanager
def stopwatch() -> Iterator[list[float]]:
    """``with stopwatch() as t: ...`` then ``t[0]`` is the elapsed wall time in seconds."""
    box = [0.0]
    start = time.perf_counter()
    try:
        yield box
    finally:
        box[0] = time.perf_counter() - start


# ---------------------------------------------------------------------------------------------------------------
# Scoring against truth (never used for fitting or choosing anything inside a peer)


def evaluate(results: pa.Table, truth: pa.Table) -> dict[str, float | int]:
    """Precision, recall and wrong-person matches of one run against the truth file.

    - precision: right-person matches / all matches;
    - recall: right-person matches / member requests (truth nhs_number not null);
    - wrong_person: matches whose nhs number differs from the truth's, including every match of a non-member;
    - ambiguous_rate: ambiguous outcomes / requests.
    """
    res = results.to_pandas()
    tru = truth.select(["request_id", "nhs_number"]).to_pandas().rename(columns={"nhs_number": "truth_nhs"})
    df = tru.merge(res, on="request_id", how="left", validate="one_to_one")
    if df["outcome"].isna().any():
        raise ValueError(f"{int(df['outcome'].isna().sum())} requests have no result row")
    matched = df["outcome"] == "matched"
    right = matched & (df["matched_nhs_number"] == df["truth_nhs"])
    members = df["truth_nhs"].notna()
    n_matched = int(matched.sum())
    return {
        "requests": len(df),
        "members": int(members.sum()),
        "matched": n_matched,
        "right": int(right.sum()),
        "wrong_person": int((matched & ~right).sum()),
        "wrong_person_non_member": int((matched & ~members).sum()),
        "ambiguous": int((df["outcome"] == "ambiguous").sum()),
        "precision": float(right.sum() / n_matched) if n_matched else float("nan"),
        "recall": float(right.sum() / members.sum()) if members.any() else float("nan"),
        "ambiguous_rate": float((df["outcome"] == "ambiguous").mean()),
        "mean_candidates": float(df["candidates"].mean()),
    }


def dev_sample(
    population: pa.Table, requests: pa.Table, truth: pa.Table, n_population: int, seed: int = 0
) -> tuple[pa.Table, pa.Table, pa.Table]:
    """A smaller world for development: the first ``n_population`` records, the member requests whose person
    is among them, and a random share of the non-member requests keeping the original non-member rate.
    (Member requests whose person falls outside the sample are dropped, not turned into non-members.)"""
    pop = population.slice(0, n_population)
    keep_nhs = set(pop["nhs_number"].to_pylist())
    t = truth.to_pandas()
    member = t["nhs_number"].notna()
    in_pop = t["nhs_number"].isin(keep_nhs) & member
    non_rate = float((~member).mean())
    n_members = int(in_pop.sum())
    n_non = min(round(n_members * non_rate / (1 - non_rate)), int((~member).sum()))
    rng = np.random.default_rng(seed)
    non_idx = rng.choice(np.flatnonzero(~member.to_numpy()), size=n_non, replace=False)
    idx = np.sort(np.concatenate([np.flatnonzero(in_pop.to_numpy()), non_idx]))
    return pop, requests.take(pa.array(idx)), truth.take(pa.array(idx))
