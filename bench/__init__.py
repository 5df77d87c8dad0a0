"""Benchmarks (``make bench``): ``python -m bench.engine_bench``."""
