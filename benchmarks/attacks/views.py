"""Two views of an index as one flat mapping of named arrays, so that every attack reads the same names whichever
it is given, and skips what is absent or opaque.

The thief's view is every file of the directory, parsed where it parses (a ciphertext file stays bytes: it must
not stop the suite). The memory-dump view is what a loaded ``Index`` holds in arrays and strings, without the
objects that hold keys (tokeniser, cipher, encoder): a dump of a running service's heap shows the arrays, and
reading keys out of a heap is a different attack.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.ipc as ipc

View = dict[str, Any]
"""Name -> ndarray, list of str/bytes, parsed JSON, or ``bytes`` (``raw:<relative path>`` for file contents)."""

RAW = "raw:"


def files_view(directory: Path | str) -> View:
    """Every file under ``directory``: raw bytes under ``raw:<path>``, and its parsed form where it parses
    (``arrays/X.npy`` as ``X``; ``T.arrow`` columns as ``T.<column>``; ``X.json`` as ``X``)."""
    directory = Path(directory)
    view: View = {}
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        data = path.read_bytes()
        view[RAW + str(path.relative_to(directory))] = data
        if path.suffix == ".npy":
            array = _parse_npy(path)
            if array is not None:
                view[path.stem] = array
        elif path.suffix == ".arrow":
            table = _parse_arrow(data)
            if table is not None:
                for column in table.column_names:
                    view[f"{path.stem}.{column}"] = table.column(column).to_pylist()
        elif path.suffix == ".json":
            with contextlib.suppress(UnicodeDecodeError, json.JSONDecodeError):
                view[path.stem] = json.loads(data)
    return view


def memory_view(directory: Path | str, key: Any) -> View:
    """What a loaded index holds without its keys: ``index_arrays`` under their file names, the name strings
    (plaintext mode) as ``names.value``, the reference lists as ``reference.<column>``, the sealed payloads."""
    from matcher.index import Index
    from matcher.index.storage import index_arrays

    index = Index.load(directory, key)
    view: View = {name: np.asarray(array) for name, array in index_arrays(index).items()}
    if index.records.names.strings:
        view["names.value"] = list(index.records.names.strings)
    table = index.reference.table()
    for column in table.column_names:
        view[f"reference.{column}"] = table.column(column).to_pylist()
    view["sealed.sealed"] = index.sealed.to_pylist()
    view["manifest"] = {"mode": "encoded" if index.encoded else "plaintext", "records": len(index)}
    return view


def unmasked_view(directory: Path | str, key: Any) -> View:
    """The memory view with every masked array unmasked (records, restricted flags, blocking postings): the positive
    control of the attacks, showing what they take where the data is there."""
    from matcher.index import Index

    index = Index.load(directory, key)
    view = memory_view(directory, key)
    records = index.records.unmasked()
    for name, value in records.arrays().items():
        view[f"records.{name}"] = value
    view["restricted"] = index.restricted_at(np.arange(len(index)))
    positions = np.arange(len(index.blocking.rows))
    view["blocking.rows"] = index.blocking.mask.unmask("blocking.rows", index.blocking.rows, np.uint32, positions)
    return view


def array(view: View, name: str, kind: str = "biuf", ndim: int | None = None) -> np.ndarray | None:
    """The named array if the view has it as a numeric ndarray (its dtype of one of the ``kind`` letters, ``ndim``
    dimensions), else None: attacks call this and skip what they cannot read."""
    value = view.get(name)
    if not isinstance(value, np.ndarray) or value.dtype.kind not in kind:
        return None
    if ndim is not None and value.ndim != ndim:
        return None
    return value


def strings(view: View, name: str) -> list[str | None] | None:
    """The named column of strings, if the view has it."""
    value = view.get(name)
    if isinstance(value, list) and all(v is None or isinstance(v, str) for v in value[:100]):
        return value
    return None


def raw_files(view: View) -> dict[str, bytes]:
    return {k[len(RAW) :]: v for k, v in view.items() if k.startswith(RAW) and isinstance(v, bytes)}


def records_count(view: View) -> int | None:
    """How many records the view's per-record arrays say there are (None if none is readable)."""
    for name in ("records.family", "records.given", "records.sex", "restricted"):
        value = array(view, name, ndim=1)
        if value is not None:
            return len(value)
    manifest = view.get("manifest")
    return manifest.get("records") if isinstance(manifest, dict) else None


def _parse_npy(path: Path) -> np.ndarray | None:
    try:
        return np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError):
        return None


def _parse_arrow(data: bytes) -> pa.Table | None:
    try:
        return ipc.open_file(pa.py_buffer(data)).read_all()
    except (pa.ArrowException, OSError, ValueError):
        return None
