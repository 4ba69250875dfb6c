"""loyalty: accounts, the append-only ledger (entries, lots, allocations), idempotency keys,
tiers and tier history, earning rules, promotions, rewards and approvals.

Revision ID: loy_0001
Revises:
"""
import sqlalchemy as sa
from alembic import op

revision = "loy_0001"
down_revision = None
branch_labels = None
depends_on = None

APPEND_ONLY = ("loy_entry", "loy_allocation")


def _append_only_triggers():
    """The ledger refuses UPDATE, DELETE (and on PostgreSQL TRUNCATE) at the database level:
    corrections are reversing entries, never edits."""
    for table in APPEND_ONLY:
        if op.get_bind().dialect.name == "postgresql":
            op.execute(f"""
                CREATE OR REPLACE FUNCTION {table}_append_only() RETURNS trigger AS $$
                BEGIN
                    RAISE EXCEPTION '{table} is append-only: write a reversing entry instead';
                END $$ LANGUAGE plpgsql""")
            op.execute(f"CREATE TRIGGER {table}_no_change BEFORE UPDATE OR DELETE ON {table} "
                       f"FOR EACH ROW EXECUTE FUNCTION {table}_append_only()")
            op.execute(f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                       f"FOR EACH STATEMENT EXECUTE FUNCTION {table}_append_only()")
        else:
            op.execute(f"CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table} "
                       f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: write a reversing entry instead'); END")
            op.execute(f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} "
                       f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: write a reversing entry instead'); END")


def upgrade():
    op.create_table('loy_allocation',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('entry_id', sa.BigInteger(), nullable=False),
    sa.Column('lot_id', sa.BigInteger(), nullable=False),
    sa.Column('points', sa.BigInteger(), nullable=False),
    sa.CheckConstraint('points <> 0', name=op.f('ck_loy_allocation_not_zero')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_loy_allocation'))
    )
    with op.batch_alter_table('loy_allocation', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_loy_allocation_entry_id'), ['entry_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_loy_allocation_lot_id'), ['lot_id'], unique=False)

    op.create_table('loy_batch',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=12), nullable=False),
    sa.Column('report_id', sa.Integer(), nullable=True),
    sa.Column('as_of', sa.Date(), nullable=True),
    sa.Column('lines', sa.BigInteger(), nullable=False),
    sa.Column('entries', sa.BigInteger(), nullable=False),
    sa.Column('points', sa.BigInteger(), nullable=False),
    sa.Column('actor_label', sa.String(length=254), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('note', sa.String(length=500), nullable=True),
    sa.Column('first_entry_id', sa.BigInteger(), nullable=True),
    sa.Column('last_entry_id', sa.BigInteger(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_loy_batch'))
    )
    with op.batch_alter_table('loy_batch', schema=None) as batch_op:
        batch_op.create_index('ix_loy_batch_report', ['report_id'], unique=False, postgresql_where=sa.text('report_id IS NOT NULL'), sqlite_where=sa.text('report_id IS NOT NULL'))
    op.create_table('loy_earn_line',
    sa.Column('sale_line_id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('report_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('points', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('sale_line_id', 'report_id', name=op.f('pk_loy_earn_line'))
    )
    op.create_table('loy_entry',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('points', sa.BigInteger(), nullable=False),
    sa.Column('effective_on', sa.Date(), nullable=False),
    sa.Column('expires_on', sa.Date(), nullable=True),
    sa.Column('report_id', sa.Integer(), nullable=True),
    sa.Column('batch_id', sa.Integer(), nullable=True),
    sa.Column('reverses_id', sa.BigInteger(), nullable=True),
    sa.Column('peer_id', sa.BigInteger(), nullable=True),
    sa.Column('reward_id', sa.Integer(), nullable=True),
    sa.Column('approval_id', sa.Integer(), nullable=True),
    sa.Column('shortfall', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('reason', sa.String(length=200), nullable=True),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('actor_label', sa.String(length=254), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint("kind <> 'earn' OR points > 0", name=op.f('ck_loy_entry_earn_positive')),
    sa.CheckConstraint("kind IN ('earn', 'redeem', 'expire', 'adjust', 'reverse', 'transfer')", name=op.f('ck_loy_entry_kind')),
    sa.CheckConstraint("kind NOT IN ('redeem', 'expire') OR points < 0", name=op.f('ck_loy_entry_debit_negative')),
    sa.CheckConstraint("points <> 0 OR kind = 'reverse'", name=op.f('ck_loy_entry_not_zero')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_loy_entry'))
    )
    with op.batch_alter_table('loy_entry', schema=None) as batch_op:
        batch_op.create_index('ix_loy_entry_account', ['account_id', 'id'], unique=False)
        batch_op.create_index('ix_loy_entry_member', ['member_id', 'effective_on'], unique=False)
        batch_op.create_index('uq_loy_entry_reverses', ['reverses_id'], unique=True, postgresql_where=sa.text('reverses_id IS NOT NULL'), sqlite_where=sa.text('reverses_id IS NOT NULL'))

    op.create_table('loy_lot',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('entry_id', sa.BigInteger(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=True),
    sa.Column('points', sa.BigInteger(), nullable=False),
    sa.Column('remaining', sa.BigInteger(), nullable=False),
    sa.Column('earned_on', sa.Date(), nullable=False),
    sa.Column('expires_on', sa.Date(), nullable=False),
    sa.CheckConstraint('points > 0', name=op.f('ck_loy_lot_points_positive')),
    sa.CheckConstraint('remaining >= 0 AND remaining <= points', name=op.f('ck_loy_lot_remaining_in_range')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_loy_lot'))
    )
    with op.batch_alter_table('loy_lot', schema=None) as batch_op:
        batch_op.create_index('ix_loy_lot_expiring', ['expires_on'], unique=False, postgresql_where=sa.text('remaining > 0'), sqlite_where=sa.text('remaining > 0'))
        batch_op.create_index('ix_loy_lot_open', ['account_id', 'expires_on', 'id'], unique=False, postgresql_where=sa.text('remaining > 0'), sqlite_where=sa.text('remaining > 0'))

    op.create_table('loy_request',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=100), nullable=False),
    sa.Column('operation', sa.String(length=10), nullable=False),
    sa.Column('request_hash', sa.String(length=64), nullable=False),
    sa.Column('status_code', sa.Integer(), nullable=False),
    sa.Column('response', sa.Text(), nullable=False),
    sa.Column('entry_id', sa.BigInteger(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_loy_request')),
    sa.UniqueConstraint('customer_id', 'key', name='uq_loy_request_customer_key')
    )
    op.create_table('loy_reward',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=30), nullable=False),
    sa.Column('name_ko', sa.String(length=120), nullable=False),
    sa.Column('name_en', sa.String(length=120), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('points_cost', sa.BigInteger(), nullable=False),
    sa.Column('krw_value', sa.BigInteger(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_loy_reward')),
    sa.UniqueConstraint('code', name=op.f('uq_loy_reward_code'))
    )
    op.create_table('loy_tier',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=20), nullable=False),
    sa.Column('name_ko', sa.String(length=40), nullable=False),
    sa.Column('name_en', sa.String(length=40), nullable=False),
    sa.Column('threshold', sa.BigInteger(), nullable=False),
    sa.Column('multiplier_pct', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_loy_tier')),
    sa.UniqueConstraint('code', name=op.f('uq_loy_tier_code')),
    sa.UniqueConstraint('threshold', name=op.f('uq_loy_tier_threshold'))
    )
    op.create_table('loy_tier_change',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('from_tier', sa.String(length=20), nullable=True),
    sa.Column('to_tier', sa.String(length=20), nullable=False),
    sa.Column('direction', sa.String(length=4), nullable=False),
    sa.Column('reason', sa.String(length=20), nullable=False),
    sa.Column('changed_on', sa.Date(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_loy_tier_change'))
    )
    with op.batch_alter_table('loy_tier_change', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_loy_tier_change_changed_on'), ['changed_on'], unique=False)
        batch_op.create_index(batch_op.f('ix_loy_tier_change_customer_id'), ['customer_id'], unique=False)

    op.create_table('loy_category_rate',
    sa.Column('category_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('multiplier_pct', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['category_id'], ['category.id'], name=op.f('fk_loy_category_rate_category_id_category'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('category_id', name=op.f('pk_loy_category_rate'))
    )
    op.create_table('loy_promotion',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('starts_on', sa.Date(), nullable=False),
    sa.Column('ends_on', sa.Date(), nullable=False),
    sa.Column('multiplier_pct', sa.Integer(), nullable=False),
    sa.Column('category_id', sa.Integer(), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['category_id'], ['category.id'], name=op.f('fk_loy_promotion_category_id_category'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_loy_promotion'))
    )
    op.create_table('loy_account',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=True),
    sa.Column('household_id', sa.Integer(), nullable=True),
    sa.Column('pool_id', sa.Integer(), nullable=True),
    sa.Column('card_no', sa.String(length=20), nullable=True),
    sa.Column('balance', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('tier', sa.String(length=20), nullable=True),
    sa.Column('tier_since', sa.Date(), nullable=True),
    sa.Column('status', sa.String(length=10), server_default='active', nullable=False),
    sa.Column('merged_into_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint("kind IN ('member', 'family')", name=op.f('ck_loy_account_kind')),
    sa.CheckConstraint('balance >= 0', name=op.f('ck_loy_account_balance_not_negative')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_loy_account')),
    sa.UniqueConstraint('customer_id', name=op.f('uq_loy_account_customer_id'))
    )
    with op.batch_alter_table('loy_account', schema=None) as batch_op:
        batch_op.create_index('ix_loy_account_pool', ['pool_id'], unique=False, postgresql_where=sa.text('pool_id IS NOT NULL'), sqlite_where=sa.text('pool_id IS NOT NULL'))
        batch_op.create_index('uq_loy_account_card_no', ['card_no'], unique=True, postgresql_where=sa.text('card_no IS NOT NULL'), sqlite_where=sa.text('card_no IS NOT NULL'))
        batch_op.create_index('uq_loy_account_household', ['household_id'], unique=True, postgresql_where=sa.text('household_id IS NOT NULL'), sqlite_where=sa.text('household_id IS NOT NULL'))

    op.create_table('loy_approval',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('points', sa.BigInteger(), nullable=False),
    sa.Column('reason', sa.String(length=200), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('requested_by_id', sa.Integer(), nullable=True),
    sa.Column('requested_at', sa.DateTime(), nullable=False),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('decided_at', sa.DateTime(), nullable=True),
    sa.Column('decision_note', sa.String(length=200), nullable=True),
    sa.Column('entry_id', sa.BigInteger(), nullable=True),
    sa.ForeignKeyConstraint(['customer_id'], ['customer.id'], name=op.f('fk_loy_approval_customer_id_customer'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['decided_by_id'], ['user_account.id'], name=op.f('fk_loy_approval_decided_by_id_user_account'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['requested_by_id'], ['user_account.id'], name=op.f('fk_loy_approval_requested_by_id_user_account'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_loy_approval'))
    )
    with op.batch_alter_table('loy_approval', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_loy_approval_customer_id'), ['customer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_loy_approval_status'), ['status'], unique=False)

    if op.get_bind().dialect.name == "postgresql":
        # Room on each page for a new row version: balance updates stay HOT (no index writes).
        op.execute("ALTER TABLE loy_account SET (fillfactor = 70)")
    _append_only_triggers()


def downgrade():
    op.drop_table("loy_allocation")
    op.drop_table("loy_lot")
    op.drop_table("loy_entry")
    op.drop_table("loy_approval")
    op.drop_table("loy_account")
    op.drop_table("loy_promotion")
    op.drop_table("loy_category_rate")
    op.drop_table("loy_tier_change")
    op.drop_table("loy_tier")
    op.drop_table("loy_reward")
    op.drop_table("loy_request")
    op.drop_table("loy_earn_line")
    op.drop_table("loy_batch")
    if op.get_bind().dialect.name == "postgresql":
        for table in APPEND_ONLY:
            op.execute(f"DROP FUNCTION IF EXISTS {table}_append_only()")
