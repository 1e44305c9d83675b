"""The tracer on a 200k synthetic index: outcomes, disclosure, restriction, persistence and match quality."""

import dataclasses
import datetime as dt

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from matcher.decision import Outcome
from matcher.decision.relations import Relation
from matcher.disclosure import DISCLOSURE_FIELDS
from matcher.index import Index
from matcher.reports.evaluation import evaluate
from matcher.tracer import Tracer, TraceRequest
from tests.support.world import index_row


def request_for(row: dict, **changes) -> TraceRequest:
    fields = {
        "given_name": row["given_name"],
        "other_given_names": row["other_given_names"] or None,
        "family_name": row["family_name"],
        "date_of_birth": row["date_of_birth"].isoformat(),
        "sex": row["sex"],
        "postcode": row["postcode"],
    }
    return TraceRequest(**{**fields, **changes})


@pytest.fixture(scope="module")
def unrestricted_row(population, tracer):
    """(its row in the index, the person) for an unrestricted person."""
    restricted = population.column("restricted").to_numpy(zero_copy_only=False)
    row = population.slice(int(np.flatnonzero(~restricted)[1234]), 1).to_pylist()[0]
    return index_row(tracer.index, row["nhs_number"]), row


def test_exact_request_is_matched_with_only_the_allowed_fields(tracer, unrestricted_row):
    i, row = unrestricted_row
    result = tracer.trace(request_for(row))
    assert result.outcome is Outcome.MATCHED
    assert result.record == i
    assert result.probability >= tracer.config.decision.threshold
    assert set(result.disclosure) == set(DISCLOSURE_FIELDS)
    assert result.disclosure["postcode"] == row["postcode"]
    assert result.disclosure["gp_practice_code"] == row["gp_practice_code"]
    assert "nhs_number" not in result.disclosure
    assert result.explanation and result.explanation[0].record == i


def test_corrupted_request_still_matches(tracer, unrestricted_row):
    i, row = unrestricted_row
    result = tracer.trace(
        request_for(row, family_name=row["family_name"].lower() + "e", postcode=None, sex=None, other_given_names=None)
    )
    assert (result.outcome, result.record) == (Outcome.MATCHED, i)


def test_a_twin_with_another_first_name_is_not_matched(tracer, unrestricted_row):
    _, row = unrestricted_row
    result = tracer.trace(request_for(row, given_name="Zebedee", other_given_names=None))
    assert result.outcome is Outcome.NO_MATCH
    assert result.disclosure is None and result.record is None


def test_a_missing_first_name_is_held_for_review_not_matched(tracer, unrestricted_row):
    """A same-sex twin shares everything else such a request says: a reviewer decides, nothing is disclosed."""
    _, row = unrestricted_row
    result = tracer.trace(request_for(row, given_name=None, other_given_names=None))
    assert (result.outcome, result.blocked_by, result.disclosure) == (Outcome.AMBIGUOUS, "no_given_name", None)


def test_an_initial_is_enough_with_the_exact_date_at_the_address(tracer, unrestricted_row):
    i, row = unrestricted_row
    result = tracer.trace(request_for(row, given_name=row["given_name"][0], other_given_names=None))
    assert (result.outcome, result.record) == (Outcome.MATCHED, i)
    other_sex = {"male": "female", "female": "male"}[row["sex"]]
    assert tracer.trace(request_for(row, given_name=row["given_name"][0], sex=other_sex)).outcome is not (
        Outcome.MATCHED
    )


def test_an_initial_that_twins_share_matches_neither_twin(tracer, population):
    """Red team round 3: "E JONES" at the twins' address matched EVONNE, because her twin EMA's short name read
    as a weak spelling of "E" (which the requirements refuse) while EVONNE's read as the initial."""
    twins: dict[tuple, list[dict]] = {}
    for person in population.to_pylist():
        if person["restricted"] or person["date_of_death"] is not None:
            continue
        key = (person["family_name"], person["date_of_birth"], person["postcode"], person["address_line_1"])
        twins.setdefault(key, []).append(person)
    pairs = [g for g in twins.values() if len(g) == 2 and g[0]["given_name"][0] == g[1]["given_name"][0]]
    assert len(pairs) >= 10
    wrong = 0
    for pair in pairs:
        for person, other in (pair, pair[::-1]):
            result = tracer.trace(request_for(person, given_name=person["given_name"][0], other_given_names=None))
            wrong += result.outcome is Outcome.MATCHED and result.record == index_row(tracer.index, other["nhs_number"])
    assert wrong == 0


