"""The query language: filter documents → immutable AST → compiled predicates / SQL."""

from .ast import (
    All,
    And,
    Compare,
    ElemMatch,
    Exists,
    FieldRef,
    In,
    MatchAll,
    Node,
    Nor,
    Not,
    Or,
    Query,
    Regex,
    Size,
    SortKey,
    conjoin,
)
from .fields import FieldInfo, FieldTable, fields_of, plain
from .parse import build_query, parse_filter, parse_sort
from .predicate import compile_predicate
from .sort import sort_rows

__all__ = [
    "All",
    "And",
    "Compare",
    "ElemMatch",
    "Exists",
    "FieldInfo",
    "FieldRef",
    "FieldTable",
    "In",
    "MatchAll",
    "Node",
    "Nor",
    "Not",
    "Or",
    "Query",
    "Regex",
    "Size",
    "SortKey",
    "build_query",
    "compile_predicate",
    "conjoin",
    "fields_of",
    "parse_filter",
    "parse_sort",
    "plain",
    "sort_rows",
]
