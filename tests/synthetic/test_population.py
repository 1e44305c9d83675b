"""The realism properties of the synthetic index, checked on a 200,000-person sample."""

from __future__ import annotations

import collections
import datetime as dt
import re

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from matcher.contract.schema import POPULATION_SCHEMA
from synthetic.ages import UK_AGE_BANDS_THOUSANDS
from synthetic.geography import load_world
from synthetic.nhs_number import is_valid
from synthetic.population import generate_population

POSTCODE_FORM = re.compile(r"^[A-Z]{1,2}[0-9][0-9A-Z]? [0-9][A-Z]{2}$")


def _area(postcode: str) -> str:
    return re.match(r"[A-Z]+", postcode).group(0)


def test_schema_is_the_contract(population_path):
    schema = pq.read_schema(population_path)
    for field in POPULATION_SCHEMA:
        assert schema.field(field.name).type == field.type, field.name


def test_extract_date_is_recorded_for_readers(tmp_path):
    from synthetic.population import PopulationConfig, write_population
    from synthetic.requests import population_as_of

    path = tmp_path / "p.parquet"
    write_population(path, 200, seed=1, config=PopulationConfig(as_of=dt.date(2019, 6, 30)))
    assert population_as_of(path) == dt.date(2019, 6, 30)
    assert max(pq.read_table(path).column("registration_date").to_pylist()) <= dt.date(2019, 6, 30)


def test_exact_record_count_and_deterministic_per_seed():
    first = pa.Table.from_batches(list(generate_population(3_001, seed=4)))
    again = pa.Table.from_batches(list(generate_population(3_001, seed=4)))
    other = pa.Table.from_batches(list(generate_population(3_001, seed=5)))
    assert first.num_rows == 3_001
    assert first.equals(again)
    assert not first.column("nhs_number").equals(other.column("nhs_number"))


def test_nhs_numbers_valid_unique_from_9xx(population):
    numbers = population.column("nhs_number").to_pylist()
    assert len(set(numbers)) == len(numbers)
    assert all(n.startswith("9") and len(n) == 10 for n in numbers)
    assert all(is_valid(n) for n in numbers[:5000])


def test_surname_frequencies_follow_uk(population):
    counts = collections.Counter(population.column("family_name").to_pylist())
    n = population.num_rows
    assert 0.008 <= counts["SMITH"] / n <= 0.014
    top500 = sum(c for _, c in counts.most_common(500)) / n
    assert 0.35 <= top500 <= 0.45
    # A long tail: many names held by only one or two people.
    rare = sum(1 for c in counts.values() if c <= 2)
    assert rare > 5_000


def test_age_pyramid_is_uk_like(ages):
    target = np.repeat(np.array(UK_AGE_BANDS_THOUSANDS[:-1]) / 5, 5)
    target = np.append(target, UK_AGE_BANDS_THOUSANDS[-1]) / sum(UK_AGE_BANDS_THOUSANDS)
    target_age = np.append(np.arange(len(target) - 1), 90)
    for low, high in [(0, 16), (16, 30), (30, 45), (45, 65), (65, 80), (80, 200)]:
        expected = target[(target_age >= low) & (target_age < high)].sum()
        observed = ((ages >= low) & (ages < high)).mean()
        assert abs(observed - expected) < 0.02, (low, high, observed, expected)


def test_first_names_depend_on_sex_and_birth_decade(population, ages):
    given = np.array(population.column("given_name").to_pylist(), dtype=object)
    sex = np.array(population.column("sex").to_pylist(), dtype=object)
    born_1940s = (ages > 76.8) & (ages <= 86.8)
    born_2010s = (ages > 6.8) & (ages <= 16.8)

    def top(mask, s):
        return [name for name, _ in collections.Counter(given[mask & (sex == s)]).most_common(10)]

    assert "MARGARET" in top(born_1940s, "female")
    assert "JOHN" in top(born_1940s, "male")
    assert "OLIVIA" in top(born_2010s, "female") or "AMELIA" in top(born_2010s, "female")
    assert "MARGARET" not in top(born_2010s, "female")
    assert not set(top(born_2010s, "female")) & set(top(born_2010s, "male"))


def test_postcodes_are_real_in_normal_form_and_clustered(population):
    world = load_world()
    real = set(world.postcodes.to_pylist())
    postcodes = population.column("postcode").to_pylist()
    assert all(POSTCODE_FORM.match(p) for p in postcodes[:20_000])
    assert all(p in real for p in postcodes[:20_000])
    # Earlier addresses are mostly nearby: same postcode area far more often than chance.
    pairs = [
        (p, a[0]["postcode"])
        for p, a in zip(postcodes, population.column("previous_addresses").to_pylist(), strict=True)
        if a
    ]
    same_area = np.mean([_area(p) == _area(q) for p, q in pairs])
    assert same_area > 0.7
    gp = population.column("gp_practice_postcode").to_pylist()
    assert np.mean([_area(p) == _area(g) for p, g in zip(postcodes, gp, strict=True)]) > 0.95


