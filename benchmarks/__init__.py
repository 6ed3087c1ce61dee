"""Benchmarks of airflow-provider-rtk: ``python -m benchmarks`` (or ``make bench``).

Every number is printed next to a peer measured in the same run, as a ratio (ours / peer); nothing here
asserts a time. This package imports nothing at import time, so ``python -m benchmarks.parse_worker``
starts as a fresh interpreter would.
"""
