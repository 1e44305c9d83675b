"""Multi-pass blocking: which records are worth scoring for a request.

Each ``BlockingRule`` is a tuple of components (a Soundex family name, a date of birth, a postcode unit...). Every
record contributes one key per combination of its current AND historic values (previous family names, parts of a
compound name, previous postcodes); a request contributes keys for the variants a caseworker's error may have
produced (given and family name swapped, day and month swapped). Keys are 64-bit tokens kept in a sorted array
with the record number beside each: an inverted index answered by binary search, never a scan.

The default rules follow the MPS algorithmic trace (Soundex family name with date of birth; date of birth with
postcode, which contains its family/given + sex + DOB + postcode keys), add a given-name key for a changed family
name, and keys that survive a wrong date of birth (names with year of birth, names with postcode district, the two
names alone, family name with day and month).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from matcher.entities import Entities, expand_ranges
from matcher.tokens import MISSING, combine


@dataclass(frozen=True)
class BlockingRule:
    name: str
    components: tuple[str, ...]
    # Blocks larger than this are skipped (None: the tracer's max_block_size). Keys without a date of birth are
    # only worth following for rare values.
    max_block_size: int | None = None


DEFAULT_RULES: tuple[BlockingRule, ...] = (
    BlockingRule("family_soundex+dob", ("family_soundex", "date_of_birth")),
    BlockingRule("given_soundex+dob", ("given_soundex", "date_of_birth")),
    BlockingRule("dob+postcode", ("date_of_birth", "postcode")),
    BlockingRule("family_metaphone+given_soundex+year", ("family_metaphone", "given_soundex", "year_of_birth")),
    BlockingRule("family+given_initial+district", ("family", "given_initial", "postcode_district")),
    BlockingRule("family+given", ("family", "given"), max_block_size=20),
    BlockingRule("family+birthday", ("family", "birthday"), max_block_size=20),
    BlockingRule("nhs_number", ("nhs_number",)),
)

Values = tuple[np.ndarray, np.ndarray]  # (row, token) pairs: a multi-valued column


def _single(tokens: np.ndarray) -> Values:
    rows = np.flatnonzero(tokens != MISSING)
    return rows, tokens[rows]


def _family_names(entities: Entities, as_request: bool) -> Values:
    """(row, name position) for the family name and, on the index side, previous family names; on the request
    side, the given name too (the two swapped). A compound name also blocks under each of its parts (SMITH-JONES
    under SMITH and under JONES)."""
    rows = [np.arange(len(entities))]
    names = [entities.family]
    if as_request:
        rows.append(np.arange(len(entities)))
        names.append(entities.given)
    else:
        owner, previous = entities.previous_family.explode()
        rows.append(owner)
        names.append(previous)
    row = np.concatenate(rows)
    name = np.concatenate(names)
    keep = name >= 0
    row, name = row[keep], name[keep]
    owner, parts = entities.names.parts.explode(name)
    return np.concatenate([row, row[owner]]), np.concatenate([name, parts])


def _given_names(entities: Entities, as_request: bool) -> Values:
    """(row, name position) for the given name; on the request side, the family name too (the two swapped)."""
    rows = [np.arange(len(entities))]
    positions = [entities.given]
    if as_request:
        rows.append(np.arange(len(entities)))
        positions.append(entities.family)
    row, position = np.concatenate(rows), np.concatenate(positions)
    keep = position >= 0
    return row[keep], position[keep]


def _dates(entities: Entities, as_request: bool) -> Values:
    """(row, YYYYMMDD); on the request side also day and month swapped, where that still reads as a date."""
    dob = entities.date_of_birth.astype(np.uint64)
    row, tokens = _single(dob)
    if as_request:
        month = (entities.date_of_birth // 100) % 100
        day = entities.date_of_birth % 100
        swap = (day >= 1) & (day <= 12) & (day != month) & (entities.date_of_birth > 0)
        swapped = (entities.date_of_birth - month * 100 - day + day * 100 + month).astype(np.uint64)
        row = np.concatenate([row, np.flatnonzero(swap)])
        tokens = np.concatenate([tokens, swapped[swap]])
    return row, tokens


def _postcodes(entities: Entities, as_request: bool) -> Values:
    """(row, postcode position): the current postcode and, on the index side, previous ones."""
    rows = [np.arange(len(entities))]
    positions = [entities.postcode]
    if not as_request:
        owner, previous = entities.previous_postcodes.explode()
        rows.append(owner)
        positions.append(previous)
    row, position = np.concatenate(rows), np.concatenate(positions)
    keep = position >= 0
    return row[keep], position[keep]


SOURCES: dict[str, Callable[[Entities, bool], Values]] = {
    "family_name": _family_names,
    "given_name": _given_names,
    "date_of_birth": _dates,
    "postcode": _postcodes,
    "nhs_number": lambda e, as_request: _single(e.nhs_number),
}


@dataclass(frozen=True)
class Component:
    """A blocking key component: a feature of the values a source yields. Components of one source share its
    values (family name, its Soundex and its Metaphone all start from the same family names)."""

    source: str
    feature: Callable[[Entities, np.ndarray], np.ndarray]


COMPONENTS: dict[str, Component] = {
    "family": Component("family_name", lambda e, name: e.names.token[name]),
    "family_soundex": Component("family_name", lambda e, name: e.names.soundex[name]),
    "family_metaphone": Component("family_name", lambda e, name: e.names.metaphone[name]),
    "given": Component("given_name", lambda e, name: e.names.token[name]),
    "given_soundex": Component("given_name", lambda e, name: e.names.soundex[name]),
    "given_initial": Component("given_name", lambda e, name: e.names.initial[name]),
    "date_of_birth": Component("date_of_birth", lambda e, date: date),
    "year_of_birth": Component("date_of_birth", lambda e, date: date // np.uint64(10_000)),
    # Month and day without the year (survives a wrong year); the offset keeps it apart from a full date.
    "birthday": Component("date_of_birth", lambda e, date: date % np.uint64(10_000) + np.uint64(1 << 40)),
    "postcode": Component("postcode", lambda e, code: e.postcodes.unit[code]),
    "postcode_district": Component("postcode", lambda e, code: e.postcodes.district[code]),
    "nhs_number": Component("nhs_number", lambda e, token: token),
}


def component_values(entities: Entities, names: Iterable[str], as_request: bool) -> dict[str, Values]:
    """(row, token) per named component, each source computed once."""
    sources: dict[str, Values] = {}
    out: dict[str, Values] = {}
    for name in names:
        component = COMPONENTS[name]
        if component.source not in sources:
            sources[component.source] = SOURCES[component.source](entities, as_request)
        row, values = sources[component.source]
        tokens = component.feature(entities, values)
        keep = tokens != MISSING
        out[name] = row[keep], tokens[keep]
    return out


def _cross(left: Values, right: Values, n: int) -> tuple[np.ndarray, list[np.ndarray]]:
    """Every combination, per row, of a left value and a right value."""
    left_row, left_tokens = left
    right_row, right_tokens = right
    order = np.argsort(right_row, kind="stable")
    right_row, right_tokens = right_row[order], right_tokens[order]
    counts = np.bincount(right_row, minlength=n)
    starts = np.cumsum(counts) - counts
    owner, picked = expand_ranges(starts[left_row], counts[left_row])
    return left_row[owner], [left_tokens[owner], right_tokens[picked]]


def _all_keys_one_row(
    rules: tuple[BlockingRule, ...], components: dict[str, Values]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``all_keys`` for a single row (a single trace): the combinations are listed in plain Python and hashed
    together, instead of a dozen array operations per rule. Same keys, same order."""
    values = {name: tokens.tolist() for name, (_, tokens) in components.items()}
    longest = max(len(rule.components) for rule in rules)
    rule_ids, combos = [], []
    for i, rule in enumerate(rules):
        padding = (1,) * (longest - len(rule.components))
        for combo in itertools.product(*(values[c] for c in rule.components)):
            rule_ids.append(i)
            combos.append(combo + padding)
    rule_id = np.array(rule_ids, dtype=np.int64)
    columns = np.array(combos, dtype=np.uint64).reshape(len(combos), longest).T
    # The fold of rule_keys, for every rule length at once: the key of a rule of length k is step k's token.
    salt = (rule_id + 1000).astype(np.uint64)
    length = np.array([len(rule.components) for rule in rules], dtype=np.int64)[rule_id]
    key = combine(salt, [columns[0]]) if len(combos) else np.zeros(0, np.uint64)
    for step in range(1, longest):
        key = np.where(length > step, combine(salt, [key, columns[step]]), key)
    keep = key != MISSING
    rule_id, key = _distinct_sorted(rule_id[keep], key[keep])
    return np.zeros(len(key), dtype=np.int64), key, rule_id.astype(np.int8)


