"""The file store's one table (migrations/versions/0018_stored_file.py creates it).

``stored_file`` keeps an upload's bytes in the database next to the rows that point at it (an
add-on's attachment row holds ``file_id``): a backup, a clone or a purge then carries files and
references together, and no shared directory has to exist on every web host. Files are small by
rule (``PORTAL_MAX_ATTACHMENT_MB``, default 10), so ``bytea`` / SQLite BLOB is a sound home.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from ..models.base import utcnow


class StoredFile(db.Model):
    """One checked upload: its bytes, their SHA-256, the sanitised name and the detected type."""

    __tablename__ = "stored_file"

    id: Mapped[int] = mapped_column(primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64))
    filename: Mapped[str] = mapped_column(String(200))
    mime: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    #: Loaded only when read: lists of attachments never pull megabytes of bytes.
    data: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


Index("ix_stored_file_sha256", StoredFile.sha256)
