"""Import of the 080 opt-out file the provider of the free refusal line delivers.

CSV or TXT, CP949 or UTF-8 (with or without BOM), one number a row, an optional second column with
when the person called (``2026-12-01``, ``20261201``, ``2026.12.01``, with or without a time).
Separators: comma, tab, semicolon or ``|``. A first row that is not a number (``phone,requested_at``,
``전화번호``) is a header. Row numbers in the report count data rows (the header is not a row).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flask_babel import gettext as _

from portal.toolkit import audit, normalize_phone

from .consent import customers_by_number, withdraw_sms_marketing
from .suppression import suppress_numbers

SOURCE = "080_optout"
MAX_BAD_LISTED = 1000
_DATE_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d", "%Y%m%d%H%M%S", "%Y%m%d", "%Y.%m.%d %H:%M:%S",
                 "%Y.%m.%d %H:%M", "%Y.%m.%d", "%Y/%m/%d %H:%M:%S", "%Y/%m/%d", "%Y-%m-%dT%H:%M:%S")


class OptoutFileError(ValueError):
    """The file as a whole cannot be read (empty, not text, not CP949/UTF-8)."""


@dataclass
class ImportResult:
    rows: int = 0
    numbers: int = 0
    matched_numbers: int = 0
    customers: int = 0
    withdrawn: int = 0
    already_withdrawn: int = 0
    suppressed_new: int = 0
    suppressed_known: int = 0
    bad: list[tuple[int, str]] = field(default_factory=list)

    def summary(self) -> str:
        return _("080 opt-out import: %(rows)d rows, %(numbers)d numbers; %(customers)d customers matched "
                 "(%(withdrawn)d withdrawn, %(already)d already withdrawn); %(new)d numbers added to the "
                 "suppression list (%(known)d already listed); %(bad)d bad rows.",
                 rows=self.rows, numbers=self.numbers, customers=self.customers, withdrawn=self.withdrawn,
                 already=self.already_withdrawn, new=self.suppressed_new, known=self.suppressed_known,
                 bad=len(self.bad))


def _decode(data: bytes) -> str:
    if not data or not data.strip():
        raise OptoutFileError(_("The file is empty."))
    if b"\x00" in data:
        raise OptoutFileError(_("This is not a text file (CSV or TXT)."))
    for encoding in ("utf-8-sig", "cp949"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise OptoutFileError(_("The file is neither UTF-8 nor CP949 text."))


def _date(raw: str) -> datetime | None:
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(raw, fmt)
        except ValueError:
            continue
    return None


def parse_optout_file(data: bytes) -> tuple[dict[str, datetime | None], int, list[tuple[int, str]]]:
    """``(number → earliest requested_at, data rows, bad rows as (row, reason))``; no database."""
    text = _decode(data)
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        raise OptoutFileError(_("The file is empty."))
    delimiter = next((d for d in "\t;|," if d in lines[0]), ",")
    numbers: dict[str, datetime | None] = {}
    bad: list[tuple[int, str]] = []
    row_no = 0
    for index, cells in enumerate(csv.reader(lines, delimiter=delimiter)):
        cells = [c.strip() for c in cells]
        raw = cells[0] if cells else ""
        number = normalize_phone(raw) if raw else None
        if index == 0 and number is None and raw and not any(ch.isdigit() for ch in raw):
            continue  # a header such as "phone,requested_at" or "전화번호"
        row_no += 1
        if not raw:
            bad.append((row_no, _("No phone number.")))
            continue
        if number is None:
            bad.append((row_no, _("%(value)s is not a Korean phone number.", value=raw[:40])))
            continue
        requested = None
        if len(cells) > 1 and cells[1]:
            requested = _date(cells[1])
            if requested is None:
                bad.append((row_no, _("%(value)s is not a date (use YYYY-MM-DD).", value=cells[1][:40])))
                continue
        before = numbers.get(number)
        numbers[number] = min(before, requested) if before and requested else (before or requested)
    return numbers, row_no, bad


def import_optout_file(data: bytes, *, actor: Any = None, filename: str | None = None) -> ImportResult:
    """Apply an 080 opt-out file in the caller's transaction (the caller commits); idempotent.

    Numbers of customers: SMS marketing consent withdrawn (method ``phone``, source ``080_optout``)
    unless already withdrawn — which also cancels their queued marketing SMS. Numbers of nobody:
    the global suppression list. Bad rows are reported, never fatal. One audit event a run.
    """
    numbers, rows, bad = parse_optout_file(data)
    result = ImportResult(rows=rows, numbers=len(numbers), bad=bad)
    matched = customers_by_number(numbers)
    result.matched_numbers = len(matched)
    ids = [cid for group in matched.values() for cid in group]
    result.customers = len(set(ids))
    note = (_("080 opt-out file %(name)s", name=filename) if filename else _("080 opt-out file"))[:200]
    result.withdrawn, result.already_withdrawn = withdraw_sms_marketing(ids, method="phone", source=SOURCE,
                                                                        actor=actor, note=note)
    unknown = {n: at for n, at in numbers.items() if n not in matched}
    result.suppressed_new = suppress_numbers(unknown, SOURCE)
    result.suppressed_known = len(unknown) - result.suppressed_new
    audit.record("cem.optout_import", actor=actor, summary=result.summary())
    return result
