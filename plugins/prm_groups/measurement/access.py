"""Finding a programme for a reader: in scope or 404 (never 403 that reveals another group's
programme). The scope filter places a programme at its group's top partner, so HQ sees every
programme and a Group Leader only their own group's."""

from __future__ import annotations

from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select

from portal.toolkit import db, scope_filter

from ..models import PrmProgramme
from ..permissions import VIEW
from ..programmes import ProgrammeError


def programme_or_404(actor: Any, ident: Any) -> PrmProgramme:
    """The programme if ``actor`` may view it; ``ProgrammeError`` 404 otherwise (also for a bad id)."""
    text = str(ident)
    if not (text.isascii() and text.isdigit()) or not 0 < int(text) < 2**31:
        raise ProgrammeError({"programme": _("No such programme.")}, 404)
    found = db.session.execute(select(PrmProgramme).where(
        PrmProgramme.id == int(text), scope_filter(actor, VIEW, PrmProgramme))).scalar_one_or_none()
    if found is None:
        raise ProgrammeError({"programme": _("No such programme.")}, 404)
    return found
