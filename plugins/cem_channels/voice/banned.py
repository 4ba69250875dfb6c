"""Banned terms per product category (HQ list): each term is looked for in every rendition and in
the master's text, ignoring spaces and case and full-width forms (NFKC), as a Korean substring —
"완 치" and "완치" are the same claim. Every hit blocks approval."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping
from typing import Any

from .lint import blank_jinja
from .problems import ERROR, Problem, line_of

MASTER_TEXT_FIELDS = ("offer", "cta", "brand_header", "brand_footer")


def normalise(text: str) -> tuple[str, list[int]]:
    """``text`` NFKC-normalised, case-folded, without whitespace; with each character's index in ``text``."""
    chars: list[str] = []
    index: list[int] = []
    for i, ch in enumerate(text):
        if ch.isspace():
            continue
        for c in unicodedata.normalize("NFKC", ch).casefold():
            if not c.isspace():
                chars.append(c)
                index.append(i)
    return "".join(chars), index


def find_terms(text: str, terms: Iterable[str]) -> list[tuple[str, int, int]]:
    """(term, start, end) in ``text`` for every occurrence of every term (start/end index ``text``)."""
    if not text:
        return []
    norm, index = normalise(text)
    hits: list[tuple[str, int, int]] = []
    for term in terms:
        needle, _ = normalise(term)
        if not needle:
            continue
        pos = norm.find(needle)
        while pos >= 0:
            hits.append((term, index[pos], index[pos + len(needle) - 1] + 1))
            pos = norm.find(needle, pos + 1)
    return sorted(hits, key=lambda h: (h[1], h[0]))


def check_banned(renditions: Iterable[Any], master: Mapping[str, Any], category: str | None,
                 terms: Iterable[str]) -> list[Problem]:
    """A blocking problem for each banned term found in the master's text or any rendition field."""
    terms = [t for t in terms if t and t.strip()]
    if not terms:
        return []
    problems: list[Problem] = []
    sources: list[tuple[str, str, str]] = [("master", name, master.get(name) or "") for name in MASTER_TEXT_FIELDS
                                           if isinstance(master.get(name), str)]
    for r in renditions:
        channel = r.get("channel") if isinstance(r, Mapping) else r.channel
        for field in ("subject", "body", "html"):
            value = r.get(field) if isinstance(r, Mapping) else getattr(r, field)
            sources.append((channel, field, value or ""))
    for where, field, text in sources:
        for term, start, end in find_terms(blank_jinja(text), terms):  # not inside {{ … }}
            problems.append(Problem("banned_term", ERROR, where, field, line_of(text, start), text[start:end],
                                    start, end, {"term": term, "category": category or "-"}))
    return problems


def highlight(text: str, problems: Iterable[Problem]) -> list[tuple[str, bool]]:
    """``text`` cut into (piece, is_hit) for a page to wrap hits in ``<mark>`` (autoescaped pieces)."""
    spans = sorted({(p.start, p.end) for p in problems if p.start is not None and p.end is not None})
    out: list[tuple[str, bool]] = []
    pos = 0
    for start, end in spans:
        if start < pos:
            start = pos
        if start >= end:
            continue
        if start > pos:
            out.append((text[pos:start], False))
        out.append((text[start:end], True))
        pos = end
    if pos < len(text):
        out.append((text[pos:], False))
    return out
