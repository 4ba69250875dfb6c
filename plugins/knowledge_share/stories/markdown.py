"""Placeholder: signature fixed by the lead, body by the stories-service helper."""

from __future__ import annotations

from markupsafe import Markup, escape


def render(text: str | None) -> Markup:
    """CommonMark → sanitised HTML (markdown-it-py + nh3)."""
    return Markup("<p>") + escape(text or "") + Markup("</p>")
