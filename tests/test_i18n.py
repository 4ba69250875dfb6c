"""Korean and English UI: a complete Korean catalog, intact placeholders, and the language switch.

Adding a string to the code or templates without translating it makes
``test_every_extracted_message_is_in_the_korean_catalog`` fail with the missing ids: run
``make translations-update`` and fill in ``portal/translations/ko/LC_MESSAGES/messages.po``.
"""

from __future__ import annotations

import fnmatch
import os
import re
import tempfile
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from tests.conftest import ROOT, login, post_form

TRANSLATIONS = ROOT / "portal" / "translations"
LOCALES = ("ko", "en")
# The same keywords and ignored directories as the Makefile's ``translations-update``.
KEYWORDS = {**DEFAULT_KEYWORDS, "_l": None, "lazy_gettext": None, "lazy_ngettext": (1, 2)}
IGNORE_DIRS = (".*", "._", "tests", "instance", "__pycache__")
PLACEHOLDER = re.compile(r"%(?:\((?P<name>\w+)\))?[#0 +-]*(?:\d+|\*)?(?:\.(?:\d+|\*))?(?P<conv>[diouxXeEfFgGcrsa%])")


def po_path(locale: str) -> Path:
    return TRANSLATIONS / locale / "LC_MESSAGES" / "messages.po"


def read_catalog(locale: str) -> Catalog:
    with po_path(locale).open("rb") as fh:
        return read_po(fh, locale=locale)


def msgid_key(message) -> str:
    return message if isinstance(message, str) else message[0]


@pytest.fixture(scope="module")
def extracted() -> dict[tuple[str, str | None], list[str]]:
    """A fresh extraction over the source tree, as ``pybabel extract -F babel.cfg`` does it:
    (msgid, context) -> where it was found."""
    with (ROOT / "babel.cfg").open() as fh:
        method_map, options_map = parse_mapping_cfg(fh, "babel.cfg")

    def keep_dir(path: str) -> bool:
        name = os.path.basename(path)
        return not any(fnmatch.fnmatch(name, pattern) for pattern in IGNORE_DIRS)

    found: dict[tuple[str, str | None], list[str]] = {}
    for filename, lineno, message, _comments, context in extract_from_dir(
        ROOT, method_map, options_map, keywords=KEYWORDS, directory_filter=keep_dir
    ):
        found.setdefault((msgid_key(message), context), []).append(f"{filename}:{lineno}")
    assert found, "the extraction found no messages at all; is babel.cfg right?"
    return found


@pytest.fixture(scope="module")
def ko() -> Catalog:
    return read_catalog("ko")


def test_every_extracted_message_is_in_the_korean_catalog(extracted, ko):
    missing = [
        f"{msgid!r} ({', '.join(places)})"
        for (msgid, context), places in sorted(extracted.items(), key=lambda item: item[1])
        if ko.get(msgid, context=context) is None
    ]
    assert not missing, (
        f"{len(missing)} message(s) not in ko/messages.po; run `make translations-update` and "
        "translate them:\n  " + "\n  ".join(missing)
    )


def test_korean_catalog_has_no_empty_or_fuzzy_translations(ko):
    assert not ko.fuzzy, "the ko/messages.po header is marked fuzzy"
    untranslated = []
    for message in ko:
        if not message.id:
            continue
        strings = [message.string] if isinstance(message.string, str) else list(message.string)
        if message.fuzzy:
            untranslated.append(f"fuzzy: {msgid_key(message.id)!r}")
        elif not all(s and s.strip() for s in strings):
            untranslated.append(f"empty: {msgid_key(message.id)!r}")
    assert not untranslated, "ko/messages.po needs translations:\n  " + "\n  ".join(untranslated)


def placeholders(text: str) -> tuple[set[tuple[str, str]], list[str]]:
    """Named placeholders as a set of (name, conversion); positional ones in order; ``%%`` ignored."""
    named, positional = set(), []
    for match in PLACEHOLDER.finditer(text):
        if match["conv"] == "%":
            continue
        if match["name"]:
            named.add((match["name"], match["conv"]))
        else:
            positional.append(match["conv"])
    return named, positional


