"""Inspections: small checks with one hook, run in the order of `registry.build_registry`."""
