"""The results page ``/prm/programmes/<id>/results``: the verdict in one sentence, an interval chart
(lift with its 95 % interval against 0, for the holdout and the difference-in-differences), the arm
table, the pre-registered plan and whether it was kept, the frozen snapshots, and — for HQ — a
button freezing an interim snapshot. Out-of-scope programmes answer 404. Aggregates only."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from portal.toolkit import (
    Category,
    ExperimentError,
    PartnerGroup,
    User,
    db,
    has_permission,
    permission_required,
)

from ..permissions import MANAGE, VIEW
from ..programmes import ProgrammeError

bp = Blueprint("prm_results", __name__, url_prefix="/prm/programmes", template_folder="../templates",
               static_folder="../static/measurement", static_url_path="/results-static")


def _programme(programme_id: Any):
    from .access import programme_or_404

    try:
        return programme_or_404(current_user, programme_id)
    except ProgrammeError:
        abort(404)


def _programme_link(programme_id: int) -> str | None:
    from flask import current_app

    if "prm_programmes.detail" in current_app.view_functions:
        return url_for("prm_programmes.detail", programme_id=programme_id)
    return None


def _chart(doc: dict[str, Any]) -> dict[str, Any] | None:
    """Rows of the interval chart in percentage points, with a symmetric scale around 0."""
    rows = []
    h, d = doc.get("holdout") or {}, doc.get("did") or {}
    if h.get("available") and h.get("lift") is not None and h.get("ci_low") is not None:
        rows.append({"key": "holdout", "label": _("Against the holdout"), "est": h["lift"], "lo": h["ci_low"],
                     "hi": h["ci_high"]})
    if d.get("available") and d.get("unit") == "pp" and d.get("estimate") is not None and d.get("ci_low") is not None:
        rows.append({"key": "did", "label": _("Against the other groups (DiD)"), "est": d["estimate"],
                     "lo": d["ci_low"], "hi": d["ci_high"]})
    if not rows:
        return None
    scale = max(max(abs(r["lo"]), abs(r["hi"]), abs(r["est"])) for r in rows) or 1.0
    scale = max(scale * 1.1, 0.5)
    for r in rows:
        for k in ("est", "lo", "hi"):
            r["x_" + k] = round(50 + r[k] / scale * 45, 2)  # percent of the chart's width
    return {"rows": rows, "scale": round(scale, 2)}


@bp.get("/<programme_id>/results")
@permission_required(VIEW)
def detail(programme_id: str):
    """The results page (interim figures computed now, or the frozen final result)."""
    from .plan import plan_kept
    from .results import document

    programme = _programme(programme_id)
    try:
        doc = document(programme, current_user)
    except (ProgrammeError, ExperimentError) as exc:
        db.session.rollback()
        return render_template("prm/results.html", p=programme, doc=None, errors=exc.errors, chart=None,
                               deviations=[], group=None, category=None, people={}, can_freeze=False,
                               programme_link=_programme_link(programme.id)), exc.status
    ids = {s["computed_by_id"] for s in doc["snapshots"] if s.get("computed_by_id")}
    people = {u.id: u for u in db.session.query(User).filter(User.id.in_(ids))} if ids else {}
    can_freeze = has_permission(current_user, MANAGE) and programme.state in ("running", "measuring")
    db.session.commit()
    return render_template("prm/results.html", p=programme, doc=doc, errors=None, chart=_chart(doc),
                           deviations=plan_kept(programme), group=db.session.get(PartnerGroup, programme.partner_group_id),
                           category=db.session.get(Category, programme.category_id), people=people,
                           can_freeze=can_freeze, programme_link=_programme_link(programme.id))


@bp.post("/<programme_id>/results/interim")
@permission_required(MANAGE)
def freeze_interim(programme_id: str):
    """HQ's button: freeze the result as it stands now."""
    from .results import snapshot

    programme = _programme(programme_id)
    try:
        snapshot(programme, "interim", current_user)
        db.session.commit()
        flash(_("Interim result frozen. It will not change any more."), "success")
    except (ProgrammeError, ExperimentError) as exc:
        db.session.rollback()
        for message in exc.errors.values():
            flash(str(message), "error")
    return redirect(url_for("prm_results.detail", programme_id=programme.id))
