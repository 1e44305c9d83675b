"""A damaged index, or a missing, garbled or wrong key, refuses to load with a clear message (and the service refuses
to start): issue 7."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from matcher.index import FORMAT_VERSION, DamagedIndexError, Index, OldIndexFormatError


@pytest.fixture(scope="module")
def small_index(population, master_key, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("damage") / "index"
    Index.build(population.slice(0, 5_000), master_key).save(path)
    return path


def _truncate(index: Path) -> None:
    path = index / "arrays" / "records.family.npy"
    path.write_bytes(path.read_bytes()[:100])


def _flip_a_byte(index: Path) -> None:
    path = index / "arrays" / "records.family.npy"
    content = bytearray(path.read_bytes())
    content[len(content) // 2] ^= 1
    path.write_bytes(bytes(content))


def _swap_two_arrays_of_one_size(index: Path) -> None:
    given, family = index / "arrays" / "records.given.npy", index / "arrays" / "records.family.npy"
    assert given.stat().st_size == family.stat().st_size
    content = given.read_bytes()
    given.write_bytes(family.read_bytes())
    family.write_bytes(content)


def _take_a_file_from_another_index(other: Path):
    def harm(index: Path) -> None:
        (index / "sealed.arrow").write_bytes((other / "sealed.arrow").read_bytes())
        manifest = json.loads((index / "manifest.json").read_text())
        manifest["files"]["sealed.arrow"] = (other / "sealed.arrow").stat().st_size
        (index / "manifest.json").write_text(json.dumps(manifest))

    return harm


def _edit_manifest(change):
    def harm(index: Path) -> None:
        manifest = json.loads((index / "manifest.json").read_text())
        change(manifest)
        (index / "manifest.json").write_text(json.dumps(manifest))

    return harm


def _drop_the_file_list(index: Path) -> None:
    manifest = json.loads((index / "manifest.json").read_text())
    del manifest["files"]
    (index / "manifest.json").write_text(json.dumps(manifest))


DAMAGE = {
    "truncated array": (_truncate, "records.family.npy has 100 bytes"),
    "garbled manifest": (lambda i: (i / "manifest.json").write_text("garbage"), "manifest.json is not readable"),
    "missing payloads": (lambda i: (i / "sealed.arrow").unlink(), "sealed.arrow is missing"),
    "a flipped byte": (_flip_a_byte, "arrays/records.family.npy does not authenticate"),
    "two arrays of one size swapped": (_swap_two_arrays_of_one_size, "does not authenticate"),
    "a manifest without its file list": (_drop_the_file_list, "does not give the index's key id, id and files"),
    "a file left out of the manifest": (
        _edit_manifest(lambda m: m["files"].pop("arrays/records.given.npy")),
        "the manifest's list of files is not the index's",
    ),
    "a size that is not a number": (
        _edit_manifest(lambda m: m["files"].update({"sealed.arrow": "many"})),
        "does not give the index's key id, id and files",
    ),
    "an index id that is not one": (
        _edit_manifest(lambda m: m.update(index_id="not-an-id")),
        "does not give the index's key id, id and files",
    ),
    "a manifest that is a list": (
        lambda i: (i / "manifest.json").write_text("[1, 2]"),
        "manifest.json is not an index manifest",
    ),
}


@pytest.fixture(scope="module")
def other_index(population, master_key, tmp_path_factory) -> Path:
    """Another index of the same records under the same master key: its files have keys of their own."""
    path = tmp_path_factory.mktemp("other") / "index"
    Index.build(population.slice(0, 5_000), master_key).save(path)
    return path


@pytest.mark.parametrize("damage", [*DAMAGE, "a file from another index"])
def test_a_damaged_index_is_refused_with_what_is_wrong(small_index, other_index, master_key, tmp_path, damage):
    copy = tmp_path / "index"
    shutil.copytree(small_index, copy)
    assert len(Index.load(copy, master_key)) == 5_000
    harm, message = DAMAGE.get(damage) or (_take_a_file_from_another_index(other_index), "sealed.arrow does not")
    harm(copy)
    with pytest.raises(DamagedIndexError, match="rebuild it") as raised:
        Index.load(copy, master_key)
    assert message in str(raised.value)


def test_an_index_of_an_older_format_is_refused_with_a_word_to_rebuild_it(small_index, master_key, tmp_path):
    copy = tmp_path / "index"
    shutil.copytree(small_index, copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    (copy / "manifest.json").write_text(json.dumps({**manifest, "format_version": FORMAT_VERSION - 1}))
    with pytest.raises(OldIndexFormatError, match="rebuild it with `python -m matcher build`"):
        Index.load(copy, master_key)
    done = _serve(copy, tmp_path, TRACING_MASTER_KEY=master_key.text())
    assert done.returncode == 2 and f"format {FORMAT_VERSION - 1}" in done.stderr and "Traceback" not in done.stderr


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
