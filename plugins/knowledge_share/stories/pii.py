"""The personal-data guard: a story is shared across branches, so it must not carry a customer.

:func:`scan_text` finds, in a story's fields, what identifies a person:

- **Korean mobile numbers** in any common writing — ``010-1234-5678``, ``010 1234 5678``,
  ``01012345678``, ``010.1234.5678``, ``(010)1234-5678``, ``+82 10-1234-5678``, full-width digits —
  taken as candidates by a regular expression and kept only when ``phonenumbers`` says they are a
  valid Korean *mobile* number. Landlines (``02-1588-1234``, ``031-123-4567``), representative
  numbers (``1588-1234``), free numbers (``080-…``) and 050/070 numbers are **not** refused: a story
  may name the branch's or the company's own number, and those are not a customer's.
- **E-mail addresses** (``kim@example.com``).
- **Resident registration numbers** — ``YYMMDD-GNNNNNN`` with a real birth date (the gender digit
  gives the century: 1/2 → 1900s, 3/4 → 2000s; 5–8 are foreign residents' registration numbers of
  the same shape and are refused too). The check digit is *not* required: numbers issued since
  October 2020 no longer carry one. Written without the hyphen, 13 digits are refused unless they
  are a valid EAN-13 barcode (Korean product barcodes start ``880`` and would otherwise look like a
  1988 birth date). Masked numbers (``900101-1******``) are fine.

:func:`scan_file` looks into an attachment: text files (CSV, TSV, TXT) and XLSX workbooks (opened
only after the core's ``check_xlsx`` bounds, read-only) are read as rows; more than
:data:`CUSTOMER_ROWS` rows that look like a customer record — a row holding a mobile number, an
e-mail address or a registration number, or a name with a phone or birth date under headers such as
``고객명``/``연락처``/``생년월일`` — give one ``customer_list`` finding ("500 rows look like customer
records"); the text rules also run over the file (at most :data:`MAX_FILE_FINDINGS` findings). PDFs
are searched best effort: printable runs of the raw bytes and of its Flate-compressed streams
(bounded), so a PDF whose text is drawn with embedded font codes may pass — the reviewer still reads
it. Images are not read (no OCR).
"""

from __future__ import annotations

import csv
import io
import re
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

import phonenumbers
from flask_babel import gettext as _

from portal.toolkit import SpreadsheetRefused, check_xlsx

__all__ = ["Finding", "scan_text", "scan_file", "finding_errors", "finding_dicts", "describe",
           "CUSTOMER_ROWS", "MAX_FILE_FINDINGS"]

#: More rows than this that look like customer records make a file a customer list.
CUSTOMER_ROWS = 20
#: Findings reported per file besides the customer-list one (a 500-row list is one message, not 1,500).
MAX_FILE_FINDINGS = 20
#: Bytes of text (decoded file, inflated PDF streams) a scan reads at most.
SCAN_LIMIT = 20 * 1024 * 1024
XLSX_MAX_ROWS = 200_000


@dataclass(frozen=True)
class Finding:
    field: str  # the story field or ``attachments[<name>]``
    kind: str  # "phone" | "email" | "rrn" | "customer_list"
    start: int  # offsets in the field's text (0, 0 for a file)
    end: int
    excerpt: str  # the offending text, shown to the author and the reviewer


# Full-width digits and separators (a Korean IME writes them) map one-to-one: offsets stay valid.
_WIDE = str.maketrans("０１２３４５６７８９－＋．（）　", "0123456789-+.() ")
_SEP = r"[\s.\-)(]{0,3}"
_PHONE = re.compile(
    r"(?<![\d+])(?:\+\s?82" + _SEP + r"(?:\(0\)\s?)?0?|\(?0)1[016789]" + _SEP + r"\d{3,4}" + _SEP + r"\d{4}(?!\d)"
)
_EMAIL = re.compile(r"(?<![\w.+-])[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,62})"
                    r"(?:\.[A-Za-z0-9-]{1,63})*\.[A-Za-z]{2,24}(?![A-Za-z0-9-])")
_RRN = re.compile(r"(?<!\d)(\d{2})(\d{2})(\d{2})(\s?[-–]\s?|\s)?([1-8])(\d{6})(?!\d)")


def _mobile(candidate: str) -> bool:
    try:
        number = phonenumbers.parse(candidate, "KR")
    except phonenumbers.NumberParseException:
        return False
    return (number.country_code == 82 and phonenumbers.is_valid_number(number)
            and phonenumbers.number_type(number) == phonenumbers.PhoneNumberType.MOBILE)


def _ean13(digits: str) -> bool:
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(digits[:12]))
    return (10 - total % 10) % 10 == int(digits[12])


def _rrn_date_ok(yy: str, mm: str, dd: str, gender: str) -> bool:
    century = {"1": 1900, "2": 1900, "3": 2000, "4": 2000, "5": 1900, "6": 1900, "7": 2000, "8": 2000}[gender]
    try:
        born = date(century + int(yy), int(mm), int(dd))
    except ValueError:
        return False
    return born <= date.today()


