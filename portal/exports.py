"""Spreadsheet downloads shared by every export: CSV (streamed) and XLSX (openpyxl, write-only).

Both writers neutralize formula cells (SECURITY.md 1.2.10): a text value starting with ``=``,
``+``, ``-``, ``@``, tab or CR gets a leading ``'`` so that Excel, LibreOffice or Google Sheets
never run it. XLSX cells holding text are additionally typed as strings, so even openpyxl's
"a str starting with = is a formula" rule cannot turn a customer's name into a formula.

Callers pass plain rows (lists of values) from a streamed query, so an export never holds the
whole result in memory; they check scope and write the access log themselves. They name their
columns by code (``customer_code``); :func:`logged_export` writes the headers in the user's
language (:data:`HEADERS`, ``판매일자`` / ``Sale date``), like every other label on the page.
"""

from __future__ import annotations

import csv
import io
import re
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import date, datetime
from typing import Any

from flask import Response, g, send_file, stream_with_context
from flask_babel import lazy_gettext as _l

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# Excel's hard limit is 1,048,576 rows per sheet; one of them is the header.
XLSX_MAX_ROWS = 1_048_575
CSV_MIME = "text/csv; charset=utf-8"
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_SHEET_TITLE_JUNK = re.compile(r"[\\/?*\[\]:]")

# Column headers of the downloads by column code (a code not listed stays as it is).
HEADERS = {
    # customers
    "code": _l("Customer no."), "name": _l("Name"), "phone": _l("Phone"), "email": _l("E-mail"),
    "address": _l("Address"), "postal_code": _l("Postal code"), "birth_date": _l("Birth date"),
    "gender": _l("Gender"), "branch": _l("Branch"), "partner": _l("Distributor"), "complaint": _l("Complaint"),
    "created_at": _l("Created"),
    # sale lines (the daily report's own column names)
    "sold_at": _l("Sale date"), "receipt_no": _l("Receipt no."), "customer_code": _l("Customer no."),
    "customer_name": _l("Customer name"), "product_sku": _l("Product code"), "product_name": _l("Product name"),
    "category": _l("Category code"), "category_name": _l("Category"), "quantity": _l("Quantity"),
    "unit_price": _l("Unit price"), "amount": _l("Amount"),
    # a daily report's refused rows
    "row": _l("Row"), "column": _l("Column"), "value": _l("Value"), "reason": _l("Problem"),
    # loyalty: points about to expire
    "points_expiring": _l("Points expiring"), "first_expiry": _l("First expiry"),
}


def header_labels(columns: Sequence[str]) -> list[str]:
    """The column headers in the current language (the user's, in a request)."""
    return [str(HEADERS.get(c, c)) for c in columns]


class ExportTooLarge(ValueError):
    """More rows than one XLSX sheet holds; the caller tells the user to narrow the filters."""

    def __init__(self, rows: int, limit: int):
        super().__init__(f"{rows} rows do not fit in one Excel sheet (at most {limit}).")
        self.rows = rows
        self.limit = limit


def neutralize(value: Any) -> Any:
    """Keep spreadsheet apps from running a cell as a formula (SECURITY.md 1.2.10)."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def _csv_value(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return "Y" if value else ""
    return neutralize(value)


def csv_chunks(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Iterator[str]:
    """UTF-8 CSV text in ~64 kB chunks, starting with a BOM (Excel reads Korean correctly only then)."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    yield "\ufeff"
    writer.writerow([neutralize(h) for h in header])
    for row in rows:
        writer.writerow([_csv_value(v) for v in row])
        if buf.tell() > 64_000:
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()
    yield buf.getvalue()


