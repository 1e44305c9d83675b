"""Blocking: the inverted index finds exactly the records holding a key, and the single-request path builds the
same keys as the batch path."""

import hashlib
import hmac
import os

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from matcher.blocking import DEFAULT_RULES, BlockingIndex, all_keys
from matcher.protection.masking import RowMask
from matcher.protection.tokens import KeyedHash, Tokeniser, combine
from matcher.records.entities import Entities

TOKENISER = Tokeniser(os.urandom(32))
token = st.integers(min_value=0, max_value=2**64 - 1)


@given(salts=st.lists(st.integers(min_value=0, max_value=2**32), min_size=1, max_size=5), data=st.data())
def test_combine_with_a_salt_per_row_is_combine_row_by_row(salts, data):
    parts = [np.array(data.draw(st.lists(token, min_size=len(salts), max_size=len(salts))), np.uint64) for _ in "ab"]
    together = combine(np.array(salts, dtype=np.uint64), parts)
    for i, salt in enumerate(salts):
        assert together[i] == combine(salt, [p[i : i + 1] for p in parts])[0]


def brute_force(keys: np.ndarray, rows: np.ndarray, wanted: np.ndarray, cap: int) -> set[tuple[int, int]]:
    out = set()
    for i, key in enumerate(wanted.tolist()):
        hits = rows[keys == key].tolist()
        if len(hits) <= cap:
            out |= {(i, r) for r in hits}
    return out


@pytest.mark.parametrize("n_keys", [0, 1, 50, 20_000])
def test_lookup_matches_brute_force(n_keys):
    rng = np.random.default_rng(n_keys)
    distinct = rng.integers(1, 2**63, size=max(n_keys // 3, 1), dtype=np.uint64)
    keys = np.sort(rng.choice(distinct, size=n_keys))  # repeated keys make blocks of several records
    rows = rng.integers(0, 1_000_000, size=n_keys).astype(np.uint32)
    keyed = KeyedHash(os.urandom(32))
    order = np.argsort(keyed(keys), kind="stable")
    index = BlockingIndex.from_sorted(keyed(keys)[order], rows[order], keyed, RowMask(os.urandom(32)))
    absent = rng.integers(1, 2**63, size=20, dtype=np.uint64)
    wanted = np.concatenate([distinct[:30], absent])
    for cap in (1, 3, 1_000):
        key_index, records, _ = index.lookup(wanted, cap)
        assert set(zip(key_index.tolist(), records.tolist(), strict=True)) == brute_force(keys, rows, wanted, cap)


def test_blocks_over_a_rules_own_cap_are_left_out_of_the_index(trained_index):
    capped = [r for r in trained_index.rules if r.max_block_size]
    assert capped, "the default rules cap the keys without a date of birth"
    _, key, rule = all_keys(trained_index.records.unmasked(), trained_index.rules, as_request=False)
    _, counts = np.unique(key, return_counts=True)
    assert len(trained_index.blocking) < len(key)  # something was left out...
    limits = np.array([r.max_block_size or np.iinfo(np.int64).max for r in trained_index.rules])
    order = np.argsort(key, kind="stable")
    assert len(trained_index.blocking) == int(
        (np.repeat(counts, counts) <= limits[rule[order]]).sum()
    )  # ...exactly that


@settings(max_examples=60, deadline=None)
@given(
    given_name=st.sampled_from([None, "ANN", "JEAN-PAUL", "O'NEIL", "Z"]),
    family_name=st.sampled_from(["SMITH", "SMITH-JONES", "MACDONALD", "  "]),
    date_of_birth=st.sampled_from(["1980-03-12", "1980-12-03", "1985-02-30", "1990-01-01", "nonsense"]),
    postcode=st.sampled_from([None, "LS13 4JT", "LS13", "ZZ99 9ZZ", "bad"]),
    nhs_number=st.sampled_from([None, "9434765919", "123"]),
)
def test_single_request_keys_are_the_batch_keys(given_name, family_name, date_of_birth, postcode, nhs_number):
    request = dict(
        given_name=given_name,
        family_name=family_name,
        date_of_birth=date_of_birth,
        postcode=postcode,
        nhs_number=nhs_number,
        sex="female",
    )
    entities, _ = Entities.from_requests([request], TOKENISER)
    few = all_keys(entities, DEFAULT_RULES, as_request=True)
    twice = Entities.from_requests([request, request], TOKENISER)[0]  # two rows: the vectorised path
    rows, keys, rules = all_keys(twice, DEFAULT_RULES, as_request=True)
    first = rows == 0
    for a, b in zip(few, (rows[first], keys[first], rules[first]), strict=True):
        np.testing.assert_array_equal(a, b)


@given(value=st.text(max_size=40))
def test_tokens_are_truncated_hmac_sha256(value):
    key = b"k" * 32
    expected = int.from_bytes(hmac.digest(key, value.encode(), hashlib.sha256)[:8], "little") or 1
    assert Tokeniser(key).token(value) == expected


def test_the_rule_by_rule_build_is_the_index_of_every_key_sorted_together(trained_index):
    """The build takes one rule at a time to bound its memory; it must give the index that sorting every rule's
    keyed keys together (with the rows in order within a key) gives, block caps applied the same way."""
    records, rules = trained_index.records.unmasked(), trained_index.rules
    keyed, mask = trained_index.blocking.keyed, trained_index.blocking.mask
    row, key, rule = all_keys(records, rules, as_request=False)
    key = keyed(key)
    order = np.lexsort((row, key))
    row, key, rule = row[order], key[order], rule[order]
    _, counts = np.unique(key, return_counts=True)
    limits = np.array([r.max_block_size or np.iinfo(np.int64).max for r in rules], dtype=np.int64)
    keep = np.repeat(counts, counts) <= limits[rule]
    reference = BlockingIndex.from_sorted(key[keep], row[keep], keyed, mask)
    built = BlockingIndex.build(records, rules, keyed, mask)
    np.testing.assert_array_equal(built.directory, reference.directory)
    np.testing.assert_array_equal(built.residuals, reference.residuals)
    np.testing.assert_array_equal(built.rows, reference.rows)


def test_a_postcode_that_is_not_a_uk_one_blocks_as_its_text():
    from matcher.blocking.rules import component_values
    from matcher.records.entities import Entities

    tokeniser = Tokeniser(os.urandom(32))

    def people(postcodes: list[str | None]) -> Entities:
        n = len(postcodes)
        return Entities.from_columns(
            tokeniser,
            given_name=["ANN"] * n,
            other_given_names=[None] * n,
            family_name=["SMITH"] * n,
            date_of_birth=["1980-01-02"] * n,
            sex=[None] * n,
            postcode=postcodes,
            nhs_number=[None] * n,
        )

    records = component_values(people(["4223", "4224", "LS6 2AB"]), ["postcode"], as_request=False)["postcode"]
    request = component_values(people(["4223", "ls62ab"]), ["postcode"], as_request=True)["postcode"]
    assert len(records[1]) == 3 and len(set(records[1].tolist())) == 3
    assert request[1][0] == records[1][0] and request[1][1] == records[1][2]
