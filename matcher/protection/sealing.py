"""Files sealed at rest: each an AES-256-GCM ciphertext under the index's file subkey, bound to its index and name.

Keyed tokens and Bloom filters stop a thief from testing guesses, but not from counting: a column of
deterministic tokens is a frequency table, a set of filters is a similarity graph, and the side data beside them
(lengths, flags, orders) needs no key at all. Measured on the unsealed format, that gave back most people's names and
every date of birth. So every file of an index but its manifest is sealed whole, and what a thief holds is
ciphertext and the files' sizes.

A sealed file is ``MAGIC``, a random 96-bit nonce, the ciphertext, and the 128-bit tag. The associated data is the
index id and the file's name within the index, so a file moved from another index, or renamed within one, fails
to open: that is how a swapped or altered file is caught, whatever its size. Files are encrypted and decrypted in
chunks, streamed, so a file of any size needs no second copy in memory; nothing read is used before its tag
checks.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

MAGIC = b"TRSEAL1\n"
_NONCE = 12
_TAG = 16
_CHUNK = 1 << 24


_HEADER_READERS = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}


class UnsealError(ValueError):
    """A sealed file did not authenticate: altered, truncated, from another index, or under another key."""


class FileSealer:
    """Seals and opens the files of one index."""

    def __init__(self, key: bytes, index_id: str) -> None:
        self._algorithm = algorithms.AES(key)
        self._index_id = index_id

    def _associated_data(self, name: str) -> bytes:
        return f"tracing-index:{self._index_id}:{name}".encode()

    def write_bytes(self, path: Path, name: str, data: bytes | memoryview) -> None:
        with _SealedWriter(path, self._encryptor(name)) as sink:
            sink.write(data)

    def write_array(self, path: Path, name: str, array: np.ndarray) -> None:
        """An array in ``.npy`` form, sealed."""
        with _SealedWriter(path, self._encryptor(name)) as sink:
            np.save(sink, np.ascontiguousarray(array), allow_pickle=False)

    def read_bytes(self, path: Path, name: str) -> memoryview:
        size = path.stat().st_size - len(MAGIC) - _NONCE - _TAG
        if size < 0:
            raise UnsealError(f"{name} is too short to be a sealed file")
        # One spare block: update_into may hold back up to a block until the next call.
        out = bytearray(size + 16)
        view = memoryview(out)
        with path.open("rb") as source:
            if source.read(len(MAGIC)) != MAGIC:
                raise UnsealError(f"{name} is not a sealed file")
            decryptor = Cipher(self._algorithm, modes.GCM(source.read(_NONCE))).decryptor()
            decryptor.authenticate_additional_data(self._associated_data(name))
            chunk = bytearray(_CHUNK)
            written = 0
            remaining = size
            while remaining:
                got = source.readinto(memoryview(chunk)[: min(_CHUNK, remaining)])
                if not got:
                    raise UnsealError(f"{name} ended early")
                written += decryptor.update_into(memoryview(chunk)[:got], view[written:])
                remaining -= got
            tag = source.read(_TAG)
            try:
                decryptor.finalize_with_tag(tag)
            except (InvalidTag, ValueError) as error:
                raise UnsealError(f"{name} does not authenticate") from error
        return view[:size]

    def read_array(self, path: Path, name: str) -> np.ndarray:
        """An array written by ``write_array``, viewed over its decrypted bytes (no further copy)."""
        data = self.read_bytes(path, name)
        header = io.BytesIO(data[:4096])
        read_header = _HEADER_READERS.get(np.lib.format.read_magic(header))
        if read_header is None:
            raise UnsealError(f"{name} is not an array of a known .npy version")
        shape, fortran_order, dtype = read_header(header)
        if dtype.hasobject:
            raise UnsealError(f"{name} holds Python objects, which an index never does")
        count = int(np.prod(shape, dtype=np.int64))
        array = np.frombuffer(data, dtype=dtype, count=count, offset=header.tell())
        return array.reshape(shape, order="F" if fortran_order else "C")

    def _encryptor(self, name: str):
        nonce = os.urandom(_NONCE)
        encryptor = Cipher(self._algorithm, modes.GCM(nonce)).encryptor()
        encryptor.authenticate_additional_data(self._associated_data(name))
        return nonce, encryptor


class _SealedWriter(io.RawIOBase):
    """A write-only file that encrypts what it is given on its way to disk."""

    def __init__(self, path: Path, nonce_and_encryptor: tuple) -> None:
        super().__init__()
        nonce, self._encryptor = nonce_and_encryptor
        self._path = path
        self._file = path.open("wb")
        self._file.write(MAGIC + nonce)

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        view = memoryview(data).cast("B")
        for start in range(0, len(view), _CHUNK):
            self._file.write(self._encryptor.update(view[start : start + _CHUNK]))
        return len(view)

    def close(self) -> None:
        if not self.closed:
            self._file.write(self._encryptor.finalize() + self._encryptor.tag)
            self._file.close()
        super().close()

    def __exit__(self, kind, error, traceback) -> None:
        if kind is None:
            self.close()
            return
        # Half written: no tag, so that what is there can never pass as the whole file.
        self._file.close()
        self._path.unlink(missing_ok=True)
        super().close()
