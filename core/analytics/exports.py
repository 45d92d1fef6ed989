"""Tables as files for Excel: CSV (UTF-8 with a BOM, so Excel reads Chinese) and XLSX.

The caller passes the headers and cell values already in the user's language; this module
only makes the file safe and readable:

- a text cell that a spreadsheet would run as a formula (starting with = + - @, or a tab or
  carriage return) is prefixed with a single quote;
- anything that looks like a Chinese mobile number (11 digits, 1[3-9]...) is masked as
  138****5678;
- numbers stay numbers in XLSX (shares as percentages, with a number format); in CSV a share
  is written as "12.5%".
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from core.phone import mask_mobile

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_MOBILE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")
SHEET_TITLE_MAX = 31
_SHEET_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")


@dataclass(frozen=True)
class ExportTable:
    """``kinds`` per column: "text", "int", "pct" (fraction), "decimal" (1 place)."""

    title: str
    headers: Sequence[str]
    rows: Sequence[Sequence[Any]]
    kinds: Sequence[str]


def safe_text(value: str) -> str:
    """Mask mobile numbers and neutralise a leading formula character."""
    text = _MOBILE.sub(lambda m: mask_mobile(m.group(0)), value)
    if text.startswith(FORMULA_PREFIXES):
        text = "'" + text
    return text


def _csv_cell(value: Any, kind: str) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return safe_text(str(value))
    if kind == "pct" and isinstance(value, int | float):
        return f"{value * 100:.1f}%"
    if kind == "decimal" and isinstance(value, int | float):
        return f"{value:.1f}"
    if isinstance(value, int | float):
        return str(value)
    return safe_text(str(value))


def to_csv(table: ExportTable) -> bytes:
    """UTF-8 with a byte-order mark, a header row, CRLF line ends (as Excel writes them)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([safe_text(str(h)) for h in table.headers])
    for row in table.rows:
        writer.writerow([_csv_cell(v, k) for v, k in zip(row, table.kinds, strict=True)])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def _sheet_title(title: str) -> str:
    cleaned = _SHEET_FORBIDDEN.sub(" ", title).strip("' ") or "Sheet"
    return cleaned[:SHEET_TITLE_MAX]


def _width(value: Any) -> int:
    """Display width: a Chinese character takes two columns."""
    text = "" if value is None else str(value)
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)


def _xlsx_cell(value: Any) -> Any:
    if value is None or (isinstance(value, int | float) and not isinstance(value, bool)):
        return value
    return safe_text(str(value))


def to_xlsx(table: ExportTable) -> bytes:
    """One sheet: a bold header row frozen at the top, columns as wide as their contents."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = _sheet_title(table.title)
    sheet.append([safe_text(str(h)) for h in table.headers])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in table.rows:
        sheet.append([_xlsx_cell(value) for value in row])
    for index, kind in enumerate(table.kinds, start=1):
        fmt = {"pct": "0.0%", "decimal": "0.0"}.get(kind)
        if fmt:
            for (cell,) in sheet.iter_rows(min_row=2, min_col=index, max_col=index):
                cell.number_format = fmt
    for index, header in enumerate(table.headers, start=1):
        shown = [_width(header)] + [
            _width(f"{r[index - 1] * 100:.1f}%")
            if table.kinds[index - 1] == "pct" and isinstance(r[index - 1], int | float)
            else _width(r[index - 1])
            for r in table.rows
        ]
        sheet.column_dimensions[get_column_letter(index)].width = min(max(shown) + 2, 60)
    sheet.freeze_panes = "A2"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
