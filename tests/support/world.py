"""What the tests know of a saved index's files."""

from __future__ import annotations

from pathlib import Path

PUBLIC_REFERENCE_COLUMNS = {
    "locality",
    "town",
    "gp_practice_code",
    "gp_practice_name",
    "gp_practice_address",
    "gp_practice_postcode",
}


def index_files_but_public_lists(index_dir: Path) -> bytes:
    """Every file of a saved index but the public reference lists, whose columns are checked to be just those: a
    practice at "11 RICHMOND ROAD, LEEDS" contains a patient's "1 RICHMOND ROAD" without revealing it."""
    import pyarrow.ipc

    reference = pyarrow.ipc.open_file(index_dir / "reference.arrow").read_all()
    assert set(reference.column_names) == PUBLIC_REFERENCE_COLUMNS
    return b"".join(f.read_bytes() for f in sorted(index_dir.rglob("*")) if f.is_file() and f.name != "reference.arrow")
