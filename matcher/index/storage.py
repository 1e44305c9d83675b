"""How an index is laid out on disk, and read back.

A directory of ``.npy`` arrays, Arrow IPC files (the distinct names in plaintext mode, the sealed payloads and the
public reference lists the payloads point to), the index's own description (mode, rules, counts) and, once
trained, the model: every one of them sealed whole under the index's file subkey (``matcher.protection.sealing``)
and decrypted into memory at load. Beside them, in clear, only ``manifest.json``: the format, the master key's id,
the index's id (from which its subkeys are derived) and every file's size, so that a wrong key, an old format or a
truncated file is named at once, before anything is decrypted.
"""

from __future__ import annotations

import json
import os
import shutil
from collections import Counter
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.ipc as ipc

from matcher.blocking import BlockingIndex, BlockingRule
from matcher.protection.bloom import BloomEncoder
from matcher.protection.keys import INDEX_ID, IndexKeys, MasterKey
from matcher.protection.masking import RowMask
from matcher.protection.payload import PayloadCipher, ReferenceLists, check_key
from matcher.protection.sealing import FileSealer, UnsealError
from matcher.protection.tokens import KeyedHash, Tokeniser
from matcher.records.entities import NameTable, PostcodeTable
from matcher.records.masked import MaskedEntities
from matcher.records.ragged import Ragged
from matcher.scoring.model import FellegiSunterModel

if TYPE_CHECKING:
    from matcher.index.index import Index

FORMAT_VERSION = 11
_RECORDS = "records."
_DESCRIPTION = "index.json"
_MODEL = "model.json"


class OldIndexFormatError(ValueError):
    """An index written by an older version of the code: it must be rebuilt."""


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
    try:
        _write(index, staging)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if directory.exists():
        retired = directory.with_name(f".{directory.name}.{os.getpid()}.old")
        directory.rename(retired)
        staging.rename(directory)
        shutil.rmtree(retired)
    else:
        staging.rename(directory)


def _write(index: Index, directory: Path) -> None:
    sealer = FileSealer(index.keys.files, index.keys.index_id)
    arrays = directory / "arrays"
    arrays.mkdir(parents=True, exist_ok=True)
    for name, array in index_arrays(index).items():
        sealer.write_array(arrays / f"{name}.npy", f"arrays/{name}.npy", array)
    # Names in clear only in plaintext mode, which compares their spelling (sealed at rest like everything else).
    tables = {"sealed.arrow": pa.table({"sealed": index.sealed}), "reference.arrow": index.reference.table()}
    if not index.encoded:
        tables["names.arrow"] = pa.table({"value": pa.array(index.records.names.strings, pa.string())})
    for name, table in tables.items():
        sealer.write_bytes(directory / name, name, _ipc_bytes(table))
    description = {
        "mode": "encoded" if index.encoded else "plaintext",
        "records": len(index),
        "names": len(index.records.names.token) - 1,
        "rules": [
            {
                "name": r.name,
                "components": list(r.components),
                "max_block_size": r.max_block_size,
                "probe_only": r.probe_only,
            }
            for r in index.rules
        ],
        "malformed": dict(index.records.malformed),
        "masked_types": {name: dtype.str for name, dtype in index.records.dtypes.items()},
    }
    if index.model is not None:
        sealer.write_bytes(directory / _MODEL, _MODEL, index.model.to_json().encode())
    # The files, inside a sealed file too: the manifest's list is checked against it, so that no file can be left
    # out of the index (the model, a feature's part) by editing the manifest.
    description["files"] = sorted(str(f.relative_to(directory)) for f in directory.rglob("*") if f.is_file())
    sealer.write_bytes(directory / _DESCRIPTION, _DESCRIPTION, json.dumps(description).encode())
    manifest = {"format_version": FORMAT_VERSION, "key_id": index.key_id, "index_id": index.keys.index_id}
    # Every file's size, so that a truncated file is named at load before anything is decrypted.
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
    out["restricted_household"] = index.household
    out["deceased"] = index.deceased
    for name, frequency in index.term_frequency.items():
        out[f"term_frequency.{name}"] = frequency
    return out


