"""Deployment keys: one master secret per deployment, and purpose-specific subkeys derived from it with HKDF.

The master secret is 32 random bytes that never live in the repository. It is read, in this order, from the
``TRACING_MASTER_KEY`` environment variable (its text form), from the file named by ``TRACING_MASTER_KEY_FILE``,
or from ``~/.config/tracing-service/master.key``; ``python -m matcher keys init`` creates that file. Every subkey
(review cases, the register's chain, ...) is HKDF-SHA256 of the master secret with the purpose as ``info``, and
everything made with a key records the master key's id: a short HKDF output that names the key without revealing it.
An index's subkeys (``IndexKeys``) also carry the index's own random id in ``info``: two indexes built under one
master key share no token, no filter position and no file key, so neither is a dictionary for the other and their
records do not link. A missing, malformed or wrong key is an error at start-up, never a silent wrong answer.
"""

from __future__ import annotations

import base64
import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

KEY_ENVIRONMENT_VARIABLE = "TRACING_MASTER_KEY"
KEY_FILE_ENVIRONMENT_VARIABLE = "TRACING_MASTER_KEY_FILE"
DEFAULT_KEY_FILE = Path("~/.config/tracing-service/master.key")
_PREFIX = "tracing-master-key:v1:"
_SALT = b"tracing-service/v1"


class KeyConfigurationError(Exception):
    """Base for key problems; the message says what to do."""


class MissingKeyError(KeyConfigurationError):
    pass


class InvalidKeyError(KeyConfigurationError):
    pass


class WrongKeyError(KeyConfigurationError):
    pass


@dataclass(frozen=True)
class MasterKey:
    secret: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if len(self.secret) != 32:
            raise InvalidKeyError(f"a master key is 32 bytes, not {len(self.secret)}")

    @classmethod
    def generate(cls) -> MasterKey:
        return cls(os.urandom(32))

    def derive(self, purpose: str, length: int = 32) -> bytes:
        """The subkey for one purpose ("tokens", "payload", ...): knowing one subkey reveals no other."""
        hkdf = HKDF(algorithm=hashes.SHA256(), length=length, salt=_SALT, info=f"tracing/{purpose}".encode())
        return hkdf.derive(self.secret)

    def for_index(self, index_id: str) -> IndexKeys:
        """The subkeys of one index, from its id (``new_index_id()`` at build, then read from its manifest)."""
        if not INDEX_ID.fullmatch(index_id):
            raise InvalidKeyError("an index id is 32 hexadecimal digits")
        return IndexKeys(
            index_id=index_id,
            key_id=self.key_id,
            **{purpose: self.derive(f"index/{index_id}/{purpose}") for purpose in _INDEX_PURPOSES},
        )

    @property
    def key_id(self) -> str:
        """Names the key in manifests, ciphertexts and errors without revealing it."""
        return self.derive("key-id", 6).hex()

    def text(self) -> str:
        return _PREFIX + base64.urlsafe_b64encode(self.secret).decode()

    @classmethod
    def from_text(cls, text: str) -> MasterKey:
        text = text.strip()
        if not text.startswith(_PREFIX):
            raise InvalidKeyError("not a tracing master key (expected the text `python -m matcher keys init` writes)")
        try:
            secret = base64.urlsafe_b64decode(text[len(_PREFIX) :].encode())
        except ValueError as error:
            raise InvalidKeyError("the master key is not valid base64") from error
        return cls(secret)

    @classmethod
    def from_file(cls, path: Path | str) -> MasterKey:
        path = Path(path).expanduser()
        if not path.exists():
            raise MissingKeyError(f"no master key at {path}: create one with `python -m matcher keys init`")
        return cls.from_text(path.read_text())

    def write(self, path: Path | str) -> Path:
        """Write to a new file readable by its owner only; never over an existing key, never inside a git work
        tree (where it could be committed)."""
        path = Path(path).expanduser().absolute()
        if path.exists():
            raise FileExistsError(f"{path} exists: a key is never overwritten (rotate instead)")
        for parent in path.parents:
            if (parent / ".git").exists():
                raise ValueError(f"{path} is inside the git work tree {parent}: keep keys out of repositories")
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as fh:
            fh.write(self.text() + "\n")
        return path


@dataclass(frozen=True)
class IndexKeys:
    """The subkeys of one index: each for one purpose, none derivable from another or from another index's."""

    index_id: str
    key_id: str  # the master key's id
    tokens: bytes = field(repr=False)  # keyed tokens of values (names, postcodes, NHS numbers)
    names: bytes = field(repr=False)  # Bloom-filter positions and diffusion (encoded mode)
    blocking: bytes = field(repr=False)  # the keyed permutation every blocking key passes through
    payload: bytes = field(repr=False)  # the records' sealed payloads
    files: bytes = field(repr=False)  # the index's files, sealed at rest
    rows: bytes = field(repr=False)  # the pads that mask per-record values in memory


_INDEX_PURPOSES = ("tokens", "names", "blocking", "payload", "files", "rows")
INDEX_ID = re.compile(r"[0-9a-f]{32}")


def new_index_id() -> str:
    """A random id for a new index (128 bits: two indexes never share one)."""
    return secrets.token_hex(16)


def load_master_key(environment: Mapping[str, str] | None = None) -> MasterKey:
    """The deployment's master key from the environment variable, the file it names, or the default file."""
    environment = os.environ if environment is None else environment
    if environment.get(KEY_ENVIRONMENT_VARIABLE):
        return MasterKey.from_text(environment[KEY_ENVIRONMENT_VARIABLE])
    return MasterKey.from_file(environment.get(KEY_FILE_ENVIRONMENT_VARIABLE) or DEFAULT_KEY_FILE)
