"""The master key: where it is read from, what its subkeys are, and the errors a bad key gives."""

import stat

import pytest

from matcher.protection.keys import (
    KEY_ENVIRONMENT_VARIABLE,
    KEY_FILE_ENVIRONMENT_VARIABLE,
    InvalidKeyError,
    MasterKey,
    MissingKeyError,
    load_master_key,
)


def test_subkeys_differ_by_purpose_and_by_master_key():
    key, other = MasterKey.generate(), MasterKey.generate()
    assert key.derive("tokens") != key.derive("payload")
    assert key.derive("tokens") == MasterKey(key.secret).derive("tokens")
    assert key.derive("tokens") != other.derive("tokens")
    assert key.key_id != other.key_id and len(key.key_id) == 12
    assert key.secret.hex() not in repr(key)


def test_written_key_is_private_and_reads_back(tmp_path):
    key = MasterKey.generate()
    path = key.write(tmp_path / "keys" / "master.key")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert MasterKey.from_file(path) == key
    with pytest.raises(FileExistsError):
        MasterKey.generate().write(path)


def test_a_key_is_never_written_into_a_git_work_tree(tmp_path):
    (tmp_path / ".git").mkdir()
    with pytest.raises(ValueError, match="git work tree"):
        MasterKey.generate().write(tmp_path / "config" / "master.key")


def test_load_order_environment_then_named_file(tmp_path):
    in_file, in_environment = MasterKey.generate(), MasterKey.generate()
    path = in_file.write(tmp_path / "master.key")
    assert load_master_key({KEY_FILE_ENVIRONMENT_VARIABLE: str(path)}) == in_file
    both = {KEY_FILE_ENVIRONMENT_VARIABLE: str(path), KEY_ENVIRONMENT_VARIABLE: in_environment.text()}
    assert load_master_key(both) == in_environment


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("hunter2", "not a tracing master key"),
        ("tracing-master-key:v1:AAAA", "32 bytes"),
        ("tracing-master-key:v1:%%%", "base64|32 bytes"),
    ],
)
def test_malformed_keys_are_refused(text, message):
    with pytest.raises(InvalidKeyError, match=message):
        load_master_key({KEY_ENVIRONMENT_VARIABLE: text})


def test_a_missing_key_says_how_to_make_one(tmp_path):
    with pytest.raises(MissingKeyError, match="keys init"):
        load_master_key({KEY_FILE_ENVIRONMENT_VARIABLE: str(tmp_path / "absent.key")})
