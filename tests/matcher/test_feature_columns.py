"""A comparison of a field the built-in columns do not read is one comparison definition plus its feature column.

The address-line comparison (``library.address_line()`` over ``library.ADDRESS_LINE``) is the example: nothing
else in the core names it, yet an index and requests built with the column carry its keyed tokens (of the record's
previous addresses too), the estimator trains it, the tracer scores, explains and saves it, and a tracer asked to
read a column its index lacks refuses.
"""

import os

import numpy as np
import pyarrow.compute as pc
import pytest

from matcher.comparison import NULL, default_comparisons, derived_columns
from matcher.comparison.library import (
    ADDRESS_LINE,
    DEFAULT_COMPARISONS,
    TOWN,
    address_line,
    comparisons_named,
    derived_columns_named,
)
from matcher.estimation import FellegiSunterEstimator
from matcher.index import Index
from matcher.protection.tokens import Tokeniser
from matcher.records.entities import Entities
from matcher.tracer import Tracer
from tests.support.world import index_file_bytes

TOKENISER = Tokeniser(os.urandom(32))


def entities(lines: list[str | None], previous: list[list[str]] | None = None) -> Entities:
    n = len(lines)
    return Entities.from_columns(
        TOKENISER,
        given_name=["ANN"] * n,
        other_given_names=[None] * n,
        family_name=["SMITH"] * n,
        date_of_birth=["1980-01-02"] * n,
        sex=[None] * n,
        postcode=[None] * n,
        nhs_number=[None] * n,
        features=(ADDRESS_LINE,),
        sources={"address_line_1": lines},
        histories={"previous_addresses": [[{"address_line_1": x} for x in row] for row in previous or [[]] * n]},
    )


@pytest.mark.parametrize(
    ("request_line", "expected"),
    [
        ("14 moorland road", "exact"),
        ("14, Moorland-Road", "exact"),
        ("2 Church Lane", "previous_exact"),  # an address the person has left
        ("Flat 2, 14 Moorland Road", "shared_words>=0.50"),
        ("14 Moorland Avenue", "shared_words>=0.50"),
        ("2 Church Ln", "previous_shared_words>=0.50"),
        ("3 High Street", "else"),
        (None, "null"),
        ("  ,  ", "null"),
    ],
)
def test_address_line_levels(request_line, expected):
    comparison = address_line()
    record = entities(["14 MOORLAND ROAD"], previous=[["2 CHURCH LANE", "9 MILL ROW"]])
    code = comparison.compare(entities([request_line]), record, np.array([0]), np.array([0]))
    assert ("null" if code[0] == NULL else comparison.labels[code[0]]) == expected


def test_a_record_with_only_previous_addresses_is_compared_with_them():
    comparison = address_line()
    record = entities([None], previous=[["2 CHURCH LANE"]])
    code = comparison.compare(entities(["2 church lane"]), record, np.array([0]), np.array([0]))
    assert comparison.labels[code[0]] == "previous_exact"
    nothing = comparison.compare(entities(["2 church lane"]), entities([None]), np.array([0]), np.array([0]))
    assert nothing[0] == NULL


@pytest.fixture(scope="module")
def address_index(population, population_path, master_key, tmp_path_factory):
    """20,000 people indexed and trained for the default comparisons (the address line and town among them), as
    ``matcher build`` does (``matcher.build``), saved and loaded."""
    import pyarrow.parquet as pq

    from matcher.build import build_index
    from synthetic.generator import GENERATOR

    root = tmp_path_factory.mktemp("address")
    people = population.slice(0, 20_000)
    pq.write_table(people, root / "population.parquet")
    training = GENERATOR.training_requests(population_path).slice(0, 5_000)
    build_index(root / "population.parquet", root / "index", training, report=lambda line: None)
    return Index.load(root / "index", master_key), people


def test_the_address_line_is_trained_scored_and_explained(address_index):
    index, people = address_index
    tracer = Tracer(index)  # the comparisons its model was trained for
    person = people.filter(pc.invert(people.column("restricted"))).slice(7, 1).to_pylist()[0]
    request = {
        "given_name": person["given_name"],
        "family_name": person["family_name"],
        "date_of_birth": person["date_of_birth"].isoformat(),
        "address_line_1": person["address_line_1"].lower(),
    }
    result = tracer.trace(request)
    assert result.disclosure is not None and result.disclosure["address_line_1"] == person["address_line_1"]
    levels = {c.comparison: c.level for c in result.explanation[0].comparisons}
    assert levels["address_line_1"] == "exact"
    parameters = {p.name: p for p in index.model.comparisons}["address_line_1"]
    assert parameters.levels == (
        "exact",
        "previous_exact",
        "shared_words>=0.50",
        "previous_shared_words>=0.50",
        "else",
    )
    assert parameters.weights()[0] > 0 > parameters.weights()[-1]


def test_no_index_file_holds_an_address_line_in_clear(address_index, tmp_path):
    index, people = address_index
    index.save(tmp_path / "index")
    stored = index_file_bytes(tmp_path / "index")
    lines = [line for line in people.column("address_line_1").to_pylist()[:2_000] if line]
    assert not [line for line in lines if line.encode() in stored]


def test_a_tracer_refuses_a_column_its_index_was_not_built_with(trained_index):
    from dataclasses import replace

    without = replace(trained_index, records=replace(trained_index.records, features={}))
    with pytest.raises(ValueError, match=r"without the feature columns \['address_line_1', 'town'\]"):
        Tracer(without, comparisons=default_comparisons(trained_index.tokeniser))


def test_rotation_builds_the_feature_columns_again(address_index, population, tmp_path):
    from matcher.index import rotate_index
    from matcher.protection.keys import MasterKey

    index, people = address_index
    new_key = MasterKey.generate()
    rotated = rotate_index(index, people, new_key)
    assert set(rotated.records.features) == {"address_line_1", "town"}
    before, after = index.records.features["address_line_1"], rotated.records.features["address_line_1"]
    assert not np.array_equal(before["token"], after["token"])  # re-keyed
    person = people.slice(11, 1).to_pylist()[0]
    request = {k: person[k] for k in ("given_name", "family_name", "address_line_1")}
    request["date_of_birth"] = person["date_of_birth"].isoformat()
    levels = {c.comparison: c.level for c in Tracer(rotated).trace(request).explanation[0].comparisons}
    assert levels["address_line_1"] == "exact"
    with pytest.raises(ValueError, match="address_line_1"):
        rotate_index(index, people, new_key, features=())


def test_the_derived_columns_of_comparisons_by_name_are_the_columns_they_read():
    names = ("given_name", "address_line_1")
    assert derived_columns_named(names) == derived_columns(comparisons_named(names, TOKENISER)) == (ADDRESS_LINE,)
    assert derived_columns_named(DEFAULT_COMPARISONS) == (ADDRESS_LINE, TOWN)
    assert derived_columns_named(("given_name", "family_name")) == ()
    with pytest.raises(ValueError, match="shoe_size"):
        comparisons_named(("shoe_size",), TOKENISER)


def test_a_term_frequency_level_on_a_column_without_frequencies_is_refused_up_front(trained_index):
    from matcher.comparison import Comparison
    from matcher.comparison.levels import ElseLevel, ExactLevel
    from matcher.comparison.library import SEX

    weighted = Comparison(SEX, (ExactLevel(term_frequency=True), ElseLevel()))
    comparisons = (*default_comparisons(trained_index.tokeniser)[:4], weighted, default_comparisons(TOKENISER)[5])
    with pytest.raises(ValueError, match="term frequency"):
        FellegiSunterEstimator(comparisons=comparisons).fit(trained_index, [])