def _matches(text: str) -> list[tuple[str, int, int]]:
    """(kind, start, end) of every phone, e-mail and registration number in ``text``, without a
    finding that lies inside another (``01012345678@naver.com`` is one e-mail address)."""
    plain = text.translate(_WIDE)
    found: list[tuple[str, int, int]] = []
    for m in _EMAIL.finditer(plain):
        found.append(("email", m.start(), m.end()))
    for m in _RRN.finditer(plain):
        yy, mm, dd, sep, gender, _rest = m.groups()
        if not _rrn_date_ok(yy, mm, dd, gender):
            continue
        if not sep and _ean13(re.sub(r"\D", "", m.group(0))):
            continue  # a product barcode, not a person
        found.append(("rrn", m.start(), m.end()))
    for m in _PHONE.finditer(plain):
        if _mobile(m.group(0)):
            found.append(("phone", m.start(), m.end()))
    found.sort(key=lambda f: (f[1], -(f[2] - f[1])))
    kept: list[tuple[str, int, int]] = []
    for kind, start, end in found:
        if any(s <= start and end <= e for _k, s, e in kept):
            continue
        kept.append((kind, start, end))
    return kept


def scan_text(fields: Mapping[str, Any]) -> list[Finding]:
    """Every phone number, e-mail address and registration number in the given fields (name → text;
    a list is read as its items joined by ", "), in field order, with offsets into that text."""
    findings: list[Finding] = []
    for name, value in fields.items():
        if value is None:
            continue
        if isinstance(value, list | tuple):
            value = ", ".join(str(v) for v in value)
        text = str(value)
        findings += [Finding(name, kind, start, end, text[start:end]) for kind, start, end in _matches(text)]
    return findings


# -- files ------------------------------------------------------------------------------------------

_NAME_HEADERS = {"name", "customername", "customer", "이름", "성명", "고객명", "고객이름", "회원명", "성함"}
_PHONE_HEADERS = {"phone", "mobile", "tel", "cell", "phonenumber", "연락처", "전화", "전화번호", "휴대폰",
                  "휴대폰번호", "핸드폰", "핸드폰번호", "휴대전화"}
_BIRTH_HEADERS = {"birth", "birthdate", "birthday", "dob", "생년월일", "생일", "출생일"}
_EMAIL_HEADERS = {"email", "mail", "이메일", "메일", "전자우편"}
_TEXT_SUFFIXES = {"csv", "tsv", "txt", "text"}


def _header_key(cell: str) -> str:
    return re.sub(r"[\s_\-./()]+", "", cell).lower()


