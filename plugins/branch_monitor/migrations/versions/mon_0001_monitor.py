"""branch_monitor: calendars and overrides, day/month aggregates, report spans, KPIs, RFM
snapshots, complaint dates, states, alerts, subscriptions, runs

Revision ID: mon_0001
Revises: 
"""
from alembic import op
import sqlalchemy as sa


revision = "mon_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('mon_run',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('started_at', sa.DateTime(), nullable=False),
    sa.Column('finished_at', sa.DateTime(), nullable=True),
    sa.Column('rows', sa.BigInteger(), nullable=False),
    sa.Column('detail', sa.JSON(), nullable=True),
    sa.Column('message', sa.String(length=500), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mon_run'))
    )
    op.create_index('ix_mon_run_kind', 'mon_run', ['kind', 'started_at'], unique=False)
    op.create_table('mon_branch_day',
    sa.Column('branch_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('sales', sa.BigInteger(), nullable=False),
    sa.Column('lines', sa.Integer(), nullable=False),
    sa.Column('customers', sa.Integer(), nullable=False),
    sa.Column('new_customers', sa.Integer(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['branch_id'], ['org_unit.id'], name=op.f('fk_mon_branch_day_branch_id_org_unit'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('branch_id', 'day', name=op.f('pk_mon_branch_day'))
    )
    op.create_index('ix_mon_branch_day_day', 'mon_branch_day', ['day', 'branch_id'], unique=False)
    op.create_table('mon_branch_month',
    sa.Column('branch_id', sa.Integer(), nullable=False),
    sa.Column('month', sa.Date(), nullable=False),
    sa.Column('sales', sa.BigInteger(), nullable=False),
    sa.Column('lines', sa.Integer(), nullable=False),
    sa.Column('customers', sa.Integer(), nullable=False),
    sa.Column('new_customers', sa.Integer(), nullable=False),
    sa.Column('sale_days', sa.Integer(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['branch_id'], ['org_unit.id'], name=op.f('fk_mon_branch_month_branch_id_org_unit'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('branch_id', 'month', name=op.f('pk_mon_branch_month'))
    )
    op.create_index('ix_mon_branch_month_month', 'mon_branch_month', ['month', 'branch_id'], unique=False)
    op.create_table('mon_kpi',
    sa.Column('branch_id', sa.Integer(), nullable=False),
    sa.Column('month', sa.Date(), nullable=False),
    sa.Column('metric', sa.String(length=40), nullable=False),
    sa.Column('numerator', sa.Float(), nullable=True),
    sa.Column('denominator', sa.BigInteger(), nullable=True),
    sa.Column('value', sa.Float(), nullable=True),
    sa.Column('detail', sa.JSON(), nullable=True),
    sa.Column('computed_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['branch_id'], ['org_unit.id'], name=op.f('fk_mon_kpi_branch_id_org_unit'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('branch_id', 'month', 'metric', name=op.f('pk_mon_kpi'))
    )
    op.create_index('ix_mon_kpi_month_metric', 'mon_kpi', ['month', 'metric', 'branch_id'], unique=False)
    op.create_table('mon_state',
    sa.Column('branch_id', sa.Integer(), nullable=False),
    sa.Column('metric', sa.String(length=40), nullable=False),
    sa.Column('state', sa.String(length=12), nullable=False),
    sa.Column('since', sa.Date(), nullable=False),
    sa.Column('evaluated_on', sa.Date(), nullable=False),
    sa.Column('value', sa.Float(), nullable=True),
    sa.Column('detail', sa.JSON(), nullable=True),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['branch_id'], ['org_unit.id'], name=op.f('fk_mon_state_branch_id_org_unit'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('branch_id', 'metric', name=op.f('pk_mon_state'))
    )
    op.create_table('mon_alert',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('branch_id', sa.Integer(), nullable=False),
    sa.Column('metric', sa.String(length=40), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('from_state', sa.String(length=12), nullable=False),
    sa.Column('to_state', sa.String(length=12), nullable=False),
    sa.Column('value', sa.Float(), nullable=True),
    sa.Column('detail', sa.JSON(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('ack_by_id', sa.Integer(), nullable=True),
    sa.Column('ack_at', sa.DateTime(), nullable=True),
    sa.Column('ack_note', sa.String(length=500), nullable=True),
    sa.ForeignKeyConstraint(['ack_by_id'], ['user_account.id'], name=op.f('fk_mon_alert_ack_by_id_user_account'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['branch_id'], ['org_unit.id'], name=op.f('fk_mon_alert_branch_id_org_unit'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mon_alert'))
    )
    op.create_index('ix_mon_alert_branch', 'mon_alert', ['branch_id', 'created_at'], unique=False)
    op.create_index('ix_mon_alert_open', 'mon_alert', ['ack_at', 'created_at'], unique=False)
    op.create_table('mon_branch',
    sa.Column('branch_id', sa.Integer(), nullable=False),
    sa.Column('open_weekdays', sa.Integer(), server_default='63', nullable=False),
    sa.Column('holiday_policy', sa.String(length=16), server_default='closed', nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('updated_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['branch_id'], ['org_unit.id'], name=op.f('fk_mon_branch_branch_id_org_unit'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['updated_by_id'], ['user_account.id'], name=op.f('fk_mon_branch_updated_by_id_user_account'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('branch_id', name=op.f('pk_mon_branch'))
    )
    op.create_table('mon_calendar_override',
    sa.Column('branch_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('is_open', sa.Boolean(), nullable=False),
    sa.Column('note', sa.String(length=200), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['branch_id'], ['org_unit.id'], name=op.f('fk_mon_calendar_override_branch_id_org_unit'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['created_by_id'], ['user_account.id'], name=op.f('fk_mon_calendar_override_created_by_id_user_account'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('branch_id', 'day', name=op.f('pk_mon_calendar_override'))
    )
    op.create_table('mon_complaint',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('branch_id', sa.Integer(), nullable=True),
    sa.Column('opened_at', sa.DateTime(), nullable=False),
    sa.Column('closed_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['branch_id'], ['org_unit.id'], name=op.f('fk_mon_complaint_branch_id_org_unit'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['customer_id'], ['customer.id'], name=op.f('fk_mon_complaint_customer_id_customer'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mon_complaint'))
    )
    op.create_index(op.f('ix_mon_complaint_customer_id'), 'mon_complaint', ['customer_id'], unique=False)
    op.create_index('ix_mon_complaint_open', 'mon_complaint', ['branch_id', 'closed_at', 'opened_at'], unique=False)
    op.create_table('mon_rfm_snapshot',
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('branch_id', sa.Integer(), nullable=True),
    sa.Column('month', sa.Date(), nullable=False),
    sa.Column('segment', sa.String(length=30), nullable=True),
    sa.Column('prev_month', sa.Date(), nullable=True),
    sa.Column('prev_segment', sa.String(length=30), nullable=True),
    sa.ForeignKeyConstraint(['branch_id'], ['org_unit.id'], name=op.f('fk_mon_rfm_snapshot_branch_id_org_unit'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['customer_id'], ['customer.id'], name=op.f('fk_mon_rfm_snapshot_customer_id_customer'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('customer_id', name=op.f('pk_mon_rfm_snapshot'))
    )
    op.create_index('ix_mon_rfm_snapshot_branch', 'mon_rfm_snapshot', ['branch_id', 'month'], unique=False)
    op.create_table('mon_subscription',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('org_unit_id', sa.Integer(), nullable=True),
    sa.Column('metric', sa.String(length=40), nullable=True),
    sa.Column('immediate', sa.Boolean(), nullable=False),
    sa.Column('digest', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['org_unit_id'], ['org_unit.id'], name=op.f('fk_mon_subscription_org_unit_id_org_unit'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_mon_subscription_user_id_user_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mon_subscription'))
    )
    op.create_index('uq_mon_subscription', 'mon_subscription', ['user_id', 'org_unit_id', 'metric'], unique=True)
    op.create_table('mon_report_span',
    sa.Column('report_id', sa.Integer(), nullable=False),
    sa.Column('branch_id', sa.Integer(), nullable=False),
    sa.Column('first_day', sa.Date(), nullable=False),
    sa.Column('last_day', sa.Date(), nullable=False),
    sa.ForeignKeyConstraint(['branch_id'], ['org_unit.id'], name=op.f('fk_mon_report_span_branch_id_org_unit'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['report_id'], ['sales_report.id'], name=op.f('fk_mon_report_span_report_id_sales_report'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('report_id', name=op.f('pk_mon_report_span'))
    )
    op.create_index(op.f('ix_mon_report_span_branch_id'), 'mon_report_span', ['branch_id'], unique=False)


def downgrade():
    op.drop_index(op.f('ix_mon_report_span_branch_id'), table_name='mon_report_span')
    op.drop_table('mon_report_span')
    op.drop_index('uq_mon_subscription', table_name='mon_subscription')
    op.drop_table('mon_subscription')
    op.drop_index('ix_mon_rfm_snapshot_branch', table_name='mon_rfm_snapshot')
    op.drop_table('mon_rfm_snapshot')
    op.drop_index('ix_mon_complaint_open', table_name='mon_complaint')
    op.drop_index(op.f('ix_mon_complaint_customer_id'), table_name='mon_complaint')
    op.drop_table('mon_complaint')
    op.drop_table('mon_calendar_override')
    op.drop_table('mon_branch')
    op.drop_index('ix_mon_alert_open', table_name='mon_alert')
    op.drop_index('ix_mon_alert_branch', table_name='mon_alert')
    op.drop_table('mon_alert')
    op.drop_table('mon_state')
    op.drop_index('ix_mon_kpi_month_metric', table_name='mon_kpi')
    op.drop_table('mon_kpi')
    op.drop_index('ix_mon_branch_month_month', table_name='mon_branch_month')
    op.drop_table('mon_branch_month')
    op.drop_index('ix_mon_branch_day_day', table_name='mon_branch_day')
    op.drop_table('mon_branch_day')
    op.drop_index('ix_mon_run_kind', table_name='mon_run')
    op.drop_table('mon_run')
