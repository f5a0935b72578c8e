"""Fake media servers on loopback, for tests, benchmarks and ``idmap demo``."""
