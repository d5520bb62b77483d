"""Python string literals that black leaves alone, and text safe in comments.

Identifiers come from :mod:`xrepo.runtime.naming` (shared with dynamic models); the original
source name always travels as a string literal built by :func:`py_str`, never as code.
"""

from __future__ import annotations

import re
import unicodedata


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
