"""How an index is laid out on disk, and read back.

A directory of ``.npy`` arrays (opened memory-mapped, so loading tens of millions of records costs seconds and pages
come in as traces touch them), Arrow IPC files of the distinct names (plaintext mode only), of the sealed payloads
and of the public reference lists the payloads point to, a manifest naming the key the index was made with and the
size of every file, and once trained, the model. No file holds an address or an NHS number in clear.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.ipc as ipc

from matcher.blocking import BlockingIndex, BlockingRule
from matcher.protection.bloom import BloomEncoder
from matcher.protection.dates import DateTokens
from matcher.protection.keys import MasterKey
from matcher.protection.payload import PayloadCipher, ReferenceLists, check_key
from matcher.protection.tokens import Tokeniser
from matcher.records.entities import Entities, NameTable, PostcodeTable
from matcher.records.ragged import Ragged
from matcher.scoring.model import FellegiSunterModel

if TYPE_CHECKING:
    from matcher.index.index import Index

FORMAT_VERSION = 4
_FEATURES = "records.features."


class DamagedIndexError(ValueError):
    """An index file is missing, truncated, unreadable or inconsistent: the index must be rebuilt or restored."""

    def __init__(self, directory: Path, what: str) -> None:
        super().__init__(
            f"the index at {directory} is damaged ({what}): restore it or rebuild it with `python -m matcher build`"
        )


def save_index(index: Index, directory: Path) -> None:
    """Write to a sibling directory, then swap it in."""
    staging = directory.with_name(f".{directory.name}.{os.getpid()}.new")
    if staging.exists():
        shutil.rmtree(staging)
    _write(index, staging)
    if directory.exists():
        retired = directory.with_name(f".{directory.name}.{os.getpid()}.old")
        directory.rename(retired)
        staging.rename(directory)
        shutil.rmtree(retired)
    else:
        staging.rename(directory)


def _write(index: Index, directory: Path) -> None:
    arrays = directory / "arrays"
    arrays.mkdir(parents=True, exist_ok=True)
    to_save = index_arrays(index)
    if index.encoded:  # dates of birth as keyed tokens of year, month and day, not as digits
        dates = to_save.pop("records.date_of_birth")
        to_save["records.date_of_birth_tokens"] = DateTokens(index.tokeniser).encode(dates)
    for name, array in to_save.items():
        np.save(arrays / f"{name}.npy", np.ascontiguousarray(array))
    # Names in clear only in plaintext mode, which compares their spelling; postcodes only ever as tokens.
    if not index.encoded:
        names = pa.table({"value": pa.array(index.records.names.strings, pa.string())})
        _write_ipc(directory / "names.arrow", names)
    _write_ipc(directory / "sealed.arrow", pa.table({"sealed": index.sealed}))
    _write_ipc(directory / "reference.arrow", index.reference.table())
    manifest = {
        "format_version": FORMAT_VERSION,
        "key_id": index.key_id,
        "mode": "encoded" if index.encoded else "plaintext",
        "records": len(index),
        "names": len(index.records.names.strings),
        "rules": [
            {"name": r.name, "components": list(r.components), "max_block_size": r.max_block_size}
            for r in index.rules
        ],
        "malformed": dict(index.records.malformed),
    }
    if index.model is not None:
        index.model.save(directory / "model.json")
    # Every file's size, so that a truncated or swapped file is caught at load without reading it all.
    manifest["files"] = {
        str(f.relative_to(directory)): f.stat().st_size for f in sorted(directory.rglob("*")) if f.is_file()
    }
    (directory / "manifest.json").write_text(json.dumps(manifest, indent=1))


def index_arrays(index: Index) -> dict[str, np.ndarray]:
    """Every array of the index by its file name: what is saved, and what warming touches."""
    out = {f"records.{k}": v for k, v in index.records.arrays().items()}
    for prefix, table in (("names", index.records.names), ("postcodes", index.records.postcodes)):
        for f in fields(table):
            value = getattr(table, f.name)
            if isinstance(value, np.ndarray):
                out[f"{prefix}.{f.name}"] = value
            elif isinstance(value, Ragged):
                out[f"{prefix}.{f.name}.offsets"] = value.offsets
                out[f"{prefix}.{f.name}.values"] = value.values
    out["blocking.directory"] = index.blocking.directory
    out["blocking.residuals"] = index.blocking.residuals
    out["blocking.rows"] = index.blocking.rows
    out["restricted"] = index.restricted
    for name, frequency in index.term_frequency.items():
        out[f"term_frequency.{name}"] = frequency
    return out


def read_index(directory: Path, key: MasterKey) -> dict:
    """The parts of a saved index (``Index``'s fields), after checking its key, format and file sizes."""
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
        parts = _read(directory, key, manifest)
    except (OSError, ValueError, KeyError, pa.ArrowException) as error:
        raise DamagedIndexError(directory, f"{type(error).__name__} while reading it") from error
    _check_shapes(parts, directory, manifest["records"])
    return parts


def _check_shapes(parts: dict, directory: Path, records: int) -> None:
    """Per-record arrays of one length, the manifest's: a file from another index fails here."""
    per_record = {"restricted": parts["restricted"], "sealed payloads": parts["sealed"]}
    per_record |= {f"records.{k}": v for k, v in parts["records"].arrays().items() if not k.endswith(".values")}
    for name, values in per_record.items():
        expected = records + 1 if name.endswith(".offsets") else records
        if len(values) != expected:
            raise DamagedIndexError(directory, f"{name} has {len(values):,} entries for {records:,} records")


def _read(directory: Path, key: MasterKey, manifest: dict) -> dict:
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
        if f.name in ("names", "postcodes", "malformed", "features"):
            continue
        name = f"records.{f.name}"
        record_args[f.name] = ragged(name) if f"{name}.offsets" in arrays else arrays[name]
    features: dict[str, dict[str, np.ndarray]] = {}
    for name, array in arrays.items():
        if name.startswith(_FEATURES):
            feature, part = name[len(_FEATURES) :].split(".", 1)
            features.setdefault(feature, {})[part] = array
    records = Entities(names=names, postcodes=postcodes, **record_args, features=features)
    model_path = directory / "model.json"
    return {
        "records": records,
        "blocking": BlockingIndex(arrays["blocking.directory"], arrays["blocking.residuals"], arrays["blocking.rows"]),
        "term_frequency": {k.split(".", 1)[1]: v for k, v in arrays.items() if k.startswith("term_frequency.")},
        "restricted": arrays["restricted"],
        "sealed": _read_ipc(directory / "sealed.arrow").column("sealed").chunk(0),
        "reference": ReferenceLists.from_table(_read_ipc(directory / "reference.arrow")),
        "rules": tuple(
            BlockingRule(r["name"], tuple(r["components"]), r.get("max_block_size")) for r in manifest["rules"]
        ),
        "tokeniser": tokeniser,
        "cipher": PayloadCipher(key),
        "encoder": BloomEncoder(key.derive("names")) if encoded else None,
        "model": FellegiSunterModel.load(model_path) if model_path.exists() else None,
    }


def _open_array(path: Path) -> np.ndarray:
    # Small arrays are read outright: an empty array cannot be memory-mapped at all.
    if path.stat().st_size < 65_536:
        return np.load(path)
    # A plain ndarray over the mapping: np.memmap's own indexing costs microseconds per call, on every request.
    return np.asarray(np.load(path, mmap_mode="r"))


def _write_ipc(path: Path, table: pa.Table) -> None:
    with pa.OSFile(str(path), "wb") as sink, ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)


def _read_ipc(path: Path) -> pa.Table:
    return ipc.open_file(pa.memory_map(str(path), "r")).read_all().combine_chunks()
