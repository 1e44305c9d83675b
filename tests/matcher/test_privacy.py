"""Privacy by construction: what an index file holds, what a wrong key or an altered payload does, re-keying."""

import json
import subprocess
import sys
from dataclasses import replace

import pyarrow as pa
import pyarrow.parquet
import pytest

from matcher.index import Index, rotate_index
from matcher.protection.keys import KEY_ENVIRONMENT_VARIABLE, MasterKey, WrongKeyError
from matcher.protection.payload import TamperedPayloadError
from matcher.protection.sealing import FileSealer
from matcher.tracer import Outcome, Tracer, TraceRequest
from tests.support.world import index_file_bytes, index_row

SAMPLE = range(0, 200_000, 997)


@pytest.fixture(scope="module")
def saved_index(tmp_path_factory, trained_index):
    path = tmp_path_factory.mktemp("privacy") / "index"
    trained_index.save(path)
    return path


def exact_request(row: dict) -> TraceRequest:
    return TraceRequest(
        given_name=row["given_name"],
        family_name=row["family_name"],
        date_of_birth=row["date_of_birth"].isoformat(),
        sex=row["sex"],
        postcode=row["postcode"],
    )


def test_no_file_of_an_index_holds_a_name_nhs_number_address_or_postcode(saved_index, population, master_key):
    content = index_file_bytes(saved_index)
    sample = population.take(pa.array(list(SAMPLE))).to_pylist()
    for row in sample:
        # Six characters or more: any three bytes turn up by chance in megabytes of ciphertext (DAY did).
        for field in ("nhs_number", "address_line_1", "postcode", "family_name"):
            if len(row[field]) >= 6:
                assert row[field].encode() not in content, field
    # The scan would find them: plaintext mode's names are in its names file, once it is opened with the key.
    index_id = json.loads((saved_index / "manifest.json").read_text())["index_id"]
    sealer = FileSealer(master_key.for_index(index_id).files, index_id)
    assert sample[0]["family_name"].encode() in bytes(sealer.read_bytes(saved_index / "names.arrow", "names.arrow"))


def test_an_index_opens_only_with_its_own_key(saved_index):
    with pytest.raises(WrongKeyError, match="made with key"):
        Index.load(saved_index, MasterKey.generate())


def test_an_altered_payload_is_never_disclosed(trained_index, population):
    # On disk the payloads' file is sealed whole (an altered byte fails the load: tests/api/test_startup.py); in
    # memory each payload is still sealed on its own, and one altered there does not open either.
    person = population.slice(1234, 1).to_pylist()[0]
    row = index_row(trained_index, person["nhs_number"])
    sealed = trained_index.sealed.to_pylist()
    at = 20  # a byte inside the ciphertext, past the nonce
    sealed[row] = sealed[row][:at] + bytes([sealed[row][at] ^ 1]) + sealed[row][at + 1 :]
    tracer = Tracer(replace(trained_index, sealed=pa.array(sealed, pa.binary())))
    request = exact_request(person)
    with pytest.raises(TamperedPayloadError):
        tracer.trace(request)
    assert Tracer(trained_index).trace(request).disclosure  # the unaltered index discloses it


def test_a_payload_moved_to_another_row_does_not_open(trained_index):
    moved = trained_index.sealed[7].as_py()
    with pytest.raises(TamperedPayloadError):
        trained_index.cipher.open(moved, 8, trained_index.reference)


def test_rotation_re_keys_everything_and_traces_keep_working(tmp_path, trained_index, population, master_key):
    trained_index.save(tmp_path / "index")
    before = Tracer(Index.load(tmp_path / "index", master_key))
    request = exact_request(population.slice(4321, 1).to_pylist()[0])
    expected = before.trace(request)
    assert expected.outcome is Outcome.MATCHED

    new_key = MasterKey.generate()
    rotate_index(Index.load(tmp_path / "index", master_key), population, new_key).save(tmp_path / "index")

    assert before.trace(request).disclosure == expected.disclosure  # a running tracer is not disturbed
    after = Tracer(Index.load(tmp_path / "index", new_key))
    assert after.trace(request).disclosure == expected.disclosure
    assert after.index.key_id == new_key.key_id
    assert not (after.index.records.nhs_number == trained_index.records.nhs_number).any()  # every token re-keyed
    with pytest.raises(WrongKeyError):
        Index.load(tmp_path / "index", master_key)  # the old key can go


