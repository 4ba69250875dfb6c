"""HQ's pages for experiments: the list and one experiment's frozen and interim results.

Only aggregates are shown (counts, rates, intervals) — never the customers of an arm — and only to
holders of ``experiments.view`` (Site Administrator, HQ Staff by default). Add-ons show their own
results with the same panel macro on their own pages.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from flask import Blueprint, abort, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from ..bounds import local_today
from ..extensions import db
from ..models import Category
from ..pagination import paginate, parse_page_args
from ..security import id_or_404, permission_required
from .assignment import ExperimentError
from .models import Experiment

bp = Blueprint("experiments", __name__, url_prefix="/experiments")

VIEW = "experiments.view"
DEFAULT_DAYS = 30
STRATUM_LABELS = {"branch": _l("Branch"), "partner": _l("Distributor"), "partner_group": _l("Partner group"),
                  "rfm_segment": _l("RFM segment"), "tier": _l("Tier"), "gender": _l("Gender")}


def _date_arg(name: str, default: date) -> tuple[date, str | None]:
    raw = (request.args.get(name) or "").strip()
    if not raw:
        return default, None
    try:
        return date.fromisoformat(raw), None
    except ValueError:
        return default, _("%(value)s is not a date (YYYY-MM-DD); showing %(day)s instead.", value=raw[:20],
                          day=default.isoformat())


@bp.get("/")
@permission_required(VIEW)
def index() -> Any:
    page, per_page = parse_page_args(request.args)
    stmt = select(Experiment).order_by(Experiment.created_at.desc(), Experiment.id.desc())
    return render_template("experiments/list.html", page=paginate(stmt, page, per_page, key=Experiment.id))


@bp.get("/<ident>")
@permission_required(VIEW)
def detail(ident: str) -> Any:
    exp = db.session.get(Experiment, id_or_404(Experiment, ident))
    if exp is None:
        abort(404)
    from .results import frozen_results, lift

    today = local_today()
    first = exp.drawn_at.date() if exp.drawn_at else today - timedelta(days=DEFAULT_DAYS)
    start, err_start = _date_arg("start", first)
    end, err_end = _date_arg("end", max(first, today))
    categories = db.session.execute(select(Category.id, Category.code, Category.name_ko, Category.name_en)
                                    .order_by(Category.code)).all()
    raw_cat = (request.args.get("category") or "").strip()
    category_id = next((c.id for c in categories if str(c.id) == raw_cat), None)
    notes = [e for e in (err_start, err_end) if e]
    interim, problems = None, {}
    if exp.drawn_at is not None:
        try:
            interim = lift(exp, start=start, end=end, category_id=category_id)
        except ExperimentError as exc:
            problems = exc.errors
    return render_template("experiments/detail.html", exp=exp, interim=interim, frozen=frozen_results(exp),
                           start=start, end=end, category_id=category_id, categories=categories, notes=notes,
                           problems=problems, stratum_labels=STRATUM_LABELS)
