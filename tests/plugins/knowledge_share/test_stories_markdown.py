"""Story Markdown: CommonMark through markdown-it-py, then nh3's allow-list (KS-12: a ``<script>``
body is stripped; ``javascript:`` links gone)."""

from __future__ import annotations

from markupsafe import Markup

from plugins.knowledge_share.stories.markdown import plain_text, render


def test_ks12_script_is_never_markup():
    html = render("건강식품 세미나\n\n<script>alert('x')</script>\n\n<img src=x onerror=alert(1)>")
    assert isinstance(html, Markup)
    assert "<script" not in html and "<img" not in html and "onerror=alert(1)>" not in html.replace("&gt;", "")
    assert "&lt;script&gt;" in html  # shown as the text it is


def test_dangerous_links_are_dropped_and_links_get_rel():
    html = render("[a](javascript:alert(1)) [b](JaVaScRiPt:alert(1)) [c](vbscript:x) [d](data:text/html,x) "
                  "[ok](https://example.com/x) <https://example.com/auto> [m](mailto:team@example.com)")
    assert 'href="javascript' not in html.lower() and 'href="vbscript' not in html and 'href="data:' not in html
    assert '<a href="https://example.com/x" rel="noopener nofollow ugc">ok</a>' in html
    assert 'href="mailto:team@example.com"' in html


def test_commonmark_blocks_allowed_and_headings_demoted():
    html = render("# 제목\n## 소제목\n\n**굵게** _기울임_ `code`\n\n- 하나\n- 둘\n\n1. 첫째\n\n> 인용\n\n```\npre\n```\n\n"
                  "| 채널 | 결과 |\n|---|---|\n| SMS | +8 %p |")
    for tag in ("<h3>제목</h3>", "<h4>소제목</h4>", "<strong>굵게</strong>", "<em>기울임</em>", "<code>code</code>",
                "<ul>", "<ol>", "<blockquote>", "<pre>", "<table>", "<td>SMS</td>"):
        assert tag in html, tag
    assert "<h1" not in html and "<h2" not in html


def test_images_show_their_alt_text_only():
    html = render("![매장 사진](https://tracker.example.com/pixel.png)")
    assert "<img" not in html and "tracker" not in html and "매장 사진" in html


def test_empty_and_plain_text():
    assert render(None) == "" and render("") == ""
    assert plain_text("**굵게** 그리고 [링크](https://x.example)") == "굵게 그리고 링크"
    assert plain_text("가" * 500, limit=10) == "가" * 9 + "…"
