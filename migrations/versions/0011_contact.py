"""consent and contact: contact history, consent event kinds, channel registry

``contact``: one row per contact with a customer (message sent, call, mailing, list used), which
``recently_contacted`` counts and the customer's contact-history tab shows.

``consent.kind`` (``consent`` | ``reconfirmation_notice`` | ``optout_notice``; existing rows are
consent events) and ``consent.source`` (who wrote it: ``staff``, ``api``, ``import``,
``unsubscribe_link`` … ; NULL for rows written before this revision).

Backfill: every member of a *used* target list becomes a marketing contact on the list's channel at
its ``used_at`` (one ``INSERT … SELECT``), so the cool-down is exactly what it was before the rule
moved from ``extraction_member`` to ``contact``.

Revision ID: 0011_contact
Revises: 0010_jobs
Create Date: 2026-12-07 10:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0011_contact'
down_revision = '0010_jobs'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'contact',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('customer_id', sa.Integer(), nullable=False),
        sa.Column('channel', sa.String(length=10), nullable=False),
        sa.Column('purpose', sa.String(length=20), nullable=False),
        sa.Column('at', sa.DateTime(), nullable=False),
        sa.Column('actor_id', sa.Integer(), nullable=True),
        sa.Column('source', sa.String(length=40), nullable=False),
        sa.Column('ref', sa.String(length=80), nullable=True),
        sa.Column('outcome', sa.String(length=40), nullable=True),
        sa.Column('note', sa.String(length=255), nullable=True),
        sa.ForeignKeyConstraint(['actor_id'], ['user_account.id'], name=op.f('fk_contact_actor_id_user_account'),
                                ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['customer_id'], ['customer.id'], name=op.f('fk_contact_customer_id_customer'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_contact')),
    )
    op.create_index('ix_contact_customer_at', 'contact', ['customer_id', 'at'], unique=False)
    op.create_index('ix_contact_channel_at', 'contact', ['channel', 'at', 'customer_id'], unique=False,
                    postgresql_include=['purpose'])
    op.add_column('consent', sa.Column('kind', sa.String(length=24), server_default='consent', nullable=False))
    op.add_column('consent', sa.Column('source', sa.String(length=40), nullable=True))

    # Used lists were the contact history until now: keep every member's cool-down (see the docstring).
    op.execute("""
        INSERT INTO contact (customer_id, channel, purpose, at, actor_id, source, ref)
        SELECT m.customer_id, e.channel, 'marketing', e.used_at, e.used_by_id, 'extraction',
               'extraction:' || CAST(e.id AS VARCHAR(20))
        FROM extraction_member m JOIN extraction e ON e.id = m.extraction_id
        WHERE e.used_at IS NOT NULL
    """)


def downgrade():
    with op.batch_alter_table('consent', schema=None) as batch_op:
        batch_op.drop_column('source')
        batch_op.drop_column('kind')
    op.drop_index('ix_contact_channel_at', table_name='contact')
    op.drop_index('ix_contact_customer_at', table_name='contact')
    op.drop_table('contact')
