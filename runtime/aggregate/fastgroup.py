"""``$group`` as one generated Python loop, compiled once per pipeline.

The general grouper (:func:`.stages.general_grouper`) keeps one :class:`~.accumulators.State`
object per group and accumulator and calls ``expr(doc)`` and ``state.add(value)`` for each; on a
million documents those calls are ~80% of the time.  Here the whole scan is generated as Python
source instead: field paths are read inline (``r[key]``; nested objects walked inline, anything
else — arrays, odd mappings — through the compiled path getter), constants are folded, the
common numeric case of ``$sum``/``$avg`` is a type check and an ``+=``, ``$first`` is read only
when a group is created, and a group's states are the slots of one list.  Expressions that are
neither a path nor a constant call their compiled closure, so every ``$group`` takes this path.

The semantics are exactly those of :mod:`.accumulators` (the tests run both on random documents
and compare): group keys are :func:`~.order.null_key` values (missing and null together, ``1``
and ``1.0`` together, ``true`` apart from ``1``) except that a string key is used as itself (a
string never equals a key tuple); ``$sum``/``$avg`` ignore non-numbers and bools, and widen to
Decimal when a float meets a Decimal total (``+=`` raises ``TypeError`` exactly then, and the
slow ``_plus`` takes over); ``$min``/``$max`` skip null and missing and compare by
:func:`~.order.order_key`.

Nothing from the pipeline reaches the source: field names, constants and helper functions are
entries of a constants tuple unpacked into ``c0, c1, ...``; the text depends only on the shape,
so compiled code objects are cached by text.
"""

from __future__ import annotations

import decimal
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..query.values import MISSING
from .accumulators import Accumulator, _plus
from .expr import Scope, compile_expr, field_path
from .order import null_key, order_key

Docs = list[dict[str, Any]]
Run = Callable[[Docs], Docs]

_NUM = (int, float, decimal.Decimal)
_BUILTINS: dict[str, Any] = {
    "isinstance": isinstance,
    "dict": dict,
    "set": set,
    "KeyError": KeyError,
    "TypeError": TypeError,
}
#: Compiled code objects by source text (the text holds no pipeline values, only shapes).
_CODE: dict[str, Any] = {}
_CODE_LIMIT = 256


@dataclass(frozen=True, slots=True)
class CompiledGroup:
    """The generated ``$group`` scan: ``run(docs) -> groups`` and its source (for tests)."""

    run: Run = field(repr=False, compare=False)
    source: str


def _is_constant(spec: Any) -> bool:
    """Whether :func:`.expr.compile_expr` compiles ``spec`` to a constant."""
    if isinstance(spec, str):
        return not spec.startswith("$")
    return not isinstance(spec, Mapping | list | tuple)


def _object_id(names: tuple[str, ...], values: tuple[Any, ...]) -> dict[str, Any]:
    return {n: v for n, v in zip(names, values, strict=True) if v is not MISSING}


