"""workflow: states, history and revision-bound approvals

``workflow_state`` (one row per object that has left its workflow's initial state, unless its type
keeps the state in a column of its own), ``workflow_history`` (append-only transitions) and
``workflow_approval`` (approvals bound to one revision hash; at most one open per object).
Objects are referenced as ``(object_type, object_id)``, without foreign keys into their tables.

Revision ID: 0013_workflow
Revises: 0012_messaging
Create Date: 2026-12-07 10:00:00

"""
import sqlalchemy as sa
from alembic import op

revision = '0013_workflow'
down_revision = '0012_messaging'
branch_labels = None
depends_on = None

BIGID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
OPEN = "withdrawn_at IS NULL"


def upgrade():
    op.create_table('workflow_state',
    sa.Column('id', BIGID, nullable=False),
    sa.Column('object_type', sa.String(length=60), nullable=False),
    sa.Column('object_id', sa.BigInteger(), nullable=False),
    sa.Column('workflow', sa.String(length=60), nullable=False),
    sa.Column('state', sa.String(length=40), nullable=False),
    sa.Column('revision_hash', sa.String(length=64), nullable=True),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('updated_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['updated_by_id'], ['user_account.id'], name=op.f('fk_workflow_state_updated_by_id_user_account'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_workflow_state')),
    sa.UniqueConstraint('object_type', 'object_id', name='uq_workflow_state_object')
    )
    with op.batch_alter_table('workflow_state', schema=None) as batch_op:
        batch_op.create_index('ix_workflow_state_type_state', ['object_type', 'state', 'updated_at'], unique=False)

    op.create_table('workflow_history',
    sa.Column('id', BIGID, nullable=False),
    sa.Column('object_type', sa.String(length=60), nullable=False),
    sa.Column('object_id', sa.BigInteger(), nullable=False),
    sa.Column('from_state', sa.String(length=40), nullable=True),
    sa.Column('to_state', sa.String(length=40), nullable=False),
    sa.Column('transition', sa.String(length=40), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('comment', sa.String(length=2000), server_default='', nullable=False),
    sa.Column('revision_hash', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['actor_id'], ['user_account.id'], name=op.f('fk_workflow_history_actor_id_user_account'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_workflow_history'))
    )
    with op.batch_alter_table('workflow_history', schema=None) as batch_op:
        batch_op.create_index('ix_workflow_history_object', ['object_type', 'object_id', 'id'], unique=False)

    op.create_table('workflow_approval',
    sa.Column('id', BIGID, nullable=False),
    sa.Column('object_type', sa.String(length=60), nullable=False),
    sa.Column('object_id', sa.BigInteger(), nullable=False),
    sa.Column('revision_hash', sa.String(length=64), nullable=False),
    sa.Column('approved_by_id', sa.Integer(), nullable=True),
    sa.Column('approved_at', sa.DateTime(), nullable=False),
    sa.Column('withdrawn_at', sa.DateTime(), nullable=True),
    sa.Column('withdrawn_reason', sa.String(length=40), nullable=True),
    sa.ForeignKeyConstraint(['approved_by_id'], ['user_account.id'], name=op.f('fk_workflow_approval_approved_by_id_user_account'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_workflow_approval'))
    )
    with op.batch_alter_table('workflow_approval', schema=None) as batch_op:
        batch_op.create_index('ix_workflow_approval_object', ['object_type', 'object_id'], unique=False)
        batch_op.create_index('uq_workflow_approval_open', ['object_type', 'object_id'], unique=True,
                              sqlite_where=sa.text(OPEN), postgresql_where=sa.text(OPEN))


def downgrade():
    with op.batch_alter_table('workflow_approval', schema=None) as batch_op:
        batch_op.drop_index('uq_workflow_approval_open', sqlite_where=sa.text(OPEN), postgresql_where=sa.text(OPEN))
        batch_op.drop_index('ix_workflow_approval_object')
    op.drop_table('workflow_approval')
    with op.batch_alter_table('workflow_history', schema=None) as batch_op:
        batch_op.drop_index('ix_workflow_history_object')
    op.drop_table('workflow_history')
    with op.batch_alter_table('workflow_state', schema=None) as batch_op:
        batch_op.drop_index('ix_workflow_state_type_state')
    op.drop_table('workflow_state')
