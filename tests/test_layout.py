"""Layout in a real Chromium: on a 390 px phone and a 1366 px laptop no page of any role is wider
than the window (wide tables scroll inside their own box), and Korean words are not broken one
syllable per line.

One browser and one live server (the demo data with the loyalty add-on's demo) for the module;
each page loads once and is measured at both widths. Never runs ``playwright install``: it drives
``/usr/bin/chromium`` like ``tests/test_browser.py``.
"""

from __future__ import annotations

import pytest

from tests.conftest import PASSWORD
from tests.test_browser import CHROMIUM, CHROMIUM_ARGS
from tests.ui_pages import ROLES, logged_in, loyalty_demo_app, main_pages

PHONE = {"width": 390, "height": 844}
LAPTOP = {"width": 1366, "height": 768}

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(),
                       reason="Debian chromium is not installed at /usr/bin/chromium (apt-get install chromium)"),
]

# The page's width, and the elements that stick out of the window (to name them in a failure).
MEASURE = """() => {
  const width = innerWidth, scroll = document.documentElement.scrollWidth;
  const culprits = [];
  if (scroll > width) for (const el of document.querySelectorAll('body *')) {
    const r = el.getBoundingClientRect();
    if (r.right > width + 1 && r.width > 0 && !el.closest('.table-wrap')) {
      const p = el.parentElement && el.parentElement.getBoundingClientRect();
      if (!p || p.right <= width + 1) culprits.push(el.tagName.toLowerCase() + (el.className ? '.' + el.className : '')
        + ' → ' + Math.round(r.right) + 'px');
    }
  }
  return {scroll, width, culprits: culprits.slice(0, 4)};
}"""

# A Korean word (3+ Hangul syllables) or a date spread over more than one line: a word broken
# syllable by syllable in a squeezed cell, a date as "2026-" / "11-03".
BROKEN_KOREAN = """() => {
  const out = [];
  const walker = document.createTreeWalker(document.querySelector('main') || document.body, NodeFilter.SHOW_TEXT);
  const range = document.createRange();
  while (walker.nextNode()) {
    const node = walker.currentNode;
    const word = (node.textContent.match(/[\\uac00-\\ud7a3]{3,}|\\d{4}-\\d{2}-\\d{2}/) || [])[0];
    if (!word || !node.parentElement.offsetParent) continue;
    const start = node.textContent.indexOf(word);
    range.setStart(node, start);
    range.setEnd(node, start + word.length);
    const lines = new Set([...range.getClientRects()].map(r => Math.round(r.top)));
    if (lines.size > 1) out.push(word);
  }
  return out.slice(0, 5);
}"""


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="module")
def ui_app(template_db):
    yield from loyalty_demo_app(template_db)


@pytest.fixture(scope="module")
def server(ui_app):
    from tests.live_server import serve  # here: test_browser.py loads it as a plugin (assert rewriting)

    with serve(ui_app) as url:
        yield url


@pytest.mark.parametrize("email", ROLES)
def test_no_page_is_wider_than_a_phone_or_a_laptop(ui_app, server, browser, email):
    pages = main_pages(ui_app, logged_in(ui_app, email))
    assert len(pages) >= 3, pages
    context = browser.new_context(base_url=server, locale="ko-KR", viewport=PHONE)
    context.set_default_timeout(20_000)
    page = context.new_page()
    try:
        page.goto("/login")
        page.fill("input[name=email]", email)
        page.fill("input[name=password]", PASSWORD)
        page.get_by_test_id("login-submit").click()
        page.wait_for_url("**/dashboard")
        too_wide, broken = [], []
        for url in pages:
            page.set_viewport_size(PHONE)
            response = page.goto(url)
            assert response is not None and response.status == 200, url
            for size in (PHONE, LAPTOP):
                page.set_viewport_size(size)
                m = page.evaluate(MEASURE)
                if m["scroll"] > m["width"]:
                    too_wide.append(f"{url} at {size['width']} px: {m['scroll']} px wide ({'; '.join(m['culprits'])})")
                if size is PHONE and (words := page.evaluate(BROKEN_KOREAN)):
                    broken.append(f"{url}: {', '.join(words)}")
        problems = [f"wider than the window: {p}" for p in too_wide] + [f"Korean word or date broken across lines: {p}" for p in broken]
        assert not problems, f"{email}:\n  " + "\n  ".join(problems)
    finally:
        context.close()


def test_the_filing_board_scrolls_in_its_box_with_the_branch_column_in_view(server, browser):
    """The board (a column per day) is wider than a laptop: the page stays put, the table scrolls
    in its box, and the branch names stay visible while it does."""
    context = browser.new_context(base_url=server, locale="ko-KR", viewport=LAPTOP)
    context.set_default_timeout(20_000)
    page = context.new_page()
    try:
        page.goto("/login")
        page.fill("input[name=email]", "hq@example.com")
        page.fill("input[name=password]", PASSWORD)
        page.get_by_test_id("login-submit").click()
        page.wait_for_url("**/dashboard")
        for size in (LAPTOP, PHONE):
            page.set_viewport_size(size)
            page.goto("/sales/board")
            state = page.evaluate("""() => {
              const table = document.querySelector('[data-testid=status-board]');
              const wrap = table.closest('.table-wrap');
              wrap.scrollLeft = wrap.scrollWidth;
              const box = wrap.getBoundingClientRect(), name = table.querySelector('tbody th').getBoundingClientRect();
              return {page: document.documentElement.scrollWidth, width: innerWidth, table: table.scrollWidth,
                      box: wrap.clientWidth, scrolled: wrap.scrollLeft, nameLeft: name.left - box.left,
                      nameRight: name.right - box.left};
            }""")
            assert state["page"] <= state["width"], state
            assert state["table"] > state["box"] and state["scrolled"] > 0, state  # it does scroll, in its box
            assert 0 <= state["nameLeft"] and state["nameRight"] <= state["box"], state  # branch still in view
    finally:
        context.close()
