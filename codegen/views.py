"""Views from config: ``[[tool.xrepo.views]]`` → a snapshot of the joined schema.

A view's snapshot is computed from its sources' snapshots with the runtime's own planner
(:func:`xrepo.runtime.view_keys.plan_view`), so the generated model has exactly the fields the
runtime view produces — key casts and prefixes included. Its source kind is ``memory`` (a view
is materialized) and its one collection has kind ``view``.
"""

from __future__ import annotations

from collections.abc import Mapping

from xrepo.runtime.errors import ConfigurationError
from xrepo.runtime.schema import Snapshot, SourceInfo, load_snapshot
from xrepo.runtime.view_keys import plan_view

from .config import ConfigError, Project, ViewConfig


def view_snapshot(view: ViewConfig, snapshots: Mapping[str, Snapshot]) -> Snapshot:
    """The snapshot of ``view`` given its sources' snapshots (source name → snapshot)."""
    sides = []
    for side in view.sources:
        snap = snapshots.get(side.source)
        if snap is None:
            raise ConfigError(
                f"view {view.name!r}: no snapshot of source {side.source!r} "
                f"(run `xrepo inspect {side.source}`)"
            )
        try:
            spec = snap.collection(side.collection)
        except KeyError:
            listed = ", ".join(c.name for c in snap.collections)
            raise ConfigError(
                f"view {view.name!r}: source {side.source!r} has no collection "
                f"{side.collection!r} (it has: {listed})"
            ) from None
        sides.append((side.name, spec, side.key))
    try:
        plan = plan_view(view.name, sides, view.type, view.join_config(), prefix=view.prefix)
    except ConfigurationError as exc:
        raise ConfigError(str(exc)) from None
    return Snapshot(
        source=SourceInfo(name=view.name, kind="memory"), collections=(plan.merged.spec,)
    )


def view_snapshots(project: Project, inspected: Mapping[str, Snapshot]) -> dict[str, Snapshot]:
    """Snapshots of the configured views that join a just-inspected source; their other
    sources' snapshots are read from the schemas directory."""
    out: dict[str, Snapshot] = {}
    for view in project.config.views:
        used = {side.source for side in view.sources}
        if not used & set(inspected):
            continue
        known = dict(inspected)
        for source in sorted(used - set(inspected)):
            path = project.schemas_dir / f"{source}.json"
            if not path.is_file():
                raise ConfigError(
                    f"view {view.name!r}: no snapshot of source {source!r} at {path} "
                    f"(run `xrepo inspect {source}`)"
                )
            known[source] = load_snapshot(path)
        out[view.name] = view_snapshot(view, known)
    return out


__all__ = ["view_snapshot", "view_snapshots"]
