"""Read a daily sales report file into a frame of text columns with canonical names.

Everything is read as text first — codes keep their leading zeros and "NA" stays a name — and
typed explicitly later (:mod:`portal.sales.validation`). The encoding is detected, never guessed
silently: a UTF-8 BOM, else strict UTF-8, else strict CP949 (what Korean Excel writes); bytes
that are neither refuse the file instead of turning into mojibake.
"""

from __future__ import annotations

import io
import logging
import re
import zipfile
import zlib
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any

import pandas as pd
from flask_babel import gettext as _

# canonical name → accepted headers (English and Korean); compared without case, spaces or "_".
COLUMNS: dict[str, tuple[str, ...]] = {
    "report_date": ("report_date", "판매일자", "판매일", "date"),
    "branch_code": ("branch_code", "지점코드", "branch"),
    "receipt_no": ("receipt_no", "영수증번호", "receipt"),
    "customer_code": ("customer_code", "고객번호", "고객코드"),
    "customer_name": ("customer_name", "고객명", "고객이름"),
    "phone": ("phone", "전화번호", "휴대폰번호", "연락처"),
    "email": ("email", "이메일", "e-mail", "메일"),
    "address": ("address", "주소"),
    "postal_code": ("postal_code", "우편번호"),
    "birth_date": ("birth_date", "생년월일"),
    "product_sku": ("product_sku", "상품코드", "sku"),
    "product_name": ("product_name", "상품명"),
    "category": ("category", "카테고리", "상품분류"),
    "quantity": ("quantity", "수량"),
    "unit_price": ("unit_price", "단가"),
    "amount": ("amount", "금액", "판매금액"),
}
CANONICAL = tuple(COLUMNS)
REQUIRED = ("report_date", "branch_code", "product_sku", "quantity", "unit_price", "amount")
CUSTOMER_KEYS = ("customer_code", "phone", "email")
ALLOWED_SUFFIXES = (".csv", ".txt", ".xlsx")
XLSX_MAX_ROWS = 1_048_576
log = logging.getLogger(__name__)


def _key(header: str) -> str:
    return re.sub(r"[\s_\-]+", "", header.replace("\ufeff", "")).lower()


_ALIASES = {_key(alias): name for name, aliases in COLUMNS.items() for alias in aliases}


class ReportFileError(Exception):
    """The file as a whole cannot be read (format, encoding, headers): nothing is imported."""


@dataclass
class ReportFile:
    frame: pd.DataFrame  # canonical columns, all text, "" for empty; index 0.. = data rows
    encoding: str  # utf-8, utf-8-sig, cp949 or xlsx
    ignored_columns: list[str] = field(default_factory=list)
    header_row: int = 1  # spreadsheet row number of the header: data row i is header_row + 1 + i
    headers: dict[str, str] = field(default_factory=dict)  # canonical name → the header as the file wrote it


_HANGUL = re.compile(r"[\uac00-\ud7a3]")


def column_labels(headers: dict[str, str]) -> dict[str, str]:
    """How messages name each column: as the file named it; a column the file lacks by its Korean
    name when the file's headers are Korean (the uploader's terms), else by its English name."""
    korean = any(_HANGUL.search(h) for h in headers.values())
    out = {}
    for name, aliases in COLUMNS.items():
        fallback = next((a for a in aliases if _HANGUL.search(a)), name) if korean else name
        out[name] = headers.get(name) or fallback
    return out


def read_report(data: bytes, filename: str) -> ReportFile:
    """Parse the upload; raises :class:`ReportFileError` with a message for the uploader."""
    suffix = ("." + filename.rsplit(".", 1)[-1].lower()) if "." in filename else ""
    if suffix not in ALLOWED_SUFFIXES:
        raise ReportFileError(_("Upload a .csv or .xlsx file (this one is %(name)s).", name=filename[:80]))
    if not data.strip():
        raise ReportFileError(_("The file is empty."))
    if data[:4] == b"PK\x03\x04":
        if suffix != ".xlsx":
            raise ReportFileError(_("This file is an Excel workbook; name it .xlsx or save it as CSV."))
        return _read_xlsx(data)
    if data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        raise ReportFileError(_("Old .xls workbooks are not supported: save the sheet as .xlsx or CSV."))
    if suffix == ".xlsx":
        raise ReportFileError(_("The file is named .xlsx but is not an Excel workbook."))
    text, encoding = _decode(data)
    # The C parser reads UTF-8 bytes about 4x faster than a str; the text was only for the check.
    utf8 = data[3:] if encoding == "utf-8-sig" else data if encoding == "utf-8" else text.encode("utf-8")
    return _read_csv(utf8, encoding)


