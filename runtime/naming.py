"""Source names → safe Python identifiers: the one set of naming rules for generated modules
(codegen) and dynamic models (:mod:`xrepo.runtime.dynamic`), so both name every field and class
of a snapshot the same way.

Source names are hostile: they may hold keywords, quotes, newlines, ``;``, leading digits or
non-ASCII letters. A sanitised name only ever contains ``[a-z0-9_]`` (fields) or
``[A-Za-z0-9_]`` (classes); the original travels as an alias, never as code.

Collisions are resolved by :func:`stable_names` (fields, classes, repo finders alike): a name
wanted once is given as-is; among colliders the one whose source name *is* the sanitised form
keeps it and the others get ``_<4 hex of sha256(their own source name)>`` — never a positional
``2``/``3`` — so adding a collection or column never renames one that does not collide with it.
See :func:`allocate` for the class-name ranks.
"""

from __future__ import annotations

import functools
import hashlib
import keyword
import re
import unicodedata
from collections.abc import Iterable, Sequence

from .model import XObjPrototype
from .schema import CollectionSpec, LogicalType, TypeSpec

#: Module names generated code imports whole, and builtins its annotations use: a field with
#: one of these names would shadow it inside the class body (both for mypy and at runtime).
_SHADOWED = frozenset(
    {
        "datetime",
        "decimal",
        "enum",
        "ipaddress",
        "pydantic",
        "typing",
        "uuid",
        "bool",
        "bytes",
        "dict",
        "float",
        "int",
        "list",
        "object",
        "str",
        "type",
        "self",
        "cls",
    }
)

#: Attributes of pydantic's BaseModel (and our prototype) a field must not shadow. A fixed list
#: keeps output identical across pydantic versions; dir() adds whatever a newer version grew.
_MODEL_ATTRS = frozenset(
    {
        "construct",
        "copy",
        "dict",
        "fields",
        "from_orm",
        "from_source",
        "json",
        "parse_file",
        "parse_obj",
        "parse_raw",
        "schema",
        "schema_json",
        "to_source",
        "update_forward_refs",
        "validate",
    }
) | frozenset(n for n in dir(XObjPrototype) if not n.startswith("_"))

RESERVED_FIELD_NAMES = (
    frozenset(keyword.kwlist) | frozenset(keyword.softkwlist) | _SHADOWED | _MODEL_ATTRS
)

_CAMEL_1 = re.compile(r"([A-Z]+)([A-Z][a-z])")
_CAMEL_2 = re.compile(r"([a-z0-9])([A-Z])")
_NON_WORD = re.compile(r"[^A-Za-z0-9]+")


def ascii_fold(name: str) -> str:
    """NFKD-decompose and drop what is not ASCII (``naïve`` → ``naive``)."""
    return unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")


def _fallback(name: str, prefix: str) -> str:
    # Nothing ASCII survived (``日本``): a hash of the name is stable whatever the field order.
    return prefix + hashlib.sha256(name.encode("utf-8")).hexdigest()[:8]


@functools.lru_cache(maxsize=65536)
def snake_case(name: str) -> str:
    """A lower-case identifier for a field; never a keyword, never shadowing a model attribute."""
    text = ascii_fold(name)
    text = _CAMEL_1.sub(r"\1_\2", text)
    text = _CAMEL_2.sub(r"\1_\2", text)
    text = _NON_WORD.sub("_", text).strip("_").lower()
    text = re.sub("_+", "_", text)
    if not text:
        return _fallback(name, "u_")
    if text[0].isdigit():
        text = "f_" + text
    if text.startswith("model_"):
        # pydantic reserves the whole ``model_`` namespace, so a suffix is not enough.
        text = "field_" + text
    elif text in RESERVED_FIELD_NAMES:
        text += "_"
    return text


def singular_noun(word: str) -> str:
    """English singular of the last word of a name (``orders`` → ``order``), for class names."""
    lower = word.lower()
    if len(word) <= 3:
        return word
    if lower.endswith("ies"):
        return word[:-3] + ("Y" if word[-1].isupper() else "y")
    if lower.endswith(("sses", "shes", "ches", "xes", "zes")):
        return word[:-2]
    if lower.endswith("s") and not lower.endswith(("ss", "us", "is", "os")):
        return word[:-1]
    return word


@functools.lru_cache(maxsize=65536)
def pascal_case(name: str, *, singular: bool = False) -> str:
    """A class name: ``order_items`` → ``OrderItem`` (singular) / ``OrderItems``."""
    text = ascii_fold(name)
    text = _CAMEL_1.sub(r"\1_\2", text)
    text = _CAMEL_2.sub(r"\1_\2", text)
    parts = [p for p in _NON_WORD.split(text) if p]
    if not parts:
        return _fallback(name, "U")
    if singular:
        parts[-1] = singular_noun(parts[-1])
    out = "".join(
        p[:1].upper() + p[1:].lower() if not p.isupper() or len(p) > 1 else p.upper() for p in parts
    )
    if out[0].isdigit():
        out = "N" + out
    return out


