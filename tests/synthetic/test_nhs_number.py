import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from synthetic.nhs_number import check_digits, is_valid, unique_test_range_numbers


def test_published_example_is_valid():
    # The NHS Data Dictionary's worked example.
    assert is_valid("9434765919")
    assert not is_valid("9434765918")
    assert not is_valid("943476591")
    assert not is_valid("94347659x9")


@given(st.integers(min_value=100_000_000, max_value=999_999_999))
def test_check_digit_matches_definition(base):
    digits = [int(d) for d in str(base)]
    remainder = sum(d * w for d, w in zip(digits, range(10, 1, -1), strict=True)) % 11
    expected = {11: 0}.get(11 - remainder, 11 - remainder)
    assert check_digits(np.array([base]))[0] == expected


def test_unique_numbers_are_valid_distinct_and_in_9xx_range():
    numbers = unique_test_range_numbers(50_000, np.random.default_rng(1))
    assert len(np.unique(numbers)) == 50_000
    assert ((numbers >= 9_000_000_000) & (numbers <= 9_999_999_999)).all()
    assert all(is_valid(str(n)) for n in numbers[:2000])
