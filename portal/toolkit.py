"""The one public surface for add-ons (CKAN's ``plugins.toolkit``).

Add-ons under ``plugins/`` import only from here (``tests/test_toolkit.py`` fails otherwise), so
the core can move and rename its modules freely while these names stay. Each name is documented
where it is defined; ``docs/plugins.md`` lists them by area. Add a name here when an add-on needs
it, never a reach into another ``portal.*`` module.
"""

from __future__ import annotations

from . import audit
from .api.support import (
    authenticate_bearer,
    english,
    error,
    http_error,
    json_object,
    json_payload,
    refused,
    require,
)
from .customers.labels import register as register_labels
from .customers.labels import register_resolver, register_summary
from .customers.normalize import normalize_phone
from .exports import ExportTooLarge, logged_export
from .extensions import csrf, db
from .hookspecs import hookimpl
from .migrations_support import run_plugin_env
from .models import (
    Category,
    Customer,
    Household,
    OrgUnit,
    Partner,
    PartnerGroup,
    SaleLine,
    SalesReport,
    User,
    utcnow,
)
from .pagination import paginate, parse_page_args
from .plugin_settings import get_settings
from .plugins import PluginInfo, active_plugin_names
from .security import (
    BRANCH_STAFF,
    DISTRIBUTOR,
    GROUP_LEADER,
    HQ_STAFF,
    REVIEWER,
    SITE_ADMIN,
    get_scoped_or_404,
    has_global_permission,
    has_permission,
    id_or_404,
    not_found_message,
    permission_required,
    register_scoped,
    scope_filter,
)

__all__ = [
    # database, models and time
    "db", "utcnow", "Category", "Customer", "Household", "OrgUnit", "Partner", "PartnerGroup", "SaleLine",
    "SalesReport", "User",
    # plugin machinery
    "PluginInfo", "hookimpl", "active_plugin_names", "get_settings", "run_plugin_env",
    # security: roles, permission checks, SQL scope filters, 404 for out-of-scope records
    "SITE_ADMIN", "HQ_STAFF", "REVIEWER", "GROUP_LEADER", "DISTRIBUTOR", "BRANCH_STAFF", "has_permission",
    "has_global_permission", "permission_required", "scope_filter", "register_scoped", "get_scoped_or_404", "id_or_404",
    "not_found_message", "csrf",
    # contact data: the core's Korean phone normaliser (``+82 10-1234-5678`` → ``01012345678``)
    "normalize_phone",
    # audit trail and access log (audit.record, audit.log_access), logged exports
    "audit", "logged_export", "ExportTooLarge",
    # lists and the JSON API
    "paginate", "parse_page_args", "authenticate_bearer", "error", "json_payload", "require",
    # the add-ons' JSON refusals (``{"error", "message", "errors", "fields"}``), English API messages
    "english", "http_error", "json_object", "refused",
    # labels of stored codes in the reader's language
    "register_labels", "register_resolver", "register_summary",
]

# --- Platform services (issue 14). Each block is owned by its service; add names only in yours.
# --- jobs ---
from .jobs import JobError, QueueUnavailable, enqueue, job, periodic_job, run_now  # noqa: E402

__all__ += ["JobError", "QueueUnavailable", "enqueue", "job", "periodic_job", "run_now"]
# --- channels, consent and contact ---
from .contact import (  # noqa: E402
    Channel,
    ContactError,
    UnknownChannel,
    Verdict,
    channel,
    channels,
    may_contact,
    may_contact_many,
    record_consent,
    record_consents,
    record_contact,
    record_contacts,
)

__all__ += ["Channel", "ContactError", "UnknownChannel", "Verdict", "channel", "channels", "may_contact",
            "may_contact_many", "record_consent", "record_consents", "record_contact", "record_contacts"]
# --- messaging ---
from .messaging import (  # noqa: E402
    MessagingError,
    SendResult,
    cancel_queued,
    dispatch,
    pause,
    progress,
    queue_many,
    queue_message,
    resume,
)

__all__ += ["MessagingError", "SendResult", "cancel_queued", "dispatch", "pause", "progress", "queue_many",
            "queue_message", "resume"]
# --- Korean advertising law (portal.adlaw) ---
from .adlaw import compose_for, legal_settings, unsubscribe_url  # noqa: E402
from .adlaw.law import (  # noqa: E402
    AD_PREFIX,
    Composed,
    LawViolation,
    check_ad_prefix,
    compose_marketing,
    contains_ad_label,
    cp949_len,
    format_080,
    in_night_window,
    night_deferral,
    night_rule_applies,
    non_cp949_chars,
    optout_notice_deadline,
    reconfirmation_deadline,
    reconfirmation_due,
    reconfirmation_notice_date,
    sms_class,
)

