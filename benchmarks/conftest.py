"""Benchmarks: run with ``pytest benchmarks`` (not part of CI; timings belong here, not in tests)."""
