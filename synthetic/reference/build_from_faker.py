"""Rebuild the name reference tables shipped in this folder.

Run once by a maintainer (``pip install -e ".[reference]"`` then
``python -m synthetic.reference.build_from_faker``); the generator itself reads
only the CSV files, so results never depend on the installed Faker version.

Sources:
- ``surnames.csv``: Faker's ``en_GB`` surname table is the ONS-derived list of
  the 500 commonest surnames in England and Wales with their share of the
  population in percent (SMITH 1.15, ..., the 500 together 39.5%). The long
  tail beyond rank 500 is every Latin-script surname in Faker's other locales
  (Irish, US, South Asian, European, African ...) ordered by a weighted shuffle
  that favours British and Irish names, followed by rare English toponymic
  compounds. Tail weights continue the ONS curve as a power law chosen so that
  all weights add up to 100%.
- ``given_name_pool.csv``: sex-specific first names from the same locales, the
  tail of the per-decade distributions in ``given_names_by_decade.csv`` (which
  is hand-transcribed from the ONS historical top-100 baby names lists).
"""

from __future__ import annotations

import csv
import importlib
import unicodedata
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent

# Locale groups and their weight in the order of the surname tail.
LOCALE_GROUPS: dict[str, tuple[float, tuple[str, ...]]] = {
    "british_irish": (6.0, ("en_IE", "en", "en_NZ")),
    "american": (2.5, ("en_US",)),
    "south_asian": (2.5, ("en_IN", "en_PK")),
    "european": (
        1.2,
        (
            "it_IT",
            "de_DE",
            "de_AT",
            "fr_FR",
            "es_ES",
            "pt_PT",
            "nl_NL",
            "sk_SK",
            "cs_CZ",
            "hr_HR",
            "sv_SE",
            "fi_FI",
            "et_EE",
            "lv_LV",
            "sl_SI",
            "hu_HU",
            "ro_RO",
            "da_DK",
        ),
    ),
    "african": (1.0, ("en_KE", "yo_NG", "en_NG", "ig_NG", "ha_NG", "tw_GH", "zu_ZA")),
    "other": (0.6, ("tr_TR", "az_AZ", "uz_UZ", "id_ID", "vi_VN", "en_TH", "pt_BR", "es_MX", "es_CO")),
}

TOPONYM_PREFIXES = [
    "ASH",
    "BLACK",
    "BRAD",
    "BROOK",
    "CALD",
    "CHAT",
    "CLIF",
    "COLD",
    "CRAN",
    "DARN",
    "ELM",
    "FAIR",
    "FERN",
    "GOLD",
    "GREEN",
    "HAL",
    "HART",
    "HAW",
    "HOL",
    "KING",
    "LANG",
    "LEA",
    "MARS",
    "MID",
    "MOR",
    "NEW",
    "NOR",
    "OAK",
    "OLD",
    "PEN",
    "RAD",
    "RAV",
    "RED",
    "ROTH",
    "SAL",
    "SHEL",
    "SHER",
    "STAN",
    "STOCK",
    "SUN",
    "THORN",
    "WAL",
    "WATER",
    "WEST",
    "WHIT",
    "WIN",
    "WOR",
    "ALD",
    "BIRCH",
    "BRAM",
    "BUCK",
    "CARL",
    "DUN",
    "EAST",
    "FOX",
    "HEATH",
    "HIGH",
    "LOCK",
    "MILL",
    "NETH",
    "ORM",
    "PORT",
    "RUSH",
    "SAND",
    "SCAR",
    "SOUTH",
    "STAIN",
    "SWIN",
    "TAM",
    "UP",
    "WEL",
    "WYN",
    "YARD",
]
TOPONYM_MIDDLES = ("", "", "", "ING", "ER", "LE", "EN")
TOPONYM_SUFFIXES = [
    "BY",
    "FORD",
    "HAM",
    "LEY",
    "TON",
    "WORTH",
    "WOOD",
    "FIELD",
    "DALE",
    "WELL",
    "BURY",
    "COMBE",
    "HURST",
    "SHAW",
    "THORPE",
    "WICK",
    "STEAD",
    "BRIDGE",
    "CROFT",
    "GATE",
    "LOW",
    "MORE",
    "STONE",
    "LAND",
    "HOLME",
    "CLIFFE",
    "DEN",
    "MERE",
]