__all__ += [
    "AD_PREFIX", "Composed", "LawViolation", "check_ad_prefix", "compose_for", "compose_marketing", "contains_ad_label",
    "cp949_len", "format_080", "in_night_window", "legal_settings", "night_deferral", "night_rule_applies",
    "non_cp949_chars", "optout_notice_deadline", "reconfirmation_deadline", "reconfirmation_due",
    "reconfirmation_notice_date", "sms_class", "unsubscribe_url",
]
# --- workflow ---
from .workflow import (  # noqa: E402
    SIMPLE_PUBLICATION,
    WorkflowConflict,
    WorkflowError,
    WorkflowForbidden,
    WorkflowInvalid,
    WorkflowNotFound,
    approval_for,
    approve,
    available_transitions,
    check_transition,
    content_changed,
    current_revision,
    not_owner,
    notify_waiting,
    owner_only,
    purge_type,
    register_type,
    revision_hash,
    state_of,
    system_transition,
    transition,
)
from .workflow import history as workflow_history  # noqa: E402

__all__ += [
    "SIMPLE_PUBLICATION", "WorkflowConflict", "WorkflowError", "WorkflowForbidden", "WorkflowInvalid",
    "WorkflowNotFound", "approval_for", "approve", "available_transitions", "check_transition", "content_changed",
    "current_revision", "not_owner", "notify_waiting", "owner_only", "purge_type", "register_type", "revision_hash", "state_of",
    "system_transition", "transition", "workflow_history",
]
# --- notifications ---
from .notify import NotifyError, notify, role_in_scope  # noqa: E402

__all__ += ["NotifyError", "notify", "role_in_scope"]
# --- experiments ---
from .experiments import (  # noqa: E402
    ExperimentError,
    LiftResult,
    arm_of,
    attach_source,
    contactable,
    create_experiment,
    did,
    draw,
    ensure_global_control,
    for_experiment,
    freeze,
    frozen_results,
    get_experiment,
    in_global_control,
    lift,
    outcomes,
    power_check,
    power_warning,
    required_sizes,
    treatment_ids,
)

__all__ += [
    "ExperimentError", "LiftResult", "create_experiment", "get_experiment", "attach_source", "draw", "contactable",
    "arm_of", "treatment_ids", "ensure_global_control", "in_global_control", "for_experiment", "outcomes", "lift",
    "freeze", "frozen_results", "did", "power_check", "power_warning", "required_sizes",
]
# --- events and UI extension points ---
from .customers.tiers import TierError, clear_tiers, set_tiers  # noqa: E402
from .events import EventArgError, FireResult, fire, register_event  # noqa: E402

__all__ += ["fire", "register_event", "FireResult", "EventArgError", "set_tiers", "clear_tiers", "TierError"]
# --- segments and target lists (the audiences of campaigns and programmes) ---
from .analytics.extraction import PreviewResult, owner_place  # noqa: E402
from .analytics.extraction import create as create_extraction  # noqa: E402
from .analytics.extraction import preview as preview_audience  # noqa: E402
from .analytics.segment_store import segment_or_404  # noqa: E402
from .analytics.segments import Problem as RuleProblem  # noqa: E402
from .analytics.segments import RuleError, segment_query  # noqa: E402
from .models import Extraction, ExtractionMember, Segment  # noqa: E402

__all__ += ["RuleError", "RuleProblem", "segment_query", "segment_or_404", "preview_audience", "PreviewResult",
            "create_extraction", "owner_place", "Segment", "Extraction", "ExtractionMember"]
# --- campaign sending (cem_channels, issue 15): set-based reads of the outbox, the contact history and a draw ---
from .contact.models import Contact  # noqa: E402
from .db_utils import chunked, dialect_insert, id_in, is_postgres  # noqa: E402
from .experiments.models import ExperimentAssignment  # noqa: E402
from .messaging.models import TERMINAL as MESSAGE_TERMINAL  # noqa: E402
from .messaging.models import Message  # noqa: E402

__all__ += ["Contact", "Message", "MESSAGE_TERMINAL", "ExperimentAssignment", "chunked", "dialect_insert", "id_in",
            "is_postgres"]
# --- campaign results, A/B decisions and call lists (cem_channels, issue 15) ---
from .experiments.stats import ArmStats  # noqa: E402
from .experiments.stats import compare as compare_arms  # noqa: E402
from .messaging.manual import record_manual_outcome  # noqa: E402
from .models import Consent  # noqa: E402