def test_rotation_refuses_another_population(trained_index, population):
    one_person_swapped = population.take(pa.array([1, *range(1, population.num_rows)]))
    with pytest.raises(ValueError, match="not the one"):
        rotate_index(trained_index, one_person_swapped, MasterKey.generate())


def cli(*args, key: str | None = None):
    environment = {"PATH": "/usr/bin:/bin", "HOME": "/nonexistent"}
    if key is not None:
        environment[KEY_ENVIRONMENT_VARIABLE] = key
    return subprocess.run([sys.executable, "-m", "matcher", *args], capture_output=True, text=True, env=environment)


def test_cli_refuses_to_start_without_the_right_key(saved_index, tmp_path):
    requests = tmp_path / "requests.parquet"
    done = cli("trace", "--index", str(saved_index), "--requests", str(requests), "--out", str(tmp_path / "r"))
    assert done.returncode == 2 and "keys init" in done.stderr
    done = cli(
        "trace",
        "--index",
        str(saved_index),
        "--requests",
        str(requests),
        "--out",
        str(tmp_path / "r"),
        key=MasterKey.generate().text(),
    )
    assert done.returncode == 2 and "made with key" in done.stderr and "Traceback" not in done.stderr


def test_cli_key_init_and_rotate(tmp_path, trained_index, population_path, master_key):
    trained_index.save(tmp_path / "index")
    new_key_file = tmp_path / "keys" / "new.key"
    done = cli("keys", "init", "--out", str(new_key_file))
    assert done.returncode == 0, done.stderr
    new_key = MasterKey.from_file(new_key_file)
    assert new_key.key_id in done.stdout and new_key.text() not in done.stdout
    assert cli("keys", "init", "--out", str(new_key_file)).returncode == 2  # never overwritten
    assert cli("keys", "init", "--out", str(new_key_file), "--if-missing").returncode == 0

    done = cli(
        "keys",
        "rotate",
        "--index",
        str(tmp_path / "index"),
        "--population",
        str(population_path),
        "--new-key",
        str(new_key_file),
        key=master_key.text(),
    )
    assert done.returncode == 0, done.stderr
    assert Index.load(tmp_path / "index", new_key).key_id == new_key.key_id


def test_trace_output_names_no_subject(tmp_path, saved_index, request_sets, master_key):
    """What the trace command prints (counts, a progress bar) says nothing about whom it traced."""
    requests = request_sets["typical"].requests.slice(0, 200)
    path = tmp_path / "requests.parquet"
    pa.parquet.write_table(requests, path)
    done = cli(
        "trace",
        "--index",
        str(saved_index),
        "--requests",
        str(path),
        "--out",
        str(tmp_path / "results.parquet"),
        key=master_key.text(),
    )
    assert done.returncode == 0, done.stderr
    printed = (done.stdout + done.stderr).upper()
    for row in requests.to_pylist():
        for field in ("family_name", "postcode", "nhs_number"):
            if row[field] and len(row[field]) > 3:
                assert row[field].upper() not in printed


def test_no_value_of_a_request_lingers_in_a_cache(tracer, monkeypatch):
    tokeniser = tracer.index.tokeniser
    hashed = []
    original = tokeniser.token
    monkeypatch.setattr(tokeniser, "token", lambda value: hashed.append(value) or original(value))
    request = TraceRequest(family_name="SMITH", date_of_birth="1980-01-01", nhs_number="9434765919")
    tracer.trace(request)
    first = list(hashed)
    tracer.trace(request)
    # Every value hashed afresh the second time: nothing kept the first request's values.
    assert "SMITH" in first and "nhs:9434765919" in first and hashed == first + first


def test_payloads_sealed_slice_by_slice_open_as_their_own_rows(population, master_key, monkeypatch):
    """Payloads are sealed a slice of rows at a time; each must still open, as its own row, on either side of a
    slice boundary, with the reference lists of the whole table."""
    from matcher.protection import payload
    from matcher.protection.keys import new_index_id
    from matcher.protection.payload import SOURCE_COLUMNS, PayloadCipher

    monkeypatch.setattr(payload, "_SLICE", 7)
    source = population.slice(0, 50).select(list(SOURCE_COLUMNS))
    cipher = PayloadCipher(master_key.for_index(new_index_id()))
    sealed, reference = cipher.seal(source)
    assert len(sealed) == source.num_rows
    expected = source.to_pylist()
    for row in range(source.num_rows):
        opened = cipher.open(sealed[row].as_py(), row, reference)
        for name in ("nhs_number", "address_line_1", "town", "postcode", "gp_practice_code"):
            assert opened[name] == expected[row][name]
