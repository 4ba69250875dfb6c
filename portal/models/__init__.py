"""Core data model, one module per aggregate."""

from .analytics import (
    EXTRACTION_CHANNELS,
    EXTRACTION_STATUSES,
    AnalyticsRun,
    CustomerScore,
    Extraction,
    ExtractionMember,
    Segment,
)
from .audit import AccessLog, AuditEvent
from .base import utcnow
from .customer import (
    CHANNELS,
    CONSENT_METHODS,
    PURPOSES,
    QUALITY_FIELDS,
    Consent,
    Customer,
    CustomerAlias,
    CustomerNameSuffix,
    Household,
    QualityIssue,
)
from .org import ORG_KINDS, PARTNER_LEVELS, OrgUnit, Partner, PartnerGroup
from .sales import (
    IMPORT_MODES,
    REPORT_STATUSES,
    Category,
    Product,
    SaleLine,
    SalesReport,
    SalesReportRejection,
)
from .system import PluginState, SecurityEpoch
from .user import ApiToken, LocalRole, LoginFailure, PasswordResetToken, User, UserRole, UserSession

__all__ = [
    "EXTRACTION_CHANNELS", "EXTRACTION_STATUSES", "AnalyticsRun", "CustomerScore", "Extraction", "ExtractionMember", "Segment",
    "AccessLog", "ApiToken", "AuditEvent", "CHANNELS", "CONSENT_METHODS", "Category", "Consent", "Customer", "CustomerAlias", "CustomerNameSuffix", "IMPORT_MODES", "REPORT_STATUSES",
    "Household", "LocalRole", "LoginFailure", "ORG_KINDS", "OrgUnit", "PARTNER_LEVELS",
    "PURPOSES", "Partner", "PartnerGroup", "PasswordResetToken", "PluginState", "SecurityEpoch", "Product", "QUALITY_FIELDS",
    "QualityIssue", "SaleLine", "SalesReport", "SalesReportRejection", "User", "UserRole", "UserSession", "utcnow",
]