__all__ += ["ArmStats", "compare_arms", "record_manual_outcome", "Consent"]
# --- campaign service (cem_channels): cancel a campaign's pending messages, estimate its arms ---
from .experiments import global_control_share  # noqa: E402
from .messaging import cancel_source, postpone_expiry  # noqa: E402

__all__ += ["cancel_source", "postpone_expiry", "global_control_share"]
# --- campaign pages (cem_channels): suppression reasons in the reader's language, the rule builder ---
from .analytics.segments import field_catalog as segment_field_catalog  # noqa: E402
from .analytics.segments import op_labels as segment_op_labels  # noqa: E402
from .analytics.suppression import reason_labels as suppression_reason_labels  # noqa: E402

__all__ += ["suppression_reason_labels", "segment_field_catalog", "segment_op_labels"]
# --- cem_channels demo (issue 15): the daily sales report importer, products for its lines ---
from .models import Product  # noqa: E402
from .sales.importer import import_report as import_sales_report  # noqa: E402

__all__ += ["Product", "import_sales_report"]
# --- demo data only: move the services' "now" timestamps of one demo object into the past ---
from .demo.backdate import demo_backdate_history, demo_backdate_messages  # noqa: E402
from .demo.refile import demo_refile_report  # noqa: E402
from .demo.sender import demo_sender_contacts  # noqa: E402

__all__ += ["demo_backdate_history", "demo_backdate_messages", "demo_refile_report", "demo_sender_contacts"]
# --- add-on to add-on calls (prm_groups, issue 16): another add-on's declared hooks, active plugins only ---
from .plugins import hook as plugin_hook  # noqa: E402

__all__ += ["plugin_hook"]
# --- leader-voiced content previews (prm_groups content, issue 16): the From header e-mails go out with ---
from .messaging.adapters import mail_from  # noqa: E402

__all__ += ["mail_from"]
# --- programme measurement (prm_groups measurement, issue 16): a programme's experiment by its stored id ---
from .experiments.models import Experiment  # noqa: E402

__all__ += ["Experiment"]
# --- programme launch (prm_groups launch, issue 16): a channel's suppression reasons over a segment select ---
from .analytics.suppression import suppression as channel_suppression  # noqa: E402

__all__ += ["channel_suppression"]
# --- postal DM print files (demo seeds send a programme's letters; a DM add-on would print them) ---
from .messaging.dm import mark_mailed as dm_mark_mailed  # noqa: E402
from .messaging.dm import take_print_file as dm_take_print_file  # noqa: E402

__all__ += ["dm_take_print_file", "dm_mark_mailed"]
# --- files (core file store, issue 17; also the resource library's): checked uploads, safe downloads ---
from .files import (  # noqa: E402
    CheckedFile,
    StoredFile,
    UploadRefused,
    check_upload,
    delete_file,
    delete_files,
    file_response,
    store_file,
)
from .sales.reading import ReportFileError as SpreadsheetRefused  # noqa: E402
from .sales.reading import check_xlsx  # noqa: E402

__all__ += ["CheckedFile", "StoredFile", "UploadRefused", "check_upload", "delete_file", "delete_files", "file_response", "store_file",
            "SpreadsheetRefused", "check_xlsx"]
# --- knowledge_share stories (issue 17): who may decide on a waiting object (the add-on's own review notice) ---
from .workflow.notifications import deciders as workflow_deciders  # noqa: E402

__all__ += ["workflow_deciders"]
# --- branch_monitor (issue 18): the org units a user may see with a permission (a region's branches ...) ---
from .security.permissions import unit_scope  # noqa: E402

__all__ += ["unit_scope"]
# --- branch_monitor KPIs (issue 18): data-quality issues, customer scores and the audit trail, read set-based ---
from .models import QualityIssue  # noqa: E402
from .models.analytics import CustomerScore  # noqa: E402
from .models.audit import AuditEvent  # noqa: E402

__all__ += ["QualityIssue", "CustomerScore", "AuditEvent"]
# --- branch_monitor compliance (issue 18): the add-on's settings API saves like the control panel; local grants ---
from .models import LocalRole  # noqa: E402
from .plugin_settings import save_settings  # noqa: E402

__all__ += ["LocalRole", "save_settings"]
# --- branch_monitor demo (issue 18): a demo report filed after its deadline (report compliance) ---
from .demo.backdate import demo_backdate_report  # noqa: E402

__all__ += ["demo_backdate_report"]
# --- branch_monitor (issue 18): one text field's "can a database store it" check, the pager's page ---
from .api.support import storable  # noqa: E402
from .pagination import Page  # noqa: E402

__all__ += ["storable", "Page"]
