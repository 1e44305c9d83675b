"""The synthetic world people live in: real postcodes of England and Wales, streets and GP practices.

Postcodes are the real units of the ONS Postcode Directory shipped (one module per
outcode) in ``uk-postcodes-parsing``. They are loaded once and cached as an Arrow
file. Streets, localities and practices are invented but fixed: they depend on a
constant world seed, not on the population seed, so every population and every
trace request lives in the same world.
"""

from __future__ import annotations

import csv
import importlib
import os
import re
from dataclasses import dataclass
from functools import cache
from importlib import metadata, resources
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

WORLD_SEED = 2017_01_01
# About 6,400 practices for England and Wales' ~1.5M postcodes (NHS: ~6,500 practices).
POSTCODES_PER_PRACTICE = 230

_STREET_WORDS = (
    "HIGH STATION CHURCH MAIN PARK VICTORIA GREEN MANOR MILL SCHOOL QUEENS KINGS NEW GROVE ALEXANDRA "
    "CHESTNUT OAK ELM BEECH ASH WILLOW MAPLE YORK RICHMOND WINDSOR ALBERT GEORGE CHAPEL MEADOW ORCHARD "
    "FARM BRIDGE NORTH SOUTH EAST WEST HILL LONDON CASTLE MARKET WATER BROOK FIELD SPRING CEDAR LIME "
    "HAWTHORN HOLLY ROWAN BIRCH LAUREL ROSE PRIMROSE VICARAGE RECTORY ABBEY PRIORY GRANGE COURT HALL "
    "WOODLAND FOREST RIVER CANAL MOOR HEATH COMMON VALLEY WHITE RED BLACK ST JOHNS ST MARYS ST PETERS "
    "ST ANDREWS ST GEORGES WELLINGTON NELSON NAPIER GLADSTONE DERBY DEVONSHIRE CAVENDISH BEDFORD "
    "CAMBRIDGE OXFORD BRISTOL SALISBURY MANCHESTER BIRMINGHAM WARWICK LANCASTER STANLEY BALMORAL "
    "SANDRINGHAM KENSINGTON CHELSEA BELGRAVE GROSVENOR CROMWELL TUDOR STUART JUBILEE CORONATION "
    "MILLENNIUM BEACONSFIELD FAIRFIELD GREENFIELD HIGHFIELD SPRINGFIELD WESTFIELD ASHFIELD MOORFIELD"
)
_STREET_TYPES = {
    "ROAD": 30,
    "STREET": 14,
    "LANE": 10,
    "CLOSE": 10,
    "AVENUE": 8,
    "DRIVE": 7,
    "WAY": 5,
    "GARDENS": 4,
    "CRESCENT": 3,
    "PLACE": 2,
    "GROVE": 2,
    "TERRACE": 2,
    "VIEW": 1,
    "RISE": 1,
    "WALK": 1,
    "MEWS": 1,
}
_LOCALITY_PREFIXES = [
    "ASH",
    "BARN",
    "BEL",
    "BRAM",
    "BROOK",
    "CHAD",
    "COLE",
    "DEN",
    "EAST",
    "ELS",
    "FAR",
    "GREAT",
    "HAM",
    "HOL",
    "KIRK",
    "LITTLE",
    "LONG",
    "MARS",
    "MIDDLE",
    "NEW",
    "NORTH",
    "OLD",
    "OVER",
    "SOUTH",
    "STAN",
    "STOKE",
    "SUT",
    "UPPER",
    "WEST",
    "WHIT",
    "WOOD",
]
_LOCALITY_SUFFIXES = [
    "BY",
    "FORD",
    "HAM",
    "LEY",
    "TON",
    "WORTH",
    "FIELD",
    "DALE",
    "WELL",
    "BURY",
    "COMBE",
    "HURST",
    "SHAW",
    "THORPE",
    "WICK",
    "GATE",
]
_PRACTICE_TEMPLATES = (
    "{street} SURGERY",
    "{locality} MEDICAL CENTRE",
    "{locality} HEALTH CENTRE",
    "THE {tree} PRACTICE",
    "DR {surname} AND PARTNERS",
    "{locality} FAMILY PRACTICE",
    "{street} MEDICAL PRACTICE",
    "{locality} GROUP PRACTICE",
)
_TREES = [
    "OAK",
    "ELM",
    "BEECH",
    "ASH",
    "WILLOW",
    "MAPLE",
    "CEDAR",
    "LIME",
    "HAWTHORN",
    "HOLLY",
    "ROWAN",
    "BIRCH",
    "LAUREL",
    "CHESTNUT",
    "YEW",
]
_NON_GEOGRAPHIC_DISTRICT = re.compile(r"\D9[89]$")


def _cache_dir() -> Path:
    root = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(root) / "tracing-synthetic"


