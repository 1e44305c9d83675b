"""How much a trace request drifts from the index: the clean, typical and hard profiles.

Rates are shares of requests. ``typical`` follows the issue's calibration, itself
in line with published UK linkage studies (HES-ONS and MPS trace evaluations
report 10-20% name disagreement, 1-3% date-of-birth error and postcode
discordance driven by moves): about 12% of given names and 18% of family names
differ, about 2% of dates of birth are wrong and about half of the postcodes are
stale or missing. ``hard`` roughly doubles each rate; ``clean`` changes nothing.
Within a field, the kind of error is drawn from the weights below, among the
kinds that can apply to the value (a nickname needs a name that has one).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

GIVEN_NAME_KINDS = {
    "nickname": 3.0,
    "typo_keyboard": 1.0,
    "typo_insert": 0.8,
    "typo_delete": 0.8,
    "typo_transpose": 0.8,
    "phonetic": 1.5,
    "ocr": 0.4,
    "middle_as_first": 1.5,
    "swapped_names": 0.4,
    "missing": 0.6,
    "format": 0.6,
}
FAMILY_NAME_KINDS = {
    "previous_name": 5.0,
    "compound_shortened": 4.0,
    "typo_keyboard": 1.2,
    "typo_insert": 1.0,
    "typo_delete": 1.0,
    "typo_transpose": 1.0,
    "phonetic": 2.5,
    "ocr": 0.5,
    "swapped_names": 0.4,
    "format": 0.8,
}
DATE_OF_BIRTH_KINDS = {
    "day_month_swap": 2.5,
    "digit_error": 3.0,
    "year_off_by_one": 2.0,
    "first_of_january": 1.5,
    "digit_transposition": 1.0,
}
POSTCODE_ERROR_KINDS = {"typo": 2.0, "outward_only": 2.0, "format": 1.0}
ADDRESS_ERROR_KINDS = {"typo_keyboard": 1.0, "typo_delete": 1.0, "abbreviation": 2.0}


@dataclass(frozen=True)
class CorruptionProfile:
    name: str
    given_name: float = 0.0
    family_name: float = 0.0
    date_of_birth: float = 0.0
    # Of requests about someone with an earlier address, the share that gives an earlier one.
    postcode_stale: float = 0.0
    postcode_missing: float = 0.0
    postcode_error: float = 0.0
    address_missing: float = 0.0
    address_error: float = 0.0
    other_given_missing: float = 0.0
    other_given_extra: float = 0.0
    sex_missing: float = 0.0
    sex_wrong: float = 0.0
    nhs_number_typo: float = 0.0
    # Not an error: how often a caseworker knows the NHS number at all.
    nhs_number_known: float = 0.05
    given_name_kinds: dict[str, float] = field(default_factory=lambda: dict(GIVEN_NAME_KINDS))
    family_name_kinds: dict[str, float] = field(default_factory=lambda: dict(FAMILY_NAME_KINDS))
    date_of_birth_kinds: dict[str, float] = field(default_factory=lambda: dict(DATE_OF_BIRTH_KINDS))

    def scaled(self, factor: float, name: str) -> CorruptionProfile:
        rates = {f: min(getattr(self, f) * factor, cap) for f, cap in _CAPS.items()}
        return replace(self, name=name, **rates)


_CAPS = {
    "given_name": 0.5,
    "family_name": 0.5,
    "date_of_birth": 0.2,
    "postcode_stale": 0.75,
    "postcode_missing": 0.4,
    "postcode_error": 0.2,
    "address_missing": 0.7,
    "address_error": 0.2,
    "other_given_missing": 0.7,
    "other_given_extra": 0.1,
    "sex_missing": 0.3,
    "sex_wrong": 0.05,
    "nhs_number_typo": 0.2,
}

TYPICAL = CorruptionProfile(
    name="typical",
    given_name=0.12,
    family_name=0.18,
    date_of_birth=0.02,
    postcode_stale=0.45,
    postcode_missing=0.25,
    postcode_error=0.04,
    address_missing=0.35,
    address_error=0.04,
    other_given_missing=0.3,
    other_given_extra=0.02,
    sex_missing=0.05,
    sex_wrong=0.005,
    nhs_number_typo=0.03,
)
PROFILES = {
    "clean": CorruptionProfile(name="clean"),
    "typical": TYPICAL,
    "hard": TYPICAL.scaled(2.0, "hard"),
}