class _Gen:
    def __init__(self, scope: Scope) -> None:
        self.scope = scope
        self.consts: list[Any] = []
        self.temps = 0
        #: Per-row reads already emitted: spec key → variable name.
        self.reads: dict[Any, str] = {}
        self.named: dict[int, str] = {}

    def const(self, value: Any) -> str:
        self.consts.append(value)
        return f"c{len(self.consts) - 1}"

    def shared(self, value: Any) -> str:
        """A constant named once however often it is used (helpers, types, ``MISSING``)."""
        name = self.named.get(id(value))
        if name is None:
            name = self.named[id(value)] = self.const(value)
        return name

    def temp(self) -> str:
        self.temps += 1
        return f"v{self.temps}"

    # -- reading one expression ------------------------------------------------------------
    def read(self, spec: Any, out: list[str], indent: str) -> str:
        """Emit into ``out`` the lines computing ``spec`` for row ``r``; return the variable
        (or constant) holding it.  Paths and expressions are read once per row."""
        path = field_path(spec)
        if path is not None:
            cached = self.reads.get(("path", path))
            if cached is None:
                cached = self.reads[("path", path)] = self._path(path, out, indent)
            return cached
        if spec in ("$$ROOT", "$$CURRENT"):
            return "r"
        if _is_constant(spec):
            return self.const(spec)
        v = self.temp()
        out.append(f"{indent}{v} = {self.const(compile_expr(spec, self.scope))}(r)")
        return v

    def _path(self, path: str, out: list[str], indent: str) -> str:
        getter = compile_expr("$" + path, self.scope)  # validates; the slow path for odd shapes
        parts = path.split(".")
        v = self.temp()
        missing = self.shared(MISSING)
        out.append(f"{indent}try:")
        out.append(f"{indent}    {v} = r[{self.const(parts[0])}]")
        out.append(f"{indent}except KeyError:")
        out.append(f"{indent}    {v} = {missing}")
        if len(parts) == 1:
            return v
        slow = self.const(getter)
        # A chain of dicts is walked inline; anything else (a list fans out, a missing or
        # scalar step, a non-dict mapping) recomputes the whole path with the general getter.
        # The leaf is taken as it is.
        depth = len(parts) - 1
        for i, part in enumerate(parts[1:]):
            pad = indent + "    " * i
            out.append(f"{pad}if isinstance({v}, dict):")
            out.append(f"{pad}    {v} = {v}.get({self.const(part)}, {missing})")
        for i in reversed(range(depth)):
            pad = indent + "    " * i
            out.append(f"{pad}else:")
            out.append(f"{pad}    {v} = {slow}(r)")
        return v