def _read_areas() -> dict[str, tuple[str, str]]:
    with resources.files("synthetic.reference").joinpath("postcode_areas.csv").open(newline="") as fh:
        return {r["area"]: (r["post_town"], r["ods_region_letter"]) for r in csv.DictReader(fh)}


def _area_of(outcode: str) -> str:
    return re.match(r"[A-Z]+", outcode).group(0)


def _load_postcode_table() -> pa.Table:
    """Every (outcode, incode) of England and Wales, read from uk-postcodes-parsing and cached."""
    version = metadata.version("uk-postcodes-parsing")
    path = _cache_dir() / f"postcodes-{version}.arrow"
    if path.exists():
        with pa.memory_map(str(path)) as source:
            return pa.ipc.open_file(source).read_all()
    areas = _read_areas()
    index = importlib.import_module("uk_postcodes_parsing.outcodes.index")
    outcodes, incodes = [], []
    for outcode in index.AVAILABLE_OUTCODES:
        if _area_of(outcode) not in areas or _NON_GEOGRAPHIC_DISTRICT.search(outcode):
            continue
        module = importlib.import_module(f"uk_postcodes_parsing.outcodes.{outcode.lower()}")
        units = sorted(module.INCODES)
        outcodes += [outcode] * len(units)
        incodes += units
    table = pa.table({"outcode": outcodes, "incode": incodes})
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f".{os.getpid()}.tmp")
    with pa.OSFile(str(partial), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)
    partial.replace(path)
    return table


@dataclass(frozen=True)
class World:
    """Postcode units sorted by area then outcode, so every area and outcode is a contiguous range."""

    postcodes: pa.StringArray  # normal form "SW1A 1AA"
    postcode_outcode: np.ndarray  # outcode id of each postcode
    outcodes: pa.StringArray
    outcode_start: np.ndarray
    outcode_count: np.ndarray
    outcode_area: np.ndarray  # area id of each outcode
    area_start: np.ndarray  # first postcode of each area
    area_count: np.ndarray
    area_towns: pa.StringArray
    postcode_street: np.ndarray  # index into ``streets``
    streets: pa.StringArray
    outcode_locality: pa.StringArray
    practice_codes: pa.StringArray
    practice_names: pa.StringArray
    practice_addresses: pa.StringArray
    practice_postcodes: pa.StringArray
    outcode_practice_start: np.ndarray  # practices are sorted by outcode too
    outcode_practice_count: np.ndarray
    area_practice_start: np.ndarray
    area_practice_count: np.ndarray

    @property
    def size(self) -> int:
        return len(self.postcodes)

    def postcodes_near(self, postcode: np.ndarray, u: np.ndarray, scope: np.ndarray) -> np.ndarray:
        """Another postcode for each input: scope 0 same outcode, 1 same area, 2 anywhere."""
        outcode = self.postcode_outcode[postcode]
        area = self.outcode_area[outcode]
        start = np.select([scope == 0, scope == 1], [self.outcode_start[outcode], self.area_start[area]], 0)
        count = np.select([scope == 0, scope == 1], [self.outcode_count[outcode], self.area_count[area]], self.size)
        return start + (u * count).astype(np.int64)

    def practices_near(self, postcode: np.ndarray, u: np.ndarray, same_outcode: np.ndarray) -> np.ndarray:
        outcode = self.postcode_outcode[postcode]
        area = self.outcode_area[outcode]
        in_outcode = self.outcode_practice_count[outcode] > 0
        use_outcode = same_outcode & in_outcode
        start = np.where(use_outcode, self.outcode_practice_start[outcode], self.area_practice_start[area])
        count = np.where(use_outcode, self.outcode_practice_count[outcode], self.area_practice_count[area])
        return start + (u * count).astype(np.int64)

    def town_of(self, postcode: np.ndarray) -> pa.Array:
        return self.area_towns.take(pa.array(self.outcode_area[self.postcode_outcode[postcode]]))

    def street_address(self, postcode: np.ndarray, house_number: np.ndarray) -> pa.Array:
        streets = self.streets.take(pa.array(self.postcode_street[postcode]))
        return pc.binary_join_element_wise(pc.cast(pa.array(house_number), pa.string()), streets, " ")


