"""The From header names the company (the ad law's sender) unless PORTAL_MAIL_FROM names itself."""

from __future__ import annotations

from email.header import decode_header, make_header
from email.utils import parseaddr

import pytest

from portal.messaging.adapters import mail_from


@pytest.mark.parametrize(("configured", "sender", "expected"), [
    ("no-reply@example.com", "파트너포털", ("파트너포털", "no-reply@example.com")),
    ("Amway Korea <news@example.com>", "파트너포털", ("Amway Korea", "news@example.com")),
    ("no-reply@example.com", "", ("", "no-reply@example.com")),
    ("", "파트너포털", ("파트너포털", "no-reply@partner-portal.local")),
])
def test_mail_from_uses_the_sender_name_when_the_address_has_none(configured, sender, expected):
    value = mail_from({"PORTAL_MAIL_FROM": configured, "PORTAL_SENDER_NAME": sender})
    name, addr = parseaddr(value)
    assert (str(make_header(decode_header(name))), addr) == expected
