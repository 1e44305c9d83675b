"""Columnar, normalised people: the index's records and a batch of trace requests share one representation.

Names and postcodes are held once in a table of distinct values (a ``NameTable``, a ``PostcodeTable``) with their
derived features (tokens, phonetic codes, parts of a compound name, postcode sector/district/area); people refer to
them by position. Multi-valued fields (other given names, previous family names, previous postcodes) are CSR
lists: ``offsets`` of length n + 1 into ``values``. Because both sides look the same, a comparison can score a
request against records and, for estimating u, a record against another record.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import Protocol, runtime_checkable

import jellyfish
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from matcher.contract.normalise import (
    name_parts,
    normalise_name,
    normalise_nhs_number,
    normalise_sex,
    parse_date_of_birth,
    parse_postcode,
    postcode_text,
    split_given_names,
)
from matcher.contract.request import REQUEST_FIELDS, Requests, TraceRequest
from matcher.protection.bloom import BloomEncoder
from matcher.protection.tokens import Tokeniser
from matcher.records.ragged import Ragged


@dataclass
class NameTable:
    """Distinct normalised names and what comparisons and blocking need of each.

    Every per-name array has one entry more than ``strings``: the last is MISSING (length 0), so that position -1,
    a missing name, reads as missing without a mask."""

    strings: list[str]
    token: np.ndarray  # uint64: the name itself
    compact: np.ndarray  # uint64: the name without hyphens (SMITH-JONES and SMITHJONES meet here)
    soundex: np.ndarray  # uint64 token of its Soundex code (blocking, as the MPS trace does)
    metaphone: np.ndarray  # uint64 token of its Metaphone code (the phonetic comparison level)
    initial: np.ndarray  # uint64 token of its first letter
    length: np.ndarray  # uint16
    parts: Ragged  # positions (in this table) of the parts of a compound name
    # Encoded mode: each name's keyed, diffused Bloom filter (matcher.protection.bloom), packed; the strings are then
    # not kept in an index.
    clk: np.ndarray | None = None

    @classmethod
    def build(cls, strings: list[str], tokeniser: Tokeniser, encoder: BloomEncoder | None = None) -> NameTable:
        """Features of each name; the parts of compound names join the table so they have features too."""
        strings = list(strings)
        position = {s: i for i, s in enumerate(strings)}
        part_lists = []
        for s in list(strings):
            parts = []
            for part in name_parts(s):
                if part not in position:
                    position[part] = len(strings)
                    strings.append(part)
                parts.append(position[part])
            part_lists.append(parts)
        part_lists.extend([] for _ in range(len(strings) - len(part_lists)))
        return cls(
            strings=strings,
            token=tokeniser.tokens([*strings, None]),
            compact=tokeniser.tokens([*(s.replace("-", "") for s in strings), None]),
            soundex=tokeniser.tokens([*(f"sdx:{jellyfish.soundex(s.replace('-', ''))}" for s in strings), None]),
            metaphone=tokeniser.tokens([*(f"mph:{jellyfish.metaphone(s.replace('-', ''))}" for s in strings), None]),
            initial=tokeniser.tokens([*(f"ini:{s[0]}" for s in strings), None]),
            length=np.fromiter((*(len(s) for s in strings), 0), dtype=np.uint16, count=len(strings) + 1),
            parts=Ragged.from_lists(part_lists),
            clk=None if encoder is None else encoder.encode([*strings, None]),
        )


@dataclass
class PostcodeTable:
    """Distinct postcodes (or outward codes) with tokens of each level; MISSING where a level is unknown. As in
    ``NameTable``, each token array ends with a MISSING entry for position -1."""

    strings: list[str]
    unit: np.ndarray
    sector: np.ndarray
    district: np.ndarray
    area: np.ndarray
    # A postcode that is not a UK one, as its normalised text (MISSING for one that parses): compared whole, as
    # the text it is, rather than dropped.
    text: np.ndarray

    @classmethod
    def build(cls, strings: list[str], tokeniser: Tokeniser) -> PostcodeTable:
        parsed = [parse_postcode(s) for s in strings]
        return cls(
            strings=strings,
            unit=tokeniser.tokens([*(p.unit if p else None for p in parsed), None]),
            sector=tokeniser.tokens([*(f"sec:{p.sector}" if p and p.sector else None for p in parsed), None]),
            district=tokeniser.tokens([*(f"dis:{p.district}" if p else None for p in parsed), None]),
            area=tokeniser.tokens([*(f"are:{p.area}" if p else None for p in parsed), None]),
            text=tokeniser.tokens([*(None if p else f"txt:{s}" for s, p in zip(strings, parsed, strict=True)), None]),
        )


@runtime_checkable
class FeatureBuilder(Protocol):
    """A derived feature column: arrays computed from one input column, alike for the index and for requests.

    The name and postcode columns every stage reads are built in, below; a comparison of some other field (an
    address line, say) declares its column as a FeatureBuilder, and records of both sides then carry its arrays
    in ``Entities.features[name]`` (a Ragged part as ``"<part>.offsets"`` and ``"<part>.values"``)."""

    name: str
    source: str  # the column of the population and of requests it is computed from
    # The population's column of previous addresses (a list of structs with a ``source`` field) the record's side
    # is also built from, or None; requests have no history.
    history: str | None

    def build(
        self, values: Sequence[str | None], tokeniser: Tokeniser, history: Sequence[Sequence[dict] | None] | None = None
    ) -> dict[str, np.ndarray]: ...


@dataclass
class Entities:
    """People, one row each, in the normalised columnar form every later stage reads."""

    names: NameTable
    postcodes: PostcodeTable
    given: np.ndarray  # int32 position in names, -1 missing
    other_given: Ragged
    family: np.ndarray  # int32
    previous_family: Ragged
    date_of_birth: np.ndarray  # int32 YYYYMMDD as typed (may be an impossible date), 0 missing
    date_of_birth_valid: np.ndarray  # bool
    sex: np.ndarray  # int8: 0 unknown, 1 male, 2 female
    postcode: np.ndarray  # int32 position in postcodes, -1 missing
    previous_postcodes: Ragged
    nhs_number: np.ndarray  # uint64 token, MISSING when absent
    malformed: Counter = field(default_factory=Counter)
    features: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)  # derived columns, by name

    def __len__(self) -> int:
        return len(self.family)

    @classmethod
    def from_columns(
        cls,
        tokeniser: Tokeniser,
        *,
        given_name: Sequence[str | None],
        other_given_names: Sequence[str | None],
        family_name: Sequence[str | None],
        date_of_birth: Sequence[object],
        sex: Sequence[str | None],
        postcode: Sequence[str | None],
        nhs_number: Sequence[str | None],
        previous_family_names: Sequence[Sequence[str] | None] | None = None,
        previous_postcodes: Sequence[Sequence[str] | None] | None = None,
        encoder: BloomEncoder | None = None,
        features: Sequence[FeatureBuilder] = (),
        sources: Mapping[str, Sequence[str | None]] | None = None,
        histories: Mapping[str, Sequence[Sequence[dict] | None]] | None = None,
    ) -> Entities:
        """Normalise raw columns; malformed values become missing and are counted in ``malformed``. ``features``
        are built from their source columns in ``sources`` (and their history columns in ``histories``)."""
        # Values repeat across rows (a national index has ~40k surnames): each is normalised once per call. The
        # caches live as long as the call, so no request's names stay behind in the process.
        normalise = functools.cache(normalise_name)
        split_given = functools.cache(split_given_names)
        parse = functools.cache(parse_postcode)
        n = len(family_name)
        malformed: Counter = Counter()
        names = _Interner()
        postcodes = _Interner()

        given = _intern_column(given_name, normalise, names, "given_name", malformed)
        family = _intern_column(family_name, normalise, names, "family_name", malformed)
        other = Ragged.from_lists([[names.add(x) for x in split_given(v)] for v in other_given_names])
        previous_family = Ragged.from_lists(
            [[names.add(x) for x in map(normalise, v or ()) if x] for v in (previous_family_names or [None] * n)]
        )

        def as_postcode(value: str | None) -> str | None:
            parsed = parse(value)
            return parsed.text if parsed else postcode_text(value)

        code = _intern_column(postcode, as_postcode, postcodes, "postcode", malformed)
        # Not a UK postcode: kept as text (above), and still counted as malformed.
        malformed["postcode"] += sum(1 for v in postcode if v is not None and parse(v) is None and postcode_text(v))
        previous_codes = Ragged.from_lists(
            [[postcodes.add(x) for x in map(as_postcode, v or ()) if x] for v in (previous_postcodes or [None] * n)]
        )

        dob = np.zeros(n, dtype=np.int32)
        dob_valid = np.zeros(n, dtype=bool)
        for i, value in enumerate(date_of_birth):
            parsed = parse_date_of_birth(value)
            if parsed is None:
                if value is not None:
                    malformed["date_of_birth"] += 1
                continue
            dob[i], dob_valid[i] = parsed
            if not parsed[1]:
                malformed["date_of_birth_impossible"] += 1

        nhs_text = [normalise_nhs_number(v) for v in nhs_number]
        malformed["nhs_number"] += sum(1 for raw, v in zip(nhs_number, nhs_text, strict=True) if raw and not v)
        sexes = np.fromiter((normalise_sex(v) for v in sex), dtype=np.int8, count=n)
        sources, histories = sources or {}, histories or {}
        return cls(
            names=NameTable.build(names.values, tokeniser, encoder),
            postcodes=PostcodeTable.build(postcodes.values, tokeniser),
            given=given,
            other_given=other,
            family=family,
            previous_family=previous_family,
            date_of_birth=dob,
            date_of_birth_valid=dob_valid,
            sex=sexes,
            postcode=code,
            previous_postcodes=previous_codes,
            nhs_number=nhs_number_tokens(nhs_text, tokeniser),
            malformed=+malformed,
            features={
                f.name: f.build(sources.get(f.source) or [None] * n, tokeniser, histories.get(f.history or ""))
                for f in features
            },
        )

    @classmethod
    def from_population(
        cls,
        population: pa.Table,
        tokeniser: Tokeniser,
        encoder: BloomEncoder | None = None,
        features: Sequence[FeatureBuilder] = (),
    ) -> Entities:
        previous = population.column("previous_addresses").combine_chunks()
        previous_postcodes = pa.ListArray.from_arrays(
            previous.offsets, pc.struct_field(previous.flatten(), "postcode")
        ).to_pylist()
        return cls.from_columns(
            tokeniser,
            given_name=population.column("given_name").to_pylist(),
            other_given_names=population.column("other_given_names").to_pylist(),
            family_name=population.column("family_name").to_pylist(),
            date_of_birth=population.column("date_of_birth").to_pylist(),
            sex=population.column("sex").to_pylist(),
            postcode=population.column("postcode").to_pylist(),
            nhs_number=population.column("nhs_number").to_pylist(),
            previous_family_names=population.column("previous_family_names").to_pylist(),
            previous_postcodes=previous_postcodes,
            encoder=encoder,
            features=features,
            sources={f.source: population.column(f.source).to_pylist() for f in features},
            histories={f.history: population.column(f.history).to_pylist() for f in features if f.history},
        )

    @classmethod
    def from_requests(
        cls,
        requests: Requests,
        tokeniser: Tokeniser,
        encoder: BloomEncoder | None = None,
        features: Sequence[FeatureBuilder] = (),
    ) -> tuple[Entities, list[str | None]]:
        """Normalised requests and their ids (None where a request has none); with an encoder (encoded mode), names
        are encoded at this boundary too."""
        wanted = (*REQUEST_FIELDS, "request_id")
        if isinstance(requests, pa.Table):
            columns = {f: _column(requests, f) for f in wanted}
        else:
            rows = [asdict(r) if isinstance(r, TraceRequest) else r for r in requests]
            columns = {f: [row.get(f) for row in rows] for f in wanted}
        ids = columns.pop("request_id")
        sources = {f.source: columns[f.source] for f in features}
        for compared_as_feature in ("address_line_1", "town"):  # compared only through a column that declares it
            columns.pop(compared_as_feature)
        entities = cls.from_columns(tokeniser, **columns, encoder=encoder, features=features, sources=sources)
        return entities, ids

    def arrays(self) -> dict[str, np.ndarray]:
        """Every array, flattened to name -> ndarray, for saving."""
        out: dict[str, np.ndarray] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, np.ndarray):
                out[f.name] = value
            elif isinstance(value, Ragged):
                out[f"{f.name}.offsets"], out[f"{f.name}.values"] = value.offsets, value.values
        for name, parts in self.features.items():
            out |= {f"features.{name}.{part}": array for part, array in parts.items()}
        return out


def _column(table: pa.Table, name: str) -> list:
    if name not in table.column_names:
        return [None] * table.num_rows
    return table.column(name).to_pylist()


class _Interner:
    """Assigns positions to distinct strings in order of first appearance."""

    def __init__(self) -> None:
        self.positions: dict[str, int] = {}
        self.values: list[str] = []

    def add(self, value: str) -> int:
        position = self.positions.get(value)
        if position is None:
            position = self.positions[value] = len(self.values)
            self.values.append(value)
        return position


def _intern_column(values, normalise, interner: _Interner, name: str, malformed: Counter) -> np.ndarray:
    # Columns repeat values heavily (a national index has ~40k surnames): normalise each distinct raw value once.
    seen: dict[object, int] = {}
    out = np.full(len(values), -1, dtype=np.int32)
    for i, raw in enumerate(values):
        if raw is None:
            continue
        position = seen.get(raw)
        if position is None:
            clean = normalise(raw)
            position = seen[raw] = interner.add(clean) if clean else -1
            if clean is None and str(raw).strip():
                malformed[name] += 1
        elif position == -1 and str(raw).strip():
            malformed[name] += 1
        out[i] = position
    return out


def nhs_number_tokens(normalised: Sequence[str | None], tokeniser: Tokeniser) -> np.ndarray:
    """Tokens of normalised NHS numbers (see ``normalise_nhs_number``), MISSING where there is none."""
    return tokeniser.tokens([f"nhs:{v}" if v else None for v in normalised])
