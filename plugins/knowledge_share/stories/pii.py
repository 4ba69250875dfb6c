"""Placeholder: signatures fixed by the lead, bodies by the files/PII helper."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Finding:
    field: str  # the story field or ``attachments[<name>]``
    kind: str  # "phone" | "email" | "rrn" | "customer_list"
    start: int  # offsets in the field's text (0, 0 for a file)
    end: int
    excerpt: str  # the offending text, shown to the author and the reviewer


def scan_text(fields: Mapping[str, str]) -> list[Finding]:
    return []


def scan_file(filename: str, data: bytes) -> list[Finding]:
    return []
