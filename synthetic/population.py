"""A synthetic extract of a PDS-like national index, generated in vectorised chunks.

Each chunk of ``CHUNK_SIZE`` people is generated from its own random stream
(``SeedSequence(seed).spawn``), so a population is deterministic per seed and
memory stays bounded whatever the size: chunks are written as Parquet row
groups as they are made.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from matcher.contract.schema import POPULATION_SCHEMA, PREVIOUS_ADDRESS, SEXES
from synthetic.ages import DAYS_PER_YEAR
from synthetic.geography import World, load_world
from synthetic.households import (
    People,
    Vocabulary,
    make_people,
    sample_other_given_names,
)
from synthetic.names import NameTables, load_name_tables
from synthetic.nhs_number import unique_test_range_numbers

CHUNK_SIZE = 500_000
DEFAULT_AS_OF = dt.date(2026, 11, 1)
EPOCH = dt.date(1970, 1, 1)


@dataclass(frozen=True)
class PopulationConfig:
    """Rates that are not fixed by the household model."""

    restricted_rate: float = 1 / 500
    flat_rate: float = 0.14
    address_line_2_rate: float = 0.3
    practice_in_own_district: float = 0.85
    # People who moved but kept their old practice: registration predates the latest move.
    kept_old_practice: float = 0.12
    mean_years_at_address: float = 8.0
    mean_years_per_previous_address: float = 5.0
    as_of: dt.date = DEFAULT_AS_OF


def days(date: dt.date) -> int:
    return (date - EPOCH).days


def generate_population(
    records: int,
    seed: int,
    config: PopulationConfig | None = None,
    progress: Callable[[int], None] | None = None,
) -> Iterator[pa.RecordBatch]:
    """Yield record batches holding exactly ``records`` people in total."""
    config = config or PopulationConfig()
    world, names = load_world(), load_name_tables()
    root = np.random.SeedSequence(seed)
    nhs_seed, chunk_seeds = root.spawn(2)
    nhs_numbers = unique_test_range_numbers(records, np.random.default_rng(nhs_seed))
    sizes = [CHUNK_SIZE] * (records // CHUNK_SIZE) + ([records % CHUNK_SIZE] if records % CHUNK_SIZE else [])
    start = 0
    for size, chunk_seed in zip(sizes, chunk_seeds.spawn(len(sizes)), strict=True):
        rng = np.random.default_rng(chunk_seed)
        yield _generate_chunk(size, rng, world, names, config, nhs_numbers[start : start + size])
        start += size
        if progress:
            progress(size)


def write_population(
    path: Path | str,
    records: int,
    seed: int,
    config: PopulationConfig | None = None,
    progress: Callable[[int], None] | None = None,
) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    config = config or PopulationConfig()
    # Readers (the request generator) need the extract date the ages were computed against.
    schema = POPULATION_SCHEMA.with_metadata({"as_of": config.as_of.isoformat(), "seed": str(seed)})
    with pq.ParquetWriter(partial, schema, compression="zstd") as writer:
        for batch in generate_population(records, seed, config, progress):
            writer.write_batch(batch)
    partial.replace(path)


def _generate_chunk(
    size: int,
    rng: np.random.Generator,
    world: World,
    names: NameTables,
    config: PopulationConfig,
    nhs_numbers: np.ndarray,
) -> pa.RecordBatch:
    as_of = days(config.as_of)
    surnames, given = Vocabulary(names.surnames), Vocabulary(names.given_names)
    people = make_people(size, rng, names, surnames, given, as_of)
    people = people.take(rng.permutation(len(people)))
    n, households = len(people), people.household_count

    home = rng.integers(0, world.size, households)
    oldest_dob = np.full(households, as_of, dtype=np.int64)
    np.minimum.at(oldest_dob, people.household, people.date_of_birth)
    adult_years = np.maximum((as_of - oldest_dob) / DAYS_PER_YEAR - 18, 0.1)
    years_here = np.minimum(rng.exponential(config.mean_years_at_address, households), adult_years)
    move_in = (as_of - years_here * DAYS_PER_YEAR).astype(np.int64)

    previous = _previous_addresses(people, home, move_in, oldest_dob, rng, world, config)
    latest_previous_postcode, has_previous = previous.pop("latest_postcode"), previous.pop("has_previous")

    # Practice near home; people who kept their old practice are near their previous address.
    same_district = rng.random(households) < config.practice_in_own_district
    household_practice = world.practices_near(home, rng.random(households), same_district)
    practice = household_practice[people.household]
    own_choice = rng.random(n) < 0.08
    practice[own_choice] = world.practices_near(
        home[people.household[own_choice]], rng.random(own_choice.sum()), rng.random(own_choice.sum()) < 0.5
    )
    person_move_in = np.maximum(move_in[people.household], people.date_of_birth)
    kept_old = has_previous & (rng.random(n) < config.kept_old_practice)
    practice[kept_old] = world.practices_near(
        latest_previous_postcode[kept_old], rng.random(kept_old.sum()), np.ones(kept_old.sum(), bool)
    )
    registration = person_move_in + rng.exponential(40, n).astype(np.int64)
    before_move = person_move_in - rng.integers(30, 5 * 365, n)
    registration = np.where(kept_old, np.maximum(before_move, people.date_of_birth), registration)
    registration = np.minimum(registration, as_of)

    death = _dates_of_death(people, np.maximum(registration, person_move_in), rng, as_of)

    house_number = np.floor(np.exp(rng.random(households) * np.log(160))).astype(np.int64)
    line_1 = world.street_address(home, house_number)
    flat = rng.random(households) < config.flat_rate
    flat_number = pc.cast(pa.array(rng.integers(1, 25, households)), pa.string())
    flat_line = pc.binary_join_element_wise(pc.binary_join_element_wise("FLAT", flat_number, " "), line_1, ", ")
    line_1 = pc.if_else(pa.array(flat), flat_line, line_1)
    locality = world.outcode_locality.take(pa.array(world.postcode_outcode[home]))
    line_2 = pc.if_else(
        pa.array(rng.random(households) < config.address_line_2_rate),
        locality,
        pa.nulls(households, pa.string()),
    )
    by_household = pa.array(people.household)

    count, candidates = sample_other_given_names(people, rng, names, given, people.given_name)
    given_strings = given.strings()
    middle = [given_strings.take(pa.array(candidates[:, i])) for i in range(3)]
    two = pc.binary_join_element_wise(middle[0], middle[1], " ")
    three = pc.binary_join_element_wise(two, middle[2], " ")
    other_given = pc.case_when(
        pc.make_struct(pa.array(count == 0), pa.array(count == 1), pa.array(count == 2)),
        pa.scalar(""),
        middle[0],
        two,
        three,
    )

    surname_strings = surnames.strings()
    previous_names = people.previous_names
    kept = previous_names >= 0
    previous_name_list = pa.ListArray.from_arrays(
        pa.array(np.concatenate([[0], np.cumsum(kept.sum(axis=1))]).astype(np.int32)),
        surname_strings.take(pa.array(previous_names[kept])),
    )

    columns = {
        "nhs_number": pc.cast(pa.array(nhs_numbers), pa.string()),
        "given_name": given_strings.take(pa.array(people.given_name)),
        "other_given_names": other_given,
        "family_name": surname_strings.take(pa.array(people.family_name)),
        "previous_family_names": previous_name_list,
        "sex": pa.array(SEXES, pa.string()).take(pa.array(people.sex)),
        "date_of_birth": pa.array(people.date_of_birth.astype(np.int32), pa.date32()),
        "date_of_death": pa.array(death.astype(np.int32), pa.date32(), mask=death < 0),
        "address_line_1": line_1.take(by_household),
        "address_line_2": line_2.take(by_household),
        "town": world.town_of(home).take(by_household),
        "postcode": world.postcodes.take(pa.array(home)).take(by_household),
        "previous_addresses": previous["list"],
        "gp_practice_code": world.practice_codes.take(pa.array(practice)),
        "gp_practice_name": world.practice_names.take(pa.array(practice)),
        "gp_practice_address": world.practice_addresses.take(pa.array(practice)),
        "gp_practice_postcode": world.practice_postcodes.take(pa.array(practice)),
        "registration_date": pa.array(registration.astype(np.int32), pa.date32()),
        "restricted": pa.array(rng.random(n) < config.restricted_rate),
    }
    return pa.RecordBatch.from_arrays(list(columns.values()), schema=POPULATION_SCHEMA)


def _previous_addresses(
    people: People,
    home: np.ndarray,
    move_in: np.ndarray,
    oldest_dob: np.ndarray,
    rng: np.random.Generator,
    world: World,
    config: PopulationConfig,
) -> dict:
    """Households' earlier addresses (0-4, mostly nearby), kept for members born before each move."""
    households = len(home)
    adult_age = (move_in - oldest_dob) / DAYS_PER_YEAR
    count = rng.choice(5, size=households, p=[0.28, 0.30, 0.21, 0.13, 0.08])
    count = np.where(adult_age < 25, np.minimum(count, 2), count)
    household_of = np.repeat(np.arange(households), count)
    starts = np.concatenate([[0], np.cumsum(count)[:-1]])
    rank = np.arange(len(household_of)) - starts[household_of]
    stays = (rng.exponential(config.mean_years_per_previous_address, len(household_of)) + 0.3) * DAYS_PER_YEAR
    # moved_out of entry k is move_in minus the stays of the k more recent entries.
    before = np.cumsum(stays) - stays
    cumulative = before - before[starts[household_of]]
    moved_out = (move_in[household_of] - cumulative - rng.integers(0, 20, len(household_of))).astype(np.int64)
    valid = moved_out > oldest_dob[household_of] + 18 * DAYS_PER_YEAR
    scope = rng.choice(3, size=len(household_of), p=[0.55, 0.25, 0.20])
    postcode = np.empty(len(household_of), np.int64)
    anchor = home[household_of]
    for k in range(4):
        at = rank == k
        postcode[at] = world.postcodes_near(anchor[at], rng.random(at.sum()), scope[at])
        if k < 3:
            deeper = np.flatnonzero(rank == k + 1)
            anchor[deeper] = postcode[deeper - 1]
    house = np.floor(np.exp(rng.random(len(household_of)) * np.log(160))).astype(np.int64)
    line_1 = world.street_address(postcode, house)
    town = world.town_of(postcode)
    postcode_strings = world.postcodes.take(pa.array(postcode))

    # Expand household entries to members alive (and adult, for the adults' history) at the move.
    entries_per_person = count[people.household]
    person_of = np.repeat(np.arange(len(people)), entries_per_person)
    person_start = np.concatenate([[0], np.cumsum(entries_per_person)[:-1]])
    entry = starts[people.household][person_of] + (np.arange(len(person_of)) - person_start[person_of])
    keep = valid[entry] & (moved_out[entry] > people.date_of_birth[person_of])
    entry, person_of = entry[keep], person_of[keep]
    per_person = np.bincount(person_of, minlength=len(people))
    offsets = np.concatenate([[0], np.cumsum(per_person)]).astype(np.int32)
    index = pa.array(entry)
    struct = pa.StructArray.from_arrays(
        [
            line_1.take(index),
            town.take(index),
            postcode_strings.take(index),
            pa.array(moved_out[entry].astype(np.int32), pa.date32()),
        ],
        fields=list(PREVIOUS_ADDRESS),
    )
    latest = np.full(len(people), -1, np.int64)
    has_previous = per_person > 0
    latest[has_previous] = postcode[entry[offsets[:-1][has_previous]]]
    return {
        "list": pa.ListArray.from_arrays(pa.array(offsets), struct),
        "latest_postcode": latest,
        "has_previous": has_previous,
    }


def _dates_of_death(people: People, last_event: np.ndarray, rng: np.random.Generator, as_of: int) -> np.ndarray:
    """About 1% deceased, mostly old, dying within five years and after their last registration or move; -1 if alive."""
    age = people.age
    hazard = np.select([age < 60, age < 75, age < 85], [0.002, 0.012, 0.04], 0.10)
    dead = rng.random(len(people)) < hazard
    earliest = np.maximum(last_event, as_of - int(5 * DAYS_PER_YEAR))
    died = earliest + np.floor(rng.random(len(people)) * (as_of - earliest + 1)).astype(np.int64)
    return np.where(dead, np.minimum(died, as_of), -1)
