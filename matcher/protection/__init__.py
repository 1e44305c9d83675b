"""Protection of data at rest: the deployment's keys, keyed tokens, keyed Bloom-filter encodings of names, keyed
date tokens, and the sealed (AES-GCM) disclosure payloads. Every other stage holds identifiers only in these forms.
"""
