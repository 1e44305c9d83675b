"""Index build and its storage format: records, blocking keys, name frequencies and sealed payloads, saved as a
directory that loads memory-mapped."""

from matcher.index.index import Index
from matcher.index.rotation import rotate_index
from matcher.index.storage import FORMAT_VERSION, DamagedIndexError

__all__ = ["FORMAT_VERSION", "DamagedIndexError", "Index", "rotate_index"]
