"""xrepo.codegen: the compiler (config, inspect, plan, render, check, CLI)."""

from xrepo.runtime.schema import FORMAT_VERSION, Snapshot, dumps_snapshot, load_snapshot

__all__ = ["FORMAT_VERSION", "Snapshot", "dumps_snapshot", "load_snapshot"]
