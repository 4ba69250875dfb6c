"""One outbox for every channel: message rows, channel adapters, dispatch with send-time policies.

Public API (also in ``portal.toolkit``): :func:`queue_message`, :func:`queue_many`,
:func:`cancel_queued`, :func:`cancel_source`, :func:`pause`, :func:`resume`, :func:`progress`, :func:`dispatch`,
``SendResult`` for adapters. See docs/platform/messaging.md.
"""

from __future__ import annotations

from flask import Blueprint, Flask

bp = Blueprint("messaging", __name__, url_prefix="/manage/messages", template_folder="templates")

from .adapters import SendResult  # noqa: E402
from .dispatch import dispatch  # noqa: E402
from .models import Message  # noqa: E402
from .service import (  # noqa: E402
    MessagingError,
    cancel_queued,
    cancel_source,
    pause,
    postpone_expiry,
    progress,
    queue_many,
    queue_message,
    resume,
)

__all__ = ["Message", "MessagingError", "SendResult", "bp", "cancel_queued", "cancel_source", "dispatch", "pause", "postpone_expiry", "progress",
           "queue_many", "queue_message", "resume"]


def init_app(app: Flask) -> None:
    from ..cli import portal_cli
    from .cli import messages_group
    from .service import install_session_events

    install_session_events()
    portal_cli.add_command(messages_group)


from . import views  # noqa: E402,F401  (routes on bp)
