"""Shared helpers of the message-set page and API tests (H4a): a stored set in a given place,
the id of a branch, a logged-in client."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

MASTER = {"offer": "비타민C 1+1", "price": "39,000", "valid_from": "2026-06-01", "valid_until": "2026-06-30",
          "cta": "지금 구매", "cta_url": "https://example.com/c"}
RENDITIONS = {"email": {"subject": "{{ offer }}", "body": "{{ customer.name }}님, {{ offer }} {{ price }}",
                        "html": "<p>{{ customer.name }}님 {{ price_krw }}</p>"},
              "sms": {"body": "{{ offer }} {{ price_krw }} {{ valid_until_ko }}까지"},
              "kakao": {"body": "{{ customer.name }}님 {{ offer }} {{ price }}"}}


def unit_id(code: str) -> int:
    from portal.extensions import db

    return db.session.execute(text("SELECT id FROM org_unit WHERE code = :c"), {"c": code}).scalar_one()


def group_id(code: str) -> int:
    from portal.extensions import db

    return db.session.execute(text("SELECT id FROM partner_group WHERE code = :c"), {"c": code}).scalar_one()


def user(email: str) -> Any:
    from portal.extensions import db
    from portal.models import User

    return db.session.execute(db.select(User).where(User.email == email)).scalar_one()


def make_set(name: str = "6월 비타민", *, place: str | None = None, category: str | None = "건강식품",
             master: dict | None = None, renditions: dict | None = None, by: str = "hq@example.com") -> int:
    """A set saved through the store as ``by`` (place: ``unit:<code>`` / ``group:<code>`` / HQ)."""
    from plugins.cem_channels.voice import store
    from portal.extensions import db

    actor = user(by)
    data: dict[str, Any] = {"name": name, "category": category, "master": dict(master or MASTER),
                            "renditions": renditions if renditions is not None else RENDITIONS}
    ms, _ = store.save(actor, data)
    if place:
        kind, code = place.split(":")
        if kind == "unit":
            ms.org_unit_id = unit_id(code)
        else:
            ms.partner_group_id = group_id(code)
    db.session.commit()
    return ms.id
