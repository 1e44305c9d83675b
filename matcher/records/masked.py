"""An index's records as they are held in memory: masked row by row (``matcher.protection.masking``), unmasked
only for the rows a trace reads.

Every per-record column of ``Entities`` is masked by row, and every list's offsets and values by their positions,
so that which rows share a name, a postcode or a date of birth, who is restricted, and how many names or addresses
anyone has had, cannot be read from memory without the key. NHS number tokens are left as they are: each is one
person's alone, and keyed, so they neither group rows nor test guesses. The distinct-value tables (``NameTable``,
``PostcodeTable``) are shared with the unmasked rows a ``take`` returns, so positions read from it index the same
tables.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, fields

import numpy as np

from matcher.protection.masking import RowMask
from matcher.records.entities import Entities, NameTable, PostcodeTable
from matcher.records.ragged import Ragged, expand_ranges

_UNMASKED = ("names", "postcodes", "nhs_number", "malformed", "features")
_COLUMN_TYPES = {f.name: f.type for f in fields(Entities) if f.name not in _UNMASKED}


@dataclass
class MaskedEntities:
    names: NameTable
    postcodes: PostcodeTable
    nhs_number: np.ndarray
    columns: dict[str, np.ndarray]  # per record, masked: "given", "date_of_birth", ...
    lists: dict[str, Ragged]  # offsets and values masked: "other_given", ...
    features: dict[str, dict[str, np.ndarray]]  # each part masked as a column or a list's values
    dtypes: dict[str, np.dtype]  # each masked array's own type, by its name in ``arrays()``
    mask: RowMask = field(repr=False)
    malformed: Counter = field(default_factory=Counter)

    def __len__(self) -> int:
        return len(self.nhs_number)

    @classmethod
    def of(cls, entities: Entities, mask: RowMask) -> MaskedEntities:
        columns, lists, dtypes = {}, {}, {}
        for name in _COLUMN_TYPES:
            value = getattr(entities, name)
            if isinstance(value, Ragged):
                lists[name] = Ragged(
                    mask.mask(f"{name}.offsets", value.offsets), mask.mask(f"{name}.values", value.values)
                )
                dtypes[f"{name}.offsets"], dtypes[f"{name}.values"] = value.offsets.dtype, value.values.dtype
            else:
                columns[name] = mask.mask(name, value)
                dtypes[name] = value.dtype
        features = {}
        for feature, parts in entities.features.items():
            features[feature] = {}
            for part, array in parts.items():
                name = f"features.{feature}.{part}"
                features[feature][part] = mask.mask(name, array)
                dtypes[name] = array.dtype
        return cls(
            names=entities.names,
            postcodes=entities.postcodes,
            nhs_number=entities.nhs_number,
            columns=columns,
            lists=lists,
            features=features,
            dtypes=dtypes,
            mask=mask,
            malformed=entities.malformed,
        )

    @classmethod
    def from_arrays(
        cls,
        arrays: dict[str, np.ndarray],
        names: NameTable,
        postcodes: PostcodeTable,
        dtypes: dict[str, str],
        mask: RowMask,
        malformed: Counter,
    ) -> MaskedEntities:
        """From what ``arrays()`` gave (the masked arrays as saved) and the types ``dtypes`` recorded."""
        columns, lists, features = {}, {}, {}
        for name in _COLUMN_TYPES:
            if f"{name}.offsets" in arrays:
                lists[name] = Ragged(arrays[f"{name}.offsets"], arrays[f"{name}.values"])
            else:
                columns[name] = arrays[name]
        for name, array in arrays.items():
            if name.startswith("features."):
                feature, part = name[len("features.") :].split(".", 1)
                features.setdefault(feature, {})[part] = array
        return cls(
            names=names,
            postcodes=postcodes,
            nhs_number=arrays["nhs_number"],
            columns=columns,
            lists=lists,
            features=features,
            dtypes={k: np.dtype(v) for k, v in dtypes.items()},
            mask=mask,
            malformed=malformed,
        )

    def arrays(self) -> dict[str, np.ndarray]:
        """Every array, by name, as held (masked): for saving."""
        out = {"nhs_number": self.nhs_number, **self.columns}
        for name, ragged in self.lists.items():
            out[f"{name}.offsets"], out[f"{name}.values"] = ragged.offsets, ragged.values
        for feature, parts in self.features.items():
            out |= {f"features.{feature}.{part}": array for part, array in parts.items()}
        return out

    def take(self, rows: np.ndarray) -> Entities:
        """These rows, unmasked, as ``Entities`` of ``len(rows)`` rows over the same name and postcode tables."""
        rows = np.asarray(rows, dtype=np.int64)
        values = {}
        for name, masked in self.columns.items():
            values[name] = self.mask.unmask(name, masked[rows], self.dtypes[name], rows)
        for name, ragged in self.lists.items():
            values[name] = self._take_list(name, ragged, rows)
        features = {}
        for feature, parts in self.features.items():
            features[feature] = {}
            for part, array in parts.items():
                if part.endswith(".offsets"):
                    continue
                name = f"features.{feature}.{part}"
                if part.endswith(".values"):
                    stem = part[: -len(".values")]
                    taken = self._take_list(f"features.{feature}.{stem}", Ragged(parts[f"{stem}.offsets"], array), rows)
                    features[feature][f"{stem}.offsets"] = taken.offsets
                    features[feature][part] = taken.values
                else:
                    features[feature][part] = self.mask.unmask(name, array[rows], self.dtypes[name], rows)
        return Entities(
            names=self.names,
            postcodes=self.postcodes,
            nhs_number=self.nhs_number[rows],
            malformed=self.malformed,
            features=features,
            **values,
        )

    def unmasked(self) -> Entities:
        """All rows unmasked: for training on an index already built (it holds the whole index in clear while it
        runs, as building does)."""
        return self.take(np.arange(len(self)))

    def _take_list(self, name: str, ragged: Ragged, rows: np.ndarray) -> Ragged:
        """Rows of the list column ``name`` (its arrays masked as "<name>.offsets" and "<name>.values")."""
        offsets_type = self.dtypes[f"{name}.offsets"]
        starts = self.mask.unmask(f"{name}.offsets", ragged.offsets[rows], offsets_type, rows).astype(np.int64)
        ends = self.mask.unmask(f"{name}.offsets", ragged.offsets[rows + 1], offsets_type, rows + 1)
        lengths = ends.astype(np.int64) - starts
        _, positions = expand_ranges(starts, lengths)
        offsets = np.zeros(len(rows) + 1, dtype=offsets_type)
        np.cumsum(lengths, out=offsets[1:])
        values = self.mask.unmask(f"{name}.values", ragged.values[positions], self.dtypes[f"{name}.values"], positions)
        return Ragged(offsets, values)
