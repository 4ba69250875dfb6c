"""campaigns: campaigns, steps, A/B variants, frozen recipients, open/click events, call outcomes, frozen results

Revision ID: cem_0004
Revises: cem_0003
"""
import sqlalchemy as sa
from alembic import op

revision = "cem_0004"
down_revision = "cem_0003"
branch_labels = None
depends_on = None

BIGID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade():
    op.create_table(
        "cem_campaign",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("purpose", sa.String(12), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("branch_id", sa.Integer(), sa.ForeignKey("org_unit.id", ondelete="SET NULL"), nullable=True),
        sa.Column("partner_id", sa.Integer(), sa.ForeignKey("partner.id", ondelete="SET NULL"), nullable=True),
        sa.Column("created_by_id", sa.Integer(), sa.ForeignKey("user_account.id", ondelete="SET NULL"), nullable=True),
        sa.Column("origin", sa.String(120), nullable=True),
        sa.Column("segment_id", sa.Integer(), sa.ForeignKey("segment.id", ondelete="SET NULL"), nullable=True),
        sa.Column("rules", sa.JSON(), nullable=True),
        sa.Column("start_at", sa.DateTime(), nullable=True),
        sa.Column("max_lateness_minutes", sa.Integer(), nullable=False),
        sa.Column("holdout_share", sa.Float(), nullable=False),
        sa.Column("use_global_control", sa.Boolean(), nullable=False),
        sa.Column("attribution_days", sa.Integer(), nullable=False),
        sa.Column("seed", sa.BigInteger(), nullable=False),
        sa.Column("ab_test_share", sa.Float(), nullable=True),
        sa.Column("ab_winner_metric", sa.String(20), nullable=True),
        sa.Column("ab_wait_hours", sa.Integer(), nullable=False),
        sa.Column("ab_fallback", sa.String(10), nullable=False),
        sa.Column("ab_winner", sa.String(1), nullable=True),
        sa.Column("ab_decided_at", sa.DateTime(), nullable=True),
        sa.Column("ab_decision", sa.JSON(), nullable=True),
        sa.Column("cap_per_day", sa.Integer(), nullable=True),
        sa.Column("cap_per_7_days", sa.Integer(), nullable=True),
        sa.Column("dedupe_by_address", sa.Boolean(), nullable=False),
        sa.Column("extraction_id", sa.Integer(), sa.ForeignKey("extraction.id", ondelete="SET NULL"), nullable=True),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column("frozen_at", sa.DateTime(), nullable=True),
        sa.Column("started_at", sa.DateTime(), nullable=True),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_cem_campaign_state", "cem_campaign", ["state"])
    op.create_index("ix_cem_campaign_branch_id", "cem_campaign", ["branch_id"])
    op.create_index("ix_cem_campaign_partner_id", "cem_campaign", ["partner_id"])
    op.create_table(
        "cem_campaign_step",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("campaign_id", sa.Integer(), sa.ForeignKey("cem_campaign.id", ondelete="CASCADE"), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("message_set_id", sa.Integer(), sa.ForeignKey("cem_message_set.id", ondelete="RESTRICT"),
                  nullable=True),
        sa.Column("delay_hours", sa.Integer(), nullable=False),
        sa.Column("condition", sa.String(20), nullable=False),
        sa.Column("fallback_channel", sa.String(20), nullable=True),
        sa.Column("kakao_template", sa.String(60), nullable=True),
        sa.Column("queued_at", sa.DateTime(), nullable=True),
        sa.Column("queued_count", sa.Integer(), nullable=False),
        sa.UniqueConstraint("campaign_id", "position", name="uq_cem_campaign_step_position"),
    )
    op.create_table(
        "cem_campaign_variant",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("campaign_id", sa.Integer(), sa.ForeignKey("cem_campaign.id", ondelete="CASCADE"), nullable=False),
        sa.Column("code", sa.String(1), nullable=False),
        sa.Column("message_set_id", sa.Integer(), sa.ForeignKey("cem_message_set.id", ondelete="RESTRICT"),
                  nullable=True),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.UniqueConstraint("campaign_id", "code", name="uq_cem_campaign_variant_code"),
    )
    op.create_table(
        "cem_campaign_recipient",
        sa.Column("campaign_id", sa.Integer(), sa.ForeignKey("cem_campaign.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("customer_id", BIGID, primary_key=True, autoincrement=False),
        sa.Column("arm", sa.String(10), nullable=False),
        sa.Column("variant", sa.String(1), nullable=True),
    )
    op.create_index("ix_cem_campaign_recipient_customer", "cem_campaign_recipient", ["customer_id"])
    op.create_table(
        "cem_message_event",
        sa.Column("id", BIGID, primary_key=True, autoincrement=True),
        sa.Column("message_id", BIGID, nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=True),
        sa.Column("customer_id", BIGID, nullable=True),
        sa.Column("kind", sa.String(12), nullable=False),
        sa.Column("url", sa.String(500), nullable=True),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("message_id", "kind", name="uq_cem_message_event_kind"),
    )
    op.create_index("ix_cem_message_event_campaign", "cem_message_event", ["campaign_id", "kind"])
    op.create_table(
        "cem_call_outcome",
        sa.Column("id", BIGID, primary_key=True, autoincrement=True),
        sa.Column("message_id", BIGID, nullable=False, unique=True),
        sa.Column("campaign_id", sa.Integer(), nullable=True),
        sa.Column("customer_id", BIGID, nullable=True),
        sa.Column("outcome", sa.String(20), nullable=False),
        sa.Column("note", sa.String(500), nullable=True),
        sa.Column("recorded_by_id", sa.Integer(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_cem_call_outcome_campaign_id", "cem_call_outcome", ["campaign_id"])
    op.create_table(
        "cem_campaign_result",
        sa.Column("campaign_id", sa.Integer(), sa.ForeignKey("cem_campaign.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("snapshot", sa.JSON(), nullable=False),
        sa.Column("frozen_at", sa.DateTime(), nullable=False),
    )


def downgrade():
    for table in ("cem_campaign_result", "cem_call_outcome", "cem_message_event", "cem_campaign_recipient",
                  "cem_campaign_variant", "cem_campaign_step", "cem_campaign"):
        op.drop_table(table)
