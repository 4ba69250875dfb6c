"""security epoch: one counter raised by triggers on every identity-relevant change

Workers cache signed-in identities and the active plugin set and check this one integer per
request instead of reloading them (``portal/auth/identity_cache.py``). Row-level triggers raise it
when a user changes or is deleted; on any change to ``user_role`` or ``local_role``; when an org
unit, partner group or partner (the targets of local roles) is changed or deleted, and when an
org unit or partner is added (a granted subtree grows: the worker's resolved scope ids); when an API
token is revoked, re-pointed or deleted; when a session ends (row deleted: logout, expiry,
password change); on any change to ``plugin_state``. Session ``last_seen_at`` touches and token
``last_used_at`` touches do not raise it.

Revision ID: 0006_security_epoch
Revises: 0005_analytics
Create Date: 2026-11-22 15:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0006_security_epoch'
down_revision = '0005_analytics'
branch_labels = None
depends_on = None

# (table, events, columns of UPDATE OF or None for any column)
WATCHED = [
    ('user_account', ('UPDATE', 'DELETE'), None),
    ('user_role', ('INSERT', 'UPDATE', 'DELETE'), None),
    ('local_role', ('INSERT', 'UPDATE', 'DELETE'), None),
    ('org_unit', ('INSERT', 'UPDATE', 'DELETE'), None),
    ('partner_group', ('UPDATE', 'DELETE'), None),
    ('partner', ('INSERT', 'UPDATE', 'DELETE'), None),
    ('api_token', ('UPDATE', 'DELETE'), ('revoked_at', 'user_id', 'token_hash')),
    ('user_session', ('DELETE',), None),
    ('plugin_state', ('INSERT', 'UPDATE', 'DELETE'), None),
]
BUMP = "UPDATE security_epoch SET value = value + 1 WHERE id = 1"


def _name(table, event):
    return f"trg_security_epoch_{table}_{event.lower()}"


def upgrade():
    op.create_table('security_epoch',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('value', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_security_epoch'))
    )
    op.execute("INSERT INTO security_epoch (id, value) VALUES (1, 0)")
    postgres = op.get_bind().dialect.name == 'postgresql'
    if postgres:
        op.execute(f"""CREATE FUNCTION portal_bump_security_epoch() RETURNS trigger LANGUAGE plpgsql AS $$
                       BEGIN {BUMP}; RETURN NULL; END $$""")
    for table, events, columns in WATCHED:
        quoted = f'"{table}"'
        for event in events:
            what = f"UPDATE OF {', '.join(columns)}" if event == 'UPDATE' and columns else event
            if postgres:
                op.execute(f"CREATE TRIGGER {_name(table, event)} AFTER {what} ON {quoted} "
                           "FOR EACH ROW EXECUTE FUNCTION portal_bump_security_epoch()")
            else:
                op.execute(f"CREATE TRIGGER {_name(table, event)} AFTER {what} ON {quoted} "
                           f"FOR EACH ROW BEGIN {BUMP}; END")


def downgrade():
    postgres = op.get_bind().dialect.name == 'postgresql'
    for table, events, _columns in WATCHED:
        for event in events:
            op.execute(f'DROP TRIGGER IF EXISTS {_name(table, event)}' + (f' ON "{table}"' if postgres else ''))
    if postgres:
        op.execute("DROP FUNCTION IF EXISTS portal_bump_security_epoch()")
    op.drop_table('security_epoch')
