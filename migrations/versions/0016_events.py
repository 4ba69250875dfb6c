"""events: failed add-on reactions kept for retry

One row per add-on whose reaction to an event raised (``portal.events.fire``); the
``events.retry`` job re-runs it with back-off until it succeeds.

Revision ID: 0016_events
Revises: 0015_experiments
Create Date: 2026-12-07 10:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0016_events'
down_revision = '0015_experiments'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'event_failure',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('hook', sa.String(length=80), nullable=False),
        sa.Column('plugin', sa.String(length=80), nullable=False),
        sa.Column('args', sa.JSON(), nullable=False),
        sa.Column('error', sa.Text(), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('next_try_at', sa.DateTime(), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('resolved_at', sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_event_failure')),
    )
    op.create_index('ix_event_failure_due', 'event_failure', ['resolved_at', 'next_try_at'], unique=False)


def downgrade():
    op.drop_index('ix_event_failure_due', table_name='event_failure')
    op.drop_table('event_failure')
