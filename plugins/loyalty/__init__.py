"""Loyalty points: an append-only ledger with lots, earning rules, tiers, family cards, rewards,
approvals and expiry (issue 5). See docs/loyalty.md."""

from portal.toolkit import PluginInfo


def N_(message: str) -> str:  # noqa: N802 - the gettext "mark for extraction" convention
    """Marks a msgid for extraction; the add-ons pages translate it with ``_(title)`` on display."""
    return message


PLUGIN = PluginInfo(
    name="loyalty",
    title=N_("Loyalty points"),
    version="1.0.0",
    description=N_("Points on purchases, tiers, family cards, rewards and expiry — an append-only ledger."),
    table_prefix="loy_",
)
