"""A small tokenizer and parser for the parts of SQLite DDL that PRAGMAs do not report.

PRAGMA table_xinfo / index_list / foreign_key_list give columns, keys and indexes, but not CHECK
constraints, AUTOINCREMENT, WITHOUT ROWID, a partial index's WHERE clause or the text of an
expression index key. Those are read here from ``sqlite_master.sql``. The tokenizer follows
SQLite's lexical rules (quoted identifiers in all four styles, '' escapes, comments) so that a
bracket or comma inside a name or a string never breaks the split; every token keeps its offsets
so expressions are returned verbatim, as the user wrote them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import pairwise
from typing import Literal

TokenKind = Literal["word", "ident", "string", "number", "blob", "punct"]

_OPERATORS = ("<>", "<=", ">=", "!=", "==", "||", "<<", ">>", "->>", "->")


@dataclass(frozen=True, slots=True)
class Token:
    kind: TokenKind
    text: str
    start: int
    end: int

    @property
    def upper(self) -> str:
        return self.text.upper() if self.kind == "word" else ""

    def is_punct(self, text: str) -> bool:
        return self.kind == "punct" and self.text == text


def quote_ident(name: str) -> str:
    """Quote an identifier for SQLite: wrap in double quotes, double any inner double quote."""
    return '"' + name.replace('"', '""') + '"'


def _word_char(ch: str) -> bool:
    return ch.isalnum() or ch in "_$" or ord(ch) > 0x7F


def _quoted_end(sql: str, start: int, close: str) -> int:
    """Index just past the closing quote; a doubled closing quote is an escaped one."""
    i = start + 1
    n = len(sql)
    while i < n:
        if sql[i] == close:
            if close != "]" and i + 1 < n and sql[i + 1] == close:
                i += 2
                continue
            return i + 1
        i += 1
    return n  # unterminated: SQLite would have refused it; take the rest


_CLOSE = {'"': '"', "`": "`", "[": "]"}


def _number_end(sql: str, i: int) -> int:
    """End of a numeric literal: digits, '.', hex, and an exponent with its sign (1e-5)."""
    j = i + 1
    n = len(sql)
    hex_literal = sql.startswith(("0x", "0X"), i)
    while j < n and (sql[j].isalnum() or sql[j] in "._"):
        j += 1
        if not hex_literal and sql[j - 1] in "eE" and j < n and sql[j] in "+-":
            j += 1
    return j


def tokenize(sql: str) -> list[Token]:
    tokens: list[Token] = []
    i = 0
    n = len(sql)
    while i < n:
        ch = sql[i]
        if ch.isspace():
            i += 1
        elif sql.startswith("--", i):
            nl = sql.find("\n", i)
            i = n if nl < 0 else nl + 1
        elif sql.startswith("/*", i):
            close = sql.find("*/", i + 2)
            i = n if close < 0 else close + 2
        elif ch in "xX" and i + 1 < n and sql[i + 1] == "'":
            end = _quoted_end(sql, i + 1, "'")
            tokens.append(Token("blob", sql[i:end], i, end))
            i = end
        elif ch == "'":
            end = _quoted_end(sql, i, "'")
            tokens.append(Token("string", sql[i:end], i, end))
            i = end
        elif ch in '"`[':
            end = _quoted_end(sql, i, _CLOSE[ch])
            tokens.append(Token("ident", sql[i:end], i, end))
            i = end
        elif ch.isdigit() or (ch == "." and i + 1 < n and sql[i + 1].isdigit()):
            j = _number_end(sql, i)
            tokens.append(Token("number", sql[i:j], i, j))
            i = j
        elif _word_char(ch):
            j = i + 1
            while j < n and _word_char(sql[j]):
                j += 1
            tokens.append(Token("word", sql[i:j], i, j))
            i = j
        else:
            op = next((o for o in _OPERATORS if sql.startswith(o, i)), ch)
            tokens.append(Token("punct", op, i, i + len(op)))
            i += len(op)
    return tokens


def unquote_ident(tok: Token) -> str:
    """The name an identifier-ish token stands for ('string' names are legal in SQLite DDL)."""
    text = tok.text
    if tok.kind == "ident" or tok.kind == "string":
        open_, body = text[0], text[1:-1]
        if open_ == "[":
            return body
        return body.replace(open_ * 2, open_)
    return text


def string_value(tok: Token) -> str:
    return tok.text[1:-1].replace("''", "'")


def _matching(tokens: list[Token], open_index: int) -> int:
    """Index of the ')' matching the '(' at open_index (len(tokens) if unbalanced)."""
    depth = 0
    for k in range(open_index, len(tokens)):
        if tokens[k].is_punct("("):
            depth += 1
        elif tokens[k].is_punct(")"):
            depth -= 1
            if depth == 0:
                return k
    return len(tokens)


def _split_top(tokens: list[Token]) -> list[list[Token]]:
    """Split on commas at parenthesis depth 0."""
    parts: list[list[Token]] = [[]]
    depth = 0
    for tok in tokens:
        if tok.is_punct("("):
            depth += 1
        elif tok.is_punct(")"):
            depth -= 1
        elif tok.is_punct(",") and depth == 0:
            parts.append([])
            continue
        parts[-1].append(tok)
    return [p for p in parts if p]


def _text(sql: str, tokens: list[Token]) -> str:
    return sql[tokens[0].start : tokens[-1].end] if tokens else ""


@dataclass(frozen=True, slots=True)
class ParsedCheck:
    name: str | None
    expression: str
    #: The column the check was written on (column constraint), None for a table constraint.
    column: str | None = None


@dataclass(slots=True)
class ParsedColumn:
    name: str
    autoincrement: bool = False
    pk_desc: bool = False


@dataclass(slots=True)
class ParsedTable:
    columns: dict[str, ParsedColumn] = field(default_factory=dict)
    checks: list[ParsedCheck] = field(default_factory=list)
    without_rowid: bool = False
    #: Foreign key constraint names, keyed by the (ordered) local column names.
    fk_names: dict[tuple[str, ...], str] = field(default_factory=dict)


_TABLE_CONSTRAINT_STARTS = {"CONSTRAINT", "PRIMARY", "UNIQUE", "CHECK", "FOREIGN"}


def _constraint_name(tokens: list[Token], k: int) -> str | None:
    """The name of ``CONSTRAINT name`` right before tokens[k], if present."""
    if k >= 2 and tokens[k - 2].upper == "CONSTRAINT":
        return unquote_ident(tokens[k - 1])
    return None


def _checks_in(sql: str, tokens: list[Token], column: str | None) -> list[ParsedCheck]:
    found: list[ParsedCheck] = []
    k = 0
    while k < len(tokens):
        if tokens[k].upper == "CHECK" and k + 1 < len(tokens) and tokens[k + 1].is_punct("("):
            close = _matching(tokens, k + 1)
            body = tokens[k + 2 : close]
            found.append(ParsedCheck(_constraint_name(tokens, k), _text(sql, body), column))
            k = close + 1
        elif tokens[k].is_punct("("):
            k = _matching(tokens, k) + 1  # never look for CHECK inside DEFAULT (...) or AS (...)
        else:
            k += 1
    return found


def _fk_name(tokens: list[Token]) -> tuple[tuple[str, ...], str] | None:
    """``CONSTRAINT name FOREIGN KEY (a, b) ...`` → ((a, b), name)."""
    if len(tokens) < 4 or tokens[0].upper != "CONSTRAINT" or tokens[2].upper != "FOREIGN":
        return None
    for k in range(3, len(tokens)):
        if tokens[k].is_punct("("):
            close = _matching(tokens, k)
            cols = tuple(unquote_ident(p[0]) for p in _split_top(tokens[k + 1 : close]))
            return cols, unquote_ident(tokens[1])
    return None


def parse_create_table(sql: str) -> ParsedTable:
    """Column and table constraints of a ``CREATE TABLE`` statement (empty for ``AS SELECT``)."""
    table = ParsedTable()
    tokens = tokenize(sql)
    open_index = None
    for k, tok in enumerate(tokens):
        if tok.upper == "AS":
            return table
        if tok.is_punct("("):
            open_index = k
            break
    if open_index is None:
        return table
    close = _matching(tokens, open_index)
    for part in _split_top(tokens[open_index + 1 : close]):
        head = part[0]
        if head.upper in _TABLE_CONSTRAINT_STARTS:
            table.checks.extend(_checks_in(sql, part, None))
            named = _fk_name(part)
            if named is not None:
                table.fk_names[named[0]] = named[1]
            continue
        name = unquote_ident(head)
        column = ParsedColumn(name)
        uppers = [t.upper for t in part]
        column.autoincrement = "AUTOINCREMENT" in uppers
        for k in range(len(part) - 2):
            if uppers[k] == "PRIMARY" and uppers[k + 1] == "KEY":
                column.pk_desc = uppers[k + 2] == "DESC"
        table.columns[name.casefold()] = column
        table.checks.extend(_checks_in(sql, part[1:], name))
    tail = [t.upper for t in tokens[close + 1 :]]
    table.without_rowid = any(a == "WITHOUT" and b == "ROWID" for a, b in pairwise(tail))
    return table


@dataclass(frozen=True, slots=True)
class ParsedIndex:
    #: Each indexed term as written, without a trailing COLLATE / ASC / DESC.
    terms: tuple[str, ...]
    where: str | None


def parse_create_index(sql: str) -> ParsedIndex:
    tokens = tokenize(sql)
    on = next((k for k, t in enumerate(tokens) if t.upper == "ON"), None)
    if on is None:
        return ParsedIndex((), None)
    open_index = next((k for k in range(on, len(tokens)) if tokens[k].is_punct("(")), None)
    if open_index is None:
        return ParsedIndex((), None)
    close = _matching(tokens, open_index)
    terms: list[str] = []
    for part in _split_top(tokens[open_index + 1 : close]):
        while part and part[-1].upper in ("ASC", "DESC"):
            part = part[:-1]
        if len(part) >= 2 and part[-2].upper == "COLLATE":
            part = part[:-2]
        terms.append(_text(sql, part))
    rest = tokens[close + 1 :]
    while rest and rest[-1].is_punct(";"):
        rest = rest[:-1]
    where = _text(sql, rest[1:]) if rest and rest[0].upper == "WHERE" and len(rest) > 1 else None
    return ParsedIndex(tuple(terms), where)


def parse_in_list(expression: str) -> tuple[str, tuple[str | int, ...]] | None:
    """``col IN ('a', 'b')`` / ``"col" IN (1, 2)`` → (column, values in order), else None.

    Only a plain column (bare, "double", [bracket] or `backtick` quoted) against a list of all
    string or all integer literals qualifies; anything else stays a generic CHECK.
    """
    tokens = tokenize(expression)
    while len(tokens) >= 2 and tokens[0].is_punct("(") and _matching(tokens, 0) == len(tokens) - 1:
        tokens = tokens[1:-1]  # redundant outer parentheses
    if len(tokens) < 5 or tokens[0].kind not in ("word", "ident") or tokens[1].upper != "IN":
        return None
    if not tokens[2].is_punct("(") or _matching(tokens, 2) != len(tokens) - 1:
        return None
    values: list[str | int] = []
    for part in _split_top(tokens[3:-1]):
        if len(part) == 1 and part[0].kind == "string":
            values.append(string_value(part[0]))
        elif (
            len(part) <= 2
            and part[-1].kind == "number"
            and part[-1].text.isdigit()
            and (len(part) == 1 or part[0].text in ("-", "+"))
        ):
            number = int(part[-1].text)
            values.append(-number if part[0].text == "-" else number)
        else:
            return None
    if not values:
        return None
    kinds = {type(v) for v in values}
    if len(kinds) != 1:
        return None
    if tokens[0].kind == "word" and tokens[0].upper in ("NOT", "NULL"):
        return None
    return unquote_ident(tokens[0]), tuple(values)
