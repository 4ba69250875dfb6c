"""analytics: customer scores, runs, segments, extractions

- ``customer_score``: one row per customer (RFM, P(alive), expected purchases and value), bulk
  replaced by ``portal analytics refresh``; indexed for segment rules on segment, value, P(alive).
- ``analytics_run``: each refresh with its as-of day, fitted parameters and outcome.
- ``segment``: saved rule sets; ``extraction`` / ``extraction_member``: frozen target lists per
  channel, which are also the contact history behind the ``recently_contacted`` suppression.
- ``consent``: ``ix_consent_channel_latest`` (channel, purpose, customer, recorded_at, id; includes
  granted) for the suppression's "current consent per customer" over a whole channel.

Revision ID: 0005_analytics
Revises: 0004_quality_indexes
Create Date: 2026-11-22 12:40:18.795604

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0005_analytics'
down_revision = '0004_quality_indexes'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('analytics_run',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('as_of', sa.Date(), nullable=False),
    sa.Column('horizon_weeks', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('customers', sa.Integer(), nullable=False),
    sa.Column('params', sa.JSON(), nullable=True),
    sa.Column('message', sa.String(length=500), nullable=True),
    sa.Column('started_at', sa.DateTime(), nullable=False),
    sa.Column('finished_at', sa.DateTime(), nullable=True),
    sa.Column('started_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['started_by_id'], ['user_account.id'], name=op.f('fk_analytics_run_started_by_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_analytics_run'))
    )
    op.create_table('customer_score',
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('as_of', sa.Date(), nullable=False),
    sa.Column('recency_days', sa.Integer(), nullable=True),
    sa.Column('frequency', sa.Integer(), nullable=False),
    sa.Column('monetary', sa.Integer(), nullable=False),
    sa.Column('r_score', sa.Integer(), nullable=True),
    sa.Column('f_score', sa.Integer(), nullable=True),
    sa.Column('m_score', sa.Integer(), nullable=True),
    sa.Column('rfm_segment', sa.String(length=30), nullable=True),
    sa.Column('p_alive', sa.Double(), nullable=True),
    sa.Column('expected_purchases', sa.Double(), nullable=True),
    sa.Column('expected_value', sa.Double(), nullable=True),
    sa.Column('computed_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customer.id'], name=op.f('fk_customer_score_customer_id_customer'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('customer_id', name=op.f('pk_customer_score'))
    )
    with op.batch_alter_table('customer_score', schema=None) as batch_op:
        batch_op.create_index('ix_customer_score_alive', ['p_alive'], unique=False)
        batch_op.create_index('ix_customer_score_segment', ['rfm_segment'], unique=False)
        batch_op.create_index('ix_customer_score_value', ['expected_value'], unique=False)

    op.create_table('segment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('description', sa.String(length=500), nullable=True),
    sa.Column('rules', sa.JSON(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['user_account.id'], name=op.f('fk_segment_created_by_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_segment'))
    )
    with op.batch_alter_table('segment', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_segment_created_by_id'), ['created_by_id'], unique=False)

    op.create_table('extraction',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('channel', sa.String(length=10), nullable=False),
    sa.Column('rules', sa.JSON(), nullable=False),
    sa.Column('segment_id', sa.Integer(), nullable=True),
    sa.Column('included', sa.Integer(), nullable=False),
    sa.Column('excluded', sa.JSON(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['user_account.id'], name=op.f('fk_extraction_created_by_id_user_account')),
    sa.ForeignKeyConstraint(['segment_id'], ['segment.id'], name=op.f('fk_extraction_segment_id_segment'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_extraction'))
    )
    with op.batch_alter_table('extraction', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_extraction_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_extraction_created_by_id'), ['created_by_id'], unique=False)

    op.create_table('extraction_member',
    sa.Column('extraction_id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customer.id'], name=op.f('fk_extraction_member_customer_id_customer'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['extraction_id'], ['extraction.id'], name=op.f('fk_extraction_member_extraction_id_extraction'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('extraction_id', 'customer_id', name=op.f('pk_extraction_member'))
    )
    with op.batch_alter_table('extraction_member', schema=None) as batch_op:
        batch_op.create_index('ix_extraction_member_customer', ['customer_id', 'extraction_id'], unique=False)

    # Suppression: each customer's newest consent record on a channel, index-only (``granted`` included).
    with op.batch_alter_table('consent', schema=None) as batch_op:
        batch_op.create_index('ix_consent_channel_latest', ['channel', 'purpose', 'customer_id', 'recorded_at', 'id'],
                              unique=False, postgresql_include=['granted'])



def downgrade():
    with op.batch_alter_table('consent', schema=None) as batch_op:
        batch_op.drop_index('ix_consent_channel_latest')

    with op.batch_alter_table('extraction_member', schema=None) as batch_op:
        batch_op.drop_index('ix_extraction_member_customer')

    op.drop_table('extraction_member')
    with op.batch_alter_table('extraction', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_extraction_created_by_id'))
        batch_op.drop_index(batch_op.f('ix_extraction_created_at'))

    op.drop_table('extraction')
    with op.batch_alter_table('segment', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_segment_created_by_id'))

    op.drop_table('segment')
    with op.batch_alter_table('customer_score', schema=None) as batch_op:
        batch_op.drop_index('ix_customer_score_value')
        batch_op.drop_index('ix_customer_score_segment')
        batch_op.drop_index('ix_customer_score_alive')

    op.drop_table('customer_score')
    op.drop_table('analytics_run')
