"""Records masked in memory: without the key, the columns of a loaded index are noise; with it, exactly the rows."""

import os

import numpy as np
import pytest

from matcher.blocking import all_keys
from matcher.index import Index
from matcher.protection.masking import RowMask
from matcher.records.entities import Entities
from tests.support.world import index_rows


@pytest.fixture(scope="module")
def loaded(tmp_path_factory, trained_index, master_key):
    path = tmp_path_factory.mktemp("masking") / "index"
    trained_index.save(path)
    return Index.load(path, master_key)


def test_a_mask_is_undone_only_by_its_own_key_and_position():
    values = np.arange(-5, 10_000, dtype=np.int32)
    mask = RowMask(os.urandom(32))
    masked = mask.mask("given", values)
    np.testing.assert_array_equal(mask.unmask("given", masked, np.int32), values)
    rows = np.array([7, 3, 3, 9_000])
    np.testing.assert_array_equal(mask.unmask("given", masked[rows], np.int32, rows), values[rows])
    assert (mask.unmask("family", masked, np.int32) != values).mean() > 0.99  # another column's pads
    assert (RowMask(os.urandom(32)).unmask("given", masked, np.int32) != values).mean() > 0.99
    flags = np.array([True, False] * 500)
    np.testing.assert_array_equal(mask.unmask("restricted", mask.mask("restricted", flags), bool), flags)


def test_the_columns_held_in_memory_say_nothing_without_the_key(loaded, trained_index, population):
    plain = trained_index.records.unmasked()
    n = len(plain)
    for name, held in loaded.records.columns.items():
        truth = getattr(plain, name)
        assert (held == truth.view(held.dtype)).mean() < 0.02, name  # one byte wide: 1/256 by chance
        if held.dtype.itemsize >= 4:
            # No two rows share a held value more than chance allows, though thousands share a name or a date.
            assert len(np.unique(held)) > 0.99 * n, name
    for name, held in loaded.records.lists.items():
        truth = getattr(plain, name).values
        assert len(truth) == 0 or (held.values == truth.view(held.values.dtype)).mean() < 0.001, name
    restricted = population.column("restricted").to_numpy(zero_copy_only=False)
    rows = index_rows(loaded, population.column("nhs_number").to_pylist())
    assert restricted.sum() > 0
    assert not np.array_equal(loaded.restricted[rows] != 0, restricted)
    np.testing.assert_array_equal(loaded.restricted_at(rows), restricted)


def test_take_gives_exactly_the_rows_asked_for(loaded, trained_index):
    plain = trained_index.records.unmasked()
    rows = np.array([0, 17, 17, 199_999, 4_242])
    taken = loaded.records.take(rows)
    for name in ("given", "family", "date_of_birth", "date_of_birth_valid", "sex", "postcode", "nhs_number"):
        np.testing.assert_array_equal(getattr(taken, name), getattr(plain, name)[rows], err_msg=name)
    for name in ("other_given", "previous_family", "previous_postcodes"):
        mine, theirs = getattr(taken, name), getattr(plain, name)
        assert [list(mine.values[mine.offsets[i] : mine.offsets[i + 1]]) for i in range(len(rows))] == [
            list(theirs.values[theirs.offsets[r] : theirs.offsets[r + 1]]) for r in rows
        ], name


def _names(entities, ragged, row: int) -> list[str]:
    return [entities.names.strings[i] for i in ragged.values[ragged.offsets[row] : ragged.offsets[row + 1]]]


def _as_text(side) -> dict:
    return {
        "given": [side.names.strings[i] for i in side.given],
        "family": [side.names.strings[i] for i in side.family],
        "postcode": [side.postcodes.strings[i] if i >= 0 else None for i in side.postcode],
        "previous_family": [_names(side, side.previous_family, r) for r in range(len(side))],
        "other_given": [_names(side, side.other_given, r) for r in range(len(side))],
    }


def test_the_tables_of_names_and_postcodes_are_in_no_row_order(population, master_key):
    sample = population.slice(0, 3_000)
    index = Index.build(sample, master_key)
    # The same people in the population's order (rows are shuffled too), with the index's tables.
    shuffled = index.records.take(index_rows(index, sample.column("nhs_number").to_pylist()))
    unshuffled = Entities.from_population(sample, index.tokeniser)
    # In order of first appearance the first rows' given names are names 0, 1, 2...; shuffled, almost never.
    assert (unshuffled.given[:3] == [0, 1, 2]).all() and (shuffled.given[:200] == np.arange(200)).sum() < 5
    assert _as_text(shuffled) == _as_text(unshuffled)
    np.testing.assert_array_equal(shuffled.names.token[shuffled.family], unshuffled.names.token[unshuffled.family])
    compound = [i for i, name in enumerate(unshuffled.names.strings) if "-" in name]
    assert compound
    where = {name: i for i, name in enumerate(shuffled.names.strings)}
    for i in compound:
        name = unshuffled.names.strings[i]
        assert _names(shuffled, shuffled.names.parts, where[name]) == _names(unshuffled, unshuffled.names.parts, i)


def test_blocking_postings_and_list_lengths_are_masked_too(loaded):
    n = len(loaded)
    # In clear every posting is a row number below n, and offsets only grow.
    assert (loaded.blocking.rows < n).mean() < 0.01
    for name, ragged in loaded.records.lists.items():
        assert (np.diff(ragged.offsets.astype(np.int64)) < 0).mean() > 0.3, name
    # A lookup unmasks exactly the rows: every key of a record (of a rule whose blocks are never dropped) finds it.
    first = loaded.records.take(np.arange(50))  # rows 0..49, so a local row is the index row
    row, key, rule = all_keys(first, loaded.rules, as_request=False)
    uncapped = np.array([r.max_block_size is None for r in loaded.rules])[rule]
    key_index, found, _ = loaded.blocking.lookup(key[uncapped], 10**9)
    pairs = set(zip(key_index.tolist(), found.tolist(), strict=True))
    assert all((k, r) in pairs for k, r in enumerate(row[uncapped].tolist()))