def _decode(data: bytes) -> str:
    data = data[:SCAN_LIMIT]
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    for encoding in ("utf-8", "cp949"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("utf-8", errors="replace")


def _rows_of_text(text: str, suffix: str) -> list[list[str]]:
    lines = text.splitlines()
    if not lines:
        return []
    if suffix == "tsv":
        delimiter = "\t"
    elif suffix == "csv":
        head = lines[0]
        delimiter = max((",", "\t", ";", "|"), key=head.count)
    else:
        return [[line] for line in lines]
    try:
        return [row for row in csv.reader(io.StringIO(text), delimiter=delimiter)]
    except csv.Error:
        return [line.split(delimiter) for line in lines]


def _customer_rows(rows: list[list[str]]) -> int:
    """How many rows look like a customer record: a mobile number, an e-mail address or a
    registration number in a cell, or — under a header naming people — a name with a phone or a
    birth date."""
    if not rows:
        return 0
    keys = [_header_key(c) for c in rows[0]]
    name_cols = [i for i, k in enumerate(keys) if k in _NAME_HEADERS]
    contact_cols = [i for i, k in enumerate(keys) if k in _PHONE_HEADERS | _BIRTH_HEADERS | _EMAIL_HEADERS]
    has_header = bool(name_cols or contact_cols)
    count = 0
    for row in rows[1:] if has_header else rows:
        if any(_matches(cell) for cell in row if cell and any(ch.isdigit() or ch == "@" for ch in cell)):
            count += 1
            continue
        if name_cols and contact_cols:
            cells = [row[i] if i < len(row) else "" for i in range(max(name_cols + contact_cols) + 1)]
            named = any(cells[i].strip() for i in name_cols)
            contact = any(sum(ch.isdigit() for ch in cells[i]) >= 6 or "@" in cells[i] for i in contact_cols)
            if named and contact:
                count += 1
    return count


def _xlsx_text(data: bytes) -> list[list[str]] | None:
    """Every sheet's rows as text, or None when the workbook cannot be read safely."""
    try:
        check_xlsx(data)
    except SpreadsheetRefused:
        return None
    from openpyxl import load_workbook  # late: only workbooks need it

    rows: list[list[str]] = []
    try:
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:  # noqa: BLE001 - openpyxl raises many types on a damaged workbook: unreadable
        return None
    try:
        for ws in wb.worksheets:
            for row in ws.iter_rows(values_only=True):
                cells = ["" if v is None else str(v) for v in row]
                if any(cells):
                    rows.append(cells)
                if len(rows) >= XLSX_MAX_ROWS:
                    return rows
    except Exception:  # noqa: BLE001 - a damaged sheet fails only when its rows are read
        return rows or None
    finally:
        wb.close()
    return rows


_PRINTABLE = re.compile(rb"[\x20-\x7e]{4,}")
_STREAM = re.compile(rb"stream\r?\n(.*?)\r?\nendstream", re.S)


def _pdf_text(data: bytes) -> str:
    """Printable runs of the raw PDF and of its Flate streams, inflated within :data:`SCAN_LIMIT`."""
    parts = [m.group(0) for m in _PRINTABLE.finditer(data)]
    budget = SCAN_LIMIT
    for m in _STREAM.finditer(data):
        if budget <= 0:
            break
        try:
            inflated = zlib.decompressobj().decompress(m.group(1), budget)
        except zlib.error:
            continue
        budget -= len(inflated)
        parts += [p.group(0) for p in _PRINTABLE.finditer(inflated)]
    return "\n".join(p.decode("latin-1") for p in parts)


def _file_findings(field: str, texts: Iterable[str]) -> list[Finding]:
    findings: list[Finding] = []
    for text in texts:
        for kind, start, end in _matches(text):
            findings.append(Finding(field, kind, 0, 0, text[start:end]))
            if len(findings) >= MAX_FILE_FINDINGS:
                return findings
    return findings


def scan_file(filename: str, data: bytes) -> list[Finding]:
    """What an attachment holds of personal data: one ``customer_list`` finding when more than
    :data:`CUSTOMER_ROWS` rows look like customer records, then phone/e-mail/registration-number
    findings (offsets 0, 0), at most :data:`MAX_FILE_FINDINGS`."""
    name = str(filename or "").replace("\\", "/").rsplit("/", 1)[-1][:200]
    field = f"attachments[{name}]"
    suffix = name.rpartition(".")[2].lower() if "." in name else ""
    if not data:
        return []
    if data.startswith(b"%PDF-") or suffix == "pdf":
        text = _pdf_text(data[:SCAN_LIMIT])
        rows = [[line] for line in text.splitlines()]
    elif data.startswith(b"PK\x03\x04"):
        if suffix not in ("xlsx", "xlsm"):
            return []
        rows = _xlsx_text(data)
        if rows is None:
            return []
        text = ""
    elif suffix in _TEXT_SUFFIXES or (not suffix and b"\x00" not in data[:4096]):
        text = _decode(data)
        rows = _rows_of_text(text, suffix)
    else:
        return []  # images and other binaries: not read (no OCR)
    findings: list[Finding] = []
    customers = _customer_rows(rows)
    if customers > CUSTOMER_ROWS:
        findings.append(Finding(field, "customer_list", 0, 0,
                                _("%(num)d rows look like customer records", num=customers)))
    texts: Iterable[str] = [text] if text else ("\t".join(row) for row in rows)
    return findings + _file_findings(field, texts)


# -- messages ---------------------------------------------------------------------------------------

def describe(finding: Finding) -> str:
    """The finding in the reader's language, with the offending text."""
    if finding.kind == "customer_list":
        return _("This file looks like a customer list (%(detail)s); customer lists cannot be attached.",
                 detail=finding.excerpt)
    label = {
        "phone": _("a mobile phone number"),
        "email": _("an e-mail address"),
        "rrn": _("a resident registration number"),
    }.get(finding.kind, finding.kind)
    return _("Remove %(what)s: %(text)s", what=label, text=finding.excerpt)


def _path(finding: Finding) -> str:
    if finding.field.startswith("attachments[") or finding.start == finding.end:
        return finding.field
    return f"{finding.field}[{finding.start}:{finding.end}]"


def finding_errors(findings: Iterable[Finding]) -> dict[str, str]:
    """``StoryError`` errors by field path: ``{"summary[12:25]": "Remove a mobile phone number: 010-…"}``
    (several findings of one file under one key, joined)."""
    errors: dict[str, str] = {}
    for finding in findings:
        key = _path(finding)
        errors[key] = f"{errors[key]} {describe(finding)}" if key in errors else describe(finding)
    return errors


def finding_dicts(findings: Iterable[Finding]) -> list[dict[str, Any]]:
    """The findings for the API (``StoryError(..., findings=finding_dicts(found))``)."""
    return [{"field": f.field, "kind": f.kind, "start": f.start, "end": f.end, "excerpt": f.excerpt,
             "message": describe(f)} for f in findings]