def _decode(data: bytes) -> tuple[str, str]:
    if data.startswith(b"\xef\xbb\xbf"):
        try:
            return data[3:].decode("utf-8"), "utf-8-sig"
        except UnicodeDecodeError as exc:
            raise ReportFileError(_("The file starts as UTF-8 but has invalid bytes at position %(pos)d.",
                                    pos=exc.start + 3)) from exc
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp949"), "cp949"
    except UnicodeDecodeError as exc:
        raise ReportFileError(_("The file is neither UTF-8 nor CP949 (Korean Excel) text; save it again as "
                                "CSV UTF-8.")) from exc


def _read_csv(utf8: bytes, encoding: str) -> ReportFile:
    if b"\x00" in utf8:
        raise ReportFileError(_("The file contains NUL characters; it is not a text CSV file."))
    try:
        frame = pd.read_csv(io.BytesIO(utf8), dtype=str, keep_default_na=False, na_filter=False,
                            skip_blank_lines=True, engine="c", encoding="utf-8")
    except pd.errors.EmptyDataError as exc:
        raise ReportFileError(_("The file has no header row.")) from exc
    except pd.errors.ParserError as exc:
        raise ReportFileError(csv_parse_message(str(exc))) from exc
    return _canonical(frame.fillna(""), encoding)


_FIELDS_RE = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")
_EOF_RE = re.compile(r"EOF inside string starting at row (\d+)")


def csv_parse_message(detail: str) -> str:
    """The CSV parser's refusal in the user's terms and language (pandas' own text is English and
    technical: "Error tokenizing data. C error: Expected 16 fields in line 3, saw 17")."""
    if m := _FIELDS_RE.search(detail):
        return _("Row %(row)s has %(saw)s columns but the header has %(n)s: a value with a comma needs "
                 "quotation marks around it.", row=m.group(2), saw=m.group(3), n=m.group(1))
    if m := _EOF_RE.search(detail):
        # pandas counts this row from 0 (the header), the portal's row numbers from 1.
        return _("A quotation mark opened in row %(row)s is never closed.", row=int(m.group(1)) + 1)
    log.info("CSV refused by the parser: %s", detail[:200])
    return _("The CSV file cannot be read: its rows are not well-formed CSV. Save it again from Excel as CSV.")


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time(0) else value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value)


# -- XLSX: bounded before parsing --------------------------------------------------------------------

