"""one voice: message sets, renditions and banned terms

Revision ID: cem_0002
Revises: cem_0001
"""
import sqlalchemy as sa
from alembic import op

revision = "cem_0002"
down_revision = 'cem_0001'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('cem_message_set',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('category', sa.String(length=100), nullable=True),
    sa.Column('master', sa.JSON(), nullable=False),
    sa.Column('org_unit_id', sa.Integer(), nullable=True),
    sa.Column('partner_group_id', sa.Integer(), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('revision', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['user_account.id'], name=op.f('fk_cem_message_set_created_by_id_user_account'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['org_unit_id'], ['org_unit.id'], name=op.f('fk_cem_message_set_org_unit_id_org_unit'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['partner_group_id'], ['partner_group.id'], name=op.f('fk_cem_message_set_partner_group_id_partner_group'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cem_message_set'))
    )
    with op.batch_alter_table('cem_message_set', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_cem_message_set_category'), ['category'], unique=False)
        batch_op.create_index(batch_op.f('ix_cem_message_set_org_unit_id'), ['org_unit_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_cem_message_set_partner_group_id'), ['partner_group_id'], unique=False)

    op.create_table('cem_rendition',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('message_set_id', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=10), nullable=False),
    sa.Column('subject', sa.String(length=500), nullable=True),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('html', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['message_set_id'], ['cem_message_set.id'], name=op.f('fk_cem_rendition_message_set_id_cem_message_set'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cem_rendition')),
    sa.UniqueConstraint('message_set_id', 'channel', name='uq_cem_rendition_set_channel')
    )
    op.create_table('cem_banned_term',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('category', sa.String(length=100), nullable=False),
    sa.Column('term', sa.String(length=100), nullable=False),
    sa.Column('note', sa.String(length=300), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cem_banned_term')),
    sa.UniqueConstraint('category', 'term', name='uq_cem_banned_term_category_term')
    )
    with op.batch_alter_table('cem_banned_term', schema=None) as batch_op:
        batch_op.create_index('ix_cem_banned_term_category', ['category'], unique=False)


def downgrade():
    op.drop_table('cem_banned_term')
    op.drop_table('cem_rendition')
    op.drop_table('cem_message_set')
