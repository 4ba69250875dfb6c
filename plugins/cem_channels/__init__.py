"""Campaigns across e-mail, SMS/LMS, KakaoTalk, push, postal DM and phone in one voice (issue 15).

Built on the core platform (messaging, Korean ad law, consent and contact, workflow, jobs,
experiments) through ``portal.toolkit`` only. See docs/cem_channels.md."""

from portal.toolkit import PluginInfo


def N_(message: str) -> str:  # noqa: N802 - the gettext "mark for extraction" convention
    """Marks a msgid for extraction; the add-ons pages translate it with ``_(title)`` on display."""
    return message


PLUGIN = PluginInfo(
    name="cem_channels",
    title=N_("Campaigns across channels"),
    version="0.1.0",
    description=N_("SMS/LMS, KakaoTalk and push through registered providers, one voice across channels, "
                   "Korean advertising law on every message."),
    table_prefix="cem_",
)
