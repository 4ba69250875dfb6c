"""The loyalty add-on's hook implementations: what it contributes to the portal and when it reacts."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l

from portal.toolkit import (
    BRANCH_STAFF,
    DISTRIBUTOR,
    GROUP_LEADER,
    HQ_STAFF,
    SITE_ADMIN,
    csrf,
    db,
    has_permission,
    hookimpl,
)

from . import models  # noqa: F401  (puts the loy_ tables on the shared metadata)
from .config import SETTINGS_SCHEMA

FIELD = [BRANCH_STAFF, GROUP_LEADER, DISTRIBUTOR]
KIND_LABELS = {"earn": _l("earned"), "redeem": _l("redeemed"), "expire": _l("expired"), "adjust": _l("adjusted"),
               "reverse": _l("reversed"), "transfer": _l("transfer")}
# Codes this add-on stores that the core's pages show (the audit log, the points statement).
CODE_LABELS = {
    "audit_action": {
        "loyalty.redeemed": _l("Points redeemed"), "loyalty.adjusted": _l("Points adjusted"),
        "loyalty.adjustment_requested": _l("Point adjustment requested"),
        "loyalty.adjustment_approved": _l("Point adjustment approved"),
        "loyalty.adjustment_rejected": _l("Point adjustment rejected"),
        "loyalty.reversed": _l("Points entry reversed"), "loyalty.card_issued": _l("Family card issued"),
        "loyalty.card_member_added": _l("Member added to a family card"),
        "loyalty.card_member_removed": _l("Member removed from a family card"),
        "loyalty.card_transfer": _l("Points moved between family members"),
        "loyalty.tier_saved": _l("Tier saved"), "loyalty.rate_saved": _l("Category multiplier saved"),
        "loyalty.promotion_saved": _l("Promotion saved"), "loyalty.promotion_toggled": _l("Promotion started or stopped"),
        "loyalty.reward_saved": _l("Reward saved"),
    },
    "record": {"loy_account": _l("Points account"), "loy_entry": _l("Points entry"), "loy_tier": _l("Tier"),
               "loy_reward": _l("Reward"), "loy_promotion": _l("Promotion"), "loy_approval": _l("Approval")},
    # What a queued request will do once approved (loy_approval.operation).
    "loyalty_operation": {"adjust": _l("Adjustment"), "earn": _l("Credit")},
    # The reasons the add-on itself writes on ledger entries (staff-typed reasons show as typed).
    "loyalty_reason": {"expired": _l("Validity ended"), "joined family card": _l("Joined the family card"),
                       "left family card": _l("Left the family card"), "customer merged": _l("Customers merged")},
    "customer_tab": {"points": _l("Points")},
}
# The audit summaries this add-on writes (family.py, redemption.py, views.py), in the reader's language.
_POINTS_REASON = r"(?P<points>[+-]?\d+) points: (?P<reason>.*)"
AUDIT_SUMMARIES = [
    ("loyalty.card_issued", r"family card (?P<card>\d+)", _l("card %(card)s")),
    ("loyalty.card_member_added", r"card (?P<card>\d+): (?P<points>-?\d+) points pooled",
     _l("card %(card)s: %(points)s points pooled")),
    ("loyalty.card_member_removed", r"card (?P<card>\d+): (?P<points>-?\d+) points taken out",
     _l("card %(card)s: %(points)s points taken out")),
    ("loyalty.card_transfer", r"(?P<points>\d+) points (?P<source>\S+) → (?P<target>\S+): (?P<reason>.*)",
     _l("%(points)s points %(source)s → %(target)s: %(reason)s")),
    *[(action, _POINTS_REASON, _l("%(points)s points: %(reason)s"))
      for action in ("loyalty.redeemed", "loyalty.adjusted", "loyalty.adjustment_approved", "loyalty.adjustment_rejected")],
    ("loyalty.adjustment_requested", r"(?P<loyalty_operation>\w+) (?P<points>[+-]?\d+) points: (?P<reason>.*)",
     _l("%(loyalty_operation)s %(points)s points: %(reason)s")),
    ("loyalty.tier_saved", r"(?P<tier>\S+) ≥ (?P<threshold>\d+) × (?P<pct>\d+)%",
     _l("%(tier)s from %(threshold)s points, × %(pct)s%%")),
    ("loyalty.reversed", r"entry #(?P<id>\d+): (?P<reason>.*)", _l("entry #%(id)s: %(reason)s")),
    ("loyalty.rate_saved", r"category (?P<id>\d+) × (?P<pct>\d+)%", _l("category %(id)s × %(pct)s%%")),
    ("loyalty.promotion_toggled", r"(?P<name>.*): on", _l("%(name)s: started")),
    ("loyalty.promotion_toggled", r"(?P<name>.*): off", _l("%(name)s: stopped")),
    ("loyalty.reward_saved", r"(?P<code>.*): (?P<points>\d+) points", _l("%(code)s: %(points)s points")),
    # The access log's row of the expiring-points download.
    ("access.export", r"loyalty expiring points \((?P<days>\d+) days\)", _l("points expiring in %(days)s days")),
]


@hookimpl
def portal_blueprints():
    from .api import bp as api_bp
    from .views import bp

    return [bp, api_bp]


@hookimpl
def portal_init_app(app):
    from .api import bp as api_bp

    csrf.exempt(api_bp)  # bearer tokens only, like the core API

    @app.template_filter("points")
    def _points(value: Any) -> str:
        return f"{int(value or 0):,} P"

    @app.template_filter("label_loyalty_kind")
    def _kind(value: str) -> str:
        return str(KIND_LABELS.get(value, value))

    from portal.toolkit import register_labels, register_resolver, register_summary

    for kind, labels in CODE_LABELS.items():
        register_labels(kind, labels)
    register_resolver("tier", tier_name)
    register_labels("field", {spec["name"]: spec["label"] for spec in SETTINGS_SCHEMA})  # the settings' audit changes
    for action, pattern, message in AUDIT_SUMMARIES:
        register_summary(action, pattern, message)
    from .approvals import register as register_approval_workflow

    register_approval_workflow()  # LoyApproval on the core workflow service (approvals.py)


@hookimpl
def portal_permissions():
    return [
        {"name": "loyalty.view", "title": _l("View loyalty points"), "roles": [SITE_ADMIN, HQ_STAFF, *FIELD]},
        {"name": "loyalty.redeem", "title": _l("Redeem loyalty points"), "roles": [SITE_ADMIN, HQ_STAFF, *FIELD]},
        {"name": "loyalty.earn", "title": _l("Credit loyalty points"), "roles": [SITE_ADMIN, HQ_STAFF, BRANCH_STAFF]},
        {"name": "loyalty.adjust", "title": _l("Request manual point adjustments"),
         "roles": [SITE_ADMIN, HQ_STAFF, BRANCH_STAFF]},
        {"name": "loyalty.approve", "title": _l("Approve large point adjustments"), "roles": [SITE_ADMIN, HQ_STAFF]},
        {"name": "loyalty.family", "title": _l("Manage family cards"), "roles": [SITE_ADMIN, HQ_STAFF, BRANCH_STAFF]},
        {"name": "loyalty.manage", "title": _l("Manage the loyalty programme"), "roles": [SITE_ADMIN, HQ_STAFF]},
    ]


@hookimpl
def portal_menu_items(user):
    return [
        {"label": _l("Loyalty"), "endpoint": "loyalty.index", "permission": "loyalty.view", "order": 40,
         "match": ("loyalty.report", "loyalty.approvals", "loyalty.decide", "loyalty.family", "loyalty.redeem",
                   "loyalty.adjust")},
        {"label": _l("Loyalty programme"), "endpoint": "loyalty.programme", "permission": "loyalty.manage",
         "order": 95, "section": "manage", "match": ("loyalty.programme",)},
    ]


@hookimpl
def portal_workflows():
    from .approvals import LOYALTY_APPROVAL

    return [LOYALTY_APPROVAL]


@hookimpl
def portal_customer_tabs(customer, user):
    if not has_permission(user, "loyalty.view", customer):
        return []

    def context() -> dict[str, Any]:
        from flask import request

        from portal.toolkit import parse_page_args

        from .summary import tab_context

        page, _size = parse_page_args(request.args)
        ctx = tab_context(customer, page)
        ctx["can_redeem"] = has_permission(user, "loyalty.redeem", customer)
        ctx["can_adjust"] = has_permission(user, "loyalty.adjust", customer)
        ctx["can_family"] = has_permission(user, "loyalty.family", customer)
        return ctx

    return [{"id": "points", "label": _l("Points"), "template": "loyalty/tab_points.html", "order": 15,
             "context_factory": context}]


@hookimpl
def portal_sales_imported(report):
    from .earning import on_report_imported

    on_report_imported(report)


@hookimpl
def portal_customers_merged(survivor, merged_id):
    from .merge import merge_accounts

    merge_accounts(survivor, merged_id)


@hookimpl
def portal_household_changed(customer, old_household_id, new_household_id):
    """A member who leaves the household leaves its family card, with the points they earned."""
    from .family import household_changed

    household_changed(customer, old_household_id, new_household_id)


@hookimpl
def portal_personal_data(customer):
    from .privacy import personal_data

    data = personal_data(customer)
    return None if data is None else {"name": "loyalty", "data": data}


@hookimpl
def portal_segment_fields():
    from .segments import segment_fields

    return segment_fields()


@hookimpl
def portal_settings_schema():
    return SETTINGS_SCHEMA


@hookimpl
def portal_install(app):
    app.logger.info("loyalty installed")


@hookimpl
def portal_uninstall(app, purge):
    if purge:  # the approvals' workflow history goes with their table
        from .approvals import purge as purge_approval_workflow

        purge_approval_workflow()
    if purge:  # the tier mirrored into customer.tier is ours: clear it with the tables
        from sqlalchemy import select

        from portal.toolkit import clear_tiers

        from .models import LoyTier

        clear_tiers(source="loyalty", codes=list(db.session.execute(select(LoyTier.code)).scalars()))


@hookimpl
def portal_seed(profile):
    from .seed import seed

    seed(profile)


@hookimpl
def portal_cli(cli):
    from .cli import register

    register(cli)


def tier_name(code: str) -> str | None:
    """A tier's name in the reader's language from ``loy_tier`` (a tier an administrator added or
    renamed has no static label); read once per request, and only while the add-on is active."""
    from flask import g, has_request_context
    from flask_babel import get_locale

    from portal.toolkit import active_plugin_names

    if not has_request_context() or "loyalty" not in active_plugin_names():
        return None
    names = g.get("loyalty_tier_names")
    if names is None:
        from sqlalchemy import select

        from portal.toolkit import db

        from .models import LoyTier

        names = {t.code: (t.name_ko, t.name_en) for t in db.session.execute(select(LoyTier)).scalars()}
        g.loyalty_tier_names = names
    pair = names.get(code)
    if pair is None:
        return None
    return pair[0] if str(get_locale()).startswith("ko") else pair[1]
