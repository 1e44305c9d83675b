"""The searchable index: normalised records, their blocking keys, name frequencies and the disclosure payload.

Saved as a directory of ``.npy`` arrays (opened memory-mapped, so loading tens of millions of records costs
seconds and pages come in as traces touch them), an Arrow IPC file of distinct names and postcodes, an Arrow IPC
file of the disclosure payload (read one row at a time, for the record being disclosed), a manifest, and once
trained, the model.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, fields, replace
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.ipc as ipc

from matcher.blocking import DEFAULT_RULES, BlockingIndex, BlockingRule
from matcher.entities import Entities, NameTable, PostcodeTable, Ragged
from matcher.model import FellegiSunterModel
from matcher.tokens import Tokeniser

FORMAT_VERSION = 3
DISCLOSURE_FIELDS = (
    "address_line_1",
    "address_line_2",
    "town",
    "postcode",
    "registration_date",
    "gp_practice_code",
    "gp_practice_name",
    "gp_practice_address",
    "gp_practice_postcode",
)
"""What a trace may disclose, and all the payload holds besides the NHS number (for internal evaluation)."""
_PAYLOAD_COLUMNS = ("nhs_number", *DISCLOSURE_FIELDS)
_PAGE = 4096


@dataclass
class Index:
    records: Entities
    blocking: BlockingIndex
    term_frequency: dict[str, np.ndarray]  # per name position: share of records with it as given/family name
    restricted: np.ndarray  # bool
    payload: pa.Table
    rules: tuple[BlockingRule, ...]
    tokeniser: Tokeniser
    model: FellegiSunterModel | None = None

    def __len__(self) -> int:
        return len(self.records)

    @classmethod
    def build(
        cls,
        population: pa.Table,
        rules: tuple[BlockingRule, ...] = DEFAULT_RULES,
        tokeniser: Tokeniser | None = None,
    ) -> Index:
        tokeniser = tokeniser or Tokeniser()
        records = Entities.from_population(population, tokeniser)
        n = len(records)
        names = len(records.names.strings)
        frequency = {
            "given_name": np.bincount(records.given[records.given >= 0], minlength=names) / max(n, 1),
            "family_name": np.bincount(records.family[records.family >= 0], minlength=names) / max(n, 1),
        }
        return cls(
            records=records,
            blocking=BlockingIndex.build(records, rules),
            term_frequency={k: v.astype(np.float32) for k, v in frequency.items()},
            restricted=population.column("restricted").fill_null(False).to_numpy(zero_copy_only=False),
            payload=_compact_payload(population.select(list(_PAYLOAD_COLUMNS))),
            rules=rules,
            tokeniser=tokeniser,
        )

    def term_frequencies_for(self, records: np.ndarray) -> dict[str, np.ndarray]:
        """Per record row: the index share of its given name and of its family name."""
        return {
            "given_name": _at(self.term_frequency["given_name"], self.records.given[records]),
            "family_name": _at(self.term_frequency["family_name"], self.records.family[records]),
        }

    def warm(self) -> Index:
        """Read one byte of every page of the index, so that the first traces of a service do not each pay for
        mapping the pages they touch (at ten million records, a second at start instead of ~0.2 ms on each of
        the first tens of thousands of traces). Returns self."""
        buffers = [np.asarray(a).reshape(-1).view(np.uint8) for a in self._arrays().values() if a.size]
        for column in self.payload.columns:
            for chunk in column.chunks:
                arrays = [chunk, chunk.dictionary] if pa.types.is_dictionary(chunk.type) else [chunk]
                buffers += [np.frombuffer(b, dtype=np.uint8) for a in arrays for b in a.buffers() if b is not None]
        for buffer in buffers:
            int(buffer[::_PAGE].sum())
        return self

    def with_model(self, model: FellegiSunterModel) -> Index:
        return replace(self, model=model)

    def save(self, directory: Path | str) -> None:
        """Write to a sibling directory, then swap it in: never half an index, and safe onto itself even while
        this index is memory-mapped from there."""
        directory = Path(directory)
        staging = directory.with_name(f".{directory.name}.{os.getpid()}.new")
        if staging.exists():
            shutil.rmtree(staging)
        self._write(staging)
        if directory.exists():
            retired = directory.with_name(f".{directory.name}.{os.getpid()}.old")
            directory.rename(retired)
            staging.rename(directory)
            shutil.rmtree(retired)
        else:
            staging.rename(directory)

    def _write(self, directory: Path) -> None:
        arrays = directory / "arrays"
        arrays.mkdir(parents=True, exist_ok=True)
        for name, array in self._arrays().items():
            np.save(arrays / f"{name}.npy", np.ascontiguousarray(array))
        strings = pa.table(
            {"value": pa.array(self.records.names.strings + list(self.records.postcodes.strings), pa.string())}
        )
        _write_ipc(directory / "strings.arrow", strings)
        _write_ipc(directory / "payload.arrow", self.payload)
        manifest = {
            "format_version": FORMAT_VERSION,
            "records": len(self),
            "names": len(self.records.names.strings),
            "postcodes": len(self.records.postcodes.strings),
            "rules": [
                {"name": r.name, "components": list(r.components), "max_block_size": r.max_block_size}
                for r in self.rules
            ],
            "malformed": dict(self.records.malformed),
        }
        (directory / "manifest.json").write_text(json.dumps(manifest, indent=1))
        if self.model is not None:
            self.model.save(directory / "model.json")

    def _arrays(self) -> dict[str, np.ndarray]:
        out = {f"records.{k}": v for k, v in self.records.arrays().items()}
        for prefix, table in (("names", self.records.names), ("postcodes", self.records.postcodes)):
            for f in fields(table):
                value = getattr(table, f.name)
                if isinstance(value, np.ndarray):
                    out[f"{prefix}.{f.name}"] = value
                elif isinstance(value, Ragged):
                    out[f"{prefix}.{f.name}.offsets"] = value.offsets
                    out[f"{prefix}.{f.name}.values"] = value.values
        out["blocking.directory"] = self.blocking.directory
        out["blocking.residuals"] = self.blocking.residuals
        out["blocking.rows"] = self.blocking.rows
        out["restricted"] = self.restricted
        for name, frequency in self.term_frequency.items():
            out[f"term_frequency.{name}"] = frequency
        return out

    @classmethod
    def load(cls, directory: Path | str, tokeniser: Tokeniser | None = None) -> Index:
        directory = Path(directory)
        manifest_path = directory / "manifest.json"
        if not manifest_path.exists():
            raise FileNotFoundError(f"{directory} is not an index directory (no manifest.json)")
        manifest = json.loads(manifest_path.read_text())
        if manifest.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"index format {manifest.get('format_version')} is not {FORMAT_VERSION}: rebuild it")
        arrays = {p.stem: _open_array(p) for p in (directory / "arrays").glob("*.npy")}
        strings = _read_ipc(directory / "strings.arrow").column("value")
        n_names = manifest["names"]
        name_strings = strings.slice(0, n_names).to_pylist()
        postcode_strings = strings.slice(n_names).combine_chunks()

        def ragged(prefix: str) -> Ragged:
            return Ragged(arrays[f"{prefix}.offsets"], arrays[f"{prefix}.values"])

        def table_args(prefix: str, table_cls: type) -> dict:
            args = {}
            for f in fields(table_cls):
                if f.name == "strings":
                    continue
                key = f"{prefix}.{f.name}"
                args[f.name] = ragged(key) if f"{key}.offsets" in arrays else arrays[key]
            return args

        names = NameTable(strings=name_strings, **table_args("names", NameTable))
        # Postcode strings are only read for display: keep them in Arrow rather than as a million Python strings.
        postcodes = PostcodeTable(strings=postcode_strings, **table_args("postcodes", PostcodeTable))
        record_args = {}
        for f in fields(Entities):
            if f.name in ("names", "postcodes", "malformed"):
                continue
            key = f"records.{f.name}"
            record_args[f.name] = ragged(key) if f"{key}.offsets" in arrays else arrays[key]
        records = Entities(names=names, postcodes=postcodes, **record_args)
        model_path = directory / "model.json"
        return cls(
            records=records,
            blocking=BlockingIndex(arrays["blocking.directory"], arrays["blocking.residuals"], arrays["blocking.rows"]),
            term_frequency={k.split(".", 1)[1]: v for k, v in arrays.items() if k.startswith("term_frequency.")},
            restricted=arrays["restricted"],
            payload=_read_ipc(directory / "payload.arrow"),
            rules=tuple(
                BlockingRule(r["name"], tuple(r["components"]), r.get("max_block_size")) for r in manifest["rules"]
            ),
            tokeniser=tokeniser or Tokeniser(),
            model=FellegiSunterModel.load(model_path) if model_path.exists() else None,
        )


def _compact_payload(payload: pa.Table) -> pa.Table:
    """One chunk (taking a row from a table of many chunks costs milliseconds, from one chunk microseconds), and
    repetitive text (towns, GP practices) dictionary-encoded: a quarter of the bytes per record."""
    columns = []
    for column in payload.combine_chunks().columns:
        if pa.types.is_string(column.type) and len(column) and pc.count_distinct(column).as_py() < len(column) / 10:
            column = pc.dictionary_encode(column)
        columns.append(column)
    return pa.table(columns, names=payload.column_names).combine_chunks()


def _open_array(path: Path) -> np.ndarray:
    # Small arrays are read outright: an empty array cannot be memory-mapped at all.
    if path.stat().st_size < 65_536:
        return np.load(path)
    # A plain ndarray over the mapping: np.memmap's own indexing costs microseconds per call, on every request.
    return np.asarray(np.load(path, mmap_mode="r"))


def _at(values: np.ndarray, positions: np.ndarray) -> np.ndarray:
    out = np.zeros(len(positions), dtype=np.float64)
    present = positions >= 0
    out[present] = values[positions[present]]
    return out


def _write_ipc(path: Path, table: pa.Table) -> None:
    with pa.OSFile(str(path), "wb") as sink, ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)


def _read_ipc(path: Path) -> pa.Table:
    return ipc.open_file(pa.memory_map(str(path), "r")).read_all().combine_chunks()