def csv_response(filename: str, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Response:
    """A streamed CSV download; ``rows`` is read while the response is sent (in the request context)."""
    return Response(stream_with_context(csv_chunks(header, rows)), mimetype=CSV_MIME,
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


_ILLEGAL_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def _xlsx_cell(ws: Any, value: Any, bold: bool = False) -> Any:
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    if isinstance(value, str):
        # Control characters cannot be stored in the XML of a sheet (openpyxl would raise).
        cell = WriteOnlyCell(ws, value=_ILLEGAL_XML.sub("", neutralize(value))[:32767])
        cell.data_type = "s"  # text stays text: never a formula, an error code or a number
    elif isinstance(value, bool):
        cell = WriteOnlyCell(ws, value="Y" if value else "")
        cell.data_type = "s"
    else:
        cell = WriteOnlyCell(ws, value=value)  # int, date, datetime, None
    if bold:
        cell.font = Font(bold=True)
    return cell


def write_xlsx(fileobj: Any, header: Sequence[str], rows: Iterable[Sequence[Any]], sheet_title: str,
               max_rows: int | None = None) -> int:
    """Write one sheet to ``fileobj`` and return the number of data rows.

    openpyxl's write-only mode streams rows to disk, so memory stays flat whatever the size.
    More than ``max_rows`` (default :data:`XLSX_MAX_ROWS`) raises :class:`ExportTooLarge`
    before a file Excel would refuse or cut short is produced.
    """
    from openpyxl import Workbook

    limit = XLSX_MAX_ROWS if max_rows is None else max_rows
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(title=_SHEET_TITLE_JUNK.sub(" ", sheet_title).strip()[:31] or "Sheet1")
    ws.append([_xlsx_cell(ws, h, bold=True) for h in header])
    n = 0
    try:
        for row in rows:
            n += 1
            if n > limit:
                raise ExportTooLarge(n, limit)
            ws.append([_xlsx_cell(ws, v) for v in row])
    except BaseException:
        # End openpyxl's row writer and drop its temporary sheet file (wb.save would do both).
        ws.close()
        writer = getattr(ws, "_writer", None)
        if writer is not None:
            writer.cleanup()
        raise
    wb.save(fileobj)
    return n


def xlsx_response(filename: str, header: Sequence[str], rows: Iterable[Sequence[Any]], sheet_title: str,
                  row_count: int | None = None, max_rows: int | None = None) -> Response:
    """An XLSX download built in a temporary file (deleted when the response is closed).

    ``row_count`` (when the caller has counted already) refuses an over-large export before any
    row is written; otherwise the limit is checked while writing. Either way
    :class:`ExportTooLarge` is raised instead of sending a broken file.
    """
    limit = XLSX_MAX_ROWS if max_rows is None else max_rows
    if row_count is not None and row_count > limit:
        raise ExportTooLarge(row_count, limit)
    tmp = tempfile.TemporaryFile(suffix=".xlsx")
    try:
        write_xlsx(tmp, header, rows, sheet_title, max_rows=limit)
        tmp.seek(0)
    except BaseException:
        tmp.close()
        raise
    return send_file(tmp, mimetype=XLSX_MIME, as_attachment=True, download_name=filename, max_age=0)


def reads_only_from_now() -> None:
    """After an export's access-log row is committed, let its (long) read run as a plain reader.

    The log write turned this GET into a write transaction (``write_intent``); on SQLite the
    next transaction would otherwise begin IMMEDIATE and hold the write lock while the whole
    file streams, stalling imports. PostgreSQL is unaffected.
    """
    g.pop("sqlite_write", None)


def logged_export(fmt: str, filename: str, header: Sequence[str], rows: Callable[[], Iterable[Sequence[Any]]],
                  sheet_title: str, count: int, **access: Any) -> Response:
    """The one way a page exports personal data: the access-log row (``audit.log_access("export",
    count=count, **access)``) is committed before the file leaves, and a CSV then streams as a
    plain reader. An XLSX is built first, so :class:`ExportTooLarge` reaches the caller before
    anything is logged. ``rows`` is called once, when the rows are written."""
    from . import audit
    from .extensions import db

    header = header_labels(header)
    resp = xlsx_response(filename, header, rows(), sheet_title, row_count=count) if fmt == "xlsx" else None
    audit.log_access("export", count=count, **access)
    db.session.commit()
    if resp is not None:
        return resp
    reads_only_from_now()
    return csv_response(filename, header, rows())
