"""messaging: one outbox for every channel

``message`` replaces ``outbox_message`` (which only ever held password-reset e-mails that nothing
sent). Its rows move over as e-mail / service messages of the core: a sent one stays ``sent``; an
unsent one is queued again, but a password reset gets its link's one-hour life as ``expires_at``,
so an upgrade never mails stale reset links (the dispatcher expires them instead).
``message_pause`` holds paused sources (an add-on, or one object of it such as a campaign).

Revision ID: 0012_messaging
Revises: 0011_contact
Create Date: 2026-12-07 10:00:00

"""
from datetime import timedelta

import sqlalchemy as sa
from alembic import op

revision = '0012_messaging'
down_revision = '0011_contact'
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
RESET_VALID = timedelta(hours=1)


def upgrade():
    message = op.create_table('message',
    sa.Column('id', ID, nullable=False),
    sa.Column('channel', sa.String(length=20), nullable=False),
    sa.Column('purpose', sa.String(length=12), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=True),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('to_addr', sa.String(length=500), nullable=True),
    sa.Column('subject', sa.String(length=255), nullable=True),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('html', sa.Text(), nullable=True),
    sa.Column('headers', sa.JSON(), nullable=True),
    sa.Column('source', sa.String(length=60), nullable=False),
    sa.Column('source_object', sa.String(length=120), nullable=True),
    sa.Column('step', sa.String(length=60), nullable=True),
    sa.Column('variant', sa.String(length=30), nullable=True),
    sa.Column('idempotency_key', sa.String(length=200), nullable=False),
    sa.Column('not_before', sa.DateTime(), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('status_reason', sa.String(length=60), nullable=True),
    sa.Column('provider_id', sa.String(length=255), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.String(length=500), nullable=True),
    sa.Column('claimed_by', sa.String(length=80), nullable=True),
    sa.Column('claimed_at', sa.DateTime(), nullable=True),
    sa.Column('sent_at', sa.DateTime(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customer.id'], name=op.f('fk_message_customer_id_customer'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_message_user_id_user_account'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_message')),
    sa.UniqueConstraint('idempotency_key', name=op.f('uq_message_idempotency_key'))
    )
    with op.batch_alter_table('message', schema=None) as batch_op:
        batch_op.create_index('ix_message_status_not_before', ['status', 'not_before'], unique=False)
        batch_op.create_index('ix_message_customer_status', ['customer_id', 'status'], unique=False)
        batch_op.create_index('ix_message_source', ['source', 'source_object', 'status'], unique=False)
        batch_op.create_index('ix_message_user_id', ['user_id'], unique=False)

    op.create_table('message_pause',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=60), nullable=False),
    sa.Column('source_object', sa.String(length=120), nullable=False),
    sa.Column('paused_at', sa.DateTime(), nullable=False),
    sa.Column('paused_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['paused_by_id'], ['user_account.id'], name=op.f('fk_message_pause_paused_by_id_user_account'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_message_pause'))
    )
    with op.batch_alter_table('message_pause', schema=None) as batch_op:
        batch_op.create_index('uq_message_pause_source', ['source', 'source_object'], unique=True)

    _move_outbox_rows(message)
    op.drop_table('outbox_message')


def _move_outbox_rows(message):
    conn = op.get_bind()
    users = {email.lower(): uid for uid, email in conn.execute(sa.text("SELECT id, email FROM user_account"))}
    rows = []
    for r in conn.execute(sa.text(
            "SELECT id, kind, to_addr, subject, body, created_at, sent_at, attempts, last_error FROM outbox_message ORDER BY id")).mappings():
        created = _parse(r['created_at']) if isinstance(r['created_at'], str) else r['created_at']  # SQLite: text
        sent_at = _parse(r['sent_at']) if isinstance(r['sent_at'], str) else r['sent_at']
        rows.append({
            'channel': 'email', 'purpose': 'service', 'user_id': users.get((r['to_addr'] or '').lower()),
            'to_addr': r['to_addr'], 'subject': r['subject'], 'body': r['body'], 'source': 'core',
            'step': r['kind'], 'idempotency_key': f"outbox_message:{r['id']}", 'not_before': created,
            'expires_at': created + RESET_VALID if r['kind'] == 'password_reset' and sent_at is None else None,
            'status': 'sent' if sent_at is not None else 'queued', 'attempts': r['attempts'] or 0,
            'last_error': r['last_error'], 'sent_at': sent_at, 'created_at': created, 'updated_at': created,
        })
    if rows:
        op.bulk_insert(message, rows)


def _parse(value):
    from datetime import datetime

    return datetime.fromisoformat(value) if value else None


def downgrade():
    outbox = op.create_table('outbox_message',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('to_addr', sa.String(length=254), nullable=False),
    sa.Column('subject', sa.String(length=255), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('sent_at', sa.DateTime(), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.String(length=500), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox_message'))
    )
    conn = op.get_bind()
    rows = [
        {'kind': (r['step'] or r['source'])[:40], 'to_addr': (r['to_addr'] or '')[:254], 'subject': r['subject'] or '',
         'body': r['body'], 'created_at': _parse(r['created_at']) if isinstance(r['created_at'], str) else r['created_at'],
         'sent_at': _parse(r['sent_at']) if isinstance(r['sent_at'], str) else r['sent_at'],
         'attempts': r['attempts'], 'last_error': r['last_error']}
        for r in conn.execute(sa.text(
            "SELECT step, source, to_addr, subject, body, created_at, sent_at, attempts, last_error FROM message "
            "WHERE channel = 'email' AND user_id IS NOT NULL ORDER BY id")).mappings()
    ]
    if rows:
        op.bulk_insert(outbox, rows)
    with op.batch_alter_table('message_pause', schema=None) as batch_op:
        batch_op.drop_index('uq_message_pause_source')
    op.drop_table('message_pause')
    with op.batch_alter_table('message', schema=None) as batch_op:
        batch_op.drop_index('ix_message_user_id')
        batch_op.drop_index('ix_message_source')
        batch_op.drop_index('ix_message_customer_status')
        batch_op.drop_index('ix_message_status_not_before')
    op.drop_table('message')