def _distinct_sorted(major: np.ndarray, minor: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct (major, minor) pairs, sorted by major then minor."""
    order = np.lexsort((minor, major))
    major, minor = major[order], minor[order]
    distinct = np.ones(len(major), dtype=bool)
    distinct[1:] = (major[1:] != major[:-1]) | (minor[1:] != minor[:-1])
    return major[distinct], minor[distinct]


def rule_keys(
    entities: Entities,
    rule: BlockingRule,
    salt: int,
    as_request: bool,
    components: dict[str, Values] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(row, key) for every combination of the rule's component values; duplicates removed.

    ``components`` caches component values across rules (several rules share the date of birth or family name).
    """
    n = len(entities)
    if components is None:
        components = component_values(entities, rule.components, as_request)
    values = [components[c] for c in rule.components]
    row, tokens = values[0][0], [values[0][1]]
    for more in values[1:]:
        # Fold the columns built so far into one token so the cross product stays two-sided.
        row, tokens = _cross((row, combine(salt, tokens)), more, n)
    keys = combine(salt, tokens)
    keep = keys != MISSING
    keys, row = _distinct_sorted(keys[keep], row[keep])
    return row.astype(np.int64), keys


def all_keys(
    entities: Entities, rules: tuple[BlockingRule, ...], as_request: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(row, key, rule number) over all rules."""
    components = component_values(entities, dict.fromkeys(c for rule in rules for c in rule.components), as_request)
    if len(entities) == 1:
        return _all_keys_one_row(rules, components)
    rows, keys, rule_ids = [], [], []
    for i, rule in enumerate(rules):
        row, key = rule_keys(entities, rule, salt=1000 + i, as_request=as_request, components=components)
        rows.append(row)
        keys.append(key)
        rule_ids.append(np.full(len(row), i, dtype=np.int8))
    return np.concatenate(rows), np.concatenate(keys), np.concatenate(rule_ids)


@dataclass
class BlockingIndex:
    """An inverted index from 64-bit keys to the records holding them, in about 8.5 bytes per key.

    Keys are sorted; the top ``bits`` of a key pick a bucket (``directory[b]:directory[b + 1]`` are its
    positions) and the next 32 bits, the key's ``residual``, are all that is stored per key beside the record. Two
    keys are taken as equal when they agree on bits + 32 bits (56 at ten million records): a collision only adds a
    candidate to be scored, never removes one. Buckets hold a handful of keys plus at most one large block, so a
    lookup compares residuals across the bucket instead of searching.
    """

    directory: np.ndarray  # uint32 (int64 past 4G keys), 2**bits + 1 bucket starts
    residuals: np.ndarray  # uint32
    rows: np.ndarray  # uint32

    @property
    def bits(self) -> int:
        return (len(self.directory) - 1).bit_length() - 1

    def __len__(self) -> int:
        return len(self.rows)

    @classmethod
    def build(cls, records: Entities, rules: tuple[BlockingRule, ...]) -> BlockingIndex:
        """Keys of every record under every rule. Blocks over a rule's own ``max_block_size`` are left out: a
        lookup would skip them anyway."""
        row, key, rule = all_keys(records, rules, as_request=False)
        order = np.lexsort((row, key))
        row, key, rule = row[order], key[order], rule[order]
        _, counts = np.unique(key, return_counts=True)
        limits = np.array([r.max_block_size or np.iinfo(np.int64).max for r in rules], dtype=np.int64)
        keep = np.repeat(counts, counts) <= limits[rule]
        return cls.from_sorted(key[keep], row[keep])

    @classmethod
    def from_sorted(cls, keys: np.ndarray, rows: np.ndarray) -> BlockingIndex:
        # About eight keys per bucket: the directory costs half a byte per key.
        bits = int(np.clip(int(max(len(keys), 1) - 1).bit_length() - 3, 4, 30))
        bucket = keys >> np.uint64(64 - bits)
        index_type = np.uint32 if len(keys) < 2**32 else np.int64
        directory = np.searchsorted(bucket, np.arange(2**bits + 1, dtype=np.uint64)).astype(index_type)
        residuals = ((keys >> np.uint64(32 - bits)) & np.uint64(0xFFFFFFFF)).astype(np.uint32)
        return cls(directory=directory, residuals=residuals, rows=rows.astype(np.uint32))

    def lookup(self, keys: np.ndarray, max_block_size: int | np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
        """(which key, record) for every record under each key; blocks over ``max_block_size`` are skipped.

        Returns the pairs and how many keys were skipped for being too common.
        """
        bits = self.bits
        keys = np.asarray(keys, dtype=np.uint64)
        bucket = (keys >> np.uint64(64 - bits)).astype(np.intp)
        residual = ((keys >> np.uint64(32 - bits)) & np.uint64(0xFFFFFFFF)).astype(np.uint32)
        starts = self.directory[bucket].astype(np.int64)
        key_index, positions = expand_ranges(starts, self.directory[bucket + 1].astype(np.int64) - starts)
        hit = self.residuals[positions] == residual[key_index]
        key_index, positions = key_index[hit], positions[hit]
        sizes = np.bincount(key_index, minlength=len(keys))
        too_big = sizes > max_block_size
        keep = ~too_big[key_index]
        return key_index[keep], self.rows[positions[keep]].astype(np.int64), int(too_big.sum())


def candidate_pairs(
    blocking: BlockingIndex,
    rules: tuple[BlockingRule, ...],
    requests: Entities,
    max_block_size: int,
    max_candidates: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Sorted, distinct (request, record) pairs under any rule; at most ``max_candidates`` per request, keeping
    the records found by most keys."""
    rows, keys, rule = all_keys(requests, rules, as_request=True)
    limits = np.array([r.max_block_size or max_block_size for r in rules], dtype=np.int64)
    key_index, records, _ = blocking.lookup(keys, limits[rule])
    pair = rows[key_index].astype(np.int64) << 32 | records
    pair, hits = np.unique(pair, return_counts=True)
    request, record = pair >> 32, pair & 0xFFFFFFFF
    counts = np.bincount(request, minlength=len(requests))
    if counts.max(initial=0) > max_candidates:
        order = np.lexsort((-hits, request))
        rank = np.arange(len(order)) - np.repeat(np.cumsum(counts) - counts, counts)
        keep = np.sort(order[rank < max_candidates])
        request, record = request[keep], record[keep]
    return request, record
