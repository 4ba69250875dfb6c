"""knowledge_share: stories, attachments, search documents, comments, votes, follows, sessions,
agenda, invitees, action items, reuses

Revision ID: ks_0001
Revises: 
"""
from alembic import op
import sqlalchemy as sa


revision = "ks_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('ks_follow',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('value', sa.String(length=60), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('digested_until', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_ks_follow_user_id_user_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ks_follow')),
    sa.UniqueConstraint('user_id', 'kind', 'value', name='uq_ks_follow')
    )
    op.create_index('ix_ks_follow_tag', 'ks_follow', ['kind', 'value'], unique=False)
    op.create_table('ks_session',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('starts_at', sa.DateTime(), nullable=False),
    sa.Column('ends_at', sa.DateTime(), nullable=False),
    sa.Column('place', sa.String(length=200), nullable=True),
    sa.Column('online_url', sa.String(length=500), nullable=True),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('host_id', sa.Integer(), nullable=True),
    sa.Column('org_unit_id', sa.Integer(), nullable=True),
    sa.Column('invite_rule', sa.JSON(), nullable=True),
    sa.Column('minutes', sa.Text(), nullable=False),
    sa.Column('cancelled', sa.Boolean(), nullable=False),
    sa.Column('uid', sa.String(length=80), nullable=False),
    sa.Column('sequence', sa.Integer(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['user_account.id'], name=op.f('fk_ks_session_created_by_id_user_account'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['host_id'], ['user_account.id'], name=op.f('fk_ks_session_host_id_user_account'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['org_unit_id'], ['org_unit.id'], name=op.f('fk_ks_session_org_unit_id_org_unit')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ks_session')),
    sa.UniqueConstraint('uid', name=op.f('uq_ks_session_uid'))
    )
    op.create_index(op.f('ix_ks_session_org_unit_id'), 'ks_session', ['org_unit_id'], unique=False)
    op.create_index(op.f('ix_ks_session_starts_at'), 'ks_session', ['starts_at'], unique=False)
    op.create_table('ks_story',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('base_id', sa.Integer(), nullable=True),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('problem', sa.Text(), nullable=False),
    sa.Column('audience', sa.Text(), nullable=False),
    sa.Column('audience_rules', sa.JSON(), nullable=True),
    sa.Column('channels', sa.JSON(), nullable=False),
    sa.Column('offer', sa.Text(), nullable=False),
    sa.Column('timeline', sa.Text(), nullable=False),
    sa.Column('steps', sa.Text(), nullable=False),
    sa.Column('result_text', sa.Text(), nullable=False),
    sa.Column('lessons', sa.Text(), nullable=False),
    sa.Column('category_id', sa.Integer(), nullable=True),
    sa.Column('rfm_segment', sa.String(length=40), nullable=True),
    sa.Column('season', sa.String(length=20), nullable=True),
    sa.Column('keywords', sa.JSON(), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=True),
    sa.Column('author_unit_id', sa.Integer(), nullable=True),
    sa.Column('author_group_id', sa.Integer(), nullable=True),
    sa.Column('visibility', sa.String(length=10), nullable=False),
    sa.Column('scope_unit_id', sa.Integer(), nullable=True),
    sa.Column('scope_group_id', sa.Integer(), nullable=True),
    sa.Column('campaign_id', sa.Integer(), nullable=True),
    sa.Column('programme_id', sa.Integer(), nullable=True),
    sa.Column('result', sa.JSON(), nullable=True),
    sa.Column('result_mark', sa.String(length=15), nullable=False),
    sa.Column('result_checked_at', sa.DateTime(), nullable=True),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('published_at', sa.DateTime(), nullable=True),
    sa.Column('reviewed_at', sa.DateTime(), nullable=True),
    sa.Column('review_due', sa.Date(), nullable=True),
    sa.Column('helpful_count', sa.Integer(), nullable=False),
    sa.Column('reuse_count', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['author_group_id'], ['partner_group.id'], name=op.f('fk_ks_story_author_group_id_partner_group')),
    sa.ForeignKeyConstraint(['author_id'], ['user_account.id'], name=op.f('fk_ks_story_author_id_user_account'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['author_unit_id'], ['org_unit.id'], name=op.f('fk_ks_story_author_unit_id_org_unit')),
    sa.ForeignKeyConstraint(['base_id'], ['ks_story.id'], name=op.f('fk_ks_story_base_id_ks_story'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['category_id'], ['category.id'], name=op.f('fk_ks_story_category_id_category'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['scope_group_id'], ['partner_group.id'], name=op.f('fk_ks_story_scope_group_id_partner_group')),
    sa.ForeignKeyConstraint(['scope_unit_id'], ['org_unit.id'], name=op.f('fk_ks_story_scope_unit_id_org_unit')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ks_story'))
    )
    op.create_index(op.f('ix_ks_story_author_group_id'), 'ks_story', ['author_group_id'], unique=False)
    op.create_index(op.f('ix_ks_story_author_id'), 'ks_story', ['author_id'], unique=False)
    op.create_index(op.f('ix_ks_story_author_unit_id'), 'ks_story', ['author_unit_id'], unique=False)
    op.create_index(op.f('ix_ks_story_base_id'), 'ks_story', ['base_id'], unique=False)
    op.create_index(op.f('ix_ks_story_campaign_id'), 'ks_story', ['campaign_id'], unique=False)
    op.create_index('ix_ks_story_list', 'ks_story', ['state', 'base_id', 'published_at'], unique=False)
    op.create_index(op.f('ix_ks_story_programme_id'), 'ks_story', ['programme_id'], unique=False)
    op.create_index(op.f('ix_ks_story_review_due'), 'ks_story', ['review_due'], unique=False)
    op.create_index('ix_ks_story_scope', 'ks_story', ['visibility', 'scope_unit_id', 'scope_group_id'], unique=False)
    op.create_index(op.f('ix_ks_story_state'), 'ks_story', ['state'], unique=False)
    op.create_table('ks_action_item',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('owner_unit_id', sa.Integer(), nullable=False),
    sa.Column('due_date', sa.Date(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('done_at', sa.DateTime(), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['user_account.id'], name=op.f('fk_ks_action_item_created_by_id_user_account'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['owner_unit_id'], ['org_unit.id'], name=op.f('fk_ks_action_item_owner_unit_id_org_unit')),
    sa.ForeignKeyConstraint(['session_id'], ['ks_session.id'], name=op.f('fk_ks_action_item_session_id_ks_session'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ks_action_item'))
    )
    op.create_index('ix_ks_action_due', 'ks_action_item', ['status', 'due_date'], unique=False)
    op.create_index(op.f('ix_ks_action_item_owner_unit_id'), 'ks_action_item', ['owner_unit_id'], unique=False)
    op.create_index(op.f('ix_ks_action_item_session_id'), 'ks_action_item', ['session_id'], unique=False)
    op.create_table('ks_agenda_item',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('story_id', sa.Integer(), nullable=False),
    sa.Column('presenter_id', sa.Integer(), nullable=True),
    sa.Column('minutes_note', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['presenter_id'], ['user_account.id'], name=op.f('fk_ks_agenda_item_presenter_id_user_account'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['session_id'], ['ks_session.id'], name=op.f('fk_ks_agenda_item_session_id_ks_session'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['story_id'], ['ks_story.id'], name=op.f('fk_ks_agenda_item_story_id_ks_story'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ks_agenda_item')),
    sa.UniqueConstraint('session_id', 'position', name='uq_ks_agenda_position')
    )
    op.create_index(op.f('ix_ks_agenda_item_story_id'), 'ks_agenda_item', ['story_id'], unique=False)
    op.create_table('ks_attachment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('story_id', sa.Integer(), nullable=False),
    sa.Column('file_id', sa.Integer(), nullable=False),
    sa.Column('filename', sa.String(length=200), nullable=False),
    sa.Column('mime', sa.String(length=100), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['story_id'], ['ks_story.id'], name=op.f('fk_ks_attachment_story_id_ks_story'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ks_attachment'))
    )
    op.create_index(op.f('ix_ks_attachment_story_id'), 'ks_attachment', ['story_id'], unique=False)
    op.create_table('ks_comment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('story_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=True),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('hidden', sa.Boolean(), nullable=False),
    sa.Column('hidden_by_id', sa.Integer(), nullable=True),
    sa.Column('hidden_at', sa.DateTime(), nullable=True),
    sa.Column('hidden_reason', sa.String(length=200), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['author_id'], ['user_account.id'], name=op.f('fk_ks_comment_author_id_user_account'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['hidden_by_id'], ['user_account.id'], name=op.f('fk_ks_comment_hidden_by_id_user_account'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['story_id'], ['ks_story.id'], name=op.f('fk_ks_comment_story_id_ks_story'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ks_comment'))
    )
    op.create_index('ix_ks_comment_story', 'ks_comment', ['story_id', 'created_at'], unique=False)
    op.create_table('ks_invitee',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('attended', sa.Boolean(), nullable=True),
    sa.Column('marked_by_id', sa.Integer(), nullable=True),
    sa.Column('marked_at', sa.DateTime(), nullable=True),
    sa.Column('invited_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['marked_by_id'], ['user_account.id'], name=op.f('fk_ks_invitee_marked_by_id_user_account'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['session_id'], ['ks_session.id'], name=op.f('fk_ks_invitee_session_id_ks_session'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_ks_invitee_user_id_user_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ks_invitee')),
    sa.UniqueConstraint('session_id', 'user_id', name='uq_ks_invitee')
    )
    op.create_index(op.f('ix_ks_invitee_user_id'), 'ks_invitee', ['user_id'], unique=False)
    op.create_table('ks_reuse',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('story_id', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('org_unit_id', sa.Integer(), nullable=True),
    sa.Column('partner_group_id', sa.Integer(), nullable=True),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('result', sa.JSON(), nullable=True),
    sa.ForeignKeyConstraint(['actor_id'], ['user_account.id'], name=op.f('fk_ks_reuse_actor_id_user_account'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['org_unit_id'], ['org_unit.id'], name=op.f('fk_ks_reuse_org_unit_id_org_unit')),
    sa.ForeignKeyConstraint(['partner_group_id'], ['partner_group.id'], name=op.f('fk_ks_reuse_partner_group_id_partner_group')),
    sa.ForeignKeyConstraint(['story_id'], ['ks_story.id'], name=op.f('fk_ks_reuse_story_id_ks_story'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ks_reuse'))
    )
    op.create_index(op.f('ix_ks_reuse_campaign_id'), 'ks_reuse', ['campaign_id'], unique=False)
    op.create_index('ix_ks_reuse_story', 'ks_reuse', ['story_id', 'created_at'], unique=False)
    op.create_table('ks_search_doc',
    sa.Column('story_id', sa.Integer(), nullable=False),
    sa.Column('terms', sa.Text(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['story_id'], ['ks_story.id'], name=op.f('fk_ks_search_doc_story_id_ks_story'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('story_id', name=op.f('pk_ks_search_doc'))
    )
    op.create_table('ks_vote',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('story_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['story_id'], ['ks_story.id'], name=op.f('fk_ks_vote_story_id_ks_story'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_ks_vote_user_id_user_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ks_vote')),
    sa.UniqueConstraint('story_id', 'version', 'user_id', name='uq_ks_vote')
    )
    op.create_index(op.f('ix_ks_vote_user_id'), 'ks_vote', ['user_id'], unique=False)


def downgrade():
    op.drop_index(op.f('ix_ks_vote_user_id'), table_name='ks_vote')
    op.drop_table('ks_vote')
    op.drop_table('ks_search_doc')
    op.drop_index('ix_ks_reuse_story', table_name='ks_reuse')
    op.drop_index(op.f('ix_ks_reuse_campaign_id'), table_name='ks_reuse')
    op.drop_table('ks_reuse')
    op.drop_index(op.f('ix_ks_invitee_user_id'), table_name='ks_invitee')
    op.drop_table('ks_invitee')
    op.drop_index('ix_ks_comment_story', table_name='ks_comment')
    op.drop_table('ks_comment')
    op.drop_index(op.f('ix_ks_attachment_story_id'), table_name='ks_attachment')
    op.drop_table('ks_attachment')
    op.drop_index(op.f('ix_ks_agenda_item_story_id'), table_name='ks_agenda_item')
    op.drop_table('ks_agenda_item')
    op.drop_index(op.f('ix_ks_action_item_session_id'), table_name='ks_action_item')
    op.drop_index(op.f('ix_ks_action_item_owner_unit_id'), table_name='ks_action_item')
    op.drop_index('ix_ks_action_due', table_name='ks_action_item')
    op.drop_table('ks_action_item')
    op.drop_index(op.f('ix_ks_story_state'), table_name='ks_story')
    op.drop_index('ix_ks_story_scope', table_name='ks_story')
    op.drop_index(op.f('ix_ks_story_review_due'), table_name='ks_story')
    op.drop_index(op.f('ix_ks_story_programme_id'), table_name='ks_story')
    op.drop_index('ix_ks_story_list', table_name='ks_story')
    op.drop_index(op.f('ix_ks_story_campaign_id'), table_name='ks_story')
    op.drop_index(op.f('ix_ks_story_base_id'), table_name='ks_story')
    op.drop_index(op.f('ix_ks_story_author_unit_id'), table_name='ks_story')
    op.drop_index(op.f('ix_ks_story_author_id'), table_name='ks_story')
    op.drop_index(op.f('ix_ks_story_author_group_id'), table_name='ks_story')
    op.drop_table('ks_story')
    op.drop_index(op.f('ix_ks_session_starts_at'), table_name='ks_session')
    op.drop_index(op.f('ix_ks_session_org_unit_id'), table_name='ks_session')
    op.drop_table('ks_session')
    op.drop_index('ix_ks_follow_tag', table_name='ks_follow')
    op.drop_table('ks_follow')
