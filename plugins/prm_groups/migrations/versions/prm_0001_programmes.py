"""programmes: steps, leader-voiced content revisions, frozen results

Revision ID: prm_0001
Revises: 
"""
from alembic import op
import sqlalchemy as sa


revision = "prm_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('prm_programme',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('partner_group_id', sa.Integer(), nullable=False),
    sa.Column('partner_id', sa.Integer(), nullable=True),
    sa.Column('category_id', sa.Integer(), nullable=False),
    sa.Column('objective_metric', sa.String(length=30), nullable=False),
    sa.Column('baseline_start', sa.Date(), nullable=False),
    sa.Column('baseline_end', sa.Date(), nullable=False),
    sa.Column('run_start', sa.Date(), nullable=False),
    sa.Column('run_end', sa.Date(), nullable=False),
    sa.Column('measure_start', sa.Date(), nullable=False),
    sa.Column('measure_end', sa.Date(), nullable=False),
    sa.Column('design', sa.JSON(), nullable=False),
    sa.Column('holdout_share', sa.Float(), nullable=False),
    sa.Column('seed', sa.BigInteger(), nullable=False),
    sa.Column('budget', sa.BigInteger(), nullable=True),
    sa.Column('target_mde', sa.Float(), nullable=False),
    sa.Column('objective', sa.Text(), nullable=True),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('plan', sa.JSON(), nullable=True),
    sa.Column('experiment_id', sa.Integer(), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('approved_at', sa.DateTime(), nullable=True),
    sa.Column('started_at', sa.DateTime(), nullable=True),
    sa.Column('closed_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['category_id'], ['category.id'], name=op.f('fk_prm_programme_category_id_category')),
    sa.ForeignKeyConstraint(['created_by_id'], ['user_account.id'], name=op.f('fk_prm_programme_created_by_id_user_account'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['partner_group_id'], ['partner_group.id'], name=op.f('fk_prm_programme_partner_group_id_partner_group')),
    sa.ForeignKeyConstraint(['partner_id'], ['partner.id'], name=op.f('fk_prm_programme_partner_id_partner')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_prm_programme'))
    )
    op.create_index(op.f('ix_prm_programme_partner_group_id'), 'prm_programme', ['partner_group_id'], unique=False)
    op.create_index(op.f('ix_prm_programme_partner_id'), 'prm_programme', ['partner_id'], unique=False)
    op.create_index(op.f('ix_prm_programme_state'), 'prm_programme', ['state'], unique=False)
    op.create_table('prm_result',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('programme_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('computed_at', sa.DateTime(), nullable=False),
    sa.Column('computed_by_id', sa.Integer(), nullable=True),
    sa.Column('snapshot', sa.JSON(), nullable=False),
    sa.Column('frozen', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['computed_by_id'], ['user_account.id'], name=op.f('fk_prm_result_computed_by_id_user_account'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['programme_id'], ['prm_programme.id'], name=op.f('fk_prm_result_programme_id_prm_programme'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_prm_result'))
    )
    op.create_index('ix_prm_result_programme', 'prm_result', ['programme_id', 'computed_at'], unique=False)
    op.create_table('prm_step',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('programme_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('channels', sa.JSON(), nullable=False),
    sa.Column('rules', sa.JSON(), nullable=True),
    sa.Column('offset_days', sa.Integer(), nullable=False),
    sa.Column('completion_min', sa.Integer(), nullable=True),
    sa.Column('campaign_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['programme_id'], ['prm_programme.id'], name=op.f('fk_prm_step_programme_id_prm_programme'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_prm_step')),
    sa.UniqueConstraint('programme_id', 'position', name='uq_prm_step_position')
    )
    op.create_index(op.f('ix_prm_step_programme_id'), 'prm_step', ['programme_id'], unique=False)
    op.create_table('prm_content_revision',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('programme_id', sa.Integer(), nullable=False),
    sa.Column('step_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('content', sa.JSON(), nullable=False),
    sa.Column('signer', sa.String(length=120), nullable=False),
    sa.Column('variables', sa.JSON(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('approved_by_id', sa.Integer(), nullable=True),
    sa.Column('approved_at', sa.DateTime(), nullable=True),
    sa.Column('approval_note', sa.String(length=500), nullable=True),
    sa.ForeignKeyConstraint(['approved_by_id'], ['user_account.id'], name=op.f('fk_prm_content_revision_approved_by_id_user_account'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['created_by_id'], ['user_account.id'], name=op.f('fk_prm_content_revision_created_by_id_user_account'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['programme_id'], ['prm_programme.id'], name=op.f('fk_prm_content_revision_programme_id_prm_programme'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['step_id'], ['prm_step.id'], name=op.f('fk_prm_content_revision_step_id_prm_step'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_prm_content_revision')),
    sa.UniqueConstraint('step_id', 'number', name='uq_prm_content_revision_number')
    )
    op.create_index(op.f('ix_prm_content_revision_programme_id'), 'prm_content_revision', ['programme_id'], unique=False)
    op.create_index(op.f('ix_prm_content_revision_step_id'), 'prm_content_revision', ['step_id'], unique=False)


def downgrade():
    op.drop_table("prm_result")
    op.drop_table("prm_content_revision")
    op.drop_table("prm_step")
    op.drop_table("prm_programme")
