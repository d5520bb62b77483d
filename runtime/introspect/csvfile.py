"""CSV inspector: encoding, dialect, header names and column types from a streamed sample.

* **Encoding**: a UTF-8 BOM gives ``utf-8-sig`` (a UTF-16 BOM ``utf-16``); otherwise the whole
  file is decoded as UTF-8 in chunks and, at the first invalid byte, ``latin-1`` is used (it
  decodes every byte, so it is the fallback of last resort).
* **Dialect**: :class:`csv.Sniffer` proposes a delimiter among ``, ; TAB |`` on a prefix of the
  file; each proposal (then ``,`` ``;`` TAB ``|`` in that order) is checked by parsing the prefix's
  complete lines, and the first that splits every line into the same number (> 1) of cells wins.
  A file where no candidate is consistent is read with ``,``.
* **Headers** are kept verbatim; empty or repeated ones are renamed as
  :func:`xrepo.runtime.files.header_names` documents (``column_3``, ``name_2``).
* **Nulls**: cells equal to one of ``null_tokens`` are null. ``NaN`` is *not* a default null token:
  it is a float value, and a column holding it next to numbers is float.
* **Types**: see :mod:`.infer` (int, float, decimal, bool, date, datetime, time, enum, str with
  semantic refinements). Only the first ``sample_rows`` rows are inferred from; the rest of the
  file is streamed to count rows, so memory stays bounded whatever the file size.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Sequence
from pathlib import Path

from ..files import header_names
from ..schema import (
    CollectionSpec,
    CollectionStats,
    FieldStats,
    FileFormat,
    Snapshot,
    SourceInfo,
)
from .base import InspectError, Progress
from .infer import FieldAccumulator

__all__ = [
    "DEFAULT_ENUM_MAX",
    "DEFAULT_NULL_TOKENS",
    "detect_dialect",
    "detect_encoding",
    "inspect_csv",
]

DEFAULT_NULL_TOKENS: tuple[str, ...] = ("", "NA", "N/A", "n/a", "NULL", "null", "None")
DEFAULT_ENUM_MAX = 20
DELIMITERS = (",", ";", "\t", "|")
_PREFIX_BYTES = 64 * 1024
_CHUNK = 1 << 20
_PROGRESS_EVERY = 10_000


def detect_encoding(path: Path) -> str:
    """``utf-8-sig``, ``utf-16``, ``utf-8`` or ``latin-1`` (see the module docstring)."""
    with path.open("rb") as handle:
        head = handle.read(4)
        if head.startswith(codecs.BOM_UTF8):
            return "utf-8-sig"
        if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            return "utf-16"
        handle.seek(0)
        decoder = codecs.getincrementaldecoder("utf-8")()
        try:
            while chunk := handle.read(_CHUNK):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return "latin-1"
    return "utf-8"


def _widths(sample: str, delimiter: str, quotechar: str) -> set[int]:
    try:
        rows = list(csv.reader(io.StringIO(sample), delimiter=delimiter, quotechar=quotechar))
    except csv.Error:
        return set()
    return {len(row) for row in rows if row}


def detect_dialect(sample: str) -> tuple[str, str]:
    """``(delimiter, quotechar)`` for a text prefix made of complete lines."""
    quotechar = '"'
    candidates: list[str] = []
    try:
        sniffed = csv.Sniffer().sniff(sample, delimiters="".join(DELIMITERS))
        candidates.append(sniffed.delimiter)
        if sniffed.quotechar in {'"', "'"}:
            quotechar = sniffed.quotechar
    except csv.Error:
        pass
    candidates.extend(d for d in DELIMITERS if d not in candidates)
    for delimiter in candidates:
        for quote in dict.fromkeys((quotechar, '"')):
            widths = _widths(sample, delimiter, quote)
            if len(widths) == 1 and min(widths) > 1:
                return delimiter, quote
    return ",", '"'


def _prefix(path: Path, encoding: str) -> str:
    with path.open(encoding=encoding, newline="") as handle:
        text = handle.read(_PREFIX_BYTES)
        if handle.read(1):
            # The file goes on: drop the last, possibly cut, line.
            cut = max(text.rfind("\n"), text.rfind("\r"))
            text = text[:cut] if cut > 0 else text
    return text


def inspect_csv(
    path: Path,
    *,
    name: str,
    null_tokens: Sequence[str] = DEFAULT_NULL_TOKENS,
    sample_rows: int = 10_000,
    enum_max: int = DEFAULT_ENUM_MAX,
    progress: Progress | None = None,
) -> Snapshot:
    """Snapshot (source ``name``, kind ``csv``): one ``file`` collection named after the stem."""
    path = Path(path)
    if not path.is_file():
        raise InspectError(f"{path}: no such CSV file (check the source's path)")
    try:
        with path.open("rb") as raw:
            if b"\x00" in raw.read(65536):
                raise InspectError(f"{path}: contains NUL bytes: a binary file, not a CSV")
        encoding = detect_encoding(path)
        delimiter, quotechar = detect_dialect(_prefix(path, encoding))
        return _inspect(
            path,
            name,
            encoding,
            delimiter,
            quotechar,
            tuple(null_tokens),
            sample_rows,
            enum_max,
            progress,
        )
    except OSError as exc:
        raise InspectError(f"{path}: cannot read: {exc.strerror}") from None
    except (csv.Error, UnicodeDecodeError) as exc:
        raise InspectError(f"{path}: not a readable CSV file: {exc}") from None


def _inspect(
    path: Path,
    name: str,
    encoding: str,
    delimiter: str,
    quotechar: str,
    null_tokens: tuple[str, ...],
    sample_rows: int,
    enum_max: int,
    progress: Progress | None,
) -> Snapshot:
    nulls = frozenset(null_tokens)
    warnings: list[str] = []
    with path.open(encoding=encoding, newline="") as handle:
        reader = csv.reader(handle, delimiter=delimiter, quotechar=quotechar)
        header = next(reader, None)
        if not header:
            raise InspectError(f"{path}: empty CSV file (the first line must be a header)")
        names = header_names(header)
        width = len(names)
        accs = [FieldAccumulator(text=True, enum_max=enum_max) for _ in names]
        rows = 0
        for cells in reader:
            if not cells:
                continue
            rows += 1
            if len(cells) != width:
                # The runtime refuses such rows when reading: say so now, with the line.
                raise InspectError(
                    f"{path}:{reader.line_num}: {len(cells)} cells but {width} header columns "
                    "(every row needs one cell per header column; quote cells holding "
                    f"{delimiter!r})"
                )
            if rows <= sample_rows:
                for i, acc in enumerate(accs):
                    cell = cells[i] if i < len(cells) else None
                    acc.add_text(None if cell is None or cell in nulls else cell)
            if progress is not None and rows % _PROGRESS_EVERY == 0:
                progress.update(rows, None)
    if progress is not None:
        progress.update(rows, rows)
    fields = tuple(
        acc.to_field(n).model_copy(update={"source_type": "inferred"})
        for n, acc in zip(names, accs, strict=True)
    )
    stats: dict[str, FieldStats] = {n: acc.to_stats() for n, acc in zip(names, accs, strict=True)}
    spec = CollectionSpec(
        name=path.stem,
        kind="file",
        fields=fields,
        path=str(path),
        file_format=FileFormat(
            encoding=encoding, delimiter=delimiter, quotechar=quotechar, null_tokens=null_tokens
        ),
        stats=CollectionStats(
            row_estimate=rows,
            size_bytes=path.stat().st_size,
            sampled=min(rows, sample_rows),
            fields=stats,
        ),
    )
    return Snapshot(
        source=SourceInfo(name=name, kind="csv"), collections=(spec,), warnings=tuple(warnings)
    )
