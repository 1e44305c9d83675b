"""Character-level errors after FEBRL/GeCo: a neighbouring key, an OCR confusion, a phonetic respelling, an edit."""

from __future__ import annotations

import numpy as np

KEYBOARD = {
    row[i]: row[max(i - 1, 0)] + row[min(i + 1, len(row) - 1)]
    for row in ("QWERTYUIOP", "ASDFGHJKL", "ZXCVBNM")
    for i in range(len(row))
}
"""Each letter's left and right neighbour on a QWERTY keyboard (GeCo's keyboard error, row-wise)."""
OCR = (
    ("O", "0"),
    ("I", "1"),
    ("L", "1"),
    ("S", "5"),
    ("B", "8"),
    ("G", "6"),
    ("Z", "2"),
    ("RN", "M"),
    ("CL", "D"),
    ("VV", "W"),
    ("E", "F"),
    ("H", "N"),
)
PHONETIC = (
    ("PH", "F"),
    ("CK", "K"),
    ("Y", "I"),
    ("IE", "Y"),
    ("EE", "EA"),
    ("C", "K"),
    ("Z", "S"),
    ("AI", "AY"),
    ("OU", "OW"),
    ("EI", "IE"),
    ("TH", "T"),
    ("KN", "N"),
    ("WR", "R"),
    ("GH", "G"),
    ("SCH", "SH"),
    ("LL", "L"),
    ("NN", "N"),
    ("TT", "T"),
    ("SS", "S"),
    ("MM", "M"),
    ("RR", "R"),
    ("EY", "Y"),
)


def keyboard_typo(text: str, rng: np.random.Generator) -> str:
    positions = [i for i, c in enumerate(text) if c.upper() in KEYBOARD]
    i = int(rng.choice(positions))
    neighbours = KEYBOARD[text[i].upper()].replace(text[i].upper(), "") or text[i]
    return text[:i] + str(rng.choice(list(neighbours))) + text[i + 1 :]


def ocr_error(text: str, rng: np.random.Generator) -> str | None:
    upper = text.upper()
    options = [(a, b) for a, b in OCR if a in upper] + [(b, a) for a, b in OCR if b in upper]
    if not options:
        return None
    a, b = options[int(rng.integers(len(options)))]
    i = upper.index(a)
    return upper[:i] + b + upper[i + len(a) :]


def phonetic_respelling(text: str, rng: np.random.Generator) -> str | None:
    upper = text.upper()
    options = [(a, b) for a, b in PHONETIC if a in upper[1:]]
    if not options:
        return None
    a, b = options[int(rng.integers(len(options)))]
    i = upper.index(a, 1)
    return upper[:i] + b + upper[i + len(a) :]


def edit(text: str, rng: np.random.Generator) -> str:
    """One inserted, deleted or transposed character, not the first (GeCo's edit errors)."""
    i = int(rng.integers(1, len(text)))
    kind = rng.integers(3)
    if kind == 0:
        return text[:i] + chr(ord("A") + int(rng.integers(26))) + text[i:]
    if kind == 1 or i == len(text) - 1:
        return text[:i] + text[i + 1 :]
    return text[:i] + text[i + 1] + text[i] + text[i + 2 :]
