"""Success stories and knowledge sharing (issue 17): branches and groups tell what worked with the
measured result behind it, reviewers publish, everyone finds stories in Korean, meets in
knowledge-sharing sessions, and reuses a campaign in their own unit.

Built on the core platform (workflow, notifications, jobs, files) through ``portal.toolkit``
only; campaigns and programme results are reached through ``cem_channels``' and ``prm_groups``'
hookspecs (both optional). See docs/knowledge_share.md."""

from portal.toolkit import PluginInfo


def N_(message: str) -> str:  # noqa: N802 - the gettext "mark for extraction" convention
    """Marks a msgid for extraction; the add-ons page translates it with ``_(title)`` on display."""
    return message


PLUGIN = PluginInfo(
    name="knowledge_share",
    title=N_("Success stories and knowledge sharing"),
    version="0.1.0",
    description=N_("Success stories with review and verified results, Korean search, knowledge-sharing "
                   "sessions with action items, and \"reuse this campaign\"."),
    table_prefix="ks_",
    after=("cem_channels", "prm_groups"),
)
