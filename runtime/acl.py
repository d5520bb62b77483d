"""Access control: roles, row rules and column rules, enforced in the repo layer.

Because the rules are merged into the query AST before any backend sees it, every backend
(memory, SQLite, PostgreSQL, MongoDB, Redis) enforces them the same way.

Attach with ``repo.acl = ACL(rules, resolver)`` (or on the class; ``ACL.from_metadata`` takes
``RepoMetadata.acl_rules``).  Semantics:

- ``resolver(user_id) -> roles`` (sync or async) is the application's.  ``user_id=None`` is the
  anonymous principal and is denied whenever rules exist.
- What no rule grants is denied with :class:`PermissionDenied` naming operation and principal;
  a role holding ``ADMIN`` is unrestricted.
- Row rules: a filter document (Python names) whose ``"$user_id"`` values are replaced by the
  principal's id before parsing, so the value is bound like any filter value.  The rules of the
  principal's granting roles are OR-ed (a granting rule without a row rule: every row) and the
  result AND-ed into every query and write.  Rows outside scope behave as absent (``read`` →
  ``None``, ``update`` → ``None``, ``delete`` → ``False``); a ``create`` outside scope is denied.
  Fields a row rule reads may not be changed by updates (that could move rows out of scope).
- Column rules are unioned over the granting rules (most restrictive).  ``hidden`` fields are
  never returned: their read-model fields must accept ``None`` (checked when the ACL is bound to
  a repo) and come back as ``None`` and *unset* (``model_dump(exclude_unset=True)`` omits them);
  filtering, sorting, ``distinct`` on or writing them is denied.  ``read_only`` fields may be read
  but writes touching them are denied.
- ``aggregate``: ``$lookup`` is refused for restricted principals (the other collection's rules
  are not known here); hidden fields are removed by a leading ``$unset``, before the user's
  stages, and the row rule is applied where the rows are read.
- The describing methods have no permission of their own; a denial names the method.
  ``inspect_schema`` needs READ (it describes the rows ``read`` returns) and leaves the hidden
  fields out of ``fields``, ``primary_key`` and ``json_schema`` (with the ``$defs`` only they
  used).  ``inspect_collection`` and ``get_statistics`` need LIST (they count rows): counts
  are of the principal's rows, keys and cardinalities of hidden fields are left out, and the
  table-wide figures (database cardinalities, storage, indexes, every principal's operation
  latencies) are for unrestricted principals only.  ``get_audit_log`` needs ADMIN (entries
  hold every field of every row written).
- Everywhere the repo API is: views (``RefreshableRepo``; the ACL belongs to the repo and
  survives :meth:`refresh`), generated view repos, and :class:`~xrepo.runtime.dict_repo.DictRepo`
  (``dict_repo.acl`` is its typed repo's; hidden fields are absent from its dicts).  Cached
  results are keyed by the principal's row rule and hidden fields (:mod:`xrepo.runtime.cache`).
"""

from __future__ import annotations

import enum
import inspect
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from .errors import ConfigurationError, PermissionDenied
from .query.ast import FieldRef, MatchAll, Node, Or, Query
from .query.cursor import Page
from .query.fields import FieldTable
from .query.parse import parse_filter

USER_ID = "$user_id"
#: Scopes remembered per ACL (principal × operation × roles × model); cleared when full.
_SCOPE_CACHE = 4096
T = TypeVar("T")
B = TypeVar("B", bound=BaseModel)

Resolver = Callable[[str], Iterable[str] | Awaitable[Iterable[str]]]


class Permission(enum.StrEnum):
    CREATE = "create"
    READ = "read"
    UPDATE = "update"
    DELETE = "delete"
    LIST = "list"
    ADMIN = "admin"


#: The permission each repo operation needs.
OPERATIONS: dict[str, Permission] = {
    "create": Permission.CREATE,
    "bulk_create": Permission.CREATE,
    "read": Permission.READ,
    "update": Permission.UPDATE,
    "bulk_update": Permission.UPDATE,
    "delete": Permission.DELETE,
    "bulk_delete": Permission.DELETE,
    "list": Permission.LIST,
    "list_rows": Permission.LIST,
    "page": Permission.LIST,
    "find_one": Permission.LIST,
    "count": Permission.LIST,
    "exists": Permission.LIST,
    "distinct": Permission.LIST,
    "aggregate": Permission.LIST,
    "get_audit_log": Permission.ADMIN,
}


