"""Drawbridge benchmarks: the hop benchmark (`python -m bench`) and the pipeline micro-benchmark.

See `bench/__main__.py` for usage. Loopback only; every load loop is bounded in count and time.
"""
