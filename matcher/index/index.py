"""The searchable index: normalised records, their blocking keys, name frequencies and the sealed payloads.

NHS numbers and postcodes are held only as keyed tokens (``matcher.protection.tokens``) and inside the sealed
payloads, opened only for the record being disclosed. The records and the restricted flags are masked row by row
in memory (``matcher.records.masked``) from the moment the index is built: a trace unmasks the rows it scores.
Every key is the index's own (``MasterKey.for_index``, from a random id made at build), so no two indexes share a
token. How an index is laid out on disk, every file sealed, is ``matcher.index.storage``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from matcher.blocking import DEFAULT_RULES, BlockingIndex, BlockingRule
from matcher.comparison.library import DEFAULT_COMPARISONS, derived_columns_named
from matcher.decision.decide import standing
from matcher.index.households import shares_a_restricted_address
from matcher.index.storage import index_arrays, read_index, save_index
from matcher.protection.bloom import BloomEncoder
from matcher.protection.keys import IndexKeys, MasterKey, new_index_id
from matcher.protection.masking import RowMask, with_pads
from matcher.protection.payload import SOURCE_COLUMNS, PayloadCipher, ReferenceLists
from matcher.protection.tokens import KeyedHash, Tokeniser
from matcher.records.entities import Entities, FeatureBuilder
from matcher.records.masked import MaskedEntities
from matcher.records.shuffle import shuffle_tables
from matcher.scoring.model import FellegiSunterModel

_PAGE = 4096
RESTRICTED = "restricted"
HOUSEHOLD = "restricted_household"
DECEASED = "deceased"


@dataclass
class Index:
    records: MaskedEntities
    blocking: BlockingIndex
    term_frequency: dict[str, np.ndarray]  # per name position: share of records with it as given/family name
    restricted: np.ndarray  # per record, masked: read it with restricted_at
    household: np.ndarray  # per record, masked: at a restricted person's address (households.py)
    deceased: np.ndarray  # per record, masked: has a date of death
    sealed: pa.BinaryArray  # per record: the payload, encrypted (see matcher.protection.payload)
    reference: ReferenceLists
    rules: tuple[BlockingRule, ...]
    keys: IndexKeys
    tokeniser: Tokeniser
    cipher: PayloadCipher
    model: FellegiSunterModel | None = None
    encoder: BloomEncoder | None = None  # encoded mode: names as keyed Bloom filters, no plaintext at rest

    @property
    def encoded(self) -> bool:
        return self.encoder is not None

    @property
    def key_id(self) -> str:
        return self.keys.key_id

    def __len__(self) -> int:
        return len(self.records)

    @classmethod
    def build(
        cls,
        population: pa.Table | Path,
        key: MasterKey,
        rules: tuple[BlockingRule, ...] = DEFAULT_RULES,
        encoded: bool = False,
        features: Sequence[FeatureBuilder] | None = None,
    ) -> Index:
        """``encoded``: hold no name in clear, in memory either (names as keyed Bloom filters). ``features``:
        derived feature columns some comparison reads besides the built-in ones (by default those of the library's
        default comparisons). ``population`` as a Parquet file's path is read here, so that only its shuffled copy
        is held while the index is built, not both."""
        if features is None:
            features = derived_columns_named(DEFAULT_COMPARISONS)
        if not isinstance(population, pa.Table):
            population = pq.read_table(population)
        keys = key.for_index(new_index_id())
        tokeniser = Tokeniser(keys.tokens)
        cipher = PayloadCipher(keys)
        encoder = BloomEncoder(keys.names) if encoded else None
        rng = np.random.default_rng()  # seeded from the operating system's entropy
        # Rows in a random order: the order of an extract may mean something (by NHS number, by area), and two
        # indexes of one extract would otherwise pair up row by row.
        population = population.take(rng.permutation(population.num_rows))
        sealed, reference = cipher.seal(population.select(list(SOURCE_COLUMNS)))
        records = shuffle_tables(Entities.from_population(population, tokeniser, encoder, features), rng)
        n = len(records)
        names = len(records.names.strings)
        frequency = {
            "given_name": np.bincount(records.given[records.given >= 0], minlength=names) / max(n, 1),
            "family_name": np.bincount(records.family[records.family >= 0], minlength=names) / max(n, 1),
        }
        mask = RowMask(keys.rows)
        restricted = population.column("restricted").fill_null(False).to_numpy(zero_copy_only=False)
        household = shares_a_restricted_address(population)
        deceased = population.column("date_of_death").is_valid().to_numpy(zero_copy_only=False)
        blocking = BlockingIndex.build(records, rules, KeyedHash(keys.blocking), mask)
        if encoded:  # the spelling was needed to build the filters and keys; it is not kept, in memory either
            records = replace(
                records, names=replace(records.names, strings=[]), postcodes=replace(records.postcodes, strings=[])
            )
        return cls(
            records=MaskedEntities.of(records, mask),
            blocking=blocking,
            term_frequency={k: v.astype(np.float32) for k, v in frequency.items()},
            restricted=mask.mask(RESTRICTED, restricted.astype(bool)),
            household=mask.mask(HOUSEHOLD, household),
            deceased=mask.mask(DECEASED, deceased.astype(bool)),
            sealed=sealed,
            reference=reference,
            rules=rules,
            keys=keys,
            tokeniser=tokeniser,
            cipher=cipher,
            encoder=encoder,
        )

    def open_payloads(self, rows: np.ndarray | list[int]) -> list[dict]:
        """Decrypt the payloads of these rows only (NHS number and disclosable fields); TamperedPayloadError if
        one does not authenticate."""
        return [self.cipher.open(self.sealed[row].as_py(), row, self.reference) for row in np.asarray(rows).tolist()]

    def restricted_at(self, rows: np.ndarray) -> np.ndarray:
        """Whether each of these rows is a restricted record."""
        rows = np.asarray(rows, dtype=np.int64)
        return self.records.mask.unmask(RESTRICTED, self.restricted[rows], np.dtype(bool), rows)

    def standing_at(self, rows: np.ndarray) -> np.ndarray:
        """Per row, the outcome a certain match to it is (``matcher.decision.standing``): matched; restricted if the
        record is withheld (restricted, or at a restricted person's address: their household would give it away);
        deceased if the person has died."""
        rows = np.asarray(rows, dtype=np.int64)
        pads = self.records.mask.pads_of([(RESTRICTED, rows), (HOUSEHOLD, rows), (DECEASED, rows)])
        flags = [
            with_pads(column[rows], pad, np.dtype(bool))
            for column, pad in zip((self.restricted, self.household, self.deceased), pads, strict=True)
        ]
        return standing(flags[0] | flags[1], flags[2])

    def term_frequencies_for(self, records: Entities, rows: np.ndarray) -> dict[str, np.ndarray]:
        """Per row of ``records`` (unmasked, as ``self.records.take`` gives them): the index share of its given
        name and of its family name."""
        return {
            "given_name": _at(self.term_frequency["given_name"], records.given[rows]),
            "family_name": _at(self.term_frequency["family_name"], records.family[rows]),
        }

    def warm(self) -> Index:
        """Read one byte of every page of the index, so that the first traces of a service do not each pay for
        faulting in the pages they touch (a loaded index is decrypted into memory, so little is left). Returns
        self."""
        buffers = [np.asarray(a).reshape(-1).view(np.uint8) for a in index_arrays(self).values() if a.size]
        buffers += [np.frombuffer(b, dtype=np.uint8) for b in self.sealed.buffers() if b is not None]
        for buffer in buffers:
            int(buffer[::_PAGE].sum())
        return self

    def with_model(self, model: FellegiSunterModel) -> Index:
        return replace(self, model=model)

    def save(self, directory: Path | str) -> None:
        """Write to a sibling directory, then swap it in: never half an index, and safe onto itself."""
        save_index(self, Path(directory))

    @classmethod
    def load(cls, directory: Path | str, key: MasterKey) -> Index:
        """Read and decrypt an index. OldIndexFormatError for an index of an older format, WrongKeyError unless
        ``key`` is the key it was built (or last rotated) with, DamagedIndexError if a file is missing, truncated,
        altered, or from another index."""
        return cls(**read_index(Path(directory), key))


def _at(values: np.ndarray, positions: np.ndarray) -> np.ndarray:
    out = np.zeros(len(positions), dtype=np.float64)
    present = positions >= 0
    out[present] = values[positions[present]]
    return out