class ACLConditions(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    #: Filter document (Python names); ``"$user_id"`` values become the principal's id.
    row: dict[str, Any] | None = None
    hidden: tuple[str, ...] = ()
    read_only: tuple[str, ...] = ()


class ACLRule(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    role: str
    permissions: frozenset[Permission]
    conditions: ACLConditions = Field(default_factory=ACLConditions)


def _substitute(doc: Any, user_id: str) -> Any:
    if isinstance(doc, Mapping):
        return {k: _substitute(v, user_id) for k, v in doc.items()}
    if isinstance(doc, list | tuple):
        return [_substitute(v, user_id) for v in doc]
    return user_id if doc == USER_ID else doc


@dataclass(frozen=True)
class Scope:
    """What one principal may see and change for one operation (``None`` rows: all)."""

    principal: str
    op: str
    row: Node
    #: Top-level Python names, and their source names.
    hidden: frozenset[str]
    hidden_sources: frozenset[str]
    read_only_sources: frozenset[str]
    #: Source columns the row rule reads.
    row_sources: frozenset[str]

    def deny(self, reason: str) -> PermissionDenied:
        return PermissionDenied(self.op, self.principal, reason)

    def check_filter(self, node: Node, what: str = "filter") -> None:
        used = columns(node) & self.hidden_sources
        if used:
            raise self.deny(f"{what} uses hidden field(s) {sorted(used)}")

    def check_query(self, query: Query) -> None:
        self.check_filter(query.where)
        used = {k.field.column for k in query.sort} & self.hidden_sources
        if used:
            raise self.deny(f"sort uses hidden field(s) {sorted(used)}")

    def check_write(self, source_columns: Iterable[str], *, updating: bool) -> None:
        cols = set(source_columns)
        blocked = cols & (self.hidden_sources | self.read_only_sources)
        if blocked:
            raise self.deny(f"may not write field(s) {sorted(blocked)}")
        if updating and cols & self.row_sources:
            moved = sorted(cols & self.row_sources)
            raise self.deny(f"may not change row-rule field(s) {moved}")


def columns(node: Node) -> set[str]:
    """Top-level source columns a filter node reads."""
    out: set[str] = set()
    stack: list[Any] = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, FieldRef):
            out.add(item.column)
        elif isinstance(item, tuple):
            stack.extend(item)
        elif isinstance(item, Node) and not _inner_only(item):
            stack.extend(getattr(item, f.name) for f in fields(item))  # type: ignore[arg-type]
        elif isinstance(item, Node):
            stack.append(item.field)  # type: ignore[attr-defined]
    return out


def _inner_only(node: Node) -> bool:
    # $elemMatch's inner filter names element fields (relative paths), not columns.
    from .query.ast import ElemMatch

    return isinstance(node, ElemMatch)


class ACL:
    """Rules plus the application's role resolver; bind to a repo with ``repo.acl = ...``."""

    def __init__(self, rules: Iterable[ACLRule | Mapping[str, Any]], resolver: Resolver) -> None:
        self.rules = tuple(
            r if isinstance(r, ACLRule) else ACLRule.model_validate(r) for r in rules
        )
        self.resolver = resolver
        self._checked: set[type[BaseModel]] = set()
        #: (op, user_id, roles, id(table)) → (table, scope): rules are immutable, so a scope
        #: depends on nothing else; the resolver still runs on every call (roles may change).
        self._scopes: dict[tuple[str, str, frozenset[str], int], tuple[FieldTable, Scope]] = {}
        self._scopes_of = self.rules

    @classmethod
    def from_metadata(cls, metadata: Any, resolver: Resolver) -> ACL:
        return cls(metadata.acl_rules, resolver)

    def check_model(self, model: type[BaseModel], table: FieldTable) -> None:
        """Hidden / read-only fields must exist; hidden ones must accept ``None``."""
        if model in self._checked:
            return
        for rule in self.rules:
            for name in (*rule.conditions.hidden, *rule.conditions.read_only):
                if name not in model.model_fields:
                    raise ConfigurationError(
                        f"ACL rule for role {rule.role!r}: {model.__name__} has no field {name!r}"
                    )
            for name in rule.conditions.hidden:
                annotation = model.model_fields[name].annotation or Any
                try:
                    TypeAdapter[Any](annotation).validate_python(None)
                except ValidationError:
                    raise ConfigurationError(
                        f"ACL rule for role {rule.role!r}: hidden field {model.__name__}.{name} "
                        "must accept None (make it Optional) so rows can be returned without it"
                    ) from None
            if rule.conditions.row is not None:
                parse_filter(table, _substitute(rule.conditions.row, "probe"))
        self._checked.add(model)

    async def roles(self, user_id: str) -> frozenset[str]:
        got = self.resolver(user_id)
        if inspect.isawaitable(got):
            got = await got
        return frozenset(got)

    async def scope(self, op: str, user_id: str | None, table: FieldTable) -> Scope | None:
        """The principal's scope for ``op``; ``None`` when unrestricted (ADMIN)."""
        principal = "anonymous" if user_id is None else repr(user_id)
        need = OPERATIONS.get(op)
        if need is None:
            raise ConfigurationError(f"ACL: no permission is mapped to operation {op!r}")
        if user_id is None:
            raise PermissionDenied(op, principal, "anonymous access is not granted")
        roles = await self.roles(user_id)
        if self._scopes_of is not self.rules:  # rules reassigned: forget their scopes
            self._scopes.clear()
            self._scopes_of = self.rules
        key = (op, user_id, roles, id(table))
        hit = self._scopes.get(key)
        if hit is not None and hit[0] is table:
            return hit[1]
        scope = self._build_scope(op, user_id, principal, need, roles, table)
        if scope is not None:
            if len(self._scopes) >= _SCOPE_CACHE:
                self._scopes.clear()
            self._scopes[key] = (table, scope)
        return scope

    def _build_scope(
        self,
        op: str,
        user_id: str,
        principal: str,
        need: Permission,
        roles: frozenset[str],
        table: FieldTable,
    ) -> Scope | None:
        mine = [r for r in self.rules if r.role in roles]
        if any(Permission.ADMIN in r.permissions for r in mine):
            return None
        granting = [r for r in mine if need in r.permissions]
        if not granting:
            raise PermissionDenied(op, principal, f"no rule grants {need.name}")
        row: Node = MatchAll()
        if all(r.conditions.row is not None for r in granting):
            rows = [parse_filter(table, _substitute(r.conditions.row, user_id)) for r in granting]
            row = rows[0] if len(rows) == 1 else Or(tuple(rows))
        hidden = frozenset(n for r in granting for n in r.conditions.hidden)
        read_only = frozenset(n for r in granting for n in r.conditions.read_only)
        return Scope(
            principal=principal,
            op=op,
            row=row,
            hidden=hidden,
            hidden_sources=frozenset(table.source_name(n) for n in hidden),
            read_only_sources=frozenset(table.source_name(n) for n in read_only),
            row_sources=frozenset(columns(row)),
        )


def strip_model(model: B, scope: Scope | None) -> B:
    """``model`` with the hidden fields set to ``None`` and marked unset."""
    if scope is None or not scope.hidden:
        return model
    for name in scope.hidden:
        if name in type(model).model_fields:
            model.__dict__[name] = None  # bypasses frozen models' __setattr__ on purpose
    model.__pydantic_fields_set__.difference_update(scope.hidden)
    return model


def strip_row(row: Mapping[str, Any], scope: Scope | None) -> Mapping[str, Any]:
    if scope is None or not scope.hidden_sources:
        return row
    return {k: v for k, v in row.items() if k not in scope.hidden_sources}


def visible(value: T, scope: Scope | None) -> T:
    """A repo result (model, ``None``, list, :class:`Page`, source row) without hidden fields."""
    if scope is None or not scope.hidden:
        return value
    if isinstance(value, BaseModel):
        return strip_model(value, scope)
    if isinstance(value, Page):
        return Page([visible(i, scope) for i in value.items], value.next_cursor)  # type: ignore[return-value]
    if isinstance(value, list):
        return [visible(i, scope) for i in value]  # type: ignore[return-value]
    if isinstance(value, Mapping):
        return strip_row(value, scope)  # type: ignore[return-value]
    return value


def guard_pipeline(
    scope: Scope | None, pipeline: Sequence[Mapping[str, Any]]
) -> Sequence[Mapping[str, Any]]:
    """``pipeline`` with hidden fields removed before the user's stages; ``$lookup`` refused."""
    if scope is None:
        return pipeline
    for stage in pipeline:
        if isinstance(stage, Mapping) and "$lookup" in stage:
            raise scope.deny("$lookup is refused under row/column rules")
    if not scope.hidden:
        return pipeline
    # Leading $match stages that name no hidden field select the same rows before the $unset as
    # after it; ahead of it they stay the schema-typed first match (indexes, pushdown).
    lead = 0
    named = scope.hidden | scope.hidden_sources
    while lead < len(pipeline) and _plain_match(pipeline[lead], named):
        lead += 1
    return [*pipeline[:lead], {"$unset": sorted(scope.hidden)}, *pipeline[lead:]]


def _plain_match(stage: Any, hidden: frozenset[str]) -> bool:
    """A ``$match`` whose filter names fields only by top-level names outside ``hidden`` (no
    ``$expr``/``$where``, whose field references are expressions)."""
    if not isinstance(stage, Mapping) or list(stage) != ["$match"]:
        return False
    stack: list[Any] = [stage["$match"]]
    while stack:
        item = stack.pop()
        if isinstance(item, list | tuple):
            stack.extend(item)
        elif isinstance(item, Mapping):
            for key, value in item.items():
                if not isinstance(key, str):
                    return False
                if key.startswith("$"):
                    if key in ("$expr", "$where", "$function"):
                        return False
                    stack.append(value)
                elif key.split(".")[0].split("__")[0] in hidden:
                    return False
                else:
                    stack.append(value)  # operator documents; values are data
    return True


__all__ = [
    "ACL",
    "OPERATIONS",
    "ACLConditions",
    "ACLRule",
    "Permission",
    "Resolver",
    "Scope",
    "columns",
    "guard_pipeline",
    "strip_model",
    "strip_row",
    "visible",
]
