"""Lint: prices and dates typed literally into a rendition instead of the master's variables.

A literal that differs from the master is an error (the CE-31 case: the LMS says ₩35,000 while the
master says ₩39,000); a literal equal to the master is a suggestion to use the variable, so that
the next change of the master reaches every channel. Jinja expressions (``{{ … }}``, ``{% … %}``,
``{# … #}``) are blanked before scanning, so ``{{ price }}`` itself is never reported.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from .problems import ERROR, SUGGESTION, Problem, line_of

_JINJA = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.S)
_PRICE = re.compile(r"(?:₩|￦|KRW\s?)\s?(\d{1,3}(?:,\d{3})+|\d+)|(\d{1,3}(?:,\d{3})+|\d+)\s?원")
_DATE_FULL = re.compile(r"(?<!\d)(\d{4})\s?[-./년]\s?(\d{1,2})\s?[-./월]\s?(\d{1,2})(?!\d)일?")
_DATE_KO = re.compile(r"(?<!\d)(\d{1,2})월\s?(\d{1,2})일")
_DATE_SLASH = re.compile(r"(?<![\d/])(\d{1,2})/(\d{1,2})(?![\d/])")


def blank_jinja(text: str) -> str:
    """``text`` with every Jinja tag replaced by as many spaces (offsets unchanged)."""
    return _JINJA.sub(lambda m: " " * len(m.group(0)), text)


def _master_dates(master: Mapping[str, Any]) -> list[date]:
    out = []
    for name in ("valid_from", "valid_until"):
        raw = master.get(name)
        if isinstance(raw, str) and raw:
            out.append(date.fromisoformat(raw))
    return out


def _find_dates(text: str) -> list[tuple[int, int, int | None, int, int]]:
    """(start, end, year or None, month, day) of every plausible date in ``text``."""
    found: list[tuple[int, int, int | None, int, int]] = []
    taken: list[tuple[int, int]] = []
    for pattern, has_year in ((_DATE_FULL, True), (_DATE_KO, False), (_DATE_SLASH, False)):
        for m in pattern.finditer(text):
            if any(s < m.end() and m.start() < e for s, e in taken):
                continue
            groups = [int(g) for g in m.groups()]
            year, month, day = (groups if has_year else [None, *groups])
            if not (1 <= month <= 12 and 1 <= day <= 31):
                continue
            found.append((m.start(), m.end(), year, month, day))
            taken.append((m.start(), m.end()))
    return sorted(found)


def lint_text(text: str, master: Mapping[str, Any], *, rendition: str, field: str) -> list[Problem]:
    """Literal prices and dates in one field of one rendition, compared with the master."""
    if not text:
        return []
    scan = blank_jinja(text)
    problems: list[Problem] = []
    price = master.get("price")
    for m in _PRICE.finditer(scan):
        value = int((m.group(1) or m.group(2)).replace(",", ""))
        literal = text[m.start():m.end()]
        line = line_of(text, m.start())
        if isinstance(price, int) and value == price:
            variable = "{{ price_krw }}" if literal.lstrip().startswith(("₩", "￦", "KRW")) else "{{ price }}"
            problems.append(Problem("price_literal", SUGGESTION, rendition, field, line, literal, m.start(), m.end(),
                                    {"variable": variable}))
        else:
            shown = f"₩{price:,}" if isinstance(price, int) else "-"
            problems.append(Problem("price_differs", ERROR, rendition, field, line, literal, m.start(), m.end(),
                                    {"master": shown}))
    dates = _master_dates(master)
    names = ("valid_from", "valid_until")
    for start, end, year, month, day in _find_dates(scan):
        literal = text[start:end]
        line = line_of(text, start)
        match = next((i for i, d in enumerate(dates)
                      if d.month == month and d.day == day and (year is None or d.year == year)), None)
        if match is not None:
            name = names[match] if len(dates) == 2 else next(n for n in names if master.get(n))
            variable = f"{{{{ {name} }}}}" if year is not None else f"{{{{ {name}_ko }}}}"
            problems.append(Problem("date_literal", SUGGESTION, rendition, field, line, literal, start, end,
                                    {"variable": variable}))
        else:
            shown = " – ".join(d.isoformat() for d in dates) or "-"
            problems.append(Problem("date_differs", ERROR, rendition, field, line, literal, start, end,
                                    {"master": shown}))
    return problems


def lint_renditions(renditions: Iterable[Any], master: Mapping[str, Any]) -> list[Problem]:
    """:func:`lint_text` over subject, body and html of every rendition (objects or dicts)."""
    problems: list[Problem] = []
    for r in renditions:
        channel = _get(r, "channel")
        for field in ("subject", "body", "html"):
            problems += lint_text(_get(r, field) or "", master, rendition=channel, field=field)
    return problems


def _get(obj: Any, name: str) -> Any:
    return obj.get(name) if isinstance(obj, Mapping) else getattr(obj, name, None)
