"""loyalty: ``loy_api_redeem``, the API's redemption in one round trip (PostgreSQL)

``POST /api/v1/loyalty/accounts/<id>/redeem`` is the hot path (issue 5: 500 redemptions a second
on two workers). On PostgreSQL its three writes — lower the balance (which locks the account),
take the lots first to expire first with the entry and its allocations, store the answer under
the idempotency key — run in this one function: one statement from the worker instead of three,
no statement building in Python. Each statement inside a VOLATILE function takes a new snapshot
(READ COMMITTED), so the lot read after the lock sees every committed change to the account's
lots, exactly as the statements did when sent one by one (``ledger.redeem`` / ``_DEBIT_PG``,
which the staff pages and SQLite keep using).

Answers (``status``, ``body``):

* 201 and the JSON answer (also stored in ``loy_request``);
* 409 and ``balance`` or ``lots``: refused, nothing to undo but the caller rolls back;
* 200 and NULL: a request with this key committed first (seen after the lock, or the unique key
  refused the answer): the caller rolls back and replays the stored answer;
* 409 and ``conflict``: a lot changed under the operation (cannot happen while the account row
  is locked; refused rather than guessed).

Revision ID: loy_0002
Revises: loy_0001
"""
from alembic import op

revision = "loy_0002"
down_revision = "loy_0001"
branch_labels = None
depends_on = None

FUNCTION = """
CREATE OR REPLACE FUNCTION loy_api_redeem(p_customer integer, p_points bigint, p_reason text, p_on date,
                                          p_actor_id integer, p_actor_label text, p_now timestamp,
                                          p_key text, p_hash text)
RETURNS TABLE (status integer, body text)
LANGUAGE plpgsql VOLATILE AS $fn$
DECLARE
    v_account integer;
    v_balance bigint;
    v_entry bigint;
    v_taken integer;
    v_updated integer;
    v_body text;
BEGIN
    -- The account (the pool's for a family card member): locked and lowered in one statement.
    UPDATE loy_account SET balance = balance - p_points, updated_at = p_now
    WHERE id = (SELECT COALESCE(a.pool_id, a.id) FROM loy_account a WHERE a.customer_id = p_customer)
      AND balance >= p_points
    RETURNING id, balance INTO v_account, v_balance;
    IF v_account IS NULL THEN
        RETURN QUERY SELECT 409, 'balance'::text;
        RETURN;
    END IF;
    -- Requests with one key queue on that lock: the first one's answer may be committed by now.
    PERFORM 1 FROM loy_request r WHERE r.customer_id = p_customer AND r.key = p_key;
    IF FOUND THEN
        RETURN QUERY SELECT 200, NULL::text;
        RETURN;
    END IF;
    -- Lots first to expire first (only those still valid), the entry and its allocations.
    WITH lots AS (
        SELECT l.id, l.remaining, l.member_id, l.expires_on,
               SUM(l.remaining) OVER (ORDER BY l.expires_on, l.id ROWS UNBOUNDED PRECEDING) AS cum
        FROM loy_lot l WHERE l.account_id = v_account AND l.remaining > 0 AND l.expires_on >= p_on
    ), take AS (
        SELECT lots.id, LEAST(lots.remaining, p_points - (lots.cum - lots.remaining)) AS part
        FROM lots WHERE lots.cum - lots.remaining < p_points
    ), ent AS (
        INSERT INTO loy_entry (account_id, member_id, kind, points, effective_on, reason, actor_id, actor_label,
                               created_at, shortfall)
        SELECT v_account, p_customer, 'redeem', -p_points, p_on, p_reason, p_actor_id, p_actor_label, p_now, 0
        WHERE (SELECT COALESCE(SUM(take.part), 0) FROM take) = p_points
        RETURNING id
    ), upd AS (
        UPDATE loy_lot SET remaining = loy_lot.remaining - take.part FROM take, ent
        WHERE loy_lot.id = take.id AND loy_lot.remaining >= take.part RETURNING loy_lot.id
    ), alloc AS (
        INSERT INTO loy_allocation (entry_id, lot_id, points) SELECT ent.id, take.id, take.part FROM ent, take
    )
    SELECT ent.id, (SELECT COUNT(*) FROM take), (SELECT COUNT(*) FROM upd) INTO v_entry, v_taken, v_updated
    FROM ent;
    IF v_entry IS NULL THEN
        RETURN QUERY SELECT 409, 'lots'::text;
        RETURN;
    END IF;
    IF v_updated <> v_taken THEN
        RETURN QUERY SELECT 409, 'conflict'::text;
        RETURN;
    END IF;
    -- The answer, as plugins/loyalty/summary.py's entry_dict writes it.
    v_body := json_build_object(
        'entry', json_build_object(
            'id', v_entry, 'account_id', v_account, 'customer_id', p_customer, 'kind', 'redeem',
            'points', -p_points, 'reason', p_reason, 'effective_on', to_char(p_on, 'YYYY-MM-DD'),
            'expires_on', NULL, 'reverses_id', NULL, 'report_id', NULL, 'shortfall', 0,
            'created_at', to_char(p_now, 'YYYY-MM-DD"T"HH24:MI:SS'), 'balance_after', v_balance),
        'balance', v_balance, 'customer_id', p_customer, 'account_id', v_account)::text;
    INSERT INTO loy_request (customer_id, key, operation, request_hash, status_code, response, entry_id, created_at)
    VALUES (p_customer, p_key, 'redeem', p_hash, 201, v_body, v_entry, p_now)
    ON CONFLICT (customer_id, key) DO NOTHING;
    IF NOT FOUND THEN
        RETURN QUERY SELECT 200, NULL::text;
        RETURN;
    END IF;
    RETURN QUERY SELECT 201, v_body;
END
$fn$
"""


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute(FUNCTION)


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS loy_api_redeem(integer, bigint, text, date, integer, text, timestamp, "
                   "text, text)")
