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

from matcher.protection.masking import RowMask, column_number, with_pads
from matcher.records.entities import Entities, NameTable, PostcodeTable
from matcher.records.ragged import Ragged, expand_ranges

_UNMASKED = ("names", "postcodes", "nhs_number", "malformed", "features")
_MASKED_FIELDS = tuple(f.name for f in fields(Entities) if f.name not in _UNMASKED)


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
        for name in _MASKED_FIELDS:
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
        numbers = [column_number(name) for name in dtypes]
        if len(set(numbers)) != len(numbers):  # two columns under one pad would XOR to their values
            raise ValueError(f"two of the columns {sorted(dtypes)} share a mask number: rename one")
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
        for name in _MASKED_FIELDS:
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
        # Every masked array by the name its pads are made under: per-record columns, and lists (offsets, values).
        columns = {name: masked for name, masked in self.columns.items()}
        lists = {name: ragged for name, ragged in self.lists.items()}
        for feature, parts in self.features.items():
            for part, array in parts.items():
                if part.endswith(".values"):
                    stem = part[: -len(".values")]
                    lists[f"features.{feature}.{stem}"] = Ragged(parts[f"{stem}.offsets"], array)
                elif not part.endswith(".offsets"):
                    columns[f"features.{feature}.{part}"] = array
        # Two passes of the cipher: the columns and the lists' bounds, then the lists' values.
        wanted = [(name, rows) for name in columns]
        wanted += [item for name in lists for item in ((f"{name}.offsets", rows), (f"{name}.offsets", rows + 1))]
        pads = iter(self.mask.pads_of(wanted))
        plain = {name: with_pads(masked[rows], next(pads), self.dtypes[name]) for name, masked in columns.items()}
        bounds = {}
        for name, ragged in lists.items():
            kind = self.dtypes[f"{name}.offsets"]
            starts = with_pads(ragged.offsets[rows], next(pads), kind).astype(np.int64)
            ends = with_pads(ragged.offsets[rows + 1], next(pads), kind).astype(np.int64)
            offsets = np.zeros(len(rows) + 1, dtype=kind)
            np.cumsum(ends - starts, out=offsets[1:])
            bounds[name] = offsets, expand_ranges(starts, ends - starts)[1]
        pads = iter(self.mask.pads_of([(f"{name}.values", positions) for name, (_, positions) in bounds.items()]))
        for name, (offsets, positions) in bounds.items():
            values = with_pads(lists[name].values[positions], next(pads), self.dtypes[f"{name}.values"])
            plain[name] = Ragged(offsets, values)
        features: dict[str, dict[str, np.ndarray]] = {feature: {} for feature in self.features}
        for name in [n for n in plain if n.startswith("features.")]:
            value = plain.pop(name)
            feature, part = name[len("features.") :].split(".", 1)
            if isinstance(value, Ragged):
                features[feature][f"{part}.offsets"], features[feature][f"{part}.values"] = value.offsets, value.values
            else:
                features[feature][part] = value
        return Entities(
            names=self.names,
            postcodes=self.postcodes,
            nhs_number=self.nhs_number[rows],
            malformed=self.malformed,
            features=features,
            **plain,
        )

    def unmasked(self) -> Entities:
        """All rows unmasked: for training on an index already built (it holds the whole index in clear while it
        runs, as building does)."""
        return self.take(np.arange(len(self)))
