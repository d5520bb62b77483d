"""Source names → safe Python identifiers, and Python string literals that black leaves alone.

Every name that reaches generated code passes through here. Source names are hostile: they may
hold keywords, quotes, newlines, ``;``, leading digits or non-ASCII letters. A sanitised name only
ever contains ``[a-z0-9_]`` (fields) or ``[A-Za-z0-9]`` (classes); the original always travels as
a string literal built by :func:`py_str`, never as code.
"""

from __future__ import annotations

import functools
import hashlib
import keyword
import re
import unicodedata
from collections.abc import Iterable, Sequence

from xrepo.runtime.model import XObjPrototype

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


def _singular(word: str) -> str:
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
        parts[-1] = _singular(parts[-1])
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

    def reserve(self, name: str) -> None:
        self._taken.add(name)

    def take(self, wanted: str) -> str:
        name = wanted
        stem = wanted.rstrip("_") if self._sep == "_" else wanted
        n = 2
        while name in self._taken:
            name = f"{stem}{self._sep}{n}"
            n += 1
        self._taken.add(name)
        return name


def field_names(source_names: Sequence[str], *, taken: Iterable[str] = ()) -> list[str]:
    """Python names for one model's fields, in input order.

    Names that are already valid as-is win over names that only sanitise to them, so ``my_col``
    keeps its name and ``My Col`` becomes ``my_col_2`` whatever their order.
    """
    wanted = [snake_case(n) for n in source_names]
    alloc = NameAllocator(taken)
    out: list[str | None] = [None] * len(wanted)
    for i, (src, py) in enumerate(zip(source_names, wanted, strict=True)):
        if src == py and py not in alloc:
            out[i] = alloc.take(py)
    for i, py in enumerate(wanted):
        if out[i] is None:
            out[i] = alloc.take(py)
    return [n for n in out if n is not None]


def _escape(text: str, quote: str) -> str:
    out: list[str] = []
    for ch in text:
        if ch == "\\":
            out.append("\\\\")
        elif ch == quote:
            out.append("\\" + quote)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif not ch.isprintable() or unicodedata.category(ch) in ("Zl", "Zp"):
            code = ord(ch)
            if code < 0x100:
                out.append(f"\\x{code:02x}")
            elif code < 0x10000:
                out.append(f"\\u{code:04x}")
            else:
                out.append(f"\\U{code:08x}")
        else:
            out.append(ch)
    return "".join(out)


_PLAIN = re.compile(r"[ -!#-&(-\[\]-~]*")


def py_str(text: str) -> str:
    """A Python string literal for any text, spelled the way black normalises it.

    Double quotes unless single quotes need fewer backslashes (black's own rule), so formatted
    output never differs from what the templates print.
    """
    if _PLAIN.fullmatch(text):
        return f'"{text}"'
    double = '"' + _escape(text, '"') + '"'
    single = "'" + _escape(text, "'") + "'"
    return single if single.count("\\") < double.count("\\") else double


def comment_text(text: str) -> str:
    """Text safe inside a ``#`` comment: one line, control characters escaped."""
    return _escape(text, "")