class NameAllocator:
    """Hands out unique names; a taken name gets ``_2``, ``_3``… (or ``2``, ``3``… for classes).

    Deterministic: the result depends only on the order of the requests.
    """

    def __init__(self, taken: Iterable[str] = (), *, separator: str = "_") -> None:
        self._taken = set(taken)
        self._sep = separator

    def __contains__(self, name: str) -> bool:
        return name in self._taken

    def take(self, wanted: str) -> str:
        name = wanted
        stem = wanted.rstrip("_") if self._sep == "_" else wanted
        n = 2
        while name in self._taken:
            name = f"{stem}{self._sep}{n}"
            n += 1
        self._taken.add(name)
        return name


def _hash_suffix(identity: str, length: int) -> str:
    return hashlib.sha256(identity.encode("utf-8")).hexdigest()[:length]


def stable_names(
    requests: Sequence[tuple[str, str, int | None]],
    *,
    taken: Iterable[str] = (),
    separator: str = "_",
) -> list[str]:
    """Unique names for ``(wanted, identity, rank)`` requests, in input order, stable under
    additions.

    The rule (shared by field, class and finder names):

    * a wanted name asked for once and not ``taken`` is given as-is;
    * when several requests want the same name, the single request with the best (lowest)
      ``rank`` keeps it — ``None`` ranks never win; a tie at the best rank means nobody does;
    * every other request gets ``wanted + separator + <4 hex of sha256(identity)>`` (8 hex,
      then a counter, on the astronomically rare clash of suffixes).

    So a name depends only on the requests that want the same name, never on positions: adding
    a request never renames an existing one unless the newcomer wants its very name, and a
    best-ranked request (e.g. the source name that *is* the sanitised form) is never renamed.
    """
    reserved = set(taken)
    groups: dict[str, list[int]] = {}
    for i, (wanted, _identity, _rank) in enumerate(requests):
        groups.setdefault(wanted, []).append(i)
    out: list[str | None] = [None] * len(requests)
    for wanted, members in groups.items():
        if wanted in reserved:
            continue
        if len(members) == 1:
            winner: int | None = members[0]
        else:
            ranked: list[tuple[int, int]] = []
            for i in members:
                rank = requests[i][2]
                if rank is not None:
                    ranked.append((rank, i))
            best = min((r for r, _ in ranked), default=None)
            tops = [i for r, i in ranked if r == best]
            winner = tops[0] if len(tops) == 1 else None
        if winner is not None:
            out[winner] = wanted
            reserved.add(wanted)
    for i, (wanted, identity, _rank) in enumerate(requests):
        if out[i] is not None:
            continue
        stem = wanted.rstrip("_") if separator == "_" else wanted
        name = f"{stem}{separator}{_hash_suffix(identity, 4)}"
        if name in reserved:
            name = f"{stem}{separator}{_hash_suffix(identity, 8)}"
        n = 2
        base = name
        while name in reserved:
            name = f"{base}_{n}"
            n += 1
        out[i] = name
        reserved.add(name)
    return [n for n in out if n is not None]


def field_names(source_names: Sequence[str], *, taken: Iterable[str] = ()) -> list[str]:
    """Python names for one model's fields, in input order (rules: :func:`stable_names`).

    A source name that is already its own sanitised form keeps it whatever else collides
    (``my_col`` stays ``my_col``); colliding others get a suffix hashed from their own source
    name (``My Col`` → ``my_col_<hash>``), so adding a column never renames another.
    """
    return stable_names(
        [(snake_case(n), n, 0 if snake_case(n) == n else None) for n in source_names],
        taken=taken,
    )


#: Names generated modules import; no class may take them.
IMPORTED_NAMES = frozenset(
    {
        "AnyOps",
        "BoolOps",
        "BytesOps",
        "ConnectedRepo",
        "DateOps",
        "DateTimeOps",
        "DecimalOps",
        "FileFormat",
        "FloatOps",
        "IntOps",
        "MaterializedRepo",
        "RepoMetadata",
        "StrOps",
        "TimeOps",
        "TimedeltaOps",
        "UUIDOps",
        "XObjPrototype",
    }
)

#: Fixed suffixes of the per-collection names (key → suffix).
VARIANTS: tuple[tuple[str, str], ...] = (
    ("create", "Create"),
    ("update", "Update"),
    ("filter", "Filter"),
    ("field", "Field"),
    ("repo", "Repo"),
)

NameKey = tuple[str, ...]

_NAMED_KINDS = frozenset(
    {LogicalType.OBJECT, LogicalType.ARRAY, LogicalType.ENUM, LogicalType.UNION}
)


