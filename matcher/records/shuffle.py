"""The tables of distinct names and postcodes put in a random order, for an index.

Tables are filled in order of first appearance: the first row's given name is name 0, its postcode postcode 0, and
the early rows almost all bring new names. With the rows' pointers masked (``matcher.records.masked``) that order
would still name the first people of the index to anyone reading the tables; in a random order a table says which
values exist, not whose they are.
"""

from __future__ import annotations

from dataclasses import fields, replace

import numpy as np

from matcher.records.entities import Entities, NameTable, PostcodeTable
from matcher.records.ragged import Ragged, expand_ranges


def shuffle_tables(entities: Entities, rng: np.random.Generator) -> Entities:
    """The same people, with their name and postcode tables in a random order and every pointer following."""
    names, name_position = _shuffled(entities.names, rng)
    postcodes, postcode_position = _shuffled(entities.postcodes, rng)
    names = replace(names, parts=_follow(names.parts, name_position))
    return replace(
        entities,
        names=names,
        postcodes=postcodes,
        given=name_position[entities.given],
        family=name_position[entities.family],
        other_given=_follow(entities.other_given, name_position),
        previous_family=_follow(entities.previous_family, name_position),
        postcode=postcode_position[entities.postcode],
        previous_postcodes=_follow(entities.previous_postcodes, postcode_position),
    )


def _shuffled(table: NameTable | PostcodeTable, rng: np.random.Generator) -> tuple:
    """The table reordered, and ``position``: old position -> new, with -1 (missing) kept at -1."""
    count = len(table.strings) if table.strings else _count(table)
    order = rng.permutation(count)  # new position i holds old position order[i]
    position = np.empty(count + 1, dtype=np.int32)
    position[order] = np.arange(count, dtype=np.int32)
    position[count] = -1  # read at index -1: a missing value stays missing
    with_missing = np.append(order, count)  # per-value arrays end with the MISSING entry
    changes = {}
    for f in fields(table):
        value = getattr(table, f.name)
        if f.name == "strings":
            changes[f.name] = [value[i] for i in order] if value else value
        elif isinstance(value, np.ndarray):
            changes[f.name] = value[with_missing]
        elif isinstance(value, Ragged):
            changes[f.name] = _take_rows(value, order)
    return replace(table, **changes), position


def _count(table: NameTable | PostcodeTable) -> int:
    first = next(getattr(table, f.name) for f in fields(table) if isinstance(getattr(table, f.name), np.ndarray))
    return len(first) - 1


def _take_rows(ragged: Ragged, rows: np.ndarray) -> Ragged:
    starts = ragged.offsets[rows].astype(np.int64)
    lengths = ragged.offsets[rows + 1].astype(np.int64) - starts
    _, positions = expand_ranges(starts, lengths)
    offsets = np.zeros(len(rows) + 1, dtype=ragged.offsets.dtype)
    np.cumsum(lengths, out=offsets[1:])
    return Ragged(offsets, ragged.values[positions])


def _follow(ragged: Ragged, position: np.ndarray) -> Ragged:
    return Ragged(ragged.offsets, position[ragged.values].astype(ragged.values.dtype))
