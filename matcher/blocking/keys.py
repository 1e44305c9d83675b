"""Blocking keys: every combination of a rule's component values, folded into one 64-bit token per key."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator

import numpy as np

from matcher.blocking.rules import BlockingRule, Values, component_values
from matcher.protection.tokens import MISSING, combine
from matcher.records.entities import Entities
from matcher.records.ragged import expand_ranges


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
    rules: tuple[BlockingRule, ...], components: dict[str, Values], chosen: list[int]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``all_keys`` for a single row (a single trace): the combinations are listed in plain Python and hashed
    together, instead of a dozen array operations per rule. Same keys, same order."""
    values = {name: tokens.tolist() for name, (_, tokens) in components.items()}
    longest = max(len(rules[i].components) for i in chosen)
    rule_ids, combos = [], []
    for i in chosen:
        rule = rules[i]
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
    entities: Entities,
    rules: tuple[BlockingRule, ...],
    as_request: bool,
    including: Callable[[BlockingRule], bool] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(row, key, rule number) over all rules, or those ``including`` chooses. A rule's keys depend on its place
    in ``rules`` (its salt), so a choice of rules is made here, not by passing fewer."""
    chosen = [i for i, rule in enumerate(rules) if including is None or including(rule)]
    if len(entities) == 1:
        components = component_values(
            entities, dict.fromkeys(c for i in chosen for c in rules[i].components), as_request
        )
        return _all_keys_one_row(rules, components, chosen)
    rows, keys, rule_ids = [], [], []
    for i, row, key in keys_by_rule(entities, rules, as_request, including):
        rows.append(row)
        keys.append(key)
        rule_ids.append(np.full(len(row), i, dtype=np.int8))
    return np.concatenate(rows), np.concatenate(keys), np.concatenate(rule_ids)


def keys_by_rule(
    entities: Entities,
    rules: tuple[BlockingRule, ...],
    as_request: bool,
    including: Callable[[BlockingRule], bool] | None = None,
) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """(rule number, row, key) for one rule at a time, as ``all_keys`` lists them: a whole index's keys under
    every rule at once are gigabytes, so its build takes them rule by rule."""
    chosen = [i for i, rule in enumerate(rules) if including is None or including(rule)]
    components = component_values(entities, dict.fromkeys(c for i in chosen for c in rules[i].components), as_request)
    for i in chosen:
        row, key = rule_keys(entities, rules[i], salt=1000 + i, as_request=as_request, components=components)
        yield i, row, key
