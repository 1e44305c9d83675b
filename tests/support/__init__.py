"""Helpers the tests of several packages share (fixtures are in the conftest files)."""
