"""Benchmarks: `python -m bench` runs them all and prints tables; results go in bench/RESULTS.md."""
