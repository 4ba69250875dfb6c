"""Translated labels for coded values stored in the database and shown on pages: customers'
channels, purposes and fields, daily-report modes and sources, tier codes, audit actions and the
kinds of records they touch. ``label(kind, code)`` in Python, ``code | label("kind")`` in templates;
an unknown code shows as itself (a code an add-on added and did not register).

Add-ons add their own codes with :func:`register` (e.g. their audit actions) at start-up."""

from __future__ import annotations

import ast
import re
from collections.abc import Callable
from typing import Any

from flask_babel import lazy_gettext as _l

LABELS = {
    "channel": {"sms": _l("SMS"), "email": _l("E-mail"), "dm": _l("Direct mail"), "phone": _l("Phone call"),
                "push": _l("App push")},
    "purpose": {"marketing": _l("Marketing"), "service": _l("Service notices"),
                "night_ads": _l("Advertising at night (21:00–08:00)")},
    "method": {"store": _l("In store"), "paper": _l("Paper form"), "web": _l("Website"), "phone": _l("By phone"),
               "import": _l("From an imported file"), "api": _l("API")},
    # Fields as they are named in the audit trail's changes (consent.<channel>.<purpose>: see label()).
    "field": {"phone": _l("Phone"), "email": _l("E-mail"), "address": _l("Address"), "postal_code": _l("Postal code"),
              "name": _l("Name"), "birth_date": _l("Birth date"), "gender": _l("Gender"), "note": _l("Note"),
              "complaint": _l("Complaint"), "complaint_note": _l("Complaint note"), "household_id": _l("Household"),
              "branch_id": _l("Owner branch"), "partner_id": _l("Owner distributor"), "parent": _l("Parent"),
              "active": _l("Active"), "sponsor": _l("Sponsor"), "locale": _l("Language"), "status": _l("Status"),
              "included": _l("Included"), "excluded": _l("Excluded"),
              # the filters of a list or an export, as the access log stores them
              "date_from": _l("From"), "date_to": _l("To"), "q": _l("Search"), "category": _l("Category"),
              "branch": _l("Branch"), "group": _l("Partner group"), "partner": _l("Distributor"),
              "quality": _l("Data quality"), "sort": _l("Sort order")},
    # Daily reports (판매일보): how a file with bad rows is handled, and where it came from.
    "report_mode": {"strict": _l("All rows or none"), "lenient": _l("Good rows only")},
    "report_source": {"web": _l("Upload page"), "cli": _l("Command line"), "api": _l("API"), "demo": _l("Demo data")},
    # The loyalty tiers the portal ships with (a tier added later shows its code).
    "tier": {"BASIC": _l("Basic"), "SILVER": _l("Silver"), "GOLD": _l("Gold"), "VIP": _l("VIP")},
    "actor": {"system": _l("system")},
    "unit_kind": {"hq": _l("Head office"), "region": _l("Region"), "branch": _l("Branch")},
    "gender": {"F": _l("Female"), "M": _l("Male")},
    "file_format": {"csv": "CSV", "xlsx": "Excel"},
    "locale": {"ko": "한국어", "en": "English"},  # each language in its own name, as on the language switch
    "audit_action": {
        "auth.login": _l("Logged in"), "auth.logout": _l("Logged out"), "auth.login_failed": _l("Failed login"),
        "auth.password_changed": _l("Password changed"), "auth.password_change_failed": _l("Password change refused"),
        "auth.reset_requested": _l("Password reset requested"), "auth.password_reset": _l("Password reset"),
        "api_token.created": _l("API token created"), "api_token.revoked": _l("API token revoked"),
        "user.created": _l("User created"), "user.updated": _l("User changed"),
        "user.role_granted": _l("Role granted"), "user.role_revoked": _l("Role revoked"),
        "user.local_role_granted": _l("Local role granted"), "user.local_role_revoked": _l("Local role revoked"),
        "customer.created": _l("Customer created"), "customer.updated": _l("Customer changed"),
        "customer.consent": _l("Consent recorded"), "customer.complaint": _l("Complaint flag changed"),
        "customer.household": _l("Household changed"), "customer.merged": _l("Customers merged"),
        "customer.merged_away": _l("Merged into another customer"),
        "customer.pseudonymized": _l("Customer pseudonymised"),
        "customer.quality_flagged": _l("Data flagged for checking"),
        "customer.quality_resolved": _l("Data check resolved"),
        "sales_report.imported": _l("Daily report imported"), "sales_report.replaced": _l("Daily report replaced"),
        "sales_report.rejected": _l("Daily report refused"),
        "org.unit_created": _l("Unit created"), "org.unit_updated": _l("Unit changed"), "org.unit_moved": _l("Unit moved"),
        "org.group_created": _l("Partner group created"), "org.partner_created": _l("Distributor created"),
        "org.partner_updated": _l("Distributor changed"),
        "segment.created": _l("Segment created"), "segment.updated": _l("Segment changed"),
        "segment.deleted": _l("Segment deleted"), "extraction.created": _l("Extraction created"),
        "extraction.used": _l("Extraction used"), "extraction.cancelled": _l("Extraction cancelled"),
        "analytics.refresh": _l("Scores refreshed"), "analytics.refresh_failed": _l("Score refresh failed"),
        "addon.installed": _l("Add-on installed"), "addon.uninstalled": _l("Add-on uninstalled"),
        "addon.enabled": _l("Add-on enabled"), "addon.disabled": _l("Add-on disabled"),
        "addon.settings": _l("Add-on settings changed"),
    },
    # The access log (views and exports of personal data).
    "access_action": {"list": _l("List viewed"), "view": _l("Record viewed"), "export": _l("Exported"),
                      "dsr_export": _l("Data-subject export"), "api_list": _l("List read (API)"),
                      "api_view": _l("Record read (API)")},
    # The customer page's tabs (an access-log "view" entry names the tab that was read).
    "customer_tab": {"overview": _l("Overview"), "purchases": _l("Purchases"), "scores": _l("Scores"),
                     "consent": _l("Consent"), "history": _l("History")},
    # What an audit or access-log entry is about (the table of the record).
    "record": {"customer": _l("Customer"), "household": _l("Household"), "user_account": _l("User"),
               "api_token": _l("API token"), "org_unit": _l("Unit"), "partner_group": _l("Partner group"),
               "partner": _l("Distributor"), "sales_report": _l("Daily report"), "segment": _l("Segment"),
               "extraction": _l("Extraction"), "plugin_state": _l("Add-on"), "consent": _l("Consent"),
               "quality_issue": _l("Data check")},
}


