"""Who lives with whom: households, ages, sexes and family names, as numpy arrays.

The model builds families with children first (children's ages from the UK age
pyramid, parents' ages from the children's), then fills the remaining adults
from whatever the pyramid still needs, so the whole population follows the
pyramid while households stay plausible: couples of similar age, twins, adult
children living at home, lone parents, shared houses, fathers and sons with the
same name. Names are indices into a ``Vocabulary`` so compound names
(SMITH-JONES) can be made on the fly without per-row string work.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from synthetic.ages import AGE_WEIGHTS, DAYS_PER_YEAR, MAX_AGE, birth_years, sample_ages
from synthetic.names import NameTables

MALE, FEMALE, OTHER, UNKNOWN = 0, 1, 2, 3

# Roles, kept for tests and for the request generator's look-alikes.
MOTHER, FATHER, CHILD, ADULT_CHILD, PARTNER, SINGLE, SHARER = range(7)


@dataclass
class Vocabulary:
    """A base array of names plus compounds ("SMITH-JONES") made while generating."""

    base: pa.StringArray
    extra: list[str] = field(default_factory=list)
    _extra_index: dict[str, int] = field(default_factory=dict)

    def text(self, index: int) -> str:
        return self.base[index].as_py() if index < len(self.base) else self.extra[index - len(self.base)]

    def compound(self, first: np.ndarray, second: np.ndarray, separator: str) -> np.ndarray:
        out = np.empty(len(first), dtype=np.int64)
        for i, (a, b) in enumerate(zip(first.tolist(), second.tolist(), strict=True)):
            left, right = self.text(a), self.text(b)
            name = left if left == right else f"{left}{separator}{right}"
            if name not in self._extra_index:
                self._extra_index[name] = len(self.base) + len(self.extra)
                self.extra.append(name)
            out[i] = self._extra_index[name]
        return out

    def strings(self) -> pa.StringArray:
        return pa.concat_arrays([self.base, pa.array(self.extra, pa.string())])


@dataclass
class People:
    """One row per person; ``household`` indexes the household arrays."""

    household: np.ndarray
    role: np.ndarray
    age: np.ndarray
    date_of_birth: np.ndarray  # days since 1970-01-01
    sex: np.ndarray
    family_name: np.ndarray
    previous_names: np.ndarray  # (n, 2) vocabulary indices, -1 for none
    given_name: np.ndarray
    household_count: int

    def __len__(self) -> int:
        return len(self.household)

    def take(self, index: np.ndarray) -> People:
        return People(
            self.household[index],
            self.role[index],
            self.age[index],
            self.date_of_birth[index],
            self.sex[index],
            self.family_name[index],
            self.previous_names[index],
            self.given_name[index],
            self.household_count,
        )


def sample_family_names(count: int, rng: np.random.Generator, names: NameTables, surnames: Vocabulary) -> np.ndarray:
    """Surnames with a few inherited double-barrelled ones (about 0.6% of families)."""
    out = names.sample_surnames(count, rng).astype(np.int64)
    barrelled = np.flatnonzero(rng.random(count) < 0.006)
    if barrelled.size:
        second = names.sample_surnames(barrelled.size, rng)
        hyphen = rng.random(barrelled.size) < 0.8
        for separator, mask in (("-", hyphen), (" ", ~hyphen)):
            out[barrelled[mask]] = surnames.compound(out[barrelled[mask]], second[mask], separator)
    return out


def _offsets(counts: np.ndarray) -> np.ndarray:
    return np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)


def make_people(
    target: int,
    rng: np.random.Generator,
    names: NameTables,
    surnames: Vocabulary,
    given: Vocabulary,
    as_of_days: int,
) -> People:
    """Exactly ``target`` people in households."""
    child_share = AGE_WEIGHTS[:18].sum()
    families = max(1, int(target * child_share / 1.76))
    kids_per_family = rng.choice([1, 2, 3, 4], p=[0.45, 0.38, 0.13, 0.04], size=families)
    kid_family = np.repeat(np.arange(families), kids_per_family)
    kid_start = _offsets(kids_per_family)[:-1]
    kid_rank = np.arange(len(kid_family)) - kid_start[kid_family]
    kid_age = sample_ages(len(kid_family), rng, 0, 17)
    kid_dob = _dob(kid_age, rng, as_of_days)
    # About 3% of children are twins: the second child of some families shares the first's birth.
    twins = (kids_per_family >= 2) & (rng.random(families) < 0.035)
    second = np.flatnonzero(twins[kid_family] & (kid_rank == 1))
    kid_age[second], kid_dob[second] = kid_age[second - 1], kid_dob[second - 1]
    eldest = np.maximum.reduceat(kid_age, kid_start)

    lone = rng.random(families) < 0.25
    lone_father = lone & (rng.random(families) < 0.1)
    has_mother, has_father = ~lone_father, ~lone | lone_father
    mother_age = eldest + np.clip(rng.normal(29, 5.5, families), 17, 45).round().astype(int)
    father_age = np.where(
        lone_father,
        eldest + np.clip(rng.normal(31, 6, families), 18, 55).round(),
        mother_age + np.clip(rng.normal(2.5, 4, families), -8, 15).round(),
    ).astype(int)
    father_age = np.clip(father_age, 18, MAX_AGE)
    older_parent = np.where(has_mother, mother_age, father_age)
    adult_child_age = np.maximum(18, eldest + rng.integers(2, 10, families))
    has_adult_child = (rng.random(families) < 0.18) & (older_parent - adult_child_age >= 17)

    fam = np.arange(families)
    family_parts = [
        (fam[has_mother], np.full(has_mother.sum(), MOTHER), mother_age[has_mother], None),
        (fam[has_father], np.full(has_father.sum(), FATHER), father_age[has_father], None),
        (kid_family, np.full(len(kid_family), CHILD), kid_age, kid_dob),
        (
            fam[has_adult_child],
            np.full(has_adult_child.sum(), ADULT_CHILD),
            adult_child_age[has_adult_child],
            None,
        ),
    ]
    household = np.concatenate([p[0] for p in family_parts])
    role = np.concatenate([p[1] for p in family_parts]).astype(np.int8)
    age = np.concatenate([p[2] for p in family_parts]).astype(np.int16)
    dob = np.concatenate([p[3] if p[3] is not None else _dob(p[2], rng, as_of_days) for p in family_parts])

    # Remaining adults follow what the pyramid still needs once the families' adults are counted.
    remaining = target - len(household)
    if remaining < 0:
        keep = np.sort(rng.permutation(len(household))[:target])
        household, role, age, dob = household[keep], role[keep], age[keep], dob[keep]
        remaining = 0
    wanted = AGE_WEIGHTS * target - np.bincount(age[role != CHILD], minlength=MAX_AGE + 1)
    wanted[:18] = 0
    wanted = np.clip(wanted, 0, None)
    adult_age = rng.choice(MAX_AGE + 1, size=remaining, p=wanted / wanted.sum())
    adult_household, adult_role = _group_adults(adult_age, rng, families)
    household = np.concatenate([household, adult_household])
    role = np.concatenate([role, adult_role]).astype(np.int8)
    age = np.concatenate([age, adult_age]).astype(np.int16)
    dob = np.concatenate([dob, _dob(adult_age, rng, as_of_days)])
    household_count = int(household.max()) + 1 if len(household) else 0

    sex = _sexes(household, role, age, rng)
    family_name, previous = _family_names(household, role, sex, age, families, rng, names, surnames)
    people = People(
        household,
        role,
        age,
        dob,
        sex,
        family_name,
        previous,
        np.zeros(len(household), np.int64),
        household_count,
    )
    people.given_name = _given_names(people, rng, names, given, as_of_days)
    return people


def _dob(age: np.ndarray, rng: np.random.Generator, as_of_days: int) -> np.ndarray:
    days = (np.asarray(age) + rng.random(len(age))) * DAYS_PER_YEAR
    return (as_of_days - np.floor(days)).astype(np.int32)


def _group_adults(age: np.ndarray, rng: np.random.Generator, first_household: int):
    """Shared houses of young adults, couples of similar age, and people living alone."""
    n = len(age)
    kind = np.where(rng.random(n) < 0.58, PARTNER, SINGLE)
    young = (age <= 34) & (rng.random(n) < 0.14)
    kind[young] = SHARER
    household = np.empty(n, dtype=np.int64)
    next_id = first_household
    sharers = np.flatnonzero(kind == SHARER)
    household[sharers] = next_id + np.arange(len(sharers)) // 3
    next_id += (len(sharers) + 2) // 3
    partners = np.flatnonzero(kind == PARTNER)
    # Sorting by a noisy age and pairing neighbours gives couples of similar age.
    partners = partners[np.argsort(age[partners] + rng.normal(0, 2.5, len(partners)))]
    household[partners] = next_id + np.arange(len(partners)) // 2
    next_id += (len(partners) + 1) // 2
    singles = np.flatnonzero(kind == SINGLE)
    household[singles] = next_id + np.arange(len(singles))
    return household, kind.astype(np.int8)


def couples(household: np.ndarray, role: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row indices of the first and second partner of every two-adult (PARTNER) household."""
    partners = np.flatnonzero(role == PARTNER)
    order = partners[np.argsort(household[partners], kind="stable")]
    together = household[order[1:]] == household[order[:-1]]
    return order[:-1][together], order[1:][together]


