from __future__ import annotations

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from portal.toolkit import db


class SampleNote(db.Model):
    __tablename__ = "smp_note"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customer.id"))
    text: Mapped[str] = mapped_column(String(200))