# Codes whose names live in an add-on's table (tiers an administrator adds or renames): kind ->
# a function from code to name, or None to fall back on LABELS.
RESOLVERS: dict[str, Callable[[str], object | None]] = {}


def label(kind: str, value: str | None) -> str:
    resolve = RESOLVERS.get(kind)
    if resolve is not None and value:
        name = resolve(value)
        if name:
            return str(name)
    if kind == "field" and value and value.startswith("consent."):  # consent.push.night_ads
        channel, _dot, purpose = value[len("consent."):].partition(".")
        return f"{label('channel', channel)} · {label('purpose', purpose)}"
    return str(LABELS.get(kind, {}).get(value, value or ""))


def register_resolver(kind: str, resolve: Callable[[str], object | None]) -> None:
    """Name the codes of ``kind`` from data (the add-on's own table) before the static labels."""
    RESOLVERS[kind] = resolve


def register(kind: str, labels: dict[str, object]) -> None:
    """Add (or override) translated labels for codes of ``kind``: an add-on's audit actions, say."""
    LABELS.setdefault(kind, {}).update(labels)


# Audit summaries are written once, in English, by the code that records the event; the log shows
# the known shapes in the reader's language: action -> [(pattern, message with its named groups)].
# A summary no pattern matches shows as it was written.
SUMMARIES: dict[str, list[tuple[re.Pattern[str], object]]] = {}


def register_summary(action: str, pattern: str, message: object) -> None:
    SUMMARIES.setdefault(action, []).append((re.compile(pattern, re.S), message))


def audit_summary(action: str, summary: str | None) -> str:
    for rx, message in SUMMARIES.get(action, ()):
        if m := rx.fullmatch(summary or ""):
            values = {k: label(k, v) if k in LABELS or k in RESOLVERS else v for k, v in m.groupdict().items()}
            return str(message) % values
    return summary or ""


# Fields whose audited values are codes: shown through these label kinds (gender M → 남성).
VALUE_KINDS = {"gender": "gender", "locale": "locale"}


def audit_value(value: Any, field: str | None = None) -> str:
    """A value of an audit entry's changes for reading: the audit trail stores anything that is not
    a plain scalar as its Python text (``"{'sms': True}"``); this shows ``SMS: 예`` instead. With
    the ``field`` it belongs to, a code (gender ``M``) reads as its label."""
    from flask_babel import gettext

    if field in VALUE_KINDS and isinstance(value, str) and value:
        return label(VALUE_KINDS[field], value)

    if isinstance(value, str) and value[:1] in "{[(" and value[-1:] in "}])":
        try:
            value = ast.literal_eval(value)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            return value
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return gettext("yes") if value else gettext("no")
    if isinstance(value, dict):
        return ", ".join(f"{label('field', str(k))}: {audit_value(v)}" for k, v in value.items())
    if isinstance(value, list | tuple | set | frozenset):
        return ", ".join(audit_value(v) for v in value) or "—"
    return str(value)


