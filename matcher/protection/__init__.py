"""Protection of the index: the deployment's keys and each index's own subkeys, keyed tokens and a keyed hash for
blocking keys, keyed Bloom-filter encodings of names, the masks that hide per-record values in memory, the sealed
(AES-GCM) disclosure payloads, and the sealing of every file at rest. What these forms do and do not hide, and what
an attack measured against each, is in docs/privacy.md.
"""
