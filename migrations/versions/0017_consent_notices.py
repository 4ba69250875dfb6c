"""consent notices: the opt-in result notice kind, and an index for the notice jobs' due bands

``consent.kind`` gains ``optin_notice`` (the 14-day result notice after a marketing consent was
granted, 정보통신망법 제50조 제7항). The column is a plain ``VARCHAR(24)`` without a CHECK, so
existing rows stay valid and no data moves; the kinds are listed in
``portal.models.customer.CONSENT_KINDS``.

``ix_consent_purpose_recorded`` (purpose, recorded_at; PostgreSQL includes customer_id, channel,
granted, kind and id): the daily notice jobs read the consents recorded in a band of days (the
last 14 days, or the 30 days before each 2-year mark) as an index range — index-only on
PostgreSQL — instead of scanning the whole consent table (docs/platform/adlaw.md).

Revision ID: 0017_consent_notices
Revises: 0016_events
Create Date: 2026-12-07 11:00:00

"""
from alembic import op

revision = '0017_consent_notices'
down_revision = '0016_events'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('ix_consent_purpose_recorded', 'consent', ['purpose', 'recorded_at'], unique=False,
                    postgresql_include=['customer_id', 'channel', 'granted', 'kind', 'id'])


def downgrade():
    op.drop_index('ix_consent_purpose_recorded', table_name='consent')
