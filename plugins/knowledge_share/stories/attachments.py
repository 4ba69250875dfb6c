"""Placeholder: signatures fixed by the lead, bodies by the files/PII helper."""

from __future__ import annotations

from typing import Any

from ..models import KsAttachment, KsStory


def add_attachment(story: KsStory, filename: str, data: bytes, actor: Any) -> KsAttachment:
    raise NotImplementedError


def remove_attachment(attachment: KsAttachment, actor: Any) -> None:
    raise NotImplementedError
