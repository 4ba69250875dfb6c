"""The file store: uploads checked once, kept in the database, served with safe headers.

Add-ons (knowledge_share attachments, the resource library) reach it through ``portal.toolkit``:

- :func:`check_upload` — the upload rules (SECURITY.md 5.2.1/5.2.2): an allow-listed extension
  **and** matching magic bytes (PNG, JPEG, GIF, WebP, PDF — never SVG, HTML or executables: an
  ``.exe`` renamed ``.png`` is refused), not empty, at most ``PORTAL_MAX_ATTACHMENT_MB``, and a
  sanitised file name (no directories, no control characters, ≤ 200 characters, Korean kept);
- :func:`store_file` — the checked bytes as a :class:`StoredFile` row (in the caller's transaction);
- :func:`file_response` — the bytes with headers that keep a browser from running them;
- :func:`delete_file` — the row, when the last reference goes.

Who may read a file is the caller's rule: the store has no pages; an add-on checks its own object
(a story's visibility) and then returns :func:`file_response`.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from flask import Response, current_app, has_app_context
from flask_babel import gettext as _

from ..extensions import db
from .models import StoredFile

__all__ = ["UploadRefused", "CheckedFile", "StoredFile", "check_upload", "store_file", "file_response",
           "delete_file", "sniff", "sanitize_filename", "KINDS", "DEFAULT_MAX_MB"]

DEFAULT_MAX_MB = 10
FILENAME_MAX = 200
#: kind → {extension: MIME type}: what each kind accepts, by name. The content must agree (:func:`sniff`).
KINDS: dict[str, dict[str, str]] = {
    "image": {"png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg", "gif": "image/gif",
              "webp": "image/webp"},
    "pdf": {"pdf": "application/pdf"},
}
#: Types a browser may show in the page (never one that can carry script: no SVG, no HTML).
INLINE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf"})
_UNSAFE_NAME = re.compile(r'[<>:"/\\|?*\x00-\x1f\x7f]')


class UploadRefused(ValueError):
    """An upload that breaks a rule; ``str(exc)`` is the uploader's message in their language and
    ``reason`` one of ``empty``, ``too_large``, ``type``, ``content``."""

    def __init__(self, message: str, reason: str):
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class CheckedFile:
    filename: str  # sanitised
    mime: str  # detected from the content (and agreeing with the extension)
    size: int
    sha256: str


def sniff(data: bytes) -> str | None:
    """The MIME type the first bytes prove, for the allowed types only; None for anything else."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data.startswith(b"%PDF-"):
        return "application/pdf"
    return None


def sanitize_filename(filename: str, default: str = "file") -> str:
    """The last path component, NFC, without control or shell/path characters, ≤ 200 characters
    with the extension kept — Korean names stay as the uploader wrote them."""
    name = unicodedata.normalize("NFC", str(filename or ""))
    name = re.split(r"[/\\]", name)[-1]
    name = re.sub(r"\s", " ", name)  # tabs and line breaks become spaces before controls go
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")  # controls, bidi overrides
    name = _UNSAFE_NAME.sub("_", name)
    name = re.sub(r"\s+", " ", name).strip()
    stem, dot, ext = name.rpartition(".")
    if not dot:
        stem, ext = name, ""
    stem = stem.strip(" .") or default
    ext = ext.strip(" .").lower()[:16]
    room = FILENAME_MAX - (len(ext) + 1 if ext else 0)
    return f"{stem[:room].rstrip(' .') or default}.{ext}" if ext else stem[:FILENAME_MAX]


def _max_bytes() -> int:
    mb = current_app.config.get("PORTAL_MAX_ATTACHMENT_MB", DEFAULT_MAX_MB) if has_app_context() else DEFAULT_MAX_MB
    return int(mb) * 1024 * 1024


def _mb(n: int) -> str:
    return f"{n / 1024 / 1024:.1f}".removesuffix(".0")


