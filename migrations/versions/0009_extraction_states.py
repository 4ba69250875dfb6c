"""extraction states and scope: draft → used → cancelled; the cool-down starts when a list is used

A target list is now a ``draft`` when created and counts as contact history only once it is marked
``used`` (``used_at``, the contact moment); ``cancelled`` ends it. ``branch_id`` / ``partner_id``
place a list in the org and partner trees, so list pages and the API scope lists in SQL like
customers (HQ sees every branch's lists, a branch its own).

Existing lists: they were made under the old rule, where creating a list *was* the contact, so
they become ``used`` with ``used_at = created_at`` — the customers on them stay in cool-down
exactly as long as before, nobody is contacted twice by the upgrade. Their place: the org unit /
partner of the creator's only local role granting ``extraction.create`` (Branch Staff, Group
Leader, Site Administrator, HQ Staff); a creator with none or several such grants leaves it empty
(then the list is seen by its creator and by holders of the global permission, as before).

Revision ID: 0009_extraction_states
Revises: 0008_customer_name_suffix
Create Date: 2026-12-07 07:45:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0009_extraction_states'
down_revision = '0008_customer_name_suffix'
branch_labels = None
depends_on = None

GRANTING = "('Site Administrator', 'HQ Staff', 'Branch Staff', 'Group Leader')"


def upgrade():
    with op.batch_alter_table('extraction', schema=None) as batch_op:
        batch_op.add_column(sa.Column('status', sa.String(length=10), server_default='draft', nullable=False))
        batch_op.add_column(sa.Column('used_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('used_by_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('cancelled_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('cancelled_by_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('branch_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('partner_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_extraction_used_by_id_user_account'), 'user_account', ['used_by_id'], ['id'])
        batch_op.create_foreign_key(batch_op.f('fk_extraction_cancelled_by_id_user_account'), 'user_account', ['cancelled_by_id'], ['id'])
        batch_op.create_foreign_key(batch_op.f('fk_extraction_branch_id_org_unit'), 'org_unit', ['branch_id'], ['id'])
        batch_op.create_foreign_key(batch_op.f('fk_extraction_partner_id_partner'), 'partner', ['partner_id'], ['id'])
        batch_op.create_index(batch_op.f('ix_extraction_branch_id'), ['branch_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_extraction_partner_id'), ['partner_id'], unique=False)
        batch_op.create_index('ix_extraction_channel_used_at', ['channel', 'used_at'], unique=False)

    # Existing lists were contact history from their creation: keep them so (see the docstring).
    op.execute("UPDATE extraction SET status = 'used', used_at = created_at, used_by_id = created_by_id")
    for column, grant in (('branch_id', 'org_unit_id'), ('partner_id', 'partner_id')):
        op.execute(f"""UPDATE extraction SET {column} = (
                         SELECT max(lr.{grant}) FROM local_role lr
                         WHERE lr.user_id = extraction.created_by_id AND lr.role IN {GRANTING}
                         HAVING count(lr.{grant}) = 1 AND count(*) = 1)""")


def downgrade():
    with op.batch_alter_table('extraction', schema=None) as batch_op:
        batch_op.drop_index('ix_extraction_channel_used_at')
        batch_op.drop_index(batch_op.f('ix_extraction_partner_id'))
        batch_op.drop_index(batch_op.f('ix_extraction_branch_id'))
        batch_op.drop_constraint(batch_op.f('fk_extraction_partner_id_partner'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_extraction_branch_id_org_unit'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_extraction_cancelled_by_id_user_account'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_extraction_used_by_id_user_account'), type_='foreignkey')
        for column in ('partner_id', 'branch_id', 'cancelled_by_id', 'cancelled_at', 'used_by_id', 'used_at', 'status'):
            batch_op.drop_column(column)
