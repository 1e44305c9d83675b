import json
import subprocess
import sys

import pyarrow.parquet as pq
import pytest

from synthetic.population import write_population
from synthetic.profiles import PROFILES
from synthetic.requests import generate_requests, write_requests

pytestmark = pytest.mark.slow  # every test here runs the command in a process of its own


def run(*args):
    return subprocess.run([sys.executable, "-m", "matcher", *args], capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def small_world(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    population = root / "population.parquet"
    write_population(population, 20_000, seed=21)
    request_set = generate_requests(population, 1_000, PROFILES["typical"], 0.3, seed=22)
    write_requests(request_set, root / "requests.parquet", root / "truth.parquet")
    done = run("build", "--population", str(population), "--out", str(root / "index"))
    assert done.returncode == 0, done.stderr
    return root


def test_trace_writes_the_contract_columns(small_world):
    out = small_world / "results.parquet"
    done = run(
        "trace",
        "--index",
        str(small_world / "index"),
        "--requests",
        str(small_world / "requests.parquet"),
        "--out",
        str(out),
        "--with-candidates",
    )
    assert done.returncode == 0, done.stderr
    assert "trace" in done.stderr  # the progress bar
    results = pq.read_table(out)
    assert results.column_names[:5] == ["request_id", "outcome", "probability", "matched_nhs_number", "candidates"]
    assert results.num_rows == 1_000
    assert set(results.column("outcome").to_pylist()) <= {"matched", "no_match", "ambiguous", "restricted"}

    report = small_world / "report"
    done = run(
        "evaluate", "--results", str(out), "--truth", str(small_world / "truth.parquet"), "--report", str(report)
    )
    assert done.returncode == 0, done.stderr
    assert "wrong-person disclosures" in done.stdout and "members lost by blocking" in done.stdout
    assert (report / "report.md").exists() and (report / "precision_recall.png").stat().st_size > 1000


def test_explain_shows_levels_and_weights(small_world):
    row = pq.read_table(small_world / "population.parquet").slice(5, 1).to_pylist()[0]
    request = {
        "given_name": row["given_name"],
        "family_name": row["family_name"],
        "date_of_birth": row["date_of_birth"].isoformat(),
    }
    png = small_world / "waterfall.png"
    done = run("explain", "--index", str(small_world / "index"), "--request", json.dumps(request), "--png", str(png))
    assert done.returncode == 0, done.stderr
    assert "date_of_birth   exact" in done.stdout and "bits" in done.stdout
    assert png.stat().st_size > 1000


@pytest.mark.parametrize(
    ("request_json", "message"),
    [
        ("{not json", "not valid JSON"),
        ('{"family_name": "SMITH"}', "needs date_of_birth"),
        ('{"family_name": "SMITH", "date_of_birth": "1980-01-01", "shoe_size": 9}', "unknown request fields"),
    ],
)
def test_explain_rejects_bad_requests_clearly(small_world, request_json, message):
    done = run("explain", "--index", str(small_world / "index"), "--request", request_json)
    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr


def test_missing_index_is_a_clear_error(tmp_path):
    done = run(
        "trace", "--index", str(tmp_path), "--requests", str(tmp_path / "r.parquet"), "--out", str(tmp_path / "o")
    )
    assert done.returncode == 2
    assert "not an index directory" in done.stderr


def test_demo_runs_end_to_end(tmp_path):
    done = run("demo", "--records", "5000", "--requests", "300", "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert "wrong-person disclosures" in done.stdout and "python -m matcher explain" in done.stdout
    assert (tmp_path / "report" / "report.md").exists()
