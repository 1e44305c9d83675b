"""Protection of data at rest: the deployment's keys, keyed tokens, keyed Bloom-filter encodings of names, keyed
date tokens, and the sealed (AES-GCM) disclosure payloads. An index holds NHS numbers, dates of birth, postcodes
and addresses only in these forms; names too in encoded mode (plaintext mode keeps their spelling, which it
compares). What these forms do not hide is in docs/privacy.md.
"""
