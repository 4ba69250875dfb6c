"""experiments: assignments, global control group, frozen results

- ``experiment`` (one per owner object, UNIQUE (owner_plugin, owner_ref)) with its seed, holdout
  share, strata and the arm counts of its single draw;
- ``experiment_assignment`` (PK experiment_id, customer_id; ``customer_id`` is no foreign key so a
  merged-away customer's row stays, marked ``merged``), indexed by customer for the send-time policy;
- ``experiment_source``: the (source, source_object) of the messages that belong to an experiment;
- ``global_control``: the stable company-wide control group;
- ``experiment_result``: frozen result snapshots, one per (experiment, metric, window, category);
- ``ix_sale_line_customer_cover`` on ``sale_line`` (customer_id, sold_at, category_id, amount): the
  outcome aggregate reads a window's lines in customer order from this index alone.

Revision ID: 0015_experiments
Revises: 0014_notifications
Create Date: 2026-12-07 10:00:00

"""
import sqlalchemy as sa
from alembic import op

revision = '0015_experiments'
down_revision = '0014_notifications'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('experiment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('owner_plugin', sa.String(length=60), nullable=False),
    sa.Column('owner_ref', sa.String(length=120), nullable=False),
    sa.Column('seed', sa.BigInteger(), nullable=False),
    sa.Column('holdout_share', sa.Float(), nullable=False),
    sa.Column('strata', sa.JSON(), nullable=False),
    sa.Column('use_global_control', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('drawn_at', sa.DateTime(), nullable=True),
    sa.Column('frozen_at', sa.DateTime(), nullable=True),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('drawn_counts', sa.JSON(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_experiment')),
    sa.UniqueConstraint('owner_plugin', 'owner_ref', name='uq_experiment_owner')
    )
    op.create_table('experiment_assignment',
    sa.Column('experiment_id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('arm', sa.String(length=12), nullable=False),
    sa.Column('stratum', sa.String(length=200), nullable=False),
    sa.Column('merged', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.ForeignKeyConstraint(['experiment_id'], ['experiment.id'], name=op.f('fk_experiment_assignment_experiment_id_experiment'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('experiment_id', 'customer_id', name=op.f('pk_experiment_assignment'))
    )
    with op.batch_alter_table('experiment_assignment', schema=None) as batch_op:
        batch_op.create_index('ix_experiment_assignment_customer', ['customer_id', 'experiment_id'], unique=False)

    op.create_table('experiment_source',
    sa.Column('source', sa.String(length=60), nullable=False),
    sa.Column('source_object', sa.String(length=120), nullable=False),
    sa.Column('experiment_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['experiment_id'], ['experiment.id'], name=op.f('fk_experiment_source_experiment_id_experiment'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('source', 'source_object', 'experiment_id', name=op.f('pk_experiment_source'))
    )
    with op.batch_alter_table('experiment_source', schema=None) as batch_op:
        batch_op.create_index('ix_experiment_source_experiment', ['experiment_id'], unique=False)

    op.create_table('global_control',
    sa.Column('customer_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('bucket', sa.Integer(), nullable=False),
    sa.Column('assigned_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customer.id'], name=op.f('fk_global_control_customer_id_customer'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('customer_id', name=op.f('pk_global_control'))
    )
    op.create_table('experiment_result',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('experiment_id', sa.Integer(), nullable=False),
    sa.Column('metric', sa.String(length=40), nullable=False),
    sa.Column('window', sa.String(length=30), nullable=False),
    sa.Column('category', sa.String(length=20), nullable=False),
    sa.Column('computed_at', sa.DateTime(), nullable=False),
    sa.Column('snapshot', sa.JSON(), nullable=False),
    sa.Column('frozen', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['experiment_id'], ['experiment.id'], name=op.f('fk_experiment_result_experiment_id_experiment'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_experiment_result')),
    sa.UniqueConstraint('experiment_id', 'metric', 'window', 'category', name='uq_experiment_result_key')
    )
    op.create_index('ix_sale_line_customer_cover', 'sale_line', ['customer_id', 'sold_at', 'category_id', 'amount'],
                    unique=False)


def downgrade():
    op.drop_index('ix_sale_line_customer_cover', table_name='sale_line')
    op.drop_table('experiment_result')
    op.drop_table('global_control')
    with op.batch_alter_table('experiment_source', schema=None) as batch_op:
        batch_op.drop_index('ix_experiment_source_experiment')
    op.drop_table('experiment_source')
    with op.batch_alter_table('experiment_assignment', schema=None) as batch_op:
        batch_op.drop_index('ix_experiment_assignment_customer')
    op.drop_table('experiment_assignment')
    op.drop_table('experiment')
