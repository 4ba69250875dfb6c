"""Dashboard portlets and the partner-group tab of the add-on.

* ``dashboard``: "Approvals waiting for you" for a group leader (``prm.approve`` by a local role),
  "Your customers' seminar invitations" for a distributor (``prm.invitations`` by a local role,
  without the approval right). HQ holds both permissions globally and sees neither: its work
  lives on the programme pages, not in a personal to-do box.
* The partner-group page's "Support programmes" tab, for HQ and the group's own leaders; the
  query runs only when the tab is opened (``context_factory``).
"""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l

from portal.toolkit import PartnerGroup, db, has_global_permission, has_permission

from ..permissions import APPROVE, INVITATIONS, VIEW

PORTLET_ORDER = 30
TAB_ORDER = 60
TAB_LIMIT = 50


def portlets(manager: str, user: Any) -> list[dict[str, Any]]:
    if manager != "dashboard" or not getattr(user, "is_authenticated", False):
        return []
    from . import queries
    from .views import APPROVAL_ENDPOINTS, endpoint_url

    if has_permission(user, APPROVE) and not has_global_permission(user, APPROVE):
        waiting = queries.approvals_waiting(user, limit=5)
        items = [{"name": p.name, "url": endpoint_url(APPROVAL_ENDPOINTS, programme_id=p.id)} for p in waiting]
        return [{"title": _l("Approvals waiting for you"), "template": "prm/partner_portlet_approvals.html",
                 "order": PORTLET_ORDER, "permission": APPROVE,
                 "context": {"items": items, "total": queries.count_approvals_waiting(user) if len(waiting) >= 5
                             else len(waiting)}}]
    if has_permission(user, INVITATIONS) and not has_global_permission(user, INVITATIONS):
        counts = queries.invitation_status_counts(user)
        return [{"title": _l("Your customers' seminar invitations"), "template": "prm/partner_portlet_invitations.html",
                 "order": PORTLET_ORDER, "permission": INVITATIONS,
                 "context": {"counts": counts, "total": sum(counts.values()),
                             "attended": queries.attended_count(user) if counts else 0}}]
    return []


def group_tabs(group: PartnerGroup, user: Any) -> list[dict[str, Any]]:
    """The group's programmes, for HQ and for the group's own leaders (never another group's)."""
    from . import queries

    if not has_permission(user, VIEW) or not queries.may_view_group(user, group):
        return []

    def context() -> dict[str, Any]:
        from .views import PROGRAMME_ENDPOINTS, RESULTS_ENDPOINTS, endpoint_url, state_labels

        stmt = queries.programmes_query(user, group.id).limit(TAB_LIMIT)
        programmes = list(db.session.execute(stmt).scalars())
        return {"group": group, "programmes": programmes, "progress": queries.progress(programmes),
                "categories": queries.category_names({p.category_id for p in programmes}),
                "counts": queries.state_counts(user, group.id), "limit": TAB_LIMIT, "state_labels": state_labels(),
                "links": {p.id: {"programme": endpoint_url(PROGRAMME_ENDPOINTS, programme_id=p.id),
                                 "results": endpoint_url(RESULTS_ENDPOINTS, programme_id=p.id)} for p in programmes},
                "dashboard_url": endpoint_url(("prm_partner.index",), group=group.code),
                "new_url": endpoint_url(("prm_programmes.new",), group=group.code)
                if has_permission(user, "prm.manage") else None}

    return [{"id": "prm-programmes", "label": _l("Support programmes"), "template": "prm/partner_group_tab.html",
             "context_factory": context, "order": TAB_ORDER}]
