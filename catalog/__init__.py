"""Synthetic catalog generator: brand kits, posters, manifests, injected defects, ground truth.

Serves the demo, the tests and the benchmarks. Deterministic from a seed.
"""
