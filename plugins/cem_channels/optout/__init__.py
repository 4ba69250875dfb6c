"""Consent lifecycle (issue 15, slice C): the 080 opt-out file, the global phone suppression list
with its send-time policy, and inbound replies (STOP keywords, review queue). See the
"Consent lifecycle" section of docs/cem_channels.md."""

from .importer import ImportResult, OptoutFileError, import_optout_file, parse_optout_file
from .policy import SUPPRESSED_CHANNELS, suppression_check
from .replies import ReplyError, classify_reply, decide_reply, pending_replies, receive_reply, stop_keywords
from .suppression import suppress_numbers, suppressed

__all__ = [
    "ImportResult", "OptoutFileError", "import_optout_file", "parse_optout_file", "SUPPRESSED_CHANNELS",
    "suppression_check", "ReplyError", "classify_reply", "decide_reply", "pending_replies", "receive_reply",
    "stop_keywords", "suppress_numbers", "suppressed",
]
