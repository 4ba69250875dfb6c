"""prm_groups fixtures: a per-worker template with cem_channels and prm_groups installed, cloned
for every test; the cem fake HTTP provider is reused for SMS/KakaoTalk."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests import dbs
from tests.conftest import _app_on_clone, make_app
from tests.plugins.cem_channels.fake_provider import FakeProvider

PLUGINS = ["cem_channels", "prm_groups"]
SETTINGS = {"PORTAL_CEM_PROVIDER_KEY": "test-key", "PORTAL_CEM_PROVIDER_TIMEOUT": "0.5",
            "PORTAL_MESSAGES_DISPATCH_ON_QUEUE": False, "PORTAL_SENDER_NAME": "파트너포털",
            "PORTAL_OPTOUT_080": "080-123-4567", "PORTAL_SENDER_CONTACT": "02-1588-1234"}


def prm_app(url: str, **extra):
    return make_app(url, PORTAL_PLUGINS=PLUGINS, **extra)


def _install_prm() -> None:
    from portal.plugins_lifecycle import install

    install("prm_groups")


@pytest.fixture(scope="session")
def prm_template(template_db, tmp_path_factory) -> Iterator[dbs.AddonTemplate]:
    """The core's seeded template plus cem_channels and prm_groups installed; cloned like the core's."""
    tpl = dbs.AddonTemplate(template_db, tmp_path_factory.mktemp("prm"), prm_app, "cem_channels",
                            prepare=_install_prm)
    yield tpl
    tpl.drop()


@pytest.fixture
def provider() -> Iterator[FakeProvider]:
    fake = FakeProvider().start()
    yield fake
    fake.stop()


@pytest.fixture
def app(prm_template, provider):
    """Both add-ons installed, cem_channels pointed at the fake provider, one verified sender number."""
    for app in _app_on_clone(prm_template, factory=prm_app, PORTAL_CEM_PROVIDER_URL=provider.url, **SETTINGS):
        from plugins.cem_channels.models import SenderNumber
        from portal.extensions import db
        from portal.models import PluginState
        from portal.toolkit import utcnow

        db.session.add(SenderNumber(number="0215881234", label="대표번호", verified_at=utcnow()))
        state = db.session.get(PluginState, "cem_channels")
        state.settings = {**(state.settings or {}), "sms_sender": "0215881234"}
        db.session.commit()
        yield app
