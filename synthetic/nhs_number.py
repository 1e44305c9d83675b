"""NHS numbers: modulus-11 check digits, and unique numbers from the unissued 9xx range."""

from __future__ import annotations

import numpy as np

# Weights 10..2 applied to the first nine digits (NHS Data Dictionary).
_WEIGHTS = np.arange(10, 1, -1, dtype=np.int64)
_FIRST_BASE = 900_000_000
_BASE_COUNT = 100_000_000  # 900000000 .. 999999999: never issued to real people


def check_digits(bases: np.ndarray) -> np.ndarray:
    """Check digit of each nine-digit base; 10 marks a base that has no valid number."""
    bases = np.asarray(bases, dtype=np.int64)
    total = np.zeros(bases.shape, dtype=np.int64)
    rest = bases.copy()
    # Digits from the right carry weights 2, 3, ... 10; a loop over 9 digits keeps memory at O(n).
    for weight in _WEIGHTS[::-1]:
        total += (rest % 10) * weight
        rest //= 10
    remainder = total % 11
    check = 11 - remainder
    return np.where(check == 11, 0, check)


def is_valid(nhs_number: str) -> bool:
    """True for a ten-digit string whose last digit is its modulus-11 check digit."""
    if len(nhs_number) != 10 or not nhs_number.isdigit():
        return False
    check = check_digits(np.array([int(nhs_number[:9])]))[0]
    return check != 10 and check == int(nhs_number[9])


def unique_test_range_numbers(count: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` distinct valid NHS numbers from the 9xx range, as int64, in random order."""
    if count > 0.9 * _BASE_COUNT:
        raise ValueError(f"the 9xx range holds about 90 million valid numbers; asked for {count}")
    chosen = np.empty(0, dtype=np.int64)
    while chosen.size < count:
        draw = rng.integers(0, _BASE_COUNT, size=int((count - chosen.size) * 1.15) + 16) + _FIRST_BASE
        check = check_digits(draw)
        numbers = draw[check != 10] * 10 + check[check != 10]
        chosen = np.unique(np.concatenate([chosen, numbers]))
    # np.unique sorts; a permutation restores randomness before truncation.
    return rng.permutation(chosen)[:count]
