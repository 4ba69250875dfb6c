"""notifications: in-app inbox, preferences, de-duplication

``notification``: one row per recipient; UNIQUE (user_id, dedupe_key) makes a reminder go out
once; ix_notification_unread (user_id, read_at, id) serves the header badge and the unread page.
``notification_preference``: per user and kind, inbox / email / digest (no row = the kind's default).

Revision ID: 0014_notifications
Revises: 0013_workflow
Create Date: 2026-12-07 10:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0014_notifications'
down_revision = '0013_workflow'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'notification',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=80), nullable=False),
        sa.Column('object_type', sa.String(length=60), nullable=True),
        sa.Column('object_id', sa.BigInteger(), nullable=True),
        sa.Column('title', sa.String(length=200), nullable=False),
        sa.Column('text', sa.String(length=2000), nullable=False),
        sa.Column('url', sa.String(length=500), nullable=True),
        sa.Column('dedupe_key', sa.String(length=200), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('read_at', sa.DateTime(), nullable=True),
        sa.Column('emailed_at', sa.DateTime(), nullable=True),
        sa.Column('digest_at', sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_notification_user_id_user_account'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_notification')),
        sa.UniqueConstraint('user_id', 'dedupe_key', name=op.f('uq_notification_user_id_dedupe_key')),
    )
    with op.batch_alter_table('notification', schema=None) as batch_op:
        batch_op.create_index('ix_notification_unread', ['user_id', 'read_at', 'id'], unique=False)
        batch_op.create_index('ix_notification_user', ['user_id', 'id'], unique=False)
        batch_op.create_index('ix_notification_object', ['object_type', 'object_id'], unique=False)

    op.create_table(
        'notification_preference',
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=80), nullable=False),
        sa.Column('channel', sa.String(length=10), nullable=False),
        sa.CheckConstraint("channel IN ('inbox', 'email', 'digest')", name=op.f('ck_notification_preference_channel')),
        sa.ForeignKeyConstraint(['user_id'], ['user_account.id'],
                                name=op.f('fk_notification_preference_user_id_user_account'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('user_id', 'kind', name=op.f('pk_notification_preference')),
    )


def downgrade():
    op.drop_table('notification_preference')
    with op.batch_alter_table('notification', schema=None) as batch_op:
        batch_op.drop_index('ix_notification_object')
        batch_op.drop_index('ix_notification_user')
        batch_op.drop_index('ix_notification_unread')
    op.drop_table('notification')