for _action, _pattern, _message in [
    ("customer.consent", r"(?P<channel>\w+)/(?P<purpose>\w+)=yes via (?P<method>\w+)",
     _l("%(channel)s · %(purpose)s: opted in (%(method)s)")),
    ("customer.consent", r"(?P<channel>\w+)/(?P<purpose>\w+)=no via (?P<method>\w+)",
     _l("%(channel)s · %(purpose)s: opted out (%(method)s)")),
    *[(action, r"(?P<name>.*): (?P<n>\d+) customers by (?P<channel>\w+)", _l("%(name)s: %(n)s customers by %(channel)s"))
      for action in ("extraction.created", "extraction.used")],
    ("sales_report.rejected", r"(?P<branch>\S+) (?P<day>\S+): (?P<bad>\d+)/(?P<rows>\d+) rows refused \((?P<report_mode>\w+)\)",
     _l("%(branch)s %(day)s: %(bad)s of %(rows)s rows refused (%(report_mode)s)")),
    *[(action, r"(?P<branch>\S+) (?P<day>\S+): (?P<lines>\d+) lines, (?P<new>\d+) new customers, (?P<bad>\d+) rows "
               r"refused \((?P<report_mode>\w+)\)", _l("%(branch)s %(day)s: %(lines)s lines, %(new)s new customers, "
                                                       "%(bad)s rows refused (%(report_mode)s)"))
      for action in ("sales_report.imported", "sales_report.replaced")],
    ("sales_report.replaced", r"(?P<branch>\S+) (?P<day>\S+): (?P<lines>\d+) lines, (?P<new>\d+) new customers, "
                              r"(?P<bad>\d+) rows refused \((?P<report_mode>\w+)\); replaces #(?P<old>\d+)",
     _l("%(branch)s %(day)s: %(lines)s lines, %(new)s new customers, %(bad)s rows refused (%(report_mode)s); "
        "replaces #%(old)s")),
    ("customer.merged", r"(?P<code>\S+) (?P<name>.*) → (?P<survivor>\S+): (?P<lines>\d+) sale lines, (?P<consents>\d+) "
                        r"consents, (?P<issues>\d+) quality issues",
     _l("%(code)s %(name)s → %(survivor)s: %(lines)s sale lines, %(consents)s consents, %(issues)s data checks moved")),
    ("addon.uninstalled", r"(?P<name>\S+) purge=True", _l("%(name)s, its data deleted")),
    # Access-log details ("access." + the access action): the customer tab read, the list searched.
    ("access.view", r"tab=(?P<customer_tab>\w+)", _l("%(customer_tab)s tab")),
    ("access.list", r"q= page=(?P<page>\d+)", _l("customer list, page %(page)s")),
    ("access.list", r"q=(?P<q>.+) page=(?P<page>\d+)", _l("customer search “%(q)s”, page %(page)s")),
    ("addon.uninstalled", r"(?P<name>\S+) purge=False", _l("%(name)s, its data kept")),
    # Sale-line lists and exports, customer exports: the filters are stored as Python text.
    *[(action, r"sale_lines (?P<filters>\{.*\}) page=(?P<page>\d+)", _l("sale lines, page %(page)s; filters: %(filters)s"))
      for action in ("access.list", "access.api_list")],
    ("access.export", r"sale_lines\.(?P<file_format>csv|xlsx) (?P<filters>\{.*\})",
     _l("sale lines as %(file_format)s; filters: %(filters)s")),
    ("access.export", r"customers\.(?P<file_format>csv|xlsx) (?P<filters>\{.*\})",
     _l("customer list as %(file_format)s; filters: %(filters)s")),
    *[(action, pattern, message) for action in ("access.list", "access.api_list") for pattern, message in (
        (r"quality\.(?:fix|queue) branch=\S* field=\S* page=(?P<page>\d+)", _l("data to fix, page %(page)s")),
        (r"quality\.duplicates page=(?P<page>\d+)", _l("duplicate candidates, page %(page)s")),
        (r"extraction (?P<id>\d+)(?: customers)? page=(?P<page>\d+)", _l("target list #%(id)s, page %(page)s")),
        (r"(?:extraction|segment|segments\.) ?preview channel=(?P<channel>\w+)", _l("preview of a segment (%(channel)s)")),
        (r"(?:extraction|segment|segments\.) ?preview channel=(?:None)?", _l("preview of a segment")),
    )],
    ("access.view", r"quality\.merge", _l("merge page")),
    ("access.export", r"rejections of sales report (?P<id>\d+)", _l("refused rows of daily report #%(id)s")),
    ("access.dsr_export", r"data-subject export \(JSON\)", _l("everything held on the customer (JSON)")),
]:
    register_summary(_action, _pattern, _message)
register_resolver("filters", lambda value: audit_value(value) or "—")  # {'q': 'x'} -> 검색: x


def choices(kind: str) -> list[tuple[str, object]]:
    return list(LABELS[kind].items())