def test_hard_cases_occur_at_realistic_rates(population, ages):
    family = population.column("family_name").to_pylist()
    given = population.column("given_name").to_pylist()
    address = list(
        zip(population.column("address_line_1").to_pylist(), population.column("postcode").to_pylist(), strict=True)
    )
    dob = population.column("date_of_birth").to_pylist()
    n = len(family)
    household = collections.Counter(zip(family, address, strict=True))
    in_household = np.mean([household[k] > 1 for k in zip(family, address, strict=True)])
    assert 0.2 < in_household < 0.6
    twins = collections.Counter(zip(family, address, dob, strict=True))
    twin_people = sum(c for c in twins.values() if c > 1)
    children = (ages < 18).sum()
    assert 0.01 < twin_people / children < 0.05
    years = [d.year for d in dob]
    namesakes = collections.Counter(zip(given, family, years, strict=True))
    assert 0.005 < sum(c for c in namesakes.values() if c > 1) / n < 0.05
    compound = np.mean([("-" in f) or (" " in f) for f in family])
    assert 0.01 < compound < 0.06
    assert 0.003 < np.mean(["'" in f for f in family]) < 0.03
    assert 0.01 < np.mean([f.startswith(("MC", "MAC")) for f in family]) < 0.06
    middle = population.column("other_given_names").to_pylist()
    assert 0.05 < np.mean([len(m.split()) >= 2 for m in middle]) < 0.3
    previous_names = population.column("previous_family_names").to_pylist()
    assert 0.1 < np.mean([bool(p) for p in previous_names]) < 0.35


def test_restricted_deceased_and_dates_are_plausible(population, ages):
    n = population.num_rows
    restricted = pc.sum(population.column("restricted")).as_py()
    # 1 in 500, within about four standard deviations.
    assert abs(restricted - n / 500) < 4 * np.sqrt(n / 500)
    deceased = n - population.column("date_of_death").null_count
    assert 0.003 < deceased / n < 0.03
    born = population.column("date_of_birth").cast(pa.int32()).to_numpy()
    died = population.column("date_of_death").cast(pa.int32()).to_numpy(zero_copy_only=False)
    alive = np.isnan(died.astype(float))
    assert (died[~alive] >= born[~alive]).all()
    registered = population.column("registration_date").cast(pa.int32()).to_numpy()
    assert (registered >= born).all()
    assert ages.min() >= 0 and ages.max() < 110


def test_registration_follows_latest_move_in_most_not_all_cases(population):
    registered = population.column("registration_date").to_pylist()
    moves = population.column("previous_addresses").to_pylist()
    after = [r >= max(a["moved_out"] for a in m) for r, m in zip(registered, moves, strict=True) if m]
    assert 0.75 < np.mean(after) < 0.97


def test_previous_addresses_are_ordered_and_before_now(population):
    for history in population.column("previous_addresses").to_pylist()[:20_000]:
        dates = [a["moved_out"] for a in history]
        assert dates == sorted(dates, reverse=True)
        assert len(history) <= 4


@pytest.mark.parametrize("column", ["gp_practice_code"])
def test_practice_codes_are_ods_format(population, column):
    assert all(re.fullmatch(r"[A-Z][0-9]{5}", c) for c in population.column(column).to_pylist()[:20_000])


def test_the_dead_died_after_registering_and_moving(population):
    died = population.column("date_of_death").to_pylist()
    registered = population.column("registration_date").to_pylist()
    moves = population.column("previous_addresses").to_pylist()
    dead = [(d, r, m) for d, r, m in zip(died, registered, moves, strict=True) if d is not None]
    assert dead
    assert all(r <= d for d, r, _ in dead)
    assert all(all(a["moved_out"] <= d for a in m) for d, _, m in dead)


def test_chunked_generation_keeps_count_and_unique_numbers(monkeypatch):
    import synthetic.population as population_module

    monkeypatch.setattr(population_module, "CHUNK_SIZE", 700)
    table = pa.Table.from_batches(list(generate_population(2_500, seed=8)))
    assert table.num_rows == 2_500
    assert len(set(table.column("nhs_number").to_pylist())) == 2_500


def test_birth_years_before_1970_are_right():
    from synthetic.ages import birth_years

    dates = np.array([dt.date(1968, 6, 1), dt.date(1950, 1, 5), dt.date(1970, 1, 1), dt.date(2001, 12, 31)])
    offsets = np.array([(d - dt.date(1970, 1, 1)).days for d in dates])
    assert birth_years(offsets).tolist() == [1968, 1950, 1970, 2001]
