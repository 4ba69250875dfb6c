"""Messages translated at run time from data, declared here so ``pybabel extract`` finds them.

Nothing imports this module: it only feeds the extractor (``N_`` is one of Babel's default keywords).
"""

from __future__ import annotations


def N_(message: str) -> str:
    return message


# Global and local role names, shown with ``_(role)`` (manage/users.html, dashboard/portlet_welcome.html).
ROLE_NAMES = [
    N_("Site Administrator"),
    N_("HQ Staff"),
    N_("Reviewer"),
    N_("Group Leader"),
    N_("Distributor"),
    N_("Branch Staff"),
]

# Partner.level ("top_leader", "leader", "distributor"), shown with ``_(level.replace("_", " "))``
# in org/group.html.
PARTNER_LEVELS = [
    N_("top leader"),
    N_("leader"),
    N_("distributor"),
]
