"""The JSON body of every knowledge_share API write: the core's ``json_object`` plus one walk
that refuses what no database stores — a lone surrogate (JSON ``"\\ud800"``) or a NUL character,
in a value or a key — at its field path (``title``, ``agenda[0].note``), before any service reads
the body. Without it such a string reached a query (a lookup by code) or a flush and answered a 500;
PostgreSQL also refuses NUL in text where SQLite takes it."""

from __future__ import annotations

from typing import Any

from flask_babel import gettext as _

from portal.toolkit import json_object

from .errors import StoryError

MAX_FINDINGS = 20


def _storable(text: str) -> bool:
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def unstorable_paths(value: Any, path: str = "") -> list[str]:
    """Field paths (``a.b``, ``a[0]``) of strings in ``value`` a database cannot store."""
    found: list[str] = []
    stack: list[tuple[str, Any]] = [(path, value)]
    while stack and len(found) < MAX_FINDINGS:  # iterative: a deeply nested body is no recursion bomb
        where, item = stack.pop()
        if isinstance(item, str):
            if not _storable(item):
                found.append(where)
        elif isinstance(item, dict):
            for key, sub in item.items():
                name = str(key) if _storable(str(key)) else repr(key)[:40]
                sub_path = f"{where}.{name}" if where else name
                if not _storable(str(key)):
                    found.append(sub_path)
                stack.append((sub_path, sub))
        elif isinstance(item, list):
            stack.extend((f"{where}[{i}]", sub) for i, sub in enumerate(item))
    return found


def json_body(*, empty_ok: bool = False) -> dict[str, Any]:
    """The request's JSON object, or a ``StoryError`` (422) naming each unstorable string's path."""
    data = json_object(StoryError, empty_ok=empty_ok)
    bad = unstorable_paths(data)
    if bad:
        raise StoryError({p or "": _("Remove the characters that cannot be stored.") for p in sorted(bad)})
    return data


__all__ = ["json_body", "unstorable_paths"]