def _type_requests(
    ts: TypeSpec, key: NameKey, wanted: str, singular: bool, out: list[tuple[NameKey, str]]
) -> None:
    kind = ts.kind
    if kind is LogicalType.OBJECT and ts.fields:
        out.append((key, wanted))
        for f in ts.fields:
            _field_requests(f.name, f.type, key, wanted, singular, out)
    elif kind is LogicalType.OBJECT and ts.map_values is not None:
        _type_requests(ts.map_values, (*key, "{}"), wanted + "Value", singular, out)
    elif kind is LogicalType.ARRAY and ts.items is not None:
        _type_requests(ts.items, (*key, "[]"), wanted, singular, out)
    elif kind is LogicalType.ENUM:
        out.append((key, wanted))
    elif kind is LogicalType.UNION and ts.variants:
        for i, v in enumerate(ts.variants):
            _type_requests(v, (*key, f"|{i}"), wanted, singular, out)


def _field_requests(
    name: str,
    ts: TypeSpec,
    parent: NameKey,
    owner: str,
    singular: bool,
    out: list[tuple[NameKey, str]],
) -> None:
    kind = ts.kind
    if kind not in _NAMED_KINDS or (
        kind is LogicalType.OBJECT and not ts.fields and ts.map_values is None
    ):
        return  # scalars need no class name; skip the (costly) PascalCase
    in_array = kind is LogicalType.ARRAY
    wanted = owner + pascal_case(name, singular=singular and in_array)
    _type_requests(ts, (*parent, name), wanted, singular, out)


def collection_requests(
    coll: CollectionSpec, base: str, singular: bool
) -> list[tuple[NameKey, str]]:
    """Every class name a collection wants, keyed by its place in the spec, in a fixed order."""
    out: list[tuple[NameKey, str]] = [((key,), base + suffix) for key, suffix in VARIANTS]
    for f in coll.fields:
        _field_requests(f.name, f.type, ("f",), base, singular, out)
    return out


def _identity(coll: CollectionSpec, key: NameKey = ()) -> str:
    return "\0".join((coll.namespace or "", coll.name, *key))


def _base_rank(source: str, wanted: str) -> int | None:
    # The collection whose name *is* the sanitised form keeps it against any newcomer:
    # ``user`` owns ``User`` (``users`` gets a suffix only while ``user`` exists).
    if source == snake_case(wanted):
        return 0
    if source == wanted:
        return 1
    return None


def _derived_rank(key: NameKey) -> int:
    # Variants beat nested names; among a field's union variants the first one keeps the name.
    if len(key) == 1:
        return 0
    return 1 + sum(
        int(part[1:])
        for part in key
        if part[:1] == "|" and part[1:].isascii() and part[1:].isdigit()
    )


def allocate(collections: Sequence[CollectionSpec], singular: bool) -> list[dict[NameKey, str]]:
    """Class names for the collections of one module (same order): name key → class name;
    ``("model",)`` is the read model, ``("create",)`` etc. the variants, ``("f", field, ...)``
    nested models and enums.

    Stable under additions (rules: :func:`stable_names`, suffix ``_<hash>`` of the namespace,
    collection name and place in the spec):

    1. Base (read model) names first. A base nobody else wants keeps it; among colliding
       bases, the collection whose name equals the snake_case (rank 0) or exactly the Pascal
       form (rank 1) of the wanted name keeps it, the others are suffixed — ``user`` → ``User``,
       ``users`` → ``User_<hash>``, ``My Table!`` / ``my table`` → ``MyTable_<hash>`` each.
    2. Then every derived name (``<Base>Create``…, nested models, enums), never taking a base
       or an imported name. On a collision the fixed variants (``Create``, ``Update``,
       ``Filter``, ``Field``, ``Repo``) win over nested names; among nested names the first
       variant of a union (``Owner`` vs ``Owner_<hash>``) wins; any other tie suffixes all.

    Adding a collection therefore never renames a class of another collection unless it wants
    that very name, and it never renames a collection whose name is its own sanitised form.
    """
    wanted_bases = [pascal_case(c.name, singular=singular) for c in collections]
    bases = stable_names(
        [
            (w, _identity(c), _base_rank(c.name, w))
            for c, w in zip(collections, wanted_bases, strict=True)
        ],
        taken=IMPORTED_NAMES,
    )
    keys: list[list[NameKey]] = []
    derived: list[tuple[str, str, int | None]] = []
    for coll, base in zip(collections, bases, strict=True):
        reqs = collection_requests(coll, base, singular)
        keys.append([k for k, _ in reqs])
        derived.extend((w, _identity(coll, k), _derived_rank(k)) for k, w in reqs)
    given = iter(stable_names(derived, taken=IMPORTED_NAMES | set(bases)))
    result: list[dict[NameKey, str]] = []
    for base, coll_keys in zip(bases, keys, strict=True):
        names: dict[NameKey, str] = {("model",): base}
        for key in coll_keys:
            names[key] = next(given)
        result.append(names)
    return result
