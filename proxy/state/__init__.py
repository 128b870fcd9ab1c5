"""Shared state behind one small interface (SQLite embedded default, Redis for replicas)."""