def read_index(directory: Path, key: MasterKey) -> dict:
    """The parts of a saved index (``Index``'s fields), after checking its format, key and file sizes; every file
    is authenticated as it is decrypted."""
    manifest_path = directory / "manifest.json"
    if not manifest_path.exists():
        raise FileNotFoundError(f"{directory} is not an index directory (no manifest.json)")
    try:
        manifest = json.loads(manifest_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise DamagedIndexError(directory, "manifest.json is not readable JSON") from None
    if not isinstance(manifest, dict):
        raise DamagedIndexError(directory, "manifest.json is not an index manifest")
    version = manifest.get("format_version")
    if version != FORMAT_VERSION:
        raise OldIndexFormatError(
            f"the index at {directory} is in format {version}, this code reads format {FORMAT_VERSION} (every file "
            "sealed, keys of its own): rebuild it with `python -m matcher build`"
        )
    if not _well_formed(manifest):
        raise DamagedIndexError(directory, "manifest.json does not give the index's key id, id and files")
    check_key(manifest["key_id"], key)
    for name, size in manifest["files"].items():
        path = directory / name
        if not path.is_file():
            raise DamagedIndexError(directory, f"{name} is missing")
        if path.stat().st_size != size:
            raise DamagedIndexError(directory, f"{name} has {path.stat().st_size:,} bytes, not {size:,}")
    try:
        keys = key.for_index(manifest["index_id"])
        parts = _read(directory, keys, set(manifest["files"]) - {_DESCRIPTION})
    except UnsealError as error:
        raise DamagedIndexError(directory, str(error)) from error
    except (OSError, ValueError, KeyError, pa.ArrowException) as error:
        raise DamagedIndexError(directory, f"{type(error).__name__} while reading it") from error
    _check_shapes(parts, directory, parts.pop("description")["records"])
    return parts


def _well_formed(manifest: dict) -> bool:
    files = manifest.get("files")
    return (
        isinstance(manifest.get("key_id"), str)
        and isinstance(manifest.get("index_id"), str)
        and INDEX_ID.fullmatch(manifest["index_id"]) is not None
        and isinstance(files, dict)
        and all(isinstance(name, str) and type(size) is int for name, size in files.items())
    )


def _check_shapes(parts: dict, directory: Path, records: int) -> None:
    """Per-record arrays of one length, the description's (every file is authenticated, and the list of them:
    this catches an index written wrongly rather than one altered)."""
    per_record = {
        "restricted": parts["restricted"],
        "household": parts["household"],
        "deceased": parts["deceased"],
        "sealed payloads": parts["sealed"],
    }
    per_record |= {f"records.{k}": v for k, v in parts["records"].arrays().items() if not k.endswith(".values")}
    for name, values in per_record.items():
        expected = records + 1 if name.endswith(".offsets") else records
        if len(values) != expected:
            raise DamagedIndexError(directory, f"{name} has {len(values):,} entries for {records:,} records")


def _read(directory: Path, keys: IndexKeys, files: set[str]) -> dict:
    sealer = FileSealer(keys.files, keys.index_id)
    # Only the files the manifest lists: a file dropped in beside them is never read.
    description = json.loads(bytes(sealer.read_bytes(directory / _DESCRIPTION, _DESCRIPTION)))
    if set(description["files"]) != files:
        raise UnsealError("the manifest's list of files is not the index's")
    arrays = {
        name[len("arrays/") : -len(".npy")]: sealer.read_array(directory / name, name)
        for name in sorted(files)
        if name.startswith("arrays/") and name.endswith(".npy")
    }
    encoded = description["mode"] == "encoded"

    def table(name: str) -> pa.Table:
        return _from_ipc_bytes(sealer.read_bytes(directory / name, name))

    name_strings = [] if encoded else table("names.arrow").column("value").to_pylist()

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
    mask = RowMask(keys.rows)
    records = MaskedEntities.from_arrays(
        {name[len(_RECORDS) :]: array for name, array in arrays.items() if name.startswith(_RECORDS)},
        names,
        postcodes,
        description["masked_types"],
        mask,
        Counter(description["malformed"]),
    )
    blocking = BlockingIndex(
        arrays["blocking.directory"],
        arrays["blocking.residuals"],
        arrays["blocking.rows"],
        KeyedHash(keys.blocking),
        mask,
    )
    model = sealer.read_bytes(directory / _MODEL, _MODEL) if _MODEL in files else None
    return {
        "description": description,
        "records": records,
        "blocking": blocking,
        "term_frequency": {k.split(".", 1)[1]: v for k, v in arrays.items() if k.startswith("term_frequency.")},
        "restricted": arrays["restricted"],
        "household": arrays["restricted_household"],
        "deceased": arrays["deceased"],
        "sealed": table("sealed.arrow").column("sealed").chunk(0),
        "reference": ReferenceLists.from_table(table("reference.arrow")),
        "rules": tuple(
            BlockingRule(r["name"], tuple(r["components"]), r["max_block_size"], r["probe_only"])
            for r in description["rules"]
        ),
        "keys": keys,
        "tokeniser": Tokeniser(keys.tokens),
        "cipher": PayloadCipher(keys),
        "encoder": BloomEncoder(keys.names) if encoded else None,
        "model": None if model is None else FellegiSunterModel.from_json(bytes(model)),
    }


def _ipc_bytes(table: pa.Table) -> pa.Buffer:
    sink = pa.BufferOutputStream()
    with ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue()


def _from_ipc_bytes(data: memoryview) -> pa.Table:
    return ipc.open_file(pa.BufferReader(pa.py_buffer(data))).read_all().combine_chunks()
