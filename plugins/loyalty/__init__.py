"""Loyalty points: an append-only ledger with lots, earning rules, tiers, family cards, rewards,
approvals and expiry (issue 5). See docs/loyalty.md."""

from portal.plugins import PluginInfo

PLUGIN = PluginInfo(
    name="loyalty",
    title="Loyalty points",
    version="1.0.0",
    description="Points on purchases, tiers, family cards, rewards and expiry — an append-only ledger.",
    table_prefix="loy_",
)
