"""The contact service's own hook implementations, registered as ``core.contact`` — always active,
like ``core``: the core channels and the customer page's "Contact history" tab."""

from __future__ import annotations

from typing import Any

from ..hookspecs import hookimpl
from .registry import CORE_CHANNELS


@hookimpl
def portal_channels() -> list[dict[str, Any]]:
    return [dict(c) for c in CORE_CHANNELS]


@hookimpl
def portal_personal_data(customer: Any) -> dict[str, Any] | None:
    """The contact history in the data-subject export (``add_ons.contact``)."""
    from sqlalchemy import select

    from ..extensions import db
    from .models import Contact

    rows = db.session.execute(select(Contact).where(Contact.customer_id == customer.id)
                              .order_by(Contact.at, Contact.id)).scalars().all()
    if not rows:
        return None
    return {"name": "contact", "data": [
        {"at": r.at.isoformat(), "channel": r.channel, "purpose": r.purpose, "source": r.source, "ref": r.ref,
         "outcome": r.outcome, "note": r.note} for r in rows]}


@hookimpl
def portal_personal_data_erased(customer: Any, actor: Any) -> None:
    """Erasure: the free-text notes of the customer's contacts go (they may name or describe the
    person); the facts — when, which channel, for what — stay, so the cool-down and the counts hold."""
    from sqlalchemy import update

    from ..extensions import db
    from .models import Contact

    db.session.execute(update(Contact).where(Contact.customer_id == customer.id, Contact.note.is_not(None))
                       .values(note=None).execution_options(synchronize_session=False))
