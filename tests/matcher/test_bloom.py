"""Keyed, diffused Bloom-filter encodings of names keep similarity and nothing readable."""

import os

import numpy as np

from matcher.protection.bloom import BloomEncoder, hamming_similarity

ENCODER = BloomEncoder(os.urandom(32))


def similarity(a: str, b: str, encoder: BloomEncoder = ENCODER) -> float:
    return float(hamming_similarity(encoder.encode([a]), encoder.encode([b]))[0])


def test_similarity_orders_names_as_spelling_does():
    assert similarity("SMITH", "SMITH") == 1.0
    for typo, other in [("SMYTH", "JONES"), ("KATHERINE", "MARGARET"), ("ANN", "ZOE")]:
        name = {"SMYTH": "SMITH", "KATHERINE": "CATHERINE", "ANN": "ANNE"}[typo]
        assert similarity(name, typo) > similarity(name, other) + 0.03  # worst of 200 keys: 0.065


def test_encodings_depend_on_the_key_and_are_deterministic_under_it():
    names = ["SMITH", "JONES", None]
    first = ENCODER.encode(names)
    assert first.shape == (3, ENCODER.bits // 64) and first.dtype == np.uint64
    np.testing.assert_array_equal(first, ENCODER.encode(names))
    other = BloomEncoder(os.urandom(32)).encode(names)
    assert not np.array_equal(first[:2], other[:2])
    assert not first[2].any()  # a missing name encodes to nothing


def test_diffusion_spreads_each_bigram_over_many_output_bits():
    # Without diffusion (one tap) a bigram owns about `hashes` bits; with three taps each of its bits feeds about
    # three output bits, so changing one letter changes about three times as many.
    key = os.urandom(32)
    left, right = ["AB", "SMITH", "JONES", "MARY"], ["AC", "SMYTH", "JONAS", "MARK"]

    def changed(encoder: BloomEncoder) -> int:
        return int(np.bitwise_count(encoder.encode(left) ^ encoder.encode(right)).sum())

    assert changed(BloomEncoder(key, taps=3)) > 1.8 * changed(BloomEncoder(key, taps=1))  # 2.3-3x over 200 keys
