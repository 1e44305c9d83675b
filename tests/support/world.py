"""What the tests know of a saved index's files."""

from __future__ import annotations

import json
from pathlib import Path

from matcher.protection.sealing import MAGIC

MANIFEST_FIELDS = {"format_version", "key_id", "index_id", "files"}


def index_file_bytes(index_dir: Path) -> bytes:
    """Every file of a saved index, after checking that each but the manifest is sealed and that the manifest says
    no more than the format, the key and index ids and the files' sizes."""
    manifest = json.loads((index_dir / "manifest.json").read_text())
    assert set(manifest) == MANIFEST_FIELDS
    files = sorted(f for f in index_dir.rglob("*") if f.is_file())
    assert {str(f.relative_to(index_dir)) for f in files} == set(manifest["files"]) | {"manifest.json"}
    for f in files:
        assert f.name == "manifest.json" or f.read_bytes()[: len(MAGIC)] == MAGIC, f
    return b"".join(f.read_bytes() for f in files)


def index_rows(index, nhs_numbers: list[str]):
    """The index rows of the people with these NHS numbers: rows are shuffled at build, so a population's row i is
    not the index's row i."""
    import numpy as np

    from matcher.contract.normalise import normalise_nhs_number
    from matcher.records.entities import nhs_number_tokens

    tokens = nhs_number_tokens([normalise_nhs_number(n) for n in nhs_numbers], index.tokeniser)
    order = np.argsort(index.records.nhs_number)
    at = np.searchsorted(index.records.nhs_number, tokens, sorter=order)
    rows = order[np.minimum(at, len(order) - 1)]
    assert (index.records.nhs_number[rows] == tokens).all(), "not every NHS number is in the index"
    return rows


def index_row(index, nhs_number: str) -> int:
    """The index row of the person with this NHS number."""
    return int(index_rows(index, [nhs_number])[0])