def check_upload(filename: str, data: bytes, *, kinds: Iterable[str] = ("image", "pdf"),
                 max_bytes: int | None = None) -> CheckedFile:
    """Apply the upload rules; raise :class:`UploadRefused` (nothing stored) or return the facts."""
    kinds = tuple(kinds)
    unknown = [k for k in kinds if k not in KINDS]
    if unknown:
        raise ValueError(f"unknown upload kinds: {unknown}")
    allowed = {ext: mime for k in kinds for ext, mime in KINDS[k].items()}
    limit = _max_bytes() if max_bytes is None else int(max_bytes)
    name = sanitize_filename(filename)
    if not data:
        raise UploadRefused(_("The file %(name)s is empty.", name=name), "empty")
    if len(data) > limit:
        raise UploadRefused(_("The file %(name)s is %(size)s MB; at most %(max)s MB is allowed.",
                              name=name, size=_mb(len(data)), max=_mb(limit)), "too_large")
    ext = name.rpartition(".")[2].lower() if "." in name else ""
    if ext not in allowed:
        raise UploadRefused(_("Files of this type cannot be uploaded (%(name)s). Allowed: %(types)s.",
                              name=name, types=", ".join(f".{e}" for e in allowed)), "type")
    mime = sniff(data)
    if mime != allowed[ext]:
        raise UploadRefused(_("The file %(name)s is not what its name says: its content is not a .%(ext)s "
                              "file. Save it again in that format.", name=name, ext=ext), "content")
    return CheckedFile(filename=name, mime=mime, size=len(data), sha256=hashlib.sha256(data).hexdigest())


def store_file(checked: CheckedFile, data: bytes, actor: Any) -> StoredFile:
    """The checked bytes as a new row, flushed in the caller's transaction (the caller commits)."""
    if len(data) != checked.size or hashlib.sha256(data).hexdigest() != checked.sha256:
        raise ValueError("the data is not the checked file")
    row = StoredFile(sha256=checked.sha256, filename=checked.filename, mime=checked.mime, size=checked.size,
                     data=data, created_by_id=getattr(actor, "id", None))
    db.session.add(row)
    db.session.flush()
    return row


def _ascii_fallback(filename: str) -> str:
    stem, dot, ext = filename.rpartition(".")
    if not dot:
        stem, ext = filename, ""
    ascii_stem = unicodedata.normalize("NFKD", stem).encode("ascii", "ignore").decode()
    ascii_stem = re.sub(r"[^A-Za-z0-9._ -]+", "_", ascii_stem).strip(" ._") or "file"
    return f"{ascii_stem}.{ext}" if ext else ascii_stem


def content_disposition(filename: str, *, inline: bool = False) -> str:
    """``attachment|inline; filename="ascii"; filename*=UTF-8''…`` (RFC 6266 / RFC 5987): every
    browser shows the Korean name, older ones the ASCII fallback; nothing can break the header."""
    kind = "inline" if inline else "attachment"
    return f"{kind}; filename=\"{_ascii_fallback(filename)}\"; filename*=UTF-8''{quote(filename, safe='')}"


def file_response(stored_file: StoredFile, *, inline: bool = False) -> Response:
    """The file's bytes for download (``inline=True``: shown in the browser, images and PDF only).

    ``nosniff`` and the declared type stop a browser from guessing HTML; ``Content-Security-Policy:
    sandbox`` runs whatever it renders in a unique origin without script, so even a file that fooled
    the checks cannot read the portal's cookies or pages."""
    show = inline and stored_file.mime in INLINE_TYPES
    response = Response(stored_file.data, mimetype=stored_file.mime)
    response.headers["Content-Disposition"] = content_disposition(stored_file.filename, inline=show)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "sandbox; default-src 'none'; img-src 'self'; style-src 'unsafe-inline'"
    response.headers["Cross-Origin-Resource-Policy"] = "same-origin"
    response.headers["Cache-Control"] = "private, no-store"
    return response


def delete_file(file_id: int) -> bool:
    """Delete one stored file (in the caller's transaction); False when it was already gone."""
    row = db.session.get(StoredFile, file_id)
    if row is None:
        return False
    db.session.delete(row)
    db.session.flush()
    return True


def delete_files(file_ids: Any) -> int:
    """Delete many stored files in one statement (in the caller's transaction): ``file_ids`` is a
    list of ids or a SELECT of one id column (an add-on's uninstall purging the files its rows
    name). Returns how many were deleted."""
    from sqlalchemy import delete

    result = db.session.execute(delete(StoredFile).where(StoredFile.id.in_(file_ids))
                                .execution_options(synchronize_session=False))
    return result.rowcount or 0
