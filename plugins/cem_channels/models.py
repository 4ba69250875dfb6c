"""cem_channels tables (prefix ``cem_``).

Slice "providers": the registered SMS caller numbers (``cem_sender_number``) and the KakaoTalk
알림톡 templates approved by Kakao (``cem_kakao_template``). See docs/cem_channels.md.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from portal.toolkit import db, utcnow


class SenderNumber(db.Model):
    """A caller number registered with the carrier (발신번호 사전등록, 전기통신사업법 §84-2).

    Only numbers with ``verified_at`` set may send; the number is stored as digits only."""

    __tablename__ = "cem_sender_number"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)
    label: Mapped[str] = mapped_column(String(100), default="")
    verified_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class KakaoTemplate(db.Model):
    """A KakaoTalk 알림톡 template; only ``approved_at`` templates are sent as 알림톡."""

    __tablename__ = "cem_kakao_template"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(60), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    body: Mapped[str] = mapped_column(Text, default="")
    approved_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