def compile_group(key_spec: Any, accs: Sequence[Accumulator], scope: Scope) -> CompiledGroup:
    """Generate and compile the scan for ``{"_id": key_spec, <accs>}`` (already validated)."""
    g = _Gen(scope)
    row = " " * 12  # the loop body's indentation
    pre: list[str] = []  # per-row reads, before the group lookup
    create: list[str] = []  # run when a group is created (its list already exists)
    update: list[str] = []  # per-row accumulator updates
    missing = g.shared(MISSING)
    ok = g.shared(order_key)

    # -- the key -----------------------------------------------------------------------------
    id_value: str
    if (
        isinstance(key_spec, Mapping)
        and key_spec
        and not any(isinstance(k, str) and k.startswith("$") for k in key_spec)
    ):
        # Object keys: a tuple of order keys (missing apart from null, as the object drops
        # missing fields) groups exactly as null_key of the object; the object is built once.
        names = tuple(key_spec)
        values = [g.read(key_spec[n], pre, row) for n in names]
        pre.append(f"{row}k = ({', '.join(f'{ok}({v})' for v in values)},)")
        id_value = f"{g.shared(_object_id)}({g.const(names)}, ({', '.join(values)},))"
    elif _is_constant(key_spec):
        pre.append(f"{row}k = {g.const(null_key(key_spec))}")
        id_value = g.const(key_spec)
    else:
        v = g.read(key_spec, pre, row)
        str_ = g.shared(str)
        pre.append(f"{row}k = {v} if {v}.__class__ is {str_} else {g.shared(null_key)}({v})")
        id_value = f"(None if {v} is {missing} else {v})"

    # -- accumulators: slots of the group's list (slot 0 is the _id value) -------------------
    init: list[str] = [id_value]
    results: list[str] = []
    plus = g.shared(_plus)
    num = g.shared(_NUM)
    bool_, int_, float_ = g.shared(bool), g.shared(int), g.shared(float)

    def slot(initial: str) -> str:
        init.append(initial)
        return f"e[{len(init) - 1}]"

    def add_number(total: str, x: str, n: str | None) -> None:
        """``total += x`` for numbers (not bools); ``n += 1`` alongside (``$avg``)."""
        count = [f"{row}    {n} += 1"] if n else []
        update.extend(
            [
                f"{row}t = {x}.__class__",
                f"{row}if t is {float_} or t is {int_}:",
                f"{row}    try:",
                f"{row}        {total} += {x}",
                f"{row}    except TypeError:",  # a Decimal total meets a float
                f"{row}        {total} = {plus}({total}, {x})",
                *count,
                f"{row}elif t is not {bool_} and isinstance({x}, {num}):",
                f"{row}    {total} = {plus}({total}, {x})",
                *count,
            ]
        )

    firsts: list[tuple[str, Any]] = []
    for acc in accs:
        op, arg = acc.op, acc.arg
        constant = _is_constant(arg)
        if op == "$count":
            target = slot("0")
            update.append(f"{row}{target} += 1")
            results.append(target)
        elif op in ("$sum", "$avg"):
            total = slot("0")
            n = slot("0") if op == "$avg" else None
            if not constant:
                add_number(total, g.read(arg, pre, row), n)
            elif isinstance(arg, _NUM) and not isinstance(arg, bool):
                # The total only ever holds sums of this one constant: ``+=`` is exact.
                update.append(f"{row}{total} += {g.const(arg)}")
                if n is not None:
                    update.append(f"{row}{n} += 1")
            results.append(total if n is None else f"(None if not {n} else {total} / {n})")
        elif op in ("$min", "$max"):
            best, key = slot("None"), slot("None")
            x = g.read(arg, pre, row)
            cmp = "<" if op == "$min" else ">"
            update.extend(
                [
                    f"{row}if {x} is not None and {x} is not {missing}:",
                    f"{row}    t = {ok}({x})",
                    f"{row}    if {key} is None or t {cmp} {key}:",
                    f"{row}        {best} = {x}",
                    f"{row}        {key} = t",
                ]
            )
            results.append(best)
        elif op == "$push":
            items = slot("[]")
            x = g.read(arg, pre, row)
            update.append(f"{row}if {x} is not {missing}:")
            update.append(f"{row}    {items}.append({x})")
            results.append(items)
        elif op == "$addToSet":
            items, seen = slot("[]"), slot("set()")
            x = g.read(arg, pre, row)
            update.extend(
                [
                    f"{row}if {x} is not {missing}:",
                    f"{row}    t = {ok}({x})",
                    f"{row}    if t not in {seen}:",
                    f"{row}        {seen}.add(t)",
                    f"{row}        {items}.append({x})",
                ]
            )
            results.append(items)
        elif op == "$first":
            value = slot("None")
            results.append(value)
            if constant or field_path(arg) is not None or arg in ("$$ROOT", "$$CURRENT"):
                firsts.append((value, arg))  # cannot fail: read on the creating row only
            else:
                # Any other expression runs on every row, as before (its errors surface).
                x = g.read(arg, pre, row)
                create.append(f"{row}    {value} = None if {x} is {missing} else {x}")
        elif op == "$last":
            value = slot("None")
            x = g.read(arg, pre, row)
            update.append(f"{row}{value} = None if {x} is {missing} else {x}")
            results.append(value)
        else:  # pragma: no cover - parse_accumulator admits no other operator
            raise scope.error(f"unsupported accumulator {op!r}")
    for value, arg in firsts:  # last, so that paths read per row anyway are reused
        x = g.read(arg, create, row + "    ")
        create.append(f"{row}    {value} = None if {x} is {missing} else {x}")

    out_names = g.const(tuple(a.name for a in accs))
    result_items = "".join(f", {out_names}[{i}]: {r}" for i, r in enumerate(results))
    lines = [
        "def _factory(_c):",
        "    def run(docs):",
        # Unpacked per call into locals: the loop then reads them as fast locals, not cells.
        f"        {', '.join(f'c{i}' for i in range(len(g.consts)))}, = _c",
        "        groups = {}",
        "        get = groups.get",
        "        for r in docs:",
        *pre,
        f"{row}e = get(k)",
        f"{row}if e is None:",
        f"{row}    e = groups[k] = [{', '.join(init)}]",
        *create,
        *update,
        "        out = []",
        "        for e in groups.values():",
        f'            out.append({{"_id": e[0]{result_items}}})',
        "        return out",
        "    return run",
    ]
    source = "\n".join(lines) + "\n"
    code = _CODE.get(source)
    if code is None:
        if len(_CODE) >= _CODE_LIMIT:
            _CODE.clear()
        code = _CODE[source] = compile(source, "<xrepo $group>", "exec")
    namespace: dict[str, Any] = {}
    exec(code, {"__builtins__": _BUILTINS}, namespace)
    run: Run = namespace["_factory"](tuple(g.consts))
    return CompiledGroup(run, source)


__all__ = ["CompiledGroup", "compile_group"]
