"""An attack suite against a saved index: what an attacker learns from its files (the thief's view) or from the
service's memory (the memory-dump view), without the master key. Ground truth is read only to score guesses.

``python -m benchmarks.attacks --help``; ``benchmarks.attacks.run.run_attacks`` for tests.
"""
