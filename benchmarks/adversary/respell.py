"""Respellings of a name that fall in a different spelling group each (``api.access.probing``: the family name's
Metaphone with the given name's Soundex), mildest first.

The grouping is in the published code, so the attacker computes it as the service does. A respelling in a fresh
group is counted only where the request lands: if a wrong date of birth keeps the target's record out of the core's
two best candidates, nothing is counted on the record until the right date is sent.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import islice

import jellyfish

from matcher.contract.normalise import normalise_name

# A consonant of each Soundex class: replacing a letter with one of another class changes the code.
_CLASS_LETTERS = "BCDLMR"
_VOWELS = "AEIOU"


def group(given: str | None, family: str) -> str:
    """The spelling group of a name, as ``api.access.probing._spelling_groups`` computes it (given name present)."""
    f = (normalise_name(family) or "").replace("-", "").replace(" ", "")
    g = (normalise_name(given) or "").replace("-", "").replace(" ", "")
    return f"{jellyfish.metaphone(f)}:{jellyfish.soundex(g)}"


def _typos(name: str, keep_first: bool = True) -> Iterator[str]:
    """One-letter substitutions, from the end of the name inwards (the end weighs least in Jaro-Winkler)."""
    for i in range(len(name) - 1, 0 if keep_first else -1, -1):
        for letter in _CLASS_LETTERS + _VOWELS:
            if letter != name[i]:
                yield name[:i] + letter + name[i + 1 :]


def given_mild(given: str) -> list[str]:
    """Typos and an appended letter: the comparison still finds the name close."""
    return [*_typos(given), *(given + letter for letter in _CLASS_LETTERS)]


def given_harsh(given: str) -> list[str]:
    """The initial changed: a weak agreement at best."""
    return [letter + given[1:] for letter in "ABCDEFGHJKLMNOPRSTVW" if letter != given[0]]


def family_mild(family: str) -> list[str]:
    """Typos and consonant changes past the initial."""
    return list(_typos(family))


def family_harsh(family: str) -> list[str]:
    """An appended part, the first three letters, the initial changed."""
    initials = [letter + family[1:] for letter in "ABCDEFGHJKLMNOPRSTVW" if letter != family[0]]
    return [family + "-RNAS", "KIELY-" + family, family[:3], *initials]


def respellings(given: str, family: str, count: int) -> list[tuple[str, str]]:
    """``count`` spellings (given, family), each in a spelling group none before it used, mildest first: one name
    changed before both, the given name's typos before the family name's."""
    seen: set[str] = set()
    out: list[tuple[str, str]] = []

    def take(pairs: Iterator[tuple[str, str]]) -> None:
        for g, f in pairs:
            key = group(g, f)
            if key not in seen:
                seen.add(key)
                out.append((g, f))
                if len(out) >= count:
                    return

    # Mildest first: the name as known, one name mildly changed, both, then the harsh changes.
    gm, fm, gh, fh = given_mild(given), family_mild(family), given_harsh(given), family_harsh(family)
    stages = [
        [(given, family)],
        [(g, family) for g in gm],
        [(given, f) for f in fm],
        [(g, f) for f in fm for g in gm],
        [(g, family) for g in gh] + [(given, f) for f in fh],
        [(g, f) for f in fm + fh for g in gm + gh],
    ]
    for stage in stages:
        if len(out) < count:
            take(islice(iter(stage), 200_000))
    return out[:count]
