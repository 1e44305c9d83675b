import subprocess
import sys

import pyarrow.parquet as pq
import pytest

pytestmark = pytest.mark.slow  # every test here runs the command in a process of its own


def run(*args):
    return subprocess.run([sys.executable, "-m", "synthetic", *args], capture_output=True, text=True, timeout=300)


def test_population_and_requests_commands(tmp_path):
    population = tmp_path / "p.parquet"
    done = run("population", "--records", "5000", "--seed", "3", "--out", str(population))
    assert done.returncode == 0, done.stderr
    assert "5,000 records" in done.stdout
    assert "population" in done.stderr  # the progress bar
    assert pq.read_metadata(population).num_rows == 5000
    done = run(
        "requests",
        "--population",
        str(population),
        "--count",
        "300",
        "--profile",
        "hard",
        "--non-member-rate",
        "0.3",
        "--seed",
        "2",
        "--out",
        str(tmp_path / "r.parquet"),
        "--truth",
        str(tmp_path / "t.parquet"),
    )
    assert done.returncode == 0, done.stderr
    assert pq.read_metadata(tmp_path / "r.parquet").num_rows == 300
    assert pq.read_table(tmp_path / "t.parquet").column("nhs_number").null_count == 90


def test_bad_arguments_fail_clearly(tmp_path):
    done = run("population", "--records", "-5", "--seed", "1", "--out", str(tmp_path / "p.parquet"))
    assert done.returncode == 2 and "positive" in done.stderr
    done = run(
        "requests", "--population", str(tmp_path / "missing.parquet"), "--count", "10", "--out", "r", "--truth", "t"
    )
    assert done.returncode == 2 and "does not exist" in done.stderr
    done = run("requests", "--population", "x", "--count", "10", "--non-member-rate", "2", "--out", "r", "--truth", "t")
    assert done.returncode == 2 and "between 0 and 1" in done.stderr


def test_negative_seed_is_a_clear_error(tmp_path):
    done = run("population", "--records", "10", "--seed", "-2", "--out", str(tmp_path / "p.parquet"))
    assert done.returncode == 2 and "0 or more" in done.stderr and "Traceback" not in done.stderr
