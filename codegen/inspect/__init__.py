"""Inspectors: one module per source kind, each returning a ``Snapshot``."""
