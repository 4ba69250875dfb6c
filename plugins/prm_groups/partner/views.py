"""The partner view (``/prm/my``): a group leader's dashboard — their group's programmes with
progress counts and results, the approvals waiting for them and their downline's seminar
attendance — and ``/prm/my/invitations``, where a distributor sees their own customers' seminar
invitations. Everything is scoped in SQL; another group's programme is simply not there (404)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from werkzeug.routing import BuildError

from portal.toolkit import (
    audit,
    db,
    has_global_permission,
    has_permission,
    paginate,
    parse_page_args,
    permission_required,
    register_summary,
)

from ..models import STATES
from ..permissions import APPROVE, INVITATIONS, MANAGE, VIEW
from ..seminar_models import INVITATION_STATUSES, REGISTERED
from . import queries

bp = Blueprint("prm_partner", __name__, url_prefix="/prm/my", template_folder="../templates",
               static_folder=str(Path(__file__).resolve().parent.parent / "static" / "partner"),
               static_url_path="/static")

#: The access log's entry of the invitations page, in words (``audit_summary``).
ACCESS_DETAIL = "prm invitations q={q} status={status} page={page}"
register_summary("access.list", r"prm invitations q=(?P<q>.*) status=(?P<status>\w*) page=(?P<page>\d+)",
                 _l("Seminar invitations, page %(page)s · search: %(q)s · status: %(status)s"))

PROGRAMMES_PER_PAGE = 10
DOWNLINE_PER_PAGE = 25
INVITATIONS_PER_PAGE = 25

#: Where another area's page may live; the first that is registered is linked (a missing page is
#: simply not linked, so this view works whatever the other areas have shipped).
PROGRAMME_ENDPOINTS = ("prm_programmes.detail",)
APPROVAL_ENDPOINTS = ("prm_content.approval",)
RESULTS_ENDPOINTS = ("prm_results.detail",)


def endpoint_url(endpoints: tuple[str, ...], **values: Any) -> str | None:
    """The URL of the first registered endpoint of ``endpoints`` that builds with ``values``."""
    for endpoint in endpoints:
        if endpoint in current_app.view_functions:
            try:
                return url_for(endpoint, **values)
            except BuildError:
                continue
    return None


def state_labels() -> dict[str, Any]:
    """Programme states in the reader's language, from the workflow definition (one wording)."""
    from ..workflow import WORKFLOW

    return {s["id"]: s["title"] for s in WORKFLOW["states"]}


def registration_link(token: str) -> str | None:
    """The seminars helper's public registration link (``/prm/r/<token>``, no login), absolute."""
    return endpoint_url(("prm_public.page",), token=token, _external=True)


def _group_arg(user: Any, groups: list[Any]) -> Any:
    """The group the dashboard is narrowed to: ``?group=G01`` (404 if the user may not see it), else
    the one group the user leads, else none (every group in scope)."""
    code = (request.args.get("group") or "").strip()
    if code:
        group = next((g for g in groups if g.code == code), None)
        if group is None or not queries.may_view_group(user, group):
            abort(404)
        return group
    led = queries.led_group_ids(user)
    if len(led) == 1:
        return next((g for g in groups if g.id == led[0]), None)
    return None


@bp.get("/")
@permission_required(INVITATIONS)
def index():
    """The leader's dashboard. A distributor (invitations but no programmes) goes to their
    customers' invitations; branch staff hold neither permission (403)."""
    user = current_user
    if not has_permission(user, VIEW):
        return redirect(url_for("prm_partner.invitations"))
    groups = queries.selectable_groups(user)
    group = _group_arg(user, groups)
    state = request.args.get("state") if request.args.get("state") in STATES else None
    page_no, _size = parse_page_args(request.args, PROGRAMMES_PER_PAGE)
    page = paginate(queries.programmes_query(user, group.id if group else None, state), page_no, PROGRAMMES_PER_PAGE)
    programmes = page.items
    progress = queries.progress(programmes)
    results = queries.result_documents(programmes, user)
    categories = queries.category_names({p.category_id for p in programmes})
    group_codes = {g.id: g for g in groups}
    approvals = queries.approvals_waiting(user, group.id if group else None)
    downline = None
    if group is not None:
        dpage_no, _ = parse_page_args({"page": request.args.get("dpage")}, DOWNLINE_PER_PAGE)
        downline = paginate(queries.downline_query(user, group.id), dpage_no, DOWNLINE_PER_PAGE, scalars=False)
    args = {k: v for k, v in (("group", group.code if group else None), ("state", state)) if v}
    links = {p.id: {"programme": endpoint_url(PROGRAMME_ENDPOINTS, programme_id=p.id),
                    "approval": endpoint_url(APPROVAL_ENDPOINTS, programme_id=p.id),
                    "results": endpoint_url(RESULTS_ENDPOINTS, programme_id=p.id)}
             for p in [*programmes, *approvals]}
    return render_template(
        "prm/partner_index.html", page=page, programmes=programmes, progress=progress, results=results,
        categories=categories, groups=groups, group=group, group_codes=group_codes, state=state,
        counts=queries.state_counts(user, group.id if group else None), approvals=approvals, downline=downline,
        args=args, links=links, states=STATES, state_labels=state_labels(), can_manage=has_permission(user, MANAGE),
        may_approve=has_permission(user, APPROVE), is_hq=has_global_permission(user, VIEW),
        new_programme_url=endpoint_url(("prm_programmes.new",)))


@bp.get("/invitations")
@permission_required(INVITATIONS)
def invitations():
    """The seminar invitations of the customers in the user's scope (a distributor: their own
    subtree's customers), paginated, searchable by name or code, filterable by status. A view of
    personal data: written to the access log."""
    user = current_user
    q = (request.args.get("q") or "").strip()[:100]
    status = request.args.get("status") if request.args.get("status") in INVITATION_STATUSES else None
    sort = request.args.get("sort") or "-invited"
    if sort.lstrip("-") not in queries.INVITATION_SORTS:
        sort = "-invited"
    page_no, _size = parse_page_args(request.args, INVITATIONS_PER_PAGE)
    page = paginate(queries.invitations_query(user, q, status, sort), page_no, INVITATIONS_PER_PAGE, scalars=False)
    if not page.items and page.total and page_no > page.pages:
        return redirect(url_for("prm_partner.invitations", **_args(q, status, sort), page=page.pages))
    regs = queries.registrations_for([r.id for r in page.items])
    show_links = not has_global_permission(user, INVITATIONS)
    links = {r.id: registration_link(r.token) for r in page.items
             if show_links and r.status != "declined"} if page.items else {}
    html = render_template(
        "prm/partner_invitations.html", page=page, regs=regs, links=links, q=q, status=status, sort=sort,
        args=_args(q, status, sort), statuses=INVITATION_STATUSES, counts=queries.invitation_status_counts(user),
        attended=queries.attended_count(user), registered_status=REGISTERED)
    audit.log_access("list", count=len(page.items), detail=ACCESS_DETAIL.format(q=q[:50], status=status or "", page=page_no))
    db.session.commit()
    return html


def _args(q: str, status: str | None, sort: str) -> dict[str, str]:
    return {k: v for k, v in (("q", q), ("status", status), ("sort", None if sort == "-invited" else sort)) if v}
