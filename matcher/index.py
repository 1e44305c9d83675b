"""The searchable index: normalised records, their blocking keys, name frequencies and the disclosure payload.

Saved as a directory of ``.npy`` arrays (opened memory-mapped, so loading tens of millions of records costs
seconds and pages come in as traces touch them), Arrow IPC files of the distinct names, of the sealed payloads
(one AES-GCM ciphertext per record, opened only for the record being disclosed) and of the public reference lists
the payloads point to, a manifest naming the key the index was made with, and once trained, the model. NHS
numbers, dates of birth and postcodes are held only as keyed tokens (``matcher.tokens``) and inside the sealed
payloads; no file holds an address or an NHS number in clear.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, fields, replace
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.ipc as ipc

from matcher.blocking import DEFAULT_RULES, BlockingIndex, BlockingRule
from matcher.encoding import BloomEncoder, DateTokens
from matcher.entities import Entities, NameTable, PostcodeTable, Ragged, nhs_number_tokens
from matcher.keys import MasterKey
from matcher.model import FellegiSunterModel
from matcher.normalise import normalise_nhs_number
from matcher.payload import SOURCE_COLUMNS, PayloadCipher, ReferenceLists, check_key
from matcher.tokens import Tokeniser

FORMAT_VERSION = 4
_PAGE = 4096


@dataclass
class Index:
    records: Entities
    blocking: BlockingIndex
    term_frequency: dict[str, np.ndarray]  # per name position: share of records with it as given/family name
    restricted: np.ndarray  # bool
    sealed: pa.BinaryArray  # per record: the payload, encrypted (see matcher.payload)
    reference: ReferenceLists
    rules: tuple[BlockingRule, ...]
    tokeniser: Tokeniser
    cipher: PayloadCipher
    model: FellegiSunterModel | None = None
    encoder: BloomEncoder | None = None  # encoded mode: names as keyed Bloom filters, no plaintext at rest

    @property
    def encoded(self) -> bool:
        return self.encoder is not None

    @property
    def key_id(self) -> str:
        return self.cipher.key_id

    def __len__(self) -> int:
        return len(self.records)

    @classmethod
    def build(
        cls,
        population: pa.Table,
        key: MasterKey,
        rules: tuple[BlockingRule, ...] = DEFAULT_RULES,
        encoded: bool = False,
    ) -> Index:
        """``encoded``: keep no plaintext name, date of birth, postcode or NHS number in the saved index (names as
        keyed Bloom filters, dates as keyed tokens of year, month and day)."""
        tokeniser = Tokeniser(key.derive("tokens"))
        cipher = PayloadCipher(key)
        encoder = BloomEncoder(key.derive("names")) if encoded else None
        sealed, reference = cipher.seal(population.select(list(SOURCE_COLUMNS)))
        records = Entities.from_population(population, tokeniser, encoder)
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
            sealed=sealed,
            reference=reference,
            rules=rules,
            tokeniser=tokeniser,
            cipher=cipher,
            encoder=encoder,
        )

    def open_payloads(self, rows: np.ndarray | list[int]) -> list[dict]:
        """Decrypt the payloads of these rows only (NHS number and disclosable fields); TamperedPayloadError if
        one does not authenticate."""
        return [self.cipher.open(self.sealed[row].as_py(), row, self.reference) for row in np.asarray(rows).tolist()]

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
        buffers += [np.frombuffer(b, dtype=np.uint8) for b in self.sealed.buffers() if b is not None]
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
        to_save = self._arrays()
        if self.encoded:  # dates of birth as keyed tokens of year, month and day, not as digits
            dates = to_save.pop("records.date_of_birth")
            to_save["records.date_of_birth_tokens"] = DateTokens(self.tokeniser).encode(dates)
        for name, array in to_save.items():
            np.save(arrays / f"{name}.npy", np.ascontiguousarray(array))
        # Names in clear only in plaintext mode, which compares their spelling; postcodes only ever as tokens.
        if not self.encoded:
            names = pa.table({"value": pa.array(self.records.names.strings, pa.string())})
            _write_ipc(directory / "names.arrow", names)
        _write_ipc(directory / "sealed.arrow", pa.table({"sealed": self.sealed}))
        _write_ipc(directory / "reference.arrow", self.reference.table())
        manifest = {
            "format_version": FORMAT_VERSION,
            "key_id": self.key_id,
            "mode": "encoded" if self.encoded else "plaintext",
            "records": len(self),
            "names": len(self.records.names.strings),
            "rules": [
                {"name": r.name, "components": list(r.components), "max_block_size": r.max_block_size}
                for r in self.rules
            ],
            "malformed": dict(self.records.malformed),
        }
        if self.model is not None:
            self.model.save(directory / "model.json")
        # Every file's size, so that a truncated or swapped file is caught at load without reading it all.
        manifest["files"] = {
            str(f.relative_to(directory)): f.stat().st_size for f in sorted(directory.rglob("*")) if f.is_file()
        }
        (directory / "manifest.json").write_text(json.dumps(manifest, indent=1))

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
    def load(cls, directory: Path | str, key: MasterKey) -> Index:
        """Map an index; WrongKeyError unless ``key`` is the key it was built (or last rotated) with,
        DamagedIndexError if a file is missing, truncated, unreadable or inconsistent with the others."""
        directory = Path(directory)
        manifest_path = directory / "manifest.json"
        if not manifest_path.exists():
            raise FileNotFoundError(f"{directory} is not an index directory (no manifest.json)")
        try:
            manifest = json.loads(manifest_path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise DamagedIndexError(directory, "manifest.json is not readable JSON") from None
        if manifest.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"index format {manifest.get('format_version')} is not {FORMAT_VERSION}: rebuild it")
        check_key(manifest["key_id"], key)
        for name, size in manifest.get("files", {}).items():
            path = directory / name
            if not path.is_file():
                raise DamagedIndexError(directory, f"{name} is missing")
            if path.stat().st_size != size:
                raise DamagedIndexError(directory, f"{name} has {path.stat().st_size:,} bytes, not {size:,}")
        try:
            index = cls._load(directory, key, manifest)
        except (OSError, ValueError, KeyError, pa.ArrowException) as error:
            raise DamagedIndexError(directory, f"{type(error).__name__} while reading it") from error
        index._check_shapes(directory, manifest["records"])
        return index

    def _check_shapes(self, directory: Path, records: int) -> None:
        """Per-record arrays of one length, the manifest's: a file from another index fails here."""
        per_record = {"restricted": self.restricted, "sealed payloads": self.sealed}
        per_record |= {f"records.{k}": v for k, v in self.records.arrays().items() if not k.endswith(".values")}
        for name, values in per_record.items():
            expected = records + 1 if name.endswith(".offsets") else records
            if len(values) != expected:
                raise DamagedIndexError(directory, f"{name} has {len(values):,} entries for {records:,} records")

    @classmethod
    def _load(cls, directory: Path, key: MasterKey, manifest: dict) -> Index:
        arrays = {p.stem: _open_array(p) for p in (directory / "arrays").glob("*.npy")}
        encoded = manifest.get("mode") == "encoded"
        tokeniser = Tokeniser(key.derive("tokens"))
        if encoded:
            tokens = arrays.pop("records.date_of_birth_tokens")
            arrays["records.date_of_birth"] = DateTokens(tokeniser).decode(np.asarray(tokens))
        name_strings = [] if encoded else _read_ipc(directory / "names.arrow").column("value").to_pylist()

        def ragged(prefix: str) -> Ragged:
            return Ragged(arrays[f"{prefix}.offsets"], arrays[f"{prefix}.values"])

        def table_args(prefix: str, table_cls: type) -> dict:
            args = {}
            for f in fields(table_cls):
                if f.name == "strings":
                    continue
                name = f"{prefix}.{f.name}"
                if f"{name}.offsets" in arrays:
                    args[f.name] = ragged(name)
                elif name in arrays:
                    args[f.name] = arrays[name]
            return args

        names = NameTable(strings=name_strings, **table_args("names", NameTable))
        postcodes = PostcodeTable(strings=[], **table_args("postcodes", PostcodeTable))  # tokens only
        record_args = {}
        for f in fields(Entities):
            if f.name in ("names", "postcodes", "malformed"):
                continue
            name = f"records.{f.name}"
            record_args[f.name] = ragged(name) if f"{name}.offsets" in arrays else arrays[name]
        records = Entities(names=names, postcodes=postcodes, **record_args)
        model_path = directory / "model.json"
        return cls(
            records=records,
            blocking=BlockingIndex(arrays["blocking.directory"], arrays["blocking.residuals"], arrays["blocking.rows"]),
            term_frequency={k.split(".", 1)[1]: v for k, v in arrays.items() if k.startswith("term_frequency.")},
            restricted=arrays["restricted"],
            sealed=_read_ipc(directory / "sealed.arrow").column("sealed").chunk(0),
            reference=ReferenceLists.from_table(_read_ipc(directory / "reference.arrow")),
            rules=tuple(
                BlockingRule(r["name"], tuple(r["components"]), r.get("max_block_size")) for r in manifest["rules"]
            ),
            tokeniser=tokeniser,
            cipher=PayloadCipher(key),
            encoder=BloomEncoder(key.derive("names")) if encoded else None,
            model=FellegiSunterModel.load(model_path) if model_path.exists() else None,
        )


class DamagedIndexError(ValueError):
    """An index file is missing, truncated, unreadable or inconsistent: the index must be rebuilt or restored."""

    def __init__(self, directory: Path, what: str) -> None:
        super().__init__(
            f"the index at {directory} is damaged ({what}): restore it or rebuild it with `python -m matcher build`"
        )


def rotate_index(index: Index, population: pa.Table, new_key: MasterKey) -> Index:
    """The index re-keyed: every token recomputed from ``population`` (keyed hashes cannot be re-keyed from
    themselves, which is their point) and every payload sealed again, under ``new_key``; the model is kept, as it
    does not depend on the key. Refuses a population other than the one the index was built from."""
    if population.num_rows != len(index):
        raise ValueError(f"the population has {population.num_rows:,} records, the index {len(index):,}")
    nhs = nhs_number_tokens(
        [normalise_nhs_number(v) for v in population.column("nhs_number").to_pylist()], index.tokeniser
    )
    if not np.array_equal(nhs, index.records.nhs_number):
        raise ValueError("this population is not the one the index was built from (NHS numbers differ)")
    rotated = Index.build(population, new_key, index.rules, encoded=index.encoded)
    return rotated.with_model(index.model) if index.model is not None else rotated


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
