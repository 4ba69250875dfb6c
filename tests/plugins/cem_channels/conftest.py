"""cem_channels fixtures: a per-worker template with the add-on installed, cloned for every test,
and a fake HTTP provider (``fake_provider.FakeProvider``) the adapters are pointed at."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests import dbs
from tests.conftest import _app_on_clone, make_app
from tests.plugins.cem_channels.fake_provider import FakeProvider

PLUGINS = ["cem_channels"]
SENDER = "0215881234"  # registered and verified in the ``app`` fixture


def cem_app(url: str, **extra):
    return make_app(url, PORTAL_PLUGINS=PLUGINS, **extra)


@pytest.fixture(scope="session")
def cem_template(template_db, tmp_path_factory) -> Iterator[dbs.AddonTemplate]:
    """The core's seeded template plus cem_channels installed; cloned like the core's."""
    tpl = dbs.AddonTemplate(template_db, tmp_path_factory.mktemp("cem"), cem_app, "cem_channels")
    yield tpl
    tpl.drop()


@pytest.fixture
def provider() -> Iterator[FakeProvider]:
    fake = FakeProvider().start()
    yield fake
    fake.stop()


PROVIDER_CONFIG = {"PORTAL_CEM_PROVIDER_KEY": "test-key", "PORTAL_CEM_PROVIDER_TIMEOUT": "0.5",
                   "PORTAL_MESSAGES_DISPATCH_ON_QUEUE": False, "PORTAL_SENDER_NAME": "파트너포털",
                   "PORTAL_OPTOUT_080": "080-123-4567", "PORTAL_SENDER_CONTACT": "02-1588-1234"}


@pytest.fixture
def app(cem_template, provider):
    """cem_channels installed, pointed at the fake provider, with one verified sender number."""
    for app in _app_on_clone(cem_template, factory=cem_app, PORTAL_CEM_PROVIDER_URL=provider.url, **PROVIDER_CONFIG):
        from plugins.cem_channels.models import SenderNumber
        from portal.extensions import db
        from portal.toolkit import utcnow

        db.session.add(SenderNumber(number=SENDER, label="대표번호", verified_at=utcnow()))
        db.session.add(SenderNumber(number="0299990000", label="미인증", verified_at=None))
        _set_settings(sms_sender=SENDER)
        db.session.commit()
        yield app


@pytest.fixture
def unconfigured_app(cem_template):
    """cem_channels installed without a provider."""
    yield from _app_on_clone(cem_template, factory=cem_app, **PROVIDER_CONFIG)


def _set_settings(**values) -> None:
    from portal.extensions import db
    from portal.models import PluginState

    state = db.session.get(PluginState, "cem_channels")
    state.settings = {**(state.settings or {}), **values}
