"""Fixtures of the attachments area: stories written straight into ``ks_story`` (the attachment
rules depend only on state, author and visibility) and small valid files of each type."""

from __future__ import annotations

from typing import Any

import pytest

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 40
PDF = b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n%%EOF\n"
EXE = b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 60 + b"This program cannot be run in DOS mode"


def user(email: str) -> Any:
    from portal.toolkit import User, db

    return db.session.execute(db.select(User).filter_by(email=email)).scalar_one()


def unit(code: str) -> Any:
    from portal.toolkit import OrgUnit, db

    return db.session.execute(db.select(OrgUnit).filter_by(code=code)).scalar_one()


def customers_csv(n: int) -> bytes:
    rows = ["이름,휴대폰번호,구매액"] + [f"김고객{i},010-{2000 + i:04d}-{3000 + i:04d},{i * 1000}" for i in range(n)]
    return ("\n".join(rows) + "\n").encode("utf-8")


@pytest.fixture
def make_story(app):
    """``make_story(state="private", visibility="all", author="store1@example.com", base=None)``."""
    from plugins.knowledge_share.models import KsStory
    from portal.toolkit import db

    def _make(state: str = "private", visibility: str = "all", author: str = "store1@example.com",
              base: Any = None) -> KsStory:
        branch = unit("B001")
        story = KsStory(title="건강식품 세미나로 재구매율 상승", summary="요약", state=state, visibility=visibility,
                        author_id=user(author).id, author_unit_id=branch.id,
                        scope_unit_id=branch.id if visibility in ("branch", "region") else None,
                        base_id=base.id if base is not None else None, channels=[], keywords=[])
        db.session.add(story)
        db.session.commit()
        return story

    return _make