XLSX_MAX_PARTS = 1_000  # files inside the zip
XLSX_MAX_UNCOMPRESSED = 100 * 2**20  # bytes of all parts together, unpacked (100 MiB)
XLSX_MAX_ELEMENTS = 3_000_000  # XML elements of all parts together: cells, values, shared texts, rows …
_CHUNK = 1 << 20
_DTD = (b"<!DOCTYPE", b"<!ENTITY")
_ENCODING = re.compile(rb"""^<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")


def check_xlsx(data: bytes) -> None:
    """Refuse a workbook whose parsing could hold a worker, before openpyxl sees it.

    openpyxl spends some microseconds and ~100 bytes per XML element (a shared text, a cell), so
    a 200 KB zip of five million shared strings takes half a minute and most of a gigabyte. This
    check reads the zip's directory (sizes as declared; :mod:`zipfile` never inflates a part
    beyond its declared size, it fails the CRC instead), then inflates each part in 1 MiB chunks
    and counts element start tags with ``bytes.count`` (an upper bound: every ``<`` that is not
    ``</``), stopping at the first limit passed — so a bomb is refused after a few MiB. It also
    refuses any DTD (``<!DOCTYPE``/``<!ENTITY``: entity expansion, external entities) and XML
    parts in any encoding but UTF-8, where those markers could hide. Cost, measured: 1.7 ms on a
    1,000-row report (openpyxl then reads it in 0.37 s), 0.34 s on a 60,000-row one (24 s).
    """
    too_big = _("This workbook is too large to read safely: at most %(cells)s cells and texts and %(mb)d MB "
                "unpacked. Save it as CSV (UTF-8) and upload that instead.",
                cells=f"{XLSX_MAX_ELEMENTS // 2:,}", mb=XLSX_MAX_UNCOMPRESSED // 2**20)
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError) as exc:
        raise ReportFileError(_("The file is not a valid Excel workbook (it is damaged or only named .xlsx); "
                                "save it again from Excel, or as CSV.")) from exc
    with zf:
        parts = [i for i in zf.infolist() if not i.is_dir()]
        if len(parts) > XLSX_MAX_PARTS or sum(i.file_size for i in parts) > XLSX_MAX_UNCOMPRESSED:
            raise ReportFileError(too_big)
        elements = 0
        for info in parts:
            try:
                elements = _count_part(zf, info, elements, too_big)
            except (zipfile.BadZipFile, NotImplementedError, RuntimeError, OSError, EOFError, zlib.error) as exc:
                raise ReportFileError(_("The file is not a valid Excel workbook (it is damaged or only named "
                                        ".xlsx); save it again from Excel, or as CSV.")) from exc


def _count_part(zf: zipfile.ZipFile, info: zipfile.ZipInfo, elements: int, too_big: str) -> int:
    tail = b""
    with zf.open(info) as fh:
        first = True
        while chunk := fh.read(_CHUNK):
            if first:
                _check_encoding(chunk)
                first = False
            window = tail + chunk  # a marker split between two chunks is still seen
            if any(marker in window for marker in _DTD):
                raise ReportFileError(_("The workbook contains an XML document type declaration (DTD), which "
                                        "Excel never writes; it is refused. Save the sheet again from Excel, or "
                                        "as CSV."))
            elements += chunk.count(b"<") - chunk.count(b"</")
            if elements > XLSX_MAX_ELEMENTS:
                raise ReportFileError(too_big)
            tail = chunk[-16:]
    return elements


def _check_encoding(head: bytes) -> None:
    """Parts are UTF-8 (what every spreadsheet program writes): UTF-16 or another declared encoding
    could hide a DTD from the byte scan, so they are refused."""
    bad = head[:2] in (b"\xff\xfe", b"\xfe\xff") or head[:2] in (b"<\x00", b"\x00<")
    match = _ENCODING.match(head.removeprefix(b"\xef\xbb\xbf")[:200])
    if bad or (match and match.group(1).lower().replace(b"_", b"-") not in (b"utf-8", b"utf8")):
        raise ReportFileError(_("The workbook has parts in an encoding other than UTF-8, which Excel never "
                                "writes; save the sheet again from Excel, or as CSV."))


def _read_xlsx(data: bytes) -> ReportFile:
    check_xlsx(data)
    from openpyxl import load_workbook  # imported late: the CSV path never needs it

    try:
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types on a malformed workbook; all mean "cannot open"
        log.info("XLSX refused by openpyxl: %s: %s", type(exc).__name__, str(exc)[:200])
        raise ReportFileError(_("The Excel file cannot be opened: it is damaged or not a workbook saved by a "
                                "spreadsheet program. Save it again from Excel, or as CSV.")) from exc
    try:
        if not wb.worksheets:
            raise ReportFileError(_("The workbook has no worksheet."))
        return _xlsx_rows(wb.worksheets[0])
    except ReportFileError:
        raise
    except Exception as exc:  # a damaged sheet part fails only when its rows are read
        log.info("XLSX sheet refused by openpyxl: %s: %s", type(exc).__name__, str(exc)[:200])
        raise ReportFileError(_("The first worksheet cannot be read: the file is damaged. Save it again from "
                                "Excel, or as CSV.")) from exc
    finally:
        wb.close()


def _xlsx_rows(ws: Any) -> ReportFile:
    """The first sheet's rows from its first non-empty one (the header) on, as text."""
    rows = ws.iter_rows(values_only=True)
    header, header_row = None, 0
    for header_row, row in enumerate(rows, start=1):  # noqa: B007
        if any(v not in (None, "") for v in row):
            header = [_cell_text(v) for v in row]
            break
    if header is None:
        raise ReportFileError(_("The file has no header row."))
    width = len(header)
    body = []
    for row in rows:
        cells = [_cell_text(v) for v in row[:width]]
        if any(cells):
            body.append(cells + [""] * (width - len(cells)))
    frame = pd.DataFrame(body, columns=header, dtype=str) if body else pd.DataFrame(columns=header, dtype=str)
    return _canonical(frame, "xlsx", header_row)


def _canonical(frame: pd.DataFrame, encoding: str, header_row: int = 1) -> ReportFile:
    names, ignored, seen = {}, [], {}
    for col in frame.columns:
        canon = _ALIASES.get(_key(str(col)))
        if canon is None:
            if str(col).strip() and not str(col).startswith("Unnamed:"):
                ignored.append(str(col))
            continue
        if canon in seen:
            raise ReportFileError(_("Columns %(a)s and %(b)s both mean %(name)s; keep one.",
                                    a=seen[canon], b=str(col), name=canon))
        seen[canon] = str(col)
        names[col] = canon
    missing = [c for c in REQUIRED if c not in seen]
    if missing:
        raise ReportFileError(_("Missing required columns: %(cols)s. Found: %(found)s.", cols=", ".join(missing),
                                found=", ".join(str(c) for c in frame.columns)[:300]))
    if not any(k in seen for k in CUSTOMER_KEYS):
        raise ReportFileError(_("Add a customer column: customer_code (고객번호), phone (전화번호) or email (이메일)."))
    frame = frame[list(names)].rename(columns=names)
    for col in CANONICAL:
        if col not in frame.columns:
            frame[col] = ""
    frame = frame[list(CANONICAL)].reset_index(drop=True)
    if frame.empty:
        raise ReportFileError(_("The file has a header but no rows."))
    return ReportFile(frame=frame, encoding=encoding, ignored_columns=ignored, header_row=header_row,
                      headers={canon: header.replace("\ufeff", "").strip()[:40] for canon, header in seen.items()})