def _ranges(sorted_ids: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    count = np.bincount(sorted_ids, minlength=size)
    start = np.concatenate([[0], np.cumsum(count)[:-1]])
    return start.astype(np.int64), count.astype(np.int64)


@cache
def load_world() -> World:
    areas = _read_areas()
    table = _load_postcode_table()
    encoded = table.column("outcode").combine_chunks().dictionary_encode()
    incode_col = table.column("incode").combine_chunks()
    area_names = sorted(areas)
    area_id = {a: i for i, a in enumerate(area_names)}
    seen_outcodes = encoded.dictionary.to_pylist()
    unique_outcodes = sorted(seen_outcodes, key=lambda o: (area_id[_area_of(o)], len(o), o))
    outcode_id = {o: i for i, o in enumerate(unique_outcodes)}
    remap = np.array([outcode_id[o] for o in seen_outcodes], dtype=np.int32)
    postcode_outcode = remap[encoded.indices.to_numpy()]
    order = np.argsort(postcode_outcode, kind="stable")
    postcode_outcode = postcode_outcode[order]
    outcodes = pa.array(unique_outcodes, pa.string())
    postcodes = pc.binary_join_element_wise(
        outcodes.take(pa.array(postcode_outcode)), incode_col.take(pa.array(order)), " "
    )
    outcode_area = np.array([area_id[_area_of(o)] for o in unique_outcodes], dtype=np.int32)
    outcode_start, outcode_count = _ranges(postcode_outcode, len(unique_outcodes))
    area_start, area_count = _ranges(outcode_area[postcode_outcode], len(area_names))

    rng = np.random.default_rng(WORLD_SEED)
    words = _STREET_WORDS.replace("ST ", "ST_").split()
    street_names = [f"{w.replace('_', ' ')} {t}" for t in _STREET_TYPES for w in words]
    type_weight = np.repeat(np.array(list(_STREET_TYPES.values()), float), len(words))
    postcode_street = rng.choice(len(street_names), size=len(postcodes), p=type_weight / type_weight.sum())
    localities = [p + s for p in _LOCALITY_PREFIXES for s in _LOCALITY_SUFFIXES]
    outcode_locality = pa.array(rng.choice(localities, size=len(unique_outcodes)).tolist(), pa.string())
    streets = pa.array(street_names, pa.string())
    area_towns = pa.array([areas[a][0] for a in area_names], pa.string())

    practices = _make_practices(
        rng,
        outcode_count,
        outcode_start,
        outcode_area,
        area_names,
        areas,
        postcodes,
        postcode_street,
        street_names,
        outcode_locality,
    )
    practice_outcode = practices.pop("outcode")
    outcode_practice_start, outcode_practice_count = _ranges(practice_outcode, len(unique_outcodes))
    area_practice_start, area_practice_count = _ranges(outcode_area[practice_outcode], len(area_names))
    return World(
        postcodes=postcodes,
        postcode_outcode=postcode_outcode,
        outcodes=outcodes,
        outcode_start=outcode_start,
        outcode_count=outcode_count,
        outcode_area=outcode_area,
        area_start=area_start,
        area_count=area_count,
        area_towns=area_towns,
        postcode_street=postcode_street,
        streets=streets,
        outcode_locality=outcode_locality,
        outcode_practice_start=outcode_practice_start,
        outcode_practice_count=outcode_practice_count,
        area_practice_start=area_practice_start,
        area_practice_count=area_practice_count,
        **practices,
    )


def _make_practices(
    rng,
    outcode_count,
    outcode_start,
    outcode_area,
    area_names,
    areas,
    postcodes,
    postcode_street,
    street_names,
    outcode_locality,
) -> dict:
    per_outcode = np.floor(outcode_count / POSTCODES_PER_PRACTICE + rng.random(len(outcode_count))).astype(int)
    practice_outcode = np.repeat(np.arange(len(outcode_count)), per_outcode)
    n = len(practice_outcode)
    postcode = outcode_start[practice_outcode] + (rng.random(n) * outcode_count[practice_outcode]).astype(int)
    surnames = "SMITH PATEL JONES KHAN WILLIAMS BROWN TAYLOR SHAH EVANS MURRAY REID CHAUDHRY OKAFOR HUGHES"
    letters = [areas[area_names[outcode_area[o]]][1] for o in practice_outcode]
    serial: dict[str, int] = {}
    codes, names, addresses = [], [], []
    for i in range(n):
        letter = letters[i]
        serial[letter] = serial.get(letter, 81000) + 1 + int(rng.integers(0, 3))
        codes.append(f"{letter}{serial[letter]:05d}")
        street = street_names[postcode_street[postcode[i]]]
        template = _PRACTICE_TEMPLATES[rng.integers(len(_PRACTICE_TEMPLATES))]
        names.append(
            template.format(
                street=street,
                locality=outcode_locality[practice_outcode[i]].as_py(),
                tree=_TREES[rng.integers(len(_TREES))],
                surname=surnames.split()[rng.integers(14)],
            )
        )
        town = areas[area_names[outcode_area[practice_outcode[i]]]][0]
        addresses.append(f"{rng.integers(1, 120)} {street}, {town}")
    return {
        "outcode": practice_outcode,
        "practice_codes": pa.array(codes, pa.string()),
        "practice_names": pa.array(names, pa.string()),
        "practice_addresses": pa.array(addresses, pa.string()),
        "practice_postcodes": postcodes.take(pa.array(postcode)),
    }