def test_a_population_with_households_cannot_be_declared_without(tmp_path, population):
    from matcher.build import build_index

    pq.write_table(population.slice(0, 5_000), tmp_path / "population.parquet")
    with pytest.raises(ValueError, match="declared without households"):
        build_index(tmp_path / "population.parquet", tmp_path / "index", households=False, report=lambda _: None)


def test_a_tracer_waives_the_protections_its_population_rules_out(trained_index):
    nobody = dataclasses.replace(trained_index.model, relations={"housemate": 0, "twin": 0, "same_name_housemate": 0})
    assert Tracer(trained_index, model=nobody).waived == set(Relation)
    housemates = dataclasses.replace(nobody, relations={"housemate": 5, "twin": 0, "same_name_housemate": 0})
    assert Tracer(trained_index, model=housemates).waived == frozenset()
    assert Tracer(trained_index, model=dataclasses.replace(nobody, relations=None)).waived == frozenset()


def test_nhs_number_corroborates_a_missing_first_name(tracer, unrestricted_row):
    i, row = unrestricted_row
    result = tracer.trace(request_for(row, given_name=None, other_given_names=None, nhs_number=row["nhs_number"]))
    assert (result.outcome, result.record) == (Outcome.MATCHED, i)


def test_restricted_record_is_never_disclosed(tracer, population):
    row = population.slice(int(np.flatnonzero(population.column("restricted").to_numpy(zero_copy_only=False))[0]), 1)
    person = row.to_pylist()[0]
    result = tracer.trace(request_for(person))
    assert result.outcome is Outcome.RESTRICTED
    assert result.record == index_row(tracer.index, person["nhs_number"])
    assert result.disclosure is None


def test_stranger_is_not_found(tracer):
    result = tracer.trace(TraceRequest(family_name="Qwertyuiop", date_of_birth="1901-01-01", given_name="Zyx"))
    assert result.outcome is Outcome.NO_MATCH
    assert result.candidates == 0 and result.probability == 0.0


def test_two_identical_records_make_a_request_ambiguous(population, trained_index, master_key):
    row = population.slice(10, 1)
    doubled = pa.concat_tables([population.slice(0, 5000), row])
    index = Index.build(doubled, master_key).with_model(
        dataclasses.replace(trained_index.model, records=doubled.num_rows)
    )
    result = Tracer(index).trace(request_for(row.to_pylist()[0]))
    assert result.outcome is Outcome.AMBIGUOUS
    assert result.disclosure is None


@pytest.mark.parametrize(
    "changes",
    [
        {"date_of_birth": "1985-02-30"},
        {"date_of_birth": "not a date"},
        {"postcode": "ZZ99 not valid"},
        {"given_name": "!!!", "family_name": "@@"},
        {"sex": "x", "nhs_number": "12"},
    ],
)
def test_malformed_requests_do_not_crash(tracer, unrestricted_row, changes):
    _, row = unrestricted_row
    result = tracer.trace(request_for(row, **changes))
    assert result.outcome in set(Outcome)


def test_batch_and_single_agree(tracer, request_sets):
    requests = request_sets["typical"].requests.slice(0, 300)
    batch = tracer.trace_many(requests)
    singles = [tracer.trace(row) for row in requests.to_pylist()[:50]]
    assert [(r.outcome, r.record) for r in batch[:50]] == [(r.outcome, r.record) for r in singles]


def test_save_and_load_round_trip(tmp_path, trained_index, tracer, request_sets, master_key):
    trained_index.save(tmp_path / "index")
    loaded = Index.load(tmp_path / "index", master_key)
    assert loaded.model == trained_index.model
    requests = request_sets["typical"].requests.slice(0, 500)
    before = tracer.results_table(tracer.trace_batch(requests))
    after = Tracer(loaded).results_table(Tracer(loaded).trace_batch(requests))
    assert before.equals(after)
    loaded.save(tmp_path / "index")  # onto itself
    assert (
        Tracer(Index.load(tmp_path / "index", master_key))
        .results_table(Tracer(loaded).trace_batch(requests))
        .equals(before)
    )


def test_load_refuses_what_is_not_an_index(tmp_path, master_key):
    with pytest.raises(FileNotFoundError, match="not an index directory"):
        Index.load(tmp_path, master_key)


