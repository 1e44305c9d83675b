"""Sealed files and keyed blocking keys: what opens, what does not, and that two indexes share nothing."""

import os

import numpy as np
import pytest

from matcher.index import Index
from matcher.protection.keys import MasterKey, new_index_id
from matcher.protection.sealing import MAGIC, FileSealer, UnsealError
from matcher.protection.tokens import MISSING, KeyedHash

KEY = os.urandom(32)


@pytest.mark.parametrize("shape", [(0,), (5,), (3, 16), (1_000_003,)])
def test_an_array_comes_back_exactly(tmp_path, shape):
    sealer = FileSealer(KEY, new_index_id())
    array = np.random.default_rng(1).integers(0, 2**63, size=shape, dtype=np.uint64)
    sealer.write_array(tmp_path / "a.npy", "arrays/a.npy", array)
    assert (tmp_path / "a.npy").read_bytes().startswith(MAGIC)
    assert array.tobytes() not in (tmp_path / "a.npy").read_bytes() or array.size == 0
    back = sealer.read_array(tmp_path / "a.npy", "arrays/a.npy")
    assert back.dtype == array.dtype and back.shape == array.shape
    np.testing.assert_array_equal(back, array)


def test_a_sealed_file_opens_only_as_itself_in_its_own_index(tmp_path):
    index_id = new_index_id()
    sealer = FileSealer(KEY, index_id)
    sealer.write_bytes(tmp_path / "f", "names.arrow", b"SMITHSON" * 100)
    assert bytes(sealer.read_bytes(tmp_path / "f", "names.arrow")) == b"SMITHSON" * 100
    with pytest.raises(UnsealError, match="does not authenticate"):
        sealer.read_bytes(tmp_path / "f", "sealed.arrow")  # renamed within the index
    with pytest.raises(UnsealError, match="does not authenticate"):
        FileSealer(KEY, new_index_id()).read_bytes(tmp_path / "f", "names.arrow")  # moved to another index
    with pytest.raises(UnsealError, match="does not authenticate"):
        FileSealer(os.urandom(32), index_id).read_bytes(tmp_path / "f", "names.arrow")  # another key
    content = bytearray((tmp_path / "f").read_bytes())
    for at in (len(MAGIC), len(MAGIC) + 12, len(content) // 2, len(content) - 1):  # nonce, body, tag
        altered = content.copy()
        altered[at] ^= 0x40
        (tmp_path / "g").write_bytes(bytes(altered))
        with pytest.raises(UnsealError):
            sealer.read_bytes(tmp_path / "g", "names.arrow")
    (tmp_path / "g").write_bytes(bytes(content[:-1]))
    with pytest.raises(UnsealError):
        sealer.read_bytes(tmp_path / "g", "names.arrow")


def test_keyed_hash_depends_on_the_key_and_on_nothing_else():
    values = np.arange(1, 100_001, dtype=np.uint64)
    one, other = KeyedHash(os.urandom(32)), KeyedHash(os.urandom(32))
    np.testing.assert_array_equal(one(values), one(values))
    assert len(np.unique(one(values))) == len(values)
    assert not np.isin(one(values), other(values)).any()
    assert (one(values) != MISSING).all()
    assert (one(values)[:10] == np.concatenate([one(values[:5]), one(values[5:10])])).all()  # no state across calls


def test_two_indexes_under_one_master_key_share_no_token(population):
    key = MasterKey.generate()
    sample = population.slice(0, 2_000)
    first, second = Index.build(sample, key), Index.build(sample, key, encoded=True)
    assert first.keys.index_id != second.keys.index_id
    for name in ("token", "soundex", "metaphone", "initial"):
        assert not np.isin(getattr(first.records.names, name)[:-1], getattr(second.records.names, name)).any(), name
    assert not np.isin(first.records.postcodes.unit[:-1], second.records.postcodes.unit).any()
    assert not np.isin(first.records.nhs_number, second.records.nhs_number).any()
    assert np.isin(first.blocking.residuals, second.blocking.residuals).mean() < 0.01  # chance, 32-bit
