"""The attack suite (``benchmarks/attacks``) against small indexes of both modes: what an attacker without the key
gets from the files (the thief's view), from the loaded index (a dump of its memory without the keys), and, as
the attacks' positive control, from the loaded index with its records unmasked.

The control is what keeps the bounds honest: a zero from an attack that could not have found anything anyway would
prove nothing, so the same attacks must recover names, dates, restricted flags and links where the data is there
(and the blocking-key dictionary attack must recover dates from blocking keys made the way format 4 made them).
"""

from __future__ import annotations

import os

import numpy as np
import pyarrow.parquet as pq
import pytest

from benchmarks.attacks.blocking_dictionary import blocking_dictionary
from benchmarks.attacks.blocking_groups import groups
from benchmarks.attacks.bloom_graph import bloom_graph
from benchmarks.attacks.frequency_alignment import frequency_alignment
from benchmarks.attacks.guesses import aligned_to_index, load_truth, score
from benchmarks.attacks.plaintext_scan import plaintext_scan
from benchmarks.attacks.run import AttackReport, run_attacks
from benchmarks.attacks.side_data import side_data
from benchmarks.attacks.views import files_view, memory_view, unmasked_view
from matcher.blocking import BlockingIndex
from matcher.index import Index
from synthetic.population import write_population

RECORDS = 20_000
MODES = ("plaintext", "encoded")
VIEWS = ("files", "memory", "unmasked")


@pytest.fixture(scope="module")
def world(tmp_path_factory, master_key):
    root = tmp_path_factory.mktemp("attacks")
    population = root / "population.parquet"
    write_population(population, RECORDS, seed=23)
    table = pq.read_table(population)
    for mode in MODES:
        Index.build(table, master_key, encoded=mode == "encoded").save(root / mode)
    return root


@pytest.fixture(scope="module")
def reports(world, master_key) -> dict[tuple[str, str], AttackReport]:
    """(mode, view) -> report, each view linked to the same view of the other mode's index (one master key)."""
    return {
        (mode, view): run_attacks(
            world / mode, world / "population.parquet", other_index=world / other, view=view, key=master_key
        )
        for mode, other in zip(MODES, reversed(MODES), strict=True)
        for view in VIEWS
    }


@pytest.mark.slow  # with the next two: about a minute, two 20,000-record indexes attacked from six views
def test_the_attacks_take_what_is_there_to_take(reports):
    for mode in MODES:
        unmasked = reports[(mode, "unmasked")]
        assert unmasked.recovered("plaintext_scan", "date_of_birth") > 0.99, mode
        assert unmasked.recovered("side_data", "restricted") == 1.0, mode
        assert unmasked.restricted_identified > 0, mode
        assert unmasked.linkage is not None and unmasked.linkage.right > 0, mode  # by the rows' shapes, keyless
    plaintext, encoded = reports[("plaintext", "unmasked")], reports[("encoded", "unmasked")]
    assert plaintext.recovered("plaintext_scan", "family") > 0.99
    assert plaintext.reidentified_share > 0.99
    assert encoded.recovered("plaintext_scan", "family") == 0  # no name in clear...
    assert encoded.recovered("bloom_graph", "family") > 0.5  # ...but the filters give them away
    assert encoded.reidentified_share > 0.4


class _Unkeyed:
    """Blocking keys as format 4 stored them: the public fold, no keyed hash, postings in clear."""

    def __call__(self, keys: np.ndarray) -> np.ndarray:
        return np.asarray(keys, dtype=np.uint64)

    def mask(self, column, values, positions=None):
        return values

    def unmask(self, column, values, dtype, positions=None):
        return values


@pytest.mark.slow
def test_the_blocking_dictionary_recovers_dates_from_unkeyed_blocking_keys(world, master_key):
    index = Index.load(world / "encoded", master_key)
    unkeyed = BlockingIndex.build(index.records.unmasked(), index.rules, _Unkeyed(), _Unkeyed())
    view = unmasked_view(world / "encoded", master_key)
    view |= {f"blocking.{name}": getattr(unkeyed, name) for name in ("directory", "residuals", "rows")}
    view.pop("records.date_of_birth")  # dates only from the keys
    truth = aligned_to_index(load_truth(world / "population.parquet"), world / "encoded", master_key)
    scores = {s.field: s for s in score(blocking_dictionary(view), truth)}
    assert scores["date_of_birth"].recovered > 0.9 * RECORDS
    # The same attack against the index's own, keyed, blocking keys finds nothing, even with every record unmasked.
    view = unmasked_view(world / "encoded", master_key)
    view.pop("records.date_of_birth")
    keyed = {s.field: s for s in score(blocking_dictionary(view), truth)}
    assert keyed.get("date_of_birth") is None or keyed["date_of_birth"].recovered <= 0.001 * RECORDS


@pytest.mark.slow
def test_the_blocking_index_groups_rows_only_when_its_postings_are_unmasked(world, master_key):
    """The structure the red team clustered into families (rows sharing blocking groups) is there unmasked, and not
    in the memory a service holds."""
    n = RECORDS
    for mode in MODES:
        group, row = groups(unmasked_view(world / mode, master_key))
        shared = np.bincount(group)[group] >= 2
        assert (row < n).all() and shared.sum() > 1_000, mode  # about 5,000 postings at 20,000 records
        _, masked = groups(memory_view(world / mode, master_key))
        assert (masked >= n).mean() > 0.99, mode  # not row numbers: nothing to group by


@pytest.mark.slow
@pytest.mark.parametrize("view", ["files", "memory"])
def test_without_the_key_nobody_is_named(reports, view):
    for mode in MODES:
        report = reports[(mode, view)]
        assert report.reidentified_share <= 0.001, (mode, view)
        assert report.dob_share <= 0.001, (mode, view)
        assert report.restricted_identified == 0, (mode, view)
        assert report.linkage is not None and report.linkage.right == 0, (mode, view)
        for name in ("family", "given", "postcode", "nhs_number", "date_of_birth"):
            assert report.recovered("combined", name) <= 0.001, (mode, view, name)


@pytest.mark.parametrize("suffixes", [(".npy", ".arrow", ".json"), (".bin",)])
def test_ciphertext_files_are_opaque_and_attacks_skip_them(tmp_path, suffixes):
    """What a sealed index looks like to the suite: unparseable files become bytes, and no attack fails on them."""
    rng = np.random.default_rng(7)
    (tmp_path / "arrays").mkdir()
    for name in ("records.family", "records.sex", "names.clk", "blocking.rows", "restricted"):
        for suffix in suffixes:
            (tmp_path / "arrays" / f"{name}{suffix}").write_bytes(rng.bytes(4096))
    (tmp_path / "manifest.json").write_bytes(os.urandom(64) if ".json" in suffixes else b'{"format_version": 6}')
    view = files_view(tmp_path)
    assert all(key.startswith("raw:") for key in view if key != "manifest")
    for attack in (plaintext_scan, blocking_dictionary, frequency_alignment, side_data, bloom_graph):
        result = attack(view)
        assert all(all(g is None for g in column) for column in result.guesses.values()), attack.__name__