def test_model_learns_that_agreement_is_evidence(trained_index):
    for parameters in trained_index.model.comparisons:
        weights = parameters.weights()
        assert weights[0] > 0 > weights[-1], parameters.name
    assert 0.5 < trained_index.model.in_index < 0.95  # 70% of training requests are members


@pytest.mark.parametrize("profile", ["typical", "hard"])
def test_match_quality(tracer, request_sets, profile):
    """Quality floors on 20k requests against 200k records (the 1M figures are in the README)."""
    request_set = request_sets[profile]
    results = tracer.results_table(tracer.trace_batch(request_set.requests), with_candidates=True)
    evaluation = evaluate(results, request_set.truth)
    # The issue targets <= 2 in 20k (0.01%); not yet met (see the issue note): this floor guards against regression.
    assert evaluation.wrong_person_disclosures <= 6
    assert evaluation.ambiguous_rate <= 0.01
    floors = {"typical": (0.965, 0.004), "hard": (0.92, 0.015)}[profile]
    assert evaluation.recall >= floors[0]
    assert evaluation.lost_by_blocking / evaluation.members <= floors[1]


def test_the_town_is_no_evidence_where_the_postcode_already_agrees(tracer, unrestricted_row):
    """A town agrees whenever the postcode does: counted there too, it would be the same evidence twice."""
    _, row = unrestricted_row

    def town_level(**changes) -> str:
        best = tracer.trace(request_for(row, town=row["town"], **changes)).explanation[0]
        return next(c.level for c in best.comparisons if c.comparison == "town")

    assert town_level() == "null"
    assert town_level(postcode=None) == "exact"


def test_explanation_names_each_comparisons_level_and_its_weights_add_up(tracer, unrestricted_row):
    _, row = unrestricted_row
    result = tracer.trace(request_for(row, postcode=None))
    best = result.explanation[0]
    levels = {c.comparison: c.level for c in best.comparisons}
    assert levels["given_name"] == "exact" and levels["postcode"] == "null"
    assert levels.keys() == {c.name for c in tracer.comparisons}
    total = sum(c.weight for c in best.comparisons) + tracer.model.prior_log2_odds
    assert total == pytest.approx(best.match_weight, abs=0.01)
    assert [e.match_weight for e in result.explanation] == sorted(
        (e.match_weight for e in result.explanation), reverse=True
    )


def test_relatives_are_counted_by_what_they_share():
    from matcher.index.households import count_relations

    def person(given: str, family: str, born: dt.date, line: str = "1 HIGH STREET") -> dict:
        return {
            "given_name": given,
            "family_name": family,
            "date_of_birth": born,
            "address_line_1": line,
            "postcode": "LS1 4AP",
        }

    born = dt.date(1990, 5, 1)
    people = [
        person("ANN", "SMITH", born),
        person("JANE", "Smith", born),  # ANN's twin
        person("ANN", "SMITH", dt.date(1960, 2, 2)),  # ANN's mother, of one name with her
        person("OMAR", "ALI", born, line="3 HIGH STREET"),  # next door, alone
    ]
    counts = count_relations(pa.Table.from_pylist(people)).counts
    assert counts == {"housemate": 3, "twin": 2, "same_name_housemate": 2}


def test_the_synthetic_population_has_the_relatives_its_index_is_protected_against(population):
    from matcher.index.households import count_relations

    relations = count_relations(population)
    assert relations.records == population.num_rows and not relations.ruled_out()
    assert 0 < relations.counts["twin"] < relations.counts["housemate"]


def test_a_restricted_persons_housemate_is_withheld_like_them(tracer, population):
    from matcher.index.households import shares_a_restricted_address

    housemates = np.flatnonzero(shares_a_restricted_address(population))
    assert len(housemates) > 100  # households share addresses in the synthetic index
    people = population.take(pa.array(housemates[:40])).to_pylist()
    results = tracer.trace_many([request_for(person) for person in people])
    assert all(r.disclosure is None for r in results)
    assert sum(r.outcome is Outcome.RESTRICTED for r in results) >= 0.9 * len(results)  # held, as the person is
    rows = [index_row(tracer.index, person["nhs_number"]) for person in people]
    assert tracer.disclosures(np.array(rows)) == [None] * len(rows)
    assert not tracer.index.restricted_at(np.array(rows)).any()  # withheld, not themselves restricted
