"""seminars: sessions, invitations with registration tokens, registrations with check-in and attendance

Revision ID: prm_0002
Revises: prm_0001
"""
from alembic import op
import sqlalchemy as sa


revision = "prm_0002"
down_revision = "prm_0001"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('prm_invitation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('programme_id', sa.Integer(), nullable=False),
    sa.Column('step_id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=True),
    sa.Column('partner_invitee_id', sa.Integer(), nullable=True),
    sa.Column('partner_id', sa.Integer(), nullable=True),
    sa.Column('token', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('invited_at', sa.DateTime(), nullable=False),
    sa.Column('responded_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['partner_id'], ['partner.id'], name=op.f('fk_prm_invitation_partner_id_partner')),
    sa.ForeignKeyConstraint(['partner_invitee_id'], ['partner.id'], name=op.f('fk_prm_invitation_partner_invitee_id_partner')),
    sa.ForeignKeyConstraint(['programme_id'], ['prm_programme.id'], name=op.f('fk_prm_invitation_programme_id_prm_programme'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['step_id'], ['prm_step.id'], name=op.f('fk_prm_invitation_step_id_prm_step'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_prm_invitation')),
    sa.UniqueConstraint('step_id', 'customer_id', name='uq_prm_invitation_customer'),
    sa.UniqueConstraint('step_id', 'partner_invitee_id', name='uq_prm_invitation_partner'),
    sa.UniqueConstraint('token', name=op.f('uq_prm_invitation_token'))
    )
    op.create_index(op.f('ix_prm_invitation_customer_id'), 'prm_invitation', ['customer_id'], unique=False)
    op.create_index(op.f('ix_prm_invitation_partner_id'), 'prm_invitation', ['partner_id'], unique=False)
    op.create_index(op.f('ix_prm_invitation_programme_id'), 'prm_invitation', ['programme_id'], unique=False)
    op.create_table('prm_session',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('programme_id', sa.Integer(), nullable=False),
    sa.Column('step_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('starts_at', sa.DateTime(), nullable=False),
    sa.Column('ends_at', sa.DateTime(), nullable=False),
    sa.Column('venue_branch_id', sa.Integer(), nullable=True),
    sa.Column('address', sa.String(length=255), nullable=True),
    sa.Column('online_url', sa.String(length=500), nullable=True),
    sa.Column('capacity', sa.Integer(), nullable=True),
    sa.Column('registration_deadline', sa.DateTime(), nullable=True),
    sa.Column('cancelled_at', sa.DateTime(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['programme_id'], ['prm_programme.id'], name=op.f('fk_prm_session_programme_id_prm_programme'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['step_id'], ['prm_step.id'], name=op.f('fk_prm_session_step_id_prm_step'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['venue_branch_id'], ['org_unit.id'], name=op.f('fk_prm_session_venue_branch_id_org_unit')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_prm_session'))
    )
    op.create_index(op.f('ix_prm_session_programme_id'), 'prm_session', ['programme_id'], unique=False)
    op.create_index(op.f('ix_prm_session_step_id'), 'prm_session', ['step_id'], unique=False)
    op.create_table('prm_registration',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=False),
    sa.Column('invitation_id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('waitlist_position', sa.Integer(), nullable=True),
    sa.Column('offered_at', sa.DateTime(), nullable=True),
    sa.Column('offer_expires_at', sa.DateTime(), nullable=True),
    sa.Column('attendance', sa.String(length=12), nullable=False),
    sa.Column('checkin_token', sa.String(length=64), nullable=False),
    sa.Column('checked_in_at', sa.DateTime(), nullable=True),
    sa.Column('marked_by_id', sa.Integer(), nullable=True),
    sa.Column('marked_at', sa.DateTime(), nullable=True),
    sa.Column('mark_reason', sa.String(length=500), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['invitation_id'], ['prm_invitation.id'], name=op.f('fk_prm_registration_invitation_id_prm_invitation'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['marked_by_id'], ['user_account.id'], name=op.f('fk_prm_registration_marked_by_id_user_account'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['session_id'], ['prm_session.id'], name=op.f('fk_prm_registration_session_id_prm_session'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_prm_registration')),
    sa.UniqueConstraint('checkin_token', name=op.f('uq_prm_registration_checkin_token')),
    sa.UniqueConstraint('session_id', 'invitation_id', name='uq_prm_registration_invitation')
    )
    op.create_index(op.f('ix_prm_registration_customer_id'), 'prm_registration', ['customer_id'], unique=False)
    op.create_index(op.f('ix_prm_registration_invitation_id'), 'prm_registration', ['invitation_id'], unique=False)
    op.create_index(op.f('ix_prm_registration_session_id'), 'prm_registration', ['session_id'], unique=False)
    op.create_index('ix_prm_registration_waitlist', 'prm_registration', ['session_id', 'status', 'waitlist_position'], unique=False)


def downgrade():
    op.drop_table("prm_registration")
    op.drop_table("prm_invitation")
    op.drop_table("prm_session")
