"""Deterministic demo data for ``make run``, tests and benchmarks."""
