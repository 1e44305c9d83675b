"""Index build and its storage format: records, blocking keys, name frequencies and sealed payloads, saved as a
directory of sealed files that loads into memory."""

from matcher.index.index import Index
from matcher.index.rotation import rotate_index
from matcher.index.storage import FORMAT_VERSION, DamagedIndexError, OldIndexFormatError

__all__ = ["FORMAT_VERSION", "DamagedIndexError", "Index", "OldIndexFormatError", "rotate_index"]