def ascii_upper(name: str) -> str:
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return " ".join(folded.upper().split())


def is_plain_name(name: str) -> bool:
    return bool(name) and name.replace("-", "").replace("'", "").replace(" ", "").isalpha()


def locale_provider(locale: str):
    return importlib.import_module(f"faker.providers.person.{locale}").Provider


def build_surnames(rng: np.random.Generator) -> list[tuple[str, float, str]]:
    top = locale_provider("en_GB").last_names
    rows = [(ascii_upper(n), float(w), "ons_top500") for n, w in sorted(top.items(), key=lambda kv: -kv[1])]
    seen = {r[0] for r in rows}

    keyed: list[tuple[float, str, str]] = []
    for group, (weight, locales) in LOCALE_GROUPS.items():
        for locale in locales:
            for raw in locale_provider(locale).last_names:
                name = ascii_upper(raw)
                if not is_plain_name(name) or name in seen:
                    continue
                seen.add(name)
                # Efraimidis-Spirakis weighted shuffle: larger key sorts first.
                keyed.append((rng.random() ** (1.0 / weight), name, group))
    keyed.sort(reverse=True)
    tail = [(name, group) for _, name, group in keyed]

    toponyms = []
    for prefix in TOPONYM_PREFIXES:
        for middle in TOPONYM_MIDDLES:
            for suffix in TOPONYM_SUFFIXES:
                name = prefix + middle + suffix
                if name not in seen:
                    seen.add(name)
                    toponyms.append(name)
    rng.shuffle(toponyms)
    tail += [(name, "toponym") for name in toponyms]

    top_total = sum(r[1] for r in rows)
    last_top_weight = rows[-1][1]
    ranks = np.arange(len(rows) + 1, len(rows) + len(tail) + 1, dtype=float)
    exponent = solve_tail_exponent(ranks, len(rows), last_top_weight, 100.0 - top_total)
    weights = last_top_weight * (len(rows) / ranks) ** exponent
    rows += [(name, float(w), group) for (name, group), w in zip(tail, weights, strict=True)]
    return rows


def solve_tail_exponent(ranks: np.ndarray, anchor: int, anchor_weight: float, target: float) -> float:
    low, high = 0.1, 3.0
    for _ in range(60):
        mid = (low + high) / 2
        total = (anchor_weight * (anchor / ranks) ** mid).sum()
        low, high = (mid, high) if total > target else (low, mid)
    return (low + high) / 2


def build_given_name_pool() -> list[tuple[str, str, str]]:
    rows: list[tuple[str, str, str]] = []
    seen: set[tuple[str, str]] = set()
    for group, (_, locales) in LOCALE_GROUPS.items():
        for locale in ("en_GB", *locales):
            provider = locale_provider(locale)
            for sex, attr in (("male", "first_names_male"), ("female", "first_names_female")):
                for raw in getattr(provider, attr, ()) or ():
                    name = ascii_upper(raw)
                    if " " in name or not is_plain_name(name) or (name, sex) in seen:
                        continue
                    seen.add((name, sex))
                    rows.append((name, sex, "british_irish" if locale == "en_GB" else group))
    return rows


def main() -> None:
    rng = np.random.default_rng(20170101)
    surnames = build_surnames(rng)
    with open(HERE / "surnames.csv", "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["family_name", "percent", "source"])
        writer.writerows((n, f"{w:.6g}", s) for n, w, s in surnames)
    with open(HERE / "given_name_pool.csv", "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["given_name", "sex", "source"])
        writer.writerows(build_given_name_pool())
    print(f"{len(surnames)} surnames, pool written to {HERE}")


if __name__ == "__main__":
    main()