def _sexes(household: np.ndarray, role: np.ndarray, age: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    n = len(role)
    female_share = np.where(age >= 65, 0.58, 0.5)
    sex = np.where(rng.random(n) < female_share, FEMALE, MALE).astype(np.int8)
    sex[role == MOTHER] = FEMALE
    sex[role == FATHER] = MALE
    sex[(role == CHILD) | (role == ADULT_CHILD)] = np.where(
        rng.random(((role == CHILD) | (role == ADULT_CHILD)).sum()) < 0.512, MALE, FEMALE
    )
    # The second partner of a couple is of the other sex in 97% of couples.
    first, second = couples(household, role)
    opposite = rng.random(len(second)) < 0.97
    sex[second[opposite]] = 1 - sex[first[opposite]]
    special = rng.random(n)
    sex[special < 0.0008] = UNKNOWN
    sex[(special >= 0.0008) & (special < 0.0011)] = OTHER
    return sex


def _family_names(household, role, sex, age, families, rng, names, surnames):
    """Current family name and up to two previous ones for everybody."""
    n = len(role)
    birth = sample_family_names(n, rng, names, surnames)
    current = birth.copy()
    previous = np.full((n, 2), -1, dtype=np.int64)

    # Families with children: father's and mother's names drive the children's.
    fam_father = np.full(families, -1, np.int64)
    fam_mother = np.full(families, -1, np.int64)
    is_father, is_mother = np.flatnonzero(role == FATHER), np.flatnonzero(role == MOTHER)
    fam_father[household[is_father]] = is_father
    fam_mother[household[is_mother]] = is_mother
    couple = (fam_father >= 0) & (fam_mother >= 0)
    married = couple & (rng.random(families) < 0.68)
    hyphenated = married & (rng.random(families) < 0.04)
    plain_married = married & ~hyphenated
    mothers, fathers = fam_mother[plain_married], fam_father[plain_married]
    current[mothers] = birth[fathers]
    previous[mothers, 0] = birth[mothers]
    m, f = fam_mother[hyphenated], fam_father[hyphenated]
    joint = surnames.compound(birth[f], birth[m], "-")
    current[m], current[f] = joint, joint
    previous[m, 0], previous[f, 0] = birth[m], birth[f]
    # Lone mothers: some keep a former married name (their birth name becomes the previous one).
    lone_mother = (fam_mother >= 0) & (fam_father < 0)
    kept = fam_mother[lone_mother & (rng.random(families) < 0.4)]
    previous[kept, 0] = birth[kept]
    current[kept] = names.sample_surnames(len(kept), rng)

    kids = np.flatnonzero((role == CHILD) | (role == ADULT_CHILD))
    kid_fam = household[kids]
    father, mother = fam_father[kid_fam], fam_mother[kid_fam]
    u = rng.random(families)[kid_fam]  # siblings share one surname choice
    choice = np.where(father >= 0, current[np.maximum(father, 0)], current[np.maximum(mother, 0)])
    unmarried = couple[kid_fam] & ~married[kid_fam]
    from_mother = unmarried & (u < 0.15)
    choice[from_mother] = current[mother[from_mother]]
    joint_kids = np.flatnonzero(unmarried & (u >= 0.15) & (u < 0.30))
    choice[joint_kids] = surnames.compound(current[father[joint_kids]], current[mother[joint_kids]], "-")
    absent_father = (father < 0) & (rng.random(families)[kid_fam] < 0.45)
    # An absent father's name is shared by siblings: draw it once per family.
    family_absent_name = names.sample_surnames(families, rng)
    choice[absent_father] = family_absent_name[kid_fam[absent_father]]
    current[kids] = choice

    # Adult couples: most married, one partner (usually the woman) took the other's name.
    first, second = couples(household, role)
    wed = rng.random(len(second)) < 0.65
    # The woman takes the man's name in 95% of marriages, the man the woman's in the rest.
    second_takes = np.where(rng.random(len(second)) < 0.95, sex[second] == FEMALE, sex[second] != FEMALE)
    taker = np.where(second_takes, second, first)[wed]
    giver = np.where(second_takes, first, second)[wed]
    previous[taker, 0] = birth[taker]
    current[taker] = birth[giver]

    # Women living alone or sharing: some divorced or widowed, keeping a married name.
    alone = np.flatnonzero(((role == SINGLE) | (role == SHARER)) & (sex == FEMALE) & (age >= 28))
    married_before = alone[rng.random(len(alone)) < 0.3]
    previous[married_before, 0] = birth[married_before]
    current[married_before] = names.sample_surnames(len(married_before), rng)

    # A second earlier name for some (remarriage), and deed-poll changes for anyone.
    had_one = np.flatnonzero(previous[:, 0] >= 0)
    again = had_one[rng.random(len(had_one)) < 0.1]
    previous[again, 1] = names.sample_surnames(len(again), rng)
    deed_poll = np.flatnonzero((rng.random(n) < 0.002) & (age >= 16) & (previous[:, 0] < 0))
    previous[deed_poll, 0] = current[deed_poll]
    current[deed_poll] = names.sample_surnames(len(deed_poll), rng)
    return current, previous


def _given_names(people: People, rng, names: NameTables, given: Vocabulary, as_of_days: int) -> np.ndarray:
    birth_year = birth_years(people.date_of_birth)
    # Other/unknown sex: the name was chosen at birth for one of the two.
    male = np.where(people.sex >= OTHER, rng.random(len(people)) < 0.5, people.sex == MALE)
    out = names.sample_given(birth_year, male, rng).astype(np.int64)

    # Siblings (and twins above all) do not share a first name.
    kids = np.flatnonzero((people.role == CHILD) | (people.role == ADULT_CHILD))
    for _ in range(6):
        key = people.household[kids] * (len(given.base) + 1) + out[kids]
        _, first_seen = np.unique(key, return_index=True)
        duplicate = np.ones(len(kids), bool)
        duplicate[first_seen] = False
        if not duplicate.any():
            break
        clash = kids[duplicate]
        out[clash] = names.sample_given(birth_year[clash], male[clash], rng)

    # Juniors: about 3% of sons carry their father's first name.
    fathers = np.flatnonzero(people.role == FATHER)
    father_of = np.full(people.household_count, -1, np.int64)
    father_of[people.household[fathers]] = fathers
    sons = kids[(people.sex[kids] == MALE) & (father_of[people.household[kids]] >= 0)]
    juniors = sons[rng.random(len(sons)) < 0.03]
    out[juniors] = out[father_of[people.household[juniors]]]

    # Hyphenated given names (MARY-JANE, JEAN-PAUL), about 0.4%.
    hyphen = np.flatnonzero(rng.random(len(people)) < 0.004)
    second = names.sample_given(birth_year[hyphen], male[hyphen], rng)
    out[hyphen] = given.compound(out[hyphen], second, "-")
    return out


def sample_other_given_names(
    people: People, rng, names: NameTables, given: Vocabulary, first_given: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """How many middle names each person has (0-3) and three candidates, distinct from the first name."""
    n = len(people)
    birth_year = birth_years(people.date_of_birth)
    male = people.sex == MALE
    count = rng.choice(4, size=n, p=[0.22, 0.62, 0.14, 0.02])
    candidates = np.stack([names.sample_given(birth_year, male, rng) for _ in range(3)], axis=1).astype(np.int64)
    for column in range(3):
        same = np.flatnonzero(
            (candidates[:, column] == first_given)
            | (column > 0) & (candidates[:, column] == candidates[:, 0])
            | (column > 1) & (candidates[:, column] == candidates[:, 1])
        )
        candidates[same, column] = names.sample_given(birth_year[same], male[same], rng)
    return count, candidates
