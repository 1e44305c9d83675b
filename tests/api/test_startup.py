"""A damaged index, or a missing, garbled or wrong key, refuses to load with a clear message (and the service refuses
to start): issue 7."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from matcher.index import DamagedIndexError, Index


@pytest.fixture(scope="module")
def small_index(population, master_key, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("damage") / "index"
    Index.build(population.slice(0, 5_000), master_key).save(path)
    return path


def _truncate(index: Path) -> None:
    path = index / "arrays" / "records.family.npy"
    path.write_bytes(path.read_bytes()[:100])


def _shorten_without_sizes(index: Path) -> None:
    manifest = json.loads((index / "manifest.json").read_text())
    del manifest["files"]  # as an index written before sizes were recorded
    (index / "manifest.json").write_text(json.dumps(manifest))
    np.save(index / "arrays" / "records.given.npy", np.load(index / "arrays" / "records.given.npy")[:10])


DAMAGE = {
    "truncated array": (_truncate, "records.family.npy has 100 bytes"),
    "garbled manifest": (lambda i: (i / "manifest.json").write_text("garbage"), "manifest.json is not readable"),
    "missing payloads": (lambda i: (i / "sealed.arrow").unlink(), "sealed.arrow is missing"),
    "array of another size": (_shorten_without_sizes, "records.given has 10 entries for 5,000 records"),
}


@pytest.mark.parametrize("damage", DAMAGE)
def test_a_damaged_index_is_refused_with_what_is_wrong(small_index, master_key, tmp_path, damage):
    copy = tmp_path / "index"
    shutil.copytree(small_index, copy)
    assert len(Index.load(copy, master_key)) == 5_000
    harm, message = DAMAGE[damage]
    harm(copy)
    with pytest.raises(DamagedIndexError, match="rebuild it") as raised:
        Index.load(copy, master_key)
    assert message in str(raised.value)


def test_the_service_refuses_to_start_on_a_damaged_index(small_index, tmp_path):
    copy = tmp_path / "index"
    shutil.copytree(small_index, copy)
    _truncate(copy)
    env = {**os.environ, "TRACING_INDEX_DIR": str(copy), "DATABASE_URL": f"sqlite:///{tmp_path / 'state.db'}"}
    done = subprocess.run([sys.executable, "-m", "api", "serve"], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "is damaged" in done.stderr and "Traceback" not in done.stderr


def _serve(index: Path, tmp_path: Path, **environment: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "TRACING_INDEX_DIR": str(index), "DATABASE_URL": f"sqlite:///{tmp_path / 'state.db'}"}
    env.pop("TRACING_MASTER_KEY", None)
    env.update(environment)
    return subprocess.run([sys.executable, "-m", "api", "serve"], env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ({"TRACING_MASTER_KEY_FILE": "/nonexistent/master.key"}, "no master key at /nonexistent/master.key"),
        ({"TRACING_MASTER_KEY": "not-a-key"}, "not a tracing master key"),
        ({"TRACING_MASTER_KEY": "tracing-master-key:v1:c2hvcnQ="}, "a master key is 32 bytes, not 5"),
        ("another key", "made with key"),
    ],
    ids=["missing", "garbled", "short", "another key"],
)
def test_the_service_refuses_to_start_without_the_index_key(small_index, tmp_path, key, message):
    from matcher.protection.keys import MasterKey

    environment = {"TRACING_MASTER_KEY": MasterKey.generate().text()} if key == "another key" else key
    done = _serve(small_index, tmp_path, **environment)
    assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr
    assert environment.get("TRACING_MASTER_KEY", "@@") not in done.stderr  # the key is never printed
