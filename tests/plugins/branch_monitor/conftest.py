"""branch_monitor fixtures: a per-worker template with cem_channels, prm_groups, knowledge_share
and branch_monitor installed (the care index reads knowledge_share's overdue action items),
cloned for every test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests import dbs
from tests.conftest import _app_on_clone, make_app

PLUGINS = ["cem_channels", "prm_groups", "knowledge_share", "branch_monitor"]
SETTINGS = {"PORTAL_CEM_PROVIDER_KEY": "test-key", "PORTAL_CEM_PROVIDER_TIMEOUT": "0.5",
            "PORTAL_MESSAGES_DISPATCH_ON_QUEUE": False, "PORTAL_SENDER_NAME": "파트너포털",
            "PORTAL_OPTOUT_080": "080-123-4567", "PORTAL_SENDER_CONTACT": "02-1588-1234"}


def bm_app(url: str, **extra):
    return make_app(url, PORTAL_PLUGINS=PLUGINS, **extra)


def _install_rest() -> None:
    from portal.plugins_lifecycle import install

    install("prm_groups")
    install("knowledge_share")
    install("branch_monitor")


@pytest.fixture(scope="session")
def bm_template(template_db, tmp_path_factory) -> Iterator[dbs.AddonTemplate]:
    """The core's seeded template plus the four add-ons installed; cloned like the core's."""
    tpl = dbs.AddonTemplate(template_db, tmp_path_factory.mktemp("bm"), bm_app, "cem_channels",
                            prepare=_install_rest)
    yield tpl
    tpl.drop()


@pytest.fixture
def app(bm_template):
    """The four add-ons installed on a clone of the seeded template."""
    yield from _app_on_clone(bm_template, factory=bm_app, **SETTINGS)
