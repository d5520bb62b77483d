"""Introspection of live sources into snapshots: what a resource's ``discover_schema`` runs and
what ``xrepo inspect`` orchestrates. Standard library only (plus the snapshot models), so the
runtime can discover a schema without the compiler installed."""