class AnyValue(dict):
    """Format arguments that satisfy any ``%(name)s`` / ``%(name)d`` placeholder."""

    def __missing__(self, key):
        return 1


@pytest.mark.parametrize("locale", LOCALES)
def test_placeholders_in_translations_match_the_msgid(locale):
    catalog = read_catalog(locale)
    problems = []
    for message in catalog:
        if not message.id:
            continue
        ids = [message.id] if isinstance(message.id, str) else list(message.id)
        strings = [message.string] if isinstance(message.string, str) else list(message.string)
        wanted = [placeholders(i) for i in ids]
        for text in strings:
            if not text:
                continue  # falls back to the msgid
            if placeholders(text) not in wanted:
                problems.append(f"{ids[0]!r} -> {text!r}: placeholders differ")
                continue
            # Templates always %-format their strings (Jinja "newstyle" gettext), so a msgstr must
            # survive formatting wherever its msgid does (a lone "%" must be written "%%").
            try:
                ids[0] % AnyValue()
            except (TypeError, ValueError, KeyError):
                continue
            try:
                text % AnyValue()
            except (TypeError, ValueError, KeyError) as exc:
                problems.append(f"{ids[0]!r} -> {text!r}: {exc}")
    problems += [f"{m.id!r}: {'; '.join(map(str, errors))}" for m, errors in catalog.check()]
    assert not problems, f"{locale}/messages.po:\n  " + "\n  ".join(problems)


@pytest.fixture(scope="module")
def compiled_catalogs():
    """Compile stale or missing ``.mo`` files (``make test`` does this with ``make translations``;
    this keeps a plain ``pytest tests/test_i18n.py`` honest). Written atomically."""
    for locale in LOCALES:
        po, mo = po_path(locale), po_path(locale).with_suffix(".mo")
        if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
            continue
        catalog = read_catalog(locale)
        fd, tmp = tempfile.mkstemp(dir=mo.parent, suffix=".mo.tmp")
        with os.fdopen(fd, "wb") as fh:
            write_mo(fh, catalog, use_fuzzy=True)
        os.replace(tmp, mo)


def page(client, url: str) -> str:
    resp = client.get(url)
    assert resp.status_code == 200, f"{url}: {resp.status_code}"
    return resp.get_data(as_text=True)


def stored_locale(email: str) -> str:
    from portal.auth.service import find_user
    from portal.extensions import db

    db.session.rollback()  # a fresh transaction: see what the requests committed
    return find_user(email).locale


def test_korean_by_default_english_after_switching_and_the_choice_persists(compiled_catalogs, app, client):
    email = "hq@example.com"
    assert "로그인" in page(client, "/login")
    assert login(client, email).status_code == 302
    html = page(client, "/dashboard")
    assert "대시보드" in html and '<html lang="ko">' in html

    resp = post_form(client, "/language", {"lang": "en", "next": "/dashboard"})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/dashboard")
    html = page(client, "/dashboard")
    assert "Dashboard" in html and "대시보드" not in html and '<html lang="en">' in html
    assert stored_locale(email) == "en"

    # A new login from another browser (no session yet): the anonymous login page is Korean,
    # the account's choice applies as soon as the user is known.
    other = app.test_client()
    assert "로그인" in page(other, "/login")
    assert login(other, email).status_code == 302
    html = page(other, "/dashboard")
    assert "Dashboard" in html and "대시보드" not in html

    # And back to Korean.
    post_form(other, "/language", {"lang": "ko", "next": "/dashboard"})
    assert "대시보드" in page(other, "/dashboard")
    assert stored_locale(email) == "ko"


def test_role_names_and_partner_levels_are_translated(ko):
    from portal.security.roles import ALL_ROLES

    for msgid in [*ALL_ROLES, "top leader", "leader", "distributor"]:
        message = ko.get(msgid)
        assert message is not None and message.string, f"no Korean for {msgid!r}"
